//! The event journal in SQLite: append-only rows indexed by queue id, Message-ID and address,
//! queried by `mailstead trace`.

use async_trait::async_trait;
use rusqlite::params;

use mailstead_store::model::{Event, JournalQuery};
use mailstead_store::{JournalStore, Result};
use mailstead_types::QueueId;

use crate::{SqliteStore, db_err};

#[async_trait]
impl JournalStore for SqliteStore {
    async fn journal(&self, events: Vec<Event>) -> Result<()> {
        // Rows are made ready here, on the caller's thread: the single writer only inserts.
        let rows: Vec<_> = events
            .into_iter()
            .map(|e| {
                let data = serde_json::to_string(&e.data).unwrap_or_else(|_| "null".into());
                (e.ts_ms, e.queue_id.map(|q| q.to_string()), e.message_id, e.address, e.kind, data)
            })
            .collect();
        // Inserts fail only when the database does: no savepoint (see
        // `Writer::write_without_savepoint`).
        self.inner
            .writer
            .write_without_savepoint(move |conn, _| {
                let mut stmt = conn
                    .prepare_cached(
                        "INSERT INTO events(ts, queue_id, message_id, address, kind, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(db_err)?;
                for (ts, queue_id, message_id, address, kind, data) in &rows {
                    stmt.execute(params![ts, queue_id, message_id, address, kind, data]).map_err(db_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn journal_query(&self, query: JournalQuery, limit: usize) -> Result<Vec<Event>> {
        self.inner
            .readers
            .read(move |conn| {
                const COLUMNS: &str = "ts, queue_id, message_id, address, kind, data";
                let (cond, key) = match query {
                    JournalQuery::QueueId(q) => ("queue_id = ?1".to_string(), q.to_string()),
                    JournalQuery::MessageId(m) => (
                        "queue_id IN (SELECT queue_id FROM events WHERE message_id = ?1 AND queue_id IS NOT NULL)".into(),
                        m,
                    ),
                    JournalQuery::Address(a) => (
                        "(address = ?1 OR queue_id IN (SELECT queue_id FROM events WHERE address = ?1 AND queue_id IS NOT NULL))".into(),
                        a.to_lowercase(),
                    ),
                };
                let sql = format!("SELECT {COLUMNS} FROM events WHERE {cond} ORDER BY ts, id LIMIT ?2");
                let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
                let rows = stmt
                    .query_map(params![key, limit as i64], |r| {
                        Ok(Event {
                            ts_ms: r.get(0)?,
                            queue_id: r.get::<_, Option<String>>(1)?.as_deref().and_then(QueueId::parse),
                            message_id: r.get(2)?,
                            address: r.get(3)?,
                            kind: r.get(4)?,
                            data: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or(serde_json::Value::Null),
                        })
                    })
                    .map_err(db_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
            })
            .await
    }
}
