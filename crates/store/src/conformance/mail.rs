//! Conformance cases for mailboxes, messages, flags, MODSEQ, expunge, copy/move, quota and
//! change notifications.

use std::collections::HashSet;

use mailstead_types::{Flag, Flags, SpecialUse};

use super::{StoreRef, account, big_message, message};
use crate::StoreErrorKind;
use crate::model::{AppendTarget, FlagOp, FlagUpdate, Mailbox};
use crate::notify::Change;

async fn mailbox(store: &StoreRef, account: i64, name: &str) -> Mailbox {
    store.get_mailbox(account, name).await.unwrap().unwrap_or_else(|| panic!("no mailbox {name}"))
}

fn target(account: i64, mailbox: &str) -> Vec<AppendTarget> {
    vec![AppendTarget { account, mailbox: mailbox.into() }]
}

async fn append_one(store: &StoreRef, account: i64, mailbox: &str, subject: &str) -> u32 {
    let r = store.append(message(subject), target(account, mailbox)).await.unwrap();
    r.into_iter().next().unwrap().unwrap().uid
}

fn seen() -> Flags {
    Flags::EMPTY.with(Flag::Seen)
}

pub async fn default_mailboxes(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    let boxes = store.list_mailboxes(a.id).await.unwrap();
    let names: Vec<&str> = boxes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]);
    let uses: Vec<Option<SpecialUse>> = boxes.iter().map(|m| m.special_use).collect();
    assert_eq!(uses[0], Some(SpecialUse::Inbox));
    assert!(uses.contains(&Some(SpecialUse::Junk)) && uses.contains(&Some(SpecialUse::Sent)));
    assert!(boxes.iter().all(|m| m.subscribed && m.uidnext == 1 && m.messages == 0));
    let validities: HashSet<u32> = boxes.iter().map(|m| m.uidvalidity).collect();
    assert_eq!(validities.len(), boxes.len(), "UIDVALIDITY differs per mailbox");
    assert_eq!(store.get_mailbox(a.id, "inbox").await.unwrap().map(|m| m.name), Some("INBOX".into()));
}

pub async fn append_and_read(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    let inbox = mailbox(&store, a.id, "INBOX").await;
    let small = message("one");
    let big = big_message(300 * 1024, b'x');
    let r1 = store.append(small.clone(), target(a.id, "INBOX")).await.unwrap();
    let r2 = store.append(big.clone(), target(a.id, "INBOX")).await.unwrap();
    let (u1, u2) = (r1[0].clone().unwrap(), r2[0].clone().unwrap());
    assert_eq!((u1.uid, u2.uid), (1, 2));
    assert!(u2.modseq > u1.modseq);
    assert_eq!(u1.uidvalidity, inbox.uidvalidity);

    let entries = store.entries(inbox.id).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.uid).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(entries[1].size, 300 * 1024);
    assert_eq!(entries[0].internal_date, 1_700_000_000);
    let back = store.read_message(&entries[0].blob).await.unwrap();
    assert_eq!(&back[..], &small.data[..]);
    let back = store.read_message(&entries[1].blob).await.unwrap();
    assert_eq!(&back[..], &big.data[..]);

    let now = mailbox(&store, a.id, "INBOX").await;
    assert_eq!((now.messages, now.unseen, now.uidnext), (2, 2, 3));
    assert_eq!(now.size, entries[0].size + entries[1].size);
    assert!(now.highest_modseq >= u2.modseq);

    let mut flagged = message("two");
    flagged.flags = seen();
    flagged.keywords = vec!["$Label1".into(), "$label1".into(), "Work".into()];
    let r = store.append(flagged, target(a.id, "Archive")).await.unwrap();
    let archive = mailbox(&store, a.id, "Archive").await;
    let e = &store.entries(archive.id).await.unwrap()[0];
    assert_eq!(e.uid, r[0].clone().unwrap().uid);
    assert_eq!(e.flags, seen());
    assert_eq!(
        e.keywords,
        vec!["$Label1".to_string(), "Work".to_string()],
        "keywords dedup case-insensitively"
    );
    assert_eq!(archive.unseen, 0);
}

