//! RCPT TO (RFC 5321 §4.1.1.3): adds a recipient once the driver accepts it.

use std::borrow::Cow;

use mailstead_types::Address;
use smtp_proto::RcptTo;

use super::raw_path;
use crate::smtp::action::{Action, Verdict};
use crate::smtp::envelope::{RcptParams, Recipient};
use crate::smtp::reply::Reply;
use crate::smtp::session::{Session, State};

impl Session {
    /// Checks RCPT TO and asks the driver about the recipient.
    pub(crate) fn rcpt(&mut self, to: &RcptTo<Cow<'_, str>>, line: &str, out: &mut Vec<Action>) {
        let (count, smtputf8) = match &self.state {
            State::Mail(envelope) => (envelope.recipients.len(), envelope.mail_params.smtputf8),
            _ => return, // the sequence table lets RCPT through only in `Mail`
        };
        let params = match RcptParams::from_request(to) {
            Ok(params) => params,
            Err(reply) => return self.send(out, reply),
        };
        let address = if to.address.is_empty() {
            // RFC 5321 §4.5.1: <Postmaster> without a domain must be accepted.
            match raw_path(line) {
                Some(path) if path.eq_ignore_ascii_case("postmaster") => {
                    Address::parse(&format!("postmaster@{}", self.config.hostname))
                }
                _ => Address::parse(""),
            }
        } else {
            Address::parse(&to.address)
        };
        let address = match address {
            Ok(address) => address,
            // RFC 3463 X.1.3: bad destination mailbox address syntax.
            Err(_) => return self.send(out, Reply::new(501, "5.1.3", "Bad recipient address syntax")),
        };
        if !smtputf8 && !address.to_string().is_ascii() {
            // RFC 6531 §3.5: a non-ASCII address needs SMTPUTF8 on MAIL.
            return self.send(out, Reply::new(553, "5.6.7", "Non-ASCII address requires SMTPUTF8"));
        }
        if count >= self.config.max_recipients {
            // RFC 5321 §4.5.3.1.10: 452 "too many recipients" (RFC 3463 X.5.3).
            return self.send(out, Reply::new(452, "4.5.3", "Too many recipients"));
        }
        let State::Mail(envelope) = std::mem::take(&mut self.state) else {
            return;
        };
        out.push(Action::CheckRecipient { recipient: address.clone(), params: params.clone() });
        self.state = State::AwaitRecipient { envelope, recipient: Recipient { address, params } };
    }

    /// The driver's answer to [`Action::CheckRecipient`]. On `Accept` the recipient is added
    /// and the session replies `250 2.1.5 Ok`; on `Reject` it sends the driver's reply.
    /// Ignored unless the session is waiting for exactly this answer.
    pub fn recipient_verdict(&mut self, verdict: Verdict) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        let (mut envelope, recipient) = match std::mem::take(&mut self.state) {
            State::AwaitRecipient { envelope, recipient } => (envelope, recipient),
            other => {
                self.state = other;
                return out;
            }
        };
        match verdict {
            Verdict::Accept => {
                envelope.recipients.push(recipient);
                self.state = State::Mail(envelope);
                // RFC 3463 X.1.5: destination address valid.
                self.send(&mut out, Reply::new(250, "2.1.5", "Ok"));
            }
            Verdict::Reject(reply) => {
                self.state = State::Mail(envelope);
                self.send(&mut out, reply);
            }
        }
        self.proceed(out)
    }
}
