//! The outbound SMTP client: one session with one server, delivering one message to some of
//! its recipients (RFC 5321), with the replies parsed by smtp-proto.
//!
//! The session moves through explicit [`Stage`]s: connect (implicit TLS for relays on 465),
//! greeting, EHLO (HELO when EHLO is refused), STARTTLS when offered and allowed (EHLO again
//! inside TLS), AUTH PLAIN for smart hosts (only inside TLS), MAIL, one RCPT per recipient,
//! DATA with the dot-stuffed message, QUIT. With PIPELINING (RFC 2920) MAIL, the RCPTs and
//! DATA go out in one write. SIZE, DSN (RET, ENVID, NOTIFY, ORCPT), 8BITMIME and SMTPUTF8
//! parameters are sent when the server offers them.
//!
//! A failure before any recipient was accepted is a [`SessionError`] (the caller tries the
//! next address or host); from RCPT on, results are per recipient. Every command and reply
//! (not the message) is kept in a transcript for the journal.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{
    EXT_8BIT_MIME, EXT_DSN, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::tls::TlsClients;

/// Longest reply line accepted, and most lines in one reply.
const MAX_REPLY_LINE: u64 = 4096;
const MAX_REPLY_LINES: usize = 100;

/// How to treat TLS with this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS when offered, without certificate checks; plaintext otherwise.
    Opportunistic,
    /// STARTTLS required, certificate checked.
    RequireVerified,
    /// STARTTLS required, certificate checked against the host's TLSA records
    /// ([`Endpoint::dane`]).
    RequireDane,
    /// STARTTLS required, certificate not checked (a host whose validated TLSA records are all
    /// unusable, RFC 7672 §2.2: it promises TLS, but nothing to authenticate it with).
    RequireEncrypted,
    /// TLS from the first byte, certificate checked.
    Implicit,
    /// Never TLS.
    Off,
}

/// Where to connect.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host name (MX name or relay), for logs and TLS.
    pub host: String,
    /// Address.
    pub ip: IpAddr,
    /// Port (25, or a relay's).
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// AUTH PLAIN credentials (smart hosts).
    pub credentials: Option<(String, String)>,
    /// For [`TlsMode::RequireDane`]: the configuration whose verifier checks the TLSA records.
    pub dane: Option<Arc<ClientConfig>>,
    /// The TLS policy that chose `tls`, for the journal ("opportunistic", "mta-sts enforce
    /// (id …)", "dane", "smart host").
    pub policy: String,
}

/// Fixed settings of every session.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Our name in EHLO.
    pub helo: String,
    /// Time to establish the TCP connection.
    pub connect_timeout: Duration,
    /// Time for each reply (RFC 5321 §4.5.3.2 asks for 5 minutes).
    pub command_timeout: Duration,
    /// Time for the reply to the end of data (RFC 5321: 10 minutes).
    pub data_timeout: Duration,
    /// TLS client configurations.
    pub tls: TlsClients,
    /// Local addresses to connect from (at most one IPv4 and one IPv6): the ones SPF and the
    /// PTR record name. Empty: the system chooses.
    pub source_addresses: Vec<IpAddr>,
}

/// One recipient of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The forward path.
    pub address: String,
    /// DSN NOTIFY (sent when the server offers DSN).
    pub notify: Option<String>,
    /// DSN ORCPT.
    pub orcpt: Option<String>,
}

/// What is sent.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// Reverse path (`""` for `<>`).
    pub sender: &'a str,
    /// Recipients.
    pub recipients: &'a [Recipient],
    /// DSN ENVID.
    pub envid: Option<&'a str>,
    /// DSN RET.
    pub ret: Option<&'a str>,
    /// The message, CRLF line endings.
    pub message: &'a [u8],
}

/// A server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Basic code.
    pub code: u16,
    /// Enhanced status (RFC 3463), when given.
    pub status: Option<String>,
    /// Text, lines joined with a space.
    pub text: String,
}

impl Reply {
    /// A reply we make up ourselves (e.g. a size refusal).
    pub fn local(code: u16, status: &str, text: impl Into<String>) -> Reply {
        Reply { code, status: Some(status.to_string()), text: text.into() }
    }

