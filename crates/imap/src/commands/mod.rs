//! One file per command (or per pair of commands that are one thing, like COPY and MOVE), and
//! [`dispatch`], which calls them. The state table that guards dispatch is in `session`.

pub mod append;
pub mod authenticate;
pub mod capability;
pub mod close;
pub mod compress;
pub mod copy;
pub mod enable;
pub mod expunge;
pub mod fetch;
pub mod id;
pub mod idle;
pub mod list;
pub mod login;
pub mod logout;
pub mod mailboxes;
pub mod namespace;
pub mod noop;
pub mod quota;
pub mod search;
pub mod select;
pub mod sort;
pub mod starttls;
pub mod status;
pub mod store;

use imap_types::command::CommandBody;
use imap_types::core::Tag;

use crate::extended::Extra;
use crate::session::{Done, Session, code};

/// The connection must close (the reason was logged or sent already).
#[derive(Debug)]
pub struct Close;

/// Runs one command whose state was checked.
pub async fn dispatch(
    s: &mut Session<'_>,
    tag: &Tag<'static>,
    body: CommandBody<'static>,
    extra: Extra,
) -> Result<Done, Close> {
    use CommandBody as C;
    let done = match body {
        C::Capability => capability::run(s),
        C::Noop => noop::run(s, "NOOP"),
        C::Check => noop::run(s, "CHECK"),
        C::Logout => logout::run(s),
        C::Id { parameters } => id::run(s, parameters),
        C::StartTLS => return starttls::run(s, tag).await,
        C::Login { username, password } => return login::run(s, &username, &password).await,
        C::Authenticate { mechanism, initial_response } => {
            return authenticate::run(s, &mechanism, initial_response.as_ref()).await;
        }
        C::Enable { capabilities } => enable::run(s, capabilities),
        C::Select { mailbox, parameters } => select::run(s, &mailbox, &parameters, false).await,
        C::Examine { mailbox, parameters } => select::run(s, &mailbox, &parameters, true).await,
        C::Create { mailbox } => mailboxes::create(s, &mailbox).await,
        C::Delete { mailbox } => mailboxes::delete(s, &mailbox).await,
        C::Rename { from, to } => mailboxes::rename(s, &from, &to).await,
        C::Subscribe { mailbox } => mailboxes::subscribe(s, &mailbox, true).await,
        C::Unsubscribe { mailbox } => mailboxes::subscribe(s, &mailbox, false).await,
        C::List { reference, mailbox_wildcard } => {
            let extra = match extra {
                Extra::List(l) => Some(l),
                _ => None,
            };
            list::run(s, &reference, &mailbox_wildcard, extra, false).await
        }
        C::Lsub { reference, mailbox_wildcard } => {
            list::run(s, &reference, &mailbox_wildcard, None, true).await
        }
        C::Status { mailbox, item_names } => status::run(s, &mailbox, &item_names).await,
        C::Append { mailbox, flags, date, message } => {
            append::run(s, &mailbox, &flags, date.as_ref(), &message).await
        }
        C::Namespace => namespace::run(s),
        C::Idle => return idle::run(s).await,
        C::GetQuota { root } => quota::get(s, &root).await,
        C::GetQuotaRoot { mailbox } => quota::get_root(s, &mailbox).await,
        C::SetQuota { .. } => Done::no("Quotas are set by the administrator").with(code("NOPERM")),
        C::Compress { .. } => return compress::run(s, tag).await,
        C::Close => close::run(s, true).await,
        C::Unselect => close::run(s, false).await,
        C::Expunge => expunge::run(s, None).await,
        C::ExpungeUid { sequence_set } => expunge::run(s, Some(&sequence_set)).await,
        C::Search { charset, criteria, uid } => {
            let ret = match extra {
                Extra::Search(r) => Some(r),
                _ => None,
            };
            search::run(s, tag, charset.as_ref(), criteria.as_ref(), uid, ret).await
        }
        C::Sort { sort_criteria, charset, search_criteria, uid } => {
            sort::run_sort(s, sort_criteria.as_ref(), &charset, search_criteria.as_ref(), uid).await
        }
        C::Thread { algorithm, charset, search_criteria, uid } => {
            sort::run_thread(s, &algorithm, &charset, search_criteria.as_ref(), uid).await
        }
        C::Fetch { sequence_set, macro_or_item_names, uid, modifiers } => {
            fetch::run(s, &sequence_set, &macro_or_item_names, uid, &modifiers).await
        }
        C::Store { sequence_set, kind, response, flags, uid, modifiers } => {
            store::run(s, &sequence_set, &kind, &response, &flags, uid, &modifiers).await
        }
        C::Copy { sequence_set, mailbox, uid } => copy::run(s, &sequence_set, &mailbox, uid, false).await,
        C::Move { sequence_set, mailbox, uid } => copy::run(s, &sequence_set, &mailbox, uid, true).await,
    };
    Ok(done)
}
