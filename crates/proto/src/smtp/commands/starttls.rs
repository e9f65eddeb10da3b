//! STARTTLS (RFC 3207): upgrade the connection, then start the dialogue afresh.

use super::has_argument;
use crate::smtp::action::Action;
use crate::smtp::config::Mode;
use crate::smtp::reply::Reply;
use crate::smtp::session::{Session, State};

impl Session {
    /// STARTTLS: `220 2.0.0`, then [`Action::StartTls`]; everything after it is discarded.
    pub(crate) fn starttls(&mut self, line: &str, out: &mut Vec<Action>) {
        if has_argument(line) {
            // RFC 3207 §4: "STARTTLS" takes no parameters; 501 otherwise.
            return self.send(out, Reply::new(501, "5.5.4", "Syntax: STARTTLS"));
        }
        if !self.config.starttls_offered || self.config.tls_active {
            // RFC 3207 §4: 454 TLS not available (not offered, or already in TLS).
            return self.send(out, Reply::new(454, "4.7.0", "TLS not available"));
        }
        self.send(out, Reply::new(220, "2.0.0", "Ready to start TLS"));
        out.push(Action::StartTls);
        self.state = State::AwaitTls;
        // Commands pipelined after STARTTLS were sent in plaintext and must never be
        // executed inside the TLS session (CVE-2011-0411).
        self.discard_input();
    }

    /// The TLS handshake after [`Action::StartTls`] succeeded. RFC 3207 §4.2: back to the
    /// state right after the greeting; everything learnt from the client (EHLO argument,
    /// AUTH) and any input read before the handshake is forgotten; STARTTLS is no longer
    /// offered. In [`Mode::Submission`] AUTH is offered from now on. The client speaks next,
    /// so this usually returns nothing.
    pub fn tls_started(&mut self) -> Vec<Action> {
        let out = Vec::new();
        if self.closed || !matches!(self.state, State::AwaitTls) {
            return out;
        }
        self.state = State::Idle;
        self.helo = None;
        self.auth_user = None;
        self.discard_input();
        self.config.tls_active = true;
        self.config.starttls_offered = false;
        if self.config.mode == Mode::Submission {
            // RFC 4954 §4 / RFC 8314 §3: passwords may now travel, inside TLS.
            self.config.auth_offered = true;
        }
        self.proceed(out)
    }
}
