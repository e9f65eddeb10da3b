//! The outbound queue in SQLite: one row per message, one per recipient with its state,
//! attempts and last reply. A message leaves the queue (and drops its blob reference) in the
//! same transaction that makes its last recipient final.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use mailstead_store::model::{
    AttemptRecord, BlobId, MessageData, NewQueued, QueueRecipient, QueuedMessage, RecipientState,
    StsPolicyRecord,
};
use mailstead_store::{QueueStore, Result, StoreError};
use mailstead_types::{Address, QueueId};

use crate::blobs::{BlobFiles, PreparedBlob};
use crate::writer::JobCtx;
use crate::{SqliteStore, db_err, rows};

const MESSAGE_COLUMNS: &str = "id, sender, blob, size, envid, ret, auth_user, held, created, delay_notified";

#[async_trait]
impl QueueStore for SqliteStore {
    async fn enqueue(&self, message: NewQueued) -> Result<()> {
        let blob = self.prepare_queued(&message).await?;
        let files = self.inner.blobs.clone();
        self.inner.writer.write(move |conn, ctx| insert(conn, ctx, &files, &message, &blob)).await
    }

    async fn queue_list(&self) -> Result<Vec<QueuedMessage>> {
        self.inner.readers.read(|conn| load_messages(conn, "1 = 1 ORDER BY created, id", [])).await
    }

    async fn queue_get(&self, id: &QueueId) -> Result<Option<QueuedMessage>> {
        let id = id.to_string();
        self.inner.readers.read(move |conn| load_messages(conn, "id = ?1", [id]).map(|mut v| v.pop())).await
    }

    async fn queue_due(&self, now: i64, limit: usize) -> Result<Vec<QueueId>> {
        self.inner
            .readers
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id FROM queue WHERE held = 0 AND id IN
                           (SELECT queue FROM queue_recipients WHERE state = 'pending' AND next_attempt <= ?1)
                         ORDER BY created, id LIMIT ?2",
                    )
                    .map_err(db_err)?;
                let ids = stmt
                    .query_map(params![now, limit as i64], |r| r.get::<_, String>(0))
                    .map_err(db_err)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_err)?;
                Ok(ids.iter().filter_map(|id| QueueId::parse(id)).collect())
            })
            .await
    }

    async fn queue_read(&self, id: &QueueId) -> Result<MessageData> {
        let message = self
            .queue_get(id)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("no queued message {id}")))?;
        self.read_blob(message.blob).await
    }

    async fn queue_record(&self, id: &QueueId, record: AttemptRecord) -> Result<()> {
        let mut blobs = Vec::with_capacity(record.notices.len());
        for notice in &record.notices {
            blobs.push(self.prepare_queued(notice).await?);
        }
        let files = self.inner.blobs.clone();
        let id = id.to_string();
        self.inner
            .writer
            .write(move |conn, ctx| {
                for u in &record.updates {
                    let n = conn
                        .prepare_cached(
                            "UPDATE queue_recipients SET state = ?3, next_attempt = ?4, last_attempt = ?5, last_reply = ?6,
                                 attempts = attempts + 1
                             WHERE queue = ?1 AND address = ?2 AND state = 'pending'",
                        )
                        .and_then(|mut st| {
                            st.execute(params![
                                id,
                                u.address.to_string(),
                                u.state.as_str(),
                                u.next_attempt,
                                u.attempted_at,
                                u.reply
                            ])
                        })
                        .map_err(db_err)?;
                    if n == 0 {
                        return Err(StoreError::not_found(format!("no pending recipient {} in {id}", u.address)));
                    }
                }
                for (notice, blob) in record.notices.iter().zip(&blobs) {
                    insert(conn, ctx, &files, notice, blob)?;
                }
                if record.delay_notified {
                    conn.execute("UPDATE queue SET delay_notified = 1 WHERE id = ?1", [&id]).map_err(db_err)?;
                }
                let pending: i64 = conn
                    .query_row("SELECT COUNT(*) FROM queue_recipients WHERE queue = ?1 AND state = 'pending'", [&id], |r| r.get(0))
                    .map_err(db_err)?;
                if pending == 0 {
                    remove(conn, ctx, &id)?;
                }
                Ok(())
            })
            .await
    }

    async fn queue_retry(&self, id: &QueueId, now: i64) -> Result<()> {
        let id = id.to_string();
        self.inner
            .writer
            .write(move |conn, _| {
                if conn.execute("UPDATE queue SET held = 0 WHERE id = ?1", [&id]).map_err(db_err)? == 0 {
                    return Err(StoreError::not_found(format!("no queued message {id}")));
                }
                conn.execute(
                    "UPDATE queue_recipients SET next_attempt = ?2 WHERE queue = ?1 AND state = 'pending'",
                    params![id, now],
                )
                .map_err(db_err)?;
                Ok(())
            })
            .await
    }

    async fn queue_set_held(&self, id: &QueueId, held: bool) -> Result<()> {
        let id = id.to_string();
        self.inner
            .writer
            .write(move |conn, _| {
                match conn
                    .execute("UPDATE queue SET held = ?2 WHERE id = ?1", params![id, held])
                    .map_err(db_err)?
                {
                    0 => Err(StoreError::not_found(format!("no queued message {id}"))),
                    _ => Ok(()),
                }
            })
            .await
    }

    async fn queue_cancel(&self, id: &QueueId) -> Result<()> {
        let id = id.to_string();
        self.inner.writer.write(move |conn, ctx| remove(conn, ctx, &id)).await
    }

    async fn sts_policy(&self, domain: &str) -> Result<Option<StsPolicyRecord>> {
        let domain = domain.to_ascii_lowercase();
        self.inner.readers.read_point(move |conn| {
            conn.prepare_cached(
                "SELECT policy_id, text, fetched, expires FROM sts_policies WHERE domain = ?1",
            )
            .map_err(db_err)?
            .query_row([domain], |r| {
                Ok(StsPolicyRecord { id: r.get(0)?, text: r.get(1)?, fetched: r.get(2)?, expires: r.get(3)? })
            })
            .optional()
            .map_err(db_err)
        })
    }

    async fn put_sts_policy(&self, domain: &str, policy: StsPolicyRecord) -> Result<()> {
        let domain = domain.to_ascii_lowercase();
        self.inner
            .writer
            .write(move |conn, _| {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO sts_policies(domain, policy_id, text, fetched, expires) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(db_err)?
                .execute(params![domain, policy.id, policy.text, policy.fetched, policy.expires])
                .map_err(db_err)?;
                Ok(())
            })
            .await
    }
}

