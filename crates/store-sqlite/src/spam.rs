//! The spam classifier's data in SQLite: per-account token counts (`spam_tokens`, keyed by the
//! token hash stored as a signed 64-bit integer), trained-message totals (`spam_totals`), which
//! contents were trained as what (`spam_seen`) and correspondents (`correspondents`). All four
//! cascade with their account.
//!
//! Invariants: counts are never negative (every update clamps at zero); a message content is
//! counted in at most one class. Every token a training touches ends with a count of at least
//! one in the trained class, so no row is left with both counts zero.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use mailstead_store::model::{
    AccountId, BlobId, Correspondent, CorrespondentEvent, SpamClass, SpamCounts, SpamStats, SpamTraining,
    TokenCounts, TrainOutcome,
};
use mailstead_store::{Result, SpamStore, StoreError};

use crate::{SqliteStore, db_err, now_secs};

#[async_trait]
impl SpamStore for SqliteStore {
    async fn spam_counts(&self, account: AccountId, tokens: Vec<u64>) -> Result<SpamCounts> {
        self.inner
            .readers
            .read(move |conn| {
                // One read transaction: the totals and the token counts from the same snapshot.
                let tx = conn.unchecked_transaction().map_err(db_err)?;
                let (spam_messages, ham_messages) = totals(&tx, account)?;
                let mut counts = Vec::with_capacity(tokens.len());
                {
                    let mut stmt = tx
                        .prepare_cached("SELECT spam, ham FROM spam_tokens WHERE account = ?1 AND token = ?2")
                        .map_err(db_err)?;
                    for token in &tokens {
                        let row = stmt
                            .query_row(params![account, *token as i64], |r| {
                                Ok(TokenCounts { spam: clamp_u32(r.get(0)?), ham: clamp_u32(r.get(1)?) })
                            })
                            .optional()
                            .map_err(db_err)?;
                        counts.push(row.unwrap_or_default());
                    }
                }
                tx.finish().map_err(db_err)?;
                Ok(SpamCounts { spam_messages, ham_messages, tokens: counts })
            })
            .await
    }

    async fn spam_train(&self, account: AccountId, training: SpamTraining) -> Result<TrainOutcome> {
        self.inner.writer.write(move |conn, _| train(conn, account, &training)).await
    }

    async fn spam_trained_as(&self, account: AccountId, blob: &BlobId) -> Result<Option<SpamClass>> {
        let blob = blob.0.clone();
        self.inner.readers.read_point(move |conn| trained_as(conn, account, &blob))
    }

    async fn spam_stats(&self, account: AccountId) -> Result<SpamStats> {
        self.inner
            .readers
            .read(move |conn| {
                let tx = conn.unchecked_transaction().map_err(db_err)?;
                let (spam_messages, ham_messages) = totals(&tx, account)?;
                let count = |table: &str| -> Result<u64> {
                    let sql = format!("SELECT COUNT(*) FROM {table} WHERE account = ?1");
                    tx.query_row(&sql, [account], |r| r.get::<_, i64>(0))
                        .map(|n| n.max(0) as u64)
                        .map_err(db_err)
                };
                let stats = SpamStats {
                    spam_messages,
                    ham_messages,
                    tokens: count("spam_tokens")?,
                    correspondents: count("correspondents")?,
                };
                tx.finish().map_err(db_err)?;
                Ok(stats)
            })
            .await
    }

    async fn correspondent(&self, account: AccountId, address: &str) -> Result<Option<Correspondent>> {
        let address = address.to_string();
        self.inner.readers.read_point(move |conn| {
            conn.prepare_cached(
                "SELECT ham_received, ham_trained, spam_trained, sent FROM correspondents
                 WHERE account = ?1 AND address = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![account, address], |r| {
                    Ok(Correspondent {
                        ham_received: clamp_u32(r.get(0)?),
                        ham_trained: clamp_u32(r.get(1)?),
                        spam_trained: clamp_u32(r.get(2)?),
                        sent: clamp_u32(r.get(3)?),
                    })
                })
                .optional()
            })
            .map_err(db_err)
        })
    }

    async fn note_correspondent(
        &self,
        account: AccountId,
        address: &str,
        event: CorrespondentEvent,
    ) -> Result<()> {
        let address = address.to_string();
        self.inner
            .writer
            .write(move |conn, _| {
                require_account(conn, account)?;
                let delta = match event {
                    CorrespondentEvent::HamReceived => {
                        CorrespondentDelta { ham_received: 1, ..Default::default() }
                    }
                    CorrespondentEvent::Sent => CorrespondentDelta { sent: 1, ..Default::default() },
                };
                update_correspondent(conn, account, &address, delta)
            })
            .await
    }
}

