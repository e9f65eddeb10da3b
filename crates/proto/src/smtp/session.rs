//! The session: its state, the input loop, and the entry points that are not a command's.
//!
//! The per-command logic (and the answer methods that belong to a command, such as
//! [`Session::sender_verdict`] for MAIL) lives in `commands/`, one file per command.

use std::fmt;

use super::action::Action;
use super::body::BodySink;
use super::config::Mode;
use super::config::SessionConfig;
use super::data::DataReader;
use super::envelope::{Envelope, MailParams, Recipient};
use super::reply::Reply;
use crate::line::{Framed, LineReader};
use mailstead_types::Address;

/// Input kept while the session waits for an answer, beyond which it gives up (see
/// [`Session::feed`]). A driver that stops reading while it answers never comes near it.
const MAX_PENDING_INPUT: usize = 1024 * 1024;

/// Where the conversation is. Each variant carries the data that exists only there.
#[derive(Default)]
pub(crate) enum State {
    /// No mail transaction: before or after HELO (see `Session::helo`).
    #[default]
    Idle,
    /// MAIL accepted; RCPT commands add recipients.
    Mail(Envelope),
    /// After `354`: reading the message up to CRLF.CRLF.
    Data { envelope: Envelope, reader: DataReader, body: BodySink },
    /// Reading the `size` octets of an accepted BDAT chunk (RFC 3030); `left` still to come.
    Chunk { envelope: Envelope, body: BodySink, size: usize, left: usize, last: bool },
    /// Between BDAT chunks: only BDAT, RSET, NOOP, QUIT ... may follow.
    Chunking { envelope: Envelope, body: BodySink },
    /// Reading and dropping the octets of a refused BDAT chunk, then replying `reply` and
    /// returning to `then` (RFC 3030 §2: the octets are read whatever the reply).
    SkipChunk { left: usize, reply: Reply, then: Box<State> },
    /// AUTH sent a `334` challenge; the next line is the client's SASL response.
    Sasl(crate::sasl::SaslStep),
    /// Asked the driver about the sender (`Action::CheckSender`).
    AwaitSender { sender: Option<Address>, params: MailParams },
    /// Asked the driver about a recipient (`Action::CheckRecipient`).
    AwaitRecipient { envelope: Envelope, recipient: Recipient },
    /// Asked the driver to check credentials (`Action::Authenticate`).
    AwaitAuth,
    /// Handed the message over (`Action::Deliver`); waiting for `message_done`.
    AwaitMessage { envelope: Envelope },
    /// Sent `220 2.0.0` and `Action::StartTls`; waiting for `tls_started`.
    AwaitTls,
}

impl State {
    /// The variant's name, for `Debug` (which must not dump message bytes or credentials).
    fn name(&self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Mail(_) => "Mail",
            State::Data { .. } => "Data",
            State::Chunk { .. } => "Chunk",
            State::Chunking { .. } => "Chunking",
            State::SkipChunk { .. } => "SkipChunk",
            State::Sasl(_) => "Sasl",
            State::AwaitSender { .. } => "AwaitSender",
            State::AwaitRecipient { .. } => "AwaitRecipient",
            State::AwaitAuth => "AwaitAuth",
            State::AwaitMessage { .. } => "AwaitMessage",
            State::AwaitTls => "AwaitTls",
        }
    }

    /// Waiting for the driver: no input is processed.
    fn is_waiting(&self) -> bool {
        matches!(
            self,
            State::AwaitSender { .. }
                | State::AwaitRecipient { .. }
                | State::AwaitAuth
                | State::AwaitMessage { .. }
                | State::AwaitTls
        )
    }

    /// Between commands and not inside a message: a shutdown may close the session now.
    fn may_close_for_shutdown(&self) -> bool {
        matches!(self, State::Idle | State::Mail(_) | State::Sasl(_))
    }
}

/// An SMTP, submission or LMTP server session (sans-I/O).
///
/// Feed it the bytes read from the client with [`Session::feed`] and carry out the returned
/// [`Action`]s in order; answer its questions with the matching methods. It never panics on
/// input, and its memory is bounded by the line length and message size limits.
pub struct Session {
    pub(crate) config: SessionConfig,
    pub(crate) state: State,
    /// The HELO/EHLO/LHLO argument; `None` before it (and after STARTTLS).
    pub(crate) helo: Option<String>,
    /// The account that authenticated, if any.
    pub(crate) auth_user: Option<String>,
    pub(crate) lines: LineReader,
    /// Input not processed yet because the session waits for an answer.
    input: Vec<u8>,
    errors: usize,
    shutting_down: bool,
    pub(crate) closed: bool,
}

