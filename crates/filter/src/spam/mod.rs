//! Spam scoring: every check is a small module that adds named, weighted [`Hit`]s to a
//! [`Report`]; the sum decides (see [`Thresholds`]): below `junk` the message goes to the
//! inbox, from `junk` to Junk, from `reject` it is refused at DATA with 550 5.7.1.
//!
//! - [`content`]: header and body heuristics (GTUBE, dates, Message-ID, From spoofing,
//!   HTML-only, suspicious links, shouting subjects) — no I/O.
//! - [`phrases`]: body phrase rules (sales pitch, easy-money promises, advance-fee fraud,
//!   shouting).
//! - [`helo`]: HELO and reverse-DNS sanity of the connecting client.
//! - [`dnsbl`]: DNS blocklists for the client's address and URI blocklists for the domains in
//!   the message.
//! - [`authrules`]: what SPF, DKIM and DMARC found, as score.
//! - [`outbound`]: scoring of what our own users send: content plus rate anomalies.
//! - [`account`]: the recipient's own classifier and correspondents (per account).
//!
//! [`Checker::check`] runs the message-wide checks (everything but the per-account ones) with
//! one deadline: a slow DNS server costs at most that long, and a check that does not answer in
//! time adds nothing rather than holding the message.

pub mod account;
pub mod authrules;
pub mod content;
pub mod dnsbl;
pub mod helo;
pub mod outbound;
pub mod phrases;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mailstead_dns::Resolver;

use crate::auth::AuthResults;

pub use dnsbl::{Blocklist, BlocklistKind};

/// One rule that matched: its name, its weight, and what it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Upper-case rule name, as in `X-Spam-Status` (`MISSING_MID`, `DNSBL_ZEN_SPAMHAUS_ORG`).
    pub rule: String,
    /// Points added (negative for signs of legitimate mail).
    pub score: f64,
    /// What matched, for the journal (no newlines).
    pub detail: String,
}

impl Hit {
    /// A hit of `rule` worth `score`.
    pub fn new(rule: impl Into<String>, score: f64, detail: impl Into<String>) -> Hit {
        Hit { rule: rule.into(), score, detail: detail.into() }
    }
}

/// Every rule that matched one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// In the order the checks found them.
    pub hits: Vec<Hit>,
}

impl Report {
    /// The total score.
    pub fn score(&self) -> f64 {
        // `+ 0.0` turns the empty sum's -0.0 into 0.0.
        self.hits.iter().map(|h| h.score).sum::<f64>() + 0.0
    }

    /// Adds hits.
    pub fn extend(&mut self, hits: impl IntoIterator<Item = Hit>) {
        self.hits.extend(hits);
    }

    /// What to do with the message at these thresholds.
    pub fn verdict(&self, thresholds: &Thresholds) -> Verdict {
        let score = self.score();
        if score >= thresholds.reject {
            Verdict::Reject
        } else if score >= thresholds.junk {
            Verdict::Junk
        } else {
            Verdict::Inbox
        }
    }

    /// `X-Spam-Score:` and `X-Spam-Status:` header fields, CRLF-terminated and folded: the
    /// score, the verdict, the junk threshold and every rule with its points.
    pub fn headers(&self, thresholds: &Thresholds) -> String {
        let score = self.score();
        let verdict = self.verdict(thresholds);
        let mut out = format!("X-Spam-Score: {score:.1}\r\n");
        let _ = write!(
            out,
            "X-Spam-Status: {}, score={score:.1} required={:.1}",
            if verdict == Verdict::Inbox { "No" } else { "Yes" },
            thresholds.junk
        );
        let mut line_len = out.len() - out.rfind('\n').map_or(0, |i| i + 1);
        if self.hits.is_empty() {
            out.push_str(" tests=none");
        }
        for (i, hit) in self.hits.iter().enumerate() {
            let item = format!("{}={:.1}", hit.rule, hit.score);
            let sep = if i == 0 { " tests=" } else { "," };
            out.push_str(sep);
            line_len += sep.len();
            if line_len + item.len() > 76 {
                out.push_str("\r\n\t");
                line_len = 1;
            }
            line_len += item.len();
            out.push_str(&item);
        }
        out.push_str("\r\n");
        out
    }

