//! A tiny dialogue runner, so tests read like an SMTP transcript.
//!
//! Script lines (leading spaces ignored; `#` starts a comment line):
//! - `C: text` — the client sends `text` + CRLF. Consecutive `C:`/`R:` lines go out in one
//!   packet (one `feed`), which is how pipelining is written.
//! - `R: text` — raw bytes, no CRLF added; escapes `\r \n \0 \\ \xNN`.
//! - `S: prefix` — the next reply line the server wrote starts with `prefix`.
//! - `S~ 250` — the next whole reply (all its lines) has code 250.
//! - `E: event` — the next thing the session asked for was this event: `deliver`,
//!   `starttls`, `close`, `auth <user>`, `verify <text>`.
//! - `--` — send the pending packet now.
//! - Answers for the session's questions (default: accept; AUTH accepts password `secret`):
//!   `!reject-sender <reply>` (the next MAIL), `!reject-rcpt <address> <reply>` (every RCPT
//!   of that address), `!auth-fail` (the next AUTH), and
//!   `!deliver <reply>` (repeat for LMTP's per-recipient replies).
//!
//! Every line the server writes must be expected: leftovers fail the test.

use std::collections::VecDeque;

use mailstead_proto::smtp::{Action, AuthVerdict, Envelope, Mode, Reply, Session, SessionConfig, Verdict};

/// What came out of the session: a reply line, or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// One line of a reply, without CRLF.
    Line(String),
    /// A non-reply action, as `deliver`, `starttls`, `close`, `auth alice`, `verify x`.
    Event(String),
}

/// The result of a dialogue, for further assertions.
pub struct Run {
    /// The session after the script.
    pub session: Session,
    /// Messages handed over with `Action::Deliver`.
    pub delivered: Vec<(Envelope, Vec<u8>)>,
}

#[derive(Default)]
struct Answers {
    sender: VecDeque<Verdict>,
    rcpt: Vec<(String, Reply)>,
    auth: VecDeque<AuthVerdict>,
    deliver: Vec<Reply>,
}

struct Runner {
    session: Session,
    answers: Answers,
    output: VecDeque<Out>,
    log: Vec<String>,
    delivered: Vec<(Envelope, Vec<u8>)>,
}

/// A config for tests: host `mx.example.org`, small limits.
pub fn config(mode: Mode) -> SessionConfig {
    SessionConfig {
        max_message_size: 10_000,
        max_recipients: 3,
        max_errors: 5,
        max_line_length: 512,
        max_received_headers: 25,
        ..SessionConfig::new("mx.example.org", mode)
    }
}

/// Runs `script` against a new session with `config`.
pub fn run(config: SessionConfig, script: &str) -> Run {
    let session = Session::new(config);
    let mut runner = Runner {
        output: VecDeque::new(),
        answers: Answers::default(),
        log: Vec::new(),
        delivered: Vec::new(),
        session,
    };
    let greeting = runner.session.greeting();
    runner.push_reply(&greeting);
    let mut packet = Vec::new();
    for (n, raw_line) in script.lines().enumerate() {
        let line = raw_line.trim_start();
        let at = || format!("script line {}: {line}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(text) = line.strip_prefix("C: ").or(line.strip_prefix("C:")) {
            packet.extend_from_slice(text.as_bytes());
            packet.extend_from_slice(b"\r\n");
        } else if let Some(text) = line.strip_prefix("R: ") {
            packet.extend_from_slice(&crate::escape::unescape(text));
        } else if line == "--" {
            runner.send(&mut packet);
        } else if let Some(prefix) = line.strip_prefix("S: ") {
            runner.send(&mut packet);
            match runner.next() {
                Some(Out::Line(got)) if got.starts_with(prefix) => {}
                other => runner.fail(&at(), &format!("expected reply line {prefix:?}, got {other:?}")),
            }
        } else if let Some(code) = line.strip_prefix("S~ ") {
            runner.send(&mut packet);
            loop {
                match runner.next() {
                    Some(Out::Line(got)) if got.starts_with(&format!("{code}-")) => continue,
                    Some(Out::Line(got)) if got.starts_with(&format!("{code} ")) => break,
                    other => runner.fail(&at(), &format!("expected a {code} reply, got {other:?}")),
                }
            }
        } else if let Some(event) = line.strip_prefix("E: ") {
            runner.send(&mut packet);
            match runner.next() {
                Some(Out::Event(got)) if got == event => {}
                other => runner.fail(&at(), &format!("expected event {event:?}, got {other:?}")),
            }
        } else if let Some(directive) = line.strip_prefix('!') {
            runner.directive(directive, &at());
        } else {
            runner.fail(&at(), "unknown script line");
        }
    }
    runner.send(&mut packet);
    if let Some(extra) = runner.output.front().cloned() {
        runner.fail("end of script", &format!("unexpected output {extra:?}"));
    }
    Run { session: runner.session, delivered: runner.delivered }
}

