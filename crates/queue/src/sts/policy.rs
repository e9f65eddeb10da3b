//! MTA-STS texts (RFC 8461): the `_mta-sts` TXT record that announces a policy and its id
//! (§3.1), the policy file served over HTTPS (§3.2), and matching MX host names against the
//! policy's `mx` patterns (§4.1).

/// The longest `max_age` honoured: one year (RFC 8461 §3.2).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// What a policy asks of senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deliver only to matching MX hosts over verified TLS.
    Enforce,
    /// Deliver as usual; report failures (we log them).
    Testing,
    /// No policy (a domain withdrawing its policy).
    None,
}

impl Mode {
    /// The mode's name as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A parsed policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// The `mx` patterns, lower case: host names, or `*.` followed by a domain.
    pub mx: Vec<String>,
    /// Seconds the policy may be cached, capped at [`MAX_AGE_LIMIT`].
    pub max_age: u64,
}

/// Why a policy text is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MTA-STS policy: {0}")]
pub struct PolicyError(pub String);

impl Policy {
    /// Parses a policy file: `key: value` lines ended by CRLF or LF; `version`, `mode` and
    /// `max_age` once each, `mx` once or more (none is allowed with mode `none`); unknown
    /// keys are ignored, as §3.2 asks.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let err = |s: &str| PolicyError(s.to_string());
        let (mut version, mut mode, mut max_age) = (None, None, None);
        let mut mx = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(PolicyError(format!("line without a colon: {line:?}")));
            };
            let value = value.trim();
            match key.trim() {
                "version" if version.is_some() => return Err(err("version given twice")),
                "version" => version = Some(value.to_string()),
                "mode" if mode.is_some() => return Err(err("mode given twice")),
                "mode" => {
                    mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        other => return Err(PolicyError(format!("unknown mode {other:?}"))),
                    })
                }
                "max_age" if max_age.is_some() => return Err(err("max_age given twice")),
                "max_age" => {
                    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(PolicyError(format!("max_age is not a number of seconds: {value:?}")));
                    }
                    let secs: u64 = value.parse().map_err(|_| err("max_age out of range"))?;
                    max_age = Some(secs.min(MAX_AGE_LIMIT));
                }
                "mx" => {
                    if !valid_pattern(value) {
                        return Err(PolicyError(format!("mx is not a host name or *.domain: {value:?}")));
                    }
                    mx.push(value.trim_end_matches('.').to_ascii_lowercase());
                }
                _ => {}
            }
        }
        if version.as_deref() != Some("STSv1") {
            return Err(err("version is not STSv1"));
        }
        let mode = mode.ok_or_else(|| err("no mode"))?;
        let max_age = max_age.ok_or_else(|| err("no max_age"))?;
        if mx.is_empty() && mode != Mode::None {
            return Err(err("no mx"));
        }
        Ok(Policy { mode, mx, max_age })
    }

    /// Whether `host` (an MX host name) is allowed by one of the `mx` patterns: exactly, or
    /// by a wildcard that stands for one leftmost label (§4.1).
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|pattern| match pattern.strip_prefix("*.") {
            Some(parent) => {
                host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == parent)
            }
            None => *pattern == host,
        })
    }
}

/// A host name or `*.` plus a host name, in ASCII.
fn valid_pattern(value: &str) -> bool {
    let name = value.strip_prefix("*.").unwrap_or(value).trim_end_matches('.');
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The policy id of a domain's `_mta-sts` TXT records (§3.1): of the records starting with
/// `v=STSv1`, exactly one must exist and carry `id=` of 1 to 32 letters and digits; anything
/// else means the domain has no usable policy announcement.
pub fn record_id(records: &[Vec<u8>]) -> Option<String> {
    let mut ours = records.iter().filter(|r| r.starts_with(b"v=STSv1"));
    let record = std::str::from_utf8(ours.next()?).ok()?;
    if ours.next().is_some() {
        return None;
    }
    let mut fields = record.split(';').map(str::trim).filter(|f| !f.is_empty());
    if fields.next()? != "v=STSv1" {
        return None;
    }
    let mut id = None;
    for field in fields {
        let (key, value) = field.split_once('=')?;
        if key.trim() == "id" {
            let value = value.trim();
            if value.is_empty() || value.len() > 32 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            id = Some(value.to_string());
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";

    #[test]
    fn parses_the_rfc_example_and_matches_hosts() {
        let p = Policy::parse(ENFORCE).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert_eq!(p.mx.len(), 3);
        assert!(p.allows("mail.example.com") && p.allows("MAIL.example.com."));
        assert!(p.allows("mx1.example.net"));
        assert!(!p.allows("example.net"), "a wildcard needs one label");
        assert!(!p.allows("a.b.example.net"), "a wildcard stands for exactly one label");
        assert!(!p.allows("mail.example.org"));
    }

    #[test]
    fn lf_endings_unknown_keys_and_caps() {
        let p = Policy::parse(
            "version: STSv1\nmode: testing\nmx: mx.test\nfuture_key: x\nmax_age: 99999999999\n",
        );
        assert!(p.is_err(), "max_age over 10 digits is refused");
        let p =
            Policy::parse("version: STSv1\nmode: testing\nmx: mx.test\nfuture_key: x\nmax_age: 9999999999\n")
                .unwrap();
        assert_eq!((p.mode, p.max_age), (Mode::Testing, MAX_AGE_LIMIT));
        let none = Policy::parse("version: STSv1\nmode: none\nmax_age: 86400\n").unwrap();
        assert_eq!(none.mode, Mode::None);
    }

    #[test]
    fn refuses_broken_policies() {
        for bad in [
            "",
            "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmax_age: 1\n",
            "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmx: a.test\n",
            "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",
            "version: STSv1\nmode: enforce\nmode: testing\nmx: a.test\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmx: a b.test\nmax_age: 1\n",
            "<html>not a policy</html>",
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn txt_record_ids() {
        let rec = |s: &str| s.as_bytes().to_vec();
        assert_eq!(record_id(&[rec("v=STSv1; id=20160831085700Z;")]).as_deref(), Some("20160831085700Z"));
        assert_eq!(record_id(&[rec("v=spf1 -all"), rec("v=STSv1;id=abc")]).as_deref(), Some("abc"));
        assert_eq!(record_id(&[rec("v=STSv1; id=a"), rec("v=STSv1; id=b")]), None, "two records");
        assert_eq!(record_id(&[rec("v=STSv1;")]), None, "no id");
        assert_eq!(record_id(&[rec("v=STSv1; id=has-dash")]), None);
        assert_eq!(record_id(&[rec("v=STSv10; id=x")]), None);
        assert_eq!(record_id(&[]), None);
    }
}
