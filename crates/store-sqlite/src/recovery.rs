//! Crash recovery at server start. SQLite's WAL already guarantees that metadata is either
//! committed or absent; what a crash can leave is files: a temp file of a blob being written,
//! or a blob file renamed into place whose transaction never committed. Both are removed here,
//! under the write lock (`BEGIN IMMEDIATE`), so a tool process writing at the same moment is
//! never robbed — and the writer re-creates a blob file it finds missing anyway.
//!
//! A crash while appending to a segment leaves at most dead bytes at its end (no row refers to
//! them; compaction reclaims them), so segments need no cleanup here.
//!
//! It also reports stored bodies whose file is missing, or whose segment is missing or too
//! short (damage from outside, e.g. a partial restore), which are logged loudly: such messages
//! cannot be served.

use std::fs;

use rusqlite::Connection;

use mailstead_store::Result;
use mailstead_store::model::BlobId;

use crate::blobs::BlobFiles;
use crate::db_err;

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Temp files removed.
    pub temp_files_removed: usize,
    /// Blob files with no database row, removed.
    pub orphan_blobs_removed: usize,
    /// Blobs stored outside the database whose file or segment is missing (or too short).
    pub missing_blob_files: Vec<String>,
}

/// Runs recovery on the writer connection before the writer starts.
pub fn run(conn: &Connection, blobs: &BlobFiles) -> Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err)?;
    let result = scan(conn, blobs, &mut report);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end).map_err(db_err)?;
    result?;
    if report.temp_files_removed + report.orphan_blobs_removed > 0 {
        tracing::info!(
            temp_files = report.temp_files_removed,
            orphan_blobs = report.orphan_blobs_removed,
            "store recovery removed leftovers of an interrupted write"
        );
    }
    for hash in &report.missing_blob_files {
        tracing::error!(blob = %hash, "message file missing from the blob directory; restore it from a backup");
    }
    Ok(report)
}

fn scan(conn: &Connection, blobs: &BlobFiles, report: &mut RecoveryReport) -> Result<()> {
    let root = blobs.root();
    if let Ok(entries) = fs::read_dir(root.join("tmp")) {
        for entry in entries.flatten() {
            if fs::remove_file(entry.path()).is_ok() {
                report.temp_files_removed += 1;
            }
        }
    }
    let mut known = conn
        .prepare("SELECT 1 FROM blobs WHERE hash = ?1 AND data IS NULL AND seg IS NULL")
        .map_err(db_err)?;
    for i in 0..=255u8 {
        let Ok(entries) = fs::read_dir(root.join(format!("{i:02x}"))) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !known.exists([&name]).map_err(db_err)? {
                blobs.remove(&BlobId(name));
                report.orphan_blobs_removed += 1;
            }
        }
    }
    let mut files =
        conn.prepare("SELECT hash FROM blobs WHERE data IS NULL AND seg IS NULL").map_err(db_err)?;
    let hashes = files.query_map([], |r| r.get::<_, String>(0)).map_err(db_err)?;
    for hash in hashes {
        let hash = hash.map_err(db_err)?;
        if !blobs.exists(&BlobId(hash.clone())) {
            report.missing_blob_files.push(hash);
        }
    }
    // Segment bodies: every referenced segment must exist and reach past its last body.
    let lengths: std::collections::HashMap<u64, u64> = blobs.segments().list()?.into_iter().collect();
    let mut ends = conn
        .prepare("SELECT seg, MAX(off + size) FROM blobs WHERE seg IS NOT NULL GROUP BY seg")
        .map_err(db_err)?;
    let ends: Vec<(i64, i64)> =
        ends.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).and_then(|rows| rows.collect()).map_err(db_err)?;
    let mut beyond =
        conn.prepare("SELECT hash FROM blobs WHERE seg = ?1 AND off + size > ?2").map_err(db_err)?;
    for (segment, end) in ends {
        let len = lengths.get(&(segment as u64)).copied().unwrap_or(0);
        if (end as u64) > len {
            let hashes = beyond.query_map(rusqlite::params![segment, len as i64], |r| r.get::<_, String>(0));
            let hashes: Vec<String> = hashes.and_then(|rows| rows.collect()).map_err(db_err)?;
            tracing::error!(segment, length = len, needed = end, "message segment missing or truncated");
            report.missing_blob_files.extend(hashes);
        }
    }
    Ok(())
}
