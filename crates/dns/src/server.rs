//! A small DNS server on loopback that answers from any [`Resolver`].
//!
//! Why it exists: mail-auth (our SPF/DKIM/DMARC/ARC library) can only ask DNS through its own
//! hickory resolver. Pointing that resolver at a [`LoopbackServer`] makes every one of its
//! questions go through our [`Resolver`] — the configured nameservers in production, the
//! in-memory table in tests — with NXDOMAIN, NODATA, temporary failures and the AD bit carried
//! over as DNS response codes and flags.
//!
//! It binds 127.0.0.1 on one port for UDP and TCP (RFC 1035 §4.2; TCP for answers that do not
//! fit the client's EDNS payload size, RFC 6891 §6.2.5), answers only QUERY opcodes for TXT, MX,
//! A, AAAA, PTR and TLSA, and stops when dropped.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX, PTR, TLSA, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use crate::{DnsError, DnsErrorKind, Resolver, parse_reverse_name};

/// Largest UDP answer without EDNS (RFC 1035 §4.2.1).
const CLASSIC_UDP_LIMIT: usize = 512;
/// Largest UDP answer we send with EDNS, whatever the client offers (DNS flag day 2020).
const EDNS_UDP_LIMIT: u16 = 1232;
/// Time a TCP client gets to send its query.
const TCP_IDLE: std::time::Duration = std::time::Duration::from_secs(10);

/// A running loopback DNS server; stops when dropped.
pub struct LoopbackServer {
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Starts serving `resolver` on 127.0.0.1 (an ephemeral port, the same for UDP and TCP).
    pub async fn start(resolver: Arc<dyn Resolver>) -> std::io::Result<Self> {
        let (udp, tcp) = bind_pair().await?;
        let addr = udp.local_addr()?;
        let udp = Arc::new(udp);
        let r = resolver.clone();
        let udp_task = tokio::spawn(async move { serve_udp(udp, r).await });
        let tcp_task = tokio::spawn(async move { serve_tcp(tcp, resolver).await });
        Ok(LoopbackServer { addr, tasks: vec![udp_task, tcp_task] })
    }

