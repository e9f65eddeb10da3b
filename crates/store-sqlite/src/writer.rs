//! The single writer thread and its group commit.
//!
//! Every write is a job: a closure run inside one shared `BEGIN IMMEDIATE` transaction, each job
//! in its own SAVEPOINT so one failing job rolls back alone. The hot jobs (a delivery's copies,
//! journal events) run without one ([`Writer::write_without_savepoint`]): their only failures
//! are the database's own, and such a failure rolls back the whole batch. The thread takes
//! every job that is waiting (up to `max_batch`), runs them, commits once, and hands the batch
//! to the syncer ([`crate::durability`]), which fdatasyncs the WAL and only then answers each
//! caller.
//!
//! One fsync is in flight at a time. While it runs, the writer keeps its next transaction open
//! and runs every job that arrives in it; the syncer commits that batch itself the moment the
//! fsync ends and starts the next fsync, so under load no thread has to be woken between two
//! fsyncs. The connection and the open batch are shared under one mutex for this. So the CPU
//! work of the next batch overlaps the disk flush of the previous one, and under load many
//! deliveries share each commit and each fsync; alone, a job costs one of each.
//!
//! Message bodies in segment files are written before their job is submitted but not synced:
//! a job notes each segment it refers to ([`JobCtx::sync_segment`]) and the batch syncs them
//! right before its `COMMIT`, so the rows become durable only after the bytes they point at,
//! and a batch of large deliveries costs one segment fsync instead of one round per delivery.
//! A segment that cannot be synced fails the whole batch (rolled back; callers retry).
//!
//! Blob files whose last reference went away, and segments that compaction emptied, are deleted
//! once that state is durable, checked again under the write lock (so a concurrent writer that
//! re-adds the same content is never robbed of its file).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use mailstead_store::model::{AccountId, BlobId};
use mailstead_store::{Change, ChangeHub, Result, StoreError};

use crate::blobs::BlobFiles;
use crate::db_err;
use crate::durability::{self, Committed, Completion, SyncState, WalSync};
use crate::segments::Slot;

/// What a job may record besides its database writes.
#[derive(Debug, Default)]
pub struct JobCtx {
    changes: Vec<(AccountId, Change)>,
    removals: Removals,
    /// Bodies in segments that this batch refers to, made durable before it commits.
    segment_bodies: Vec<Slot>,
}

/// Files to delete once the commits that let them go are durable.
#[derive(Debug, Default)]
struct Removals {
    /// Blobs whose last reference went away.
    blobs: Vec<BlobId>,
    /// Segments no row refers to any more.
    segments: Vec<u64>,
}

impl Removals {
    fn is_empty(&self) -> bool {
        self.blobs.is_empty() && self.segments.is_empty()
    }

    fn extend(&mut self, other: Removals) {
        self.blobs.extend(other.blobs);
        self.segments.extend(other.segments);
    }
}

impl JobCtx {
    /// Queues a change event, published if the batch commits.
    pub fn change(&mut self, account: AccountId, change: Change) {
        self.changes.push((account, change));
    }

    /// Notes a blob whose reference count reached zero (its file is removed after commit).
    pub fn unreferenced(&mut self, blob: BlobId) {
        self.removals.blobs.push(blob);
    }

    /// Notes that a row of this batch refers to a body written (not yet durably) to a segment:
    /// the segment is synced before the batch commits.
    pub fn sync_segment(&mut self, slot: &Slot) {
        self.segment_bodies.push(slot.clone());
    }

    /// Notes a segment no row refers to any more (its file is removed after commit).
    pub fn emptied_segment(&mut self, segment: u64) {
        self.removals.segments.push(segment);
    }

    fn mark(&self) -> [usize; 4] {
        [
            self.changes.len(),
            self.removals.blobs.len(),
            self.removals.segments.len(),
            self.segment_bodies.len(),
        ]
    }

