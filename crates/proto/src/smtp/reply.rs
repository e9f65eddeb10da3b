//! SMTP replies: a three-digit code, an optional enhanced status code and one or more lines.
//!
//! [`Reply`] renders itself in wire form (`Display` / [`Reply::to_bytes`]): every line but the
//! last as `250-...`, the last as `250 ...`, each ending in CRLF (RFC 5321 §4.2.1), with the
//! enhanced status code repeated on every line (RFC 2034 §4). Text given by a driver is
//! sanitised on output: CR and LF become spaces, so a reply can never inject a second reply.

use std::fmt;
use std::str::FromStr;

/// An enhanced mail system status code `class.subject.detail` (RFC 3463, registry RFC 5248).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject, e.g. 5 for "mail delivery protocol status".
    pub subject: u16,
    /// The detail within the subject.
    pub detail: u16,
}

impl EnhancedStatus {
    /// Builds `class.subject.detail`.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedStatus { class, subject, detail }
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// Why a string is not an enhanced status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an enhanced status code (class.subject.detail): {0:?}")]
pub struct BadEnhancedStatus(String);

impl FromStr for EnhancedStatus {
    type Err = BadEnhancedStatus;

    /// Parses `2.1.5`. RFC 3463 §2: class is 2, 4 or 5; subject and detail are 1–3 digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadEnhancedStatus(s.to_string());
        let mut parts = s.split('.');
        let (Some(class), Some(subject), Some(detail), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let digits = |p: &str| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        if !(class.len() == 1 && digits(class) && digits(subject) && digits(detail)) {
            return Err(bad());
        }
        let class: u8 = class.parse().map_err(|_| bad())?;
        if !matches!(class, 2 | 4 | 5) {
            return Err(bad());
        }
        Ok(EnhancedStatus {
            class,
            subject: subject.parse().map_err(|_| bad())?,
            detail: detail.parse().map_err(|_| bad())?,
        })
    }
}

/// One SMTP reply, possibly multi-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code (200–599).
    pub code: u16,
    /// The enhanced status code; `None` for replies that carry none (220 greeting, EHLO lines,
    /// 334 and 354 intermediate replies: RFC 2034 §3 defines them for 2xx/4xx/5xx only).
    pub enhanced: Option<EnhancedStatus>,
    /// The text lines, without code or CRLF. An empty list renders as one empty line.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code given as `"5.1.1"`, the form drivers use.
    ///
    /// A malformed `enhanced` string (a programming error in the caller) does not panic: the
    /// generic code of the reply's class (`X.0.0`) is used instead.
    pub fn new(code: u16, enhanced: &str, text: impl Into<String>) -> Reply {
        let enhanced = enhanced.parse().unwrap_or_else(|_| Self::generic_status(code));
        Reply { code, enhanced: Some(enhanced), lines: vec![text.into()] }
    }

    /// A one-line reply with a typed enhanced status code.
    pub fn with_status(code: u16, enhanced: EnhancedStatus, text: impl Into<String>) -> Reply {
        Reply { code, enhanced: Some(enhanced), lines: vec![text.into()] }
    }

    /// A one-line reply without an enhanced status code (greeting, 334, 354).
    pub fn plain(code: u16, text: impl Into<String>) -> Reply {
        Reply { code, enhanced: None, lines: vec![text.into()] }
    }

    /// A multi-line reply.
    pub fn multiline(code: u16, enhanced: Option<EnhancedStatus>, lines: Vec<String>) -> Reply {
        Reply { code, enhanced, lines }
    }

    /// Whether the reply reports a failure (4xx or 5xx).
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// Whether the reply is a transient failure (4xx).
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// Whether the reply is a positive completion (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The wire form, CRLF line ends included.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// `X.0.0` for the class of `code` (RFC 3463 §3.1: "Other undefined status").
    fn generic_status(code: u16) -> EnhancedStatus {
        let class = match code / 100 {
            2 => 2,
            4 => 4,
            _ => 5,
        };
        EnhancedStatus::new(class, 0, 0)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // RFC 5321 §4.2: a reply code is exactly three digits.
        let code = if (100..=999).contains(&self.code) { self.code } else { 451 };
        let empty = [String::new()];
        let lines: &[String] = if self.lines.is_empty() { &empty } else { &self.lines };
        let last = lines.len() - 1;
        for (i, line) in lines.iter().enumerate() {
            // RFC 5321 §4.2.1: "250-" on every line but the last, "250 " on the last.
            let sep = if i == last { ' ' } else { '-' };
            write!(f, "{code}{sep}")?;
            if let Some(status) = self.enhanced {
                // RFC 2034 §4: the enhanced code starts every line of a multi-line reply.
                write!(f, "{status}")?;
                if !line.is_empty() {
                    f.write_str(" ")?;
                }
            }
            if line.contains(['\r', '\n']) {
                // Driver-supplied text must not smuggle line breaks into the reply stream.
                f.write_str(&line.replace(['\r', '\n'], " "))?;
            } else {
                f.write_str(line)?;
            }
            f.write_str("\r\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_enhanced_code() {
        let r = Reply::new(250, "2.1.5", "Ok");
        assert_eq!(r.to_string(), "250 2.1.5 Ok\r\n");
        assert_eq!(r.enhanced, Some(EnhancedStatus::new(2, 1, 5)));
    }

    #[test]
    fn multiline_repeats_the_enhanced_code() {
        let r =
            Reply::multiline(550, Some(EnhancedStatus::new(5, 7, 1)), vec!["first".into(), "second".into()]);
        assert_eq!(r.to_string(), "550-5.7.1 first\r\n550 5.7.1 second\r\n");
    }

    #[test]
    fn plain_and_empty() {
        assert_eq!(Reply::plain(354, "Go ahead").to_string(), "354 Go ahead\r\n");
        assert_eq!(Reply::plain(334, "").to_string(), "334 \r\n");
        assert_eq!(Reply::multiline(250, None, vec![]).to_string(), "250 \r\n");
    }

    #[test]
    fn line_breaks_in_text_are_neutralised() {
        let r = Reply::new(550, "5.1.1", "no\r\n250 ok");
        assert_eq!(r.to_string(), "550 5.1.1 no  250 ok\r\n");
    }

    #[test]
    fn bad_enhanced_string_falls_back_to_class() {
        assert_eq!(Reply::new(451, "x", "t").enhanced, Some(EnhancedStatus::new(4, 0, 0)));
        assert!("2.1".parse::<EnhancedStatus>().is_err());
        assert!("3.0.0".parse::<EnhancedStatus>().is_err());
        assert!("2.1000.0".parse::<EnhancedStatus>().is_err());
        assert_eq!("5.7.11".parse(), Ok(EnhancedStatus::new(5, 7, 11)));
    }
}
