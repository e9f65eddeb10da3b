//! The AUTHORIZATION state: USER and PASS (RFC 1939 §7), AUTH with PLAIN and LOGIN
//! (RFC 5034), and the driver's verdict that moves the session to TRANSACTION.
//!
//! Passwords are accepted only inside TLS, or on loopback in development mode (RFC 2595 §4
//! lets a server refuse them before STLS; DESIGN.md security model). Every failure says
//! `[AUTH]` or `[SYS/TEMP]` (RFC 3206), never whether the user exists.

use crate::pop3::action::{Action, AuthMechanism, AuthVerdict};
use crate::pop3::maildrop::Marks;
use crate::pop3::reply::{Reply, RespCode};
use crate::pop3::session::{Auth, Session, State, Transaction};
use crate::sasl::{self, Mechanism, SaslError, SaslNext};

/// The mechanisms offered in CAPA `SASL` and accepted by AUTH.
pub(crate) const MECHANISMS: &[&str] = &["PLAIN", "LOGIN"];

/// The reply for a refused SASL response.
fn sasl_error(error: SaslError) -> Reply {
    match error {
        // RFC 5034 §4: "*" cancels the exchange with a negative response.
        SaslError::Cancelled => Reply::err("Authentication cancelled"),
        // RFC 5034 §4: a response that is not valid base64 is rejected.
        SaslError::BadBase64 => Reply::err("Invalid base64 data"),
        SaslError::Malformed => Reply::err("Invalid SASL response"),
        // RFC 3206 §5: a credentials problem.
        SaslError::ForeignAuthzid => Reply::err_code(RespCode::Auth, "Authorization identity not permitted"),
    }
}

/// The reply for a password sent where it may not travel.
fn plaintext_refused(session: &Session) -> Reply {
    let text = if session.config.stls_offered {
        "Plaintext authentication disallowed on non-secure connections: use STLS first"
    } else {
        "Plaintext authentication disallowed on non-secure connections"
    };
    // RFC 3206 §5: [AUTH], the way the credentials were sent is the problem.
    Reply::err_code(RespCode::Auth, text)
}

impl Session {
    /// USER name (RFC 1939 §7). Always `+OK`: whether the user exists is told by PASS only,
    /// and only as "invalid user name or password".
    pub(crate) fn user_command(&mut self, name: &str, out: &mut Vec<Action>) {
        if !self.config.auth_allowed() {
            return self.send(out, plaintext_refused(self));
        }
        if !matches!(self.state, State::Authorization(Auth::Ready { .. })) {
            return self.send(out, Reply::err("Command not valid now"));
        }
        self.state = State::Authorization(Auth::Ready { user: Some(name.to_string()) });
        self.send(out, Reply::ok("Send PASS"));
    }

    /// PASS string (RFC 1939 §7): only right after a successful USER.
    pub(crate) fn pass(&mut self, password: &str, out: &mut Vec<Action>) {
        if !self.config.auth_allowed() {
            self.reset_authorization();
            return self.send(out, plaintext_refused(self));
        }
        let State::Authorization(Auth::Ready { user }) = &mut self.state else {
            return self.send(out, Reply::err("Command not valid now"));
        };
        let Some(username) = user.take() else {
            return self.send(out, Reply::err("Send USER first"));
        };
        self.authenticate(AuthMechanism::UserPass, username, password.to_string(), out);
    }

