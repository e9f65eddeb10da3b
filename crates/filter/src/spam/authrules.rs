//! Sender authentication as score: failures add points, an aligned DMARC pass takes some away.
//! DMARC `reject` and `quarantine` are enforced by the authentication policy itself; these
//! rules cover what the domain owner did not ask us to enforce (`p=none`, SPF/DKIM failures
//! without DMARC).

use crate::auth::{AuthResults, DkimStatus, DmarcStatus, SpfStatus};

use super::Hit;

/// The hits for `auth`.
pub fn hits(auth: &AuthResults) -> Vec<Hit> {
    let mut hits = Vec::new();
    match auth.spf {
        SpfStatus::Fail => hits.push(Hit::new("SPF_FAIL", 3.0, format!("SPF fail for {}", auth.spf_domain))),
        SpfStatus::SoftFail => {
            hits.push(Hit::new("SPF_SOFTFAIL", 1.0, format!("SPF softfail for {}", auth.spf_domain)));
        }
        SpfStatus::PermError => {
            hits.push(Hit::new("SPF_PERMERROR", 0.5, format!("broken SPF record of {}", auth.spf_domain)));
        }
        _ => {}
    }
    let any_pass = auth.dkim.iter().any(|d| d.status == DkimStatus::Pass);
    if !any_pass && let Some(bad) = auth.dkim.iter().find(|d| d.status == DkimStatus::Fail) {
        hits.push(Hit::new("DKIM_INVALID", 1.0, format!("DKIM signature of {} does not verify", bad.domain)));
    }
    match auth.dmarc.status {
        DmarcStatus::Pass => {
            hits.push(Hit::new(
                "DMARC_PASS",
                -1.0,
                format!("aligned authentication for {}", auth.dmarc.from_domain),
            ));
        }
        DmarcStatus::Fail => {
            hits.push(Hit::new("DMARC_FAIL", 2.0, format!("DMARC fail for {}", auth.dmarc.from_domain)));
        }
        _ => {}
    }
    hits
}
