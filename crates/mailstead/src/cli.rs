//! The command-line contract (DESIGN.md): every subcommand and flag, defined once with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Mailstead: a complete mail server in one binary.
#[derive(Debug, Parser)]
#[command(name = "mailstead", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub data: DataArg,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The data directory, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DataArg {
    /// Data directory (config, store, certificates, logs).
    #[arg(long, global = true, env = "MAILSTEAD_DATA", default_value = "/var/lib/mailstead")]
    pub data: PathBuf,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a data directory with a commented mailstead.toml, a certificate and the first domain.
    Init {
        /// The first mail domain (the part after @), e.g. example.com.
        #[arg(long)]
        domain: String,
        /// This machine's mail host name (default: mail.<domain>, or localhost with --dev).
        #[arg(long)]
        hostname: Option<String>,
        /// Development setup: loopback listeners on high ports, self-signed certificate.
        #[arg(long)]
        dev: bool,
    },
    /// Run the server (all listeners, queue and store) until SIGTERM or SIGINT.
    Serve,
    /// Validate mailstead.toml, the certificates and the store without starting.
    CheckConfig,
    /// Show the journey of a message: QUERY is a queue id, a Message-ID or an address.
    Trace {
        /// Queue id, Message-ID or address.
        query: String,
    },
    /// Manage local domains.
    Domain {
        #[command(subcommand)]
        action: DomainAction,
    },
    /// Manage mail accounts.
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// Manage aliases (address → targets; `@domain` is a catch-all).
    Alias {
        #[command(subcommand)]
        action: AliasAction,
    },
    /// Print the DNS records to publish for each local domain (MX, SPF, DKIM, DMARC) in zone-file
    /// syntax; makes the DKIM keys of a domain that has none.
    Dns {
        /// Only this domain.
        #[arg(long)]
        domain: Option<String>,
    },
    /// Train an account's spam classifier, or show what it has learned.
    Spam {
        #[command(subcommand)]
        action: crate::commands::spam::SpamAction,
    },
    /// The outbound queue: list, show, retry, hold, release, cancel.
    Queue {
        #[command(subcommand)]
        action: crate::commands::queue::QueueAction,
    },
}

/// `mailstead domain …`
#[derive(Debug, Subcommand)]
pub enum DomainAction {
    /// Accept mail for a domain.
    Add {
        /// Domain name.
        domain: String,
    },
    /// List local domains.
    List,
    /// Stop accepting mail for a domain (it must have no accounts or aliases).
    Delete {
        /// Domain name.
        domain: String,
    },
}

/// `mailstead account …`
#[derive(Debug, Subcommand)]
pub enum AccountAction {
    /// Create an account (with INBOX, Sent, Drafts, Trash, Junk, Archive).
    Add {
        /// The account's address, which is also its login.
        address: String,
        /// Read the password from the first line of standard input (else one is generated and printed).
        #[arg(long)]
        password_stdin: bool,
        /// Storage quota, e.g. 500M or 2G (default: unlimited).
        #[arg(long)]
        quota: Option<String>,
    },
    /// List accounts with their usage.
    List,
    /// Set a new password.
    Passwd {
        /// The account's address.
        address: String,
        /// Read the password from the first line of standard input (else one is generated and printed).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete an account and all its mail.
    Delete {
        /// The account's address.
        address: String,
        /// Confirm that all of the account's mail is to be deleted.
        #[arg(long)]
        yes: bool,
    },
}

/// `mailstead alias …`
#[derive(Debug, Subcommand)]
pub enum AliasAction {
    /// Add an alias: ALIAS delivers to every TARGET (accounts, aliases, or remote addresses).
    Add {
        /// `name@domain`, or `@domain` for a catch-all.
        alias: String,
        /// Where mail goes.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// List aliases.
    List,
    /// Delete an alias.
    Delete {
        /// `name@domain` or `@domain`.
        alias: String,
    },
}
