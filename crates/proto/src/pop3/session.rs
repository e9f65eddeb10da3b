//! The session: its state, the input loop, and the entry points that are not a command's.
//!
//! The per-command logic (and the answer methods that belong to a command, such as
//! [`Session::auth_verdict`] for USER/PASS/AUTH) lives in `commands/`.

use std::fmt;

use super::action::Action;
use super::config::SessionConfig;
use super::maildrop::Marks;
use super::reply::{Reply, RespCode};
use crate::line::{Framed, LineReader};

/// Input kept while the session waits for an answer, beyond which it gives up (see
/// [`Session::feed`]). A driver that stops reading while it answers never comes near it.
const MAX_PENDING_INPUT: usize = 1024 * 1024;

/// Where the conversation is (RFC 1939 §3). Each variant carries the data that exists only
/// there: a maildrop exists only in TRANSACTION.
pub(crate) enum State {
    /// AUTHORIZATION: the client identifies itself.
    Authorization(Auth),
    /// TRANSACTION: logged in, the maildrop locked and numbered.
    Transaction(Box<Transaction>),
    /// UPDATE: QUIT received in TRANSACTION; waiting for the driver to apply the deletions.
    Update,
}

/// The steps of the AUTHORIZATION state.
pub(crate) enum Auth {
    /// Waiting for a command; `user` is the name given by a successful USER (RFC 1939 §7).
    Ready {
        /// The USER argument, which PASS completes.
        user: Option<String>,
    },
    /// AUTH sent a `+ ` challenge; the next line is the client's SASL response (RFC 5034 §4).
    Sasl(crate::sasl::SaslStep),
    /// Asked the driver to check credentials (`Action::Authenticate`).
    AwaitVerdict,
    /// Sent `+OK` to STLS and `Action::StartTls`; waiting for `tls_started`.
    AwaitTls,
}

/// The TRANSACTION state's data.
pub(crate) struct Transaction {
    /// The account that logged in.
    pub user: String,
    /// The maildrop and the session's deletion/retrieval marks.
    pub marks: Marks,
    /// A RETR or TOP waiting for the message bytes (`Action::Fetch`).
    pub fetching: Option<Fetching>,
}

/// What to send once a fetched message arrives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fetching {
    /// The message number.
    pub number: usize,
    /// `None`: RETR; `Some(n)`: TOP with `n` body lines.
    pub top: Option<usize>,
}

impl State {
    /// The state's name, for `Debug` (which must not dump credentials).
    fn name(&self) -> &'static str {
        match self {
            State::Authorization(Auth::Ready { .. }) => "Authorization",
            State::Authorization(Auth::Sasl(_)) => "Authorization/Sasl",
            State::Authorization(Auth::AwaitVerdict) => "Authorization/AwaitVerdict",
            State::Authorization(Auth::AwaitTls) => "Authorization/AwaitTls",
            State::Transaction(t) if t.fetching.is_some() => "Transaction/Fetching",
            State::Transaction(_) => "Transaction",
            State::Update => "Update",
        }
    }

    /// Waiting for the driver: no input is processed.
    fn is_waiting(&self) -> bool {
        match self {
            State::Authorization(Auth::AwaitVerdict | Auth::AwaitTls) | State::Update => true,
            State::Transaction(t) => t.fetching.is_some(),
            State::Authorization(_) => false,
        }
    }
}

/// A POP3 server session (sans-I/O).
///
/// Feed it the bytes read from the client with [`Session::feed`] and carry out the returned
/// [`Action`]s in order; answer its questions with the matching methods. It never panics on
/// input, and its memory is bounded by the line length limit plus 1 MiB of pipelined input.
pub struct Session {
    pub(crate) config: SessionConfig,
    pub(crate) state: State,
    pub(crate) lines: LineReader,
    /// Input not processed yet because the session waits for an answer.
    input: Vec<u8>,
    errors: usize,
    shutting_down: bool,
    pub(crate) closed: bool,
}

impl fmt::Debug for Session {
    /// A summary: never the buffered input or the SASL exchange (they may hold passwords).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state.name())
            .field("user", &self.user())
            .field("errors", &self.errors)
            .field("buffered", &self.buffered_len())
            .field("closed", &self.closed)
            .finish()
    }
}

impl Session {
    /// A session for a connection that was just accepted: the AUTHORIZATION state.
    pub fn new(config: SessionConfig) -> Session {
        Session {
            config,
            state: State::Authorization(Auth::Ready { user: None }),
            lines: LineReader::default(),
            input: Vec::new(),
            errors: 0,
            shutting_down: false,
            closed: false,
        }
    }

    /// The greeting (RFC 1939 §4). No APOP timestamp: APOP needs passwords stored in the clear.
    pub fn greeting(&self) -> Reply {
        Reply::ok(format!("{} Mailstead POP3 server ready", self.config.hostname))
    }

