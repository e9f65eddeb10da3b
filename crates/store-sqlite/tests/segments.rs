//! Large bodies in shared segment files: compaction reclaims the space of deleted messages
//! without touching the live ones, survives a reopen, and data directories whose large bodies
//! are one file each (as before segments, or above `segment_blob_max`) keep working beside them.

use std::path::Path;

use mailstead_store::model::{AppendTarget, MessageData, NewAccount, NewMessage};
use mailstead_store::{DirectoryStore, MailStore};
use mailstead_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};
use mailstead_types::{Address, Domain};

fn options(segment_blob_max: usize) -> SqliteOptions {
    SqliteOptions {
        inline_blob_max: 1024,
        segment_blob_max,
        segment_max_bytes: 64 * 1024,
        group_commit_max_batch: 16,
        mode: OpenMode::Server,
    }
}

fn body(n: usize) -> Vec<u8> {
    let mut data = format!("Subject: segment test {n}\r\n\r\n").into_bytes();
    data.resize(9_000 + n * 13, b'a' + (n % 26) as u8);
    data
}

async fn account(store: &SqliteStore) -> i64 {
    let address = Address::parse("seg@example.test").expect("address");
    if let Some(a) = store.get_account(&address).await.expect("get") {
        return a.id;
    }
    store.add_domain(&Domain::parse("example.test").expect("domain")).await.expect("domain");
    let new = NewAccount { address, password_hash: "$x$".into(), quota_bytes: 0 };
    store.add_account(new).await.expect("account").id
}

async fn append(store: &SqliteStore, account: i64, n: usize) -> u32 {
    let msg = NewMessage {
        data: MessageData::from(body(n)),
        internal_date: 0,
        flags: Default::default(),
        keywords: vec![],
    };
    let target = vec![AppendTarget { account, mailbox: "INBOX".into() }];
    store.append(msg, target).await.expect("append")[0].clone().expect("target").uid
}

/// Appends messages 0..count, then removes three in four (their bytes become dead space in
/// their segments); returns the kept ones, every fourth, as (uid, n).
async fn append_and_thin(store: &SqliteStore, account: i64, count: usize) -> Vec<(u32, usize)> {
    let mut kept = Vec::new();
    let mut doomed = Vec::new();
    for n in 0..count {
        let uid = append(store, account, n).await;
        if n % 4 == 0 { kept.push((uid, n)) } else { doomed.push(uid) }
    }
    let inbox = store.get_mailbox(account, "INBOX").await.expect("get").expect("inbox");
    store.remove_messages(inbox.id, doomed).await.expect("remove");
    kept
}

fn segment_files(dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<_> = std::fs::read_dir(dir.join("blobs/segments"))
        .expect("segments dir")
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().expect("meta").len()))
        .collect();
    out.sort();
    out
}

/// Reads every message of INBOX and checks each against the body it was appended with.
async fn check_inbox(store: &SqliteStore, account: i64, expected: &[(u32, usize)]) {
    let inbox = store.get_mailbox(account, "INBOX").await.expect("get").expect("inbox");
    let entries = store.entries(inbox.id).await.expect("entries");
    let uids: Vec<u32> = entries.iter().map(|e| e.uid).collect();
    assert_eq!(uids, expected.iter().map(|&(uid, _)| uid).collect::<Vec<_>>());
    for (entry, &(_, n)) in entries.iter().zip(expected) {
        let data = store.read_message(&entry.blob).await.expect("read");
        assert!(data[..] == body(n)[..], "message {n} damaged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_reclaims_deleted_bodies_and_keeps_live_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path(), options(1024 * 1024)).expect("open");
    let account = account(&store).await;
    let kept = append_and_thin(&store, account, 40).await;
    let before = segment_files(dir.path());
    assert!(before.len() >= 6, "64 KiB segments hold about six 10 KiB bodies: {before:?}");

    // Every sealed segment is now at most a third live; the newest one is left alone.
    let newest = before.len() as i64;
    let outside_newest =
        rows(dir.path(), &format!("SELECT COUNT(*) FROM blobs WHERE seg IS NOT NULL AND seg < {newest}"));
    // Readers keep reading throughout: a body whose segment goes away under them is found at
    // its new place.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (store, stop, kept) = (store.clone(), stop.clone(), kept.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads == 0 {
                check_inbox(&store, account, &kept).await;
                reads += 1;
            }
        })
    };
    let report = store.compact_segments().await.expect("compact");
    store.flush().await.expect("flush");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.await.expect("reads during compaction all succeed");
    let after = segment_files(dir.path());
    assert_eq!(report.segments_emptied, before.len() - 1, "{report:?} {before:?} -> {after:?}");
    assert_eq!(report.bodies_moved as i64, outside_newest);
    assert_eq!(rows(dir.path(), &format!("SELECT COUNT(*) FROM blobs WHERE seg < {newest}")), 0);
    let bytes_before: u64 = before.iter().map(|f| f.1).sum();
    let bytes_after: u64 = after.iter().map(|f| f.1).sum();
    assert!(bytes_after < bytes_before / 2, "{before:?} -> {after:?}");
    check_inbox(&store, account, &kept).await;

    // Later passes settle (the copies may have sealed a segment that is itself mostly dead),
    // and a reopen finds everything in place.
    let mut passes = 0;
    while store.compact_segments().await.expect("compact again").segments_emptied > 0 {
        passes += 1;
        assert!(passes < 3, "compaction does not settle");
    }
    check_inbox(&store, account, &kept).await;
    drop(store);
    let store = SqliteStore::open(dir.path(), options(1024 * 1024)).expect("reopen");
    assert!(store.recovery_report().missing_blob_files.is_empty(), "{:?}", store.recovery_report());
    check_inbox(&store, account, &kept).await;
}

