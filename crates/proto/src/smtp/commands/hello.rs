//! EHLO, LHLO and HELO: the client introduces itself; EHLO/LHLO also list the extensions.

use crate::smtp::action::Action;
use crate::smtp::reply::Reply;
use crate::smtp::session::{Session, State};

impl Session {
    /// EHLO (RFC 5321 §4.1.1.1) or LHLO (RFC 2033 §4.1): greet and list the extensions.
    pub(crate) fn ehlo(&mut self, host: &str, out: &mut Vec<Action>) {
        self.greeted(host);
        let config = &self.config;
        let mut lines = vec![config.hostname.clone()];
        lines.push("PIPELINING".into()); // RFC 2920
        lines.push(format!("SIZE {}", config.max_message_size)); // RFC 1870
        lines.push("8BITMIME".into()); // RFC 6152
        lines.push("SMTPUTF8".into()); // RFC 6531
        lines.push("ENHANCEDSTATUSCODES".into()); // RFC 2034
        lines.push("CHUNKING".into()); // RFC 3030
        lines.push("DSN".into()); // RFC 3461
        if config.starttls_offered && !config.tls_active {
            lines.push("STARTTLS".into()); // RFC 3207
        }
        if config.auth_offered {
            lines.push("AUTH PLAIN LOGIN".into()); // RFC 4954, RFC 4616
        }
        // RFC 2034 §3: the EHLO reply itself carries no enhanced status code.
        self.send(out, Reply::multiline(250, None, lines));
    }

    /// HELO (RFC 5321 §4.1.1.1): greet, no extensions.
    pub(crate) fn helo_command(&mut self, host: &str, out: &mut Vec<Action>) {
        self.greeted(host);
        self.send(out, Reply::plain(250, self.config.hostname.clone()));
    }

    /// RFC 5321 §4.1.4: a (second) greeting resets any transaction, as RSET does.
    fn greeted(&mut self, host: &str) {
        self.state = State::Idle;
        self.helo = Some(host.to_string());
    }
}
