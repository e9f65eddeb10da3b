//! Conformance cases for the outbound queue and the event journal.

use mailstead_types::QueueId;

use super::{StoreRef, addr, bytes};
use crate::model::{
    AttemptRecord, Event, JournalQuery, NewQueued, NewRecipient, RecipientState, RecipientUpdate,
    StsPolicyRecord,
};

fn qid(n: u32) -> QueueId {
    QueueId::new(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000), n)
}

fn rcpt(a: &str) -> NewRecipient {
    NewRecipient { address: addr(a), orcpt: Some(format!("rfc822;{a}")), notify: Some("FAILURE".into()) }
}

pub async fn queue_lifecycle(store: StoreRef) {
    let id = qid(1);
    let data = bytes(b"Subject: q\r\n\r\nbody\r\n");
    store
        .enqueue(NewQueued {
            id: id.clone(),
            sender: Some(addr("a@example.test")),
            recipients: vec![rcpt("x@remote.test"), rcpt("y@remote.test")],
            envid: Some("ENV1".into()),
            ret: Some("HDRS".into()),
            auth_user: Some("a@example.test".into()),
            held: false,
            data: data.clone(),
            created: 1000,
        })
        .await
        .unwrap();
    let held = qid(2);
    store
        .enqueue(NewQueued {
            id: held.clone(),
            sender: None,
            recipients: vec![rcpt("z@remote.test")],
            envid: None,
            ret: None,
            auth_user: None,
            held: true,
            data: bytes(b"x"),
            created: 1001,
        })
        .await
        .unwrap();

    let list = store.queue_list().await.unwrap();
    assert_eq!(list.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), vec![id.clone(), held.clone()]);
    let m = &list[0];
    assert_eq!(
        (m.envid.as_deref(), m.ret.as_deref(), m.size),
        (Some("ENV1"), Some("HDRS"), data.len() as u64)
    );
    assert_eq!(m.recipients.len(), 2);
    assert!(m.recipients.iter().all(|r| r.state == RecipientState::Pending && r.attempts == 0));
    assert_eq!(list[1].sender, None);
    assert_eq!(&store.queue_read(&id).await.unwrap()[..], &data[..]);

    let due = store.queue_due(1000, 10).await.unwrap();
    assert_eq!(due, vec![id.clone()], "held messages are not due");

    let update = |a: &str, state, next| RecipientUpdate {
        address: addr(a),
        state,
        next_attempt: next,
        attempted_at: 1100,
        reply: format!("reply for {a}"),
    };
    store
        .queue_update(
            &id,
            vec![
                update("x@remote.test", RecipientState::Delivered, 0),
                update("y@remote.test", RecipientState::Pending, 5000),
            ],
        )
        .await
        .unwrap();
    let m = store.queue_get(&id).await.unwrap().unwrap();
    let y = m.recipients.iter().find(|r| r.address == addr("y@remote.test")).unwrap();
    assert_eq!((y.attempts, y.next_attempt, y.last_attempt), (1, 5000, Some(1100)));
    assert_eq!(y.last_reply.as_deref(), Some("reply for y@remote.test"));
    assert!(store.queue_due(4999, 10).await.unwrap().is_empty());
    assert_eq!(store.queue_due(5000, 10).await.unwrap().len(), 1);

    store.queue_retry(&id, 2000).await.unwrap();
    assert_eq!(store.queue_due(2000, 10).await.unwrap().len(), 1);
    store.queue_update(&id, vec![update("y@remote.test", RecipientState::Failed, 0)]).await.unwrap();
    assert!(
        store.queue_get(&id).await.unwrap().is_none(),
        "a message leaves the queue when all recipients are final"
    );
    assert!(store.queue_read(&id).await.is_err());

    store.queue_set_held(&held, false).await.unwrap();
    assert_eq!(store.queue_due(2000, 10).await.unwrap().len(), 1);
    store.queue_cancel(&held).await.unwrap();
    assert!(store.queue_list().await.unwrap().is_empty());
    assert!(store.queue_cancel(&held).await.is_err());
}