impl fmt::Debug for Session {
    /// A summary: never the buffered input, message bytes or SASL exchange (they may hold
    /// credentials, DESIGN.md security model).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("mode", &self.config.mode)
            .field("state", &self.state.name())
            .field("helo", &self.helo)
            .field("auth_user", &self.auth_user)
            .field("errors", &self.errors)
            .field("buffered", &self.buffered_len())
            .field("closed", &self.closed)
            .finish()
    }
}

impl Session {
    /// A session for a connection that was just accepted.
    pub fn new(config: SessionConfig) -> Session {
        Session {
            config,
            state: State::Idle,
            helo: None,
            auth_user: None,
            lines: LineReader::default(),
            input: Vec::new(),
            errors: 0,
            shutting_down: false,
            closed: false,
        }
    }

    /// The greeting to send when the connection opens (RFC 5321 §4.2, §3.1).
    pub fn greeting(&self) -> Reply {
        let protocol = if self.config.mode == Mode::Lmtp { "LMTP" } else { "ESMTP" };
        Reply::plain(220, format!("{} {protocol} Mailstead", self.config.hostname))
    }

    /// The client talked before the greeting (a spam-bot habit the driver detects by waiting
    /// a moment before greeting): refuse and close. RFC 5321 §3.1 / §4.3.2: 554.
    pub fn early_talker(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        out.push(Action::Reply(Reply::new(
            554,
            "5.5.0",
            format!("{} Protocol error: client sent data before the greeting", self.config.hostname),
        )));
        self.close(&mut out);
        out
    }

