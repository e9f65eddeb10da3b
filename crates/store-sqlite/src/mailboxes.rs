//! Mailbox operations: list, create, delete, rename (with children and INBOX semantics),
//! subscribe. Names use `/` as the hierarchy separator; uniqueness ignores ASCII case, and
//! `INBOX` is always spelled in capitals.

use rusqlite::{Connection, OptionalExtension, params};

use mailstead_store::model::{AccountId, Mailbox, MailboxId};
use mailstead_store::{Change, HIERARCHY_SEPARATOR, Result, StoreError};
use mailstead_types::SpecialUse;

use crate::blobs::BlobFiles;
use crate::rows;
use crate::writer::JobCtx;
use crate::{SqliteStore, db_err};

/// Longest mailbox name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 512;

/// Checks and normalises a mailbox name.
pub fn validate_name(name: &str) -> Result<String> {
    let sep = HIERARCHY_SEPARATOR;
    let bad = name.is_empty()
        || name.len() > MAX_NAME_LEN
        || name.starts_with(sep)
        || name.ends_with(sep)
        || name.contains("//")
        || name.chars().any(|c| c.is_control() || c == '*' || c == '%');
    if bad {
        return Err(StoreError::invalid(format!(
            "invalid mailbox name {name:?}: it must be non-empty, at most {MAX_NAME_LEN} bytes, without control \
             characters, '*' or '%', empty levels, or a leading or trailing '{sep}'"
        )));
    }
    Ok(canonical(name).to_string())
}

/// A mailbox name as stored: INBOX is case-insensitive (RFC 3501 §5.1), other names are kept.
pub fn canonical(name: &str) -> &str {
    if name.eq_ignore_ascii_case("INBOX") { "INBOX" } else { name }
}

/// Finds a mailbox id by name within a transaction.
pub fn find(conn: &Connection, account: AccountId, name: &str) -> Result<Option<MailboxId>> {
    let name = canonical(name);
    conn.prepare_cached("SELECT id FROM mailboxes WHERE account = ?1 AND name = ?2")
        .and_then(|mut s| s.query_row(params![account, name], |r| r.get(0)).optional())
        .map_err(db_err)
}

fn insert(conn: &Connection, account: AccountId, name: &str, role: Option<SpecialUse>) -> Result<MailboxId> {
    conn.execute(
        "INSERT INTO mailboxes(account, name, uidvalidity, uidnext, highest_modseq, special_use, subscribed)
         VALUES(?1, ?2, ?3, 1, 1, ?4, 1)",
        params![account, name, rows::new_uidvalidity(conn)?, role.map(|r| r.as_str())],
    )
    .map_err(|e| rows::unique_as_exists(e, || format!("mailbox {name} already exists")))?;
    Ok(conn.last_insert_rowid())
}

/// Moves messages between mailboxes inside a transaction: new UIDs in the destination,
/// tombstones in the source. Used by MOVE and by RENAME INBOX.
pub fn move_rows(
    conn: &Connection,
    ctx: &mut JobCtx,
    account: AccountId,
    from: MailboxId,
    uids: &[u32],
    to: MailboxId,
) -> Result<Vec<(u32, u32)>> {
    let mapping = crate::mail::copy_rows(conn, ctx, account, from, uids, to, CopyKind::Move)?;
    let moved: Vec<u32> = mapping.iter().map(|(old, _)| *old).collect();
    crate::mail::remove_rows(conn, ctx, account, from, &moved, RemoveKind::Moved)?;
    Ok(mapping)
}

/// Whether a copy adds to the account's usage (COPY) or not (MOVE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    /// COPY: a new reference, usage grows.
    Copy,
    /// MOVE: the source rows go away in the same transaction.
    Move,
}

/// Whether removed rows free the account's usage (EXPUNGE) or were moved (MOVE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveKind {
    /// EXPUNGE: references and usage drop.
    Expunged,
    /// MOVE: the destination took the references over.
    Moved,
}

impl SqliteStore {
    pub(crate) async fn mailboxes_of(&self, account: AccountId) -> Result<Vec<Mailbox>> {
        self.inner.readers.read(move |conn| rows::mailbox_where(conn, "m.account = ?1", [account])).await
    }

    pub(crate) async fn mailbox_named(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        let name = canonical(name).to_string();
        self.inner
            .readers
            .read(move |conn| {
                rows::mailbox_where(conn, "m.account = ?1 AND m.name = ?2", params![account, name])
                    .map(|mut v| v.pop())
            })
            .await
    }