    fn rollback_to(&mut self, mark: [usize; 4]) {
        self.changes.truncate(mark[0]);
        self.removals.blobs.truncate(mark[1]);
        self.removals.segments.truncate(mark[2]);
        self.segment_bodies.truncate(mark[3]);
    }
}

pub(crate) trait Job: Send {
    /// Runs the job in the open transaction. The error is that of a job without a savepoint
    /// that failed: what it wrote before failing is in the transaction, which must be rolled
    /// back whole.
    fn run(self: Box<Self>, conn: &Connection, ctx: &mut JobCtx) -> (Completion, Option<StoreError>);
    fn fail(self: Box<Self>, err: StoreError);
}

struct ClosureJob<F, R> {
    f: F,
    reply: oneshot::Sender<Result<R>>,
    /// Run in a savepoint of its own, so that a failure rolls back this job alone.
    savepoint: bool,
}

impl<F, R> Job for ClosureJob<F, R>
where
    F: FnOnce(&Connection, &mut JobCtx) -> Result<R> + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection, ctx: &mut JobCtx) -> (Completion, Option<StoreError>) {
        let ClosureJob { f, reply, savepoint } = *self;
        if !savepoint {
            let result = f(conn, ctx);
            let broke = result.as_ref().err().cloned();
            return (answer(reply, result), broke);
        }
        let mark = ctx.mark();
        let result = match run_cached(conn, "SAVEPOINT job") {
            Ok(()) => {
                let r = f(conn, ctx);
                let end = if r.is_ok() {
                    run_cached(conn, "RELEASE job")
                } else {
                    run_cached(conn, "ROLLBACK TO job").and_then(|()| run_cached(conn, "RELEASE job"))
                };
                match (r, end.map_err(db_err)) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) | (Ok(_), Err(e)) => Err(e),
                }
            }
            Err(e) => Err(db_err(e)),
        };
        if result.is_err() {
            ctx.rollback_to(mark);
        }
        (answer(reply, result), None)
    }

    fn fail(self: Box<Self>, err: StoreError) {
        let _ = self.reply.send(Err(err));
    }
}

/// The completion that answers a job's caller with its result once its batch is durable, or
/// with the batch's error.
fn answer<R: Send + 'static>(reply: oneshot::Sender<Result<R>>, result: Result<R>) -> Completion {
    Box::new(move |commit: &Result<()>| {
        let out = match commit {
            Ok(()) => result,
            Err(e) => Err(e.clone()),
        };
        let _ = reply.send(out);
    })
}

/// Handle to the writer thread.
#[derive(Debug, Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn JobDebug>>,
}

/// A job that can be named in Debug output (the channel type needs it).
pub(crate) trait JobDebug: Job {}
impl<T: Job> JobDebug for T {}
impl std::fmt::Debug for dyn JobDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Writer {
    /// Starts the writer thread on `conn` and its syncer, which makes commits durable with
    /// `wal` (see [`crate::durability`]).
    pub fn start(
        conn: Connection,
        max_batch: usize,
        hub: Arc<ChangeHub>,
        blobs: Arc<BlobFiles>,
        wal: Box<dyn WalSync>,
    ) -> Result<Writer> {
        // Commits write the WAL without an fsync; the syncer makes them durable before any
        // caller hears back.
        conn.execute_batch("PRAGMA synchronous = NORMAL").map_err(db_err)?;
        let state = Arc::new(SyncState::default());
        let shared = Arc::new(Shared {
            batch: Mutex::new(BatchState {
                conn,
                open: None,
                committed: 0,
                in_flight: false,
                removals: Removals::default(),
            }),
            room: Condvar::new(),
            state: state.clone(),
        });
        let for_syncer = shared.clone();
        let synced = durability::start(wal, hub, state, Box::new(move || for_syncer.commit_after_sync()))?;
        let (tx, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                let writer = WriterThread { shared, synced, max_batch: max_batch.max(1) };
                writer.run(rx, &blobs);
            })
            .map_err(|e| StoreError::unavailable(format!("cannot start the store writer thread: {e}")))?;
        Ok(Writer { jobs: tx })
    }

    /// Runs `f` in the next group-committed transaction; returns once it is durable.
    pub async fn write<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&Connection, &mut JobCtx) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit(f, true).await
    }

    /// [`Writer::write`] without the savepoint that lets a failing job roll back alone, for
    /// the jobs every delivery runs (its copies, its journal events), whose only failures are
    /// the database's own (a full disk, an I/O error): such a failure rolls back the whole
    /// batch, and every job in it gets the error. None of them was answered yet, so their
    /// callers retry and nothing is lost. `f` must not return an error after writing for any
    /// other reason. Saves the two savepoint statements and the copy SQLite keeps of every page
    /// the job changes that an earlier job in the batch changed too (3% of the server's CPU
    /// per 1 KiB delivery, with the allocations behind it).
    pub async fn write_without_savepoint<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&Connection, &mut JobCtx) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit(f, false).await
    }

    async fn submit<F, R>(&self, f: F, savepoint: bool) -> Result<R>
    where
        F: FnOnce(&Connection, &mut JobCtx) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(ClosureJob { f, reply, savepoint }))
            .await
            .map_err(|_| StoreError::unavailable("the store is shut down"))?;
        rx.await.map_err(|_| StoreError::unavailable("the store writer stopped"))?
    }
}

