//! Conformance cases for the spam classifier's data: training counts tokens once per message,
//! retraining the same content is a no-op, training it as the other class moves it (the
//! "seen" record), counts never go negative, correspondents, and account deletion.

use super::{StoreRef, account, addr};
use crate::model::{
    BlobId, Correspondent, CorrespondentEvent, SpamClass, SpamTraining, TokenCounts, TrainOutcome,
};

fn training(blob: &str, class: SpamClass, tokens: &[u64], sender: Option<&str>) -> SpamTraining {
    SpamTraining {
        blob: BlobId::of(blob.as_bytes()),
        class,
        tokens: tokens.to_vec(),
        sender: sender.map(str::to_string),
    }
}

fn counts(spam: u32, ham: u32) -> TokenCounts {
    TokenCounts { spam, ham }
}

/// Tokens include values above `i64::MAX`: hashes use all 64 bits.
const BIG: u64 = u64::MAX - 1;

pub async fn spam_training_counts(store: StoreRef) {
    let a = account(&store, "bayes@example.test").await.id;
    let b = account(&store, "other@example.test").await.id;
    let empty = store.spam_counts(a, vec![1, 2]).await.unwrap();
    assert_eq!((empty.spam_messages, empty.ham_messages), (0, 0));
    assert_eq!(empty.tokens, vec![counts(0, 0); 2]);

    let outcome = store.spam_train(a, training("m1", SpamClass::Spam, &[1, 2, BIG], None)).await.unwrap();
    assert_eq!(outcome, TrainOutcome::Learned);
    store.spam_train(a, training("m2", SpamClass::Spam, &[1, 3], None)).await.unwrap();
    store.spam_train(a, training("m3", SpamClass::Ham, &[3, 4], None)).await.unwrap();

    let c = store.spam_counts(a, vec![1, 2, 3, 4, 5, BIG]).await.unwrap();
    assert_eq!((c.spam_messages, c.ham_messages), (2, 1));
    assert_eq!(
        c.tokens,
        vec![counts(2, 0), counts(1, 0), counts(1, 1), counts(0, 1), counts(0, 0), counts(1, 0)]
    );

    let stats = store.spam_stats(a).await.unwrap();
    assert_eq!((stats.spam_messages, stats.ham_messages, stats.tokens), (2, 1, 5));
    assert_eq!(store.spam_trained_as(a, &BlobId::of(b"m3")).await.unwrap(), Some(SpamClass::Ham));
    assert_eq!(store.spam_trained_as(a, &BlobId::of(b"m9")).await.unwrap(), None);

    // Another account sees none of it.
    let other = store.spam_counts(b, vec![1, 3]).await.unwrap();
    assert_eq!((other.spam_messages, other.ham_messages, other.tokens), (0, 0, vec![counts(0, 0); 2]));
    assert_eq!(store.spam_trained_as(b, &BlobId::of(b"m1")).await.unwrap(), None);

    let missing = store.spam_train(9_999_999, training("m1", SpamClass::Spam, &[1], None)).await;
    assert_eq!(missing.unwrap_err().kind, crate::StoreErrorKind::NotFound);
}

