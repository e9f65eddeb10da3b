//! The small commands: RSET, NOOP, QUIT, VRFY, HELP, and those we do not implement.

use crate::smtp::action::Action;
use crate::smtp::reply::Reply;
use crate::smtp::session::{Session, State};

impl Session {
    /// RSET (RFC 5321 §4.1.1.5): abort the transaction, keep the greeting and AUTH.
    pub(crate) fn rset(&mut self, out: &mut Vec<Action>) {
        self.state = State::Idle;
        self.send(out, Reply::new(250, "2.0.0", "Ok"));
    }

    /// NOOP (RFC 5321 §4.1.1.9).
    pub(crate) fn noop(&mut self, out: &mut Vec<Action>) {
        self.send(out, Reply::new(250, "2.0.0", "Ok"));
    }

    /// QUIT (RFC 5321 §4.1.1.10): 221, then close.
    pub(crate) fn quit(&mut self, out: &mut Vec<Action>) {
        self.send(out, Reply::new(221, "2.0.0", "Bye"));
        self.close(out);
    }

    /// VRFY (RFC 5321 §4.1.1.6). Disabled, it answers 252 as §3.5.3 and §7.3 recommend, so
    /// it cannot be used to harvest addresses; enabled, the driver answers.
    pub(crate) fn vrfy(&mut self, value: &str, out: &mut Vec<Action>) {
        if self.config.vrfy_enabled {
            out.push(Action::Verify(value.to_string()));
        } else {
            self.send(
                out,
                Reply::new(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"),
            );
        }
    }

    /// HELP (RFC 5321 §4.1.1.8): 214.
    pub(crate) fn help(&mut self, out: &mut Vec<Action>) {
        let commands = if self.config.mode == crate::smtp::Mode::Lmtp { "LHLO" } else { "HELO EHLO" };
        self.send(
            out,
            Reply::new(
                214,
                "2.0.0",
                format!(
                    "Mailstead commands: {commands} MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH"
                ),
            ),
        );
    }

    /// EXPN, ETRN, ATRN, BURL: RFC 5321 §4.2.4 and §7.3, 502 "Command not implemented".
    pub(crate) fn not_implemented(&mut self, command: &str, out: &mut Vec<Action>) {
        self.send(out, Reply::new(502, "5.5.1", format!("{command} not implemented")));
    }
}
