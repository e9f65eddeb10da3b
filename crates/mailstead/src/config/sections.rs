//! The sections of `mailstead.toml`, each declared once with [`config_section!`]: every option's
//! documentation, type, default and validator are on consecutive lines here. To add an option,
//! add a line to its section (and a validator in `checks.rs` if it needs one), then regenerate
//! `docs/config.md` with `MAILSTEAD_BLESS=1 cargo test -p mailstead config`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::checks::{
    blocklists, clamd_addr, dns_name, forwarders, line_length, listen_addr, log_level, mail_log, nameservers,
    networks, nonzero, not_empty, plus_separator, pop3_expire, port, relay_host, score, source_addresses,
    tls_extra,
};
use super::schema::{
    ConfigType, Finding, OptionDoc, Section, SectionDoc, clean_doc, config_section, render_value,
};

config_section! {
    /// Identity of this mail host and the mode it runs in.
    section "server" => pub struct Server {
        /// The machine's mail host name, used in the SMTP greeting and in EHLO/HELO when sending.
        /// It should be the name your MX records point to and that the IP's PTR record gives
        /// back. Must be a valid DNS name (letters, digits, hyphens; labels up to 63 characters;
        /// internationalized names in their `xn--` form).
        hostname: String as "string (DNS name)" = "localhost".to_string() => dns_name,
        /// Development mode, for trying Mailstead on one machine without root: plaintext AUTH is
        /// allowed on loopback connections only, and a self-signed certificate is created when
        /// none exists. Never enable on a server reachable from the Internet.
        dev: bool = false,
    }
}

config_section! {
    /// The address each service listens on: `"IP:port"` (IPv6 as `"[::]:25"`) or `"off"` to
    /// disable the service. Port 0 picks a free port (the bound address is logged and written
    /// to `run/ports.json`). Two services cannot share one address. `mailstead init --dev`
    /// writes loopback addresses on unprivileged ports instead of these defaults.
    section "listen" => pub struct Listen {
        /// SMTP from other mail servers (MX traffic), STARTTLS offered.
        smtp: String as "string (\"IP:port\" or \"off\")" = "0.0.0.0:25".into() => listen_addr,
        /// Message submission by your users' mail clients, STARTTLS required before AUTH
        /// (RFC 6409).
        submission: String as "string (\"IP:port\" or \"off\")" = "0.0.0.0:587".into() => listen_addr,
        /// Message submission over implicit TLS (RFC 8314).
        submissions: String as "string (\"IP:port\" or \"off\")" = "0.0.0.0:465".into() => listen_addr,
        /// IMAP, STARTTLS required before LOGIN.
        imap: String as "string (\"IP:port\" or \"off\")" = "0.0.0.0:143".into() => listen_addr,
        /// IMAP over implicit TLS.
        imaps: String as "string (\"IP:port\" or \"off\")" = "0.0.0.0:993".into() => listen_addr,
        /// POP3, STARTTLS (STLS) required before login.
        pop3: String as "string (\"IP:port\" or \"off\")" = "0.0.0.0:110".into() => listen_addr,
        /// POP3 over implicit TLS.
        pop3s: String as "string (\"IP:port\" or \"off\")" = "0.0.0.0:995".into() => listen_addr,
        /// LMTP for local delivery from other programs (e.g. a Postfix in front). Keep it on
        /// loopback: LMTP has no authentication.
        lmtp: String as "string (\"IP:port\" or \"off\")" = "127.0.0.1:24".into() => listen_addr,
        /// HTTP: ACME challenges, MTA-STS policy, autoconfig; redirects everything else to HTTPS.
        http: String as "string (\"IP:port\" or \"off\")" = "0.0.0.0:80".into() => listen_addr,
        /// HTTPS: webmail, admin, sending API, autoconfig, MTA-STS policy.
        https: String as "string (\"IP:port\" or \"off\")" = "0.0.0.0:443".into() => listen_addr,
    }
}