pub async fn spam_retraining(store: StoreRef) {
    let a = account(&store, "bayes@example.test").await.id;
    let spam = training("m1", SpamClass::Spam, &[1, 2], Some("x@spam.test"));
    assert_eq!(store.spam_train(a, spam.clone()).await.unwrap(), TrainOutcome::Learned);
    assert_eq!(store.spam_train(a, spam).await.unwrap(), TrainOutcome::AlreadyKnown, "same class: no-op");
    let c = store.spam_counts(a, vec![1, 2]).await.unwrap();
    assert_eq!((c.spam_messages, c.ham_messages, c.tokens.clone()), (1, 0, vec![counts(1, 0); 2]));

    // Out of Junk: un-learn spam, learn ham.
    let ham = training("m1", SpamClass::Ham, &[1, 2], Some("x@spam.test"));
    assert_eq!(store.spam_train(a, ham.clone()).await.unwrap(), TrainOutcome::Relearned);
    let c = store.spam_counts(a, vec![1, 2]).await.unwrap();
    assert_eq!((c.spam_messages, c.ham_messages, c.tokens), (0, 1, vec![counts(0, 1); 2]));
    assert_eq!(store.spam_trained_as(a, &BlobId::of(b"m1")).await.unwrap(), Some(SpamClass::Ham));
    assert_eq!(store.spam_train(a, ham).await.unwrap(), TrainOutcome::AlreadyKnown);
    let who = store.correspondent(a, "x@spam.test").await.unwrap().unwrap();
    assert_eq!((who.spam_trained, who.ham_trained), (0, 1), "the sender's counts move with the message");

    // Back into Junk, with a token set that differs (a changed tokenizer): counts clamp at zero.
    let back = training("m1", SpamClass::Spam, &[2, 3], Some("x@spam.test"));
    assert_eq!(store.spam_train(a, back).await.unwrap(), TrainOutcome::Relearned);
    let c = store.spam_counts(a, vec![1, 2, 3]).await.unwrap();
    assert_eq!((c.spam_messages, c.ham_messages), (1, 0));
    assert_eq!(c.tokens, vec![counts(0, 1), counts(1, 0), counts(1, 0)], "never negative");
    assert_eq!(store.spam_stats(a).await.unwrap().tokens, 3);
}

pub async fn spam_correspondents(store: StoreRef) {
    let a = account(&store, "bayes@example.test").await.id;
    assert_eq!(store.correspondent(a, "friend@example.org").await.unwrap(), None);
    store.note_correspondent(a, "friend@example.org", CorrespondentEvent::Sent).await.unwrap();
    store.note_correspondent(a, "friend@example.org", CorrespondentEvent::HamReceived).await.unwrap();
    store.note_correspondent(a, "friend@example.org", CorrespondentEvent::HamReceived).await.unwrap();
    store.spam_train(a, training("h", SpamClass::Ham, &[1], Some("friend@example.org"))).await.unwrap();
    store.spam_train(a, training("s", SpamClass::Spam, &[1], Some("friend@example.org"))).await.unwrap();
    assert_eq!(
        store.correspondent(a, "friend@example.org").await.unwrap(),
        Some(Correspondent { ham_received: 2, ham_trained: 1, spam_trained: 1, sent: 1 })
    );
    assert_eq!(store.spam_stats(a).await.unwrap().correspondents, 1);
    let b = account(&store, "other@example.test").await.id;
    assert_eq!(store.correspondent(b, "friend@example.org").await.unwrap(), None, "per account");
    let missing = store.note_correspondent(9_999_999, "x@example.org", CorrespondentEvent::Sent).await;
    assert_eq!(missing.unwrap_err().kind, crate::StoreErrorKind::NotFound);
}

pub async fn spam_data_goes_with_the_account(store: StoreRef) {
    let address = "bayes@example.test";
    let a = account(&store, address).await.id;
    store.spam_train(a, training("m1", SpamClass::Spam, &[1, 2], Some("x@spam.test"))).await.unwrap();
    store.note_correspondent(a, "friend@example.org", CorrespondentEvent::Sent).await.unwrap();
    store.delete_account(&addr(address)).await.unwrap();
    // A new account (which may well get the same id) starts from nothing.
    let a = account(&store, address).await.id;
    let c = store.spam_counts(a, vec![1, 2]).await.unwrap();
    assert_eq!((c.spam_messages, c.ham_messages, c.tokens), (0, 0, vec![counts(0, 0); 2]));
    assert_eq!(store.spam_trained_as(a, &BlobId::of(b"m1")).await.unwrap(), None);
    assert_eq!(store.correspondent(a, "friend@example.org").await.unwrap(), None);
    assert_eq!(store.correspondent(a, "x@spam.test").await.unwrap(), None);
    let stats = store.spam_stats(a).await.unwrap();
    assert_eq!((stats.tokens, stats.correspondents), (0, 0));
}