pub async fn append_many_targets(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    let b = account(&store, "b@example.test").await;
    let targets = vec![
        AppendTarget { account: a.id, mailbox: "INBOX".into() },
        AppendTarget { account: b.id, mailbox: "Nope".into() },
        AppendTarget { account: b.id, mailbox: "Junk".into() },
    ];
    let results = store.append(big_message(100 * 1024, b'y'), targets).await.unwrap();
    assert_eq!(results[0].as_ref().map(|r| r.uid).ok(), Some(1));
    assert_eq!(results[1].as_ref().unwrap_err().kind, StoreErrorKind::NotFound);
    assert_eq!(results[2].as_ref().map(|r| r.uid).ok(), Some(1));
    let ea = store.entries(mailbox(&store, a.id, "INBOX").await.id).await.unwrap();
    let eb = store.entries(mailbox(&store, b.id, "Junk").await.id).await.unwrap();
    assert_eq!(ea[0].blob, eb[0].blob, "same bytes stored once");
    assert_eq!(store.read_message(&eb[0].blob).await.unwrap().len(), 100 * 1024);
}

pub async fn append_each_atomic(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    let b = account(&store, "b@example.test").await;
    store.set_quota(&b.address, 10).await.unwrap();
    let items = vec![
        (message("for-a"), AppendTarget { account: a.id, mailbox: "INBOX".into() }),
        (big_message(80_000, b'e'), AppendTarget { account: a.id, mailbox: "INBOX".into() }),
        (message("for-b"), AppendTarget { account: b.id, mailbox: "INBOX".into() }),
    ];
    let results = store.append_each(items).await.unwrap();
    assert_eq!(results[0].as_ref().map(|r| r.uid).ok(), Some(1));
    assert_eq!(results[1].as_ref().map(|r| r.uid).ok(), Some(2));
    assert_eq!(results[2].as_ref().unwrap_err().kind, StoreErrorKind::OverQuota);
    let entries = store.entries(mailbox(&store, a.id, "INBOX").await.id).await.unwrap();
    assert_ne!(entries[0].blob, entries[1].blob);
    let body = store.read_message(&entries[0].blob).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("Subject: for-a"));
    assert_eq!(store.read_message(&entries[1].blob).await.unwrap().len(), 80_000);
    assert_eq!(mailbox(&store, b.id, "INBOX").await.messages, 0);
}

pub async fn flags_and_modseq(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    for s in ["1", "2", "3"] {
        append_one(&store, a.id, "INBOX", s).await;
    }
    let inbox = mailbox(&store, a.id, "INBOX").await;
    let before = store.entries(inbox.id).await.unwrap();
    let upd = |op, flags, kw: &[&str], since| FlagUpdate {
        op,
        flags,
        keywords: kw.iter().map(|k| k.to_string()).collect(),
        unchanged_since: since,
    };

    let r = store
        .update_flags(inbox.id, vec![1, 2, 99], upd(FlagOp::Add, seen(), &["Work"], None))
        .await
        .unwrap();
    assert_eq!(r.changed.iter().map(|e| e.uid).collect::<Vec<_>>(), vec![1, 2]);
    assert!(r.changed.iter().all(|e| e.flags == seen() && e.keywords == vec!["Work".to_string()]));
    assert!(r.changed[0].modseq > before[2].modseq);
    let hm = mailbox(&store, a.id, "INBOX").await.highest_modseq;
    assert_eq!(hm, r.changed.iter().map(|e| e.modseq).max().unwrap());

    let r = store.update_flags(inbox.id, vec![1], upd(FlagOp::Add, seen(), &[], None)).await.unwrap();
    assert!(r.changed.is_empty(), "a no-op changes nothing and keeps MODSEQ");

    let m1 = store.entries(inbox.id).await.unwrap()[0].modseq;
    let r = store
        .update_flags(
            inbox.id,
            vec![1, 3],
            upd(FlagOp::Add, Flags::EMPTY.with(Flag::Flagged), &[], Some(m1 - 1)),
        )
        .await
        .unwrap();
    assert_eq!(r.conflicts, vec![1], "UNCHANGEDSINCE refuses messages changed later");
    assert_eq!(r.changed.iter().map(|e| e.uid).collect::<Vec<_>>(), vec![3]);

    let r =
        store.update_flags(inbox.id, vec![2], upd(FlagOp::Remove, seen(), &["work"], None)).await.unwrap();
    assert_eq!((r.changed[0].flags, r.changed[0].keywords.len()), (Flags::EMPTY, 0));
    let r = store
        .update_flags(inbox.id, vec![3], upd(FlagOp::Replace, Flags::EMPTY.with(Flag::Draft), &["X"], None))
        .await
        .unwrap();
    assert_eq!(r.changed[0].flags, Flags::EMPTY.with(Flag::Draft));
    assert_eq!(r.changed[0].keywords, vec!["X".to_string()]);

    let changes = store.changes_since(inbox.id, m1).await.unwrap();
    assert_eq!(changes.changed.iter().map(|e| e.uid).collect::<Vec<_>>(), vec![2, 3]);
    assert!(changes.vanished.is_empty());
    assert_eq!(mailbox(&store, a.id, "INBOX").await.unseen, 2);
}