    /// Feeds bytes read from the client; returns what to do.
    ///
    /// Everything that can be processed is processed; the rest (input after a question to
    /// the driver, e.g. pipelined commands after MAIL) is kept and processed when the answer
    /// arrives. Plaintext after STARTTLS is discarded. If more than 1 MiB (plus one line)
    /// piles up while the session waits, it replies `421 4.7.0` and closes: drivers should
    /// answer before reading more, as a sequential read/execute loop does naturally.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed || matches!(self.state, State::AwaitTls) {
            return out;
        }
        if self.input.is_empty() {
            // Common case: work straight from the caller's buffer, copy only a remainder.
            let used = self.run(bytes, &mut out);
            if !self.closed {
                self.input.extend_from_slice(bytes.get(used..).unwrap_or_default());
            }
        } else {
            self.input.extend_from_slice(bytes);
            self.resume(&mut out);
        }
        if self.input.len() > MAX_PENDING_INPUT + self.config.max_line_length {
            out.push(Action::Reply(Reply::new(
                421,
                "4.7.0",
                format!("{} Error: too much pipelined input", self.config.hostname),
            )));
            self.close(&mut out);
        }
        out
    }

    /// The driver's idle timer fired: `421 4.4.2` and close (RFC 5321 §4.5.3.2, §3.8).
    pub fn timeout(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        out.push(Action::Reply(Reply::new(
            421,
            "4.4.2",
            format!("{} Error: timeout exceeded", self.config.hostname),
        )));
        self.close(&mut out);
        out
    }

    /// The server is stopping. Between transactions (or before DATA): `421 4.3.2` and close
    /// now (RFC 5321 §3.8). Inside a message (DATA, BDAT, delivery): nothing now; the session
    /// closes with `421 4.3.2` right after the transaction's final reply.
    pub fn shutdown(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.shutting_down = true;
        self.close_if_shutting_down(&mut out);
        out
    }

    /// The envelope of the transaction under way, if any.
    pub fn envelope(&self) -> Option<&Envelope> {
        match &self.state {
            State::Mail(envelope)
            | State::Data { envelope, .. }
            | State::Chunk { envelope, .. }
            | State::Chunking { envelope, .. }
            | State::AwaitRecipient { envelope, .. }
            | State::AwaitMessage { envelope } => Some(envelope),
            _ => None,
        }
    }

    /// The client's HELO/EHLO/LHLO argument, once given.
    pub fn helo(&self) -> Option<&str> {
        self.helo.as_deref()
    }

    /// The account that authenticated with AUTH, if any.
    pub fn auth_user(&self) -> Option<&str> {
        self.auth_user.as_deref()
    }

    /// The configuration in force (`tls_active`, `auth_offered` change after STARTTLS).
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether the session waits for an answer (or `tls_started`) before using more input.
    pub fn is_waiting(&self) -> bool {
        self.state.is_waiting()
    }

    /// Whether the session has closed (an `Action::Close` was returned).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Octets of client data held in memory: pending input, a partial command line, and the
    /// message being received. For metrics and memory accounting.
    pub fn buffered_len(&self) -> usize {
        let body = match &self.state {
            State::Data { body, .. } | State::Chunk { body, .. } | State::Chunking { body, .. } => {
                body.buffered()
            }
            _ => 0,
        };
        self.input.len() + self.lines.buffered() + body
    }

    /// Sends a reply; an error reply (4xx/5xx) counts towards `max_errors`, and reaching it
    /// closes the session with `421 4.7.0`. A 421 reply (from the driver too) closes the
    /// session: RFC 5321 §3.8, 421 means the server closes the channel.
    pub(crate) fn send(&mut self, out: &mut Vec<Action>, reply: Reply) {
        let error = reply.is_error();
        let closing = reply.code == 421;
        out.push(Action::Reply(reply));
        if closing {
            return self.close(out);
        }
        if error && !self.closed {
            self.errors += 1;
            if self.errors >= self.config.max_errors.max(1) {
                // RFC 5321 §3.8: the server may close with 421 when it must.
                out.push(Action::Reply(Reply::new(
                    421,
                    "4.7.0",
                    format!("{} Error: too many errors", self.config.hostname),
                )));
                self.close(out);
            }
        }
    }

    /// Ends the session: `Action::Close`, and nothing more is read.
    pub(crate) fn close(&mut self, out: &mut Vec<Action>) {
        if !self.closed {
            out.push(Action::Close);
            self.closed = true;
        }
        self.state = State::Idle;
        self.input = Vec::new();
        self.lines.clear();
    }

    /// After an answer from the driver: process the input that waited, then return.
    pub(crate) fn proceed(&mut self, mut out: Vec<Action>) -> Vec<Action> {
        self.resume(&mut out);
        self.close_if_shutting_down(&mut out);
        out
    }

    /// Forgets everything read in plaintext (STARTTLS, RFC 3207 §4.2; CVE-2011-0411).
    pub(crate) fn discard_input(&mut self) {
        self.input = Vec::new();
        self.lines.clear();
    }

    fn close_if_shutting_down(&mut self, out: &mut Vec<Action>) {
        if self.shutting_down && !self.closed && self.state.may_close_for_shutdown() {
            // RFC 5321 §3.8: 421 when the service must shut down.
            out.push(Action::Reply(Reply::new(
                421,
                "4.3.2",
                format!("{} Service shutting down, try again later", self.config.hostname),
            )));
            self.close(out);
        }
    }

    /// Processes the pending input.
    fn resume(&mut self, out: &mut Vec<Action>) {
        let input = std::mem::take(&mut self.input);
        let used = self.run(&input, out);
        if !self.closed && !matches!(self.state, State::AwaitTls) {
            self.input = input;
            self.input.drain(..used.min(self.input.len()));
        }
    }

    /// The input loop: hands `input` to the reader of the current state until it is used up
    /// or the session must wait. Returns how many octets were consumed.
    fn run(&mut self, input: &[u8], out: &mut Vec<Action>) -> usize {
        let mut pos = 0;
        loop {
            self.close_if_shutting_down(out);
            if self.closed || matches!(self.state, State::AwaitTls) {
                // After STARTTLS nothing read in plaintext may be used (CVE-2011-0411).
                return input.len();
            }
            let rest = input.get(pos..).unwrap_or_default();
            if self.state.is_waiting() || rest.is_empty() {
                return pos;
            }
            let used = match self.state {
                State::Data { .. } => self.step_data(rest, out),
                State::Chunk { .. } | State::SkipChunk { .. } => self.step_chunk(rest, out),
                _ => self.step_line(rest, out),
            };
            if used == 0 {
                return pos; // no progress possible (not expected)
            }
            pos += used;
        }
    }

    /// Reads one command line (or SASL response) and acts on it.
    fn step_line(&mut self, rest: &[u8], out: &mut Vec<Action>) -> usize {
        let (used, framed) = self.lines.take(rest, self.config.max_line_length);
        match framed {
            Framed::Line(line) => {
                if matches!(self.state, State::Sasl(_)) {
                    self.sasl_response(&line, out);
                } else {
                    self.command(&line, out);
                }
            }
            Framed::TooLong => {
                if matches!(self.state, State::Sasl(_)) {
                    self.state = State::Idle; // the AUTH exchange is abandoned
                }
                // RFC 5321 §4.5.3.1.4 / §4.2.4: 500 "Line too long".
                self.send(out, Reply::new(500, "5.5.2", "Line too long"));
            }
            Framed::Incomplete => {}
        }
        used
    }

    /// A fresh message body with this session's limits.
    pub(crate) fn new_body(&self) -> BodySink {
        BodySink::new(self.config.max_message_size, self.config.max_received_headers)
    }

    /// Starts reading DATA for this envelope.
    pub(crate) fn start_data(&mut self, envelope: Envelope) {
        let body = self.new_body();
        self.state = State::Data { envelope, reader: DataReader::new(), body };
    }
}