config_section! {
    /// TLS certificates. Paths are relative to the data directory unless absolute. PEM files:
    /// the certificate file holds the full chain, leaf first.
    section "tls" => pub struct Tls {
        /// The default certificate, used when the client sends no SNI or no `extra` entry matches.
        cert: String as "string (path)" = "tls/cert.pem".into() => not_empty,
        /// The private key of `cert` (PKCS#8, PKCS#1 or SEC1 PEM). Keep it readable only by the
        /// server's user.
        key: String as "string (path)" = "tls/key.pem".into() => not_empty,
        /// More certificates, chosen by the name the client asks for (SNI) among the names each
        /// certificate covers. Add one `[[tls.extra]]` table per certificate, after `[tls]`:
        ///
        ///     [[tls.extra]]
        ///     cert = "tls/example.org.pem"
        ///     key = "tls/example.org.key"
        extra: Vec<TlsCert> = Vec::new() => tls_extra,
    }
}

config_section! {
    /// Limits that protect the server from overload and abuse. None may be 0.
    section "limits" => pub struct Limits {
        /// Simultaneous connections across all services; more are refused.
        max_connections: u32 = 1000 => nonzero,
        /// Simultaneous connections from one IP address.
        max_connections_per_ip: u32 = 20 => nonzero,
        /// A session with no input for this long is closed.
        idle_timeout_secs: u64 as "integer (seconds)" = 300 => nonzero,
        /// A TLS handshake (implicit TLS or STARTTLS) must complete within this time.
        tls_handshake_timeout_secs: u64 as "integer (seconds)" = 10 => nonzero,
        /// Largest message accepted (announced as SMTP SIZE). 52428800 is 50 MiB.
        max_message_size: u64 as "integer (bytes)" = 52_428_800 => nonzero,
        /// Recipients accepted per message; further RCPT TO get a temporary error (RFC 5321
        /// requires at least 100).
        max_recipients: u32 = 1000 => nonzero,
        /// Protocol errors a session may make before it is disconnected.
        max_errors: u32 = 10 => nonzero,
        /// Longest protocol or message line accepted, in bytes including CRLF. At least 1000
        /// (RFC 5321 §4.5.3.1.6); longer lines are rejected.
        max_line_length: usize as "integer (bytes)" = 4096 => line_length,
        /// Failed authentications allowed from one IP address per hour; beyond this, AUTH and
        /// LOGIN from that address are refused until the hour has passed.
        auth_failures_per_ip_per_hour: u32 = 10 => nonzero,
    }
}

config_section! {
    /// SMTP behaviour for mail from other servers (port 25) and for LMTP.
    section "smtp" => pub struct Smtp {
        /// Wait this long before greeting a client on port 25 and refuse clients that talk
        /// first (sending before the greeting breaks RFC 5321 §4.3.1 and is typical of spam
        /// bots). 0 greets at once.
        greet_delay_ms: u64 as "integer (milliseconds)" = 0,
        /// A message with more `Received:` header fields than this is in a mail loop and is
        /// refused with 554 5.4.6 (RFC 5321 §6.3 asks for a limit of at least 100).
        max_received_headers: u32 = 100 => nonzero,
        /// Clients trusted as local relays, like Postfix's `mynetworks`: networks
        /// (`"192.0.2.0/24"`) or addresses. Their mail skips the DNS-based checks — sender
        /// authentication, blocklists, HELO/PTR — but not the content rules, antivirus or
        /// your own spam training. Trust never allows relaying to other domains.
        trusted_networks: Vec<String> as "array of strings (networks)" = vec!["127.0.0.0/8".into(), "::1".into()] => networks,
    }
}

