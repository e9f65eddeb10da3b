//! Splitting client bytes into IMAP commands, with every input limit, and no I/O.
//!
//! [`CommandReader`] is fed bytes ([`CommandReader::enqueue`]) and polled
//! ([`CommandReader::poll`]): it answers "need more bytes", "send a continuation request now"
//! (a synchronizing literal was accepted) or a finished [`Input`]. The connection does the
//! socket work around it; the fuzz target drives it directly.
//!
//! # Implementation notes
//! - imap-codec's `Fragmentizer` splits input into lines and literals before any parsing, so a
//!   malformed command is skipped at a clear boundary and literal bytes are never read as
//!   commands. The literal size allowed depends on the command: APPEND up to APPENDLIMIT,
//!   anything else up to [`LiteralPolicy::small_limit`].
//! - A refused synchronizing literal (`{n}`) ends the command at once with BAD: the client waits
//!   for a go-ahead that never comes and sends no data (RFC 9051 §7.5). A refused
//!   non-synchronizing literal (`{n+}`, RFC 7888) is read, thrown away, then answered BAD.
//! - A line longer than [`LiteralPolicy::max_line`] that has not ended is an [`Input::Overflow`]:
//!   the connection cannot be resynchronised and is closed. Memory is bounded by the
//!   fragmentizer's ceiling (APPENDLIMIT plus one line).

use std::io;

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::fragmentizer::{DecodeMessageError, FragmentInfo, Fragmentizer};
use imap_types::IntoStatic;
use imap_types::command::Command;
use imap_types::core::{LiteralMode, Tag};

use crate::extended::{Extra, rewrite};

/// Literal and line limits.
#[derive(Debug, Clone, Copy)]
pub struct LiteralPolicy {
    /// Largest literal in an APPEND command.
    pub append_limit: u32,
    /// Largest literal elsewhere.
    pub small_limit: u32,
    /// Most literals per command.
    pub max_literals: usize,
    /// Longest line.
    pub max_line: usize,
}

/// What the reader produced.
#[derive(Debug)]
pub enum Input {
    /// A complete, well-formed command, with options imap-codec cannot carry.
    Command(Command<'static>, Extra),
    /// A complete message that is not a valid command; the tag if one could be read.
    Bad {
        /// The tag, if readable.
        tag: Option<Tag<'static>>,
        /// Why.
        reason: &'static str,
    },
    /// A line went past the limit without ending: the connection cannot be resynchronised.
    Overflow,
    /// The client closed the connection.
    Closed,
    /// No input within the idle timeout.
    TimedOut,
    /// Reading failed.
    Failed(io::Error),
}

/// What [`CommandReader::poll`] says.
#[derive(Debug)]
pub enum Step {
    /// Feed more bytes.
    NeedMore,
    /// Send `+ Ready for literal data` now, then poll again.
    Continue,
    /// A finished input.
    Ready(Input),
}

/// The command splitter.
#[derive(Debug)]
pub struct CommandReader {
    frag: Fragmentizer,
    /// The fragmentizer's memory ceiling.
    ceiling: u32,
    literals: usize,
    refused: Option<&'static str>,
    /// Where the current fragment starts in the message buffer.
    fragment_start: usize,
    /// Whether the fragment being read is a literal (the line limit does not apply).
    in_literal: bool,
}

impl CommandReader {
    /// A reader whose memory ceiling follows `policy`.
    pub fn new(policy: &LiteralPolicy) -> CommandReader {
        let ceiling = policy.append_limit.saturating_add(u32::try_from(policy.max_line).unwrap_or(u32::MAX));
        CommandReader {
            frag: Fragmentizer::new(ceiling),
            ceiling,
            literals: 0,
            refused: None,
            fragment_start: 0,
            in_literal: false,
        }
    }

    /// Adds received bytes.
    pub fn enqueue(&mut self, bytes: &[u8]) {
        self.frag.enqueue_bytes(bytes);
    }

    /// Forgets everything buffered (STARTTLS: RFC 3501 §6.2.1, CVE-2011-0411).
    pub fn discard(&mut self) {
        self.frag = Fragmentizer::new(self.ceiling);
        self.literals = 0;
        self.refused = None;
        self.fragment_start = 0;
        self.in_literal = false;
    }

    /// Works through the buffered bytes.
    pub fn poll(&mut self, policy: &LiteralPolicy) -> Step {
        loop {
            let Some(fragment) = self.frag.progress() else {
                let pending = self.frag.message_bytes().len().saturating_sub(self.fragment_start);
                if !self.in_literal && pending > policy.max_line {
                    return Step::Ready(Input::Overflow);
                }
                if self.frag.message_bytes().is_empty() && !self.in_literal {
                    // Nothing half-read: start afresh, which gives back the memory of a
                    // large command (an APPEND) just finished.
                    self.frag = Fragmentizer::new(self.ceiling);
                }
                return Step::NeedMore;
            };
            let mut continuation = false;
            if let FragmentInfo::Line { start, end, announcement, .. } = fragment {
                if end - start > policy.max_line {
                    self.refused.get_or_insert("command line too long");
                }
                if let Some(announcement) = announcement {
                    match self.check_literal(announcement.length, announcement.mode, policy) {
                        Ok(go_ahead) => continuation = go_ahead,
                        Err(input) => return Step::Ready(*input),
                    }
                }
            }
            self.fragment_start = fragment.range().end;
            self.in_literal = matches!(fragment, FragmentInfo::Line { announcement: Some(_), .. });
            if self.frag.is_message_complete() {
                return Step::Ready(self.finish());
            }
            if continuation {
                return Step::Continue;
            }
        }
    }

