//! Address lists in the raw form ENVELOPE needs (RFC 9051 §7.5.2, RFC 3501 §7.4.2).
//!
//! mail-parser decodes display names (RFC 2047) and drops source routes, but ENVELOPE returns the
//! phrase as written in the message, so this is a small RFC 5322 §3.4 address-list reader that
//! keeps the raw text. It is lenient like Dovecot's: it never fails, it skips what it cannot read,
//! and a mailbox without a domain gets the host `.MISSING-HOST-NAME.` (as UW-IMAP and Dovecot do)
//! so that it is not mistaken for group syntax, whose marker is a NIL host.

/// One entry of an ENVELOPE address list; fields are raw bytes, `None` is NIL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawAddress {
    /// Display name (phrase), quotes removed, words joined by one space, encoded words kept.
    pub(crate) name: Option<Vec<u8>>,
    /// Obsolete source route (`@a,@b`), RFC 5322 §4.4.
    pub(crate) adl: Option<Vec<u8>>,
    /// Local part, or the group name in a group start marker.
    pub(crate) mailbox: Option<Vec<u8>>,
    /// Domain; NIL only in group markers.
    pub(crate) host: Option<Vec<u8>>,
}

/// Host used when an address has no domain part.
const MISSING_HOST: &[u8] = b".MISSING-HOST-NAME.";

/// A lexical token of a structured header value (RFC 5322 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An atom, possibly with dots (dot-atom and obs-phrase words).
    Atom(Vec<u8>),
    /// A quoted string, quotes removed and quoted-pairs resolved.
    Quoted(Vec<u8>),
    /// A domain literal, brackets kept.
    Literal(Vec<u8>),
    /// A comment, parentheses removed.
    Comment(Vec<u8>),
    /// One of `< > @ , : ;`.
    Special(u8),
}

fn tokenize(value: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let (text, next) = delimited(value, i + 1, b'"');
                tokens.push(Token::Quoted(text));
                i = next;
            }
            b'(' => {
                let (text, next) = comment(value, i + 1);
                tokens.push(Token::Comment(text));
                i = next;
            }
            b'[' => {
                let (text, next) = delimited(value, i + 1, b']');
                let mut literal = Vec::with_capacity(text.len() + 2);
                literal.push(b'[');
                literal.extend_from_slice(&text);
                literal.push(b']');
                tokens.push(Token::Literal(literal));
                i = next;
            }
            b'<' | b'>' | b'@' | b',' | b':' | b';' => {
                tokens.push(Token::Special(b));
                i += 1;
            }
            _ => {
                let start = i;
                while value.get(i).is_some_and(|c| !b" \t\r\n\"()[]<>@,:;".contains(c)) {
                    i += 1;
                }
                if i == start {
                    // A stray `)` or `]`: skip it.
                    i += 1;
                } else {
                    tokens.push(Token::Atom(value[start..i].to_vec()));
                }
            }
        }
    }
    tokens
}

/// Reads up to the unescaped `close` byte; returns the content (quoted-pairs resolved, folding
/// line ends dropped) and the offset after `close`.
fn delimited(value: &[u8], mut i: usize, close: u8) -> (Vec<u8>, usize) {
    let mut text = Vec::new();
    while let Some(&b) = value.get(i) {
        i += 1;
        match b {
            b'\\' => {
                if let Some(&escaped) = value.get(i) {
                    text.push(escaped);
                    i += 1;
                }
            }
            b'\r' | b'\n' => {}
            _ if b == close => return (text, i),
            _ => text.push(b),
        }
    }
    (text, i)
}

/// Reads a comment, which may nest (RFC 5322 §3.2.2).
fn comment(value: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut text = Vec::new();
    let mut depth = 1usize;
    while let Some(&b) = value.get(i) {
        i += 1;
        match b {
            b'\\' => {
                if let Some(&escaped) = value.get(i) {
                    text.push(escaped);
                    i += 1;
                }
            }
            b'(' => {
                depth += 1;
                text.push(b);
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (text, i);
                }
                text.push(b);
            }
            b'\r' | b'\n' => {}
            _ => text.push(b),
        }
    }
    (text, i)
}

