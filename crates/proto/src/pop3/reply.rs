//! POP3 responses: `+OK`, `-ERR` with an optional response code, multi-line responses with
//! byte-stuffing, and the `+ ` continuation of a SASL exchange.
//!
//! [`Reply::write_to`] renders the wire form. Single-line text is sanitised (CR and LF become
//! spaces), so driver-supplied text can never inject a second response. Multi-line bodies are
//! byte-stuffed (RFC 1939 §3): every line that begins with `.` gets a second `.`, the body
//! ends with CRLF, and `.` CRLF terminates it — so no body can contain the terminator.

use std::fmt;
use std::sync::Arc;

/// Extended response codes (RFC 2449 §8, RFC 3206), shown as `-ERR [CODE] text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RespCode {
    /// `[IN-USE]`: the maildrop is locked by another session (RFC 2449 §8.1.2).
    InUse,
    /// `[LOGIN-DELAY]`: logged in again too soon (RFC 2449 §8.1.1).
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary system problem; retrying later may work (RFC 3206 §4).
    SysTemp,
    /// `[SYS/PERM]`: a permanent system problem (RFC 3206 §4).
    SysPerm,
    /// `[AUTH]`: the credentials (or the way they were sent) are the problem (RFC 3206 §5).
    Auth,
}

impl RespCode {
    /// The code as written between the brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            RespCode::InUse => "IN-USE",
            RespCode::LoginDelay => "LOGIN-DELAY",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
            RespCode::Auth => "AUTH",
        }
    }
}

/// One POP3 response.
#[derive(Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK text`.
    Ok(String),
    /// `-ERR [code] text`.
    Err {
        /// The extended response code, if any.
        code: Option<RespCode>,
        /// The human-readable text.
        text: String,
    },
    /// `+OK text`, then the first `len` octets of `body` byte-stuffed, then `.` (RFC 1939 §3).
    Multiline {
        /// The text of the first line.
        text: String,
        /// The body (CRLF line ends), not yet stuffed. Shared, so a message is not copied.
        body: Arc<Vec<u8>>,
        /// How many octets of `body` to send (TOP sends a prefix).
        len: usize,
    },
    /// `+ text`: a SASL challenge (RFC 5034 §4), base64 or empty.
    Challenge(String),
}

impl Reply {
    /// `+OK text`.
    pub fn ok(text: impl Into<String>) -> Reply {
        Reply::Ok(text.into())
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<String>) -> Reply {
        Reply::Err { code: None, text: text.into() }
    }

    /// `-ERR [code] text`.
    pub fn err_code(code: RespCode, text: impl Into<String>) -> Reply {
        Reply::Err { code: Some(code), text: text.into() }
    }

    /// A multi-line response whose body is these lines (LIST, UIDL, CAPA).
    pub fn lines(text: impl Into<String>, lines: &[String]) -> Reply {
        let mut body = Vec::new();
        for line in lines {
            body.extend(line.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
            body.extend_from_slice(b"\r\n");
        }
        let len = body.len();
        Reply::Multiline { text: text.into(), body: body.into(), len }
    }

    /// A multi-line response carrying the first `len` octets of a message (RETR, TOP).
    pub fn message(text: impl Into<String>, body: Arc<Vec<u8>>, len: usize) -> Reply {
        let len = len.min(body.len());
        Reply::Multiline { text: text.into(), body, len }
    }

    /// Whether this is a `-ERR` response.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Err { .. })
    }

    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Ok(text) => status_line(out, "+OK", None, text),
            Reply::Err { code, text } => status_line(out, "-ERR", *code, text),
            Reply::Challenge(text) => status_line(out, "+", None, text),
            Reply::Multiline { text, body, len } => {
                status_line(out, "+OK", None, text);
                stuff(body.get(..*len).unwrap_or(body), out);
            }
        }
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

impl fmt::Debug for Reply {
    /// The first line only: message bodies stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Multiline { text, len, .. } => write!(f, "+OK {text} [{len} octets follow]"),
            other => {
                let bytes = other.to_bytes();
                f.write_str(String::from_utf8_lossy(&bytes).trim_end())
            }
        }
    }
}

/// `+OK text` / `-ERR [CODE] text` / `+ text`, CRLF-terminated, with CR/LF in `text` blanked.
fn status_line(out: &mut Vec<u8>, status: &str, code: Option<RespCode>, text: &str) {
    out.extend_from_slice(status.as_bytes());
    if let Some(code) = code {
        // RFC 2449 §8: the code comes first, in square brackets.
        out.extend_from_slice(b" [");
        out.extend_from_slice(code.as_str().as_bytes());
        out.push(b']');
    }
    if !text.is_empty() || status == "+" {
        // RFC 5034 §4: a challenge is "+" SP base64, even when empty.
        out.push(b' ');
    }
    out.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    out.extend_from_slice(b"\r\n");
}

/// Byte-stuffs `body` into `out` and terminates it (RFC 1939 §3): a `.` at the start of a line
/// is doubled, a body without a final line end gets CRLF, then `.` CRLF.
pub fn stuff(body: &[u8], out: &mut Vec<u8>) {
    out.reserve(body.len() + body.len() / 64 + 5);
    let mut at_line_start = true;
    let mut rest = body;
    while !rest.is_empty() {
        if at_line_start && rest.first() == Some(&b'.') {
            out.push(b'.');
        }
        match memchr::memchr(b'\n', rest) {
            Some(pos) => {
                out.extend_from_slice(&rest[..=pos]);
                rest = &rest[pos + 1..];
                at_line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                rest = &[];
                at_line_start = false;
            }
        }
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        stuff(body, &mut out);
        out
    }

    #[test]
    fn status_lines() {
        assert_eq!(Reply::ok("hi").to_bytes(), b"+OK hi\r\n");
        assert_eq!(Reply::ok("").to_bytes(), b"+OK\r\n");
        assert_eq!(Reply::err_code(RespCode::InUse, "locked").to_bytes(), b"-ERR [IN-USE] locked\r\n");
        assert_eq!(Reply::Challenge(String::new()).to_bytes(), b"+ \r\n");
        assert_eq!(Reply::err("a\r\n+OK b").to_bytes(), b"-ERR a  +OK b\r\n");
    }

    #[test]
    fn stuffing() {
        assert_eq!(stuffed(b""), b".\r\n");
        assert_eq!(stuffed(b"a\r\n"), b"a\r\n.\r\n");
        assert_eq!(stuffed(b".a\r\n..\r\n.\r\nb"), b"..a\r\n...\r\n..\r\nb\r\n.\r\n");
        assert_eq!(stuffed(b"x\n.y\n"), b"x\n..y\n.\r\n");
    }

    #[test]
    fn multiline_prefix() {
        let body: Arc<Vec<u8>> = Arc::new(b"H: v\r\n\r\nline\r\n".to_vec());
        assert_eq!(Reply::message("top", body, 8).to_bytes(), b"+OK top\r\nH: v\r\n\r\n.\r\n");
        let list = Reply::lines("2 messages", &["1 10".into(), "2 20".into()]);
        assert_eq!(list.to_bytes(), b"+OK 2 messages\r\n1 10\r\n2 20\r\n.\r\n");
    }
}