fn rows(dir: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(SqliteStore::db_path(dir))
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .expect("query")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_files_of_their_own_stay_readable_beside_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    // First as a data directory from before segments: every large body a file of its own.
    let store = SqliteStore::open(dir.path(), options(0)).expect("open");
    let account = account(&store).await;
    let mut all = Vec::new();
    for n in 0..5 {
        all.push((append(&store, account, n).await, n));
    }
    drop(store);
    assert_eq!(rows(dir.path(), "SELECT COUNT(*) FROM blobs WHERE data IS NULL AND seg IS NULL"), 5);
    // Then with segments: new bodies go there, the old files are still served, and the same
    // content delivered again keeps its file.
    let store = SqliteStore::open(dir.path(), options(1024 * 1024)).expect("reopen");
    for n in 3..8 {
        all.push((append(&store, account, n).await, n));
    }
    assert_eq!(rows(dir.path(), "SELECT COUNT(*) FROM blobs WHERE seg IS NOT NULL"), 3);
    check_inbox(&store, account, &all).await;
    let inbox = store.get_mailbox(account, "INBOX").await.expect("get").expect("inbox");
    let first_five: Vec<u32> = all[..5].iter().map(|&(uid, _)| uid).collect();
    store.remove_messages(inbox.id, first_five).await.expect("remove");
    store.flush().await.expect("flush");
    check_inbox(&store, account, &all[5..]).await;
    drop(store);
    let store = SqliteStore::open(dir.path(), options(1024 * 1024)).expect("reopen");
    let report = store.recovery_report();
    assert!(report.missing_blob_files.is_empty() && report.orphan_blobs_removed == 0, "{report:?}");
    check_inbox(&store, account, &all[5..]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_segment_is_left_alone_and_the_others_still_compact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path(), options(1024 * 1024)).expect("open");
    let account = account(&store).await;
    append_and_thin(&store, account, 30).await;
    // Message 0 (kept) starts segment 1: damage one byte of it.
    let first = dir.path().join("blobs/segments").join(&segment_files(dir.path())[0].0);
    let mut bytes = std::fs::read(&first).expect("read segment");
    bytes[100] ^= 0xff;
    std::fs::write(&first, &bytes).expect("damage segment");

    let live_in_first = rows(dir.path(), "SELECT COUNT(*) FROM blobs WHERE seg = 1");
    let report = store.compact_segments().await.expect("compact");
    store.flush().await.expect("flush");
    assert_eq!(report.segments_failed, 1, "{report:?}");
    assert!(report.segments_emptied >= 2, "{report:?}");
    assert!(first.exists(), "the damaged segment stays for the operator to look at");
    assert_eq!(rows(dir.path(), "SELECT COUNT(*) FROM blobs WHERE seg = 1"), live_in_first, "nothing moved");
}
