//! The settings of one SMTP/LMTP session, chosen by the driver per listener and connection.

/// Which protocol the session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// SMTP from other servers (port 25, MX): no AUTH unless offered, mail for local domains.
    Smtp,
    /// Message submission (RFC 6409, ports 587 and 465): AUTH offered once TLS protects it.
    Submission,
    /// LMTP (RFC 2033): `LHLO` instead of `EHLO`, one reply per recipient after the message.
    Lmtp,
}

/// What the session needs to know about its listener and connection.
///
/// Build it with [`SessionConfig::new`] and adjust fields with struct update syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our host name, shown in the greeting, the EHLO reply and 421 replies.
    pub hostname: String,
    /// SMTP, submission or LMTP.
    pub mode: Mode,
    /// Largest message in octets: advertised as `SIZE` (RFC 1870) and enforced on the bytes
    /// actually received (after dot-unstuffing and line-end normalisation).
    pub max_message_size: usize,
    /// Most accepted recipients per transaction; more get `452 4.5.3` (RFC 5321 §4.5.3.1.10).
    pub max_recipients: usize,
    /// Error replies (4xx/5xx) allowed before the session says `421 4.7.0` and closes.
    /// 0 is treated as 1.
    pub max_errors: usize,
    /// Longest command line in octets, CRLF included (RFC 5321 §4.5.3.1.4 asks for at least
    /// 512). Longer lines are discarded up to their LF and answered `500 5.5.2`. It also bounds
    /// the SASL response lines of AUTH (RFC 4954 §4 suggests 12288 for those).
    pub max_line_length: usize,
    /// Advertise and accept STARTTLS (the driver has a TLS acceptor and the connection is
    /// plaintext).
    pub starttls_offered: bool,
    /// The connection is TLS-protected (implicit TLS, or after STARTTLS).
    pub tls_active: bool,
    /// Advertise and accept `AUTH PLAIN LOGIN`. The driver sets it only where plaintext
    /// passwords are safe: TLS active, or loopback in development. In [`Mode::Submission`] the
    /// session turns it on by itself after a successful STARTTLS.
    pub auth_offered: bool,
    /// MAIL before a successful AUTH gets `530 5.7.0 Authentication required` (RFC 4954 §6).
    pub auth_required: bool,
    /// `false`: VRFY answers `252 2.5.0` (RFC 5321 §3.5.3) without asking anyone;
    /// `true`: VRFY produces [`Action::Verify`](super::Action::Verify).
    pub vrfy_enabled: bool,
    /// More `Received:` header fields than this in the message's header is a mail loop:
    /// `554 5.4.6` (RFC 5321 §6.3).
    pub max_received_headers: usize,
}

impl SessionConfig {
    /// Defaults an administrator would expect: 50 MiB messages, 1000 recipients, 10 errors,
    /// 4096-octet lines, 100 `Received:` fields (RFC 5321 §6.3 asks for at least 100), VRFY
    /// disabled, no TLS or AUTH offered; in [`Mode::Submission`] AUTH is required.
    pub fn new(hostname: impl Into<String>, mode: Mode) -> SessionConfig {
        SessionConfig {
            hostname: hostname.into(),
            mode,
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 1000,
            max_errors: 10,
            max_line_length: 4096,
            starttls_offered: false,
            tls_active: false,
            auth_offered: false,
            auth_required: mode == Mode::Submission,
            vrfy_enabled: false,
            max_received_headers: 100,
        }
    }
}
