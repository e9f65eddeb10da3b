//! Append throughput with group commit against one fsync per append, in the same run.
//!
//! `cargo bench -p mailstead-store-sqlite --bench append` (set `APPEND_BENCH_N` to change the
//! message count). Each configuration gets a fresh store on the same disk; 1 KiB and 100 KiB
//! messages are appended by 32 concurrent tasks, every append durable before it returns.

use std::sync::Arc;
use std::time::Instant;

use mailstead_store::model::{AppendTarget, MessageData, NewAccount, NewMessage};
use mailstead_store::{DirectoryStore, MailStore};
use mailstead_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};
use mailstead_types::{Address, Domain};

const TASKS: usize = 32;

async fn run(max_batch: usize, size: usize, count: usize) -> f64 {
    let dir = tempfile::tempdir_in(std::env::var("APPEND_BENCH_DIR").unwrap_or_else(|_| ".".into()))
        .expect("tempdir");
    let options = SqliteOptions {
        inline_blob_max: 64 * 1024,
        group_commit_max_batch: max_batch,
        mode: OpenMode::Server,
        ..Default::default()
    };
    let store = Arc::new(SqliteStore::open(dir.path(), options).expect("open"));
    store.add_domain(&Domain::parse("bench.test").expect("d")).await.expect("domain");
    let new = NewAccount {
        address: Address::parse("u@bench.test").expect("a"),
        password_hash: "$x$".into(),
        quota_bytes: 0,
    };
    let account = store.add_account(new).await.expect("account").id;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in (t..count).step_by(TASKS) {
                let mut data = format!("Subject: {n}\r\n\r\n").into_bytes();
                data.resize(size, b'x');
                let msg = NewMessage {
                    data: MessageData::from(data),
                    internal_date: 0,
                    flags: Default::default(),
                    keywords: vec![],
                };
                let target = vec![AppendTarget { account, mailbox: "INBOX".into() }];
                store.append(msg, target).await.expect("append")[0].as_ref().expect("target");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let count: usize = std::env::var("APPEND_BENCH_N").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!("{count} appends by {TASKS} concurrent tasks, each durable (fsync) before it returns");
    for size in [1024, 100 * 1024] {
        let group = rt.block_on(run(256, size, count));
        let single = rt.block_on(run(1, size, count));
        println!(
            "{:>4} KiB: group commit {group:>8.0}/s   one fsync per append {single:>8.0}/s   ratio {:.1}x",
            size / 1024,
            group / single
        );
    }
}
