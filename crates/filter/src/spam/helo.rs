//! HELO and reverse-DNS sanity of the connecting client: real mail servers announce a fully
//! qualified name, have a PTR record whose name resolves back to their address (FCrDNS), and
//! never claim to be us. Temporary DNS failures add nothing.

use std::net::IpAddr;

use mailstead_dns::{DnsErrorKind, Resolver};

use super::Hit;

/// HELO and PTR rules for a client at `ip` that said `helo`; `our_hostname` is ours.
pub async fn check(resolver: &dyn Resolver, ip: IpAddr, helo: &str, our_hostname: &str) -> Vec<Hit> {
    let mut hits = syntax(ip, helo, our_hostname);
    if ip.is_loopback() {
        return hits;
    }
    match resolver.ptr(ip).await {
        Ok(answer) => {
            let mut confirmed = false;
            for name in answer.records.iter().take(4) {
                if forward_contains(resolver, name, ip).await {
                    confirmed = true;
                    break;
                }
            }
            if !confirmed {
                let names = answer.records.join(", ");
                hits.push(Hit::new(
                    "RDNS_NOT_CONFIRMED",
                    0.5,
                    format!("{names} does not resolve back to {ip}"),
                ));
            }
        }
        Err(e) if e.kind() != DnsErrorKind::Temporary => {
            hits.push(Hit::new("RDNS_NONE", 1.0, format!("{ip} has no PTR record")));
        }
        Err(_) => {}
    }
    hits
}

/// Rules on the HELO name alone.
fn syntax(ip: IpAddr, helo: &str, our_hostname: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    let name = helo.trim().trim_end_matches('.');
    if let Some(literal) = name.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        let literal =
            literal.strip_prefix("IPv6:").or_else(|| literal.strip_prefix("ipv6:")).unwrap_or(literal);
        if literal.parse::<IpAddr>().ok() != Some(ip) {
            hits.push(Hit::new("HELO_LITERAL_MISMATCH", 1.5, format!("HELO {helo} from {ip}")));
        }
        return hits;
    }
    if name.parse::<IpAddr>().is_ok() {
        hits.push(Hit::new("HELO_BARE_IP", 1.5, format!("HELO {helo}: an address must be written [{helo}]")));
        return hits;
    }
    if !name.contains('.') {
        hits.push(Hit::new("HELO_NOT_FQDN", 1.0, format!("HELO {helo} is not a fully qualified name")));
    }
    let claims_us = name.eq_ignore_ascii_case(our_hostname) || name.eq_ignore_ascii_case("localhost");
    if claims_us && !ip.is_loopback() {
        hits.push(Hit::new(
            "HELO_FORGED_LOCAL",
            3.0,
            format!("HELO {helo} from {ip} claims to be this host"),
        ));
    }
    hits
}

/// Whether `name` has an A/AAAA record equal to `ip`.
async fn forward_contains(resolver: &dyn Resolver, name: &str, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => resolver.ipv4(name).await.is_ok_and(|a| a.records.contains(&v4)),
        IpAddr::V6(v6) => resolver.ipv6(name).await.is_ok_and(|a| a.records.contains(&v6)),
    }
}