/// One training job, inside the writer's transaction.
fn train(conn: &Connection, account: AccountId, t: &SpamTraining) -> Result<TrainOutcome> {
    require_account(conn, account)?;
    let before = trained_as(conn, account, &t.blob.0)?;
    if before == Some(t.class) {
        return Ok(TrainOutcome::AlreadyKnown);
    }
    // +1 to the new class; -1 from the old one when relearning.
    let mut delta = ClassDelta::default();
    delta.add(t.class, 1);
    if let Some(old) = before {
        delta.add(old, -1);
    }
    let mut upsert = conn
        .prepare_cached(
            "INSERT INTO spam_tokens(account, token, spam, ham) VALUES(?1, ?2, max(0, ?3), max(0, ?4))
             ON CONFLICT(account, token) DO UPDATE SET spam = max(0, spam + ?3), ham = max(0, ham + ?4)",
        )
        .map_err(db_err)?;
    for token in &t.tokens {
        upsert.execute(params![account, *token as i64, delta.spam, delta.ham]).map_err(db_err)?;
    }
    conn.prepare_cached(
        "INSERT INTO spam_totals(account, spam, ham) VALUES(?1, max(0, ?2), max(0, ?3))
         ON CONFLICT(account) DO UPDATE SET spam = max(0, spam + ?2), ham = max(0, ham + ?3)",
    )
    .and_then(|mut s| s.execute(params![account, delta.spam, delta.ham]))
    .map_err(db_err)?;
    conn.prepare_cached(
        "INSERT INTO spam_seen(account, blob, class, trained) VALUES(?1, ?2, ?3, ?4)
         ON CONFLICT(account, blob) DO UPDATE SET class = ?3, trained = ?4",
    )
    .and_then(|mut s| s.execute(params![account, t.blob.0, t.class.as_str(), now_secs()]))
    .map_err(db_err)?;
    if let Some(sender) = &t.sender {
        let trained =
            CorrespondentDelta { spam_trained: delta.spam, ham_trained: delta.ham, ..Default::default() };
        update_correspondent(conn, account, sender, trained)?;
    }
    Ok(match before {
        Some(_) => TrainOutcome::Relearned,
        None => TrainOutcome::Learned,
    })
}

/// Changes to the two class counts of one training.
#[derive(Debug, Default, Clone, Copy)]
struct ClassDelta {
    spam: i64,
    ham: i64,
}

impl ClassDelta {
    fn add(&mut self, class: SpamClass, n: i64) {
        match class {
            SpamClass::Spam => self.spam += n,
            SpamClass::Ham => self.ham += n,
        }
    }
}

/// Changes to a correspondent's counts.
#[derive(Debug, Default, Clone, Copy)]
struct CorrespondentDelta {
    ham_received: i64,
    ham_trained: i64,
    spam_trained: i64,
    sent: i64,
}

fn update_correspondent(
    conn: &Connection,
    account: AccountId,
    address: &str,
    d: CorrespondentDelta,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO correspondents(account, address, ham_received, ham_trained, spam_trained, sent, last_seen)
         VALUES(?1, ?2, max(0, ?3), max(0, ?4), max(0, ?5), max(0, ?6), ?7)
         ON CONFLICT(account, address) DO UPDATE SET
             ham_received = max(0, ham_received + ?3), ham_trained = max(0, ham_trained + ?4),
             spam_trained = max(0, spam_trained + ?5), sent = max(0, sent + ?6), last_seen = ?7",
    )
    .and_then(|mut s| {
        s.execute(params![account, address, d.ham_received, d.ham_trained, d.spam_trained, d.sent, now_secs()])
    })
    .map(|_| ())
    .map_err(db_err)
}

/// Refuses writes for an account that does not exist (with a clear error rather than a
/// foreign-key failure).
fn require_account(conn: &Connection, account: AccountId) -> Result<()> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")
        .and_then(|mut s| s.exists([account]))
        .map_err(db_err)?;
    if exists { Ok(()) } else { Err(StoreError::not_found(format!("no account with id {account}"))) }
}

fn trained_as(conn: &Connection, account: AccountId, blob: &str) -> Result<Option<SpamClass>> {
    let class: Option<String> = conn
        .prepare_cached("SELECT class FROM spam_seen WHERE account = ?1 AND blob = ?2")
        .and_then(|mut s| s.query_row(params![account, blob], |r| r.get(0)).optional())
        .map_err(db_err)?;
    Ok(class.as_deref().and_then(SpamClass::parse))
}

fn totals(conn: &Connection, account: AccountId) -> Result<(u64, u64)> {
    let row: Option<(i64, i64)> = conn
        .prepare_cached("SELECT spam, ham FROM spam_totals WHERE account = ?1")
        .and_then(|mut s| s.query_row([account], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(db_err)?;
    let (spam, ham) = row.unwrap_or((0, 0));
    Ok((spam.max(0) as u64, ham.max(0) as u64))
}

fn clamp_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}
