//! BDAT (RFC 3030 CHUNKING): the message in chunks of exact octet counts, no dot-stuffing.
//!
//! The octets of every chunk are read, even when the command is refused (no transaction,
//! no recipient, message too big): otherwise they would be taken for commands. A chunk that
//! breaks a limit ends the transaction with that limit's reply; a refused BDAT LAST in LMTP
//! still gets one reply per recipient.

use crate::smtp::action::Action;
use crate::smtp::body::BodySink;
use crate::smtp::envelope::Envelope;
use crate::smtp::reply::Reply;
use crate::smtp::session::{Session, State};

impl Session {
    /// BDAT in the `Mail` or `Chunking` phase (the sequence table refused the others).
    pub(crate) fn bdat(&mut self, size: usize, last: bool, out: &mut Vec<Action>) {
        match std::mem::take(&mut self.state) {
            State::Mail(envelope) if envelope.recipients.is_empty() => {
                self.state = State::Mail(envelope);
                // RFC 3030 §2 with RFC 5321 §3.3: no valid recipients.
                self.skip_chunk(size, Reply::new(554, "5.5.1", "No valid recipients"), out);
            }
            State::Mail(envelope) => {
                let body = self.new_body();
                self.start_chunk(envelope, body, size, last, out);
            }
            State::Chunking { envelope, body } => self.start_chunk(envelope, body, size, last, out),
            other => self.state = other,
        }
    }

    /// Reads `size` octets into the message.
    fn start_chunk(
        &mut self,
        envelope: Envelope,
        body: BodySink,
        size: usize,
        last: bool,
        out: &mut Vec<Action>,
    ) {
        self.state = State::Chunk { envelope, body, size, left: size, last };
        if size == 0 {
            self.chunk_complete(out); // RFC 3030 §2: `BDAT 0 LAST` ends the message
        }
    }

    /// Reads and drops `size` octets, then replies `reply`, keeping the current state.
    pub(crate) fn skip_chunk(&mut self, size: usize, reply: Reply, out: &mut Vec<Action>) {
        let then = Box::new(std::mem::take(&mut self.state));
        self.state = State::SkipChunk { left: size, reply, then };
        if size == 0 {
            self.chunk_complete(out);
        }
    }

    /// Takes chunk octets from `rest`; returns how many were consumed.
    pub(crate) fn step_chunk(&mut self, rest: &[u8], out: &mut Vec<Action>) -> usize {
        let (used, left) = match &mut self.state {
            State::Chunk { body, left, .. } => {
                let n = rest.len().min(*left);
                body.push(rest.get(..n).unwrap_or_default());
                *left -= n;
                (n, *left)
            }
            State::SkipChunk { left, .. } => {
                let n = rest.len().min(*left);
                *left -= n;
                (n, *left)
            }
            _ => return 0,
        };
        if left == 0 {
            self.chunk_complete(out);
        }
        used
    }

    /// A chunk has been read completely.
    fn chunk_complete(&mut self, out: &mut Vec<Action>) {
        match std::mem::take(&mut self.state) {
            State::Chunk { envelope, body, size, last, .. } => {
                if last {
                    return self.end_of_message(envelope, body, out);
                }
                if let Some(failure) = body.failure() {
                    self.state = State::Idle;
                    return self.send(out, failure.reply());
                }
                self.state = State::Chunking { envelope, body };
                // RFC 3030 §4.2 example: "250 2.0.0 <n> octets received".
                self.send(out, Reply::new(250, "2.0.0", format!("{size} octets received")));
            }
            State::SkipChunk { reply, then, .. } => {
                self.state = *then;
                self.send(out, reply);
            }
            other => self.state = other,
        }
    }
}