impl SqliteStore {
    async fn read_blob(&self, blob: BlobId) -> Result<MessageData> {
        mailstead_store::MailStore::read_message(self, &blob).await
    }

    /// Checks a message for the queue and prepares its blob (large ones written to a file).
    async fn prepare_queued(&self, message: &NewQueued) -> Result<PreparedBlob> {
        if message.recipients.is_empty() {
            return Err(StoreError::invalid("a queued message needs at least one recipient"));
        }
        self.prepare_blob(message.data.clone()).await
    }
}

/// Inserts a queued message and its recipients (all pending, due at creation).
fn insert(
    conn: &Connection,
    ctx: &mut JobCtx,
    files: &BlobFiles,
    message: &NewQueued,
    blob: &PreparedBlob,
) -> Result<()> {
    conn.execute(
        "INSERT INTO queue(id, sender, blob, size, envid, ret, auth_user, held, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            message.id.as_str(),
            message.sender.as_ref().map(|s| s.to_string()),
            blob.id.0,
            blob.data.len() as i64,
            message.envid,
            message.ret,
            message.auth_user,
            message.held,
            message.created
        ],
    )
    .map_err(|e| rows::unique_as_exists(e, || format!("queue id {} already exists", message.id)))?;
    for (seq, r) in message.recipients.iter().enumerate() {
        conn.execute(
            "INSERT INTO queue_recipients(queue, seq, address, orcpt, notify, state, attempts, next_attempt)
             VALUES(?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6)",
            params![
                message.id.as_str(),
                seq as i64,
                r.address.to_string(),
                r.orcpt,
                r.notify,
                message.created
            ],
        )
        .map_err(|e| rows::unique_as_exists(e, || format!("recipient {} listed twice", r.address)))?;
    }
    rows::blob_ref(conn, ctx, files, blob, 1)
}

fn remove(conn: &Connection, ctx: &mut JobCtx, id: &str) -> Result<()> {
    let blob: Option<String> = conn
        .query_row("DELETE FROM queue WHERE id = ?1 RETURNING blob", [id], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    let blob = blob.ok_or_else(|| StoreError::not_found(format!("no queued message {id}")))?;
    rows::blob_unref(conn, ctx, &BlobId(blob), 1)
}

fn load_messages(conn: &Connection, cond: &str, args: impl rusqlite::Params) -> Result<Vec<QueuedMessage>> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM queue WHERE {cond}");
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    let heads = stmt
        .query_map(args, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, bool>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, bool>(9)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    let mut out = Vec::with_capacity(heads.len());
    for (id, sender, blob, size, envid, ret, auth_user, held, created, delay_notified) in heads {
        let Some(qid) = QueueId::parse(&id) else {
            tracing::warn!(id, "skipping a queue entry with a malformed id");
            continue;
        };
        let sender = match sender {
            Some(s) => Some(Address::parse(&s).map_err(|e| {
                StoreError::new(
                    mailstead_store::StoreErrorKind::Corrupt,
                    format!("queue {id}: sender {s}: {e}"),
                )
            })?),
            None => None,
        };
        out.push(QueuedMessage {
            recipients: load_recipients(conn, &id)?,
            id: qid,
            sender,
            envid,
            ret,
            auth_user,
            held,
            blob: BlobId(blob),
            size: size as u64,
            created,
            delay_notified,
        });
    }
    Ok(out)
}

fn load_recipients(conn: &Connection, id: &str) -> Result<Vec<QueueRecipient>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT address, orcpt, notify, state, attempts, next_attempt, last_attempt, last_reply
             FROM queue_recipients WHERE queue = ?1 ORDER BY seq",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    rows.into_iter()
        .map(|(address, orcpt, notify, state, attempts, next_attempt, last_attempt, last_reply)| {
            let corrupt = |what: String| {
                StoreError::new(mailstead_store::StoreErrorKind::Corrupt, format!("queue {id}: {what}"))
            };
            Ok(QueueRecipient {
                address: Address::parse(&address)
                    .map_err(|e| corrupt(format!("recipient {address}: {e}")))?,
                orcpt,
                notify,
                state: RecipientState::parse(&state).ok_or_else(|| corrupt(format!("state {state}")))?,
                attempts: attempts as u32,
                next_attempt,
                last_attempt,
                last_reply,
            })
        })
        .collect()
}
