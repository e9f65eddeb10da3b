//! QUOTA (RFC 9208): one quota root "" per account with the STORAGE resource (in KiB).

use imap_types::core::AString;
use imap_types::mailbox::Mailbox;

use super::select::quoted;
use crate::names;
use crate::session::{Done, Session, code};

async fn quota_line(s: &mut Session<'_>) -> Result<Option<String>, Done> {
    let Some(id) = s.account().map(|a| a.id) else { return Err(Done::bad("Not logged in")) };
    let account = match s.server.store.account_by_id(id).await {
        Ok(Some(a)) => a,
        Ok(None) => return Err(Done::no("Account is gone")),
        Err(e) => return Err(Done::store_error(&e)),
    };
    if account.quota_bytes == 0 {
        return Ok(None);
    }
    Ok(Some(format!(
        "* QUOTA \"\" (STORAGE {} {})",
        account.used_bytes.div_ceil(1024),
        account.quota_bytes / 1024
    )))
}

/// GETQUOTAROOT.
pub async fn get_root(s: &mut Session<'_>, mailbox: &Mailbox<'_>) -> Done {
    let name = match names::decode(mailbox, s.coding) {
        Ok(n) => n,
        Err(e) => return Done::no(e.to_string()).with(code("CANNOT")),
    };
    let line = match quota_line(s).await {
        Ok(line) => line,
        Err(done) => return done,
    };
    let shown = quoted(&names::encode(&name, s.coding));
    match line {
        Some(q) => {
            s.conn.send_line(&format!("* QUOTAROOT {shown} \"\""));
            s.conn.send_line(&q);
        }
        None => s.conn.send_line(&format!("* QUOTAROOT {shown}")),
    }
    Done::ok("GETQUOTAROOT completed")
}

/// GETQUOTA.
pub async fn get(s: &mut Session<'_>, root: &AString<'_>) -> Done {
    if !root.as_ref().is_empty() {
        return Done::no("No such quota root").with(code("NONEXISTENT"));
    }
    match quota_line(s).await {
        Ok(Some(q)) => {
            s.conn.send_line(&q);
            Done::ok("GETQUOTA completed")
        }
        Ok(None) => Done::no("No quota set for this account").with(code("NONEXISTENT")),
        Err(done) => done,
    }
}
