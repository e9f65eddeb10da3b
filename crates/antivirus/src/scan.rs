//! The combined scan: the attachment policy first (cheap, no I/O), then clamd when one is
//! configured, folded into one [`Verdict`] that the SMTP server turns into its reply.
//!
//! Decisions (see docs/architecture.md, "Antivirus"):
//! * A blocking policy finding rejects without asking clamd.
//! * clamd unreachable, timing out or answering an error: [`FailMode::Open`] accepts (the
//!   report says the message was not scanned), [`FailMode::Closed`] temp-fails so the sender
//!   retries later.
//! * A message larger than the clamd stream limit is accepted unscanned (as clamav-milter does
//!   for its size limit): retrying would not make it smaller, and SIZE already bounds it.

use std::time::Duration;

use crate::clamd::{Clamd, ClamdAddr, ClamdConfig, ClamdVerdict};
use crate::policy::{self, Finding, PolicyConfig, PolicyDecision};

/// What to do when clamd gives no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Accept the message unscanned.
    Open,
    /// Temp-fail (451 4.7.0): the sender retries.
    Closed,
}

/// Configuration of the combined scan.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// clamd's address; `None` scans with the attachment policy only.
    pub clamd: Option<ClamdAddr>,
    /// What to do when clamd is down.
    pub on_unavailable: FailMode,
    /// The attachment policy; `None` turns it off.
    pub policy: Option<PolicyConfig>,
    /// Connect limit for clamd.
    pub connect_timeout: Duration,
    /// Limit for one clamd scan.
    pub scan_timeout: Duration,
    /// Longest message sent to clamd (its `StreamMaxLength`).
    pub max_stream_len: usize,
}

impl Default for ScanConfig {
    /// Policy on, no clamd, fail-closed once clamd is configured.
    fn default() -> Self {
        Self {
            clamd: None,
            on_unavailable: FailMode::Closed,
            policy: Some(PolicyConfig::default()),
            connect_timeout: Duration::from_secs(5),
            scan_timeout: Duration::from_secs(60),
            max_stream_len: 25 * 1024 * 1024,
        }
    }
}

/// The outcome for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accept (see [`Report`] for flags and whether clamd scanned it).
    Clean,
    /// clamd found a signature: reject.
    Infected {
        /// Signature name as clamd reported it.
        signature: String,
    },
    /// The attachment policy blocks it: reject.
    Blocked(Finding),
    /// clamd gave no verdict and the configuration is fail-closed: try again later.
    TempFail {
        /// Why, for the log (not sent to the client).
        reason: String,
    },
}

/// An SMTP reply for a verdict: code, enhanced status (RFC 3463), text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Basic code (RFC 5321 §4.2).
    pub code: u16,
    /// Enhanced status code.
    pub enhanced: &'static str,
    /// Human-readable text.
    pub text: String,
}

impl Verdict {
    /// The reply that refuses the message, or `None` to accept it. RFC 3463 §3.8: X.7.0 is
    /// "other or undefined security status", used for virus rejections by convention.
    pub fn reply(&self) -> Option<Reply> {
        match self {
            Self::Clean => None,
            Self::Infected { signature } => Some(Reply {
                code: 554,
                enhanced: "5.7.0",
                text: format!("Message rejected: virus found: {}", printable(signature)),
            }),
            Self::Blocked(f) => Some(Reply {
                code: 554,
                enhanced: "5.7.0",
                text: format!("Message rejected: attachment not allowed: {}", printable(&f.to_string())),
            }),
            Self::TempFail { .. } => Some(Reply {
                code: 451,
                enhanced: "4.7.0",
                text: "Virus scanner unavailable, try again later".to_string(),
            }),
        }
    }
}

/// Keeps reply text on one line of printable ASCII (RFC 5321 §4.2: text is printable US-ASCII;
/// file names come from the attacker).
fn printable(s: &str) -> String {
    s.chars().take(200).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect()
}

/// Everything the scan learnt, for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The decision.
    pub verdict: Verdict,
    /// The policy's findings (`None` when it is off).
    pub policy: Option<PolicyDecision>,
    /// clamd's answer (`None` when not configured or not asked).
    pub clamd: Option<ClamdVerdict>,
}

/// The combined scanner. Holds no connection; cheap to share.
#[derive(Debug, Clone)]
pub struct Scanner {
    config: ScanConfig,
    clamd: Option<Clamd>,
}