config_section! {
    /// Message submission by your users' mail clients (ports 587 and 465): which sender
    /// addresses an account may use, how much it may send, and what happens to outgoing mail
    /// that looks like spam. Passwords are accepted only inside TLS (or, with `dev`, from
    /// loopback); failed logins count with IMAP's and POP3's (`[limits]
    /// auth_failures_per_ip_per_hour`).
    section "submission" => pub struct Submission {
        /// Which addresses an account may send as, in MAIL FROM and in the `From:` and `Sender:`
        /// header fields: `"own"` — its own address (also with a `+tag`) and every alias that
        /// delivers to it (including a catch-all); `"domain"` — also any address of its domain;
        /// `"local"` — also any address of any local domain. Other senders get 553 5.7.1.
        allowed_senders: AllowedSenders = AllowedSenders::Own,
        /// Messages one account may submit per hour (a sliding window); beyond it MAIL gets
        /// 451 4.7.1 and the client sends the rest later.
        max_messages_per_hour: u32 = 200 => nonzero,
        /// Messages that may be submitted from one IP address (IPv6: its /64) per hour, all
        /// accounts together.
        max_messages_per_hour_per_ip: u32 = 400 => nonzero,
        /// Recipients one account may address per hour, all its messages together; beyond it
        /// RCPT gets 451 4.7.1.
        max_recipients_per_hour: u32 = 1000 => nonzero,
        /// Recipients one message may have; more get 452 4.5.3 (also capped by `[limits]
        /// max_recipients`).
        max_recipients_per_message: u32 = 100 => nonzero,
        /// Outgoing spam score from which a message to other domains is held in the queue
        /// instead of sent, and the postmaster (postmaster@ the sender's domain) is told. The
        /// score adds the content rules of `[spam]` and bursts against the sender's own hourly
        /// history. Recipients on this server still get their copies.
        hold_threshold: Score as "number" = Score(8.0) => score,
        /// Sign outgoing mail with DKIM: an Ed25519 and an RSA signature per message, with the
        /// keys in `dkim/<domain>/` of the data directory (made by `init`, `domain add`, and at
        /// start for domains without keys). `mailstead dns` prints the records to publish.
        dkim_sign: bool = true,
    }
}

config_section! {
    /// POP3 (ports 110 and 995): the retention and login policies announced to clients
    /// (RFC 2449 CAPA `EXPIRE` and `LOGIN-DELAY`).
    section "pop3" => pub struct Pop3 {
        /// Message retention: `"off"` announces no policy; `"never"` announces `EXPIRE NEVER`;
        /// a number of days such as `"30"` announces `EXPIRE 30` and removes a message fetched
        /// with RETR at the end of that session once it is that old (`"0"` removes every
        /// fetched message, even without DELE).
        expire: String as "string (\"off\", \"never\" or days)" = "off".into() => pop3_expire,
        /// Minimum seconds between two POP3 logins of one account, announced as `LOGIN-DELAY`;
        /// a login sooner is refused with `[LOGIN-DELAY]`. 0 disables it.
        login_delay_secs: u64 as "integer (seconds)" = 0,
    }
}

config_section! {
    /// Where mail and accounts are stored.
    section "store" => pub struct Store {
        /// The storage backend. `"sqlite"`: the embedded store in the data directory, needing
        /// no other service (the only backend available so far).
        backend: StoreBackend = StoreBackend::Sqlite,
        /// Messages up to this size are kept inside the database; larger ones under `blobs/`:
        /// packed into shared segment files up to `segment_blob_max`, beyond it one file each.
        /// 0 keeps no message inside the database.
        inline_blob_max: u64 as "integer (bytes)" = 65_536,
        /// Messages above `inline_blob_max` and up to this size are appended to shared segment
        /// files (`blobs/segments/`), which need no file per message and share one fsync per
        /// group commit among concurrent deliveries; space of deleted messages is reclaimed by
        /// compacting them in the background. Larger messages get a file each. 0 gives every
        /// one a file.
        segment_blob_max: u64 as "integer (bytes)" = 1_048_576,
        /// Most deliveries committed together in one transaction and one fsync (group commit).
        /// Nothing is acknowledged before its commit.
        group_commit_max_batch: usize = 256 => nonzero,
    }
}

