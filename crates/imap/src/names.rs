//! Mailbox names on the wire and in the store.
//!
//! The store keeps names as UTF-8 with `/` as the hierarchy separator (the separator IMAP shows
//! too). On the wire, IMAP4rev1 clients use modified UTF-7 (RFC 3501 §5.1.3); clients that
//! enabled UTF8=ACCEPT (RFC 6855) or IMAP4rev2 (RFC 9051 §5.1) send and get UTF-8.
//!
//! Decoding is strict where it matters: a name that is neither valid modified UTF-7 nor valid
//! UTF-8, that contains control characters, empty hierarchy levels, or is too long, is refused
//! with a reason the client sees.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use imap_types::mailbox::Mailbox;

/// RFC 3501 §5.1.3: base64 with `,` instead of `/`, no padding (the base64 crate's
/// IMAP_MUTF7 alphabet).
const MUTF7: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::IMAP_MUTF7,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Longest mailbox name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 512;
/// Deepest hierarchy.
pub const MAX_LEVELS: usize = 32;

/// How names travel on this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameCoding {
    /// Modified UTF-7 (IMAP4rev1 default).
    Utf7,
    /// UTF-8 (after ENABLE UTF8=ACCEPT or IMAP4rev2).
    Utf8,
}

/// Why a mailbox name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Not valid modified UTF-7 / UTF-8.
    #[error("mailbox name is not valid modified UTF-7 or UTF-8")]
    Encoding,
    /// Control characters, empty levels, a leading or trailing separator.
    #[error("mailbox name is malformed ({0})")]
    Malformed(&'static str),
    /// Over the limits.
    #[error("mailbox name is too long or too deep")]
    TooLong,
}

/// The store name for a mailbox argument of a command.
pub fn decode(mailbox: &Mailbox<'_>, coding: NameCoding) -> Result<String, NameError> {
    match mailbox {
        Mailbox::Inbox => Ok("INBOX".into()),
        Mailbox::Other(other) => {
            let name = decode_bytes(other.as_ref(), coding)?;
            validate(&name)?;
            if name.eq_ignore_ascii_case("INBOX") { Ok("INBOX".into()) } else { Ok(name) }
        }
    }
}

/// Decodes wire bytes (also a LIST pattern) to UTF-8.
pub fn decode_bytes(bytes: &[u8], coding: NameCoding) -> Result<String, NameError> {
    let text = std::str::from_utf8(bytes).map_err(|_| NameError::Encoding)?;
    if coding == NameCoding::Utf8 || !text.is_ascii() {
        // 8-bit names from a rev1 client that did not enable UTF8=ACCEPT: accepted as UTF-8
        // (what they mean), as Dovecot does with its lenient setting.
        return Ok(text.to_string());
    }
    from_utf7(text)
}

/// Encodes a store name for the wire.
pub fn encode(name: &str, coding: NameCoding) -> String {
    match coding {
        NameCoding::Utf8 => name.to_string(),
        NameCoding::Utf7 => to_utf7(name),
    }
}

fn validate(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Malformed("empty"));
    }
    if name.len() > MAX_NAME_LEN || name.split('/').count() > MAX_LEVELS {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Malformed("control characters"));
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Err(NameError::Malformed("empty hierarchy level"));
    }
    if name.contains('*') || name.contains('%') {
        return Err(NameError::Malformed("wildcards"));
    }
    Ok(())
}

/// RFC 3501 §5.1.3 decoding.
fn from_utf7(text: &str) -> Result<String, NameError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-').ok_or(NameError::Encoding)?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = MUTF7.decode(encoded).map_err(|_| NameError::Encoding)?;
            if bytes.len() % 2 != 0 {
                return Err(NameError::Encoding);
            }
            let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            let decoded = String::from_utf16(&units).map_err(|_| NameError::Encoding)?;
            // Printable ASCII must not be encoded (canonical form).
            if decoded.chars().any(|c| (' '..='~').contains(&c)) {
                return Err(NameError::Encoding);
            }
            out.push_str(&decoded);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// RFC 3501 §5.1.3 encoding.
fn to_utf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if !pending.is_empty() {
            let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&MUTF7.encode(bytes));
            out.push('-');
            pending.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples_round_trip() {
        // RFC 3501 §5.1.3 example.
        assert_eq!(to_utf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(from_utf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(), Ok("~peter/mail/台北/日本語"));
        assert_eq!(to_utf7("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(from_utf7("Tom &- Jerry").as_deref(), Ok("Tom & Jerry"));
        assert_eq!(to_utf7("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(to_utf7("😀"), "&2D3eAA-");
        assert_eq!(from_utf7("&2D3eAA-").as_deref(), Ok("😀"));
    }

    #[test]
    fn invalid_utf7_is_refused() {
        assert_eq!(from_utf7("&U,BTFw"), Err(NameError::Encoding));
        assert_eq!(from_utf7("&AGE-"), Err(NameError::Encoding), "encoded ASCII is not canonical");
        assert_eq!(from_utf7("&2D0-"), Err(NameError::Encoding), "lone surrogate");
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in ["", "/a", "a/", "a//b", "a\u{1}b", "a*"] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        assert!(validate("x/".repeat(40).trim_end_matches('/')).is_err());
        assert!(validate("Archive/2024").is_ok());
    }
}
