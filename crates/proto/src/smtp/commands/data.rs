//! DATA (RFC 5321 §4.1.1.4) and the end of a message, shared with BDAT LAST: hand the
//! message to the driver, then relay its reply (or, in LMTP, one reply per recipient).

use super::has_argument;
use crate::smtp::action::Action;
use crate::smtp::body::BodySink;
use crate::smtp::config::Mode;
use crate::smtp::envelope::Envelope;
use crate::smtp::reply::Reply;
use crate::smtp::session::{Session, State};

impl Session {
    /// DATA: `354`, then the message is read by `step_data`.
    pub(crate) fn data(&mut self, line: &str, out: &mut Vec<Action>) {
        if has_argument(line) {
            // RFC 5321 §4.1.1.4: DATA takes no argument.
            return self.send(out, Reply::new(501, "5.5.4", "Syntax: DATA"));
        }
        let envelope = match std::mem::take(&mut self.state) {
            State::Mail(envelope) if !envelope.recipients.is_empty() => envelope,
            other => {
                self.state = other;
                // RFC 5321 §3.3: DATA without a valid recipient gets 554 "no valid recipients".
                return self.send(out, Reply::new(554, "5.5.1", "No valid recipients"));
            }
        };
        self.start_data(envelope);
        // RFC 5321 §4.1.1.4 / RFC 2034 §3: 354 carries no enhanced status code.
        self.send(out, Reply::plain(354, "Start mail input; end with <CRLF>.<CRLF>"));
    }

    /// Reads message octets in the DATA state; returns how many were consumed.
    pub(crate) fn step_data(&mut self, rest: &[u8], out: &mut Vec<Action>) -> usize {
        let State::Data { reader, body, .. } = &mut self.state else {
            return 0;
        };
        let (used, done) = reader.feed(rest, body);
        if done && let State::Data { envelope, body, .. } = std::mem::take(&mut self.state) {
            self.end_of_message(envelope, body, out);
        }
        used
    }

    /// The whole message is in: deliver it, or refuse it for the limit it broke.
    pub(crate) fn end_of_message(&mut self, envelope: Envelope, body: BodySink, out: &mut Vec<Action>) {
        match body.finish() {
            Ok(message) => {
                self.state = State::AwaitMessage { envelope: envelope.clone() };
                out.push(Action::Deliver { envelope, message });
            }
            Err(failure) => {
                // RFC 5321 §4.1.1.4: the transaction ends either way; the greeting stays.
                self.state = State::Idle;
                let reply = failure.reply();
                if self.config.mode == Mode::Lmtp {
                    // RFC 2033 §4.2: one reply per accepted recipient.
                    for _ in 1..envelope.recipients.len() {
                        out.push(Action::Reply(reply.clone()));
                    }
                }
                self.send(out, reply);
            }
        }
    }

    /// The driver's answer to [`Action::Deliver`]: the reply to send (SMTP, submission), or one
    /// reply per recipient in envelope order (LMTP, RFC 2033 §4.2). Missing replies become
    /// `451 4.3.0`, extra ones are dropped. The transaction is then over (the greeting and
    /// AUTH stay), and input that waited (pipelined commands) is processed. A `421` reply
    /// closes the session after the replies (RFC 5321 §3.8).
    pub fn message_done(&mut self, replies: Vec<Reply>) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        let envelope = match std::mem::take(&mut self.state) {
            State::AwaitMessage { envelope } => envelope,
            other => {
                self.state = other;
                return out;
            }
        };
        let wanted = match self.config.mode {
            Mode::Lmtp => envelope.recipients.len(),
            Mode::Smtp | Mode::Submission => 1,
        };
        let mut replies = replies.into_iter();
        let mut closes = false;
        for _ in 0..wanted {
            let reply =
                replies.next().unwrap_or_else(|| Reply::new(451, "4.3.0", "Local error: no delivery status"));
            // Delivery outcomes are not the client's errors: they do not count to max_errors.
            let closing = reply.code == 421;
            out.push(Action::Reply(reply));
            if closing {
                // RFC 5321 §3.8: after 421 the server closes (LMTP: after the last reply).
                closes = true;
            }
        }
        if closes {
            self.close(&mut out);
            return out;
        }
        self.proceed(out)
    }
}
