//! Shared SQL helpers: row decoding, keyword encoding, blob reference counting, mailbox
//! counters. Used by the trait implementations in the sibling modules.

use rusqlite::{Connection, OptionalExtension, Row, params};

use mailstead_store::model::{Account, AccountId, BlobId, Mailbox, MailboxId, MessageEntry};
use mailstead_store::{Result, StoreError, StoreErrorKind};
use mailstead_types::{Address, Flags, SpecialUse};

use crate::blobs::{BlobFiles, Placement, PreparedBlob};
use crate::db_err;
use crate::writer::JobCtx;

/// Columns for [`account`].
pub const ACCOUNT_COLUMNS: &str = "id, address, password_hash, quota_bytes, used_bytes, created";

/// Decodes an account row.
pub fn account(row: &Row<'_>) -> rusqlite::Result<Account> {
    let address: String = row.get(1)?;
    let address = Address::parse(&address).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Account {
        id: row.get(0)?,
        address,
        password_hash: row.get(2)?,
        quota_bytes: row.get::<_, i64>(3)? as u64,
        used_bytes: row.get::<_, i64>(4)? as u64,
        created: row.get(5)?,
    })
}

/// Columns for [`entry`].
pub const ENTRY_COLUMNS: &str = "uid, blob, size, internal_date, flags, keywords, modseq";

/// Decodes a message row.
pub fn entry(row: &Row<'_>) -> rusqlite::Result<MessageEntry> {
    Ok(MessageEntry {
        uid: row.get(0)?,
        blob: BlobId(row.get(1)?),
        size: row.get::<_, i64>(2)? as u64,
        internal_date: row.get(3)?,
        flags: Flags::from_bits(row.get::<_, i64>(4)? as u8),
        keywords: match row.get_ref(5)? {
            // Most messages have none: no allocation for them.
            rusqlite::types::ValueRef::Text(b"") => Vec::new(),
            value => decode_keywords(value.as_str()?),
        },
        modseq: row.get::<_, i64>(6)? as u64,
    })
}

/// Keywords are stored space-separated (IMAP atoms contain no spaces).
pub fn encode_keywords(keywords: &[String]) -> String {
    keywords.join(" ")
}

/// Inverse of [`encode_keywords`].
pub fn decode_keywords(s: &str) -> Vec<String> {
    s.split(' ').filter(|k| !k.is_empty()).map(String::from).collect()
}

/// Sorts and removes case-insensitive duplicates (keywords compare case-insensitively,
/// RFC 3501 §2.3.2), keeping the first spelling; drops empty and space-holding ones.
pub fn normalize_keywords(keywords: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in keywords {
        if k.is_empty() || k.contains(char::is_whitespace) {
            continue;
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(k)) {
            out.push(k.clone());
        }
    }
    out.sort_by_key(|k| k.to_ascii_lowercase());
    out
}

/// Loads one mailbox with its counters.
pub fn mailbox_by_id(conn: &Connection, id: MailboxId) -> Result<Option<Mailbox>> {
    mailbox_where(conn, "m.id = ?1", params![id]).map(|mut v| v.pop())
}