config_section! {
    /// Local delivery.
    section "delivery" => pub struct Delivery {
        /// Plus-addressing separator: with `"+"`, mail to `alice+lists@example.com` is
        /// delivered to `alice@example.com`. One of `"+"`, `"-"`, `"_"`, `"="`, or `""` to
        /// disable plus-addressing.
        plus_separator: String as "string (one character or \"\")" = "+".into() => plus_separator,
    }
}

config_section! {
    /// Antivirus at the end of DATA, for port 25 and LMTP. The built-in attachment policy needs
    /// no other program: it refuses executables and scripts (by declared type, file name and
    /// real file type, also inside zip archives) with 554 5.7.0. ClamAV's clamd is optional;
    /// mail it finds infected is refused with 554 5.7.0 naming the signature.
    section "antivirus" => pub struct Antivirus {
        /// The built-in attachment policy (no clamd needed).
        attachment_policy: bool = true,
        /// Office documents with macros (`.docm`, `.xlsm`, OOXML with `vbaProject.bin`, `.doc`
        /// and `.xls` with VBA): `"flag"` accepts them and records it in the journal,
        /// `"block"` refuses them.
        macros: MacroAction = MacroAction::Flag,
        /// clamd's socket: a unix socket path (`"/run/clamav/clamd.ctl"`), `"host:port"`, or
        /// `"off"` to scan with the attachment policy only.
        clamd: String as "string (\"off\", socket path or \"host:port\")" = "off".into() => clamd_addr,
        /// When clamd cannot be reached or gives no verdict: `"tempfail"` answers 451 4.7.0 so
        /// the sender retries later (fail-closed), `"accept"` delivers the message unscanned
        /// (fail-open).
        on_clamd_down: ClamdDown = ClamdDown::Tempfail,
        /// Time clamd may take for one message, connecting included.
        clamd_timeout_secs: u64 as "integer (seconds)" = 60 => nonzero,
        /// Largest message sent to clamd; larger ones are delivered unscanned by clamd (the
        /// attachment policy still applies). Keep it at or below clamd's `StreamMaxLength`
        /// (25 MiB by default).
        clamd_max_size: u64 as "integer (bytes)" = 26_214_400 => nonzero,
    }
}

config_section! {
    /// DNS resolution (sender authentication, blocklists, and later MX lookups).
    section "dns" => pub struct Dns {
        /// Name servers to ask, as `"IP"` or `"IP:port"`; empty uses the system's
        /// configuration (`/etc/resolv.conf`). A local caching resolver (unbound) is best:
        /// blocklists such as Spamhaus refuse queries that come through public resolvers.
        nameservers: Vec<String> as "array of strings (\"IP\" or \"IP:port\")" = Vec::new() => nameservers,
        /// Time one query may take before it counts as a temporary failure.
        timeout_secs: u64 as "integer (seconds)" = 5 => nonzero,
    }
}

config_section! {
    /// Sender authentication of mail arriving on port 25: SPF, DKIM, ARC and DMARC are checked
    /// and recorded in an `Authentication-Results:` header on every delivered message.
    section "dmarc" => pub struct Dmarc {
        /// Check SPF, DKIM, ARC and DMARC.
        verify: bool = true,
        /// Apply the sender domain's DMARC policy: `p=reject` failures are refused with
        /// 550 5.7.1, `p=quarantine` failures go to Junk. With `false` results are only recorded.
        enforce: bool = true,
        /// Forwarders (mailing lists, your accounts elsewhere that forward here) whose mail
        /// DMARC never rejects or quarantines: domains, matched against an authenticated
        /// identity of the relay (SPF, DKIM or ARC), or networks matched against its address.
        trusted_forwarders: Vec<String> as "array of strings (domains or networks)" = Vec::new() => forwarders,
    }
}

