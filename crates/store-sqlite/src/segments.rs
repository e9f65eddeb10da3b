//! Large message bodies packed into shared, append-only segment files
//! (`DIR/blobs/segments/<id>.seg`), so storing one creates no file: no inode to allocate, no
//! directory entry to make durable, and concurrent deliveries share one `fdatasync`.
//!
//! A body is written at an offset reserved in the active segment before its job is submitted,
//! and the group commit whose rows record `(segment, offset)` syncs the segment just before
//! `COMMIT` ([`crate::writer`]), so a committed row never points at bytes that are not on
//! disk, and one fsync covers every body of the batch. Syncs are coalesced: each body knows the
//! first sync round begun after it was written ([`Slot::sync_round`]); a caller whose round is
//! done returns at once, one whose round is not yet begun waits for a running sync to end, and
//! whoever finds no sync running starts it for everyone waiting (compaction syncs its copies
//! itself).
//!
//! Each process writes only to a segment it holds an exclusive `flock` on; a sealed segment
//! stays locked while any prepared blob still refers to it (its `Arc` owns the file). So
//! [`crate::compaction`] can tell, across processes, that nobody is about to reference a
//! segment: it takes the lock itself. Bytes whose row went away (expunged messages, duplicate
//! contents, appends whose transaction failed) are dead space until compaction copies a
//! segment's live bodies forward and deletes it.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use mailstead_store::{Result, StoreError};

use crate::blobs::fsync_dir;

/// The segment directory and the active segment of this process.
#[derive(Debug)]
pub struct Segments {
    dir: PathBuf,
    max_bytes: u64,
    active: Mutex<Active>,
}

#[derive(Debug, Default)]
struct Active {
    /// Opened at the first write, so a process that never writes a large body creates nothing.
    segment: Option<Arc<Segment>>,
    next: u64,
}

/// One open segment file, exclusively locked by this process.
#[derive(Debug)]
pub struct Segment {
    id: u64,
    file: File,
    sync: Mutex<SyncRounds>,
    synced: Condvar,
}

/// Coalesced syncs: `started` counts syncs begun, `completed` the last one that succeeded.
#[derive(Debug, Default)]
struct SyncRounds {
    started: u64,
    completed: u64,
    running: bool,
    /// A sync failed: the kernel may have dropped written pages, so nothing more is trusted
    /// to this file; new bodies go to a fresh segment.
    failed: bool,
}

/// Where a body was written; holding it keeps its segment from being compacted away.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The segment (holds its lock).
    pub segment: Arc<Segment>,
    /// Byte offset of the body in it.
    pub offset: u64,
    /// The segment's first sync begun after the body was written: the body is durable once it
    /// has completed.
    pub sync_round: u64,
}

impl Segment {
    fn new(id: u64, file: File) -> Segment {
        Segment { id, file, sync: Mutex::default(), synced: Condvar::new() }
    }

    /// The segment's number.
    pub fn id(&self) -> u64 {
        self.id
    }

    fn failed(&self) -> bool {
        lock(&self.sync).failed
    }

    /// How many syncs of this segment have succeeded.
    #[cfg(test)]
    pub(crate) fn syncs_completed(&self) -> u64 {
        lock(&self.sync).completed
    }

    /// Makes every later sync fail, as after a failed fsync.
    #[cfg(test)]
    pub(crate) fn break_syncs(&self) {
        lock(&self.sync).failed = true;
    }

    /// The sync round that will cover what was written to the segment so far.
    fn next_round(&self) -> u64 {
        lock(&self.sync).started + 1
    }

