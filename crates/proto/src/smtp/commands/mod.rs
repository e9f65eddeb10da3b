//! Command dispatch: check the line, parse it with `smtp-proto`, check that the command is
//! legal now (one table, [`sequence_error`]), then hand it to its file.
//!
//! Each command follows *check → ask → proceed* (OpenSMTPD's shape): the handler checks
//! syntax and state, asks the driver when policy is involved (sender, recipient, credentials),
//! and proceeds when the answer comes back through the `*_verdict` method next to it.

mod auth;
mod bdat;
mod data;
mod hello;
mod mail;
mod misc;
mod rcpt;
mod starttls;

use std::borrow::Cow;

use smtp_proto::{Error as ParseError, Request};

use super::action::Action;
use super::config::Mode;
use super::reply::Reply;
use super::session::{Session, State};

/// The phases that decide which commands are legal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No HELO/EHLO/LHLO yet.
    Fresh,
    /// Greeted, no transaction.
    Greeted,
    /// MAIL accepted.
    Mail,
    /// BDAT chunks under way.
    Chunking,
}

/// Which commands are legal in which phase and mode, declared once (STYLE.md §3). `None`:
/// go ahead; `Some(reply)`: refuse with it. Checks that need more than the phase (no
/// recipients, AUTH not offered, already authenticated) stay with their command.
pub(crate) fn sequence_error(request: &Request<Cow<'_, str>>, phase: Phase, mode: Mode) -> Option<Reply> {
    use Phase::{Chunking, Fresh, Greeted, Mail};
    // RFC 5321 §4.1.4 / RFC 3463 X.5.1: out-of-sequence commands get 503 5.5.1.
    let bad = |text: &str| Some(Reply::new(503, "5.5.1", text));
    match (request, phase) {
        // RFC 2033 §4.1: LMTP greets with LHLO; HELO and EHLO are not LMTP commands.
        (Request::Helo { .. } | Request::Ehlo { .. }, _) if mode == Mode::Lmtp => {
            Some(Reply::new(500, "5.5.1", "Unknown command: use LHLO"))
        }
        (Request::Lhlo { .. }, _) if mode != Mode::Lmtp => Some(Reply::new(500, "5.5.1", "Unknown command")),
        // RFC 5321 §4.1.4: MAIL needs a greeting and no transaction under way.
        (Request::Mail { .. }, Fresh) => bad("Send HELO/EHLO first"),
        (Request::Mail { .. }, Mail | Chunking) => bad("Nested MAIL command"),
        // RFC 5321 §4.1.4: RCPT, DATA and BDAT need MAIL first.
        (Request::Rcpt { .. } | Request::Data | Request::Bdat { .. }, Fresh | Greeted) => {
            bad("Need MAIL command")
        }
        // RFC 3030 §3: once BDAT has begun, the message goes on with BDAT only.
        (Request::Rcpt { .. }, Chunking) => bad("RCPT not allowed after BDAT"),
        (Request::Data, Chunking) => bad("DATA not allowed after BDAT"),
        // RFC 4954 §4: AUTH comes after EHLO and not during a mail transaction.
        (Request::Auth { .. }, Fresh) => bad("Send EHLO first"),
        (Request::Auth { .. }, Mail | Chunking) => bad("AUTH not allowed during a mail transaction"),
        // RFC 3207 §4.2 would silently drop the transaction; refuse instead.
        (Request::StartTls, Mail | Chunking) => bad("STARTTLS not allowed during a mail transaction"),
        _ => None,
    }
}

