//! `mailstead serve`: the composition root. Loads the config, takes the data directory's lock,
//! opens the store (running crash recovery), loads TLS, makes missing DKIM keys, binds every
//! enabled listener that has a protocol driver, writes `run/ports.json`, and on SIGTERM/SIGINT
//! stops accepting, lets sessions finish their transaction (up to 30 s), flushes the store and
//! exits.

mod local_submit;
mod queue;
mod screening;
mod submission;
pub mod tls;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use mailstead_antivirus::{Action, ClamdAddr, FailMode, PolicyConfig, ScanConfig, Scanner};
use mailstead_imap::{ImapConfig, ImapServer};
use mailstead_net::{ConnectionHandler, ConnectionLimits, ConnectionTracker, ListenerSpec, TlsMode};
use mailstead_pop3::{Expire, Pop3Config, Pop3Server};
use mailstead_smtp::{Service, SmtpConfig, SmtpServer};
use mailstead_store::Store;
use mailstead_store::auth::{AuthLimits, Authenticator};
use mailstead_store_sqlite::{OpenMode, SqliteStore};

use crate::commands::{load_config, store_options};
use crate::config::{Config, LogFormat};
use crate::datadir::DataDir;

/// How long in-flight sessions get to finish after SIGTERM.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// Runs the server until a termination signal.
pub async fn run(data: &DataDir) -> Result<()> {
    let started = Instant::now();
    let config = load_config(data)?;
    let format = match config.log.format {
        LogFormat::Text => crate::logging::LogFormat::Text,
        LogFormat::Json => crate::logging::LogFormat::Json,
    };
    let _log = crate::logging::init(&config.log.level, format, config.mail_log_path(data.root()).as_deref())?;
    let _lock = data.lock_server()?;

    let store = SqliteStore::open(data.root(), store_options(&config, OpenMode::Server))
        .with_context(|| format!("opening the store in {}", data.root().display()))?;
    let tls = tls::load(data, &config)?;
    let store: Arc<dyn Store> = Arc::new(store.clone());

    let limits = ConnectionLimits {
        max_total: config.limits.max_connections as usize,
        max_per_ip: config.limits.max_connections_per_ip as usize,
        idle_timeout: config.limits.idle_timeout(),
        tls_handshake_timeout: config.limits.tls_handshake_timeout(),
    };
    let tracker = ConnectionTracker::new(limits);
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let resolver = screening::resolver(&config)?;
    let screening = screening::build(&config, resolver.clone()).await?;
    let signer = submission::signer(&config, data, &store).await?;
    let (queue, queue_task) = queue::start(data, &config, store.clone(), resolver, shutdown.clone())?;
    let submit_task = local_submit::start(
        &data.run_dir(),
        local_submit::LocalSubmit {
            store: store.clone(),
            queue: queue.clone(),
            hostname: config.server.hostname.clone(),
            max_size: config.limits.max_message_size as usize,
            signer: signer.clone(),
        },
        shutdown.clone(),
    )?;
    let services = Services::build(&config, store.clone(), screening, signer, queue);

    let mut bound = BTreeMap::new();
    let mut listeners = Vec::new();
    for (service, addr) in config.listen.enabled() {
        let Some(handler) = services.handler(service) else {
            tracing::info!(service, "no protocol driver for this service in this version; not listening");
            continue;
        };
        let spec = ListenerSpec::new(service, addr, tls_mode(service));
        let listener = mailstead_net::bind(&spec).await.with_context(|| format!("starting {service}"))?;
        bound.insert(service.to_string(), listener.local_addr().to_string());
        let acceptor = Some(tls.acceptor.clone());
        listeners.push(tokio::spawn(mailstead_net::run(
            listener,
            acceptor,
            tracker.clone(),
            handler,
            shutdown.clone(),
            tasks.clone(),
        )));
    }
    write_ports(data, &bound)?;
    tracing::info!(
        hostname = %config.server.hostname,
        dev = config.server.dev,
        listeners = ?bound,
        startup_ms = started.elapsed().as_millis() as u64,
        "mailstead ready"
    );

    wait_for_signal().await?;
    tracing::info!("shutting down: no new connections; finishing sessions");
    shutdown.cancel();
    for l in listeners {
        let _ = l.await;
    }
    let _ = queue_task.await;
    let _ = submit_task.await;
    if !mailstead_net::drain(&tasks, DRAIN_DEADLINE).await {
        tracing::warn!(
            "some sessions did not finish within {DRAIN_DEADLINE:?}; their open transactions were not acknowledged"
        );
    }
    store_flush(&store).await;
    let _ = std::fs::remove_file(data.ports_file());
    tracing::info!("stopped");
    Ok(())
}

async fn store_flush(store: &Arc<dyn Store>) {
    // Every acknowledged write is already durable; this waits for writes still in flight.
    let _ = store.list_domains().await;
}

/// The TLS mode of each service.
fn tls_mode(service: &str) -> TlsMode {
    match service {
        "submissions" | "imaps" | "pop3s" | "https" => TlsMode::Implicit,
        "lmtp" | "http" => TlsMode::Plain,
        _ => TlsMode::StartTls,
    }
}

