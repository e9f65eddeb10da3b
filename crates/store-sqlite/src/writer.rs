//! The single writer thread and its group commit.
//!
//! Every write is a job: a closure run inside one shared `BEGIN IMMEDIATE` transaction, each job
//! in its own SAVEPOINT so one failing job rolls back alone. The thread takes every job that is
//! waiting (up to `max_batch`), runs them, commits once, and hands the batch to the syncer
//! ([`crate::durability`]), which fdatasyncs the WAL and only then answers each caller.
//!
//! One fsync is in flight at a time. While it runs, the writer keeps its next transaction open
//! and runs every job that arrives in it; it commits that batch the moment the fsync ends. So
//! the CPU work of the next batch overlaps the disk flush of the previous one, and under load
//! many deliveries share each commit and each fsync; alone, a job costs one of each.
//!
//! Blob files whose last reference went away, and segments that compaction emptied, are deleted
//! once that state is durable, checked again under the write lock (so a concurrent writer that
//! re-adds the same content is never robbed of its file).

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use mailstead_store::model::{AccountId, BlobId};
use mailstead_store::{Change, ChangeHub, Result, StoreError};

use crate::blobs::BlobFiles;
use crate::db_err;
use crate::durability::{self, Committed, Completion, SyncState, WalSync};

/// What a job may record besides its database writes.
#[derive(Debug, Default)]
pub struct JobCtx {
    changes: Vec<(AccountId, Change)>,
    removals: Removals,
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

    /// Notes a segment no row refers to any more (its file is removed after commit).
    pub fn emptied_segment(&mut self, segment: u64) {
        self.removals.segments.push(segment);
    }

    fn mark(&self) -> [usize; 3] {
        [self.changes.len(), self.removals.blobs.len(), self.removals.segments.len()]
    }

    fn rollback_to(&mut self, mark: [usize; 3]) {
        self.changes.truncate(mark[0]);
        self.removals.blobs.truncate(mark[1]);
        self.removals.segments.truncate(mark[2]);
    }
}

pub(crate) trait Job: Send {
    fn run(self: Box<Self>, conn: &Connection, ctx: &mut JobCtx) -> Completion;
    fn fail(self: Box<Self>, err: StoreError);
}

struct ClosureJob<F, R> {
    f: F,
    reply: oneshot::Sender<Result<R>>,
}

impl<F, R> Job for ClosureJob<F, R>
where
    F: FnOnce(&Connection, &mut JobCtx) -> Result<R> + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection, ctx: &mut JobCtx) -> Completion {
        let ClosureJob { f, reply } = *self;
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
        Box::new(move |commit: &Result<()>| {
            let out = match commit {
                Ok(()) => result,
                Err(e) => Err(e.clone()),
            };
            let _ = reply.send(out);
        })
    }

    fn fail(self: Box<Self>, err: StoreError) {
        let _ = self.reply.send(Err(err));
    }
}

/// Handle to the writer thread.
#[derive(Debug, Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Msg>,
}

/// A job that can be named in Debug output (the channel type needs it).
pub(crate) trait JobDebug: Job {}
impl<T: Job> JobDebug for T {}
impl std::fmt::Debug for dyn JobDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// What the writer thread receives: jobs, and the syncer's word that an fsync ended.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A write.
    Job(Box<dyn JobDebug>),
    /// The previous batch is durable: the open one can commit.
    Synced,
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
        let (tx, rx) = mpsc::channel(4096);
        let synced = durability::start(wal, hub, state.clone(), tx.downgrade())?;
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                let mut writer = WriterThread {
                    conn,
                    synced,
                    state,
                    max_batch: max_batch.max(1),
                    committed: 0,
                    removals: Removals::default(),
                };
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
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Msg::Job(Box::new(ClosureJob { f, reply })))
            .await
            .map_err(|_| StoreError::unavailable("the store is shut down"))?;
        rx.await.map_err(|_| StoreError::unavailable("the store writer stopped"))?
    }
}

/// Blob files waiting for removal beyond which the writer removes them even under load.
const MAX_UNREFERENCED: usize = 1024;

/// The writer thread's state.
struct WriterThread {
    conn: Connection,
    synced: std::sync::mpsc::Sender<Committed>,
    state: Arc<SyncState>,
    max_batch: usize,
    /// Batches committed so far.
    committed: u64,
    /// Files let go by committed batches.
    removals: Removals,
}

/// The transaction being filled.
struct OpenBatch {
    ctx: JobCtx,
    completions: Vec<Completion>,
}