    /// `250 2.0.0 text` on one line.
    pub fn line(&self) -> String {
        match &self.status {
            Some(s) => format!("{} {s} {}", self.code, self.text),
            None => format!("{} {}", self.code, self.text),
        }
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_temporary(&self) -> bool {
        (400..500).contains(&self.code)
    }
}

/// The stage a session was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Opening the TCP connection (and implicit TLS).
    Connect,
    /// Waiting for 220.
    Greeting,
    /// EHLO or HELO.
    Ehlo,
    /// STARTTLS and the handshake.
    StartTls,
    /// AUTH.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA and the message.
    Data,
}

impl Stage {
    /// Lower-case name for logs and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "ehlo",
            Stage::StartTls => "starttls",
            Stage::Auth => "auth",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
        }
    }
}

/// A session that delivered to nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// No conversation: connection refused, timeout, TLS failure, broken reply.
    Network {
        /// Where it broke.
        stage: Stage,
        /// What happened.
        detail: String,
    },
    /// The server refused the whole transaction.
    Refused {
        /// At which command.
        stage: Stage,
        /// Its reply.
        reply: Reply,
    },
}

impl SessionError {
    /// Whether the next host may do better (every network failure, 4xx, and 5xx before MAIL:
    /// RFC 5321 §5.1 says to try the next MX when one does not work).
    pub fn try_next_host(&self) -> bool {
        match self {
            SessionError::Network { .. } => true,
            SessionError::Refused { stage, reply } => {
                reply.is_temporary() || matches!(stage, Stage::Greeting | Stage::Ehlo | Stage::StartTls)
            }
        }
    }

    /// One line for logs, the journal and DSNs.
    pub fn describe(&self) -> String {
        match self {
            SessionError::Network { stage, detail } => format!("{detail} (at {})", stage.as_str()),
            SessionError::Refused { stage, reply } => format!("{} (at {})", reply.line(), stage.as_str()),
        }
    }
}

/// What became of each recipient in a session that got to RCPT.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// One reply per recipient, in order: 2xx delivered, 4xx try again, 5xx failed.
    pub results: Vec<Reply>,
    /// TLS version and cipher, when TLS was used.
    pub tls: Option<String>,
    /// Whether the server offered DSN (else we report success notices ourselves).
    pub dsn: bool,
}

/// The result of a session plus its transcript.
pub struct SessionReport {
    /// Per-recipient outcomes or the session failure.
    pub result: Result<Delivery, SessionError>,
    /// Commands and replies, one line each (never the message or passwords).
    pub transcript: Vec<String>,
    /// The open connection, to end with [`Closer::quit`] once the outcome is recorded.
    pub closer: Option<Closer>,
}

impl std::fmt::Debug for SessionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionReport")
            .field("result", &self.result)
            .field("transcript", &self.transcript)
            .finish()
    }
}

/// An open session whose outcome is known: recording it comes first, then QUIT — or, when the
/// session went well, it waits in the runner's pool for the next message to the same server
/// (RSET, then the next transaction, without a new connection, EHLO or TLS handshake).
pub struct Closer {
    io: BufReader<Conn>,
    caps: EhloResponse<String>,
    tls: Option<String>,
}

impl Closer {
    /// Sends QUIT and closes, without waiting long for the reply.
    pub async fn quit(mut self) {
        let io = &mut self.io;
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            if io.get_mut().write_all(b"QUIT\r\n").await.is_ok() {
                let _ = read_reply(io, Duration::from_secs(5)).await;
            }
            let _ = io.get_mut().shutdown().await;
        })
        .await;
    }
}

/// The socket, plain or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Delivers `envelope` through one server: on `reuse`, an open session to it, when it still
/// answers RSET; else on a new connection.
pub async fn deliver(
    settings: &ClientSettings,
    endpoint: &Endpoint,
    envelope: &Envelope<'_>,
    reuse: Option<Closer>,
) -> SessionReport {
    let mut session = Session {
        settings,
        endpoint,
        io: None,
        transcript: Vec::new(),
        tls: None,
        caps: EhloResponse::default(),
    };
    let mut result = None;
    if let Some(open) = reuse {
        session
            .transcript
            .push(format!("reusing the open connection to {} [{}]", endpoint.host, endpoint.ip));
        session.io = Some(open.io);
        session.tls = open.tls;
        session.caps = open.caps;
        match session.command("RSET", Stage::Mail).await {
            Ok(reply) if reply.code == 250 => {
                let caps = session.caps.clone();
                result = Some(session.transaction(envelope, &caps).await);
            }
            _ => {
                session.transcript.push("the open connection is gone; connecting anew".into());
                session.io = None;
                session.tls = None;
            }
        }
    }
    let result = match result {
        Some(r) => r,
        None => session.run(envelope).await,
    };
    let caps = session.caps.clone();
    let tls = session.tls.clone();
    let closer = session.io.take().map(|io| Closer { io, caps, tls });
    SessionReport { result, transcript: session.transcript, closer }
}