/// Parses `550 5.1.1 text` into a reply.
pub fn reply(text: &str) -> Reply {
    let mut parts = text.splitn(3, ' ');
    let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(500);
    let enhanced = parts.next().unwrap_or("5.0.0");
    Reply::new(code, enhanced, parts.next().unwrap_or(""))
}

impl Runner {
    fn directive(&mut self, directive: &str, at: &str) {
        let (name, arg) = directive.split_once(' ').unwrap_or((directive, ""));
        match name {
            "reject-sender" => self.answers.sender.push_back(Verdict::Reject(reply(arg))),
            "reject-rcpt" => {
                let (address, text) = arg.split_once(' ').unwrap_or((arg, ""));
                self.answers.rcpt.push((address.trim_matches(['<', '>']).to_string(), reply(text)));
            }
            "auth-fail" => self.answers.auth.push_back(AuthVerdict::Failed),
            "deliver" => self.answers.deliver.push(reply(arg)),
            _ => self.fail(at, "unknown directive"),
        }
    }

    fn next(&mut self) -> Option<Out> {
        self.output.pop_front()
    }

    fn fail(&self, at: &str, what: &str) -> ! {
        panic!("{at}: {what}\n--- transcript so far ---\n{}", self.log.join("\n"));
    }

    fn push_reply(&mut self, reply: &Reply) {
        let text = reply.to_string();
        assert!(text.ends_with("\r\n"), "reply not CRLF-terminated: {text:?}");
        for line in text.trim_end_matches("\r\n").split("\r\n") {
            self.log.push(format!("S: {line}"));
            self.output.push_back(Out::Line(line.to_string()));
        }
    }

    fn event(&mut self, event: String) {
        self.log.push(format!("E: {event}"));
        self.output.push_back(Out::Event(event));
    }

    /// Feeds the pending packet and plays the driver for the actions that come back.
    fn send(&mut self, packet: &mut Vec<u8>) {
        if packet.is_empty() {
            return;
        }
        for line in String::from_utf8_lossy(packet).split_inclusive('\n') {
            self.log.push(format!("C: {}", line.escape_debug()));
        }
        let mut queue: VecDeque<Action> = self.session.feed(packet).into();
        packet.clear();
        while let Some(action) = queue.pop_front() {
            let more = match action {
                Action::Reply(r) => {
                    self.push_reply(&r);
                    continue;
                }
                Action::CheckSender { .. } => {
                    let v = self.answers.sender.pop_front().unwrap_or(Verdict::Accept);
                    self.session.sender_verdict(v)
                }
                Action::CheckRecipient { recipient, .. } => {
                    let address = recipient.to_string();
                    let v = match self.answers.rcpt.iter().find(|(a, _)| *a == address) {
                        Some((_, reply)) => Verdict::Reject(reply.clone()),
                        None => Verdict::Accept,
                    };
                    self.session.recipient_verdict(v)
                }
                Action::Authenticate { username, password, .. } => {
                    self.event(format!("auth {username}"));
                    let v = match self.answers.auth.pop_front() {
                        Some(v) => v,
                        None if password == "secret" => AuthVerdict::Ok { user: username },
                        None => AuthVerdict::Failed,
                    };
                    self.session.auth_verdict(v)
                }
                Action::Verify(what) => {
                    self.event(format!("verify {what}"));
                    continue;
                }
                Action::Deliver { envelope, message } => {
                    self.event("deliver".into());
                    let lmtp = self.session.config().mode == Mode::Lmtp;
                    let replies = if !self.answers.deliver.is_empty() {
                        std::mem::take(&mut self.answers.deliver)
                    } else if lmtp {
                        envelope
                            .recipients
                            .iter()
                            .map(|r| Reply::new(250, "2.1.5", format!("<{}> Ok", r.address)))
                            .collect()
                    } else {
                        vec![Reply::new(250, "2.0.0", "Ok: queued as TEST")]
                    };
                    self.delivered.push((envelope, message));
                    self.session.message_done(replies)
                }
                Action::StartTls => {
                    self.event("starttls".into());
                    self.session.tls_started()
                }
                Action::Close => {
                    self.event("close".into());
                    continue;
                }
            };
            for (i, action) in more.into_iter().enumerate() {
                queue.insert(i, action);
            }
        }
    }
}