pub async fn expunge_and_vanished(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    for s in ["1", "2", "3", "4"] {
        append_one(&store, a.id, "INBOX", s).await;
    }
    let inbox = mailbox(&store, a.id, "INBOX").await;
    let deleted = FlagUpdate {
        op: FlagOp::Add,
        flags: Flags::EMPTY.with(Flag::Deleted),
        keywords: vec![],
        unchanged_since: None,
    };
    store.update_flags(inbox.id, vec![2, 3, 4], deleted).await.unwrap();
    let mark = mailbox(&store, a.id, "INBOX").await.highest_modseq;

    assert_eq!(
        store.expunge(inbox.id, Some(vec![1, 2])).await.unwrap(),
        vec![2],
        "UID EXPUNGE only the given \\Deleted"
    );
    assert_eq!(store.expunge(inbox.id, None).await.unwrap(), vec![3, 4]);
    assert!(store.expunge(inbox.id, None).await.unwrap().is_empty());
    let left: Vec<u32> = store.entries(inbox.id).await.unwrap().iter().map(|e| e.uid).collect();
    assert_eq!(left, vec![1]);

    let changes = store.changes_since(inbox.id, mark).await.unwrap();
    assert_eq!(changes.vanished, vec![2, 3, 4]);
    assert!(changes.highest_modseq > mark);
    assert_eq!(append_one(&store, a.id, "INBOX", "5").await, 5, "UIDs are never reused");
}

pub async fn copy_and_move(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    for s in ["1", "2", "3"] {
        append_one(&store, a.id, "INBOX", s).await;
    }
    let inbox = mailbox(&store, a.id, "INBOX").await;
    let archive = mailbox(&store, a.id, "Archive").await;
    let flag =
        FlagUpdate { op: FlagOp::Add, flags: seen(), keywords: vec!["K".into()], unchanged_since: None };
    store.update_flags(inbox.id, vec![2], flag).await.unwrap();

    let c = store.copy_messages(inbox.id, vec![2, 3, 42], archive.id).await.unwrap();
    assert_eq!(c.uidvalidity, archive.uidvalidity);
    assert_eq!(c.mapping, vec![(2, 1), (3, 2)]);
    let copied = store.entries(archive.id).await.unwrap();
    assert_eq!((copied[0].flags, copied[0].keywords.clone()), (seen(), vec!["K".to_string()]));
    assert_eq!(store.entries(inbox.id).await.unwrap().len(), 3);

    let before = mailbox(&store, a.id, "INBOX").await.highest_modseq;
    let m = store.move_messages(inbox.id, vec![1, 3], archive.id).await.unwrap();
    assert_eq!(m.mapping, vec![(1, 3), (3, 4)]);
    let left: Vec<u32> = store.entries(inbox.id).await.unwrap().iter().map(|e| e.uid).collect();
    assert_eq!(left, vec![2]);
    assert_eq!(store.changes_since(inbox.id, before).await.unwrap().vanished, vec![1, 3]);
    let body = store.read_message(&store.entries(archive.id).await.unwrap()[3].blob).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("Subject: 3"));
}