config_section! {
    /// Spam scoring of mail arriving on port 25. Every rule that matches adds points (see
    /// `X-Spam-Status:` on each message and `mailstead trace`): at `junk_threshold` the
    /// message goes to the recipient's Junk folder, at `reject_threshold` it is refused with
    /// 550 5.7.1. Each account's own classifier learns from what its user moves into and out of
    /// Junk.
    section "spam" => pub struct Spam {
        /// Score messages.
        enabled: bool = true,
        /// Score from which a message is filed into Junk.
        junk_threshold: Score as "number" = Score(5.0) => score,
        /// Score from which a message is refused at DATA.
        reject_threshold: Score as "number" = Score(15.0) => score,
        /// DNS blocklists for the client address, as `"zone"` or `"zone=score"` (default
        /// score 3). Answers 127.255.255.x mean the list refused the query (logged, not a
        /// listing).
        dnsbl: Vec<String> as "array of strings (\"zone\" or \"zone=score\")" = vec!["zen.spamhaus.org".into()] => blocklists,
        /// URI blocklists for the domains of links in the message, as `"zone"` or
        /// `"zone=score"` (default score 2.5).
        uribl: Vec<String> as "array of strings (\"zone\" or \"zone=score\")" = vec!["dbl.spamhaus.org".into()] => blocklists,
        /// Time all DNS-based checks of one message may take together; what has not answered
        /// by then adds nothing.
        checks_timeout_secs: u64 as "integer (seconds)" = 10 => nonzero,
    }
}

config_section! {
    /// The outbound queue: delivery to other mail servers by MX (or through `[relay]`),
    /// retries with growing waits, and delivery status notifications to senders.
    section "queue" => pub struct Queue {
        /// Connections to other servers open at once.
        max_connections: usize = 20 => nonzero,
        /// Connections open at once to one destination domain.
        max_per_domain: usize = 4 => nonzero,
        /// Wait after the first failed attempt; it doubles at each failure up to
        /// `retry_max_secs`, with ±20% jitter.
        retry_first_secs: u64 as "integer (seconds)" = 300 => nonzero,
        /// Longest wait between two attempts.
        retry_max_secs: u64 as "integer (seconds)" = 3600 => nonzero,
        /// After this long in the queue the sender gets a "delayed" notice (once).
        delay_warning_hours: u64 as "integer (hours)" = 4 => nonzero,
        /// After this long the queue gives up and returns the message to its sender.
        expire_days: u64 as "integer (days)" = 5 => nonzero,
        /// The port other domains' mail servers are reached on. Always 25 on the Internet;
        /// tests and special setups may change it.
        mx_port: u32 as "integer (port)" = 25 => port,
        /// The local addresses outbound connections come from — the ones your SPF record lists
        /// and whose PTR record names this host — at most one IPv4 and one IPv6 address.
        /// Empty: the system chooses (fine with a single address).
        source_addresses: Vec<String> as "array of strings (IP addresses)" = Vec::new() => source_addresses,
        /// Extra trusted CA certificates (PEM file, relative to the data directory) for
        /// connections whose certificate is checked (the relay, MTA-STS hosts and policy
        /// servers); `""` trusts the system's only.
        extra_ca_file: String as "string (path or \"\")" = String::new(),
        /// Apply the MTA-STS policies (RFC 8461) destination domains publish: with `enforce`,
        /// mail goes only to the MX hosts the policy lists, over TLS with a valid certificate,
        /// or waits in the queue. Policies are cached in the store for their `max_age`.
        mta_sts: bool = true,
        /// The HTTPS port MTA-STS policies are fetched from. Always 443 on the Internet.
        mta_sts_port: u32 as "integer (port)" = 443 => port,
        /// Apply DANE (RFC 7672): an MX host whose DNSSEC-signed zone publishes TLSA records
        /// gets mail only over TLS with a certificate matching them, or the mail waits. Needs
        /// a validating resolver on loopback in `[dns] nameservers` (unbound); the queue trusts
        /// its AD bit, as Postfix does. Without one, DANE never applies.
        dane: bool = true,
    }
}

