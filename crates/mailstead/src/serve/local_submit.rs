//! The server side of the local submission socket (`DIR/run/submit.sock`, see
//! [`crate::local_submit`]): `mailstead sendmail` connects here. Like Postfix's postdrop, any
//! local user may submit (the socket is mode 0666); the submitting uid, from the socket's peer
//! credentials, goes into the `Received:` field and the journal. A request is checked,
//! completed (`Received:`, and `Date:`/`Message-ID:` when missing, RFC 6409 §8, as submission
//! does), put on the
//! queue — whose runner delivers local recipients into their mailboxes and the others by MX
//! — and acknowledged once durable.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rand::Rng;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use mailstead_queue::QueueHandle;
use mailstead_store::Store;
use mailstead_store::model::{Event, MessageData, NewQueued, NewRecipient};
use mailstead_types::{Address, QueueId, rfc5322_date};

use mailstead_smtp::submission::finish::complete_header;

use crate::local_submit::{Request, SOCKET};

/// Time a client has to send its whole request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// What every submission needs.
#[derive(Clone)]
pub struct LocalSubmit {
    /// The store (queue and journal).
    pub store: Arc<dyn Store>,
    /// Wakes the queue runner.
    pub queue: QueueHandle,
    /// Our host name (Received, Message-ID).
    pub hostname: String,
    /// Largest message accepted.
    pub max_size: usize,
    /// DKIM signer for senders in local domains.
    pub signer: Option<Arc<mailstead_filter::dkim::Signer>>,
}

/// Binds the socket in `run_dir` and serves it until `shutdown`.
pub fn start(
    run_dir: &Path,
    submit: LocalSubmit,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>> {
    let path = run_dir.join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("making {} usable by local users", path.display()))?;
    Ok(tokio::spawn(serve(listener, path, submit, shutdown)))
}

async fn serve(listener: UnixListener, path: PathBuf, submit: LocalSubmit, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let submit = submit.clone();
                    tokio::spawn(async move { submit.handle(stream).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "local submission: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    let _ = std::fs::remove_file(path);
}

impl LocalSubmit {
    async fn handle(&self, stream: UnixStream) {
        let uid = stream.peer_cred().map(|c| c.uid()).ok();
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        let reply = match tokio::time::timeout(REQUEST_TIMEOUT, Request::read(&mut r, self.max_size)).await {
            Err(_) => "421 4.4.2 Timed out waiting for the message".to_string(),
            Ok(Err(e)) => {
                tracing::info!(uid, "local submission refused: {e}");
                format!("554 5.6.0 {e}")
            }
            Ok(Ok(request)) => self.accept(request, uid).await,
        };
        let _ = w.write_all(format!("{reply}\r\n").as_bytes()).await;
        let _ = w.shutdown().await;
    }

    /// Queues one request; the reply line.
    async fn accept(&self, request: Request, uid: Option<u32>) -> String {
        let sender = if request.sender.is_empty() {
            None
        } else {
            match Address::parse(&request.sender) {
                Ok(a) => Some(a),
                Err(e) => return format!("553 5.1.7 bad sender <{}>: {e}", request.sender),
            }
        };
        let mut recipients: Vec<NewRecipient> = Vec::new();
        for r in &request.recipients {
            match Address::parse(r) {
                Ok(address) if !recipients.iter().any(|x| x.address == address) => {
                    recipients.push(NewRecipient { address, orcpt: None, notify: None });
                }
                Ok(_) => {}
                Err(e) => return format!("553 5.1.3 bad recipient <{r}>: {e}"),
            }
        }
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let id = QueueId::new(now, rand::thread_rng().r#gen());
        let user = uid.map_or_else(|| "unknown uid".to_string(), |u| format!("uid {u}"));
        let received = format!(
            "Received: by {host} (Mailstead) from local user ({user})\r\n\tid {id}; {date}\r\n",
            host = self.hostname,
            date = rfc5322_date(secs),
        );
        let (content, _) = complete_header(request.message, &id, &self.hostname, secs);
        // Signed for the sender's domain when it is ours (it has a key); the Received field
        // stays outside the signature.
        let signatures = match (&self.signer, sender.as_ref()) {
            (Some(signer), Some(from)) => match signer.sign(from.domain(), &content) {
                Ok(signed) => signed.headers,
                Err(e) => {
                    tracing::debug!("local submission from {from} not DKIM-signed: {e}");
                    String::new()
                }
            },
            _ => String::new(),
        };
        let bytes = [received.as_bytes(), signatures.as_bytes(), &content].concat();
        let queued = NewQueued {
            id: id.clone(),
            sender,
            recipients,
            envid: None,
            ret: None,
            auth_user: None,
            held: false,
            data: MessageData::from(bytes),
            created: secs,
        };
        let to: Vec<String> = queued.recipients.iter().map(|r| r.address.to_string()).collect();
        match self.store.enqueue(queued).await {
            Ok(()) => {
                tracing::info!(target: "mail", "{id}: from=<{}>, submitted locally by {user}, to={}", request.sender, to.join(","));
                let event = Event {
                    ts_ms: secs * 1000,
                    queue_id: Some(id.clone()),
                    message_id: None,
                    address: Some(request.sender.to_lowercase()),
                    kind: "submit.local".into(),
                    data: serde_json::json!({ "from": request.sender, "to": to, "user": user }),
                };
                if let Err(e) = self.store.journal(vec![event]).await {
                    tracing::warn!(error = %e, "journal");
                }
                self.queue.wake();
                format!("250 2.0.0 Ok: queued as {id}")
            }
            Err(e) => {
                tracing::warn!(target: "mail", "local submission not queued: {e}");
                "451 4.3.0 Local error in processing, try again later".to_string()
            }
        }
    }
}
