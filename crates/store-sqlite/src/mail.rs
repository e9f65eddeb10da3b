//! Messages: append (one body, many mailboxes), flags with MODSEQ and UNCHANGEDSINCE, copy,
//! move, expunge with tombstones, and change queries for CONDSTORE/QRESYNC.

use std::collections::BTreeSet;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use mailstead_store::model::*;
use mailstead_store::{Change, ChangeHub, MailStore, Result, StoreError, StoreErrorKind};
use mailstead_types::{Flag, Flags, SpecialUse};

use crate::blobs::{BlobFiles, PreparedBlob};
use crate::mailboxes::{self, CopyKind, RemoveKind};
use crate::rows::{self, ENTRY_COLUMNS};
use crate::writer::JobCtx;
use crate::{SqliteStore, db_err};

#[async_trait]
impl MailStore for SqliteStore {
    fn changes(&self) -> &ChangeHub {
        &self.inner.hub
    }

    async fn list_mailboxes(&self, account: AccountId) -> Result<Vec<Mailbox>> {
        self.mailboxes_of(account).await
    }

    async fn get_mailbox(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        self.mailbox_named(account, name).await
    }

    async fn create_mailbox(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<Mailbox> {
        self.create_mailbox_impl(account, name, special_use).await
    }

    async fn delete_mailbox(&self, account: AccountId, name: &str) -> Result<()> {
        self.delete_mailbox_impl(account, name).await
    }

    async fn rename_mailbox(&self, account: AccountId, from: &str, to: &str) -> Result<()> {
        self.rename_mailbox_impl(account, from, to).await
    }

    async fn set_subscribed(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()> {
        self.set_subscribed_impl(account, name, subscribed).await
    }

    async fn append(&self, message: NewMessage, targets: Vec<AppendTarget>) -> Result<Vec<Result<Appended>>> {
        let blob = self.prepare_blob(message.data.clone()).await?;
        let files = self.inner.blobs.clone();
        self.inner
            .writer
            .write(move |conn, ctx| {
                let keywords = rows::normalize_keywords(&message.keywords);
                let mut results = Vec::with_capacity(targets.len());
                for target in &targets {
                    results.push(append_one(conn, ctx, target, &blob, &message, &keywords)?);
                }
                let refs = results.iter().filter(|r| r.is_ok()).count() as i64;
                if refs > 0 {
                    rows::blob_ref(conn, ctx, &files, &blob, refs)?;
                } else if blob.in_file() {
                    ctx.unreferenced(blob.id.clone());
                }
                Ok(results)
            })
            .await
    }

    async fn append_each(&self, items: Vec<(NewMessage, AppendTarget)>) -> Result<Vec<Result<Appended>>> {
        let blobs = self.prepare_blobs(items.iter().map(|(m, _)| m.data.clone()).collect()).await?;
        let files = self.inner.blobs.clone();
        // Every delivery runs this: no savepoint (see `Writer::write_without_savepoint`).
        // `append_one` undoes its own writes when it refuses a copy, so the job fails only
        // when the database does.
        self.inner
            .writer
            .write_without_savepoint(move |conn, ctx| {
                let mut results = Vec::with_capacity(items.len());
                for ((message, target), blob) in items.iter().zip(&blobs) {
                    let keywords = rows::normalize_keywords(&message.keywords);
                    let result = append_one(conn, ctx, target, blob, message, &keywords)?;
                    if result.is_ok() {
                        rows::blob_ref(conn, ctx, &files, blob, 1)?;
                    } else if blob.in_file() {
                        ctx.unreferenced(blob.id.clone());
                    }
                    results.push(result);
                }
                Ok(results)
            })
            .await
    }

    async fn entries(&self, mailbox: MailboxId) -> Result<Vec<MessageEntry>> {
        self.inner
            .readers
            .read(move |conn| {
                let sql = format!("SELECT {ENTRY_COLUMNS} FROM messages WHERE mailbox = ?1 ORDER BY uid");
                let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
                let rows = stmt.query_map([mailbox], rows::entry).map_err(db_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
            })
            .await
    }

    async fn open_mailbox(
        &self,
        account: AccountId,
        name: &str,
        cached_modseq: Option<u64>,
    ) -> Result<Option<(Mailbox, Option<Vec<MessageEntry>>)>> {
        let name = mailboxes::canonical(name).to_string();
        self.inner
            .readers
            .read(move |conn| {
                // One read transaction: the mailbox row and its messages from the same snapshot.
                let tx = conn.unchecked_transaction().map_err(db_err)?;
                let Some(mut mailbox) = rows::mailbox_plain(&tx, account, &name)? else {
                    return Ok(None);
                };
                if cached_modseq == Some(mailbox.highest_modseq) {
                    return Ok(Some((mailbox, None)));
                }
                let sql = format!("SELECT {ENTRY_COLUMNS} FROM messages WHERE mailbox = ?1 ORDER BY uid");
                let entries = {
                    let mut stmt = tx.prepare_cached(&sql).map_err(db_err)?;
                    let rows = stmt.query_map([mailbox.id], rows::entry).map_err(db_err)?;
                    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)?
                };
                tx.finish().map_err(db_err)?;
                mailbox.messages = u32::try_from(entries.len()).unwrap_or(u32::MAX);
                mailbox.unseen =
                    u32::try_from(entries.iter().filter(|e| !e.flags.contains(Flag::Seen)).count())
                        .unwrap_or(u32::MAX);
                mailbox.size = entries.iter().map(|e| e.size).sum();
                Ok(Some((mailbox, Some(entries))))
            })
            .await
    }

    async fn read_message(&self, blob: &BlobId) -> Result<MessageData> {
        let id = blob.clone();
        let store = self.clone();
        self.inner
            .readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(BLOB_LOCATION).map_err(db_err)?;
                load_blob(&mut stmt, store.blob_files(), &id)
            })
            .await
    }