    /// Decides on an announced literal: `Ok(true)` send a continuation, `Ok(false)` go on
    /// silently, `Err` the command is over.
    fn check_literal(
        &mut self,
        length: u32,
        mode: LiteralMode,
        policy: &LiteralPolicy,
    ) -> Result<bool, Box<Input>> {
        self.literals += 1;
        let is_append = is_append(self.frag.message_bytes());
        let limit = if is_append { policy.append_limit } else { policy.small_limit };
        let reason = if self.literals > policy.max_literals {
            Some("too many literals in one command")
        } else if length > limit {
            Some(if is_append { "message larger than APPENDLIMIT" } else { "literal too large" })
        } else {
            self.refused
        };
        match (reason, mode) {
            (None, LiteralMode::Sync) => Ok(true),
            (None, LiteralMode::NonSync) => Ok(false),
            (Some(reason), LiteralMode::Sync) => {
                let tag = self.frag.decode_tag().map(IntoStatic::into_static);
                self.frag.skip_message();
                self.literals = 0;
                self.refused = None;
                self.fragment_start = 0;
                self.in_literal = false;
                Err(Box::new(Input::Bad { tag, reason }))
            }
            (Some(reason), LiteralMode::NonSync) => {
                self.refused = Some(reason);
                self.frag.poison_message();
                Ok(false)
            }
        }
    }

    /// Turns a complete message into an input.
    fn finish(&mut self) -> Input {
        let refused = self.refused.take();
        self.literals = 0;
        self.fragment_start = 0;
        self.in_literal = false;
        let tag = || self.frag.decode_tag().map(IntoStatic::into_static);
        if let Some(reason) = refused {
            return Input::Bad { tag: tag(), reason };
        }
        if let Some((rewritten, extra)) = rewrite(self.frag.message_bytes()) {
            return match CommandCodec::default().decode(&rewritten) {
                Ok((b"", command)) => Input::Command(command.into_static(), extra),
                _ => Input::Bad { tag: tag(), reason: "syntax error in command" },
            };
        }
        match self.frag.decode_message(&CommandCodec::default()) {
            Ok(command) => Input::Command(command.into_static(), Extra::None),
            Err(DecodeMessageError::MessageTooLong { .. }) => {
                Input::Bad { tag: tag(), reason: "command too long" }
            }
            Err(_) => Input::Bad { tag: tag(), reason: "syntax error in command" },
        }
    }

    /// One raw line (IDLE's DONE, SASL responses): `Some(Ok)` a line without its ending,
    /// `Some(Err)` over `max` or a literal where none belongs, `None` need more bytes.
    pub fn poll_line(&mut self, max: usize) -> Option<Result<Vec<u8>, ()>> {
        let Some(fragment) = self.frag.progress() else {
            return (self.frag.message_bytes().len() > max).then_some(Err(()));
        };
        match fragment {
            FragmentInfo::Line { start, end, announcement, .. } => {
                if announcement.is_some() {
                    self.frag.skip_message();
                    return Some(Err(()));
                }
                if end - start > max {
                    return Some(Err(()));
                }
                let mut line = self.frag.fragment_bytes(fragment).to_vec();
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                Some(Ok(line))
            }
            FragmentInfo::Literal { .. } => Some(Err(())),
        }
    }
}

/// Whether the message being read is an APPEND command (`tag APPEND ...`).
fn is_append(message: &[u8]) -> bool {
    let mut words = message.splitn(3, |b| *b == b' ');
    let _tag = words.next();
    words.next().is_some_and(|w| w.eq_ignore_ascii_case(b"APPEND"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: LiteralPolicy =
        LiteralPolicy { append_limit: 1000, small_limit: 10, max_literals: 3, max_line: 100 };

    fn drain(reader: &mut CommandReader) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match reader.poll(&POLICY) {
                Step::NeedMore => return out,
                Step::Continue => out.push("+".into()),
                Step::Ready(Input::Command(c, _)) => out.push(format!("cmd {}", c.body.name())),
                Step::Ready(Input::Bad { reason, .. }) => out.push(format!("bad {reason}")),
                Step::Ready(Input::Overflow) => {
                    return {
                        out.push("overflow".into());
                        out
                    };
                }
                Step::Ready(other) => out.push(format!("{other:?}")),
            }
        }
    }

    #[test]
    fn commands_literals_and_limits() {
        let mut r = CommandReader::new(&POLICY);
        r.enqueue(b"a NOOP\r\nb APPEND INBOX {5}\r\n");
        assert_eq!(drain(&mut r), vec!["cmd NOOP", "+"]);
        r.enqueue(b"hello\r\nc LOGIN {50}\r\nd LOGIN {3+}\r\nabc {3+}\r\ndef\r\n");
        assert_eq!(drain(&mut r), vec!["cmd APPEND", "bad literal too large", "cmd LOGIN"]);
        r.enqueue(b"e APPEND INBOX {2000+}\r\n");
        r.enqueue(&[b'x'; 2000]);
        r.enqueue(b"\r\nf NOOP\r\n");
        assert_eq!(drain(&mut r), vec!["bad message larger than APPENDLIMIT", "cmd NOOP"]);
        r.enqueue(&[b'y'; 150]);
        assert_eq!(drain(&mut r), vec!["overflow"]);
    }

    #[test]
    fn append_is_recognised() {
        assert!(is_append(b"a1 APPEND INBOX {10}\r\n"));
        assert!(is_append(b"a1 append \"x\" (\\Seen) {10}\r\n"));
        assert!(!is_append(b"a1 LOGIN {3}\r\n"));
    }
}
