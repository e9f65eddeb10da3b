//! Making commits durable off the writer thread: the syncer.
//!
//! The writer connection runs with `synchronous = NORMAL`: a COMMIT writes its WAL frames
//! (into the page cache) and returns without an fsync. The committed batch's callers come to
//! this thread, which fdatasyncs the WAL file and only then answers them and publishes their
//! change events. Every caller is therefore answered after its commit is on disk, exactly as
//! with `synchronous = FULL`, but the writer already runs the next batch while the disk
//! flushes: one fsync covers every batch committed before it started. When the fsync ends,
//! this thread commits the batch that gathered meanwhile itself (see [`CommitNext`]): the
//! writer commits only when no fsync is in flight.
//!
//! In NORMAL mode SQLite still syncs the WAL before each checkpoint, the database after it,
//! and the WAL header when the file is reused, so a checkpoint never moves data that is not
//! durable. A commit may be visible to readers for the moment before its fsync ends; nothing
//! is acknowledged to the caller that wrote it before then.
//!
//! A failed fsync means the kernel may have dropped the data it could not write, and a later
//! fsync could succeed without it. So the first failure poisons the store: the waiting callers
//! and every later write get an error (SMTP answers 4xx, senders retry) until the server is
//! restarted, and the log says why.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};

use mailstead_store::model::AccountId;
use mailstead_store::{Change, ChangeHub, Result, StoreError};

/// Called once the batch is durable (or could not be made so) to answer a job's caller.
pub type Completion = Box<dyn FnOnce(&Result<()>) + Send>;

/// Makes every WAL frame written so far durable.
pub trait WalSync: Send {
    /// Flushes the WAL to disk.
    fn sync(&mut self) -> std::io::Result<()>;
}

/// fdatasync of the database's `-wal` file. The file is reopened when its inode changes
/// (SQLite removes the WAL when the last connection closes; the writer's stays open, so in
/// practice it is opened once).
#[derive(Debug)]
pub struct WalFile {
    path: PathBuf,
    open: Option<(File, u64)>,
}

impl WalFile {
    /// The WAL of the database at `db_path`.
    pub fn new(db_path: &std::path::Path) -> WalFile {
        let mut path = db_path.as_os_str().to_owned();
        path.push("-wal");
        WalFile { path: PathBuf::from(path), open: None }
    }
}

impl WalSync for WalFile {
    fn sync(&mut self) -> std::io::Result<()> {
        let ino = std::fs::metadata(&self.path)?.ino();
        match &self.open {
            Some((file, open_ino)) if *open_ino == ino => file.sync_data(),
            _ => {
                let file = File::open(&self.path)?;
                let opened = file.metadata()?.ino();
                file.sync_data()?;
                self.open = Some((file, opened));
                Ok(())
            }
        }
    }
}

/// A committed batch waiting for its fsync.
pub struct Committed {
    /// The batch's number (the writer counts its commits from 1).
    pub seq: u64,
    /// Its callers.
    pub completions: Vec<Completion>,
    /// Its change events, published once durable.
    pub changes: Vec<(AccountId, Change)>,
}

/// What the writer and the syncer share: how far commits are durable, and whether an fsync
/// has failed.
#[derive(Debug, Default)]
pub struct SyncState {
    durable: Mutex<u64>,
    advanced: Condvar,
    poisoned: AtomicBool,
}

impl SyncState {
    /// The error every write gets once an fsync has failed.
    pub fn poisoned(&self) -> Option<StoreError> {
        self.poisoned.load(Ordering::Acquire).then(|| {
            StoreError::unavailable(
                "the store stopped accepting writes after an fsync failed; check the disk and restart mailstead",
            )
        })
    }

    /// Blocks until batch `seq` is durable (or the store is poisoned).
    pub fn wait_durable(&self, seq: u64) {
        let mut durable = self.durable.lock().unwrap_or_else(|p| p.into_inner());
        while *durable < seq && !self.poisoned.load(Ordering::Acquire) {
            durable = self.advanced.wait(durable).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn advance(&self, seq: u64) {
        let mut durable = self.durable.lock().unwrap_or_else(|p| p.into_inner());
        *durable = (*durable).max(seq);
        self.advanced.notify_all();
    }

    fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
        let _guard = self.durable.lock().unwrap_or_else(|p| p.into_inner());
        self.advanced.notify_all();
    }
}

/// What the syncer calls after each fsync: commits the batch that gathered meanwhile and
/// returns it (the syncer then makes it durable at once), or notes that none is in flight.
pub type CommitNext = Box<dyn FnMut() -> Option<Committed> + Send>;

/// Starts the syncer thread; it ends when the returned sender is dropped and what was sent
/// is answered. After each fsync it commits the next batch itself through `next`, so under
/// load commits and fsyncs follow each other on this thread without waking another.
pub fn start(
    mut wal: Box<dyn WalSync>,
    hub: Arc<ChangeHub>,
    state: Arc<SyncState>,
    mut next: CommitNext,
) -> Result<mpsc::Sender<Committed>> {
    let (tx, rx) = mpsc::channel::<Committed>();
    std::thread::Builder::new()
        .name("store-sync".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batches = vec![first];
                loop {
                    batches.extend(rx.try_iter());
                    sync_and_answer(wal.as_mut(), &hub, &state, std::mem::take(&mut batches));
                    match next() {
                        Some(committed) => batches.push(committed),
                        None => break,
                    }
                }
            }
        })
        .map_err(|e| StoreError::unavailable(format!("cannot start the store sync thread: {e}")))?;
    Ok(tx)
}

/// Makes `batches` durable with one fsync, then answers their callers and publishes their
/// changes (or fails them all, poisoning the store, if the fsync failed).
fn sync_and_answer(wal: &mut dyn WalSync, hub: &ChangeHub, state: &SyncState, batches: Vec<Committed>) {
    let result = match state.poisoned() {
        Some(e) => Err(e),
        None => wal.sync().map_err(|e| {
            tracing::error!(error = %e, "store: fsync of the write-ahead log failed; refusing writes until restart");
            state.poison();
            StoreError::from_io("making the write-ahead log durable", &e)
        }),
    };
    let last = batches.last().map_or(0, |b| b.seq);
    for batch in batches {
        if result.is_ok() {
            hub.publish(batch.changes);
        }
        batch.completions.into_iter().for_each(|done| done(&result));
    }
    if result.is_ok() {
        state.advance(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_file_is_synced_and_reopened_when_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        let mut wal = WalFile::new(&db);
        assert!(wal.sync().is_err(), "no WAL file yet");
        std::fs::write(dir.path().join("m.db-wal"), b"one").unwrap();
        wal.sync().unwrap();
        let first = wal.open.as_ref().map(|(_, ino)| *ino);
        std::fs::remove_file(dir.path().join("m.db-wal")).unwrap();
        std::fs::write(dir.path().join("m.db-wal"), b"two").unwrap();
        wal.sync().unwrap();
        let second = wal.open.as_ref().map(|(_, ino)| *ino);
        assert_ne!(first, second, "the new file is the one synced");
    }
}