config_section! {
    /// A smart host (relay): send outbound mail through your provider's or a relay service's
    /// server instead of directly — the way out when your network blocks port 25.
    section "relay" => pub struct Relay {
        /// The relay as `"host:port"` (587 for STARTTLS, 465 for TLS), or `"off"` to deliver
        /// directly to each domain's MX.
        host: String as "string (\"host:port\" or \"off\")" = "off".into() => relay_host,
        /// `"starttls"` (certificate checked), `"tls"` (implicit TLS, port 465), or `"none"`
        /// (only for a relay on a trusted network).
        tls: RelayTlsMode = RelayTlsMode::Starttls,
        /// User name for AUTH PLAIN; `""` for none.
        username: String = String::new(),
        /// File holding the password (relative to the data directory, mode 0600); `""` for
        /// none. Kept out of this file so the configuration can be shared.
        password_file: String as "string (path or \"\")" = String::new(),
        /// Recipient domains sent through the relay; empty means every domain.
        domains: Vec<String> as "array of strings (domains)" = Vec::new(),
    }
}

config_section! {
    /// Logging. Service logs go to standard error (collected by systemd or your supervisor);
    /// the mail log is a separate, human-readable file of what happened to each message.
    section "log" => pub struct Log {
        /// Verbosity: `"error"`, `"warn"`, `"info"`, `"debug"` or `"trace"`, or a tracing
        /// filter directive such as `"info,mailstead_smtp=debug"`.
        level: String as "string (level or filter directive)" = "info".into() => log_level,
        /// Format of the service log: `"text"` for people, `"json"` for log collectors.
        format: LogFormat = LogFormat::Text,
        /// The mail log a postmaster greps: one line per connection, message accepted,
        /// delivery and bounce. Relative to the data directory; `"off"` disables it.
        mail_log: String as "string (path or \"off\")" = "log/mail.log".into() => mail_log,
    }
}

/// One extra certificate chosen by SNI (an entry of `[[tls.extra]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCert {
    /// Certificate chain file (PEM), relative to the data directory unless absolute.
    pub cert: String,
    /// Private key file (PEM), relative to the data directory unless absolute.
    pub key: String,
}

impl ConfigType for Vec<TlsCert> {
    const TYPE_NAME: &'static str = "array of tables ({ cert, key })";
}

/// The storage backend (`[store] backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded SQLite database plus blob files in the data directory.
    Sqlite,
}

impl ConfigType for StoreBackend {
    const TYPE_NAME: &'static str = "string (\"sqlite\")";
}

/// The service log format (`[log] format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl ConfigType for LogFormat {
    const TYPE_NAME: &'static str = "string (\"text\" or \"json\")";
}

/// Which sender addresses an account may use (`[submission] allowed_senders`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllowedSenders {
    /// Its own address and the aliases that deliver to it.
    Own,
    /// Any address of its domain.
    Domain,
    /// Any address of any local domain.
    Local,
}

impl ConfigType for AllowedSenders {
    const TYPE_NAME: &'static str = "string (\"own\", \"domain\" or \"local\")";
}

/// What to do with Office documents that carry macros (`[antivirus] macros`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MacroAction {
    /// Accept and journal.
    Flag,
    /// Refuse with 554 5.7.0.
    Block,
}

impl ConfigType for MacroAction {
    const TYPE_NAME: &'static str = "string (\"flag\" or \"block\")";
}

/// How the relay is reached (`[relay] tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayTlsMode {
    /// STARTTLS, required, certificate checked.
    Starttls,
    /// Implicit TLS.
    Tls,
    /// Plaintext.
    None,
}

impl ConfigType for RelayTlsMode {
    const TYPE_NAME: &'static str = "string (\"starttls\", \"tls\" or \"none\")";
}

/// What to do when clamd is down (`[antivirus] on_clamd_down`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClamdDown {
    /// 451 4.7.0: the sender retries (fail-closed).
    Tempfail,
    /// Deliver unscanned (fail-open).
    Accept,
}