    async fn read_messages(&self, blobs: Vec<BlobId>) -> Result<Vec<Result<MessageData>>> {
        let store = self.clone();
        self.inner
            .readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(BLOB_LOCATION).map_err(db_err)?;
                Ok(blobs.iter().map(|id| load_blob(&mut stmt, store.blob_files(), id)).collect())
            })
            .await
    }

    async fn fetch_cache(&self, blobs: Vec<BlobId>) -> Result<Vec<Option<CachedFetch>>> {
        self.inner
            .readers
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT envelope, bodystructure FROM message_cache WHERE blob = ?1")
                    .map_err(db_err)?;
                let mut out = Vec::with_capacity(blobs.len());
                for id in &blobs {
                    let row: Option<(Option<Vec<u8>>, Option<Vec<u8>>)> =
                        stmt.query_row([&id.0], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(db_err)?;
                    out.push(match row {
                        Some((Some(envelope), Some(body_structure))) => {
                            Some(CachedFetch { envelope, body_structure })
                        }
                        _ => None,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn put_fetch_cache(&self, items: Vec<(BlobId, CachedFetch)>) -> Result<()> {
        self.inner
            .writer
            .write(move |conn, _ctx| {
                // Only for contents still stored: blob_unref deletes the entry with the blob.
                let mut stmt = conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO message_cache(blob, envelope, bodystructure)
                         SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM blobs WHERE hash = ?1)",
                    )
                    .map_err(db_err)?;
                for (blob, cached) in &items {
                    stmt.execute(rusqlite::params![blob.0, cached.envelope, cached.body_structure])
                        .map_err(db_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn update_flags(
        &self,
        mailbox: MailboxId,
        uids: Vec<u32>,
        update: FlagUpdate,
    ) -> Result<FlagResult> {
        self.inner.writer.write(move |conn, ctx| update_flags(conn, ctx, mailbox, &uids, &update)).await
    }

    async fn copy_messages(&self, from: MailboxId, uids: Vec<u32>, to: MailboxId) -> Result<CopyResult> {
        self.inner
            .writer
            .write(move |conn, ctx| {
                let account = same_account(conn, from, to)?;
                let mapping = copy_rows(conn, ctx, account, from, &uids, to, CopyKind::Copy)?;
                Ok(CopyResult { uidvalidity: uidvalidity(conn, to)?, mapping })
            })
            .await
    }

    async fn move_messages(&self, from: MailboxId, uids: Vec<u32>, to: MailboxId) -> Result<CopyResult> {
        self.inner
            .writer
            .write(move |conn, ctx| {
                let account = same_account(conn, from, to)?;
                let mapping = mailboxes::move_rows(conn, ctx, account, from, &uids, to)?;
                Ok(CopyResult { uidvalidity: uidvalidity(conn, to)?, mapping })
            })
            .await
    }

    async fn expunge(&self, mailbox: MailboxId, uids: Option<Vec<u32>>) -> Result<Vec<u32>> {
        self.inner
            .writer
            .write(move |conn, ctx| {
                let account = account_of(conn, mailbox)?;
                let deleted: Vec<u32> = conn
                    .prepare_cached(
                        "SELECT uid FROM messages WHERE mailbox = ?1 AND (flags & ?2) != 0 ORDER BY uid",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![mailbox, Flags::EMPTY.with(Flag::Deleted).bits()], |r| r.get(0))?
                            .collect()
                    })
                    .map_err(db_err)?;
                let chosen: Vec<u32> = match &uids {
                    Some(only) => {
                        let only: BTreeSet<u32> = only.iter().copied().collect();
                        deleted.into_iter().filter(|u| only.contains(u)).collect()
                    }
                    None => deleted,
                };
                remove_rows(conn, ctx, account, mailbox, &chosen, RemoveKind::Expunged)?;
                Ok(chosen)
            })
            .await
    }

    async fn remove_messages(&self, mailbox: MailboxId, uids: Vec<u32>) -> Result<Vec<u32>> {
        self.inner
            .writer
            .write(move |conn, ctx| {
                let account = account_of(conn, mailbox)?;
                let mut present = Vec::with_capacity(uids.len());
                {
                    let mut stmt = conn
                        .prepare_cached("SELECT 1 FROM messages WHERE mailbox = ?1 AND uid = ?2")
                        .map_err(db_err)?;
                    let mut wanted: Vec<u32> = uids.clone();
                    wanted.sort_unstable();
                    wanted.dedup();
                    for uid in wanted {
                        if stmt.exists(params![mailbox, uid]).map_err(db_err)? {
                            present.push(uid);
                        }
                    }
                }
                remove_rows(conn, ctx, account, mailbox, &present, RemoveKind::Expunged)?;
                Ok(present)
            })
            .await
    }

    async fn changes_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Changes> {
        self.inner
            .readers
            .read(move |conn| {
                let highest: i64 = conn
                    .query_row("SELECT highest_modseq FROM mailboxes WHERE id = ?1", [mailbox], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?
                    .ok_or_else(|| StoreError::not_found(format!("mailbox {mailbox} does not exist")))?;
                let sql = format!(
                    "SELECT {ENTRY_COLUMNS} FROM messages WHERE mailbox = ?1 AND modseq > ?2 ORDER BY uid"
                );
                let changed = conn
                    .prepare_cached(&sql)
                    .and_then(|mut s| s.query_map(params![mailbox, modseq as i64], rows::entry)?.collect())
                    .map_err(db_err)?;
                let vanished = conn
                    .prepare_cached(
                        "SELECT uid FROM expunged WHERE mailbox = ?1 AND modseq > ?2 ORDER BY uid",
                    )
                    .and_then(|mut s| s.query_map(params![mailbox, modseq as i64], |r| r.get(0))?.collect())
                    .map_err(db_err)?;
                Ok(Changes { highest_modseq: highest as u64, changed, vanished })
            })
            .await
    }
}

impl SqliteStore {
    /// Hashes message bodies and writes the large ones to files. Small bodies (kept inline)
    /// are only hashed, on the calling thread: a thread hand-off costs more than hashing them.
    pub(crate) async fn prepare_blobs(&self, datas: Vec<MessageData>) -> Result<Vec<PreparedBlob>> {
        let files = self.inner.blobs.clone();
        if datas.iter().all(|d| !files.needs_file(d.len())) {
            return datas.into_iter().map(|d| files.prepare(d)).collect();
        }
        tokio::task::spawn_blocking(move || datas.into_iter().map(|d| files.prepare(d)).collect())
            .await
            .map_err(|e| StoreError::unavailable(format!("blob task failed: {e}")))?
    }

    /// [`SqliteStore::prepare_blobs`] for one body.
    pub(crate) async fn prepare_blob(&self, data: MessageData) -> Result<PreparedBlob> {
        self.prepare_blobs(vec![data])
            .await?
            .pop()
            .ok_or_else(|| StoreError::unavailable("blob preparation returned nothing"))
    }
}

/// Where a blob's bytes are: inline data, or a segment and offset, or (neither) a file.
const BLOB_LOCATION: &str = "SELECT data, seg, off, size FROM blobs WHERE hash = ?1";

/// Reads a blob's bytes wherever they live. A body that compaction moved (and whose old segment
/// it deleted) between the lookup and the read is looked up again.
fn load_blob(
    stmt: &mut rusqlite::CachedStatement<'_>,
    files: &BlobFiles,
    id: &BlobId,
) -> Result<MessageData> {
    type Location = (Option<Vec<u8>>, Option<i64>, Option<i64>, i64);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let row: Option<Location> = stmt
            .query_row([&id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()
            .map_err(db_err)?;
        let (seg, off, size) = match row {
            None => return Err(StoreError::not_found(format!("no message with content {}", id.0))),
            Some((Some(data), ..)) => return Ok(MessageData::from(data)),
            Some((None, Some(seg), Some(off), size)) => (seg as u64, off as u64, size as u64),
            Some((None, ..)) => return files.read(id),
        };
        match files.segments().read(seg, off, size) {
            Ok(bytes) => return Ok(MessageData::from(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 => continue,
            Err(e) => {
                let context = format!("reading message {} from segment {seg}", id.0);
                return Err(StoreError::from_io(&context, &e));
            }
        }
    }
}

/// Appends to one target. The outer error aborts the whole job (database failure); the inner
/// one is this target's own answer (unknown mailbox, over quota, no UID left), given after
/// undoing what this call wrote, since a delivery's job runs without a savepoint.
fn append_one(
    conn: &Connection,
    ctx: &mut JobCtx,
    target: &AppendTarget,
    blob: &PreparedBlob,
    message: &NewMessage,
    keywords: &[String],
) -> Result<Result<Appended>> {
    let size = blob.data.len() as i64;
    // Quota check and usage in one statement; then the mailbox's UID, HIGHESTMODSEQ and
    // UIDVALIDITY in another (two statements per copy instead of four: this is the hot path of
    // every delivery).
    let charged = conn
        .prepare_cached(
            "UPDATE accounts SET used_bytes = used_bytes + ?2
             WHERE id = ?1 AND (quota_bytes <= 0 OR used_bytes + ?2 <= quota_bytes) RETURNING 1",
        )
        .and_then(|mut s| s.exists(params![target.account, size]))
        .map_err(db_err)?;
    if !charged {
        return Ok(Err(over_quota(conn, target.account, size)?));
    }
    let name = mailboxes::canonical(&target.mailbox);
    // A mailbox with no UID left (RFC 9051 §2.3.1.1: UIDs are 32-bit) takes no message.
    let taken: Option<(i64, i64, i64, i64)> = conn
        .prepare_cached(
            "UPDATE mailboxes SET uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
             WHERE account = ?1 AND name = ?2 AND uidnext <= 4294967295
             RETURNING id, uidnext, highest_modseq, uidvalidity",
        )
        .and_then(|mut s| {
            s.query_row(params![target.account, name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()
        })
        .map_err(db_err)?;
    let Some((mailbox, next, modseq, uidvalidity)) = taken else {
        // Uncharged here: a delivery's job has no savepoint to roll back to.
        conn.prepare_cached("UPDATE accounts SET used_bytes = used_bytes - ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![target.account, size]))
            .map_err(db_err)?;
        let exists = conn
            .prepare_cached("SELECT 1 FROM mailboxes WHERE account = ?1 AND name = ?2")
            .and_then(|mut s| s.exists(params![target.account, name]))
            .map_err(db_err)?;
        return Ok(Err(if exists {
            StoreError::invalid("mailbox ran out of UIDs")
        } else {
            StoreError::not_found(format!("no mailbox {}", target.mailbox))
        }));
    };
    // Only a damaged counter (below 1) fails here: the database is inconsistent, and the
    // whole batch is rolled back.
    let uid = u32::try_from(next - 1).map_err(|_| StoreError::invalid("mailbox UID counter is damaged"))?;
    let (modseq, uidvalidity) = (modseq as u64, uidvalidity as u32);
    conn.prepare_cached(
        "INSERT INTO messages(mailbox, uid, blob, size, internal_date, flags, keywords, modseq) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            mailbox,
            uid,
            blob.id.0,
            size,
            message.internal_date,
            message.flags.bits(),
            rows::encode_keywords(keywords),
            modseq as i64
        ])
    })
    .map_err(db_err)?;
    ctx.change(target.account, Change::MessageAdded { mailbox, uid, modseq });
    Ok(Ok(Appended { mailbox, uidvalidity, uid, modseq }))
}

fn check_quota(conn: &Connection, account: AccountId, adding: i64) -> Result<Result<()>> {
    let (quota, used): (i64, i64) = conn
        .prepare_cached("SELECT quota_bytes, used_bytes FROM accounts WHERE id = ?1")
        .and_then(|mut s| s.query_row([account], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found(format!("account {account} does not exist")))?;
    if quota > 0 && used + adding > quota {
        return Ok(Err(StoreError::new(
            StoreErrorKind::OverQuota,
            format!("over quota: {used} of {quota} bytes used, {adding} more requested"),
        )));
    }
    Ok(Ok(()))
}

/// The error for a copy the quota refused (the account must exist).
fn over_quota(conn: &Connection, account: AccountId, adding: i64) -> Result<StoreError> {
    Ok(match check_quota(conn, account, adding)? {
        Err(e) => e,
        Ok(()) => {
            StoreError::new(StoreErrorKind::OverQuota, format!("over quota: {adding} more bytes requested"))
        }
    })
}

fn uidvalidity(conn: &Connection, mailbox: MailboxId) -> Result<u32> {
    conn.prepare_cached("SELECT uidvalidity FROM mailboxes WHERE id = ?1")
        .and_then(|mut s| s.query_row([mailbox], |r| r.get::<_, i64>(0)))
        .map(|v| v as u32)
        .map_err(db_err)
}

fn account_of(conn: &Connection, mailbox: MailboxId) -> Result<AccountId> {
    conn.prepare_cached("SELECT account FROM mailboxes WHERE id = ?1")
        .and_then(|mut s| s.query_row([mailbox], |r| r.get(0)).optional())
        .map_err(db_err)?
        .ok_or_else(|| StoreError::not_found(format!("mailbox {mailbox} does not exist")))
}

fn same_account(conn: &Connection, from: MailboxId, to: MailboxId) -> Result<AccountId> {
    let account = account_of(conn, from)?;
    if account_of(conn, to)? != account {
        return Err(StoreError::invalid("messages can only be copied within one account"));
    }
    Ok(account)
}

fn unique_sorted(uids: &[u32]) -> Vec<u32> {
    uids.iter().copied().collect::<BTreeSet<u32>>().into_iter().collect()
}

fn load_entry(conn: &Connection, mailbox: MailboxId, uid: u32) -> Result<Option<MessageEntry>> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM messages WHERE mailbox = ?1 AND uid = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![mailbox, uid], rows::entry).optional())
        .map_err(db_err)
}

fn update_flags(
    conn: &Connection,
    ctx: &mut JobCtx,
    mailbox: MailboxId,
    uids: &[u32],
    update: &FlagUpdate,
) -> Result<FlagResult> {
    let account = account_of(conn, mailbox)?;
    let mut result = FlagResult::default();
    let mut modseq = None;
    for uid in unique_sorted(uids) {
        let Some(mut entry) = load_entry(conn, mailbox, uid)? else { continue };
        if update.unchanged_since.is_some_and(|since| entry.modseq > since) {
            result.conflicts.push(uid);
            continue;
        }
        let (flags, keywords) = apply(&entry, update);
        if flags == entry.flags && keywords == entry.keywords {
            continue;
        }
        let m = match modseq {
            Some(m) => m,
            None => *modseq.insert(rows::next_modseq(conn, mailbox)?),
        };
        conn.prepare_cached(
            "UPDATE messages SET flags = ?3, keywords = ?4, modseq = ?5 WHERE mailbox = ?1 AND uid = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![mailbox, uid, flags.bits(), rows::encode_keywords(&keywords), m as i64])
        })
        .map_err(db_err)?;
        ctx.change(account, Change::FlagsChanged { mailbox, uid, modseq: m });
        (entry.flags, entry.keywords, entry.modseq) = (flags, keywords, m);
        result.changed.push(entry);
    }
    Ok(result)
}

fn apply(entry: &MessageEntry, update: &FlagUpdate) -> (Flags, Vec<String>) {
    match update.op {
        FlagOp::Replace => (update.flags, rows::normalize_keywords(&update.keywords)),
        FlagOp::Add => {
            let mut all = entry.keywords.clone();
            all.extend(update.keywords.iter().cloned());
            (entry.flags.union(update.flags), rows::normalize_keywords(&all))
        }
        FlagOp::Remove => {
            let kept: Vec<String> = entry
                .keywords
                .iter()
                .filter(|k| !update.keywords.iter().any(|r| r.eq_ignore_ascii_case(k)))
                .cloned()
                .collect();
            (entry.flags.without(update.flags), kept)
        }
    }
}

/// Copies rows to another mailbox with fresh UIDs, keeping flags and keywords.
pub fn copy_rows(
    conn: &Connection,
    ctx: &mut JobCtx,
    account: AccountId,
    from: MailboxId,
    uids: &[u32],
    to: MailboxId,
    kind: CopyKind,
) -> Result<Vec<(u32, u32)>> {
    let mut sources = Vec::new();
    for uid in unique_sorted(uids) {
        if let Some(entry) = load_entry(conn, from, uid)? {
            sources.push(entry);
        }
    }
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let total: i64 = sources.iter().map(|e| e.size as i64).sum();
    if kind == CopyKind::Copy {
        check_quota(conn, account, total)??;
    }
    let first = rows::take_uids(conn, to, sources.len() as u32)?;
    let modseq = rows::next_modseq(conn, to)?;
    let mut mapping = Vec::with_capacity(sources.len());
    for (i, e) in sources.iter().enumerate() {
        let uid = first + i as u32;
        conn.prepare_cached(
            "INSERT INTO messages(mailbox, uid, blob, size, internal_date, flags, keywords, modseq) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut s| {
            s.execute(params![to, uid, e.blob.0, e.size as i64, e.internal_date, e.flags.bits(), rows::encode_keywords(&e.keywords), modseq as i64])
        })
        .map_err(db_err)?;
        if kind == CopyKind::Copy {
            rows::blob_ref_existing(conn, &e.blob, 1)?;
        }
        ctx.change(account, Change::MessageAdded { mailbox: to, uid, modseq });
        mapping.push((e.uid, uid));
    }
    if kind == CopyKind::Copy {
        conn.execute(
            "UPDATE accounts SET used_bytes = used_bytes + ?2 WHERE id = ?1",
            params![account, total],
        )
        .map_err(db_err)?;
    }
    Ok(mapping)
}

/// Removes rows, leaving tombstones with the expunge's MODSEQ.
pub fn remove_rows(
    conn: &Connection,
    ctx: &mut JobCtx,
    account: AccountId,
    mailbox: MailboxId,
    uids: &[u32],
    kind: RemoveKind,
) -> Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let modseq = rows::next_modseq(conn, mailbox)?;
    let mut freed = 0i64;
    for &uid in uids {
        let removed: Option<(String, i64)> = conn
            .prepare_cached("DELETE FROM messages WHERE mailbox = ?1 AND uid = ?2 RETURNING blob, size")
            .and_then(|mut s| s.query_row(params![mailbox, uid], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(db_err)?;
        let Some((blob, size)) = removed else { continue };
        conn.prepare_cached("INSERT OR REPLACE INTO expunged(mailbox, uid, modseq) VALUES(?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![mailbox, uid, modseq as i64]))
            .map_err(db_err)?;
        if kind == RemoveKind::Expunged {
            rows::blob_unref(conn, ctx, &BlobId(blob), 1)?;
            freed += size;
        }
    }
    if freed > 0 {
        conn.execute(
            "UPDATE accounts SET used_bytes = MAX(0, used_bytes - ?2) WHERE id = ?1",
            params![account, freed],
        )
        .map_err(db_err)?;
    }
    ctx.change(account, Change::Expunged { mailbox, uids: uids.to_vec(), modseq });
    Ok(())
}
