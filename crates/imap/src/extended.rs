//! Command syntax imap-codec (alpha) does not parse, rewritten to what it does.
//!
//! - LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819):
//!   `LIST (SUBSCRIBED) "" ("INBOX" "Sent*") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES))`
//!   becomes one plain `LIST "" pattern` per pattern, with the options kept in [`ListExtra`].
//! - ESEARCH (RFC 4731, RFC 9051 §6.4.4): `SEARCH RETURN (MIN MAX COUNT ALL) criteria` becomes
//!   `SEARCH criteria` with the options in [`SearchReturn`].
//!
//! Only the top-level shape is touched: the rest is still parsed by imap-codec, so anything
//! malformed still gets BAD. Commands with literals are left alone.

use crate::commands::select::quoted;

/// LIST options imap-codec cannot carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListExtra {
    /// Selection SUBSCRIBED: only subscribed mailboxes.
    pub subscribed_only: bool,
    /// Selection RECURSIVEMATCH (accepted; CHILDINFO is not reported).
    pub recursive_match: bool,
    /// Selection SPECIAL-USE (RFC 6154 §5.3): only mailboxes with a special use.
    pub special_use_only: bool,
    /// RETURN SUBSCRIBED.
    pub return_subscribed: bool,
    /// RETURN CHILDREN (we always return them anyway).
    pub return_children: bool,
    /// RETURN SPECIAL-USE (we always return them anyway).
    pub return_special_use: bool,
    /// RETURN STATUS (items): the raw item names.
    pub status: Option<Vec<String>>,
    /// The patterns, when several were given.
    pub patterns: Vec<String>,
    /// Whether the extended form was used at all.
    pub extended: bool,
}

/// ESEARCH RETURN options (RFC 4731).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReturn {
    /// MIN.
    pub min: bool,
    /// MAX.
    pub max: bool,
    /// ALL.
    pub all: bool,
    /// COUNT.
    pub count: bool,
    /// SAVE (RFC 5182): accepted, the result is not kept.
    pub save: bool,
}

/// What a rewrite found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Extra {
    /// Nothing special.
    #[default]
    None,
    /// A LIST with extended options; the rewritten command lists the first pattern.
    List(ListExtra),
    /// A SEARCH with RETURN options.
    Search(SearchReturn),
}

/// Rewrites `message` (a complete command with CRLF) when it uses syntax imap-codec lacks.
pub fn rewrite(message: &[u8]) -> Option<(Vec<u8>, Extra)> {
    if message.contains(&b'{') {
        return None;
    }
    let text = std::str::from_utf8(message).ok()?;
    let line = text.trim_end_matches(['\r', '\n']);
    let mut parts = line.splitn(3, ' ');
    let tag = parts.next()?;
    let mut verb = parts.next()?.to_ascii_uppercase();
    let mut rest = parts.next().unwrap_or("");
    let mut prefix = String::new();
    if verb == "UID" {
        let mut more = rest.splitn(2, ' ');
        verb = more.next()?.to_ascii_uppercase();
        rest = more.next().unwrap_or("");
        prefix.push_str("UID ");
    }
    match verb.as_str() {
        "LIST" => list(tag, rest),
        "SEARCH" => search(tag, &prefix, rest),
        _ => None,
    }
}

fn list(tag: &str, rest: &str) -> Option<(Vec<u8>, Extra)> {
    let tokens = tokenize(rest)?;
    let mut extra = ListExtra::default();
    let mut i = 0;
    if let Some(Token::List(options)) = tokens.first() {
        extra.extended = true;
        for o in options {
            match o.as_atom()?.to_ascii_uppercase().as_str() {
                "SUBSCRIBED" => extra.subscribed_only = true,
                "RECURSIVEMATCH" => extra.recursive_match = true,
                "SPECIAL-USE" => extra.special_use_only = true,
                "REMOTE" => {}
                _ => return None,
            }
        }
        i = 1;
    }
    let reference = tokens.get(i)?.as_text()?;
    let patterns = match tokens.get(i + 1)? {
        Token::List(items) => {
            extra.extended = true;
            items.iter().map(Token::as_text).collect::<Option<Vec<_>>>()?
        }
        other => vec![other.as_text()?],
    };
    let mut j = i + 2;
    if let Some(t) = tokens.get(j) {
        if !t.as_atom()?.eq_ignore_ascii_case("RETURN") {
            return None;
        }
        extra.extended = true;
        let Token::List(options) = tokens.get(j + 1)? else { return None };
        let mut k = 0;
        while k < options.len() {
            match options[k].as_atom()?.to_ascii_uppercase().as_str() {
                "SUBSCRIBED" => extra.return_subscribed = true,
                "CHILDREN" => extra.return_children = true,
                "SPECIAL-USE" => extra.return_special_use = true,
                "STATUS" => {
                    let Token::List(items) = options.get(k + 1)? else { return None };
                    extra.status = Some(
                        items
                            .iter()
                            .map(|t| t.as_atom().map(str::to_ascii_uppercase))
                            .collect::<Option<_>>()?,
                    );
                    k += 1;
                }
                _ => return None,
            }
            k += 1;
        }
        j += 2;
    }
    if tokens.len() != j || !extra.extended {
        return None;
    }
    if extra.subscribed_only {
        // RFC 5258 §3.1: SUBSCRIBED selection implies the SUBSCRIBED return option.
        extra.return_subscribed = true;
    }
    let first = patterns.first()?.clone();
    extra.patterns = patterns;
    let command = format!("{tag} LIST {} {}\r\n", quoted(&reference), quoted(&first));
    Some((command.into_bytes(), Extra::List(extra)))
}