/// Blob files waiting for removal beyond which the writer removes them even under load.
const MAX_UNREFERENCED: usize = 1024;

/// What the writer thread and the syncer share: the connection and the transaction being
/// filled. The writer runs jobs in it; whoever finds no fsync in flight commits it.
struct Shared {
    batch: Mutex<BatchState>,
    /// Signalled when the syncer has committed the open batch or gone idle (a writer with a
    /// full batch, or one shutting down, waits for that).
    room: Condvar,
    state: Arc<SyncState>,
}

/// The writer connection and its batch, under [`Shared::batch`].
struct BatchState {
    conn: Connection,
    /// The transaction being filled.
    open: Option<OpenBatch>,
    /// Batches committed so far.
    committed: u64,
    /// A committed batch is with the syncer: the next commit waits for its fsync, and the
    /// syncer makes it as soon as that ends.
    in_flight: bool,
    /// Files let go by committed batches.
    removals: Removals,
}

/// The transaction being filled.
struct OpenBatch {
    ctx: JobCtx,
    completions: Vec<Completion>,
}

/// The writer thread's own state.
struct WriterThread {
    shared: Arc<Shared>,
    synced: std::sync::mpsc::Sender<Committed>,
    max_batch: usize,
}

fn lock(batch: &Mutex<BatchState>) -> MutexGuard<'_, BatchState> {
    batch.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Called by the syncer when an fsync has ended: commits what gathered meanwhile and
    /// returns it for the next fsync, or notes that nothing is in flight. The syncer is
    /// already running, so the next commit costs no thread wake-up (measured: waking the
    /// writer for it and then the syncer again took as long as the fsync itself).
    fn commit_after_sync(&self) -> Option<Committed> {
        let mut batch = lock(&self.batch);
        let next = batch.commit(&self.state);
        batch.in_flight = next.is_some();
        self.room.notify_all();
        next
    }
}

impl BatchState {
    /// Runs `job` in the open transaction, beginning one if needed.
    fn add(&mut self, job: Box<dyn JobDebug>, state: &SyncState) {
        if self.open.is_none() {
            if let Some(err) = state.poisoned() {
                job.fail(err);
                return;
            }
            if let Err(e) = run_cached(&self.conn, "BEGIN IMMEDIATE") {
                let err = db_err(e);
                tracing::error!(error = %err, "store: cannot begin a transaction");
                job.fail(err);
                return;
            }
            self.open = Some(OpenBatch { ctx: JobCtx::default(), completions: Vec::new() });
        }
        if let Some(batch) = &mut self.open {
            let (done, broke) = job.run(&self.conn, &mut batch.ctx);
            batch.completions.push(done);
            if let Some(err) = broke {
                self.abort(&err);
            }
        }
    }