    /// Returns once sync round `needed` has completed, starting it if no sync is running. A
    /// caller whose round is already covered (another batch's sync began after its write)
    /// costs no fsync.
    pub(crate) fn sync_through(&self, needed: u64) -> std::io::Result<()> {
        let mut rounds = lock(&self.sync);
        loop {
            if rounds.failed {
                return Err(std::io::Error::other("an earlier fsync of this segment failed"));
            }
            if rounds.completed >= needed {
                return Ok(());
            }
            if rounds.running {
                rounds = self.synced.wait(rounds).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            rounds.running = true;
            rounds.started += 1;
            let round = rounds.started;
            drop(rounds);
            let result = self.file.sync_data();
            rounds = lock(&self.sync);
            rounds.running = false;
            match &result {
                Ok(()) => rounds.completed = round,
                Err(e) => {
                    tracing::error!(segment = self.id, error = %e, "fsync of a message segment failed");
                    rounds.failed = true;
                }
            }
            self.synced.notify_all();
        }
    }
}

impl Segments {
    /// Opens (and creates) the segment directory.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Segments> {
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|e| io_err(dir, &e))?;
            if let Some(parent) = dir.parent() {
                fsync_dir(parent).map_err(|e| io_err(parent, &e))?;
            }
        }
        Ok(Segments { dir: dir.to_path_buf(), max_bytes: max_bytes.max(1), active: Mutex::default() })
    }

    /// Writes `data` to the active segment and makes it durable.
    #[cfg(test)]
    pub fn append(&self, data: &[u8]) -> Result<Slot> {
        let slot = self.write(data)?;
        self.sync(&slot)?;
        Ok(slot)
    }

    /// Writes `data` to the active segment, not yet durable: [`Segments::sync`] the slot (or
    /// let the group commit that records it do so) before anything relies on it.
    pub fn write(&self, data: &[u8]) -> Result<Slot> {
        let (segment, offset) = self.reserve(data.len() as u64)?;
        segment.file.write_all_at(data, offset).map_err(|e| io_err(&self.path(segment.id), &e))?;
        let sync_round = segment.next_round();
        Ok(Slot { segment, offset, sync_round })
    }

    /// Makes the body at `slot` durable (at once, if a later sync already did).
    pub fn sync(&self, slot: &Slot) -> Result<()> {
        slot.segment.sync_through(slot.sync_round).map_err(|e| io_err(&self.path(slot.segment.id), &e))
    }

    /// Reserves `len` bytes, moving to a new segment when the active one is full or broken.
    fn reserve(&self, len: u64) -> Result<(Arc<Segment>, u64)> {
        let mut active = lock(&self.active);
        let fits = |a: &Active, s: &Segment| !s.failed() && (a.next == 0 || a.next + len <= self.max_bytes);
        let usable = active.segment.as_ref().is_some_and(|s| fits(&active, s));
        if !usable {
            let first = active.segment.is_none();
            let (segment, next) = self.open_next(first)?;
            active.segment = Some(segment);
            active.next = next;
        }
        let segment = active.segment.clone().ok_or_else(|| StoreError::unavailable("no active segment"))?;
        let offset = active.next;
        active.next += len;
        Ok((segment, offset))
    }

    /// At the first write, resumes the newest segment if it has room and no other process
    /// holds it; otherwise (and at every later roll-over) creates the next one.
    fn open_next(&self, first: bool) -> Result<(Arc<Segment>, u64)> {
        let newest = self.list()?.last().map(|&(id, _)| id);
        if first && let Some(id) = newest {
            let path = self.path(id);
            let file =
                OpenOptions::new().read(true).write(true).open(&path).map_err(|e| io_err(&path, &e))?;
            let len = file.metadata().map_err(|e| io_err(&path, &e))?.len();
            if len < self.max_bytes && file.try_lock().is_ok() {
                return Ok((Arc::new(Segment::new(id, file)), len));
            }
        }
        let mut id = newest.map_or(1, |n| n + 1);
        loop {
            let path = self.path(id);
            match OpenOptions::new().read(true).write(true).create_new(true).open(&path) {
                Ok(file) => {
                    file.try_lock()
                        .map_err(|e| StoreError::unavailable(format!("locking {}: {e}", path.display())))?;
                    fsync_dir(&self.dir).map_err(|e| io_err(&self.dir, &e))?;
                    tracing::debug!(segment = id, "new message segment");
                    return Ok((Arc::new(Segment::new(id, file)), 0));
                }
                // Another process created it first.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => id += 1,
                Err(e) => return Err(io_err(&path, &e)),
            }
        }
    }

    /// Reads `len` bytes at `offset` of segment `id`.
    pub fn read(&self, id: u64, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        read_body(&File::open(self.path(id))?, offset, len)
    }

    /// Segment files on disk as `(id, length)`, oldest first.
    pub fn list(&self) -> Result<Vec<(u64, u64)>> {
        let entries = fs::read_dir(&self.dir).map_err(|e| io_err(&self.dir, &e))?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(parse_name) else { continue };
            if let Ok(meta) = entry.metadata() {
                out.push((id, meta.len()));
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The id of this process's active segment, if it has one.
    pub fn active_id(&self) -> Option<u64> {
        lock(&self.active).segment.as_ref().map(|s| s.id)
    }

    /// Opens segment `id` and takes its lock, if no one (this process included) holds it:
    /// then no prepared blob anywhere refers to it.
    pub fn try_lease(&self, id: u64) -> Option<File> {
        let file = OpenOptions::new().read(true).write(true).open(self.path(id)).ok()?;
        file.try_lock().ok()?;
        Some(file)
    }

    /// Deletes segment `id`; a missing file is not an error.
    pub fn remove(&self, id: u64) {
        let path = self.path(id);
        match fs::remove_file(&path) {
            Ok(()) => tracing::info!(segment = id, "message segment removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not remove message segment"),
        }
    }

    /// Where segment `id` lives.
    pub fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:010}.seg"))
    }
}