pub async fn mailbox_lifecycle(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    let work = store.create_mailbox(a.id, "Work", None).await.unwrap();
    store.create_mailbox(a.id, "Work/2024", None).await.unwrap();
    assert_eq!(
        store.create_mailbox(a.id, "work", None).await.map(|_| ()).unwrap_err().kind,
        StoreErrorKind::AlreadyExists
    );
    assert_eq!(
        store.create_mailbox(a.id, "", None).await.map(|_| ()).unwrap_err().kind,
        StoreErrorKind::Invalid
    );
    assert_eq!(
        store.create_mailbox(a.id, "a//b", None).await.map(|_| ()).unwrap_err().kind,
        StoreErrorKind::Invalid
    );
    append_one(&store, a.id, "Work/2024", "x").await;

    store.rename_mailbox(a.id, "Work", "Jobs").await.unwrap();
    let names: Vec<String> = store.list_mailboxes(a.id).await.unwrap().into_iter().map(|m| m.name).collect();
    assert!(names.contains(&"Jobs".into()) && names.contains(&"Jobs/2024".into()));
    assert!(!names.iter().any(|n| n.starts_with("Work")));
    let jobs2024 = mailbox(&store, a.id, "Jobs/2024").await;
    assert_eq!(store.entries(jobs2024.id).await.unwrap().len(), 1, "messages follow a rename");
    assert_eq!(
        store.rename_mailbox(a.id, "Jobs", "Sent").await.unwrap_err().kind,
        StoreErrorKind::AlreadyExists
    );
    assert_eq!(store.rename_mailbox(a.id, "Nope", "X").await.unwrap_err().kind, StoreErrorKind::NotFound);

    store.set_subscribed(a.id, "Jobs", false).await.unwrap();
    assert!(!mailbox(&store, a.id, "Jobs").await.subscribed);

    store.delete_mailbox(a.id, "Jobs/2024").await.unwrap();
    assert!(store.get_mailbox(a.id, "Jobs/2024").await.unwrap().is_none());
    assert_eq!(store.delete_mailbox(a.id, "INBOX").await.unwrap_err().kind, StoreErrorKind::Invalid);
    let again = store.create_mailbox(a.id, "Jobs/2024", None).await.unwrap();
    assert_ne!(again.uidvalidity, jobs2024.uidvalidity, "a re-created mailbox gets a new UIDVALIDITY");
    assert_eq!(again.uidnext, 1);
    assert_ne!(work.id, again.id);
}

pub async fn rename_inbox(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    append_one(&store, a.id, "INBOX", "1").await;
    append_one(&store, a.id, "INBOX", "2").await;
    store.rename_mailbox(a.id, "INBOX", "Old").await.unwrap();
    let inbox = mailbox(&store, a.id, "INBOX").await;
    let old = mailbox(&store, a.id, "Old").await;
    assert_eq!(inbox.messages, 0, "INBOX stays, emptied (RFC 3501 §6.3.5)");
    assert_eq!(old.messages, 2);
    assert_eq!(inbox.special_use, Some(SpecialUse::Inbox));
    assert_eq!(append_one(&store, a.id, "INBOX", "3").await, 3, "INBOX keeps counting UIDs");
}

pub async fn quota(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    let msg = big_message(10_000, b'q');
    store.set_quota(&a.address, 25_000).await.unwrap();
    for _ in 0..2 {
        store.append(msg.clone(), target(a.id, "INBOX")).await.unwrap()[0].clone().unwrap();
    }
    let used = store.get_account(&a.address).await.unwrap().unwrap().used_bytes;
    assert_eq!(used, 20_000);
    let r = store.append(msg.clone(), target(a.id, "INBOX")).await.unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().kind, StoreErrorKind::OverQuota);
    let inbox = mailbox(&store, a.id, "INBOX").await;
    let deleted = FlagUpdate {
        op: FlagOp::Add,
        flags: Flags::EMPTY.with(Flag::Deleted),
        keywords: vec![],
        unchanged_since: None,
    };
    store.update_flags(inbox.id, vec![1], deleted).await.unwrap();
    store.expunge(inbox.id, None).await.unwrap();
    assert_eq!(store.get_account(&a.address).await.unwrap().unwrap().used_bytes, 10_000);
    assert!(store.append(msg, target(a.id, "INBOX")).await.unwrap()[0].is_ok());
}

