//! Sender authentication: SPF, DKIM, ARC and DMARC for one inbound message.
//!
//! # Implementation notes
//!
//! - **mail-auth does the protocols.** SPF (RFC 7208), DKIM (RFC 6376), ARC (RFC 8617) and DMARC
//!   (RFC 7489) are mail-auth 0.13.3's `MessageAuthenticator`; this module chooses identities,
//!   maps its outputs to our typed [`AuthResults`], and makes the policy decision.
//! - **DNS goes through our [`Resolver`].** mail-auth can only ask DNS through its own
//!   hickory-resolver (its optional caches are synchronous and cannot express "no such name"
//!   for every lookup, e.g. SPF `exists:`). So [`Authenticator`] starts a
//!   [`LoopbackServer`] on 127.0.0.1 that answers from our `Resolver`, and builds mail-auth's
//!   hickory resolver to ask only that server, without cache and without `/etc/hosts`. Every
//!   question — SPF includes, macros, DKIM keys, DMARC records, organizational-domain lookups —
//!   thus sees our nameserver configuration in production and the in-memory table in tests,
//!   with NXDOMAIN, NODATA and temporary failures carried as DNS response codes.
//! - **Identities.** SPF checks the MAIL FROM identity, or `postmaster@HELO` for the null
//!   sender (RFC 7208 §2.4). DMARC aligns the RFC5322.From domain with that SPF domain and the
//!   passing DKIM `d=` domains (RFC 7489 §3.1).
//! - **Policy.** A DMARC `fail` under `p=reject` answers 550 5.7.1 at DATA (RFC 7489 §6.7,
//!   §10.3); under `p=quarantine` the message goes to Junk; temporary errors never reject (RFC
//!   7489 §6.6.3 leaves deferral optional; we accept and report `temperror`). Mail relayed by a
//!   listed forwarder (see [`Forwarders`]) is accepted and the override is recorded, as
//!   RFC 7489 §7.2 `trusted_forwarder` describes.

mod forwarders;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimResult, DmarcResult, MessageAuthenticator, SpfResult,
};
use mailstead_dns::{LoopbackServer, Resolver};

pub use forwarders::{ForwarderParseError, Forwarders};

/// How the authenticator is set up.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Our host name: the `authserv-id` of `Authentication-Results:` (RFC 8601 §2.5) and the
    /// receiving host of SPF's `%{r}` macro.
    pub hostname: String,
    /// Forwarders whose mail DMARC does not reject or quarantine.
    pub forwarders: Forwarders,
    /// Time mail-auth waits for one DNS answer from our resolver.
    pub dns_timeout: Duration,
}

impl AuthConfig {
    /// Defaults for `hostname`: no forwarders, 15 s per DNS answer.
    pub fn new(hostname: impl Into<String>) -> Self {
        AuthConfig {
            hostname: hostname.into(),
            forwarders: Forwarders::default(),
            dns_timeout: Duration::from_secs(15),
        }
    }
}

/// The SMTP envelope of the message being checked.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The connecting client's address.
    pub remote_ip: IpAddr,
    /// The EHLO/HELO name the client gave.
    pub helo: &'a str,
    /// The MAIL FROM address, `""` for the null sender `<>`.
    pub mail_from: &'a str,
}

/// Could not set up the authenticator.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The loopback DNS server could not bind.
    #[error("starting the DNS bridge for mail-auth: {0}")]
    Bridge(#[from] std::io::Error),
    /// mail-auth's resolver could not be built.
    #[error("setting up mail-auth's resolver: {0}")]
    Resolver(String),
}

/// Result of an SPF check (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfStatus {
    /// The client is authorized.
    Pass,
    /// The client is explicitly not authorized (`-all`).
    Fail,
    /// Probably not authorized (`~all`).
    SoftFail,
    /// The domain makes no assertion (`?all`, or no match).
    Neutral,
    /// No SPF record.
    None,
    /// A transient DNS error.
    TempError,
    /// A broken record (syntax, too many lookups, missing include).
    PermError,
}

