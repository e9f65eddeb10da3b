//! Command dispatch: check the line, look the keyword up in the one table of commands
//! ([`COMMANDS`]: which states allow it, which arguments it takes), then hand it to its file.
//!
//! - `auth.rs`: USER, PASS, AUTH (SASL), APOP — the AUTHORIZATION state.
//! - `capa.rs`: CAPA, STLS, NOOP, QUIT.
//! - `listing.rs`: STAT, LIST, UIDL, DELE, RSET — the maildrop listing and marks.
//! - `retrieve.rs`: RETR, TOP — message bytes.

mod auth;
mod capa;
mod listing;
pub(crate) mod retrieve;

use super::action::Action;
use super::reply::Reply;
use super::session::{Auth, Session, State};

/// A POP3 command keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Capa,
    Quit,
    Noop,
    User,
    Pass,
    Apop,
    Auth,
    Stls,
    Stat,
    List,
    Uidl,
    Retr,
    Top,
    Dele,
    Rset,
}

/// The states in which commands are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// RFC 1939 §4.
    Authorization,
    /// RFC 1939 §5.
    Transaction,
}

/// The argument shape a command takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Args {
    /// None.
    None,
    /// Between `min` and `max` space-separated words.
    Words(usize, usize),
    /// The rest of the line as one string, at least one character (USER names and PASS
    /// passwords may contain spaces, RFC 1939 §7).
    Rest,
}

const AUTHORIZATION: &[Phase] = &[Phase::Authorization];
const TRANSACTION: &[Phase] = &[Phase::Transaction];
const BOTH: &[Phase] = &[Phase::Authorization, Phase::Transaction];

/// Every command, the states it is legal in, its arguments and its syntax for error replies;
/// declared once (STYLE.md §3).
pub(crate) const COMMANDS: &[(&str, Verb, &[Phase], Args, &str)] = &[
    // RFC 2449 §5: CAPA in AUTHORIZATION and TRANSACTION.
    ("CAPA", Verb::Capa, BOTH, Args::None, "CAPA"),
    // RFC 1939 §4, §6: QUIT in both states; in TRANSACTION it enters UPDATE.
    ("QUIT", Verb::Quit, BOTH, Args::None, "QUIT"),
    // RFC 1939 §5: NOOP, STAT, LIST, RETR, DELE, RSET in TRANSACTION only.
    ("NOOP", Verb::Noop, TRANSACTION, Args::None, "NOOP"),
    // RFC 1939 §7: USER, PASS, APOP in AUTHORIZATION only.
    ("USER", Verb::User, AUTHORIZATION, Args::Rest, "USER name"),
    ("PASS", Verb::Pass, AUTHORIZATION, Args::Rest, "PASS password"),
    ("APOP", Verb::Apop, AUTHORIZATION, Args::Words(2, 2), "APOP name digest"),
    // RFC 5034 §4: AUTH in AUTHORIZATION; without arguments we list the mechanisms.
    ("AUTH", Verb::Auth, AUTHORIZATION, Args::Words(0, 2), "AUTH mechanism [initial-response]"),
    // RFC 2595 §4: STLS only in AUTHORIZATION.
    ("STLS", Verb::Stls, AUTHORIZATION, Args::None, "STLS"),
    ("STAT", Verb::Stat, TRANSACTION, Args::None, "STAT"),
    ("LIST", Verb::List, TRANSACTION, Args::Words(0, 1), "LIST [msg]"),
    // RFC 1939 §7: the optional commands TOP and UIDL, TRANSACTION only.
    ("UIDL", Verb::Uidl, TRANSACTION, Args::Words(0, 1), "UIDL [msg]"),
    ("RETR", Verb::Retr, TRANSACTION, Args::Words(1, 1), "RETR msg"),
    ("TOP", Verb::Top, TRANSACTION, Args::Words(2, 2), "TOP msg n"),
    ("DELE", Verb::Dele, TRANSACTION, Args::Words(1, 1), "DELE msg"),
    ("RSET", Verb::Rset, TRANSACTION, Args::None, "RSET"),
];

