//! Runs the store conformance suite against the SQLite backend, with a small inline limit so
//! both inline and file blobs are exercised.

use std::sync::Arc;

use mailstead_store::{Store, store_conformance_tests};
use mailstead_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

async fn make() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions {
        inline_blob_max: 64 * 1024,
        group_commit_max_batch: 64,
        mode: OpenMode::Server,
        ..Default::default()
    };
    let store = SqliteStore::open(dir.path(), options).expect("open store");
    (Arc::new(store), dir)
}

store_conformance_tests!(make);