/// Result of one DKIM signature (RFC 6376 §6.1, RFC 8601 §2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimStatus {
    /// The signature verified.
    Pass,
    /// The signature or body hash did not verify.
    Fail,
    /// Verified but not acceptable (e.g. expired, unsupported).
    Neutral,
    /// No signature.
    None,
    /// The key could not be fetched now.
    TempError,
    /// A malformed signature or key record.
    PermError,
}

/// One DKIM signature's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimVerdict {
    /// The result.
    pub status: DkimStatus,
    /// The signing domain (`d=`), empty when the signature did not parse.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// Why it did not pass, for the journal.
    pub reason: Option<String>,
}

/// Result of the ARC chain (RFC 8617 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArcStatus {
    /// The chain validated.
    Pass,
    /// The chain is broken.
    Fail,
    /// No ARC sets.
    None,
    /// A key could not be fetched now.
    TempError,
    /// Malformed ARC headers.
    PermError,
}

/// Result of the DMARC evaluation (RFC 7489 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcStatus {
    /// Aligned SPF or DKIM pass.
    Pass,
    /// A DMARC record exists and nothing aligned passed.
    Fail,
    /// No DMARC record (or no single From domain).
    None,
    /// A transient DNS error.
    TempError,
    /// A broken DMARC record.
    PermError,
}

/// The policy the domain owner asks for (`p=`, `sp=` or `np=`, as applicable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcPolicy {
    /// Monitor only.
    None,
    /// Treat failing mail as suspicious.
    Quarantine,
    /// Refuse failing mail.
    Reject,
}

/// What to do with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Deliver normally.
    Accept,
    /// Deliver into the recipient's Junk mailbox.
    Junk,
    /// Refuse at DATA with [`Disposition::reject_reply`].
    Reject,
}

/// Why a DMARC failure was not enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmarcOverride {
    /// The client's address is in a listed forwarder network.
    ForwarderAddress(IpAddr),
    /// An authenticated identity of the relay belongs to this listed forwarder domain.
    ForwarderDomain(String),
}

/// DMARC's result and our decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcVerdict {
    /// The result.
    pub status: DmarcStatus,
    /// The RFC5322.From domain evaluated (empty if there was none).
    pub from_domain: String,
    /// The owner's policy, when a record was found.
    pub policy: Option<DmarcPolicy>,
    /// Set when a failure was not enforced because of the forwarder list.
    pub overridden: Option<DmarcOverride>,
}

/// An SMTP rejection: code, enhanced status and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectReply {
    /// The basic reply code (550).
    pub code: u16,
    /// The enhanced status code (RFC 3463), `5.7.1`.
    pub status: &'static str,
    /// The human-readable text.
    pub text: String,
}

/// Everything sender authentication found out about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// SPF for the MAIL FROM identity (or `postmaster@HELO` for `<>`).
    pub spf: SpfStatus,
    /// The domain SPF was checked for.
    pub spf_domain: String,
    /// One entry per DKIM signature, in header order.
    pub dkim: Vec<DkimVerdict>,
    /// The ARC chain.
    pub arc: ArcStatus,
    /// DMARC.
    pub dmarc: DmarcVerdict,
    /// What to do with the message.
    pub disposition: Disposition,
    header: String,
}

impl AuthResults {
    /// The `Authentication-Results:` header field (RFC 8601), folded, ending in CRLF.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The reply for [`Disposition::Reject`], `None` otherwise.
    pub fn reject_reply(&self) -> Option<RejectReply> {
        (self.disposition == Disposition::Reject).then(|| RejectReply {
            code: 550,
            status: "5.7.1",
            text: format!(
                "Message rejected: the DMARC policy of {} says to reject it",
                self.dmarc.from_domain
            ),
        })
    }
}

