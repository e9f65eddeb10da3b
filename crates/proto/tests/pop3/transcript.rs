//! A tiny dialogue runner, so tests read like a POP3 transcript.
//!
//! Script lines (leading spaces ignored; `#` starts a comment line):
//! - `C: text` — the client sends `text` + CRLF. Consecutive `C:`/`R:` lines go out in one
//!   packet (one `feed`), which is how pipelining is written.
//! - `R: text` — raw bytes, no CRLF added; escapes `\r \n \0 \\ \xNN`.
//! - `S: text` — the next line the server wrote is `text` (CRLF and trailing spaces ignored).
//! - `S* prefix` — the next line the server wrote starts with `prefix`.
//! - `E: event` — the next thing the session asked for was this event: `starttls`, `close`,
//!   `auth <mechanism> <user>`, `fetch <uid>`, `update expunge=[..] seen=[..]`.
//! - `--` — send the pending packet now.
//! - Answers for the session's questions. AUTH succeeds for password `secret` with the
//!   [`maildrop`] below, fails otherwise, unless the next answer was set with
//!   `!auth failed|throttled|in-use|login-delay|temp`. `!fetch gone|temp` answers the next
//!   fetch; `!update failed` the QUIT.
//!
//! Every line the server writes must be expected: leftovers fail the test.

use std::collections::VecDeque;
use std::sync::Arc;

use mailstead_proto::pop3::{
    Action, AuthVerdict, FetchResult, Maildrop, MessageInfo, Session, SessionConfig, UpdateResult,
};

/// INBOX's UIDVALIDITY in the test maildrop.
pub const UIDVALIDITY: u32 = 0x5F00_0001;

/// The test maildrop's messages: (uid, bytes). Message 1 has dot lines to stuff; message 3
/// has three body lines for TOP.
pub const MESSAGES: &[(u32, &[u8])] = &[
    (4, b"From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n.dot line\r\n..two\r\n.\r\nend\r\n"),
    (7, b"Subject: two\r\n\r\nbody\r\n"),
    (9, b"Subject: three\r\n\r\nl1\r\nl2\r\nl3\r\n"),
];

/// The maildrop the runner logs into.
pub fn maildrop() -> Maildrop {
    Maildrop {
        uidvalidity: UIDVALIDITY,
        messages: MESSAGES.iter().map(|(uid, m)| MessageInfo { uid: *uid, size: m.len() as u64 }).collect(),
    }
}

/// What came out of the session: a line on the wire, or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// One line written, without CRLF.
    Line(String),
    /// A non-reply action.
    Event(String),
}

/// The result of a dialogue, for further assertions.
pub struct Run {
    /// The session after the script.
    pub session: Session,
    /// Every byte the server wrote.
    pub wire: Vec<u8>,
}

#[derive(Default)]
struct Answers {
    auth: VecDeque<AuthVerdict>,
    fetch: VecDeque<FetchResult>,
    update: VecDeque<UpdateResult>,
}

struct Runner {
    session: Session,
    answers: Answers,
    output: VecDeque<Out>,
    log: Vec<String>,
    wire: Vec<u8>,
}

/// A config for tests: host `pop.example.org`, plaintext passwords allowed, small limits.
pub fn config() -> SessionConfig {
    SessionConfig {
        plaintext_auth_allowed: true,
        max_errors: 5,
        max_line_length: 512,
        ..SessionConfig::new("pop.example.org")
    }
}

/// A config like a production port 110: STLS offered, no plaintext passwords.
pub fn config_stls() -> SessionConfig {
    SessionConfig { plaintext_auth_allowed: false, stls_offered: true, ..config() }
}

/// Runs `script` against a new session with `config`.
pub fn run(config: SessionConfig, script: &str) -> Run {
    let session = Session::new(config);
    let mut runner = Runner {
        output: VecDeque::new(),
        answers: Answers::default(),
        log: Vec::new(),
        wire: Vec::new(),
        session,
    };
    // The greeting is on the wire (and in `Run::wire`) but scripts start after it.
    let greeting = runner.session.greeting().to_bytes();
    runner.push_reply(&greeting);
    runner.output.clear();
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
        } else if let Some(expected) = line.strip_prefix("S: ").or(line.strip_prefix("S:")) {
            runner.send(&mut packet);
            match runner.next() {
                Some(Out::Line(got)) if got.trim_end() == expected.trim_end() => {}
                other => runner.fail(&at(), &format!("expected line {expected:?}, got {other:?}")),
            }
        } else if let Some(prefix) = line.strip_prefix("S* ") {
            runner.send(&mut packet);
            match runner.next() {
                Some(Out::Line(got)) if got.starts_with(prefix) => {}
                other => runner.fail(&at(), &format!("expected a line starting {prefix:?}, got {other:?}")),
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
    Run { session: runner.session, wire: runner.wire }
}

impl Runner {
    fn directive(&mut self, directive: &str, at: &str) {
        let (name, arg) = directive.split_once(' ').unwrap_or((directive, ""));
        match (name, arg) {
            ("auth", "failed") => self.answers.auth.push_back(AuthVerdict::Failed),
            ("auth", "throttled") => self.answers.auth.push_back(AuthVerdict::Throttled),
            ("auth", "in-use") => self.answers.auth.push_back(AuthVerdict::InUse),
            ("auth", "login-delay") => self.answers.auth.push_back(AuthVerdict::LoginDelay),
            ("auth", "temp") => self.answers.auth.push_back(AuthVerdict::TemporaryFailure),
            ("fetch", "gone") => self.answers.fetch.push_back(FetchResult::Gone),
            ("fetch", "temp") => self.answers.fetch.push_back(FetchResult::TemporaryFailure),
            ("update", "failed") => self.answers.update.push_back(UpdateResult::Failed),
            _ => self.fail(at, "unknown directive"),
        }
    }

    fn next(&mut self) -> Option<Out> {
        self.output.pop_front()
    }

    fn fail(&self, at: &str, what: &str) -> ! {
        panic!("{at}: {what}\n--- transcript so far ---\n{}", self.log.join("\n"));
    }

    fn push_reply(&mut self, bytes: &[u8]) {
        assert!(bytes.ends_with(b"\r\n"), "reply not CRLF-terminated: {bytes:?}");
        self.wire.extend_from_slice(bytes);
        let text = String::from_utf8_lossy(bytes);
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
                    self.push_reply(&r.to_bytes());
                    continue;
                }
                Action::Authenticate { mechanism, username, password } => {
                    self.event(format!("auth {mechanism:?} {username}"));
                    let v = match self.answers.auth.pop_front() {
                        Some(v) => v,
                        None if password == "secret" => {
                            AuthVerdict::Ok { user: username, maildrop: maildrop() }
                        }
                        None => AuthVerdict::Failed,
                    };
                    self.session.auth_verdict(v)
                }
                Action::Fetch { uid } => {
                    self.event(format!("fetch {uid}"));
                    let answer = self.answers.fetch.pop_front().unwrap_or_else(|| {
                        match MESSAGES.iter().find(|(u, _)| *u == uid) {
                            Some((_, m)) => FetchResult::Message(Arc::new(m.to_vec())),
                            None => FetchResult::Gone,
                        }
                    });
                    self.session.fetched(answer)
                }
                Action::Update { expunge, seen } => {
                    self.event(format!("update expunge={expunge:?} seen={seen:?}"));
                    let remaining = MESSAGES.len() - expunge.len();
                    let answer = self.answers.update.pop_front().unwrap_or(UpdateResult::Done { remaining });
                    self.session.update_done(answer)
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
