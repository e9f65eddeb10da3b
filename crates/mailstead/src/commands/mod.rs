//! One module per subcommand; [`run`] dispatches. Everything here is the binary's edge, so
//! errors are `anyhow` with context a person can act on.

mod check_config;
mod directory;
mod dns;
mod init;
pub mod queue;
pub mod sendmail;
pub mod spam;
mod trace;

use anyhow::{Context, Result};

use mailstead_store_sqlite::{OpenMode, SqliteOptions, SqliteStore};

use crate::cli::Command;
use crate::config::Config;
use crate::datadir::DataDir;

/// Runs a parsed command line.
pub async fn run(data: &DataDir, command: Command) -> Result<()> {
    match command {
        Command::Init { domain, hostname, dev } => {
            crate::logging::init_for_tool();
            init::run(data, &domain, hostname.as_deref(), dev).await
        }
        Command::Serve => crate::serve::run(data).await,
        Command::CheckConfig => {
            crate::logging::init_for_tool();
            check_config::run(data).await
        }
        Command::Trace { query } => {
            crate::logging::init_for_tool();
            trace::run(data, &query).await
        }
        Command::Domain { action } => {
            crate::logging::init_for_tool();
            directory::domain(data, action).await
        }
        Command::Account { action } => {
            crate::logging::init_for_tool();
            directory::account(data, action).await
        }
        Command::Alias { action } => {
            crate::logging::init_for_tool();
            directory::alias(data, action).await
        }
        Command::Dns { domain } => {
            crate::logging::init_for_tool();
            dns::run(data, domain.as_deref()).await
        }
        Command::Spam { action } => {
            crate::logging::init_for_tool();
            spam::run(data, action).await
        }
        Command::Queue { action } => {
            crate::logging::init_for_tool();
            queue::run(data, action).await
        }
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Loads the configuration of a data directory.
pub fn load_config(data: &DataDir) -> Result<Config> {
    Config::load(&data.config()).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Store options from the configuration.
pub fn store_options(config: &Config, mode: OpenMode) -> SqliteOptions {
    SqliteOptions {
        inline_blob_max: config.store.inline_blob_max as usize,
        segment_blob_max: config.store.segment_blob_max as usize,
        group_commit_max_batch: config.store.group_commit_max_batch,
        mode,
        ..Default::default()
    }
}

/// Opens the store for a command-line tool, beside a possibly running server.
pub fn open_store(data: &DataDir) -> Result<SqliteStore> {
    let config = load_config(data)?;
    SqliteStore::open(data.root(), store_options(&config, OpenMode::Tool))
        .with_context(|| format!("opening the store in {}", data.root().display()))
}
