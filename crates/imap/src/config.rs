//! The IMAP server's own settings, assembled by the binary from `mailstead.toml`.

use std::time::Duration;

/// Settings of the IMAP server (ports 143 and 993).
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// Our host name, in the greeting.
    pub hostname: String,
    /// Largest message APPEND accepts (APPENDLIMIT, RFC 7889), in bytes.
    pub append_limit: u32,
    /// Longest command line (without literals). Long UID sets from sync clients need room.
    pub max_line_length: usize,
    /// Largest literal accepted outside APPEND (a search string, a password).
    pub max_small_literal: u32,
    /// Most literals in one command.
    pub max_literals: usize,
    /// Commands a client may send before logging in.
    pub max_unauthenticated_commands: u32,
    /// Failed LOGIN/AUTHENTICATE attempts in one connection before it is closed.
    pub max_auth_failures: u32,
    /// Protocol errors (BAD) in a row before the connection is closed.
    pub max_bad_commands: u32,
    /// Inactivity allowed before login.
    pub unauthenticated_timeout: Duration,
    /// Inactivity allowed after login (RFC 9051 §5.4: at least 30 minutes), also in IDLE.
    pub authenticated_timeout: Duration,
    /// Allow LOGIN/AUTHENTICATE without TLS for loopback clients (`--dev`).
    pub plaintext_auth_on_loopback: bool,
    /// Most messages a session handles in one mailbox view; also bounds sequence sets.
    pub max_messages_per_command: usize,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            hostname: "localhost".into(),
            append_limit: 50 * 1024 * 1024,
            max_line_length: 64 * 1024,
            max_small_literal: 64 * 1024,
            max_literals: 64,
            max_unauthenticated_commands: 30,
            max_auth_failures: 3,
            max_bad_commands: 20,
            unauthenticated_timeout: Duration::from_secs(60),
            authenticated_timeout: Duration::from_secs(30 * 60),
            plaintext_auth_on_loopback: false,
            max_messages_per_command: 1_000_000,
        }
    }
}
