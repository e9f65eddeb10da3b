//! [`ImapServer`]: the IMAP listener's connection handler (ports 143 and 993).

use std::sync::Arc;

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
}

impl ImapServer {
    /// A server over `store`, checking passwords with `auth` (shared with the other servers so
    /// throttling spans protocols).
    pub fn new(config: ImapConfig, store: Arc<dyn Store>, auth: Authenticator) -> ImapServer {
        ImapServer { config, store, auth }
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