pub async fn journal(store: StoreRef) {
    let (q1, q2) = (qid(1), qid(2));
    let ev = |ts, q: &QueueId, kind: &str, address: Option<&str>, mid: Option<&str>| Event {
        ts_ms: ts,
        queue_id: Some(q.clone()),
        message_id: mid.map(String::from),
        address: address.map(String::from),
        kind: kind.into(),
        data: serde_json::json!({"n": ts}),
    };
    store
        .journal(vec![
            ev(1, &q1, "smtp.connect", None, None),
            ev(2, &q1, "smtp.rcpt", Some("bob@example.test"), None),
            ev(3, &q2, "smtp.rcpt", Some("carol@example.test"), Some("<m2@x>")),
            ev(4, &q1, "delivery.local", Some("bob@example.test"), Some("<m1@x>")),
        ])
        .await
        .unwrap();
    let kinds = |events: Vec<Event>| events.into_iter().map(|e| (e.ts_ms, e.kind)).collect::<Vec<_>>();
    let all_q1 = vec![(1, "smtp.connect".to_string()), (2, "smtp.rcpt".into()), (4, "delivery.local".into())];
    assert_eq!(kinds(store.journal_query(JournalQuery::QueueId(q1.clone()), 100).await.unwrap()), all_q1);
    assert_eq!(
        kinds(store.journal_query(JournalQuery::MessageId("<m1@x>".into()), 100).await.unwrap()),
        all_q1
    );
    assert_eq!(
        kinds(store.journal_query(JournalQuery::Address("bob@example.test".into()), 100).await.unwrap()),
        all_q1
    );
    let e = store.journal_query(JournalQuery::QueueId(q2), 100).await.unwrap();
    assert_eq!(e[0].data, serde_json::json!({"n": 3}));
    assert_eq!(store.journal_query(JournalQuery::QueueId(q1), 2).await.unwrap().len(), 2);
}

/// `queue_record`: outcomes, the notices they produce and the delay flag land together; a
/// failing record (an unknown recipient) changes nothing, not even the notices.
pub async fn queue_record_is_atomic(store: StoreRef) {
    let id = qid(10);
    let queued = |id: QueueId, to: &str| NewQueued {
        id,
        sender: Some(addr("a@example.test")),
        recipients: vec![rcpt(to)],
        envid: None,
        ret: None,
        auth_user: None,
        held: false,
        data: bytes(b"Subject: r\r\n\r\nbody\r\n"),
        created: 1000,
    };
    let mut first = queued(id.clone(), "x@remote.test");
    first.recipients.push(rcpt("y@remote.test"));
    store.enqueue(first).await.unwrap();
    assert!(!store.queue_get(&id).await.unwrap().unwrap().delay_notified);

    let notice = |n| NewQueued { sender: None, ..queued(qid(n), "a@example.test") };
    let bad = AttemptRecord {
        updates: vec![RecipientUpdate {
            address: addr("nobody@remote.test"),
            state: RecipientState::Failed,
            next_attempt: 0,
            attempted_at: 1100,
            reply: "550 no".into(),
        }],
        notices: vec![notice(11)],
        delay_notified: true,
    };
    assert!(store.queue_record(&id, bad).await.is_err());
    assert!(
        store.queue_get(&qid(11)).await.unwrap().is_none(),
        "the notice of a failed record is not queued"
    );
    assert!(!store.queue_get(&id).await.unwrap().unwrap().delay_notified);

    let delayed = AttemptRecord {
        updates: vec![RecipientUpdate {
            address: addr("x@remote.test"),
            state: RecipientState::Pending,
            next_attempt: 5000,
            attempted_at: 1100,
            reply: "451 later".into(),
        }],
        notices: vec![notice(12)],
        delay_notified: true,
    };
    store.queue_record(&id, delayed).await.unwrap();
    let m = store.queue_get(&id).await.unwrap().unwrap();
    assert!(m.delay_notified);
    assert_eq!(m.recipients[0].last_reply.as_deref(), Some("451 later"));
    let n = store.queue_get(&qid(12)).await.unwrap().unwrap();
    assert_eq!((n.sender.clone(), n.recipients[0].address.to_string()), (None, "a@example.test".to_string()));

    // The last outcomes remove the message; its notice stays queued.
    let done = AttemptRecord {
        updates: ["x@remote.test", "y@remote.test"]
            .iter()
            .map(|a| RecipientUpdate {
                address: addr(a),
                state: RecipientState::Failed,
                next_attempt: 0,
                attempted_at: 1200,
                reply: "550 gone".into(),
            })
            .collect(),
        notices: vec![notice(13)],
        delay_notified: false,
    };
    store.queue_record(&id, done).await.unwrap();
    assert!(store.queue_get(&id).await.unwrap().is_none());
    assert!(store.queue_get(&qid(13)).await.unwrap().is_some());
    for n in [12, 13] {
        store.queue_cancel(&qid(n)).await.unwrap();
    }
}

/// MTA-STS policies: absent until stored, replaced by a newer one, kept per domain (case
/// does not matter), and durable.
pub async fn sts_policies(store: StoreRef) {
    assert_eq!(store.sts_policy("example.test").await.unwrap(), None);
    let first = StsPolicyRecord {
        id: "20260101".into(),
        text: "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n".into(),
        fetched: 1000,
        expires: 87400,
    };
    store.put_sts_policy("Example.TEST", first.clone()).await.unwrap();
    assert_eq!(store.sts_policy("example.test").await.unwrap(), Some(first.clone()));
    let second = StsPolicyRecord { id: "20260202".into(), fetched: 2000, expires: 3000, ..first.clone() };
    store.put_sts_policy("example.test", second.clone()).await.unwrap();
    assert_eq!(store.sts_policy("EXAMPLE.test").await.unwrap(), Some(second));
    assert_eq!(store.sts_policy("other.test").await.unwrap(), None);
}