    pub(crate) async fn create_mailbox_impl(
        &self,
        account: AccountId,
        name: &str,
        role: Option<SpecialUse>,
    ) -> Result<Mailbox> {
        let name = validate_name(name)?;
        self.inner
            .writer
            .write(move |conn, ctx| {
                let id = insert(conn, account, &name, role)?;
                ctx.change(account, Change::MailboxCreated { name: name.clone() });
                rows::mailbox_by_id(conn, id)?.ok_or_else(|| StoreError::unavailable("mailbox vanished"))
            })
            .await
    }

    pub(crate) async fn delete_mailbox_impl(&self, account: AccountId, name: &str) -> Result<()> {
        let name = validate_name(name)?;
        if name == "INBOX" {
            return Err(StoreError::invalid("INBOX cannot be deleted"));
        }
        self.inner
            .writer
            .write(move |conn, ctx| {
                let id = find(conn, account, &name)?
                    .ok_or_else(|| StoreError::not_found(format!("no mailbox {name}")))?;
                rows::drop_mailbox_messages(conn, ctx, id)?;
                conn.execute("DELETE FROM mailboxes WHERE id = ?1", [id]).map_err(db_err)?;
                ctx.change(account, Change::MailboxDeleted { name });
                Ok(())
            })
            .await
    }

    pub(crate) async fn rename_mailbox_impl(&self, account: AccountId, from: &str, to: &str) -> Result<()> {
        let (from, to) = (validate_name(from)?, validate_name(to)?);
        if to == "INBOX" {
            return Err(StoreError::exists("INBOX already exists"));
        }
        let child_prefix = format!("{from}{HIERARCHY_SEPARATOR}");
        if to.starts_with(&child_prefix) {
            return Err(StoreError::invalid("a mailbox cannot be renamed into its own hierarchy"));
        }
        self.inner
            .writer
            .write(move |conn, ctx| {
                let id = find(conn, account, &from)?
                    .ok_or_else(|| StoreError::not_found(format!("no mailbox {from}")))?;
                if find(conn, account, &to)?.is_some() {
                    return Err(StoreError::exists(format!("mailbox {to} already exists")));
                }
                if from == "INBOX" {
                    // RFC 3501 §6.3.5: move INBOX's messages to the new name, leave INBOX empty.
                    let new_id = insert(conn, account, &to, None)?;
                    let uids: Vec<u32> = conn
                        .prepare("SELECT uid FROM messages WHERE mailbox = ?1 ORDER BY uid")
                        .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
                        .map_err(db_err)?;
                    move_rows(conn, ctx, account, id, &uids, new_id)?;
                    ctx.change(account, Change::MailboxCreated { name: to });
                    return Ok(());
                }
                let children: Vec<(i64, String)> = conn
                    .prepare("SELECT id, name FROM mailboxes WHERE account = ?1 AND substr(name, 1, ?2) = ?3")
                    .and_then(|mut s| {
                        s.query_map(params![account, child_prefix.len() as i64, child_prefix], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })?
                        .collect()
                    })
                    .map_err(db_err)?;
                let mut renames = vec![(id, from.clone(), to.clone())];
                for (child, name) in children {
                    let new_name = format!("{to}{}", &name[from.len()..]);
                    renames.push((child, name, new_name));
                }
                for (mailbox, old, new) in renames {
                    conn.execute("UPDATE mailboxes SET name = ?2 WHERE id = ?1", params![mailbox, new])
                        .map_err(|e| rows::unique_as_exists(e, || format!("mailbox {new} already exists")))?;
                    ctx.change(account, Change::MailboxRenamed { from: old, to: new });
                }
                Ok(())
            })
            .await
    }

    pub(crate) async fn set_subscribed_impl(
        &self,
        account: AccountId,
        name: &str,
        subscribed: bool,
    ) -> Result<()> {
        let name = validate_name(name)?;
        self.inner
            .writer
            .write(move |conn, _| {
                let n = conn
                    .execute(
                        "UPDATE mailboxes SET subscribed = ?3 WHERE account = ?1 AND name = ?2",
                        params![account, name, subscribed],
                    )
                    .map_err(db_err)?;
                if n == 0 {
                    return Err(StoreError::not_found(format!("no mailbox {name}")));
                }
                Ok(())
            })
            .await
    }

    pub(crate) fn blob_files(&self) -> &BlobFiles {
        &self.inner.blobs
    }
}