    /// Rolls the open transaction back whole, after a job without a savepoint failed in it:
    /// every job in it gets that job's error.
    fn abort(&mut self, err: &StoreError) {
        let Some(OpenBatch { completions, .. }) = self.open.take() else { return };
        tracing::warn!(error = %err, jobs = completions.len(), "store: a write failed; its whole transaction is rolled back");
        self.roll_back(completions, err);
    }

    /// Rolls the transaction back and gives every job in it `err`.
    fn roll_back(&self, completions: Vec<Completion>, err: &StoreError) {
        let _ = self.conn.execute_batch("ROLLBACK");
        completions.into_iter().for_each(|done| done(&Err(err.clone())));
    }

    fn is_full(&self, max_batch: usize) -> bool {
        self.open.as_ref().is_some_and(|b| b.completions.len() >= max_batch)
    }

    /// Commits the open batch; returns it for the syncer, or `None` when there was none or the
    /// commit failed (its callers have their error then).
    fn commit(&mut self, state: &SyncState) -> Option<Committed> {
        let OpenBatch { ctx, completions } = self.open.take()?;
        let committed = match state.poisoned() {
            Some(err) => Err(err),
            None => sync_segment_bodies(&ctx.segment_bodies)
                .and_then(|()| run_cached(&self.conn, "COMMIT").map_err(db_err)),
        };
        if let Err(e) = committed {
            tracing::error!(error = %e, jobs = completions.len(), "store: commit failed");
            self.roll_back(completions, &e);
            return None;
        }
        self.committed += 1;
        self.removals.extend(ctx.removals);
        Some(Committed { seq: self.committed, completions, changes: ctx.changes })
    }

    /// Deletes files of blobs that still have no row, once the commits that dropped them are
    /// durable (so a crash cannot bring back a row whose file is gone), holding the write lock
    /// so no other writer (thread or process) can reference them meanwhile.
    fn remove_unreferenced(&mut self, blobs: &BlobFiles, state: &SyncState) {
        if self.removals.is_empty() {
            return;
        }
        state.wait_durable(self.committed);
        let removals = std::mem::take(&mut self.removals);
        if state.poisoned().is_some() {
            return;
        }
        remove_unreferenced(&self.conn, blobs, &removals);
    }
}

impl WriterThread {
    fn run(&self, mut rx: mpsc::Receiver<Box<dyn JobDebug>>, blobs: &BlobFiles) {
        let shared = &*self.shared;
        while let Some(job) = rx.blocking_recv() {
            let mut batch = lock(&shared.batch);
            batch.add(job, &shared.state);
            // Whatever else is waiting goes into the open transaction, up to a full batch; a
            // full batch waits for the syncer to commit it.
            loop {
                if batch.is_full(self.max_batch) {
                    if batch.in_flight {
                        batch = shared
                            .room
                            .wait_while(batch, |b| b.in_flight && b.is_full(self.max_batch))
                            .unwrap_or_else(|p| p.into_inner());
                    } else {
                        self.commit_open(&mut batch);
                    }
                    continue;
                }
                match rx.try_recv() {
                    Ok(job) => batch.add(job, &shared.state),
                    Err(_) => break,
                }
            }
            // No fsync in flight: commit now. Otherwise the syncer commits when it ends.
            if !batch.in_flight {
                self.commit_open(&mut batch);
            }
            // Emptied segments are rare and worth their space at once; otherwise files are
            // removed when the writer is idle. Never inside the open transaction.
            let due = batch.removals.blobs.len() >= MAX_UNREFERENCED || !batch.removals.segments.is_empty();
            if batch.open.is_none() && (due || rx.is_empty()) {
                batch.remove_unreferenced(blobs, &shared.state);
            }
        }
        // Shutting down: let the syncer finish, then commit what is left.
        let mut batch = lock(&shared.batch);
        batch = shared.room.wait_while(batch, |b| b.in_flight).unwrap_or_else(|p| p.into_inner());
        self.commit_open(&mut batch);
        batch.remove_unreferenced(blobs, &shared.state);
    }