impl ConfigType for ClamdDown {
    const TYPE_NAME: &'static str = "string (\"tempfail\" or \"accept\")";
}

/// A spam score (`[spam] junk_threshold`, `reject_threshold`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Score(pub f64);

// Scores are validated finite, so equality is reflexive.
impl Eq for Score {}

impl ConfigType for Vec<String> {
    const TYPE_NAME: &'static str = "array of strings";
}

/// A name server entry: `"IP"` (port 53) or `"IP:port"` (`"[IPv6]:port"`).
pub fn nameserver_addr(entry: &str) -> Option<SocketAddr> {
    let entry = entry.trim();
    entry
        .parse::<SocketAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// A relay entry: `"host:port"` (`"[IPv6]:port"`) as (host, port).
pub fn relay_addr(entry: &str) -> Option<(String, u16)> {
    let (host, port) = entry.trim().rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let valid = !host.is_empty()
        && (host.parse::<std::net::IpAddr>().is_ok()
            || host
                .split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')));
    valid.then(|| (host.to_ascii_lowercase(), port))
}

/// A blocklist entry: `"zone"` or `"zone=score"`.
pub fn parse_blocklist(entry: &str, default_score: f64) -> Option<(String, f64)> {
    let (zone, score) = match entry.split_once('=') {
        Some((zone, score)) => (zone.trim(), score.trim().parse::<f64>().ok().filter(|s| s.is_finite())?),
        None => (entry.trim(), default_score),
    };
    let valid = !zone.is_empty()
        && zone
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    valid.then(|| (zone.to_ascii_lowercase(), score))
}

/// The value that disables a listener or the mail log.
pub const OFF: &str = "off";

impl Listen {
    /// Every service with its configured value, in declaration order.
    pub fn services(&self) -> [(&'static str, &str); 10] {
        [
            ("smtp", &self.smtp),
            ("submission", &self.submission),
            ("submissions", &self.submissions),
            ("imap", &self.imap),
            ("imaps", &self.imaps),
            ("pop3", &self.pop3),
            ("pop3s", &self.pop3s),
            ("lmtp", &self.lmtp),
            ("http", &self.http),
            ("https", &self.https),
        ]
    }

    /// The services to start and their addresses; `"off"` services are left out. Call on a
    /// validated configuration (from [`super::Config::load`]): unparsable values are skipped.
    pub fn enabled(&self) -> Vec<(&'static str, SocketAddr)> {
        self.services()
            .into_iter()
            .filter(|(_, value)| *value != OFF)
            .filter_map(|(name, value)| value.parse().ok().map(|addr| (name, addr)))
            .collect()
    }

    /// The `--dev` listeners: loopback on unprivileged ports (SMTP 2525, submission 2587, …).
    pub fn dev() -> Self {
        let at = |port: u16| format!("127.0.0.1:{port}");
        Self {
            smtp: at(2525),
            submission: at(2587),
            submissions: at(2465),
            imap: at(2143),
            imaps: at(2993),
            pop3: at(2110),
            pop3s: at(2995),
            lmtp: at(2024),
            http: at(8080),
            https: at(8443),
        }
    }
}

impl Limits {
    /// [`Limits::idle_timeout_secs`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// [`Limits::tls_handshake_timeout_secs`] as a duration.
    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.tls_handshake_timeout_secs)
    }
}

impl Pop3 {
    /// `expire` as days: `Ok(None)` for `"off"`, `Ok(Some(None))` for `"never"`,
    /// `Ok(Some(Some(n)))` for `n` days. Call on a validated configuration.
    pub fn expire_days(&self) -> Option<Option<u32>> {
        match self.expire.as_str() {
            OFF => None,
            "never" => Some(None),
            days => days.parse().ok().map(Some),
        }
    }
}

impl Delivery {
    /// The plus-addressing separator, or `None` when plus-addressing is disabled.
    pub fn plus_separator(&self) -> Option<char> {
        self.plus_separator.chars().next()
    }
}