/// The reply for a line `smtp-proto` could not parse.
fn parse_error(error: ParseError) -> Reply {
    match error {
        // RFC 5321 §4.2.4: 500 for an unrecognised command.
        ParseError::UnknownCommand => Reply::new(500, "5.5.1", "Unknown command"),
        // RFC 3463 X.1.7 / X.1.3: bad sender / destination mailbox address syntax.
        ParseError::InvalidSenderAddress => Reply::new(501, "5.1.7", "Bad sender address syntax"),
        ParseError::InvalidRecipientAddress => Reply::new(501, "5.1.3", "Bad recipient address syntax"),
        ParseError::SyntaxError { syntax } => Reply::new(501, "5.5.2", format!("Syntax: {syntax}")),
        // RFC 3463 X.5.4: invalid command arguments.
        ParseError::InvalidParameter { param } => {
            Reply::new(501, "5.5.4", format!("Invalid {param} parameter"))
        }
        // RFC 5321 §4.1.1.11: 555 for an unrecognised MAIL/RCPT parameter.
        ParseError::UnsupportedParameter { param } => {
            Reply::new(555, "5.5.4", format!("{param} parameter not supported"))
        }
        ParseError::NeedsMoreData { .. }
        | ParseError::ResponseTooLong
        | ParseError::InvalidResponse { .. } => Reply::new(501, "5.5.2", "Syntax error"),
    }
}

/// Whether a command line has text after the verb (for commands that take none).
fn has_argument(line: &str) -> bool {
    line.trim().split_once(|c: char| c.is_ascii_whitespace()).is_some_and(|(_, rest)| !rest.trim().is_empty())
}

/// The text between `<` and `>` of a MAIL FROM / RCPT TO line, trimmed.
fn raw_path(line: &str) -> Option<&str> {
    let start = line.find('<')?;
    let end = start + line.get(start..)?.find('>')?;
    line.get(start + 1..end).map(str::trim)
}

impl Session {
    /// The phase the legality table looks at.
    fn phase(&self) -> Phase {
        match &self.state {
            State::Mail(_) => Phase::Mail,
            State::Chunking { .. } => Phase::Chunking,
            _ if self.helo.is_none() => Phase::Fresh,
            _ => Phase::Greeted,
        }
    }

    /// Handles one complete command line (LF included).
    pub(crate) fn command(&mut self, line: &[u8], out: &mut Vec<Action>) {
        // RFC 5321 §4.1.1 / RFC 6531 §3.3: commands are ASCII or UTF-8 text; NUL never.
        let text = match std::str::from_utf8(line) {
            Ok(text) if !text.contains('\0') => text,
            _ => return self.send(out, Reply::new(500, "5.5.2", "Invalid characters in command")),
        };
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request,
            Err(error) => return self.send(out, parse_error(error)),
        };
        if let Some(reply) = sequence_error(&request, self.phase(), self.config.mode) {
            return match request {
                // RFC 3030 §2: a refused chunk is still read, or its octets become commands.
                Request::Bdat { chunk_size, .. } => self.skip_chunk(chunk_size, reply, out),
                _ => self.send(out, reply),
            };
        }
        match request {
            Request::Ehlo { host } | Request::Lhlo { host } => self.ehlo(&host, out),
            Request::Helo { host } => self.helo_command(&host, out),
            Request::Mail { from } => self.mail(&from, text, out),
            Request::Rcpt { to } => self.rcpt(&to, text, out),
            Request::Data => self.data(text, out),
            Request::Bdat { chunk_size, is_last } => self.bdat(chunk_size, is_last, out),
            Request::Auth { mechanism, initial_response } => self.auth(mechanism, &initial_response, out),
            Request::StartTls => self.starttls(text, out),
            Request::Rset => self.rset(out),
            Request::Noop { .. } => self.noop(out),
            Request::Quit => self.quit(out),
            Request::Vrfy { value } => self.vrfy(&value, out),
            Request::Help { .. } => self.help(out),
            Request::Expn { .. } => self.not_implemented("EXPN", out),
            Request::Etrn { .. } => self.not_implemented("ETRN", out),
            Request::Atrn { .. } => self.not_implemented("ATRN", out),
            Request::Burl { .. } => self.not_implemented("BURL", out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_detection() {
        assert!(!has_argument("DATA\r\n"));
        assert!(!has_argument("DATA  \r\n"));
        assert!(has_argument("STARTTLS now\r\n"));
    }

    #[test]
    fn raw_paths() {
        assert_eq!(raw_path("MAIL FROM:<>\r\n"), Some(""));
        assert_eq!(raw_path("RCPT TO:< Postmaster >\r\n"), Some("Postmaster"));
        assert_eq!(raw_path("RCPT TO:x\r\n"), None);
    }
}