struct Session<'a> {
    settings: &'a ClientSettings,
    endpoint: &'a Endpoint,
    io: Option<BufReader<Conn>>,
    transcript: Vec<String>,
    tls: Option<String>,
    caps: EhloResponse<String>,
}

impl Session<'_> {
    async fn run(&mut self, envelope: &Envelope<'_>) -> Result<Delivery, SessionError> {
        self.connect().await?;
        let greeting = self.reply(Stage::Greeting, self.settings.command_timeout).await?;
        if greeting.code != 220 {
            return Err(SessionError::Refused { stage: Stage::Greeting, reply: greeting });
        }
        let mut caps = self.ehlo().await?;
        let offers_tls = caps.as_ref().is_some_and(|c| c.capabilities & EXT_START_TLS != 0);
        match self.endpoint.tls {
            TlsMode::Opportunistic if offers_tls => {
                self.starttls(self.settings.tls.opportunistic.clone()).await?;
                caps = self.ehlo().await?;
            }
            TlsMode::RequireVerified | TlsMode::RequireDane | TlsMode::RequireEncrypted => {
                if !offers_tls {
                    return Err(SessionError::Network {
                        stage: Stage::StartTls,
                        detail: format!(
                            "TLS is required ({}) but the server does not offer STARTTLS",
                            self.endpoint.policy
                        ),
                    });
                }
                let config = match (&self.endpoint.tls, &self.endpoint.dane) {
                    (TlsMode::RequireDane, Some(dane)) => dane.clone(),
                    (TlsMode::RequireDane, None) => {
                        return Err(SessionError::Network {
                            stage: Stage::StartTls,
                            detail: "DANE is required but no TLSA records were given".into(),
                        });
                    }
                    (TlsMode::RequireEncrypted, _) => self.settings.tls.opportunistic.clone(),
                    _ => self.settings.tls.verified.clone(),
                };
                self.starttls(config).await?;
                caps = self.ehlo().await?;
            }
            _ => {}
        }
        if let Some((user, password)) = &self.endpoint.credentials {
            self.auth(user, password).await?;
        }
        let caps = caps.unwrap_or_default();
        self.caps = caps.clone();
        self.transaction(envelope, &caps).await
    }

    async fn connect(&mut self) -> Result<(), SessionError> {
        let addr = SocketAddr::new(self.endpoint.ip, self.endpoint.port);
        self.transcript.push(format!("connect {} [{addr}]", self.endpoint.host));
        let net = |detail: String| SessionError::Network { stage: Stage::Connect, detail };
        let source = self.settings.source_addresses.iter().find(|s| s.is_ipv4() == addr.is_ipv4()).copied();
        let connect = async {
            let socket = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            if let Some(source) = source {
                socket.bind(SocketAddr::new(source, 0))?;
            }
            socket.connect(addr).await
        };
        let tcp = match tokio::time::timeout(self.settings.connect_timeout, connect).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(net(format!("cannot connect to {} [{addr}]: {e}", self.endpoint.host))),
            Err(_) => return Err(net(format!("connection to {} [{addr}] timed out", self.endpoint.host))),
        };
        let _ = tcp.set_nodelay(true);
        let conn = if self.endpoint.tls == TlsMode::Implicit {
            let tls = self.handshake(tcp, self.settings.tls.verified.clone(), Stage::Connect).await?;
            Conn::Tls(Box::new(tls))
        } else {
            Conn::Plain(tcp)
        };
        self.io = Some(BufReader::new(conn));
        Ok(())
    }

    async fn handshake(
        &mut self,
        tcp: TcpStream,
        config: Arc<ClientConfig>,
        stage: Stage,
    ) -> Result<TlsStream<TcpStream>, SessionError> {
        let name = ServerName::try_from(self.endpoint.host.trim_end_matches('.').to_string())
            .unwrap_or_else(|_| ServerName::IpAddress(self.endpoint.ip.into()));
        let connect = TlsConnector::from(config).connect(name, tcp);
        let tls = match tokio::time::timeout(self.settings.command_timeout, connect).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                return Err(SessionError::Network { stage, detail: format!("TLS handshake failed: {e}") });
            }
            Err(_) => return Err(SessionError::Network { stage, detail: "TLS handshake timed out".into() }),
        };
        let (_, conn) = tls.get_ref();
        let version = conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
        let cipher = conn.negotiated_cipher_suite().map(|c| format!("{:?}", c.suite())).unwrap_or_default();
        let described = format!("{version} {cipher}").replace("TLSv1_", "TLSv1.");
        self.transcript.push(format!("tls {described}"));
        self.tls = Some(described);
        Ok(tls)
    }

    /// EHLO, or HELO when EHLO is refused; `None` capabilities after HELO.
    async fn ehlo(&mut self) -> Result<Option<EhloResponse<String>>, SessionError> {
        let helo = self.settings.helo.clone();
        let raw = self.command_raw(&format!("EHLO {helo}"), Stage::Ehlo).await?;
        let reply =
            parse_reply(&raw).map_err(|detail| SessionError::Network { stage: Stage::Ehlo, detail })?;
        if reply.code == 250 {
            return Ok(Some(EhloResponse::parse(&mut raw.iter()).unwrap_or_default()));
        }
        let reply = self.command(&format!("HELO {helo}"), Stage::Ehlo).await?;
        if reply.code != 250 {
            return Err(SessionError::Refused { stage: Stage::Ehlo, reply });
        }
        Ok(None)
    }

    async fn starttls(&mut self, config: Arc<ClientConfig>) -> Result<(), SessionError> {
        let reply = self.command("STARTTLS", Stage::StartTls).await?;
        if reply.code != 220 {
            return Err(SessionError::Refused { stage: Stage::StartTls, reply });
        }
        let Some(io) = self.io.take() else {
            return Err(SessionError::Network { stage: Stage::StartTls, detail: "connection lost".into() });
        };
        if !io.buffer().is_empty() {
            return Err(SessionError::Network {
                stage: Stage::StartTls,
                detail: "the server sent data after its STARTTLS reply".into(),
            });
        }
        let tcp = match io.into_inner() {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(_) => {
                return Err(SessionError::Network {
                    stage: Stage::StartTls,
                    detail: "already in TLS".into(),
                });
            }
        };
        let tls = self.handshake(tcp, config, Stage::StartTls).await?;
        self.io = Some(BufReader::new(Conn::Tls(Box::new(tls))));
        Ok(())
    }

    async fn auth(&mut self, user: &str, password: &str) -> Result<(), SessionError> {
        if self.tls.is_none() {
            return Err(SessionError::Network {
                stage: Stage::Auth,
                detail: "refusing to send the relay password without TLS".into(),
            });
        }
        let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.transcript.push("AUTH PLAIN <credentials>".into());
        self.write(format!("AUTH PLAIN {token}\r\n").as_bytes(), Stage::Auth).await?;
        let reply = self.reply(Stage::Auth, self.settings.command_timeout).await?;
        if reply.code != 235 {
            return Err(SessionError::Refused { stage: Stage::Auth, reply });
        }
        Ok(())
    }

    async fn transaction(
        &mut self,
        envelope: &Envelope<'_>,
        caps: &EhloResponse<String>,
    ) -> Result<Delivery, SessionError> {
        let has = |ext: u32| caps.capabilities & ext != 0;
        let dsn = has(EXT_DSN);
        if has(EXT_SIZE) && caps.size > 0 && envelope.message.len() > caps.size {
            let reply = Reply::local(
                552,
                "5.3.4",
                format!(
                    "message of {} bytes exceeds the server's limit of {}",
                    envelope.message.len(),
                    caps.size
                ),
            );
            return Err(SessionError::Refused { stage: Stage::Mail, reply });
        }
        let mut mail = format!("MAIL FROM:<{}>", envelope.sender);
        if has(EXT_SIZE) {
            mail.push_str(&format!(" SIZE={}", envelope.message.len()));
        }
        if has(EXT_8BIT_MIME) && envelope.message.iter().any(|b| *b >= 0x80) {
            mail.push_str(" BODY=8BITMIME");
        }
        let utf8 = !envelope.sender.is_ascii() || envelope.recipients.iter().any(|r| !r.address.is_ascii());
        if utf8 && has(EXT_SMTP_UTF8) {
            mail.push_str(" SMTPUTF8");
        }
        if dsn {
            if let Some(ret) = envelope.ret {
                mail.push_str(&format!(" RET={ret}"));
            }
            if let Some(envid) = envelope.envid {
                mail.push_str(&format!(" ENVID={envid}"));
            }
        }
        let rcpts: Vec<String> = envelope
            .recipients
            .iter()
            .map(|r| {
                let mut line = format!("RCPT TO:<{}>", r.address);
                if dsn {
                    if let Some(n) = &r.notify {
                        line.push_str(&format!(" NOTIFY={n}"));
                    }
                    if let Some(o) = &r.orcpt {
                        line.push_str(&format!(" ORCPT={o}"));
                    }
                }
                line
            })
            .collect();

        let timeout = self.settings.command_timeout;
        let (mail_reply, rcpt_replies, data_reply) = if has(EXT_PIPELINING) {
            let mut batch = format!("{mail}\r\n");
            for r in &rcpts {
                batch.push_str(r);
                batch.push_str("\r\n");
            }
            batch.push_str("DATA\r\n");
            self.transcript.push(format!("{mail} (pipelined with {} RCPT and DATA)", rcpts.len()));
            self.write(batch.as_bytes(), Stage::Mail).await?;
            let mail_reply = self.reply(Stage::Mail, timeout).await?;
            let mut rcpt_replies = Vec::with_capacity(rcpts.len());
            for line in &rcpts {
                self.transcript.push(line.clone());
                rcpt_replies.push(self.reply(Stage::Rcpt, timeout).await?);
            }
            self.transcript.push("DATA".into());
            let data_reply = self.reply(Stage::Data, timeout).await?;
            (mail_reply, rcpt_replies, Some(data_reply))
        } else {
            let mail_reply = self.command(&mail, Stage::Mail).await?;
            let mut rcpt_replies = Vec::new();
            if mail_reply.is_positive() {
                for line in &rcpts {
                    rcpt_replies.push(self.command(line, Stage::Rcpt).await?);
                }
            }
            (mail_reply, rcpt_replies, None)
        };
        if !mail_reply.is_positive() {
            return Err(SessionError::Refused { stage: Stage::Mail, reply: mail_reply });
        }
        let accepted = rcpt_replies.iter().filter(|r| r.is_positive()).count();
        let data_reply = match data_reply {
            Some(r) => r,
            None if accepted > 0 => self.command("DATA", Stage::Data).await?,
            None => return Ok(Delivery { results: rcpt_replies, tls: self.tls.clone(), dsn }),
        };
        if accepted == 0 {
            if data_reply.code == 354 {
                // A pipelined DATA the server took although nobody was accepted: end it empty.
                self.write(b".\r\n", Stage::Data).await?;
                let _ = self.reply(Stage::Data, timeout).await;
            }
            return Ok(Delivery { results: rcpt_replies, tls: self.tls.clone(), dsn });
        }
        if data_reply.code != 354 {
            let results = rcpt_replies
                .into_iter()
                .map(|r| if r.is_positive() { data_reply.clone() } else { r })
                .collect();
            return Ok(Delivery { results, tls: self.tls.clone(), dsn });
        }
        let message = envelope.message;
        if message.first() == Some(&b'.') || memchr::memmem::find(message, b"\n.").is_some() {
            self.write(&dot_stuff(message), Stage::Data).await?;
        } else {
            // Nothing to stuff (the usual case): send the stored bytes as they are, no copy.
            self.write(message, Stage::Data).await?;
            let end: &[u8] = if message.ends_with(b"\r\n") { b".\r\n" } else { b"\r\n.\r\n" };
            self.write(end, Stage::Data).await?;
        }
        self.transcript.push(format!("<{} bytes of message>", envelope.message.len()));
        let final_reply = self.reply(Stage::Data, self.settings.data_timeout).await?;
        let results =
            rcpt_replies.into_iter().map(|r| if r.is_positive() { final_reply.clone() } else { r }).collect();
        Ok(Delivery { results, tls: self.tls.clone(), dsn })
    }

    async fn write(&mut self, bytes: &[u8], stage: Stage) -> Result<(), SessionError> {
        let Some(io) = self.io.as_mut() else {
            return Err(SessionError::Network { stage, detail: "not connected".into() });
        };
        let write = async {
            io.get_mut().write_all(bytes).await?;
            io.get_mut().flush().await
        };
        match tokio::time::timeout(self.settings.data_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                Err(SessionError::Network { stage, detail: format!("connection lost while sending: {e}") })
            }
            Err(_) => Err(SessionError::Network { stage, detail: "timed out while sending".into() }),
        }
    }

    async fn command_raw(&mut self, line: &str, stage: Stage) -> Result<Vec<u8>, SessionError> {
        self.transcript.push(line.to_string());
        self.write(format!("{line}\r\n").as_bytes(), stage).await?;
        self.reply_raw(stage, self.settings.command_timeout).await
    }

    async fn command(&mut self, line: &str, stage: Stage) -> Result<Reply, SessionError> {
        let raw = self.command_raw(line, stage).await?;
        parse_reply(&raw).map_err(|detail| SessionError::Network { stage, detail })
    }

    async fn reply_raw(&mut self, stage: Stage, timeout: Duration) -> Result<Vec<u8>, SessionError> {
        let Some(io) = self.io.as_mut() else {
            return Err(SessionError::Network { stage, detail: "not connected".into() });
        };
        let raw = read_reply(io, timeout).await.map_err(|detail| SessionError::Network { stage, detail })?;
        for line in String::from_utf8_lossy(&raw).lines() {
            self.transcript.push(line.to_string());
        }
        Ok(raw)
    }

    async fn reply(&mut self, stage: Stage, timeout: Duration) -> Result<Reply, SessionError> {
        let raw = self.reply_raw(stage, timeout).await?;
        parse_reply(&raw).map_err(|detail| SessionError::Network { stage, detail })
    }
}