pub async fn notifications(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    let b = account(&store, "b@example.test").await;
    let mut rx = store.changes().subscribe(a.id);
    let mut rx_b = store.changes().subscribe(b.id);
    let inbox = mailbox(&store, a.id, "INBOX").await;
    let uid = append_one(&store, a.id, "INBOX", "n").await;
    match rx.recv().await.unwrap() {
        Change::MessageAdded { mailbox, uid: u, .. } => assert_eq!((mailbox, u), (inbox.id, uid)),
        other => panic!("unexpected {other:?}"),
    }
    let flag = FlagUpdate {
        op: FlagOp::Add,
        flags: Flags::EMPTY.with(Flag::Deleted),
        keywords: vec![],
        unchanged_since: None,
    };
    store.update_flags(inbox.id, vec![uid], flag).await.unwrap();
    assert!(matches!(rx.recv().await.unwrap(), Change::FlagsChanged { uid: 1, .. }));
    store.expunge(inbox.id, None).await.unwrap();
    match rx.recv().await.unwrap() {
        Change::Expunged { uids, .. } => assert_eq!(uids, vec![1]),
        other => panic!("unexpected {other:?}"),
    }
    store.create_mailbox(a.id, "New", None).await.unwrap();
    assert_eq!(rx.recv().await.unwrap(), Change::MailboxCreated { name: "New".into() });
    assert!(rx_b.try_recv().is_err(), "other accounts hear nothing");
}

pub async fn concurrent_appends(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        let msg = if i % 8 == 0 { big_message(70_000 + i, b'c') } else { message(&format!("c{i}")) };
        tasks.push(tokio::spawn(async move { store.append(msg, target(a.id, "INBOX")).await }));
    }
    let mut uids = HashSet::new();
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        assert!(uids.insert(r[0].clone().unwrap().uid));
    }
    assert_eq!(uids, (1..=64).collect::<HashSet<u32>>());
    let inbox = mailbox(&store, a.id, "INBOX").await;
    assert_eq!((inbox.messages, inbox.uidnext), (64, 65));
    for e in store.entries(inbox.id).await.unwrap() {
        assert_eq!(store.read_message(&e.blob).await.unwrap().len() as u64, e.size);
    }
}

pub async fn delete_account_frees_messages(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    let b = account(&store, "b@example.test").await;
    let big = big_message(120_000, b'd');
    store.append(big.clone(), target(a.id, "INBOX")).await.unwrap()[0].clone().unwrap();
    store.append(big.clone(), target(b.id, "INBOX")).await.unwrap()[0].clone().unwrap();
    let blob = store.entries(mailbox(&store, a.id, "INBOX").await.id).await.unwrap()[0].blob.clone();
    store.delete_account(&a.address).await.unwrap();
    assert_eq!(store.read_message(&blob).await.unwrap().len(), 120_000, "still used by b");
    store.delete_account(&b.address).await.unwrap();
    assert_eq!(store.read_message(&blob).await.unwrap_err().kind, StoreErrorKind::NotFound);
}

