//! RETR and TOP (RFC 1939 §5, §7): ask the driver for the message bytes, then send them
//! byte-stuffed. The octet count in the `+OK` line is the stored size, CRLF counted as two.

use std::sync::Arc;

use crate::pop3::action::{Action, FetchResult};
use crate::pop3::reply::{Reply, RespCode};
use crate::pop3::session::{Fetching, Session, State};

/// The length of the part of `message` that TOP sends: the header, the blank line after it,
/// and the first `lines` lines of the body (RFC 1939 §7). A message without a blank line is
/// all header.
pub fn top_len(message: &[u8], lines: usize) -> usize {
    // The end of the header: the first empty line (CRLF CRLF, or bare LF LF).
    let mut pos = 0;
    let mut body_start = None;
    while pos < message.len() {
        let end = memchr::memchr(b'\n', &message[pos..]).map_or(message.len(), |i| pos + i + 1);
        let line = &message[pos..end];
        pos = end;
        if line == b"\r\n" || line == b"\n" {
            body_start = Some(pos);
            break;
        }
    }
    let Some(mut pos) = body_start else { return message.len() };
    for _ in 0..lines {
        if pos >= message.len() {
            break;
        }
        pos = memchr::memchr(b'\n', &message[pos..]).map_or(message.len(), |i| pos + i + 1);
    }
    pos
}

impl Session {
    /// RETR msg: the whole message (RFC 1939 §5).
    pub(crate) fn retr(&mut self, arg: &str, out: &mut Vec<Action>) {
        self.fetch(arg, None, out);
    }

    /// TOP msg n: the header and the first `n` body lines (RFC 1939 §7). `n` must be a
    /// non-negative number.
    pub(crate) fn top(&mut self, arg: &str, lines: &str, out: &mut Vec<Action>) {
        let Some(lines) = super::message_number(lines) else {
            return self.send(out, Reply::err("Syntax: TOP msg n (n a non-negative number)"));
        };
        self.fetch(arg, Some(lines), out);
    }

    fn fetch(&mut self, arg: &str, top: Option<usize>, out: &mut Vec<Action>) {
        match self.live_message(arg) {
            Ok((number, message)) => {
                if let State::Transaction(txn) = &mut self.state {
                    txn.fetching = Some(Fetching { number, top });
                    out.push(Action::Fetch { uid: message.uid });
                }
            }
            Err(reply) => self.answer(out, reply),
        }
    }

    /// The driver's answer to [`Action::Fetch`]: sends the message (RETR) or its beginning
    /// (TOP), byte-stuffed. A RETR marks the message retrieved (it is flagged `\Seen` at QUIT).
    /// Ignored unless the session is waiting for it.
    pub fn fetched(&mut self, result: FetchResult) -> Vec<Action> {
        let mut out = Vec::new();
        let State::Transaction(txn) = &mut self.state else { return out };
        let Some(Fetching { number, top }) = txn.fetching.take() else { return out };
        if self.closed {
            return out;
        }
        let reply = match result {
            FetchResult::Message(data) => {
                if top.is_none()
                    && let Some(mark) = txn.marks.retrieved.get_mut(number - 1)
                {
                    *mark = true;
                }
                let size = txn.marks.maildrop.messages.get(number - 1).map_or(data.len() as u64, |m| m.size);
                message_reply(data, size, top)
            }
            FetchResult::Gone => Reply::err("Message was removed by another session"),
            // RFC 3206 §4.
            FetchResult::TemporaryFailure => {
                Reply::err_code(RespCode::SysTemp, "Cannot read the message now; try again later")
            }
        };
        self.answer(&mut out, reply);
        self.proceed(out)
    }
}

/// `+OK n octets` and the message, or for TOP its beginning.
fn message_reply(data: Arc<Vec<u8>>, size: u64, top: Option<usize>) -> Reply {
    match top {
        None => {
            let len = data.len();
            Reply::message(format!("{size} octets"), data, len)
        }
        Some(lines) => {
            let len = top_len(&data, lines);
            Reply::message("Top of message follows", data, len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_lengths() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3";
        assert_eq!(top_len(m, 0), 14);
        assert_eq!(top_len(m, 1), 18);
        assert_eq!(top_len(m, 2), 22);
        assert_eq!(top_len(m, 3), m.len());
        assert_eq!(top_len(m, 99), m.len());
        assert_eq!(top_len(b"A: 1\r\nB: 2\r\n", 5), 12);
        assert_eq!(top_len(b"", 5), 0);
        assert_eq!(top_len(b"\r\nbody\r\n", 0), 2);
    }
}