fn search(tag: &str, prefix: &str, rest: &str) -> Option<(Vec<u8>, Extra)> {
    let upper = rest.to_ascii_uppercase();
    if !upper.starts_with("RETURN (") {
        return None;
    }
    let close = rest.find(')')?;
    let options = &rest["RETURN (".len()..close];
    let mut ret = SearchReturn::default();
    for o in options.split_whitespace() {
        match o.to_ascii_uppercase().as_str() {
            "MIN" => ret.min = true,
            "MAX" => ret.max = true,
            "ALL" => ret.all = true,
            "COUNT" => ret.count = true,
            "SAVE" => ret.save = true,
            _ => return None,
        }
    }
    if !(ret.min || ret.max || ret.count || ret.save) {
        // RFC 4731 §3.1: RETURN () means ALL.
        ret.all = true;
    }
    let criteria = rest[close + 1..].trim_start();
    if criteria.is_empty() {
        return None;
    }
    let command = format!("{tag} {prefix}SEARCH {criteria}\r\n");
    Some((command.into_bytes(), Extra::Search(ret)))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Atom(String),
    Quoted(String),
    List(Vec<Token>),
}

impl Token {
    fn as_atom(&self) -> Option<&str> {
        match self {
            Token::Atom(a) => Some(a),
            _ => None,
        }
    }

    fn as_text(&self) -> Option<String> {
        match self {
            Token::Atom(a) => Some(a.clone()),
            Token::Quoted(q) => Some(q.clone()),
            Token::List(_) => None,
        }
    }
}

/// Atoms, quoted strings and parenthesised lists (two levels are enough here).
fn tokenize(s: &str) -> Option<Vec<Token>> {
    fn inner(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, depth: usize) -> Option<Vec<Token>> {
        let mut out = Vec::new();
        while let Some(&c) = chars.peek() {
            match c {
                ' ' => {
                    chars.next();
                }
                '(' => {
                    if depth > 2 {
                        return None;
                    }
                    chars.next();
                    out.push(Token::List(inner(chars, depth + 1)?));
                }
                ')' => {
                    chars.next();
                    return if depth > 0 { Some(out) } else { None };
                }
                '"' => {
                    chars.next();
                    let mut q = String::new();
                    loop {
                        match chars.next()? {
                            '\\' => q.push(chars.next()?),
                            '"' => break,
                            c => q.push(c),
                        }
                    }
                    out.push(Token::Quoted(q));
                }
                _ => {
                    let mut a = String::new();
                    while let Some(&c) = chars.peek() {
                        if c == ' ' || c == '(' || c == ')' || c == '"' {
                            break;
                        }
                        a.push(c);
                        chars.next();
                    }
                    out.push(Token::Atom(a));
                }
            }
        }
        if depth == 0 { Some(out) } else { None }
    }
    inner(&mut s.chars().peekable(), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_extended_is_rewritten() {
        let (cmd, extra) = rewrite(
            b"a LIST (SUBSCRIBED) \"\" (\"INBOX\" \"Sent*\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n",
        )
        .unwrap_or_default();
        assert_eq!(cmd, b"a LIST \"\" \"INBOX\"\r\n");
        let Extra::List(l) = extra else { panic!("not a list") };
        assert!(l.subscribed_only && l.return_subscribed && l.return_children);
        assert_eq!(l.patterns, vec!["INBOX".to_string(), "Sent*".to_string()]);
        assert_eq!(l.status, Some(vec!["MESSAGES".to_string(), "UNSEEN".to_string()]));
    }

    #[test]
    fn plain_list_is_left_alone() {
        assert!(rewrite(b"a LIST \"\" *\r\n").is_none());
        assert!(rewrite(b"a LIST \"\" \"*\" RETURN (BOGUS)\r\n").is_none());
    }

    #[test]
    fn esearch_is_rewritten() {
        let (cmd, extra) = rewrite(b"t1 UID SEARCH RETURN (MIN COUNT) UNSEEN\r\n").unwrap_or_default();
        assert_eq!(cmd, b"t1 UID SEARCH UNSEEN\r\n");
        assert_eq!(extra, Extra::Search(SearchReturn { min: true, count: true, ..SearchReturn::default() }));
        let (_, extra) = rewrite(b"t2 SEARCH RETURN () ALL\r\n").unwrap_or_default();
        assert_eq!(extra, Extra::Search(SearchReturn { all: true, ..SearchReturn::default() }));
    }
}