/// Loads mailboxes matching a condition on `m` (the mailboxes table), with counters.
pub fn mailbox_where(conn: &Connection, cond: &str, args: impl rusqlite::Params) -> Result<Vec<Mailbox>> {
    let sql = format!(
        "SELECT m.id, m.account, m.name, m.uidvalidity, m.uidnext, m.highest_modseq, m.special_use, m.subscribed,
                COUNT(x.uid), COALESCE(SUM(x.flags & 1 = 0), 0), COALESCE(SUM(x.size), 0)
         FROM mailboxes m LEFT JOIN messages x ON x.mailbox = m.id
         WHERE {cond} GROUP BY m.id
         ORDER BY CASE WHEN m.name = 'INBOX' THEN 0 ELSE 1 END, m.name"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = stmt.query_map(args, mailbox_row).map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

/// Loads one mailbox by account and name without counting its messages (the counters are 0;
/// callers that read the messages fill them in).
pub fn mailbox_plain(conn: &Connection, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
    conn.prepare_cached(
        "SELECT id, account, name, uidvalidity, uidnext, highest_modseq, special_use, subscribed, 0, 0, 0
         FROM mailboxes WHERE account = ?1 AND name = ?2",
    )
    .and_then(|mut stmt| stmt.query_row(params![account, name], mailbox_row).optional())
    .map_err(db_err)
}

/// Decodes a mailbox row: the mailbox columns, then the message count, unseen count and size.
fn mailbox_row(r: &Row<'_>) -> rusqlite::Result<Mailbox> {
    Ok(Mailbox {
        id: r.get(0)?,
        account: r.get(1)?,
        name: r.get(2)?,
        uidvalidity: r.get::<_, i64>(3)? as u32,
        uidnext: r.get::<_, i64>(4)? as u32,
        highest_modseq: r.get::<_, i64>(5)? as u64,
        special_use: r.get::<_, Option<String>>(6)?.as_deref().and_then(SpecialUse::parse),
        subscribed: r.get(7)?,
        messages: r.get::<_, i64>(8)? as u32,
        unseen: r.get::<_, i64>(9)? as u32,
        size: r.get::<_, i64>(10)? as u64,
    })
}

/// Raises a mailbox's HIGHESTMODSEQ by one and returns the new value.
pub fn next_modseq(conn: &Connection, mailbox: MailboxId) -> Result<u64> {
    conn.query_row(
        "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?1 RETURNING highest_modseq",
        [mailbox],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map_err(db_err)?
    .map(|v| v as u64)
    .ok_or_else(|| StoreError::not_found(format!("mailbox {mailbox} does not exist")))
}

/// Allocates `count` consecutive UIDs, returning the first.
pub fn take_uids(conn: &Connection, mailbox: MailboxId, count: u32) -> Result<u32> {
    let next: i64 = conn
        .query_row(
            "UPDATE mailboxes SET uidnext = uidnext + ?2 WHERE id = ?1 RETURNING uidnext",
            params![mailbox, count],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let first = next - i64::from(count);
    u32::try_from(next).map_err(|_| StoreError::invalid("mailbox ran out of UIDs"))?;
    Ok(first as u32)
}

/// A fresh UIDVALIDITY: the current time in seconds, but always above every earlier one.
pub fn new_uidvalidity(conn: &Connection) -> Result<u32> {
    let last: Option<i64> = conn
        .query_row("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_uidvalidity'", [], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    let value = (crate::now_secs() & 0xffff_ffff).max(last.unwrap_or(0) + 1).max(1);
    conn.execute(
        "INSERT INTO meta(key, value) VALUES('last_uidvalidity', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [value.to_string()],
    )
    .map_err(db_err)?;
    Ok(value as u32)
}

/// Adds `count` references to a blob, inserting its row (and re-creating a file a concurrent
/// cleanup removed) as needed. Runs under the write lock. When the row already exists, it keeps
/// its place, and bytes this blob wrote to a segment become dead space.
pub fn blob_ref(
    conn: &Connection,
    ctx: &mut JobCtx,
    files: &BlobFiles,
    blob: &PreparedBlob,
    count: i64,
) -> Result<()> {
    let (data, seg, off): (Option<&[u8]>, Option<i64>, Option<i64>) = match &blob.placement {
        Placement::Inline => (Some(&blob.data), None, None),
        Placement::Segment(slot) => {
            ctx.sync_segment(slot);
            (None, Some(slot.segment.id() as i64), Some(slot.offset as i64))
        }
        Placement::File => (None, None, None),
    };
    // One statement inserts or counts the reference and tells where the bytes live.
    let stored_in_file: bool = conn
        .prepare_cached(
            "INSERT INTO blobs(hash, size, data, refs, seg, off) VALUES(?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(hash) DO UPDATE SET refs = refs + excluded.refs
             RETURNING data IS NULL AND seg IS NULL",
        )
        .and_then(|mut s| {
            s.query_row(params![blob.id.0, blob.data.len() as i64, data, count, seg, off], |r| r.get(0))
        })
        .map_err(db_err)?;
    if stored_in_file && !files.exists(&blob.id) {
        files.write(blob)?;
    }
    Ok(())
}

/// Adds references to a blob that is known to exist (COPY).
pub fn blob_ref_existing(conn: &Connection, blob: &BlobId, count: i64) -> Result<()> {
    conn.execute("UPDATE blobs SET refs = refs + ?2 WHERE hash = ?1", params![blob.0, count])
        .map_err(db_err)?;
    Ok(())
}

/// Drops `count` references; at zero the row goes and a file blob is scheduled for removal (a
/// segment blob's bytes become dead space, reclaimed by compaction).
pub fn blob_unref(conn: &Connection, ctx: &mut JobCtx, blob: &BlobId, count: i64) -> Result<()> {
    let left: Option<(i64, bool)> = conn
        .query_row(
            "UPDATE blobs SET refs = refs - ?2 WHERE hash = ?1 RETURNING refs, data IS NULL AND seg IS NULL",
            params![blob.0, count],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?;
    if let Some((refs, in_file)) = left
        && refs <= 0
    {
        conn.execute("DELETE FROM blobs WHERE hash = ?1", [&blob.0]).map_err(db_err)?;
        conn.execute("DELETE FROM message_cache WHERE blob = ?1", [&blob.0]).map_err(db_err)?;
        if in_file {
            ctx.unreferenced(blob.clone());
        }
    }
    Ok(())
}

/// Removes all messages of a mailbox (for DELETE and account deletion): drops blob references
/// and the account's usage.
pub fn drop_mailbox_messages(conn: &Connection, ctx: &mut JobCtx, mailbox: MailboxId) -> Result<()> {
    let mut stmt = conn
        .prepare_cached("SELECT blob, COUNT(*), SUM(size) FROM messages WHERE mailbox = ?1 GROUP BY blob")
        .map_err(db_err)?;
    let groups = stmt
        .query_map([mailbox], |r| Ok((BlobId(r.get(0)?), r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    let mut freed = 0;
    for (blob, count, size) in groups {
        blob_unref(conn, ctx, &blob, count)?;
        freed += size;
    }
    conn.execute(
        "UPDATE accounts SET used_bytes = MAX(0, used_bytes - ?2) WHERE id = (SELECT account FROM mailboxes WHERE id = ?1)",
        params![mailbox, freed],
    )
    .map_err(db_err)?;
    conn.execute("DELETE FROM messages WHERE mailbox = ?1", [mailbox]).map_err(db_err)?;
    Ok(())
}

/// Maps a uniqueness violation to `AlreadyExists` with a message.
pub fn unique_as_exists(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
        StoreError::new(StoreErrorKind::AlreadyExists, what())
    } else {
        db_err(e)
    }
}