    /// Commits the open batch, if any, and hands it to the syncer.
    fn commit_open(&self, batch: &mut BatchState) {
        let Some(committed) = batch.commit(&self.shared.state) else { return };
        batch.in_flight = true;
        if let Err(unsent) = self.synced.send(committed) {
            batch.in_flight = false;
            let err = StoreError::unavailable("the store sync thread stopped");
            unsent.0.completions.into_iter().for_each(|done| done(&Err(err.clone())));
        }
    }
}

/// Makes the segment bodies a batch refers to durable, so its commit never points at bytes that
/// are not on disk. The first sync of a segment begins after every body of the batch was
/// written, so it covers the segment's other bodies: one fsync per segment.
fn sync_segment_bodies(bodies: &[Slot]) -> Result<()> {
    for slot in bodies {
        slot.segment.sync_through(slot.sync_round).map_err(|e| {
            StoreError::from_io(&format!("syncing message segment {}", slot.segment.id()), &e)
        })?;
    }
    Ok(())
}

/// Runs a transaction-control statement through the statement cache: these run several times
/// per message, and parsing them each time showed in profiles.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Deletes files of blobs that still have no row stored in a file of its own, and segments no
/// row refers to, holding the write lock so no other writer (thread or process) can reference
/// them meanwhile.
fn remove_unreferenced(conn: &Connection, blobs: &BlobFiles, removals: &Removals) {
    let run = || -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut stmt =
            conn.prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1 AND data IS NULL AND seg IS NULL")?;
        for id in &removals.blobs {
            if !stmt.exists([&id.0])? {
                blobs.remove(id);
            }
        }
        let mut stmt = conn.prepare_cached("SELECT 1 FROM blobs WHERE seg = ?1 LIMIT 1")?;
        for &segment in &removals.segments {
            if !stmt.exists([segment as i64])? {
                blobs.segments().remove(segment);
            }
        }
        drop(stmt);
        conn.execute_batch("COMMIT")
    };
    if let Err(e) = run() {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::warn!(error = %e, "store: could not remove unreferenced message files; next start will");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A WAL sync the test controls: each call waits for a permit, counts, and fails when
    /// told to.
    #[derive(Clone, Default)]
    struct HeldSync {
        permits: Arc<(Mutex<usize>, std::sync::Condvar)>,
        entered: Arc<AtomicUsize>,
        calls: Arc<AtomicUsize>,
        fail: Arc<std::sync::atomic::AtomicBool>,
    }

    impl HeldSync {
        fn release(&self, n: usize) {
            let (lock, cv) = &*self.permits;
            *lock.lock().unwrap() += n;
            cv.notify_all();
        }
    }

    impl WalSync for HeldSync {
        fn sync(&mut self) -> std::io::Result<()> {
            self.entered.fetch_add(1, Ordering::SeqCst);
            let (lock, cv) = &*self.permits;
            let mut permits = lock.lock().unwrap();
            while *permits == 0 {
                permits = cv.wait(permits).unwrap();
            }
            *permits -= 1;
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(std::io::Error::other("injected fsync failure"));
            }
            Ok(())
        }
    }

    fn writer(dir: &tempfile::TempDir, sync: HeldSync) -> Writer {
        writer_with_batch(dir, sync, 256)
    }

    fn writer_with_batch(dir: &tempfile::TempDir, sync: HeldSync, max_batch: usize) -> Writer {
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        crate::schema::configure(&conn).unwrap();
        conn.execute_batch("CREATE TABLE t(v INTEGER)").unwrap();
        let blobs = Arc::new(
            BlobFiles::open(
                &dir.path().join("blobs"),
                &crate::SqliteOptions { inline_blob_max: 1024, ..Default::default() },
            )
            .unwrap(),
        );
        Writer::start(conn, max_batch, Arc::new(ChangeHub::new()), blobs, Box::new(sync)).unwrap()
    }

    fn insert(w: &Writer, v: i64) -> tokio::task::JoinHandle<Result<()>> {
        let w = w.clone();
        tokio::spawn(async move {
            w.write(move |conn, _| {
                conn.execute("INSERT INTO t(v) VALUES(?1)", [v]).map_err(db_err)?;
                Ok(())
            })
            .await
        })
    }

    #[tokio::test]
    async fn a_write_is_answered_only_after_its_wal_sync() {
        let dir = tempfile::tempdir().unwrap();
        let sync = HeldSync::default();
        let w = writer(&dir, sync.clone());
        let job = insert(&w, 1);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!job.is_finished(), "answered before its commit was synced");
        sync.release(1);
        job.await.unwrap().unwrap();
        assert_eq!(sync.calls.load(Ordering::SeqCst), 1);
    }

    /// A writer whose first write (of 0) is in its sync, held: what is written next gathers in
    /// one open transaction until the test releases syncs.
    async fn first_write_held(
        max_batch: usize,
    ) -> (tempfile::TempDir, HeldSync, Writer, tokio::task::JoinHandle<Result<()>>) {
        let dir = tempfile::tempdir().unwrap();
        let sync = HeldSync::default();
        let w = writer_with_batch(&dir, sync.clone(), max_batch);
        let first = insert(&w, 0);
        while sync.entered.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (dir, sync, w, first)
    }

    /// Starts one write and, while its sync is held, `n` more (none is answered meanwhile);
    /// drops the writer first if `drop_writer`; releases the syncs and waits for every write.
    /// Returns how many syncs ran and how many rows were written.
    async fn writes_during_a_held_sync(max_batch: usize, n: i64, drop_writer: bool) -> (usize, i64) {
        let (dir, sync, w, first) = first_write_held(max_batch).await;
        let mut jobs = vec![first];
        jobs.extend((1..=n).map(|v| insert(&w, v)));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(jobs.iter().all(|j| !j.is_finished()), "answered before its sync");
        if drop_writer {
            drop(w);
        }
        sync.release(100);
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        let rows = Connection::open(dir.path().join("t.db"))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        (sync.calls.load(Ordering::SeqCst), rows)
    }

    #[tokio::test]
    async fn writes_arriving_during_a_sync_share_the_next_commit_and_sync() {
        // The first sync is held: the other 50 run in the writer's open transaction meanwhile.
        let (syncs, rows) = writes_during_a_held_sync(256, 50, false).await;
        assert_eq!(syncs, 2, "one sync for the first write, one for the rest");
        assert_eq!(rows, 51);
    }

    #[tokio::test]
    async fn full_batches_wait_for_the_fsync_and_each_gets_its_own() {
        // 20 writes arrive while the first sync is held: the writer fills one batch of 4 and
        // waits; the syncer commits each next batch when the sync before it ends.
        let (syncs, rows) = writes_during_a_held_sync(4, 20, false).await;
        assert_eq!(syncs, 6, "the first write, then five batches of four");
        assert_eq!(rows, 21);
    }

    #[tokio::test]
    async fn writes_pending_when_the_writer_is_dropped_are_still_made_durable() {
        let (syncs, rows) = writes_during_a_held_sync(256, 10, true).await;
        assert_eq!(syncs, 2);
        assert_eq!(rows, 11);
    }

    #[tokio::test]
    async fn a_job_without_savepoint_that_fails_rolls_its_whole_batch_back() {
        // The first write's sync is held: the next three share one open transaction, in order.
        let (dir, sync, w, first) = first_write_held(256).await;
        let unguarded = |v: i64, fail: bool| {
            let w = w.clone();
            tokio::spawn(async move {
                w.write_without_savepoint(move |conn, _| {
                    conn.execute("INSERT INTO t(v) VALUES(?1)", [v]).map_err(db_err)?;
                    if fail {
                        return Err(StoreError::unavailable("database: disk I/O error"));
                    }
                    Ok(())
                })
                .await
            })
        };
        let ok_before = unguarded(1, false);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let failing = unguarded(2, true);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let after = insert(&w, 3);
        tokio::time::sleep(Duration::from_millis(30)).await;
        sync.release(100);
        first.await.unwrap().unwrap();
        let err = ok_before.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("disk I/O"), "the batch's jobs get the failure: {err}");
        assert!(failing.await.unwrap().is_err());
        after.await.unwrap().unwrap();
        assert_eq!(rows(&dir), [0, 3], "nothing of the rolled-back batch is stored; the next batch is");
    }

    #[tokio::test]
    async fn a_failed_sync_fails_its_callers_and_every_later_write() {
        let dir = tempfile::tempdir().unwrap();
        let sync = HeldSync::default();
        sync.fail.store(true, Ordering::SeqCst);
        sync.release(10);
        let w = writer(&dir, sync.clone());
        let err = insert(&w, 1).await.unwrap().unwrap_err();
        assert!(err.to_string().contains("durable"), "{err}");
        let later = insert(&w, 2).await.unwrap().unwrap_err();
        assert!(later.to_string().contains("restart"), "{later}");
        assert_eq!(sync.calls.load(Ordering::SeqCst), 1, "no sync after the store is poisoned");
    }

    /// A body written (not yet durably) to a segment of its own directory, and a job that
    /// refers to it (as a delivery's blob row does) while inserting `v`.
    fn segment_body(dir: &tempfile::TempDir) -> Slot {
        let segments = crate::segments::Segments::open(&dir.path().join("other-segments"), 1 << 20).unwrap();
        segments.write(b"body bytes").unwrap()
    }

    fn insert_referring(w: &Writer, v: i64, slot: Slot) -> tokio::task::JoinHandle<Result<()>> {
        let w = w.clone();
        tokio::spawn(async move {
            w.write_without_savepoint(move |conn, ctx| {
                ctx.sync_segment(&slot);
                conn.execute("INSERT INTO t(v) VALUES(?1)", [v]).map_err(db_err)?;
                Ok(())
            })
            .await
        })
    }

    fn rows(dir: &tempfile::TempDir) -> Vec<i64> {
        Connection::open(dir.path().join("t.db"))
            .unwrap()
            .prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[tokio::test]
    async fn a_batch_referring_to_segment_bodies_syncs_them_once_before_it_commits() {
        // The first write's sync is held: two jobs referring to one segment share the next
        // transaction, which is committed when that sync ends.
        let (dir, sync, w, first) = first_write_held(256).await;
        let body = segment_body(&dir);
        let segment = body.segment.clone();
        let a = insert_referring(&w, 1, body.clone());
        let b = insert_referring(&w, 2, body);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(segment.syncs_completed(), 0, "the open batch is not committed yet");
        // Let the first sync end; hold the second (the shared batch's).
        sync.release(1);
        while sync.entered.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(segment.syncs_completed(), 1, "synced once, before the commit its WAL sync follows");
        assert_eq!(rows(&dir), [0, 1, 2], "committed");
        assert!(!a.is_finished() && !b.is_finished(), "not answered before the WAL sync");
        sync.release(100);
        first.await.unwrap().unwrap();
        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_batch_whose_segment_cannot_be_synced_is_not_committed() {
        let (dir, sync, w, first) = first_write_held(256).await;
        let broken = segment_body(&dir);
        broken.segment.break_syncs();
        let before = insert(&w, 1);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let referring = insert_referring(&w, 2, broken);
        tokio::time::sleep(Duration::from_millis(30)).await;
        sync.release(100);
        first.await.unwrap().unwrap();
        let err = referring.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("segment"), "{err}");
        assert!(before.await.unwrap().is_err(), "its batch-mate is refused too (callers retry)");
        insert(&w, 3).await.unwrap().unwrap();
        assert_eq!(rows(&dir), [0, 3], "nothing of that batch is stored; the next batch is");
    }
}