/// Batched reads and the FETCH cache: values come back in order, misses are `None`/errors,
/// and a cache entry goes with its content (never outlives the last copy).
pub async fn batch_reads_and_fetch_cache(store: StoreRef) {
    use crate::model::{BlobId, CachedFetch};

    let a = account(&store, "a@example.test").await;
    store.append(message("one"), target(a.id, "INBOX")).await.unwrap()[0].clone().unwrap();
    store.append(big_message(100_000, b'z'), target(a.id, "INBOX")).await.unwrap()[0].clone().unwrap();
    let inbox = mailbox(&store, a.id, "INBOX").await;
    let entries = store.entries(inbox.id).await.unwrap();
    let (small, big) = (entries[0].blob.clone(), entries[1].blob.clone());
    let missing = BlobId("0".repeat(64));

    let read = store.read_messages(vec![big.clone(), missing.clone(), small.clone()]).await.unwrap();
    assert_eq!(read[0].as_ref().unwrap().len(), 100_000);
    assert_eq!(read[1].as_ref().unwrap_err().kind, StoreErrorKind::NotFound);
    assert_eq!(&read[2].as_ref().unwrap()[..], &store.read_message(&small).await.unwrap()[..]);

    assert_eq!(store.fetch_cache(vec![small.clone(), big.clone()]).await.unwrap(), vec![None, None]);
    let cached =
        CachedFetch { envelope: b"(NIL \"one\")".to_vec(), body_structure: b"(\"TEXT\" \"PLAIN\")".to_vec() };
    store
        .put_fetch_cache(vec![(small.clone(), cached.clone()), (missing.clone(), cached.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.fetch_cache(vec![big.clone(), small.clone(), missing.clone()]).await.unwrap(),
        vec![None, Some(cached.clone()), None],
        "cached for the stored content only"
    );
    // Expunging the last copy drops the entry; the same content stored again starts uncached.
    store.update_flags(inbox.id, vec![entries[0].uid], delete_flag()).await.unwrap();
    store.expunge(inbox.id, None).await.unwrap();
    assert_eq!(store.fetch_cache(vec![small.clone()]).await.unwrap(), vec![None]);
    store.append(message("one"), target(a.id, "INBOX")).await.unwrap()[0].clone().unwrap();
    assert_eq!(store.fetch_cache(vec![small]).await.unwrap(), vec![None]);
}

fn delete_flag() -> FlagUpdate {
    FlagUpdate {
        op: FlagOp::Add,
        flags: Flags::EMPTY.with(Flag::Deleted),
        keywords: vec![],
        unchanged_since: None,
    }
}

/// `open_mailbox` gives the same mailbox and entries as `get_mailbox` + `entries`, with counters
/// computed from the entries; unknown names give `None`.
pub async fn open_mailbox_snapshot(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    store.append(message("one"), target(a.id, "INBOX")).await.unwrap()[0].clone().unwrap();
    store.append(message("two"), target(a.id, "INBOX")).await.unwrap()[0].clone().unwrap();
    let inbox = mailbox(&store, a.id, "INBOX").await;
    store
        .update_flags(
            inbox.id,
            vec![1],
            FlagUpdate {
                op: FlagOp::Add,
                flags: Flags::EMPTY.with(Flag::Seen),
                keywords: vec![],
                unchanged_since: None,
            },
        )
        .await
        .unwrap();
    let (opened, entries) = store.open_mailbox(a.id, "inbox", None).await.unwrap().unwrap();
    let fresh = mailbox(&store, a.id, "INBOX").await;
    assert_eq!(opened, fresh);
    assert_eq!((opened.messages, opened.unseen), (2, 1));
    assert_eq!(entries, Some(store.entries(inbox.id).await.unwrap()));
    assert!(store.open_mailbox(a.id, "Nope", None).await.unwrap().is_none());
    // A caller whose copy is current gets no entries; any change makes them come back.
    let (again, none) =
        store.open_mailbox(a.id, "INBOX", Some(opened.highest_modseq)).await.unwrap().unwrap();
    assert_eq!((again.id, again.highest_modseq, none), (opened.id, opened.highest_modseq, None));
    store
        .update_flags(
            inbox.id,
            vec![2],
            FlagUpdate {
                op: FlagOp::Add,
                flags: Flags::EMPTY.with(Flag::Flagged),
                keywords: vec![],
                unchanged_since: None,
            },
        )
        .await
        .unwrap();
    let (_, changed) = store.open_mailbox(a.id, "INBOX", Some(opened.highest_modseq)).await.unwrap().unwrap();
    assert!(changed.unwrap()[1].flags.contains(Flag::Flagged));
}

/// `remove_messages` removes exactly the UIDs given, flagged `\Deleted` or not, leaves
/// tombstones and tells subscribers; unknown UIDs are ignored.
pub async fn remove_messages_exactly(store: StoreRef) {
    let a = account(&store, "a@example.test").await;
    for s in ["one", "two", "three"] {
        store.append(message(s), target(a.id, "INBOX")).await.unwrap()[0].clone().unwrap();
    }
    let inbox = mailbox(&store, a.id, "INBOX").await;
    let before = inbox.highest_modseq;
    // Message 3 is flagged \Deleted by "IMAP" but not asked for: it must stay.
    store.update_flags(inbox.id, vec![3], delete_flag()).await.unwrap();
    let mut changes = store.changes().subscribe(a.id);
    let removed = store.remove_messages(inbox.id, vec![2, 1, 99]).await.unwrap();
    assert_eq!(removed, vec![1, 2]);
    let left: Vec<u32> = store.entries(inbox.id).await.unwrap().iter().map(|e| e.uid).collect();
    assert_eq!(left, vec![3]);
    let since = store.changes_since(inbox.id, before).await.unwrap();
    assert_eq!(since.vanished, vec![1, 2]);
    assert!(matches!(changes.try_recv(), Ok(Change::Expunged { uids, .. }) if uids == vec![1, 2]));
}
