//! [`ImapServer`]: the IMAP listener's connection handler (ports 143 and 993).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mailstead_store::model::{AccountId, MailboxId, MessageEntry};

use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use mailstead_net::{BoxFuture, Connection, ConnectionHandler, RefusedConnection};
use mailstead_store::Store;
use mailstead_store::auth::Authenticator;

use crate::config::ImapConfig;
use crate::session;

/// The IMAP server: configuration, store and the shared authenticator.
pub struct ImapServer {
    pub(crate) config: ImapConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) auth: Authenticator,
    /// Recently selected mailbox views, shared copy-on-write by the sessions that select
    /// them: a SELECT of an unchanged mailbox reads only its row.
    views: Mutex<HashMap<(AccountId, String), CachedView>>,
}

/// A mailbox's entries as of one HIGHESTMODSEQ.
#[derive(Clone)]
pub(crate) struct CachedView {
    /// The mailbox (a recreated mailbox with the same name has another id).
    pub mailbox: MailboxId,
    /// HIGHESTMODSEQ the entries are complete for.
    pub modseq: u64,
    /// The entries in UID order.
    pub entries: Arc<Vec<MessageEntry>>,
}

/// Most mailbox views kept.
const MAX_VIEWS: usize = 32;

impl ImapServer {
    /// A server over `store`, checking passwords with `auth` (shared with the other servers so
    /// throttling spans protocols).
    pub fn new(config: ImapConfig, store: Arc<dyn Store>, auth: Authenticator) -> ImapServer {
        ImapServer { config, store, auth, views: Mutex::new(HashMap::new()) }
    }

    /// The cached view of an account's mailbox, if any.
    pub(crate) fn cached_view(&self, account: AccountId, name: &str) -> Option<CachedView> {
        self.views.lock().ok()?.get(&(account, name.to_string())).cloned()
    }

    /// Remembers a view.
    pub(crate) fn keep_view(&self, account: AccountId, name: &str, view: CachedView) {
        if let Ok(mut views) = self.views.lock() {
            if views.len() >= MAX_VIEWS && !views.contains_key(&(account, name.to_string())) {
                views.clear();
            }
            views.insert((account, name.to_string()), view);
        }
    }
}

impl ConnectionHandler for ImapServer {
    fn handle(self: Arc<Self>, conn: Connection, shutdown: CancellationToken) -> BoxFuture {
        Box::pin(async move { session::run(&self, conn, shutdown).await })
    }

    fn refuse(self: Arc<Self>, refused: RefusedConnection) -> BoxFuture {
        Box::pin(async move {
            let mut stream = refused.stream;
            let _ = stream.write_all(b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n").await;
            let _ = stream.shutdown().await;
        })
    }
}
