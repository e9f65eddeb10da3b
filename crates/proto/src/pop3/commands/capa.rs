//! CAPA (RFC 2449), STLS (RFC 2595) and QUIT with the UPDATE state (RFC 1939 §6).

use super::auth::MECHANISMS;
use crate::pop3::action::{Action, UpdateResult};
use crate::pop3::config::Expire;
use crate::pop3::reply::{Reply, RespCode};
use crate::pop3::session::{Auth, Session, State};

impl Session {
    /// The capability list for the current state (RFC 2449 §5, §6).
    pub(crate) fn capabilities(&self) -> Vec<String> {
        let authorization = matches!(self.state, State::Authorization(_));
        let mut caps: Vec<String> = vec!["TOP".into(), "UIDL".into()];
        if authorization && self.config.auth_allowed() {
            // RFC 2449 §6.3 / RFC 5034 §6: offer passwords only where they may be sent.
            caps.push("USER".into());
            caps.push(format!("SASL {}", MECHANISMS.join(" ")));
        }
        if authorization && self.config.stls_offered && !self.config.tls_active {
            // RFC 2595 §4.
            caps.push("STLS".into());
        }
        // RFC 2449 §6.4, §6.6; RFC 3206 §6.
        caps.extend(["RESP-CODES".into(), "AUTH-RESP-CODE".into(), "PIPELINING".into()]);
        match self.config.expire {
            // RFC 2449 §6.7.
            Some(Expire::Never) => caps.push("EXPIRE NEVER".into()),
            Some(Expire::Days(days)) => caps.push(format!("EXPIRE {days}")),
            None => {}
        }
        if let Some(secs) = self.config.login_delay_secs {
            // RFC 2449 §6.5.
            caps.push(format!("LOGIN-DELAY {secs}"));
        }
        // RFC 2449 §6.9.
        caps.push("IMPLEMENTATION Mailstead".into());
        caps
    }

    /// CAPA (RFC 2449 §5).
    pub(crate) fn capa(&mut self, out: &mut Vec<Action>) {
        let caps = self.capabilities();
        self.send(out, Reply::lines("Capability list follows", &caps));
    }

    /// STLS (RFC 2595 §4): `+OK`, then [`Action::StartTls`]; everything after it is discarded.
    pub(crate) fn stls(&mut self, out: &mut Vec<Action>) {
        if self.config.tls_active {
            return self.send(out, Reply::err("TLS already active"));
        }
        if !self.config.stls_offered {
            return self.send(out, Reply::err("STLS not available"));
        }
        self.send(out, Reply::ok("Begin TLS negotiation"));
        out.push(Action::StartTls);
        self.state = State::Authorization(Auth::AwaitTls);
        // Commands pipelined after STLS were sent in plaintext and must never be executed
        // inside the TLS session (the STARTTLS command-injection class, CVE-2011-0411).
        self.discard_input();
    }

    /// The TLS handshake after [`Action::StartTls`] succeeded: back to a fresh AUTHORIZATION
    /// state (a USER given before is forgotten), input read before the handshake discarded,
    /// STLS no longer offered. The client speaks next, so this usually returns nothing.
    pub fn tls_started(&mut self) -> Vec<Action> {
        let out = Vec::new();
        if self.closed || !matches!(self.state, State::Authorization(Auth::AwaitTls)) {
            return out;
        }
        self.reset_authorization();
        self.discard_input();
        self.config.tls_active = true;
        self.config.stls_offered = false;
        self.proceed(out)
    }

    /// QUIT. In AUTHORIZATION: `+OK` and close (RFC 1939 §4). In TRANSACTION: enter UPDATE
    /// and ask the driver to remove the deleted messages (RFC 1939 §6).
    pub(crate) fn quit(&mut self, out: &mut Vec<Action>) {
        match std::mem::replace(&mut self.state, State::Update) {
            State::Transaction(txn) => {
                out.push(Action::Update { expunge: txn.marks.deleted_uids(), seen: txn.marks.seen_uids() });
            }
            other => {
                self.state = other;
                self.send(
                    out,
                    Reply::ok(format!("{} Mailstead POP3 server signing off", self.config.hostname)),
                );
                self.close(out);
            }
        }
    }

    /// The driver's answer to [`Action::Update`]: the sign-off, or RFC 1939 §6's `-ERR` when
    /// the deletions could not be applied; then close either way. Ignored unless the session
    /// is in the UPDATE state.
    pub fn update_done(&mut self, result: UpdateResult) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed || !matches!(self.state, State::Update) {
            return out;
        }
        let reply = match result {
            UpdateResult::Done { remaining } => Reply::ok(format!(
                "{} Mailstead POP3 server signing off ({remaining} messages left)",
                self.config.hostname
            )),
            // RFC 1939 §6: "-ERR some deleted messages not removed"; RFC 3206 §4: temporary.
            UpdateResult::Failed => {
                Reply::err_code(RespCode::SysTemp, "Some deleted messages not removed; try again later")
            }
        };
        out.push(Action::Reply(reply));
        self.close(&mut out);
        out
    }
}
