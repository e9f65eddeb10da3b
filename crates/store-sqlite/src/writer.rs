//! The single writer thread and its group commit.
//!
//! Every write is a job: a closure run inside one shared `BEGIN IMMEDIATE` transaction, each job
//! in its own SAVEPOINT so one failing job rolls back alone. The thread takes every job that is
//! waiting (up to `max_batch`), runs them, commits once — one WAL fsync with
//! `synchronous=FULL` — and only then answers each caller. While it fsyncs, new jobs queue up and
//! form the next batch: under load many deliveries share each fsync; alone, a job costs one.
//!
//! After the commit the thread publishes the jobs' change events and deletes blob files whose
//! last reference went away (checked again under the write lock, so a concurrent writer that
//! re-adds the same content is never robbed of its file).

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use mailstead_store::model::{AccountId, BlobId};
use mailstead_store::{Change, ChangeHub, Result, StoreError};

use crate::blobs::BlobFiles;
use crate::db_err;

/// What a job may record besides its database writes.
#[derive(Debug, Default)]
pub struct JobCtx {
    changes: Vec<(AccountId, Change)>,
    unreferenced: Vec<BlobId>,
}

impl JobCtx {
    /// Queues a change event, published if the batch commits.
    pub fn change(&mut self, account: AccountId, change: Change) {
        self.changes.push((account, change));
    }

    /// Notes a blob whose reference count reached zero (its file is removed after commit).
    pub fn unreferenced(&mut self, blob: BlobId) {
        self.unreferenced.push(blob);
    }

    fn mark(&self) -> (usize, usize) {
        (self.changes.len(), self.unreferenced.len())
    }

    fn rollback_to(&mut self, mark: (usize, usize)) {
        self.changes.truncate(mark.0);
        self.unreferenced.truncate(mark.1);
    }
}

/// Called after the batch's commit (or its failure) to answer the job's caller.
type Completion = Box<dyn FnOnce(&Result<()>) + Send>;

trait Job: Send {
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
    jobs: mpsc::Sender<Box<dyn JobDebug>>,
}

/// A job that can be named in Debug output (the channel type needs it).
trait JobDebug: Job {}
impl<T: Job> JobDebug for T {}
impl std::fmt::Debug for dyn JobDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub fn start(
        conn: Connection,
        max_batch: usize,
        hub: Arc<ChangeHub>,
        blobs: Arc<BlobFiles>,
    ) -> Result<Writer> {
        let (tx, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(conn, rx, max_batch.max(1), &hub, &blobs))
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
            .send(Box::new(ClosureJob { f, reply }))
            .await
            .map_err(|_| StoreError::unavailable("the store is shut down"))?;
        rx.await.map_err(|_| StoreError::unavailable("the store writer stopped"))?
    }
}

fn writer_loop(
    conn: Connection,
    mut rx: mpsc::Receiver<Box<dyn JobDebug>>,
    max_batch: usize,
    hub: &ChangeHub,
    blobs: &BlobFiles,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = run_cached(&conn, "BEGIN IMMEDIATE") {
            let err = db_err(e);
            tracing::error!(error = %err, "store: cannot begin a transaction");
            batch.into_iter().for_each(|job| job.fail(err.clone()));
            continue;
        }
        let mut ctx = JobCtx::default();
        let completions: Vec<_> = batch.into_iter().map(|job| job.run(&conn, &mut ctx)).collect();
        let commit = run_cached(&conn, "COMMIT").map_err(db_err);
        if let Err(e) = &commit {
            tracing::error!(error = %e, jobs = completions.len(), "store: commit failed");
            let _ = conn.execute_batch("ROLLBACK");
        } else {
            hub.publish(ctx.changes);
        }
        completions.into_iter().for_each(|done| done(&commit));
        if commit.is_ok() && !ctx.unreferenced.is_empty() {
            remove_unreferenced(&conn, blobs, &ctx.unreferenced);
        }
    }
}

/// Runs a transaction-control statement through the statement cache: these run several times
/// per message, and parsing them each time showed in profiles.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Deletes files of blobs that still have no row, holding the write lock so no other writer
/// (thread or process) can reference them meanwhile.
fn remove_unreferenced(conn: &Connection, blobs: &BlobFiles, ids: &[BlobId]) {
    let run = || -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut stmt = conn.prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?;
        for id in ids {
            if !stmt.exists([&id.0])? {
                blobs.remove(id);
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
