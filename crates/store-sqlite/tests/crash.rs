//! Durability under `kill -9`: a child process appends messages as fast as it can and prints
//! each acknowledgement; the parent kills it mid-stream, reopens the store in server mode and
//! checks that every acknowledged message is present and byte-exact, and that recovery left no
//! orphaned blob files or temp files behind.
//!
//! The child is this same test binary, re-run with `MAILSTEAD_CRASH_CHILD` set.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailstead_store::model::{AppendTarget, MessageData, NewAccount, NewMessage};
use mailstead_store::{DirectoryStore, MailStore};
use mailstead_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};
use mailstead_types::{Address, Domain};

const CHILD_ENV: &str = "MAILSTEAD_CRASH_CHILD";
const ADDRESS: &str = "crash@example.test";

fn options(mode: OpenMode) -> SqliteOptions {
    SqliteOptions { inline_blob_max: 16 * 1024, group_commit_max_batch: 64, mode, ..Default::default() }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// Body of the child process: appends forever from 16 concurrent tasks, printing
/// `ACK <uid> <sha256>` after each acknowledged append.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    runtime().block_on(async move {
        let store = Arc::new(SqliteStore::open(Path::new(&dir), options(OpenMode::Server)).expect("open"));
        let account = store
            .get_account(&Address::parse(ADDRESS).expect("address"))
            .await
            .expect("get")
            .expect("account");
        let mut tasks = Vec::new();
        for task in 0..16u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0u64.. {
                    // One in five is large enough to go to a segment file outside the database.
                    let size = if n % 5 == 0 { 40_000 + (task as usize * 7) } else { 600 };
                    let mut data = format!("Subject: {task}-{n}-{}\r\n\r\n", std::process::id()).into_bytes();
                    data.resize(size, b'a' + (n % 26) as u8);
                    let hash = mailstead_store::model::BlobId::of(&data).0;
                    let msg = NewMessage {
                        data: MessageData::from(data),
                        internal_date: 0,
                        flags: Default::default(),
                        keywords: vec![],
                    };
                    let target = vec![AppendTarget { account: account.id, mailbox: "INBOX".into() }];
                    let appended =
                        store.append(msg, target).await.expect("append")[0].clone().expect("target");
                    println!("ACK {} {hash}", appended.uid);
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

fn count_blob_files(dir: &Path) -> usize {
    (0..=255u8)
        .filter_map(|i| std::fs::read_dir(dir.join("blobs").join(format!("{i:02x}"))).ok())
        .map(|d| d.count())
        .sum()
}

#[test]
fn kill_9_during_appends_loses_nothing() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    runtime().block_on(async {
        let store = SqliteStore::open(dir.path(), options(OpenMode::Server)).expect("open");
        store.add_domain(&Domain::parse("example.test").expect("domain")).await.expect("domain");
        let new = NewAccount {
            address: Address::parse(ADDRESS).expect("a"),
            password_hash: "$x$".into(),
            quota_bytes: 0,
        };
        store.add_account(new).await.expect("account");
    });

    let mut acked: Vec<(u32, String)> = Vec::new();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().expect("exe"))
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let start = Instant::now();
        let before = acked.len();
        // Kill at a different point each round, in the middle of the stream.
        let kill_after = 150 + round * 170;
        while acked.len() - before < kill_after && start.elapsed() < Duration::from_secs(60) {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (uid, hash) = rest.split_once(' ').expect("ack format");
                acked.push((uid.parse().expect("uid"), hash.to_string()));
            }
        }
        child.kill().expect("kill -9");
        let _ = child.wait();
        assert!(acked.len() - before >= kill_after, "round {round}: the child acknowledged too few appends");

        runtime().block_on(async {
            let store = SqliteStore::open(dir.path(), options(OpenMode::Server)).expect("reopen after kill");
            let report = store.recovery_report().clone();
            assert!(report.missing_blob_files.is_empty(), "{report:?}");
            let account =
                store.get_account(&Address::parse(ADDRESS).expect("a")).await.expect("get").expect("account");
            let inbox = store.get_mailbox(account.id, "INBOX").await.expect("get").expect("inbox");
            let entries = store.entries(inbox.id).await.expect("entries");
            let by_uid: std::collections::HashMap<u32, _> = entries.iter().map(|e| (e.uid, e)).collect();
            for (uid, hash) in &acked {
                let entry =
                    by_uid.get(uid).unwrap_or_else(|| panic!("round {round}: acknowledged UID {uid} lost"));
                assert_eq!(&entry.blob.0, hash, "UID {uid} has other content");
            }
            for entry in &entries {
                let data = store.read_message(&entry.blob).await.expect("every stored message is readable");
                assert_eq!(
                    mailstead_store::model::BlobId::of(&data).0,
                    entry.blob.0,
                    "UID {} is damaged",
                    entry.uid
                );
                assert_eq!(data.len() as u64, entry.size);
            }
            let count = |sql: &str| -> i64 {
                rusqlite::Connection::open(SqliteStore::db_path(dir.path()))
                    .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
                    .expect("count")
            };
            let file_rows = count("SELECT COUNT(*) FROM blobs WHERE data IS NULL AND seg IS NULL");
            assert_eq!(count_blob_files(dir.path()) as i64, file_rows, "orphaned blob files after recovery");
            assert!(
                count("SELECT COUNT(*) FROM blobs WHERE seg IS NOT NULL") > 0,
                "large bodies go to segments"
            );
            assert_eq!(std::fs::read_dir(dir.path().join("blobs/tmp")).expect("tmp").count(), 0);
            eprintln!(
                "round {round}: {} acknowledged so far, {} stored, recovery {report:?}",
                acked.len(),
                entries.len()
            );
        });
    }
}
