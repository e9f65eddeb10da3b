//! MAIL FROM (RFC 5321 §4.1.1.2): starts a transaction once the driver accepts the sender.

use std::borrow::Cow;

use mailstead_types::Address;
use smtp_proto::MailFrom;

use super::raw_path;
use crate::smtp::action::{Action, Verdict};
use crate::smtp::envelope::{Envelope, MailParams};
use crate::smtp::reply::Reply;
use crate::smtp::session::{Session, State};

impl Session {
    /// Checks MAIL FROM and asks the driver about the sender.
    pub(crate) fn mail(&mut self, from: &MailFrom<Cow<'_, str>>, line: &str, out: &mut Vec<Action>) {
        if self.config.auth_required && self.auth_user.is_none() {
            // RFC 4954 §6: 530 5.7.0 when policy requires authentication.
            return self.send(out, Reply::new(530, "5.7.0", "Authentication required"));
        }
        let params = match MailParams::from_request(from) {
            Ok(params) => params,
            Err(reply) => return self.send(out, reply),
        };
        let sender = if from.address.is_empty() {
            // `smtp-proto` also maps a bare `<postmaster>` to ""; only `<>` is the null sender
            // (RFC 5321 §4.5.5).
            if raw_path(line) != Some("") {
                return self.send(out, Reply::new(501, "5.1.7", "Bad sender address syntax"));
            }
            None
        } else {
            match Address::parse(&from.address) {
                Ok(address) => Some(address),
                // RFC 3463 X.1.7: bad sender's mailbox address syntax.
                Err(e) => {
                    return self.send(out, Reply::new(501, "5.1.7", format!("Bad sender address: {e}")));
                }
            }
        };
        if let Some(address) = &sender
            && !params.smtputf8
            && !address.to_string().is_ascii()
        {
            // RFC 6531 §3.5: a non-ASCII address needs the SMTPUTF8 parameter.
            return self.send(out, Reply::new(553, "5.6.7", "Non-ASCII address requires SMTPUTF8"));
        }
        if params.size.is_some_and(|size| size > self.config.max_message_size) {
            // RFC 1870 §6.2: a declared size above our limit is refused before any data.
            return self
                .send(out, Reply::new(552, "5.3.4", "Message size exceeds fixed maximum message size"));
        }
        out.push(Action::CheckSender { sender: sender.clone(), params: params.clone() });
        self.state = State::AwaitSender { sender, params };
    }

    /// The driver's answer to [`Action::CheckSender`]. On `Accept` the session replies
    /// `250 2.1.0 Ok` and the transaction begins; on `Reject` it sends the driver's reply.
    /// Ignored unless the session is waiting for exactly this answer.
    pub fn sender_verdict(&mut self, verdict: Verdict) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        let (sender, params) = match std::mem::take(&mut self.state) {
            State::AwaitSender { sender, params } => (sender, params),
            other => {
                self.state = other;
                return out;
            }
        };
        match verdict {
            Verdict::Accept => {
                self.state = State::Mail(Envelope {
                    helo: self.helo.clone().unwrap_or_default(),
                    sender,
                    mail_params: params,
                    recipients: Vec::new(),
                    auth_user: self.auth_user.clone(),
                });
                // RFC 3463 X.1.0: other address status (sender accepted).
                self.send(&mut out, Reply::new(250, "2.1.0", "Ok"));
            }
            Verdict::Reject(reply) => self.send(&mut out, reply),
        }
        self.proceed(out)
    }
}