    /// The journal's view: score, verdict and each rule with its points and detail.
    pub fn journal(&self, thresholds: &Thresholds) -> serde_json::Value {
        serde_json::json!({
            "score": (self.score() * 10.0).round() / 10.0,
            "verdict": self.verdict(thresholds).as_str(),
            "rules": self.hits.iter().map(|h| serde_json::json!({
                "rule": h.rule, "score": h.score, "detail": h.detail,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Below the junk threshold.
    Inbox,
    /// Filed into the recipient's Junk mailbox.
    Junk,
    /// Refused at DATA with 550 5.7.1.
    Reject,
}

impl Verdict {
    /// `inbox`, `junk` or `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Inbox => "inbox",
            Verdict::Junk => "junk",
            Verdict::Reject => "reject",
        }
    }
}

/// Score limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// From this score the message goes to Junk.
    pub junk: f64,
    /// From this score the message is refused.
    pub reject: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { junk: 5.0, reject: 15.0 }
    }
}

/// Settings of the message-wide checks.
#[derive(Debug, Clone)]
pub struct SpamConfig {
    /// Our host name and the domains we receive for: a client claiming them in HELO lies.
    pub hostname: String,
    /// DNS blocklists for the client address and URI blocklists for message domains.
    pub blocklists: Vec<Blocklist>,
    /// Time all checks of one message may take together.
    pub deadline: Duration,
    /// Most distinct domains of one message looked up in URI blocklists.
    pub max_uri_domains: usize,
}

impl SpamConfig {
    /// No blocklists, a 10 s deadline, 10 URI domains.
    pub fn new(hostname: impl Into<String>) -> SpamConfig {
        SpamConfig {
            hostname: hostname.into(),
            blocklists: Vec::new(),
            deadline: Duration::from_secs(10),
            max_uri_domains: 10,
        }
    }
}

/// What the checks know about one message.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The connecting client.
    pub remote_ip: IpAddr,
    /// Its EHLO/HELO name.
    pub helo: &'a str,
    /// The MAIL FROM address (`""` for `<>`).
    pub mail_from: &'a str,
    /// The message as received.
    pub message: &'a [u8],
    /// `message` parsed, when the caller parsed it already (else the checks parse it).
    pub parsed: Option<&'a mail_parser::Message<'a>>,
    /// Sender authentication, when it ran.
    pub auth: Option<&'a AuthResults>,
    /// When the message arrived (Unix seconds): dates are judged against it.
    pub received_at: i64,
}

/// Runs the message-wide checks. Share it (`Arc`).
pub struct Checker {
    resolver: Arc<dyn Resolver>,
    config: SpamConfig,
}

impl Checker {
    /// A checker asking `resolver`.
    pub fn new(resolver: Arc<dyn Resolver>, config: SpamConfig) -> Checker {
        Checker { resolver, config }
    }

    /// The configuration.
    pub fn config(&self) -> &SpamConfig {
        &self.config
    }

    /// Every message-wide rule that matches `ctx`. The content rules always run; the DNS
    /// checks run concurrently and are cut off at the deadline.
    pub async fn check(&self, ctx: &Context<'_>) -> Report {
        let mut report = Report::default();
        let analysis = match ctx.parsed {
            Some(parsed) => content::analyze_parsed(ctx.message, Some(parsed), ctx.received_at),
            None => content::analyze(ctx.message, ctx.received_at),
        };
        report.extend(analysis.hits.iter().cloned());
        if let Some(auth) = ctx.auth {
            report.extend(authrules::hits(auth));
        }
        let resolver = self.resolver.as_ref();
        let domains: Vec<String> =
            analysis.link_domains.iter().take(self.config.max_uri_domains).cloned().collect();
        let dns = async {
            let (helo, ip_lists, uri_lists) = tokio::join!(
                helo::check(resolver, ctx.remote_ip, ctx.helo, &self.config.hostname),
                dnsbl::check_ip(resolver, &self.config.blocklists, ctx.remote_ip),
                dnsbl::check_domains(resolver, &self.config.blocklists, &domains),
            );
            helo.into_iter().chain(ip_lists).chain(uri_lists).collect::<Vec<_>>()
        };
        match tokio::time::timeout(self.config.deadline, dns).await {
            Ok(hits) => report.extend(hits),
            Err(_) => tracing::warn!(
                "spam checks: DNS lookups took longer than {:?}; scored without them",
                self.config.deadline
            ),
        }
        report
    }
}
