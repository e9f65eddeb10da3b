//! The conformance suite every [`Store`] backend must pass. A backend's test file invokes
//! [`store_conformance_tests!`](crate::store_conformance_tests) with an async function that makes a
//! fresh, empty store; the macro expands to one `#[tokio::test]` per case, so failures name the
//! case. Cases assert real values (UIDs, MODSEQs, bytes read back), never only "no error".
//!
//! This is test code compiled into the library so other crates can run it; it panics on failure.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod directory;
pub mod mail;
pub mod queue;
pub mod spam;

use std::sync::Arc;

use mailstead_types::{Address, Domain};

use crate::Store;
use crate::model::{Account, MessageData, NewAccount, NewMessage};

/// Expands to one tokio test per conformance case. `$make` is an async fn returning
/// `(Arc<dyn Store>, G)` where `G` keeps the backend's resources (e.g. a temp dir) alive.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:ident) => {
        $crate::store_conformance_tests!(@cases $make;
            directory::domains,
            directory::accounts,
            directory::aliases,
            directory::resolution,
            directory::authentication,
            mail::default_mailboxes,
            mail::append_and_read,
            mail::append_many_targets,
            mail::append_each_atomic,
            mail::flags_and_modseq,
            mail::expunge_and_vanished,
            mail::copy_and_move,
            mail::mailbox_lifecycle,
            mail::rename_inbox,
            mail::quota,
            mail::notifications,
            mail::concurrent_appends,
            mail::delete_account_frees_messages,
            mail::batch_reads_and_fetch_cache,
            mail::open_mailbox_snapshot,
            mail::remove_messages_exactly,
            queue::queue_lifecycle,
            queue::queue_record_is_atomic,
            queue::journal,
            queue::sts_policies,
            spam::spam_training_counts,
            spam::spam_retraining,
            spam::spam_correspondents,
            spam::spam_data_goes_with_the_account,
        );
    };
    (@cases $make:ident; $($module:ident :: $case:ident),* $(,)?) => {
        mod conformance {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _guard) = super::$make().await;
                    $crate::conformance::$module::$case(store).await;
                }
            )*
        }
    };
}

/// A store handle as the cases take it.
pub type StoreRef = Arc<dyn Store>;

/// Parses an address in test data.
pub fn addr(s: &str) -> Address {
    Address::parse(s).unwrap()
}

/// Parses a domain in test data.
pub fn domain(s: &str) -> Domain {
    Domain::parse(s).unwrap()
}

/// Adds `example.test` (if missing) and an account; the hash is not a real password hash, as
/// the store does not check it.
pub async fn account(store: &StoreRef, address: &str) -> Account {
    let a = addr(address);
    if !store.is_local_domain(a.domain()).await.unwrap() {
        store.add_domain(a.domain()).await.unwrap();
    }
    store
        .add_account(NewAccount { address: a, password_hash: "$test$".into(), quota_bytes: 0 })
        .await
        .unwrap()
}

/// A small RFC 5322 message with a distinguishing subject.
pub fn message(subject: &str) -> NewMessage {
    let text = format!(
        "From: a@example.test\r\nTo: b@example.test\r\nSubject: {subject}\r\nMessage-ID: <{subject}@t>\r\n\r\nHello {subject}\r\n"
    );
    NewMessage {
        data: bytes(text.as_bytes()),
        internal_date: 1_700_000_000,
        flags: Default::default(),
        keywords: vec![],
    }
}

/// A message of `size` bytes (to exercise both inline and file blob storage).
pub fn big_message(size: usize, fill: u8) -> NewMessage {
    let mut data = b"Subject: big\r\n\r\n".to_vec();
    data.resize(size, fill);
    NewMessage {
        data: bytes(&data),
        internal_date: 1_700_000_000,
        flags: Default::default(),
        keywords: vec![],
    }
}

/// Shared bytes from a slice.
pub fn bytes(b: &[u8]) -> MessageData {
    MessageData::new(b.to_vec())
}