impl Scanner {
    /// A scanner for the configuration. Does no I/O.
    pub fn new(config: ScanConfig) -> Self {
        let clamd = config.clamd.clone().map(|addr| {
            Clamd::new(ClamdConfig {
                addr,
                connect_timeout: config.connect_timeout,
                scan_timeout: config.scan_timeout,
                max_stream_len: config.max_stream_len,
            })
        });
        Self { config, clamd }
    }

    /// The clamd client, if one is configured (for health checks: [`Clamd::ping`]).
    pub fn clamd(&self) -> Option<&Clamd> {
        self.clamd.as_ref()
    }

    /// Scans a whole message (header and body, as received).
    pub async fn scan(&self, message: &[u8]) -> Report {
        let parsed =
            self.config.policy.as_ref().and_then(|_| mail_parser::MessageParser::default().parse(message));
        self.scan_parsed(message, parsed.as_ref()).await
    }

    /// [`Scanner::scan`] with the message already parsed (`parsed` must be `message` parsed,
    /// `None` when it did not parse): the parse is shared with the other checks.
    pub async fn scan_parsed(&self, message: &[u8], parsed: Option<&mail_parser::Message<'_>>) -> Report {
        let policy = self.config.policy.as_ref().map(|cfg| policy::check_parsed(parsed, cfg));
        if let Some(block) = policy.as_ref().and_then(PolicyDecision::blocked) {
            return Report { verdict: Verdict::Blocked(block.clone()), policy, clamd: None };
        }
        let Some(clamd) = &self.clamd else {
            return Report { verdict: Verdict::Clean, policy, clamd: None };
        };
        let answer = clamd.scan(message).await;
        let verdict = match &answer {
            ClamdVerdict::Clean | ClamdVerdict::TooLarge { .. } => Verdict::Clean,
            ClamdVerdict::Infected { signature } => Verdict::Infected { signature: signature.clone() },
            ClamdVerdict::Unavailable { reason } => match self.config.on_unavailable {
                FailMode::Open => Verdict::Clean,
                FailMode::Closed => Verdict::TempFail { reason: reason.clone() },
            },
        };
        Report { verdict, policy, clamd: Some(answer) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{Attachment, exe, message, plain};

    fn down() -> ScanConfig {
        let dir = std::env::temp_dir().join("mailstead-no-such-clamd.sock");
        ScanConfig { clamd: Some(ClamdAddr::Unix(dir)), ..ScanConfig::default() }
    }

    #[tokio::test]
    async fn policy_only_by_default() {
        let s = Scanner::new(ScanConfig::default());
        assert_eq!(s.scan(&plain("hi")).await.verdict, Verdict::Clean);
        let m = message(
            "",
            &[Attachment { content_type: "application/octet-stream", name: Some("a.exe"), data: &exe() }],
        );
        let r = s.scan(&m).await;
        let reply = r.verdict.reply().expect("rejected");
        assert_eq!((reply.code, reply.enhanced), (554, "5.7.0"));
        assert!(reply.text.contains("a.exe"), "{}", reply.text);
    }

    #[tokio::test]
    async fn clamd_down_fail_closed_and_open() {
        let r = Scanner::new(down()).scan(&plain("hi")).await;
        assert!(matches!(r.verdict, Verdict::TempFail { .. }));
        assert!(matches!(r.clamd, Some(ClamdVerdict::Unavailable { .. })));
        let reply = r.verdict.reply().expect("temp-fail");
        assert_eq!((reply.code, reply.enhanced), (451, "4.7.0"));

        let open = ScanConfig { on_unavailable: FailMode::Open, ..down() };
        let r = Scanner::new(open).scan(&plain("hi")).await;
        assert_eq!(r.verdict, Verdict::Clean);
        assert!(matches!(r.clamd, Some(ClamdVerdict::Unavailable { .. })));
    }

    #[tokio::test]
    async fn policy_block_skips_clamd_and_too_large_passes() {
        let m =
            message("", &[Attachment { content_type: "application/x-msdownload", name: None, data: b"x" }]);
        let r = Scanner::new(down()).scan(&m).await;
        assert!(matches!(r.verdict, Verdict::Blocked(_)));
        assert_eq!(r.clamd, None);

        let small = ScanConfig { max_stream_len: 10, ..down() };
        let r = Scanner::new(small).scan(&plain("more than ten bytes")).await;
        assert_eq!(r.verdict, Verdict::Clean);
        assert!(matches!(r.clamd, Some(ClamdVerdict::TooLarge { .. })));
    }

    #[test]
    fn reply_text_is_printable_ascii() {
        let v = Verdict::Infected { signature: "Bad\r\nName\u{202e}".into() };
        assert_eq!(v.reply().expect("reply").text, "Message rejected: virus found: Bad??Name?");
    }
}
