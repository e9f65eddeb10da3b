//! The embedded default store: SQLite in WAL mode for metadata, content-addressed files for
//! large message bodies. No external service; one directory.
//!
//! Layout inside the data directory: `mailstead.db` (+ `-wal`, `-shm`) and `blobs/xx/<sha256>`.
//!
//! Invariants:
//! - All writes go through one writer thread ([`writer`]) that group-commits; a call returns
//!   only after its transaction's fsync, done by a second thread ([`durability`]) while the
//!   writer runs the next batch. Reads use a pool of read-only connections.
//! - A blob row exists for every referenced message body; `refs` counts the references
//!   (mailbox copies and queue entries). Inline blobs keep their bytes in the row; file blobs
//!   have `data IS NULL` and a file at `blobs/xx/<hash>`.
//! - In server mode, opening the store removes leftovers of a crash ([`recovery`]).

mod blobs;
pub mod compaction;
mod directory;
mod durability;
mod journal;
mod mail;
mod mailboxes;
mod queue;
mod readers;
pub mod recovery;
mod rows;
mod schema;
mod segments;
mod spam;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

use mailstead_store::{ChangeHub, Result, StoreError, StoreErrorKind};

pub use recovery::RecoveryReport;
pub use schema::FORMAT_VERSION;

/// How the store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The running server: owns recovery (removing crash leftovers) at open.
    Server,
    /// A command-line tool beside a possibly running server: no recovery.
    Tool,
}

/// Tuning options.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Messages up to this size are kept in the database, larger ones outside it.
    pub inline_blob_max: usize,
    /// Messages larger than `inline_blob_max` and up to this size are packed into shared
    /// segment files; larger ones get a file each.
    pub segment_blob_max: usize,
    /// A segment file is closed for writing once it reaches this size.
    pub segment_max_bytes: u64,
    /// Most jobs one group commit may take (1 = one fsync per write).
    pub group_commit_max_batch: usize,
    /// Server or tool.
    pub mode: OpenMode,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            inline_blob_max: 64 * 1024,
            segment_blob_max: 1024 * 1024,
            segment_max_bytes: 64 * 1024 * 1024,
            group_commit_max_batch: 256,
            mode: OpenMode::Server,
        }
    }
}

/// The SQLite store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    writer: writer::Writer,
    readers: Arc<readers::Readers>,
    blobs: Arc<blobs::BlobFiles>,
    hub: Arc<ChangeHub>,
    recovery: RecoveryReport,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`, migrating it forward. Must be called
    /// inside a tokio runtime (reads use blocking tasks).
    pub fn open(dir: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::from_io(&format!("creating data directory {}", dir.display()), &e))?;
        let db_path = Self::db_path(dir);
        let blobs = Arc::new(blobs::BlobFiles::open(&dir.join("blobs"), &options)?);
        let mut conn = Connection::open(&db_path).map_err(db_err)?;
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        let recovery = match options.mode {
            OpenMode::Server => recovery::run(&conn, &blobs)?,
            OpenMode::Tool => RecoveryReport::default(),
        };
        let hub = Arc::new(ChangeHub::new());
        let wal = Box::new(durability::WalFile::new(&db_path));
        let writer =
            writer::Writer::start(conn, options.group_commit_max_batch, hub.clone(), blobs.clone(), wal)?;
        let readers = Arc::new(readers::Readers::new(db_path));
        let inner = Arc::new(Inner { writer, readers, blobs, hub, recovery });
        if options.mode == OpenMode::Server {
            compaction::spawn_background(Arc::downgrade(&inner));
        }
        Ok(SqliteStore { inner })
    }

    /// The database file inside a data directory.
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join("mailstead.db")
    }

    /// What recovery did at open (server mode).
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// Waits until every write submitted before this call is durable.
    pub async fn flush(&self) -> Result<()> {
        self.inner.writer.write(|_, _| Ok(())).await
    }
}

/// Maps a SQLite error to a store error: a full disk is temporary, the rest unavailable.
pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => {
            StoreError::new(StoreErrorKind::Full, format!("database: disk full ({e})"))
        }
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
            StoreError::new(StoreErrorKind::Corrupt, format!("database damaged: {e}"))
        }
        _ => StoreError::unavailable(format!("database: {e}")),
    }
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