/// Looks a keyword up (RFC 1939 §3: keywords are case-insensitive).
pub(crate) fn lookup(
    keyword: &str,
) -> Option<&'static (&'static str, Verb, &'static [Phase], Args, &'static str)> {
    COMMANDS.iter().find(|(name, ..)| name.eq_ignore_ascii_case(keyword))
}

/// Splits a line (CRLF removed) into its keyword and the text after the first space.
fn split(line: &str) -> (&str, &str) {
    match line.split_once(' ') {
        Some((keyword, rest)) => (keyword, rest),
        None => (line, ""),
    }
}

/// A message number argument: decimal, 1-based (RFC 1939 §5). `None` if it is not a number.
pub(crate) fn message_number(arg: &str) -> Option<usize> {
    if arg.is_empty() || arg.len() > 10 || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    arg.parse().ok()
}

/// Strips the line end: CRLF, or a bare LF.
pub(crate) fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl Session {
    /// The phase the legality table looks at.
    fn phase(&self) -> Phase {
        match self.state {
            State::Transaction(_) => Phase::Transaction,
            _ => Phase::Authorization,
        }
    }

    /// Handles one complete command line (LF included).
    pub(crate) fn command(&mut self, line: &[u8], out: &mut Vec<Action>) {
        // RFC 1939 §3: commands are printable ASCII keywords and arguments; passwords may be
        // UTF-8, so accept that, but never NUL or other control characters.
        let text = match std::str::from_utf8(strip_line_end(line)) {
            Ok(text) if !text.chars().any(|c| c.is_control()) => text,
            _ => return self.send(out, Reply::err("Invalid characters in command")),
        };
        let (keyword, rest) = split(text);
        let Some(&(_, verb, phases, args, syntax)) = lookup(keyword) else {
            return self.send(out, Reply::err("Unknown command"));
        };
        if !phases.contains(&self.phase()) {
            // RFC 1939 §3: a command in the wrong state gets a negative response.
            let text = match self.phase() {
                Phase::Authorization => "Command not valid before login",
                Phase::Transaction => "Command not valid after login",
            };
            return self.send(out, Reply::err(text));
        }
        // RFC 1939 §3 separates arguments by one space; tolerate more.
        let words: Vec<&str> = rest.split(' ').filter(|w| !w.is_empty()).collect();
        let ok = match args {
            Args::None => words.is_empty(),
            Args::Words(min, max) => (min..=max).contains(&words.len()),
            Args::Rest => !rest.is_empty(),
        };
        if !ok {
            return self.send(out, Reply::err(format!("Syntax: {syntax}")));
        }
        let arg = |i: usize| words.get(i).copied().unwrap_or("");
        match verb {
            Verb::Capa => self.capa(out),
            Verb::Quit => self.quit(out),
            Verb::Noop => self.send(out, Reply::ok("")),
            Verb::User => self.user_command(rest, out),
            Verb::Pass => self.pass(rest, out),
            Verb::Apop => self.send(out, Reply::err("APOP not supported: use USER/PASS or AUTH")),
            Verb::Auth => self.auth(&words, out),
            Verb::Stls => self.stls(out),
            Verb::Stat => self.stat(out),
            Verb::List => self.list(words.first().copied(), out),
            Verb::Uidl => self.uidl(words.first().copied(), out),
            Verb::Retr => self.retr(arg(0), out),
            Verb::Top => self.top(arg(0), arg(1), out),
            Verb::Dele => self.dele(arg(0), out),
            Verb::Rset => self.rset(out),
        }
    }

    /// The AUTHORIZATION state's data after a command that changed nothing.
    pub(crate) fn reset_authorization(&mut self) {
        self.state = State::Authorization(Auth::Ready { user: None });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(message_number("1"), Some(1));
        assert_eq!(message_number("007"), Some(7));
        assert_eq!(message_number("-1"), None);
        assert_eq!(message_number("1x"), None);
        assert_eq!(message_number("99999999999"), None);
        assert_eq!(message_number(""), None);
    }

    #[test]
    fn table_is_consistent() {
        for (name, ..) in COMMANDS {
            assert!(name.len() <= 4 && name.bytes().all(|b| b.is_ascii_uppercase()));
            assert_eq!(lookup(&name.to_ascii_lowercase()).map(|c| c.0), Some(*name));
        }
    }
}
