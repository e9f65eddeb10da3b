//! Reclaims the space of deleted messages in segment files ([`crate::segments`]).
//!
//! A sealed segment at most half of which is still referenced is compacted: its live bodies
//! are copied (hash-checked) to the active segment and synced, then one write transaction
//! points their rows at the copies, and once that commit is durable the old file is deleted.
//! Neither step blocks deliveries: the copy runs beside them, and the row update is one job.
//!
//! Safety rests on three things. The segment is locked by compaction for the whole copy, and
//! a lock is only available when no prepared blob anywhere (any process) still refers to it.
//! The row update matches the old place exactly, so a row deleted or re-created meanwhile is
//! left alone (its copy is dead space). And the file is deleted only if, in the writer, no
//! row refers to the segment any more. The newest segment is never compacted, since a
//! restarting process may resume appending to it. Readers that looked a body up just before
//! its segment went away look it up again.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::Duration;

use rusqlite::params;

use mailstead_store::model::BlobId;
use mailstead_store::{Result, StoreError};

use crate::segments::{Slot, read_body};
use crate::{Inner, SqliteStore, db_err};

/// Bodies copied forward (hash, old offset, new place), their bytes, and the lease on the old
/// segment.
type Copied = (Vec<(String, i64, Slot)>, u64, std::fs::File);

/// How often the server looks for segments worth compacting.
const INTERVAL: Duration = Duration::from_secs(15 * 60);

/// What one compaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Segments emptied (deleted once that is durable).
    pub segments_emptied: usize,
    /// Live bodies copied forward.
    pub bodies_moved: usize,
    /// Their bytes.
    pub bytes_moved: u64,
    /// Bytes the emptied segments took on disk.
    pub bytes_reclaimed: u64,
    /// Segments that could not be compacted (logged; left as they are).
    pub segments_failed: usize,
}

impl SqliteStore {
    /// Compacts every sealed segment at most half of which is still referenced. Fails only
    /// when the store cannot be read; a segment that cannot be compacted is counted and skipped.
    pub async fn compact_segments(&self) -> Result<CompactionReport> {
        let live: HashMap<u64, u64> = self
            .inner
            .readers
            .read(|conn| {
                let mut stmt = conn
                    .prepare("SELECT seg, SUM(size) FROM blobs WHERE seg IS NOT NULL GROUP BY seg")
                    .map_err(db_err)?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)));
                rows.and_then(|rows| rows.collect()).map_err(db_err)
            })
            .await?;
        let segments = self.inner.blobs.segments();
        let files = segments.list()?;
        let newest = files.last().map(|&(id, _)| id);
        let active = segments.active_id();
        let mut report = CompactionReport::default();
        for (id, len) in files {
            let live = live.get(&id).copied().unwrap_or(0);
            if Some(id) == newest || Some(id) == active || live * 2 > len {
                continue;
            }
            match self.compact_one(id).await {
                Ok(Some((moved, bytes))) => {
                    report.segments_emptied += 1;
                    report.bodies_moved += moved;
                    report.bytes_moved += bytes;
                    report.bytes_reclaimed += len;
                }
                Ok(None) => {}
                // One damaged or unreadable segment must not stop the others from compacting.
                Err(e) => {
                    tracing::error!(segment = id, error = %e, "could not compact a message segment; left as it is");
                    report.segments_failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Copies segment `id`'s live bodies forward and, if that leaves it unreferenced, has it
    /// deleted. `None` when it is in use (or was refilled meanwhile).
    async fn compact_one(&self, id: u64) -> Result<Option<(usize, u64)>> {
        let Some(lease) = self.inner.blobs.segments().try_lease(id) else {
            return Ok(None);
        };
        let bodies: Vec<(String, i64, i64)> = self
            .inner
            .readers
            .read(move |conn| {
                let mut stmt =
                    conn.prepare("SELECT hash, off, size FROM blobs WHERE seg = ?1").map_err(db_err)?;
                let rows = stmt.query_map([id as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
                rows.and_then(|rows| rows.collect()).map_err(db_err)
            })
            .await?;
        let blobs = self.inner.blobs.clone();
        let copy = move || -> Result<Copied> {
            let mut bytes = 0;
            let mut moved = Vec::with_capacity(bodies.len());
            for (hash, off, size) in bodies {
                let context = format!("compacting segment {id}: reading message {hash}");
                let buf = read_body(&lease, off as u64, size as u64)
                    .map_err(|e| StoreError::from_io(&context, &e))?;
                if BlobId::of(&buf).0 != hash {
                    return Err(StoreError::new(
                        mailstead_store::StoreErrorKind::Corrupt,
                        format!("{context}: the bytes do not match their hash; segment left as it is"),
                    ));
                }
                moved.push((hash, off, blobs.segments().write(&buf)?));
                bytes += size as u64;
            }
            // After the first, each is covered already and costs no fsync.
            for (_, _, slot) in &moved {
                blobs.segments().sync(slot)?;
            }
            Ok((moved, bytes, lease))
        };
        let (moved, bytes, lease) = tokio::task::spawn_blocking(copy)
            .await
            .map_err(|e| StoreError::unavailable(format!("compaction task failed: {e}")))??;
        let count = moved.len();
        let emptied = self
            .inner
            .writer
            .write(move |conn, ctx| {
                let _held = &lease;
                let mut stmt = conn
                    .prepare_cached(
                        "UPDATE blobs SET seg = ?1, off = ?2 WHERE hash = ?3 AND seg = ?4 AND off = ?5",
                    )
                    .map_err(db_err)?;
                for (hash, off, slot) in &moved {
                    stmt.execute(params![slot.segment.id() as i64, slot.offset as i64, hash, id as i64, off])
                        .map_err(db_err)?;
                }
                let left: bool = conn
                    .query_row("SELECT EXISTS(SELECT 1 FROM blobs WHERE seg = ?1)", [id as i64], |r| r.get(0))
                    .map_err(db_err)?;
                if !left {
                    ctx.emptied_segment(id);
                }
                Ok(!left)
            })
            .await?;
        Ok(emptied.then_some((count, bytes)))
    }
}

/// Runs compaction every [`INTERVAL`] while the store is open (server mode).
pub(crate) fn spawn_background(inner: Weak<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(INTERVAL).await;
            // Held only for the pass: a dropped store ends the loop at the next wake-up.
            let Some(inner) = inner.upgrade() else { return };
            let store = SqliteStore { inner };
            match store.compact_segments().await {
                Ok(r) if r.segments_emptied > 0 => tracing::info!(
                    segments = r.segments_emptied,
                    bodies_moved = r.bodies_moved,
                    bytes_moved = r.bytes_moved,
                    bytes_reclaimed = r.bytes_reclaimed,
                    "message segments compacted"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "message segment compaction failed; will retry"),
            }
        }
    });
}