/// Reads the body at `offset..offset + len` of an open segment. The place comes from the
/// database, so it is checked against the file's length before anything is allocated: a
/// damaged row gets an error, not a buffer of whatever size it claims.
pub fn read_body(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let end = offset.checked_add(len).ok_or_else(|| std::io::Error::other("body place overflows"))?;
    if end > file.metadata()?.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("body at {offset}..{end} lies past the end of the segment"),
        ));
    }
    let len = usize::try_from(len).map_err(|_| std::io::Error::other("body too large"))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

fn parse_name(name: &str) -> Option<u64> {
    name.strip_suffix(".seg")?.parse().ok()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn io_err(path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::from_io(&format!("message segment {}", path.display()), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_covered_by_a_later_sync_costs_no_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let segs = Segments::open(&dir.path().join("segments"), 1 << 20).unwrap();
        let a = segs.write(&[1u8; 60]).unwrap();
        let b = segs.write(&[2u8; 60]).unwrap();
        segs.sync(&b).unwrap();
        segs.sync(&a).unwrap();
        assert_eq!(a.segment.syncs_completed(), 1, "the sync for b covered a, written before it");
        let c = segs.write(&[3u8; 60]).unwrap();
        segs.sync(&c).unwrap();
        assert_eq!(c.segment.syncs_completed(), 2, "a body written after the last sync gets its own");
    }

    #[test]
    fn appends_are_readable_and_roll_over_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let segs = Segments::open(&dir.path().join("segments"), 100).unwrap();
        let a = segs.append(&[1u8; 60]).unwrap();
        let b = segs.append(&[2u8; 60]).unwrap();
        let c = segs.append(&[3u8; 250]).unwrap();
        assert_eq!((a.segment.id(), a.offset), (1, 0));
        assert_eq!((b.segment.id(), b.offset), (2, 0), "60 + 60 does not fit in 100");
        assert_eq!((c.segment.id(), c.offset), (3, 0), "a body larger than a segment gets one alone");
        assert_eq!(segs.read(2, 0, 60).unwrap(), vec![2u8; 60]);
        assert_eq!(segs.read(3, 0, 250).unwrap(), vec![3u8; 250]);
        assert_eq!(segs.list().unwrap(), vec![(1, 60), (2, 60), (3, 250)]);
        // A place past the end (a damaged row) is an error, whatever length it claims.
        assert_eq!(segs.read(2, 50, 20).unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(segs.read(2, 0, u64::MAX).is_err());
        assert!(segs.read(2, u64::MAX, 2).is_err());
    }

    #[test]
    fn a_held_segment_cannot_be_leased_and_a_released_one_can() {
        let dir = tempfile::tempdir().unwrap();
        let segs = Segments::open(&dir.path().join("segments"), 100).unwrap();
        let a = segs.append(b"x").unwrap();
        assert!(segs.try_lease(1).is_none(), "the active segment is locked");
        segs.append(&[0u8; 100]).unwrap(); // rolls over to segment 2
        assert!(segs.try_lease(1).is_none(), "a prepared blob still refers to segment 1");
        drop(a);
        assert!(segs.try_lease(1).is_some(), "nobody refers to segment 1 any more");
    }

    #[test]
    fn a_second_process_does_not_write_into_a_held_segment() {
        let dir = tempfile::tempdir().unwrap();
        let one = Segments::open(&dir.path().join("segments"), 1000).unwrap();
        let two = Segments::open(&dir.path().join("segments"), 1000).unwrap();
        let a = one.append(b"first").unwrap();
        let b = two.append(b"second").unwrap();
        assert_ne!(a.segment.id(), b.segment.id());
        drop((a, b));
        drop(one);
        // A restarted process resumes the newest segment when it is free, after its end.
        let three = Segments::open(&dir.path().join("segments"), 1000).unwrap();
        drop(two);
        let c = three.append(b"third").unwrap();
        assert_eq!((c.segment.id(), c.offset), (2, 6));
        assert_eq!(three.read(2, 0, 11).unwrap(), b"secondthird");
    }

    #[test]
    fn concurrent_appends_share_syncs_and_do_not_overlap() {
        let dir = tempfile::tempdir().unwrap();
        let segs = Arc::new(Segments::open(&dir.path().join("segments"), 1 << 30).unwrap());
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let segs = segs.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| (t, i, segs.append(&vec![t; 1000 + i]).unwrap().offset))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(u8, usize, u64)> = threads.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort_by_key(|&(_, _, off)| off);
        let mut end = 0;
        for (t, i, off) in all {
            assert!(off >= end, "overlapping reservations");
            end = off + 1000 + i as u64;
            assert_eq!(segs.read(1, off, (1000 + i) as u64).unwrap(), vec![t; 1000 + i]);
        }
    }
}
