//! Bytes to IMAP strings, never failing.
//!
//! imap-types refuses what IMAP cannot carry: a quoted string holds 7-bit text without CR, LF or
//! NUL, a literal anything but NUL (RFC 9051 §4.3). These helpers pick the form that fits and, for
//! the NUL that a literal cannot hold, substitute 0x80 as Dovecot does, so that sizes stay the
//! same. Only `literal8` (RFC 3516 BINARY) carries NUL as it is.

use std::borrow::Cow;

use imap_types::core::{IString, Literal, LiteralMode, NString, NString8, Quoted};
use imap_types::extensions::binary::Literal8;

/// The byte that stands in for NUL where IMAP forbids it (Dovecot uses the same).
const NUL_REPLACEMENT: u8 = 0x80;

/// A quoted string when the bytes allow it, else a literal (NUL bytes replaced by 0x80).
pub fn istring(bytes: impl Into<Vec<u8>>) -> IString<'static> {
    let mut bytes = bytes.into();
    let quotable = bytes.iter().all(|&b| matches!(b, 0x01..=0x09 | 0x0b..=0x0c | 0x0e..=0x7f));
    if quotable {
        // Every byte is ASCII, so this is valid UTF-8 and valid quoted text.
        if let Ok(text) = String::from_utf8(bytes.clone())
            && let Ok(quoted) = Quoted::try_from(text)
        {
            return IString::Quoted(quoted);
        }
    }
    for b in &mut bytes {
        if *b == 0 {
            *b = NUL_REPLACEMENT;
        }
    }
    match Literal::try_from(bytes) {
        Ok(literal) => IString::Literal(literal),
        // Unreachable after the substitution above; an empty string is the harmless answer.
        Err(_) => IString::Quoted(Quoted::unvalidated("")),
    }
}

/// `Some(bytes)` as a string, `None` as NIL.
pub fn nstring(bytes: Option<impl Into<Vec<u8>>>) -> NString<'static> {
    NString(bytes.map(istring))
}

/// Section data for `BODY[...]`, `RFC822*` (always a string, never NIL; NUL replaced by 0x80,
/// RFC 9051 §4.3). Always a literal, as Dovecot sends it: some clients read message data only
/// from literals.
pub fn body_nstring(mut bytes: Vec<u8>) -> NString<'static> {
    for b in &mut bytes {
        if *b == 0 {
            *b = NUL_REPLACEMENT;
        }
    }
    match Literal::try_from(bytes) {
        Ok(literal) => NString(Some(IString::Literal(literal))),
        Err(_) => NString(Some(IString::Quoted(Quoted::unvalidated("")))),
    }
}

/// Section data for `BINARY[...]` (RFC 3516 §4.3): a literal8 when the data contains NUL,
/// otherwise an ordinary string.
pub fn binary_nstring8(bytes: Vec<u8>) -> NString8<'static> {
    if bytes.contains(&0) {
        NString8::Literal8(Literal8 { data: Cow::Owned(bytes), mode: LiteralMode::Sync })
    } else {
        NString8::NString(body_nstring(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_quoted_or_literal() {
        assert!(matches!(istring(b"plain text".to_vec()), IString::Quoted(_)));
        assert!(matches!(istring(b"two\r\nlines".to_vec()), IString::Literal(_)));
        assert!(matches!(istring("Jörg".as_bytes().to_vec()), IString::Literal(_)));
        assert_eq!(istring(b"a\0b".to_vec()).as_ref(), b"a\x80b");
        assert_eq!(nstring(None::<Vec<u8>>), NString(None));
    }

    #[test]
    fn binary_keeps_nul() {
        match binary_nstring8(b"a\0b".to_vec()) {
            NString8::Literal8(l) => assert_eq!(l.data.as_ref(), b"a\0b"),
            NString8::NString(_) => panic!("NUL needs literal8"),
        }
        assert!(matches!(binary_nstring8(b"ab".to_vec()), NString8::NString(_)));
    }
}
