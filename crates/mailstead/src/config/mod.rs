//! Mailstead's configuration: the one file `mailstead.toml` in the data directory.
//!
//! - `schema.rs`: the [`config_section!`](schema) macro and the description types it generates.
//! - `sections.rs`: every section and option, each declared once (doc, type, default, validator).
//! - `checks.rs`: the validators; `locate.rs` and `error.rs`: errors that name file, line, fix.
//! - `render.rs`: the commented template (`mailstead init`) and `docs/config.md`.
//!
//! Loading is two passes: serde parses the typed [`Config`] (syntax, types and unknown keys fail
//! here, one error, located by the toml span), then every validator runs and *all* semantic
//! problems are reported together, each located at its value in the file.
//!
//! Static settings only: accounts, aliases and domains live in the store.

mod checks;
mod error;
mod locate;
mod render;
mod schema;
mod sections;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::{ConfigError, Problem};
pub use schema::{Finding, Section, SectionDoc};
pub use sections::{
    AllowedSenders, Antivirus, ClamdDown, Delivery, Dmarc, Dns, Limits, Listen, Log, LogFormat, MacroAction,
    OFF, Pop3, Queue, Relay, RelayTlsMode, Server, Smtp, Spam, Store, Submission, Tls, nameserver_addr,
    parse_blocklist, relay_addr,
};

/// Declares the top level: one field per section, in file order.
macro_rules! config_root {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// The whole `mailstead.toml`. Every section and option has a default, so an empty file is
        /// a valid configuration.
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Config {
            $(
                #[doc = concat!("The `[", stringify!($field), "]` section.")]
                pub $field: $ty,
            )*
        }

        impl Config {
            /// The description of every section, in file order.
            pub fn sections() -> Vec<SectionDoc> {
                vec![$(<$ty as Section>::doc()),*]
            }

            fn check_options(&self, out: &mut Vec<Finding>) {
                $(self.$field.check_options(out);)*
            }
        }
    };
}

config_root! {
    server: Server,
    listen: Listen,
    smtp: Smtp,
    submission: Submission,
    pop3: Pop3,
    tls: Tls,
    limits: Limits,
    store: Store,
    delivery: Delivery,
    antivirus: Antivirus,
    dns: Dns,
    dmarc: Dmarc,
    spam: Spam,
    queue: Queue,
    relay: Relay,
    log: Log,
}

impl Config {
    /// The configuration file's name inside the data directory.
    pub const FILE_NAME: &'static str = "mailstead.toml";

    /// `DIR/mailstead.toml`.
    pub fn file_path(data_dir: &Path) -> PathBuf {
        data_dir.join(Self::FILE_NAME)
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::NotFound { path: path.to_path_buf() });
            }
            Err(source) => return Err(ConfigError::Read { path: path.to_path_buf(), source }),
        };
        Self::from_toml(&text, path)
    }

    /// Parses and validates `text`; `path` is only used to name the file in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |problems| ConfigError::Invalid { path: path.to_path_buf(), problems };
        let config: Config = toml::from_str(text)
            .map_err(|e| invalid(vec![locate::toml_problem(&e, text, &Self::sections())]))?;
        let findings = config.findings();
        if findings.is_empty() {
            return Ok(config);
        }
        let locator = locate::Locator::new(text);
        let mut problems: Vec<Problem> = findings.iter().map(|f| locator.problem(f)).collect();
        problems.sort_by_key(|p| p.location.as_ref().map_or(usize::MAX, |l| l.line));
        Err(invalid(problems))
    }

    /// Every semantic problem of this configuration (empty when it is valid).
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        self.check_options(&mut out);
        out.extend(checks::listen_conflicts(&self.listen));
        if self.spam.reject_threshold.0 <= self.spam.junk_threshold.0 {
            out.push(Finding {
                section: "spam",
                key: "reject_threshold",
                alt_key: Some("junk_threshold"),
                invalid: schema::Invalid::new(
                    format!(
                        "reject_threshold ({}) is not above junk_threshold ({})",
                        self.spam.reject_threshold.0, self.spam.junk_threshold.0
                    ),
                    "refuse only what scores higher than what goes to Junk, e.g. 5.0 and 15.0",
                ),
            });
        }
        out
    }

    /// The commented file `mailstead init` writes: every option with its documentation, the
    /// given host name, and with `dev` the development listeners and `dev = true`.
    pub fn template(hostname: &str, dev: bool) -> String {
        render::template(&Self::template_config(hostname, dev))
    }

    /// The configuration [`Config::template`] describes.
    pub fn template_config(hostname: &str, dev: bool) -> Config {
        let mut config = Config::default();
        config.server.hostname = hostname.to_string();
        if dev {
            config.server.dev = true;
            config.listen = Listen::dev();
        }
        config
    }

    /// The markdown reference written to `docs/config.md` (checked by a test).
    #[cfg(test)]
    pub fn reference_markdown() -> String {
        render::markdown()
    }

    /// A path from the file resolved against the data directory (absolute paths stay as they are).
    pub fn resolve_path(&self, data_dir: &Path, rel: impl AsRef<Path>) -> PathBuf {
        data_dir.join(rel)
    }

    /// The mail log's path, or `None` when `[log] mail_log = "off"`.
    pub fn mail_log_path(&self, data_dir: &Path) -> Option<PathBuf> {
        (self.log.mail_log != OFF).then(|| self.resolve_path(data_dir, &self.log.mail_log))
    }
}