/// Checks SPF, DKIM, ARC and DMARC; holds mail-auth and its DNS bridge. Share it (`Arc`).
pub struct Authenticator {
    inner: MessageAuthenticator,
    config: AuthConfig,
    // Keeps the loopback DNS server mail-auth asks running as long as we live.
    _bridge: LoopbackServer,
}

impl Authenticator {
    /// An authenticator whose DNS questions all go to `resolver`. Needs a tokio runtime.
    pub async fn new(resolver: Arc<dyn Resolver>, config: AuthConfig) -> Result<Self, AuthError> {
        let bridge = LoopbackServer::start(resolver).await?;
        let mut udp = ConnectionConfig::udp();
        udp.port = bridge.addr().port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = bridge.addr().port();
        let servers = vec![NameServerConfig::new(bridge.addr().ip(), true, vec![udp, tcp])];
        let mut opts = ResolverOpts::default();
        // Our Resolver caches (or not) and retries; mail-auth's must not second-guess it.
        opts.cache_size = 0;
        opts.attempts = 1;
        opts.timeout = config.dns_timeout;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        opts.edns0 = true;
        let inner = MessageAuthenticator::new(ResolverConfig::from_name_servers(servers), opts)
            .map_err(|e| AuthError::Resolver(e.to_string()))?;
        Ok(Authenticator { inner, config, _bridge: bridge })
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Checks `message` (the raw bytes as received, CRLF) sent with `envelope`.
    pub async fn verify(&self, envelope: &Envelope<'_>, message: &[u8]) -> AuthResults {
        let hostname = self.config.hostname.as_str();
        let ip = envelope.remote_ip;
        // RFC 7208 §2.4: the MAIL FROM identity; for the null sender, postmaster@HELO.
        let spf = self
            .inner
            .verify_spf(SpfParameters::verify_mail_from(ip, envelope.helo, hostname, envelope.mail_from))
            .await;
        let mail_from_domain = match envelope.mail_from.rsplit_once('@') {
            Some((_, domain)) => domain,
            None => envelope.helo,
        };

        let parsed = AuthenticatedMessage::parse(message);
        let (dkim, arc, dmarc, header_from) = match &parsed {
            Some(msg) => {
                let dkim = self.inner.verify_dkim(msg).await;
                let arc = self.inner.verify_arc(msg).await;
                let dmarc =
                    self.inner.verify_dmarc(DmarcParameters::new(msg, &dkim, mail_from_domain, &spf)).await;
                let header_from = msg.from.first().cloned().unwrap_or_default();
                (dkim, Some(arc), Some(dmarc), header_from)
            }
            None => (Vec::new(), None, None, String::new()),
        };

        // RFC 8601 §2: one field, our authserv-id first, one resinfo per method.
        let mut results = AuthenticationResults::new(hostname)
            .with_dkim_results(&dkim, &header_from)
            .with_spf_mailfrom_result(&spf, ip, envelope.mail_from, envelope.helo);
        if let Some(arc) = &arc {
            results = results.with_arc_result(arc, ip);
        }
        if let Some(dmarc) = &dmarc {
            results = results.with_dmarc_result(dmarc);
        }
        let header = results.to_header();

        let spf_status = spf_status(spf.result());
        let dkim: Vec<DkimVerdict> = dkim.iter().map(dkim_verdict).collect();
        let arc_status = arc.as_ref().map_or(ArcStatus::None, |a| arc_status(a.result()));
        let arc_sealer = match &arc {
            Some(a) if arc_status == ArcStatus::Pass => a.sets().last().map(|s| s.seal.header.d.clone()),
            _ => None,
        };
        let mut verdict = match &dmarc {
            Some(d) => DmarcVerdict {
                status: dmarc_status(&d.result()),
                from_domain: d.domain().to_string(),
                policy: d.dmarc_record().map(|_| dmarc_policy(d.policy())),
                overridden: None,
            },
            None => DmarcVerdict {
                status: DmarcStatus::None,
                from_domain: String::new(),
                policy: None,
                overridden: None,
            },
        };

        let mut disposition = match (verdict.status, verdict.policy) {
            (DmarcStatus::Fail, Some(DmarcPolicy::Reject)) => Disposition::Reject,
            (DmarcStatus::Fail, Some(DmarcPolicy::Quarantine)) => Disposition::Junk,
            _ => Disposition::Accept,
        };
        if disposition != Disposition::Accept {
            // Authenticated identities of the relay: never the bare HELO name.
            let mut identities: Vec<&str> = Vec::new();
            if spf_status == SpfStatus::Pass {
                identities.push(spf.domain());
            }
            identities
                .extend(dkim.iter().filter(|d| d.status == DkimStatus::Pass).map(|d| d.domain.as_str()));
            identities.extend(arc_sealer.as_deref());
            let forwarders = &self.config.forwarders;
            verdict.overridden = if forwarders.contains_ip(ip) {
                Some(DmarcOverride::ForwarderAddress(ip))
            } else {
                identities
                    .iter()
                    .find_map(|id| forwarders.matching_domain(id))
                    .map(|d| DmarcOverride::ForwarderDomain(d.to_string()))
            };
            if verdict.overridden.is_some() {
                disposition = Disposition::Accept;
            }
        }

        AuthResults {
            spf: spf_status,
            spf_domain: spf.domain().to_string(),
            dkim,
            arc: arc_status,
            dmarc: verdict,
            disposition,
            header,
        }
    }
}

fn spf_status(result: SpfResult) -> SpfStatus {
    match result {
        SpfResult::Pass => SpfStatus::Pass,
        SpfResult::Fail => SpfStatus::Fail,
        SpfResult::SoftFail => SpfStatus::SoftFail,
        SpfResult::Neutral => SpfStatus::Neutral,
        SpfResult::None => SpfStatus::None,
        SpfResult::TempError => SpfStatus::TempError,
        SpfResult::PermError => SpfStatus::PermError,
    }
}

fn dkim_status(result: &DkimResult) -> (DkimStatus, Option<String>) {
    match result {
        DkimResult::Pass => (DkimStatus::Pass, None),
        DkimResult::Neutral(e) => (DkimStatus::Neutral, Some(e.to_string())),
        DkimResult::Fail(e) => (DkimStatus::Fail, Some(e.to_string())),
        DkimResult::PermError(e) => (DkimStatus::PermError, Some(e.to_string())),
        DkimResult::TempError(e) => (DkimStatus::TempError, Some(e.to_string())),
        DkimResult::None => (DkimStatus::None, None),
    }
}

fn dkim_verdict(output: &mail_auth::DkimOutput<'_>) -> DkimVerdict {
    let (status, reason) = dkim_status(output.result());
    let (domain, selector) = output.signature().map_or_else(Default::default, |s| (s.d.clone(), s.s.clone()));
    DkimVerdict { status, domain, selector, reason }
}

fn arc_status(result: &DkimResult) -> ArcStatus {
    match result {
        DkimResult::Pass => ArcStatus::Pass,
        DkimResult::Fail(_) | DkimResult::Neutral(_) => ArcStatus::Fail,
        DkimResult::PermError(_) => ArcStatus::PermError,
        DkimResult::TempError(_) => ArcStatus::TempError,
        DkimResult::None => ArcStatus::None,
    }
}

fn dmarc_status(result: &DmarcResult) -> DmarcStatus {
    match result {
        DmarcResult::Pass => DmarcStatus::Pass,
        DmarcResult::Fail(_) => DmarcStatus::Fail,
        DmarcResult::TempError(_) => DmarcStatus::TempError,
        DmarcResult::PermError(_) => DmarcStatus::PermError,
        DmarcResult::None => DmarcStatus::None,
    }
}

fn dmarc_policy(policy: Policy) -> DmarcPolicy {
    match policy {
        Policy::Reject => DmarcPolicy::Reject,
        Policy::Quarantine => DmarcPolicy::Quarantine,
        Policy::None | Policy::Unspecified => DmarcPolicy::None,
    }
}

#[cfg(test)]
mod tests;