/// The antivirus scanner of `[antivirus]`, or `None` when both the policy and clamd are off.
fn antivirus_scanner(av: &crate::config::Antivirus) -> Option<Scanner> {
    use crate::config::{ClamdDown, MacroAction, OFF};
    let clamd = if av.clamd == OFF { None } else { ClamdAddr::parse(&av.clamd).ok() };
    if clamd.is_none() && !av.attachment_policy {
        return None;
    }
    let policy = av.attachment_policy.then(|| PolicyConfig {
        macros: match av.macros {
            MacroAction::Flag => Action::Flag,
            MacroAction::Block => Action::Block,
        },
        ..PolicyConfig::default()
    });
    let timeout = Duration::from_secs(av.clamd_timeout_secs);
    Some(Scanner::new(ScanConfig {
        clamd,
        on_unavailable: match av.on_clamd_down {
            ClamdDown::Tempfail => FailMode::Closed,
            ClamdDown::Accept => FailMode::Open,
        },
        policy,
        connect_timeout: timeout.min(Duration::from_secs(5)),
        scan_timeout: timeout,
        max_stream_len: usize::try_from(av.clamd_max_size).unwrap_or(usize::MAX),
    }))
}

/// The protocol drivers this build has, by service name.
struct Services {
    handlers: BTreeMap<&'static str, Arc<dyn ConnectionHandler>>,
}

impl Services {
    fn build(
        config: &Config,
        store: Arc<dyn Store>,
        screening: mailstead_smtp::screening::Screening,
        signer: Option<Arc<mailstead_filter::dkim::Signer>>,
        queue: mailstead_queue::QueueHandle,
    ) -> Services {
        let mut handlers: BTreeMap<&'static str, Arc<dyn ConnectionHandler>> = BTreeMap::new();
        let antivirus = antivirus_scanner(&config.antivirus);
        let smtp = |service| SmtpConfig {
            hostname: config.server.hostname.clone(),
            service,
            max_message_size: config.limits.max_message_size as usize,
            max_recipients: config.limits.max_recipients as usize,
            max_errors: config.limits.max_errors as usize,
            max_line_length: config.limits.max_line_length,
            max_received_headers: config.smtp.max_received_headers as usize,
            plus_separator: config.delivery.plus_separator(),
            greet_delay: match service {
                Service::Mx => Duration::from_millis(config.smtp.greet_delay_ms),
                Service::Lmtp | Service::Submission => Duration::ZERO,
            },
            antivirus: antivirus.clone(),
            screening: match service {
                Service::Mx => screening.clone(),
                Service::Lmtp | Service::Submission => Default::default(),
            },
            queue: queue.clone(),
            submission: None,
        };
        handlers.insert("smtp", Arc::new(SmtpServer::new(smtp(Service::Mx), store.clone())));
        handlers.insert("lmtp", Arc::new(SmtpServer::new(smtp(Service::Lmtp), store.clone())));
        // One Authenticator for every protocol that takes a password, so throttling counts
        // each failure whichever service it came through.
        let auth = Authenticator::new(
            store.clone(),
            AuthLimits {
                max_failures_per_ip: config.limits.auth_failures_per_ip_per_hour as usize,
                window: Duration::from_secs(3600),
                ..AuthLimits::default()
            },
        );
        // One submission server for 587 and 465: both share the hourly limits and history.
        let submit = SmtpConfig {
            submission: Some(submission::build(config, auth.clone(), signer)),
            ..smtp(Service::Submission)
        };
        let submit = Arc::new(SmtpServer::new(submit, store.clone()));
        handlers.insert("submission", submit.clone());
        handlers.insert("submissions", submit);
        // One POP3 server for both listeners: the maildrop lock must cover 110 and 995 together.
        let pop3 = Arc::new(Pop3Server::new(
            Pop3Config {
                hostname: config.server.hostname.clone(),
                max_line_length: config.limits.max_line_length,
                max_errors: config.limits.max_errors as usize,
                dev: config.server.dev,
                expire: config.pop3.expire_days().map(|days| days.map_or(Expire::Never, Expire::Days)),
                login_delay: (config.pop3.login_delay_secs > 0)
                    .then(|| Duration::from_secs(config.pop3.login_delay_secs)),
            },
            store.clone(),
            auth.clone(),
        ));
        handlers.insert("pop3", pop3.clone());
        handlers.insert("pop3s", pop3);
        let imap = Arc::new(ImapServer::new(
            ImapConfig {
                hostname: config.server.hostname.clone(),
                append_limit: u32::try_from(config.limits.max_message_size).unwrap_or(u32::MAX),
                plaintext_auth_on_loopback: config.server.dev,
                ..ImapConfig::default()
            },
            store,
            auth,
        ));
        handlers.insert("imap", imap.clone());
        handlers.insert("imaps", imap);
        Services { handlers }
    }

    fn handler(&self, service: &str) -> Option<Arc<dyn ConnectionHandler>> {
        self.handlers.get(service).cloned()
    }
}

/// Writes `run/ports.json` (service → bound address) atomically.
fn write_ports(data: &DataDir, bound: &BTreeMap<String, String>) -> Result<()> {
    let path = data.ports_file();
    let tmp = path.with_extension("tmp");
    let json = serde_json::to_string_pretty(bound)?;
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}
