//! Refusing data written by a newer Mailstead, and behaving on a full disk: writes fail with a
//! temporary `Full` error, nothing acknowledged is damaged, and service resumes when space
//! returns. The disk-full case mounts a tiny tmpfs, so it needs root (CI runs as root); without
//! the privilege it says so and stops.

use std::path::Path;
use std::process::Command;

use mailstead_store::model::{AppendTarget, MessageData, NewAccount, NewMessage};
use mailstead_store::{DirectoryStore, MailStore, StoreErrorKind};
use mailstead_store_sqlite::{FORMAT_VERSION, OpenMode, SqliteOptions, SqliteStore};
use mailstead_types::{Address, Domain};

fn options() -> SqliteOptions {
    SqliteOptions {
        inline_blob_max: 8 * 1024,
        group_commit_max_batch: 16,
        mode: OpenMode::Server,
        ..Default::default()
    }
}

#[tokio::test]
async fn newer_format_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SqliteStore::open(dir.path(), options()).expect("create"));
    let conn = rusqlite::Connection::open(SqliteStore::db_path(dir.path())).expect("open db");
    assert_eq!(
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).expect("version"),
        FORMAT_VERSION
    );
    conn.pragma_update(None, "user_version", FORMAT_VERSION + 1).expect("bump");
    drop(conn);
    let err = SqliteStore::open(dir.path(), options()).expect_err("must refuse");
    assert_eq!(err.kind, StoreErrorKind::NewerFormat);
    assert!(err.message.contains("newer Mailstead"), "{err}");
}

async fn setup(dir: &Path) -> (SqliteStore, i64) {
    let store = SqliteStore::open(dir, options()).expect("open");
    store.add_domain(&Domain::parse("example.test").expect("d")).await.expect("domain");
    let new = NewAccount {
        address: Address::parse("full@example.test").expect("a"),
        password_hash: "$x$".into(),
        quota_bytes: 0,
    };
    let account = store.add_account(new).await.expect("account");
    (store, account.id)
}

fn message(n: usize, size: usize) -> NewMessage {
    let mut data = format!("Subject: {n}\r\n\r\n").into_bytes();
    data.resize(size, b'0' + (n % 10) as u8);
    NewMessage {
        data: MessageData::from(data),
        internal_date: 0,
        flags: Default::default(),
        keywords: vec![],
    }
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0]).args(&args[1..]).status().map(|s| s.success()).unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_fails_cleanly_and_recovers() {
    let mount = tempfile::tempdir().expect("tempdir");
    let path = mount.path().to_str().expect("utf-8 path").to_string();
    if !sh(&["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", &path]) {
        eprintln!("SKIPPED: mounting a tmpfs needs root; CI runs this test as root");
        return;
    }
    struct Unmount(String);
    impl Drop for Unmount {
        fn drop(&mut self) {
            sh(&["umount", "-l", &self.0]);
        }
    }
    let _unmount = Unmount(path.clone());
    let (store, account) = setup(mount.path()).await;
    let target = || vec![AppendTarget { account, mailbox: "INBOX".into() }];

    let mut stored = Vec::new();
    let mut failure = None;
    for n in 0..1000 {
        // Alternate inline and file blobs so both paths meet the full disk.
        let size = if n % 2 == 0 { 2_000 } else { 30_000 };
        match store.append(message(n, size), target()).await {
            Ok(r) => stored.push((r[0].clone().expect("target").uid, n, size)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let err = failure.expect("a 3 MiB disk must fill up");
    assert_eq!(err.kind, StoreErrorKind::Full, "{err}");
    assert!(err.is_temporary());
    assert!(!stored.is_empty());

    // Space returns: the same store keeps working, and nothing acknowledged was damaged.
    assert!(sh(&["mount", "-o", "remount,size=64m", &path]), "remount");
    let r = store.append(message(9999, 30_000), target()).await.expect("append after space returns");
    assert!(r[0].is_ok());
    let inbox = store.get_mailbox(account, "INBOX").await.expect("get").expect("inbox");
    let entries = store.entries(inbox.id).await.expect("entries");
    assert_eq!(entries.len(), stored.len() + 1);
    for (entry, (uid, n, size)) in entries.iter().zip(&stored) {
        assert_eq!(entry.uid, *uid);
        let data = store.read_message(&entry.blob).await.expect("read");
        assert_eq!(&data[..], &message(*n, *size).data[..]);
    }
    drop(store);
    let reopened = SqliteStore::open(mount.path(), options()).expect("reopen");
    assert!(reopened.recovery_report().missing_blob_files.is_empty());
}

/// A copy refused after the writes began (the mailbox has no UID left) undoes them itself: a
/// delivery's job has no savepoint to roll back to, and the other copies of the job still land.
#[tokio::test]
async fn a_mailbox_out_of_uids_refuses_its_copy_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, account) = setup(dir.path()).await;
    store.create_mailbox(account, "Full", None).await.expect("mailbox");
    let db = rusqlite::Connection::open(SqliteStore::db_path(dir.path())).expect("open db");
    db.execute("UPDATE mailboxes SET uidnext = 4294967297 WHERE account = ?1 AND name = 'Full'", [account])
        .expect("exhaust UIDs");
    let state = |db: &rusqlite::Connection| -> (i64, i64, i64) {
        db.query_row(
            "SELECT a.used_bytes, m.uidnext, m.highest_modseq FROM accounts a JOIN mailboxes m ON m.account = a.id
             WHERE a.id = ?1 AND m.name = 'Full'",
            [account],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("state")
    };
    let before = state(&db);
    let target = |mailbox: &str| AppendTarget { account, mailbox: mailbox.into() };
    let results = store
        .append_each(vec![(message(1, 100), target("Full")), (message(2, 100), target("INBOX"))])
        .await
        .expect("the job itself succeeds");
    let err = results[0].as_ref().expect_err("no UID left");
    assert!(err.to_string().contains("ran out of UIDs"), "{err}");
    let appended = results[1].as_ref().expect("the other copy is stored");
    assert_eq!(appended.uid, 1);
    let after = state(&db);
    assert_eq!((after.1, after.2), (before.1, before.2), "the mailbox's counters are restored");
    assert_eq!(after.0, before.0 + 100, "only the stored copy is charged");
}
