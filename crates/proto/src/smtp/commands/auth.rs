//! AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms. The session runs the
//! base64 exchange; the driver only checks the decoded credentials.

use crate::sasl::{self, Mechanism, SaslError, SaslNext};
use crate::smtp::action::{Action, AuthMechanism, AuthVerdict};
use crate::smtp::config::Mode;
use crate::smtp::reply::Reply;
use crate::smtp::session::{Session, State};

/// The reply for a refused SASL response.
fn sasl_error(error: SaslError) -> Reply {
    match error {
        // RFC 4954 §4: "*" cancels the exchange with 501.
        SaslError::Cancelled => Reply::new(501, "5.0.0", "Authentication cancelled"),
        // RFC 4954 §4: a response that is not valid base64 is rejected with 501.
        SaslError::BadBase64 => Reply::new(501, "5.5.2", "Invalid base64 data"),
        SaslError::Malformed => Reply::new(501, "5.5.2", "Invalid SASL response"),
        // RFC 4954 §6: 535 5.7.8, the credentials are not acceptable.
        SaslError::ForeignAuthzid => Reply::new(535, "5.7.8", "Authentication credentials invalid"),
    }
}

impl Session {
    /// AUTH mechanism [initial-response].
    pub(crate) fn auth(&mut self, mechanism: u64, initial: &str, out: &mut Vec<Action>) {
        if !self.config.auth_offered {
            let reply = if self.config.mode == Mode::Submission
                && self.config.starttls_offered
                && !self.config.tls_active
            {
                // RFC 3207 §4: 530 until the client has issued STARTTLS.
                Reply::new(530, "5.7.0", "Must issue a STARTTLS command first")
            } else {
                Reply::new(503, "5.5.1", "AUTH not available")
            };
            return self.send(out, reply);
        }
        if self.auth_user.is_some() {
            // RFC 4954 §4: after a successful AUTH, further AUTH commands get 503.
            return self.send(out, Reply::new(503, "5.5.1", "Already authenticated"));
        }
        let mechanism = match mechanism {
            smtp_proto::AUTH_PLAIN => AuthMechanism::Plain,
            smtp_proto::AUTH_LOGIN => AuthMechanism::Login,
            // RFC 4954 §4: 504 5.5.4 for an unsupported mechanism.
            _ => return self.send(out, Reply::new(504, "5.5.4", "Unrecognized authentication type")),
        };
        let kind = match mechanism {
            AuthMechanism::Plain => Mechanism::Plain,
            AuthMechanism::Login => Mechanism::Login,
        };
        // An empty initial response means none (`=` is the explicit empty one).
        let next = sasl::start(kind, (!initial.is_empty()).then_some(initial));
        self.sasl_next(next, out);
    }

    /// A line sent in answer to a `334` challenge.
    pub(crate) fn sasl_response(&mut self, line: &[u8], out: &mut Vec<Action>) {
        let State::Sasl(step) = std::mem::take(&mut self.state) else {
            return;
        };
        let Ok(text) = std::str::from_utf8(line) else {
            return self.send(out, sasl_error(SaslError::BadBase64));
        };
        self.sasl_next(sasl::respond(step, text), out);
    }

    /// Carries out the exchange's next step: `334` challenge, credentials check, or error.
    fn sasl_next(&mut self, next: SaslNext, out: &mut Vec<Action>) {
        match next {
            SaslNext::Challenge(step, challenge) => {
                self.state = State::Sasl(step);
                self.send(out, Reply::plain(334, challenge));
            }
            SaslNext::Credentials { mechanism, username, password } => {
                let mechanism = match mechanism {
                    Mechanism::Plain => AuthMechanism::Plain,
                    Mechanism::Login => AuthMechanism::Login,
                };
                self.authenticate(mechanism, username, password, out)
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
        self.state = State::AwaitAuth;
    }

    /// The driver's answer to [`Action::Authenticate`]: `235 2.7.0`, `535 5.7.8` or
    /// `454 4.7.0` (RFC 4954 §6). Ignored unless the session is waiting for it.
    pub fn auth_verdict(&mut self, verdict: AuthVerdict) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed || !matches!(self.state, State::AwaitAuth) {
            return out;
        }
        self.state = State::Idle;
        let reply = match verdict {
            AuthVerdict::Ok { user } => {
                self.auth_user = Some(user);
                Reply::new(235, "2.7.0", "Authentication successful")
            }
            AuthVerdict::Failed => Reply::new(535, "5.7.8", "Authentication credentials invalid"),
            AuthVerdict::TemporaryFailure => Reply::new(454, "4.7.0", "Temporary authentication failure"),
        };
        self.send(&mut out, reply);
        self.proceed(out)
    }
}