    /// AUTH [mechanism [initial-response]] (RFC 5034 §4). Without arguments it lists the
    /// mechanisms, as RFC 1734 clients expect.
    pub(crate) fn auth(&mut self, words: &[&str], out: &mut Vec<Action>) {
        if !self.config.auth_allowed() {
            return self.send(out, plaintext_refused(self));
        }
        let Some(mechanism) = words.first() else {
            let mechanisms: Vec<String> = MECHANISMS.iter().map(|m| m.to_string()).collect();
            return self.send(out, Reply::lines("Supported SASL mechanisms:", &mechanisms));
        };
        let initial = words.get(1).copied();
        self.reset_authorization();
        let kind = match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => Mechanism::Plain,
            "LOGIN" => Mechanism::Login,
            // RFC 5034 §4: an unsupported mechanism gets a negative response.
            _ => return self.send(out, Reply::err("Unsupported authentication mechanism")),
        };
        // RFC 5034 §4: without an initial response PLAIN gets an empty challenge.
        self.sasl_next(sasl::start(kind, initial), out);
    }

    /// A line sent in answer to a `+ ` challenge.
    pub(crate) fn sasl_response(&mut self, line: &[u8], out: &mut Vec<Action>) {
        let State::Authorization(Auth::Sasl(step)) =
            std::mem::replace(&mut self.state, State::Authorization(Auth::Ready { user: None }))
        else {
            return;
        };
        let Ok(text) = std::str::from_utf8(super::strip_line_end(line)) else {
            return self.send(out, sasl_error(SaslError::BadBase64));
        };
        self.sasl_next(sasl::respond(step, text), out);
    }

    /// Carries out the exchange's next step: `+ ` challenge, credentials check, or error.
    fn sasl_next(&mut self, next: SaslNext, out: &mut Vec<Action>) {
        match next {
            SaslNext::Challenge(step, challenge) => {
                self.state = State::Authorization(Auth::Sasl(step));
                self.send(out, Reply::Challenge(challenge.into()));
            }
            SaslNext::Credentials { mechanism, username, password } => {
                let mechanism = match mechanism {
                    Mechanism::Plain => AuthMechanism::Plain,
                    Mechanism::Login => AuthMechanism::Login,
                };
                self.authenticate(mechanism, username, password, out);
            }
            SaslNext::Failed(error) => self.send(out, sasl_error(error)),
        }
    }

    fn authenticate(
        &mut self,
        mechanism: AuthMechanism,
        username: String,
        password: String,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::Authenticate { mechanism, username, password });
        self.state = State::Authorization(Auth::AwaitVerdict);
    }

    /// The driver's answer to [`Action::Authenticate`]. On success the session enters the
    /// TRANSACTION state with the maildrop given (RFC 1939 §4); otherwise it stays in
    /// AUTHORIZATION with a `-ERR` carrying the RFC 2449 / RFC 3206 response code. Ignored
    /// unless the session is waiting for it.
    pub fn auth_verdict(&mut self, verdict: AuthVerdict) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed || !matches!(self.state, State::Authorization(Auth::AwaitVerdict)) {
            return out;
        }
        self.reset_authorization();
        let reply = match verdict {
            AuthVerdict::Ok { user, maildrop } => {
                let marks = Marks::new(maildrop);
                let (count, size) = marks.totals();
                self.state = State::Transaction(Box::new(Transaction { user, marks, fetching: None }));
                Reply::ok(format!("Logged in: maildrop has {count} messages ({size} octets)"))
            }
            // RFC 3206 §5: [AUTH] for a credentials problem; do not tell user from password.
            AuthVerdict::Failed => Reply::err_code(RespCode::Auth, "Invalid user name or password"),
            AuthVerdict::Throttled => {
                Reply::err_code(RespCode::Auth, "Too many failed logins; try again later")
            }
            // RFC 2449 §8.1.2: the maildrop is locked by another session.
            AuthVerdict::InUse => {
                Reply::err_code(RespCode::InUse, "Maildrop is in use by another session; try again later")
            }
            // RFC 2449 §8.1.1: logged in again before the LOGIN-DELAY passed.
            AuthVerdict::LoginDelay => {
                Reply::err_code(RespCode::LoginDelay, "Logged in too recently; wait before checking again")
            }
            // RFC 3206 §4: a temporary system problem.
            AuthVerdict::TemporaryFailure => {
                Reply::err_code(RespCode::SysTemp, "Temporary failure; try again later")
            }
        };
        self.send(&mut out, reply);
        self.proceed(out)
    }
}
