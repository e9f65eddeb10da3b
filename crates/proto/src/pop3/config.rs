//! The settings of one POP3 session, chosen by the driver per listener and connection.

/// The message retention policy announced with the `EXPIRE` capability (RFC 2449 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expire {
    /// `EXPIRE NEVER`: the server never deletes messages on its own.
    Never,
    /// `EXPIRE n`: messages may be deleted by the server once they are `n` days old and have
    /// been retrieved; `EXPIRE 0` means retrieved messages are removed at the end of the session.
    Days(u32),
}

/// What the session needs to know about its listener and connection.
///
/// Build it with [`SessionConfig::new`] and adjust fields with struct update syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our host name, shown in the greeting and the sign-off.
    pub hostname: String,
    /// Advertise and accept STLS (the driver has a TLS acceptor and the connection is
    /// plaintext).
    pub stls_offered: bool,
    /// The connection is TLS-protected (implicit TLS on 995, or after STLS).
    pub tls_active: bool,
    /// Passwords may travel in the clear on this connection (development mode on loopback).
    /// Without it USER, PASS and AUTH need TLS (RFC 2595 §4, DESIGN.md security model).
    pub plaintext_auth_allowed: bool,
    /// Longest command line in octets, CRLF included. RFC 2449 §4 limits POP3 commands to 255
    /// octets, but SASL responses (RFC 5034 §4) are longer, so this must be larger.
    pub max_line_length: usize,
    /// Error replies allowed before the session says goodbye and closes. 0 is treated as 1.
    pub max_errors: usize,
    /// The retention policy to announce (RFC 2449 §6.7); `None`: no `EXPIRE` capability.
    pub expire: Option<Expire>,
    /// Minimum seconds between two logins of an account, announced as `LOGIN-DELAY`
    /// (RFC 2449 §6.5) and enforced by the driver; `None`: no delay.
    pub login_delay_secs: Option<u32>,
}

impl SessionConfig {
    /// Defaults an administrator would expect: 4096-octet lines, 10 errors, no TLS, no
    /// plaintext passwords, no EXPIRE or LOGIN-DELAY.
    pub fn new(hostname: impl Into<String>) -> SessionConfig {
        SessionConfig {
            hostname: hostname.into(),
            stls_offered: false,
            tls_active: false,
            plaintext_auth_allowed: false,
            max_line_length: 4096,
            max_errors: 10,
            expire: None,
            login_delay_secs: None,
        }
    }

    /// Whether a password may be sent now: inside TLS, or where plaintext is allowed.
    pub fn auth_allowed(&self) -> bool {
        self.tls_active || self.plaintext_auth_allowed
    }
}