/// Reads one complete (possibly multi-line) reply, bounded in line length and count.
async fn read_reply(io: &mut BufReader<Conn>, timeout: Duration) -> Result<Vec<u8>, String> {
    let read = async {
        let mut raw = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let start = raw.len();
            let n = (&mut *io)
                .take(MAX_REPLY_LINE)
                .read_until(b'\n', &mut raw)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the connection".to_string());
            }
            let line = &raw[start..];
            if !line.ends_with(b"\n") {
                return Err("reply line too long".to_string());
            }
            if line.len() < 4 || line[3] != b'-' {
                return Ok(raw);
            }
        }
        Err(format!("reply longer than {MAX_REPLY_LINES} lines"))
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| "timed out waiting for the reply".to_string())?
}

/// Parses a complete reply with smtp-proto.
fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let response = ResponseReceiver::default()
        .parse(&mut raw.iter())
        .map_err(|e| format!("malformed reply {:?}: {e:?}", String::from_utf8_lossy(raw).trim_end()))?;
    let status = (response.esc[0] != 0)
        .then(|| format!("{}.{}.{}", response.esc[0], response.esc[1], response.esc[2]));
    let text = response.message.split(['\r', '\n']).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    Ok(Reply { code: response.code, status, text })
}

/// The message as DATA sends it: lines starting with a dot doubled, CRLF at the end, then
/// the terminating `.` line (RFC 5321 §4.5.2).
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut line_start = true;
    for &b in message {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n..c\r\n"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(b".start\r\nno newline"), b"..start\r\nno newline\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
    }

    #[test]
    fn replies_parse() {
        let r = parse_reply(b"550-5.1.1 first\r\n550 5.1.1 second\r\n").unwrap();
        assert_eq!((r.code, r.status.as_deref()), (550, Some("5.1.1")));
        assert!(r.text.contains("first") && r.text.contains("second"), "{r:?}");
        let r = parse_reply(b"250 ok\r\n").unwrap();
        assert_eq!((r.code, r.status.clone(), r.line()), (250, None, "250 ok".to_string()));
        assert!(parse_reply(b"hello\r\n").is_err());
    }
}