impl WriterThread {
    fn run(&mut self, mut rx: mpsc::Receiver<Msg>, blobs: &BlobFiles) {
        let mut open: Option<OpenBatch> = None;
        loop {
            // Whatever is waiting goes into the open transaction, up to a full batch.
            let full = open.as_ref().is_some_and(|b| b.completions.len() >= self.max_batch);
            if !full {
                match rx.try_recv() {
                    Ok(Msg::Job(job)) => {
                        self.add(&mut open, job);
                        continue;
                    }
                    Ok(Msg::Synced) | Err(mpsc::error::TryRecvError::Empty) => {}
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            }
            match open.take() {
                // Commit when the previous batch is durable; a full batch waits for that.
                Some(batch) if full || self.state.is_durable(self.committed) => {
                    self.state.wait_durable(self.committed);
                    self.commit(batch);
                    // Emptied segments are rare and worth their space at once.
                    if self.removals.blobs.len() >= MAX_UNREFERENCED || !self.removals.segments.is_empty() {
                        self.remove_unreferenced(blobs);
                    }
                    continue;
                }
                // The previous batch is still being flushed: keep filling this one meanwhile.
                Some(batch) => open = Some(batch),
                // Idle: a good moment to remove files.
                None => self.remove_unreferenced(blobs),
            }
            match rx.blocking_recv() {
                Some(Msg::Job(job)) => self.add(&mut open, job),
                Some(Msg::Synced) => {}
                None => break,
            }
        }
        if let Some(batch) = open.take() {
            self.state.wait_durable(self.committed);
            self.commit(batch);
        }
        self.remove_unreferenced(blobs);
    }

    /// Runs `job` in the open transaction, beginning one if needed.
    fn add(&mut self, open: &mut Option<OpenBatch>, job: Box<dyn JobDebug>) {
        if open.is_none() {
            if let Some(err) = self.state.poisoned() {
                job.fail(err);
                return;
            }
            if let Err(e) = run_cached(&self.conn, "BEGIN IMMEDIATE") {
                let err = db_err(e);
                tracing::error!(error = %err, "store: cannot begin a transaction");
                job.fail(err);
                return;
            }
            *open = Some(OpenBatch { ctx: JobCtx::default(), completions: Vec::new() });
        }
        if let Some(batch) = open {
            let done = job.run(&self.conn, &mut batch.ctx);
            batch.completions.push(done);
        }
    }

    /// Commits the batch and hands it to the syncer.
    fn commit(&mut self, batch: OpenBatch) {
        let OpenBatch { ctx, completions } = batch;
        let conn = &self.conn;
        let committed = match self.state.poisoned() {
            Some(err) => Err(err),
            None => run_cached(conn, "COMMIT").map_err(db_err),
        };
        if let Err(e) = committed {
            tracing::error!(error = %e, jobs = completions.len(), "store: commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            completions.into_iter().for_each(|done| done(&Err(e.clone())));
            return;
        }
        self.committed += 1;
        self.removals.extend(ctx.removals);
        let committed = Committed { seq: self.committed, completions, changes: ctx.changes };
        if let Err(unsent) = self.synced.send(committed) {
            let err = StoreError::unavailable("the store sync thread stopped");
            unsent.0.completions.into_iter().for_each(|done| done(&Err(err.clone())));
        }
    }

    /// Deletes files of blobs that still have no row, once the commits that dropped them are
    /// durable (so a crash cannot bring back a row whose file is gone), holding the write lock
    /// so no other writer (thread or process) can reference them meanwhile.
    fn remove_unreferenced(&mut self, blobs: &BlobFiles) {
        if self.removals.is_empty() {
            return;
        }
        self.state.wait_durable(self.committed);
        let removals = std::mem::take(&mut self.removals);
        if self.state.poisoned().is_some() {
            return;
        }
        remove_unreferenced(&self.conn, blobs, &removals);
    }
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
        Writer::start(conn, 256, Arc::new(ChangeHub::new()), blobs, Box::new(sync)).unwrap()
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

    #[tokio::test]
    async fn writes_arriving_during_a_sync_share_the_next_commit_and_sync() {
        let dir = tempfile::tempdir().unwrap();
        let sync = HeldSync::default();
        let w = writer(&dir, sync.clone());
        let first = insert(&w, 0);
        while sync.entered.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The first sync is held: these 50 run in the writer's open transaction meanwhile.
        let jobs: Vec<_> = (1..=50).map(|v| insert(&w, v)).collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!first.is_finished() && jobs.iter().all(|j| !j.is_finished()));
        sync.release(100);
        first.await.unwrap().unwrap();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(sync.calls.load(Ordering::SeqCst), 2, "one sync for the first write, one for the rest");
        let rows: i64 = Connection::open(dir.path().join("t.db"))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 51);
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
}