    /// Feeds bytes read from the client; returns what to do.
    ///
    /// Everything that can be processed is processed; the rest (input after a question to
    /// the driver) is kept and processed when the answer arrives (RFC 2449 §6.6 PIPELINING).
    /// Input after STLS is discarded. If more than 1 MiB (plus one line) piles up while the
    /// session waits, it answers `-ERR [SYS/TEMP]` and closes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed || matches!(self.state, State::Authorization(Auth::AwaitTls)) {
            return out;
        }
        if self.input.is_empty() {
            let used = self.run(bytes, &mut out);
            if !self.closed {
                self.input.extend_from_slice(bytes.get(used..).unwrap_or_default());
            }
        } else {
            self.input.extend_from_slice(bytes);
            self.resume(&mut out);
        }
        if self.input.len() > MAX_PENDING_INPUT + self.config.max_line_length {
            out.push(Action::Reply(Reply::err_code(RespCode::SysTemp, "Too much pipelined input")));
            self.close(&mut out);
        }
        out
    }

    /// The driver's idle timer fired. RFC 1939 §3: when the autologout timer expires the
    /// server closes the connection "without removing any messages or sending any response",
    /// so this is a bare `Action::Close` and UPDATE is never entered.
    pub fn timeout(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.close(&mut out);
        out
    }

    /// The server is stopping. Between commands: `-ERR [SYS/TEMP]` and close now, without
    /// entering UPDATE (nothing is deleted). While a QUIT is being applied or a message read,
    /// the session closes after that answer.
    pub fn shutdown(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.shutting_down = true;
        self.close_if_shutting_down(&mut out);
        out
    }

    /// The account that logged in, once in TRANSACTION.
    pub fn user(&self) -> Option<&str> {
        match &self.state {
            State::Transaction(t) => Some(&t.user),
            _ => None,
        }
    }

    /// The configuration in force (`tls_active` changes after STLS).
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether the session waits for an answer (or `tls_started`) before using more input.
    pub fn is_waiting(&self) -> bool {
        self.state.is_waiting()
    }

    /// Whether the session is in the TRANSACTION state (logged in, maildrop locked).
    pub fn in_transaction(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    /// Whether the session has closed (an `Action::Close` was returned).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Octets of client data held in memory: pending input and a partial command line.
    pub fn buffered_len(&self) -> usize {
        self.input.len() + self.lines.buffered()
    }

    /// Sends a reply that does not count as a client error whatever it says: answers about
    /// the maildrop's content ("no such message", "already deleted", a fetch that failed),
    /// which a well-behaved client can get.
    pub(crate) fn answer(&mut self, out: &mut Vec<Action>, reply: Reply) {
        out.push(Action::Reply(reply));
    }

    /// Sends a reply; an error reply (a protocol error: unknown command, wrong state, bad
    /// syntax, refused credentials) counts towards `max_errors`, and reaching it closes the
    /// session.
    pub(crate) fn send(&mut self, out: &mut Vec<Action>, reply: Reply) {
        let error = reply.is_error();
        out.push(Action::Reply(reply));
        if error && !self.closed {
            self.errors += 1;
            if self.errors >= self.config.max_errors.max(1) {
                out.push(Action::Reply(Reply::err("Too many errors, closing connection")));
                self.close(out);
            }
        }
    }

    /// Ends the session: `Action::Close`, and nothing more is read. Never enters UPDATE.
    pub(crate) fn close(&mut self, out: &mut Vec<Action>) {
        if !self.closed {
            out.push(Action::Close);
            self.closed = true;
            self.input = Vec::new();
            self.lines.clear();
        }
    }

    /// Forgets everything read but not executed (STLS: nothing from before TLS may count).
    pub(crate) fn discard_input(&mut self) {
        self.input = Vec::new();
        self.lines.clear();
    }

    /// After an answer from the driver: process input that waited, then a pending shutdown.
    pub(crate) fn proceed(&mut self, mut out: Vec<Action>) -> Vec<Action> {
        if !self.closed {
            self.resume(&mut out);
        }
        self.close_if_shutting_down(&mut out);
        out
    }

    fn close_if_shutting_down(&mut self, out: &mut Vec<Action>) {
        if self.shutting_down && !self.closed && !self.state.is_waiting() {
            out.push(Action::Reply(Reply::err_code(
                RespCode::SysTemp,
                "Server shutting down, try again later",
            )));
            self.close(out);
        }
    }

    fn resume(&mut self, out: &mut Vec<Action>) {
        let input = std::mem::take(&mut self.input);
        let used = self.run(&input, out);
        if !self.closed {
            let mut rest = input;
            rest.drain(..used.min(rest.len()));
            self.input = rest;
        }
    }

    /// Processes complete lines from `input` until it is used up or the session must wait;
    /// returns how many octets were used.
    fn run(&mut self, input: &[u8], out: &mut Vec<Action>) -> usize {
        let mut used = 0;
        while used < input.len() && !self.closed && !self.state.is_waiting() {
            let (n, framed) = self.lines.take(&input[used..], self.config.max_line_length);
            used += n;
            match framed {
                Framed::Incomplete => break,
                // RFC 2449 §4: commands are limited in length; longer lines are refused whole.
                Framed::TooLong => {
                    if matches!(self.state, State::Authorization(Auth::Sasl(_))) {
                        self.state = State::Authorization(Auth::Ready { user: None });
                    }
                    self.send(out, Reply::err("Line too long"));
                }
                Framed::Line(line) => {
                    if matches!(self.state, State::Authorization(Auth::Sasl(_))) {
                        self.sasl_response(&line, out);
                    } else {
                        self.command(&line, out);
                    }
                }
            }
            if self.state.is_waiting() {
                break;
            }
        }
        used
    }
}
