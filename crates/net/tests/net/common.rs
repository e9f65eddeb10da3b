//! Shared test fixtures: certificates, a running listener, rustls clients, a line protocol.
//!
//! The test protocol (`LineHandler`) greets with `220 hello` and answers one line per command:
//! `INFO` (`250 plain` or `250 <TlsInfo>`), `STARTTLS`, `SLOW` (300 ms of work, then
//! `250 done`), `QUIT`, anything else is echoed as `250 echo <line>`. On idle timeout it says
//! `421 idle timeout`, on shutdown `421 shutting down`; refusals get `421 <reason>`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailstead_net::tls::{self, CertPaths};
use mailstead_net::{
    BoxFuture, Connection, ConnectionHandler, ConnectionLimits, ConnectionTracker, IdleTimeout, ListenError,
    ListenerSpec, RefusedConnection, TlsMode, bind, discard_buffered, run,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Upper bound for any single wait in these tests.
pub const WAIT: Duration = Duration::from_secs(2);

/// A generated certificate in its own temp dir, and the loaded key.
pub struct TestCert {
    _dir: tempfile::TempDir,
    pub paths: CertPaths,
    pub key: Arc<CertifiedKey>,
}

impl TestCert {
    pub fn new(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let paths = tls::generate_self_signed(&names, dir.path()).unwrap();
        let key = tls::load_certified_key(&paths.cert, &paths.key).unwrap();
        Self { _dir: dir, paths, key }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.key.end_entity_cert().unwrap().clone().into_owned()
    }
}

pub fn acceptor(certs: &[&TestCert]) -> TlsAcceptor {
    TlsAcceptor::from(tls::server_config(certs.iter().map(|c| c.key.clone()).collect()).unwrap())
}

/// A running listener with the `LineHandler`.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub tracker: ConnectionTracker,
    pub accept_loop: JoinHandle<Result<(), ListenError>>,
}

pub fn limits() -> ConnectionLimits {
    ConnectionLimits {
        max_total: 100,
        max_per_ip: 100,
        idle_timeout: Duration::from_secs(5),
        tls_handshake_timeout: Duration::from_secs(2),
    }
}

pub async fn start(mode: TlsMode, tls: Option<TlsAcceptor>, limits: ConnectionLimits) -> TestServer {
    let spec = ListenerSpec::new("test", "127.0.0.1:0".parse().unwrap(), mode);
    let listener = bind(&spec).await.unwrap();
    let addr = listener.local_addr();
    assert_ne!(addr.port(), 0);
    let (shutdown, tasks) = (CancellationToken::new(), TaskTracker::new());
    let tracker = ConnectionTracker::new(limits);
    let accept_loop = tokio::spawn(run(
        listener,
        tls,
        tracker.clone(),
        Arc::new(LineHandler),
        shutdown.clone(),
        tasks.clone(),
    ));
    TestServer { addr, shutdown, tasks, tracker, accept_loop }
}

/// The test protocol's server side.
pub struct LineHandler;

impl ConnectionHandler for LineHandler {
    fn handle(self: Arc<Self>, conn: Connection, shutdown: CancellationToken) -> BoxFuture {
        Box::pin(session(conn, shutdown))
    }

    fn refuse(self: Arc<Self>, mut refused: RefusedConnection) -> BoxFuture {
        Box::pin(async move {
            let reply = format!("421 {}\n", refused.reason);
            let _ = refused.stream.write_all(reply.as_bytes()).await;
            let _ = refused.stream.shutdown().await;
        })
    }
}

async fn reply<S: AsyncWrite + Unpin>(io: &mut S, line: &str) -> std::io::Result<()> {
    io.write_all(format!("{line}\n").as_bytes()).await?;
    io.flush().await
}

async fn session(conn: Connection, shutdown: CancellationToken) {
    let Connection { stream, starttls, limits, permit: _permit, .. } = conn;
    let mut io = BufReader::new(IdleTimeout::new(stream, limits.idle_timeout));
    if reply(&mut io, "220 hello").await.is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        let read = tokio::select! {
            read = io.read_line(&mut line) => read,
            () = shutdown.cancelled() => {
                let _ = reply(&mut io, "421 shutting down").await;
                return;
            }
        };
        match read {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                let _ = reply(&mut io, "421 idle timeout").await;
                return;
            }
            Err(_) => return,
        }
        let answer = match line.trim_end() {
            "INFO" => match io.get_ref().get_ref().tls_info() {
                Some(info) => format!("250 {info}"),
                None => "250 plain".to_owned(),
            },
            "STARTTLS" => {
                let Some(acceptor) = starttls.as_ref().filter(|_| !io.get_ref().get_ref().is_tls()) else {
                    let _ = reply(&mut io, "502 not available").await;
                    continue;
                };
                if reply(&mut io, "220 go ahead").await.is_err() {
                    return;
                }
                // CVE-2011-0411: drop whatever was pipelined after STARTTLS.
                let (idle, _discarded) = discard_buffered(io);
                match idle.into_inner().start_tls(acceptor, limits.tls_handshake_timeout).await {
                    Ok(tls) => io = BufReader::new(IdleTimeout::new(tls, limits.idle_timeout)),
                    Err(_) => return,
                }
                continue;
            }
            "SLOW" => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "250 done".to_owned()
            }
            "QUIT" => {
                let _ = reply(&mut io, "221 bye").await;
                return;
            }
            other => format!("250 echo {other}"),
        };
        if reply(&mut io, &answer).await.is_err() {
            return;
        }
    }
}

/// Reads one line (without the newline), failing the test after [`WAIT`]; `None` at EOF.
pub async fn read_line<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> Option<String> {
    let mut line = String::new();
    let n = tokio::time::timeout(WAIT, io.read_line(&mut line)).await.expect("no reply in time");
    match n {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end().to_owned()),
    }
}

pub async fn send<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, line: &str) {
    io.get_mut().write_all(format!("{line}\n").as_bytes()).await.unwrap();
}

pub async fn connect_plain(addr: SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).await.unwrap())
}

/// A client trusting exactly the given certificates.
pub fn client_config(
    trusted: &[&TestCert],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in trusted {
        for der in CertificateDer::pem_file_iter(&cert.paths.cert).unwrap() {
            roots.add(der.unwrap()).unwrap();
        }
    }
    let config = ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

pub type TlsClient = BufReader<tokio_rustls::client::TlsStream<TcpStream>>;

pub async fn tls_handshake(
    config: Arc<ClientConfig>,
    tcp: TcpStream,
    name: &str,
) -> std::io::Result<TlsClient> {
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let tls = tokio::time::timeout(WAIT, TlsConnector::from(config).connect(name, tcp))
        .await
        .expect("handshake hung")?;
    Ok(BufReader::new(tls))
}

/// A client certificate verifier that accepts anything and records what the server sent.
#[derive(Debug)]
pub struct RecordingVerifier {
    pub seen: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl RecordingVerifier {
    pub fn client(versions: &[&'static rustls::SupportedProtocolVersion]) -> (Arc<Self>, Arc<ClientConfig>) {
        let verifier = Arc::new(Self { seen: Mutex::new(Vec::new()), provider: tls::provider() });
        let config = ClientConfig::builder_with_provider(tls::provider())
            .with_protocol_versions(versions)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        (verifier, Arc::new(config))
    }

    pub fn last(&self) -> CertificateDer<'static> {
        self.seen.lock().unwrap().last().cloned().expect("no certificate seen")
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.seen.lock().unwrap().push(end_entity.clone().into_owned());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