    /// Where it listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A TCP listener and a UDP socket on the same loopback port.
async fn bind_pair() -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = tcp.local_addr()?.port();
        match UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(udp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free loopback port")))
}

async fn serve_udp(socket: Arc<UdpSocket>, resolver: Arc<dyn Resolver>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else { continue };
        let query = buf[..len].to_vec();
        let (socket, resolver) = (socket.clone(), resolver.clone());
        tokio::spawn(async move {
            if let Some(reply) = answer(&query, resolver.as_ref(), Transport::Udp).await {
                // A lost datagram is retried by the client.
                let _ = socket.send_to(&reply, peer).await;
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, resolver: Arc<dyn Resolver>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let resolver = resolver.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(TCP_IDLE, serve_tcp_conn(stream, resolver)).await;
        });
    }
}

/// Length-prefixed messages (RFC 1035 §4.2.2) until the client closes.
async fn serve_tcp_conn(mut stream: TcpStream, resolver: Arc<dyn Resolver>) -> std::io::Result<()> {
    loop {
        let len = stream.read_u16().await?;
        let mut query = vec![0u8; usize::from(len)];
        stream.read_exact(&mut query).await?;
        let Some(reply) = answer(&query, resolver.as_ref(), Transport::Tcp).await else { return Ok(()) };
        let Ok(len) = u16::try_from(reply.len()) else { return Ok(()) };
        stream.write_u16(len).await?;
        stream.write_all(&reply).await?;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// The wire answer to one wire query, or `None` for input that is not a query.
async fn answer(query: &[u8], resolver: &dyn Resolver, transport: Transport) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    let udp_limit = match &request.edns {
        Some(edns) => {
            let mut ours = Edns::new();
            ours.set_max_payload(EDNS_UDP_LIMIT);
            response.set_edns(ours);
            usize::from(edns.max_payload().clamp(512, EDNS_UDP_LIMIT))
        }
        None => CLASSIC_UDP_LIMIT,
    };
    let question = match (request.metadata.op_code, request.queries.as_slice()) {
        (OpCode::Query, [q]) => q.clone(),
        _ => {
            response.metadata.response_code = ResponseCode::NotImp;
            return response.to_vec().ok();
        }
    };
    response.add_query(question.clone());
    let name = question.name().clone();
    match lookup(resolver, &name, question.query_type()).await {
        Ok((records, authentic)) => {
            response.metadata.authentic_data = authentic;
            for rdata in records {
                response.add_answer(Record::from_rdata(name.clone(), 0, rdata));
            }
        }
        Err(err) => {
            response.metadata.response_code = match err.kind() {
                DnsErrorKind::NxDomain => ResponseCode::NXDomain,
                DnsErrorKind::NoRecords => ResponseCode::NoError,
                DnsErrorKind::Temporary => ResponseCode::ServFail,
                DnsErrorKind::InvalidName => ResponseCode::FormErr,
            }
        }
    }
    let wire = response.to_vec().ok()?;
    if transport == Transport::Udp && wire.len() > udp_limit {
        // RFC 2181 §9: set TC and let the client come back over TCP.
        let mut truncated = response.truncate();
        truncated.metadata.truncation = true;
        return truncated.to_vec().ok();
    }
    Some(wire)
}

/// Asks `resolver` and converts its answer to resource record data.
async fn lookup(
    resolver: &dyn Resolver,
    name: &Name,
    rtype: RecordType,
) -> Result<(Vec<RData>, bool), DnsError> {
    let text = name.to_ascii();
    let not_implemented = || DnsError::new(DnsErrorKind::NoRecords, text.clone(), "type not served");
    Ok(match rtype {
        RecordType::TXT => {
            let a = resolver.txt(&text).await?;
            let data = a.records.into_iter().map(|t| RData::TXT(txt_rdata(t.strings))).collect();
            (data, a.authentic)
        }
        RecordType::MX => {
            let a = resolver.mx(&text).await?;
            let mut data = Vec::with_capacity(a.records.len());
            for mx in a.records {
                let exchange = if mx.exchange.is_empty() {
                    Name::root()
                } else {
                    Name::from_str_relaxed(format!("{}.", mx.exchange))
                        .map_err(|e| DnsError::new(DnsErrorKind::Temporary, text.clone(), e.to_string()))?
                };
                data.push(RData::MX(MX::new(mx.preference, exchange)));
            }
            (data, a.authentic)
        }
        RecordType::A => {
            let a = resolver.ipv4(&text).await?;
            (a.records.into_iter().map(|ip| RData::A(A(ip))).collect(), a.authentic)
        }
        RecordType::AAAA => {
            let a = resolver.ipv6(&text).await?;
            (a.records.into_iter().map(|ip| RData::AAAA(AAAA(ip))).collect(), a.authentic)
        }
        RecordType::PTR => {
            let ip: IpAddr = parse_reverse_name(&text).ok_or_else(not_implemented)?;
            let a = resolver.ptr(ip).await?;
            let mut data = Vec::with_capacity(a.records.len());
            for target in a.records {
                let target = Name::from_str_relaxed(format!("{target}."))
                    .map_err(|e| DnsError::new(DnsErrorKind::Temporary, text.clone(), e.to_string()))?;
                data.push(RData::PTR(PTR(target)));
            }
            (data, a.authentic)
        }
        RecordType::TLSA => {
            let a = resolver.tlsa(&text).await?;
            let data = a
                .records
                .into_iter()
                .map(|t| RData::TLSA(TLSA::new(t.usage.into(), t.selector.into(), t.matching.into(), t.data)))
                .collect();
            (data, a.authentic)
        }
        _ => return Err(not_implemented()),
    })
}

fn txt_rdata(strings: Vec<Vec<u8>>) -> TXT {
    // Character-strings are at most 255 bytes: re-split longer ones.
    let mut parts: Vec<&[u8]> = Vec::with_capacity(strings.len());
    for s in &strings {
        if s.is_empty() {
            parts.push(&[]);
        }
        parts.extend(s.chunks(255));
    }
    TXT::from_bytes(parts)
}