/// Parses a raw address-list header value into ENVELOPE address entries, group markers included.
pub(crate) fn parse_list(value: &[u8]) -> Vec<RawAddress> {
    let tokens = tokenize(value);
    let mut reader = Reader { tokens: &tokens, pos: 0, out: Vec::new(), last_comment: None };
    reader.list();
    reader.out
}

struct Reader<'t> {
    tokens: &'t [Token],
    pos: usize,
    out: Vec<RawAddress>,
    /// The last comment read, for an addr-spec's trailing `(Display Name)`.
    last_comment: Option<Vec<u8>>,
}

/// Words and comments read before a special decides what they were.
#[derive(Default)]
struct Words {
    words: Vec<Vec<u8>>,
    comment: Option<Vec<u8>>,
}

impl Words {
    /// RFC 5322 §3.2.5 phrase: the words separated by single spaces.
    fn phrase(&self) -> Option<Vec<u8>> {
        (!self.words.is_empty()).then(|| self.words.join(&b' '))
    }

    /// RFC 5322 §3.4.1 local-part: the words as one string.
    fn local_part(&self) -> Vec<u8> {
        self.words.concat()
    }
}

impl Reader<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn is_special(&self, c: u8) -> bool {
        self.peek() == Some(&Token::Special(c))
    }

    /// address-list = address *("," address)
    fn list(&mut self) {
        while self.pos < self.tokens.len() {
            if self.is_special(b',') || self.is_special(b';') || self.is_special(b'>') {
                self.pos += 1;
                continue;
            }
            self.address(true);
        }
    }

    /// Reads atoms, quoted strings and comments until a special.
    fn words(&mut self) -> Words {
        let mut words = Words::default();
        while let Some(token) = self.peek() {
            match token {
                Token::Atom(t) | Token::Quoted(t) | Token::Literal(t) => words.words.push(t.clone()),
                Token::Comment(c) => {
                    words.comment = Some(c.clone());
                    self.last_comment = Some(c.clone());
                }
                Token::Special(_) => break,
            }
            self.pos += 1;
        }
        words
    }

    /// address = mailbox / group (a group only where `groups_allowed`).
    fn address(&mut self, groups_allowed: bool) {
        let start = self.pos;
        let words = self.words();
        match self.peek() {
            Some(Token::Special(b'<')) => {
                self.pos += 1;
                self.angle_addr(words.phrase());
            }
            Some(Token::Special(b'@')) => {
                self.pos += 1;
                self.last_comment = None;
                let host = self.domain();
                let mailbox = words.local_part();
                // A comment after an addr-spec serves as the display name, as in Dovecot.
                let name = self.last_comment.take().or(words.comment);
                self.out.push(RawAddress {
                    name,
                    adl: None,
                    mailbox: Some(mailbox),
                    host: Some(host.unwrap_or_else(|| MISSING_HOST.to_vec())),
                });
            }
            Some(Token::Special(b':')) if groups_allowed => {
                self.pos += 1;
                self.group(words.phrase().unwrap_or_default());
            }
            Some(Token::Special(b':')) => {
                // A group inside a group is not allowed: skip the colon.
                self.pos += 1;
            }
            _ => {
                if !words.words.is_empty() {
                    // A bare word list: a local part without a domain.
                    let mailbox = words.local_part();
                    self.out.push(RawAddress {
                        name: words.comment,
                        adl: None,
                        mailbox: Some(mailbox),
                        host: Some(MISSING_HOST.to_vec()),
                    });
                }
                // Nothing read: skip the stray special so that the callers' loops progress.
                if self.pos == start {
                    self.pos += 1;
                }
            }
        }
    }

    /// angle-addr = "<" [obs-route] addr-spec ">"
    fn angle_addr(&mut self, name: Option<Vec<u8>>) {
        let mut adl = Vec::new();
        // RFC 5322 §4.4 obs-route: "@a,@b:" before the addr-spec.
        while self.is_special(b'@') || (self.is_special(b',') && !adl.is_empty()) {
            if let Some(Token::Special(c)) = self.peek() {
                adl.push(*c);
            }
            self.pos += 1;
            adl.extend(self.domain().unwrap_or_default());
            if self.is_special(b':') {
                self.pos += 1;
                break;
            }
        }
        let local = self.words();
        let host = if self.is_special(b'@') {
            self.pos += 1;
            self.domain()
        } else {
            None
        };
        // Skip anything up to and including the closing bracket.
        while let Some(token) = self.peek() {
            let closing = token == &Token::Special(b'>');
            self.pos += 1;
            if closing {
                break;
            }
        }
        let empty = local.words.is_empty() && host.is_none();
        self.out.push(RawAddress {
            name,
            adl: (!adl.is_empty()).then_some(adl),
            mailbox: Some(local.local_part()),
            // `<>` (a null return path) has an empty host, anything else a missing one.
            host: Some(host.unwrap_or_else(|| if empty { Vec::new() } else { MISSING_HOST.to_vec() })),
        });
    }

    /// domain = dot-atom / domain-literal (comments around it skipped).
    fn domain(&mut self) -> Option<Vec<u8>> {
        let words = self.words();
        (!words.words.is_empty()).then(|| words.local_part())
    }

    /// group = display-name ":" [group-list] ";"
    fn group(&mut self, name: Vec<u8>) {
        // RFC 9051 §7.5.2: start of group is (NIL NIL "name" NIL), end is (NIL NIL NIL NIL).
        self.out.push(RawAddress { mailbox: Some(name), ..RawAddress::default() });
        while self.pos < self.tokens.len() && !self.is_special(b';') {
            if self.is_special(b',') {
                self.pos += 1;
                continue;
            }
            self.address(false);
        }
        if self.is_special(b';') {
            self.pos += 1;
        }
        self.out.push(RawAddress::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(name: Option<&str>, mailbox: &str, host: &str) -> RawAddress {
        RawAddress {
            name: name.map(|n| n.as_bytes().to_vec()),
            adl: None,
            mailbox: Some(mailbox.as_bytes().to_vec()),
            host: Some(host.as_bytes().to_vec()),
        }
    }

    #[test]
    fn plain_and_named() {
        assert_eq!(parse_list(b"a@b.example"), vec![addr(None, "a", "b.example")]);
        assert_eq!(
            parse_list(b"\"Doe, John\" <john@x.example>, Jane Q. Roe <jane@y.example>"),
            vec![
                addr(Some("Doe, John"), "john", "x.example"),
                addr(Some("Jane Q. Roe"), "jane", "y.example"),
            ]
        );
    }

    #[test]
    fn encoded_words_stay_raw() {
        assert_eq!(
            parse_list(b"=?utf-8?q?J=C3=B6rg?= <j@x>"),
            vec![addr(Some("=?utf-8?q?J=C3=B6rg?="), "j", "x")]
        );
    }

    #[test]
    fn comment_as_name_and_route() {
        assert_eq!(parse_list(b"j@x (Joe)"), vec![addr(Some("Joe"), "j", "x")]);
        let routed = parse_list(b"<@a.example,@b.example:u@c.example>");
        assert_eq!(routed[0].adl.as_deref(), Some(&b"@a.example,@b.example"[..]));
        assert_eq!(routed[0].mailbox.as_deref(), Some(&b"u"[..]));
    }

    #[test]
    fn groups() {
        let list = parse_list(b"Friends: a@x, b@y;, c@z");
        assert_eq!(list.len(), 5);
        assert_eq!(list[0], RawAddress { mailbox: Some(b"Friends".to_vec()), ..Default::default() });
        assert_eq!(list[3], RawAddress::default());
        assert_eq!(list[4], addr(None, "c", "z"));
        let empty = parse_list(b"undisclosed-recipients:;");
        assert_eq!(empty.len(), 2);
        let unterminated_member = parse_list(b"G: a; b@c");
        assert_eq!(unterminated_member.len(), 4);
        assert_eq!(unterminated_member[2], RawAddress::default());
        assert_eq!(unterminated_member[3], addr(None, "b", "c"));
    }

    #[test]
    fn junk_does_not_panic() {
        for junk in [&b"<<<>>>"[..], b"@@@", b"\"unterminated", b"(((", b":;:;", b"a@", b",,,", b"<a@b"] {
            let _ = parse_list(junk);
        }
        assert_eq!(parse_list(b"user"), vec![addr(None, "user", ".MISSING-HOST-NAME.")]);
        assert_eq!(parse_list(b"<>"), vec![addr(None, "", "")]);
    }
}
