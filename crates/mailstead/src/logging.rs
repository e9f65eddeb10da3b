//! Logging: structured logs (text or JSON) on standard error for the operator, and a separate
//! human-readable mail log file a postmaster can grep. Events with target `mail` go to both.
//!
//! The mail log's lines are formatted by [`crate::mail_log`] and go through a shared buffer
//! that a background thread writes out every 100 ms ([`crate::log_buffer`]): sessions never
//! wait for the file (appending a line took a twentieth of their CPU) nor wake a thread per
//! line. Lines are never dropped, and the [`LogGuard`]
//! writes what is left at exit.
//!
//! Secrets never reach a log line: protocol code logs `AUTH <redacted>`, and no password or
//! key is ever a field.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Output format of the operator log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// Keeps the mail log's writer thread; dropping it writes out the lines still queued.
#[must_use = "dropping the guard stops the mail log writer"]
pub struct LogGuard {
    _mail: Option<crate::log_buffer::FlushGuard>,
}

/// Installs the global subscriber. `level` is a tracing filter (`info`, `mailstead=debug`, …);
/// `RUST_LOG` overrides it. `mail_log` is the mail log file, if enabled.
pub fn init(level: &str, format: LogFormat, mail_log: Option<&Path>) -> Result<LogGuard> {
    let filter =
        EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(level)).context("log level")?;
    let stderr = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(true)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    let mut guard = None;
    let mail = match mail_log {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening the mail log {}", path.display()))?;
            let (writer, flusher) = crate::log_buffer::BufferedFile::start(file)
                .with_context(|| format!("starting the mail log writer for {}", path.display()))?;
            guard = Some(flusher);
            Some(
                crate::mail_log::MailLogLayer::new(writer)
                    .with_filter(Targets::new().with_target("mail", tracing::Level::INFO)),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr.with_filter(filter))
        .with(mail)
        .try_init()
        .context("installing the logger")?;
    Ok(LogGuard { _mail: guard })
}

/// A quiet logger for one-shot commands: warnings and errors only.
pub fn init_for_tool() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .try_init();
}
