//! A small pool of read-only connections. WAL lets readers run beside the writer; reads run on
//! tokio's blocking threads so SQLite never stalls the async workers.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use mailstead_store::{Result, StoreError};

use crate::db_err;

/// Connections kept for reuse; more may be open briefly under load.
const POOL_SIZE: usize = 8;

/// The read pools: one for reads of many pages (memory-mapped) and one for point lookups
/// (not mapped: under a stream of deliveries the database file grows at every checkpoint, and
/// each mapped connection then remaps it on its next read; an unmap costs every thread of the
/// process a TLB flush, which showed in profiles of RCPT lookups).
#[derive(Debug)]
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    points: Mutex<Vec<Connection>>,
}

impl Readers {
    /// A pool for the database at `path`.
    pub fn new(path: PathBuf) -> Readers {
        Readers { path, idle: Mutex::new(Vec::new()), points: Mutex::new(Vec::new()) }
    }

    fn take(&self) -> Result<Connection> {
        self.take_from(&self.idle, crate::schema::READ_PRAGMAS)
    }

    fn take_from(&self, pool: &Mutex<Vec<Connection>>, pragmas: &str) -> Result<Connection> {
        if let Some(conn) = pool.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(db_err)?;
        conn.execute_batch(pragmas).map_err(db_err)?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        Self::give_back_to(&self.idle, conn);
    }

    fn give_back_to(pool: &Mutex<Vec<Connection>>, conn: Connection) {
        let mut idle = pool.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push(conn);
        }
    }

    /// Runs `f` with a read connection on the calling thread. Only for indexed point lookups
    /// (an account, an alias, a domain): they take microseconds on hot pages, less than the
    /// thread hand-off `read` costs, and they sit on the hot path of every RCPT.
    pub fn read_point<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R>,
    {
        let conn = self.take_from(&self.points, crate::schema::POINT_READ_PRAGMAS)?;
        let out = f(&conn);
        Self::give_back_to(&self.points, conn);
        out
    }

    /// Runs `f` with a read connection on a blocking thread.
    pub async fn read<F, R>(self: &std::sync::Arc<Self>, f: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = this.take()?;
            let out = f(&conn);
            this.give_back(conn);
            out
        })
        .await
        .map_err(|e| StoreError::unavailable(format!("store reader task failed: {e}")))?
    }
}
