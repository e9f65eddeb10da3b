//! The maildrop listing and marks of the TRANSACTION state (RFC 1939 §5): STAT, LIST, UIDL,
//! DELE, RSET. None of them touches the store: deletions are marks until QUIT.

use super::message_number;
use crate::pop3::action::Action;
use crate::pop3::maildrop::{MessageInfo, unique_id};
use crate::pop3::reply::Reply;
use crate::pop3::session::{Session, State, Transaction};

/// Why a message-number argument names no message.
pub(crate) fn no_such_message(arg: &str, count: usize) -> Reply {
    match message_number(arg) {
        None => Reply::err("Invalid message number"),
        Some(n) if n == 0 || n > count => {
            Reply::err(format!("No such message, only {count} messages in maildrop"))
        }
        Some(_) => Reply::err("Message already deleted"),
    }
}

impl Session {
    /// The TRANSACTION data; `None` outside it (the dispatcher's table makes that impossible).
    pub(crate) fn transaction(&mut self) -> Option<&mut Transaction> {
        match &mut self.state {
            State::Transaction(txn) => Some(txn),
            _ => None,
        }
    }

    /// Looks up a live message by its argument, or the reply that says why not.
    pub(crate) fn live_message(&mut self, arg: &str) -> Result<(usize, MessageInfo), Reply> {
        let Some(txn) = self.transaction() else { return Err(Reply::err("Not logged in")) };
        let count = txn.marks.maildrop.messages.len();
        match message_number(arg).and_then(|n| txn.marks.live(n).map(|m| (n, *m))) {
            Some(found) => Ok(found),
            None => Err(no_such_message(arg, count)),
        }
    }

    /// STAT: `+OK count octets` of the messages not deleted (RFC 1939 §5).
    pub(crate) fn stat(&mut self, out: &mut Vec<Action>) {
        let Some(txn) = self.transaction() else { return };
        let (count, size) = txn.marks.totals();
        self.send(out, Reply::ok(format!("{count} {size}")));
    }

    /// LIST [msg]: scan listings `number size` (RFC 1939 §5).
    pub(crate) fn list(&mut self, arg: Option<&str>, out: &mut Vec<Action>) {
        self.listing(arg, out, |_, number, m| format!("{number} {}", m.size));
    }

    /// UIDL [msg]: unique-id listings `number unique-id` (RFC 1939 §7).
    pub(crate) fn uidl(&mut self, arg: Option<&str>, out: &mut Vec<Action>) {
        self.listing(arg, out, |uidvalidity, number, m| {
            format!("{number} {}", unique_id(uidvalidity, m.uid))
        });
    }

    /// LIST and UIDL: one line for one message, or a multi-line listing of every message not
    /// deleted. Deleted messages are not listed (RFC 1939 §5).
    fn listing(
        &mut self,
        arg: Option<&str>,
        out: &mut Vec<Action>,
        line: impl Fn(u32, usize, &MessageInfo) -> String,
    ) {
        let Some(txn) = self.transaction() else { return };
        let uidvalidity = txn.marks.maildrop.uidvalidity;
        let reply = match arg {
            None => {
                let (count, size) = txn.marks.totals();
                let lines: Vec<String> =
                    txn.marks.live_messages().map(|(number, m)| line(uidvalidity, number, m)).collect();
                Reply::lines(format!("{count} messages ({size} octets)"), &lines)
            }
            Some(arg) => match self.live_message(arg) {
                Ok((number, m)) => Reply::ok(line(uidvalidity, number, &m)),
                Err(reply) => reply,
            },
        };
        self.answer(out, reply);
    }

    /// DELE msg: marks the message deleted; it is removed only at QUIT (RFC 1939 §5, §6).
    pub(crate) fn dele(&mut self, arg: &str, out: &mut Vec<Action>) {
        let reply = match self.live_message(arg) {
            Ok((number, _)) => {
                if let Some(txn) = self.transaction()
                    && let Some(mark) = txn.marks.deleted.get_mut(number - 1)
                {
                    *mark = true;
                }
                Reply::ok(format!("Message {number} deleted"))
            }
            Err(reply) => reply,
        };
        self.answer(out, reply);
    }

    /// RSET: unmarks every deleted message (RFC 1939 §5).
    pub(crate) fn rset(&mut self, out: &mut Vec<Action>) {
        let Some(txn) = self.transaction() else { return };
        txn.marks.deleted.fill(false);
        let (count, size) = txn.marks.totals();
        self.send(out, Reply::ok(format!("Maildrop has {count} messages ({size} octets)")));
    }
}
