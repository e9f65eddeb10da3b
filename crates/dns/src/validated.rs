//! [`AdResolver`]: a [`Resolver`](crate::Resolver) that asks a validating resolver for
//! DNSSEC-checked answers and reports its verdict, for DANE (RFC 7672).
//!
//! Mailstead does not validate DNSSEC itself. Like Postfix, it relies on a validating
//! resolver (unbound, for one) and on the AD (authentic data) bit of its responses
//! (RFC 4035 §3.2.3). A validating resolver only sets AD for a client that shows it
//! understands it, with the AD bit or the DO bit in the query (RFC 6840 §5.7), and
//! [`HickoryResolver`](crate::HickoryResolver) sets neither. So every query of this resolver
//! carries RD=1, AD=1 and EDNS0 with DO=1 and a 1232-byte payload; it goes over UDP, again over
//! TCP when the answer is truncated (RFC 1035 §4.2.2, RFC 7766), to each configured nameserver
//! in turn ([`ResolverSettings::nameservers`], else the system configuration).
//!
//! **Trust.** [`Answer::authentic`](crate::Answer::authentic) is the response's AD bit only when
//! the nameserver that answered is on a loopback address. Anyone on the path to a remote
//! resolver can set the bit, so an answer from anywhere else is never authentic: the rule of
//! RFC 7672 §1.3 and of Postfix's `smtp_dns_support_level = dnssec`. DANE needs a validating
//! resolver on the mail host itself.
//!
//! Results are mapped as [`HickoryResolver`](crate::HickoryResolver) maps them: NXDOMAIN is
//! [`DnsErrorKind::NxDomain`], an answer without records of the asked type (only a CNAME chain,
//! or nothing) is [`DnsErrorKind::NoRecords`], and SERVFAIL (what a validating resolver answers
//! for bogus data), REFUSED, timeouts and network errors are [`DnsErrorKind::Temporary`] once
//! every nameserver has been tried. A datagram that is not the answer to the query (another id,
//! another question) is ignored. Nothing is cached: the local resolver caches.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_resolver::config::ProtocolConfig;
use hickory_resolver::proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_resolver::proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::hickory::system_conf;
use crate::wire::{Pick, WireLookup, absolute_name, answer_of};
use crate::{DnsError, DnsErrorKind, DnsResult, ResolverSettings};

/// The UDP payload size we offer (DNS flag day 2020).
const EDNS_PAYLOAD: u16 = 1232;
/// DNS port when the system configuration names none.
const DNS_PORT: u16 = 53;

/// A resolver that sets AD and DO in its queries and reports the AD bit of answers from a
/// loopback nameserver (see the [module documentation](self)).
#[derive(Debug, Clone)]
pub struct AdResolver {
    nameservers: Vec<SocketAddr>,
    settings: ResolverSettings,
}

impl AdResolver {
    /// A resolver asking the system's nameservers, with default settings.
    pub fn system() -> Result<Self, DnsError> {
        Self::new(ResolverSettings::default())
    }

    /// A resolver built from `settings` (`cache_size` is not used: nothing is cached).
    pub fn new(settings: ResolverSettings) -> Result<Self, DnsError> {
        let nameservers = if settings.nameservers.is_empty() {
            system_conf()?
                .0
                .name_servers()
                .iter()
                .map(|ns| {
                    let port = ns
                        .connections
                        .iter()
                        .find(|c| matches!(c.protocol, ProtocolConfig::Udp | ProtocolConfig::Tcp))
                        .map_or(DNS_PORT, |c| c.port);
                    SocketAddr::new(ns.ip, port)
                })
                .collect()
        } else {
            settings.nameservers.clone()
        };
        if nameservers.is_empty() {
            return Err(DnsError::new(DnsErrorKind::Temporary, "", "no nameservers configured"));
        }
        Ok(AdResolver { nameservers, settings })
    }

    /// The nameservers asked, in order.
    pub fn nameservers(&self) -> &[SocketAddr] {
        &self.nameservers
    }

    /// The settings this resolver was built from.
    pub fn settings(&self) -> &ResolverSettings {
        &self.settings
    }

    /// One exchange with `server`: UDP, then TCP if the answer was truncated, each within the
    /// timeout.
    async fn ask(&self, server: SocketAddr, query: &Query) -> io::Result<Message> {
        let timeout = self.settings.timeout;
        let timed_out =
            |transport| io::Error::new(io::ErrorKind::TimedOut, format!("no answer over {transport}"));
        let response = tokio::time::timeout(timeout, exchange_udp(server, query))
            .await
            .map_err(|_| timed_out("UDP"))??;
        if !response.metadata.truncation {
            return Ok(response);
        }
        tokio::time::timeout(timeout, exchange_tcp(server, query)).await.map_err(|_| timed_out("TCP"))?
    }
}

#[async_trait::async_trait]
impl WireLookup for AdResolver {
    async fn records<T: Send + 'static>(&self, name: &str, rtype: RecordType, pick: Pick<T>) -> DnsResult<T> {
        let (key, fqdn) = absolute_name(name)?;
        let query = Query::query(fqdn, rtype);
        let mut failures = Vec::new();
        for &server in &self.nameservers {
            for _ in 0..self.settings.attempts.max(1) {
                let response = match self.ask(server, &query).await {
                    Ok(response) => response,
                    Err(e) => {
                        failures.push(format!("{server}: {e}"));
                        continue;
                    }
                };
                match response.metadata.response_code {
                    ResponseCode::NoError => {
                        let authentic = response.metadata.authentic_data && trusted_path(server);
                        return answer_of(&key, &response.answers, pick, authentic);
                    }
                    ResponseCode::NXDomain => {
                        return Err(DnsError::new(DnsErrorKind::NxDomain, key, format!("from {server}")));
                    }
                    code => {
                        // The server's verdict (SERVFAIL, REFUSED): asking it again now would
                        // give the same; the next server may know better.
                        failures.push(format!("{server}: {code}"));
                        break;
                    }
                }
            }
        }
        Err(DnsError::new(DnsErrorKind::Temporary, key, failures.join("; ")))
    }
}

/// Whether the AD bit of `server`'s answers can be believed: only on loopback (RFC 7672 §1.3).
fn trusted_path(server: SocketAddr) -> bool {
    server.ip().to_canonical().is_loopback()
}

/// A query for `query` with a fresh random id, RD, AD, and EDNS0 with DO.
fn request(query: &Query) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.metadata.authentic_data = true;
    message.add_query(query.clone());
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD).set_dnssec_ok(true);
    message.set_edns(edns);
    message
}

/// `wire` decoded, if it is the response to `request`: same id, same question. An error
/// response may leave the question out (RFC 1035 does not require it).
fn response_to(request: &Message, wire: &[u8]) -> Option<Message> {
    let response = Message::from_vec(wire).ok()?;
    let meta = &response.metadata;
    let question_ok = response.queries == request.queries
        || (response.queries.is_empty()
            && !matches!(meta.response_code, ResponseCode::NoError | ResponseCode::NXDomain));
    (meta.message_type == MessageType::Response && meta.id == request.metadata.id && question_ok)
        .then_some(response)
}

fn encode(request: &Message) -> io::Result<Vec<u8>> {
    request.to_vec().map_err(io::Error::other)
}

/// One query over UDP from a fresh socket (a random source port), connected to `server` so
/// only its datagrams arrive; those that do not answer the query are ignored.
async fn exchange_udp(server: SocketAddr, query: &Query) -> io::Result<Message> {
    let request = request(query);
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(&encode(&request)?).await?;
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let len = socket.recv(&mut buf).await?;
        if let Some(response) = response_to(&request, &buf[..len]) {
            return Ok(response);
        }
    }
}

/// One query over TCP, length-prefixed (RFC 1035 §4.2.2).
async fn exchange_tcp(server: SocketAddr, query: &Query) -> io::Result<Message> {
    let request = request(query);
    let wire = encode(&request)?;
    let len = u16::try_from(wire.len()).map_err(io::Error::other)?;
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&wire);
    let mut stream = TcpStream::connect(server).await?;
    stream.write_all(&framed).await?;
    let len = stream.read_u16().await?;
    let mut answer = vec![0u8; usize::from(len)];
    stream.read_exact(&mut answer).await?;
    response_to(&request, &answer).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "the answer over TCP does not match the query")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_trusted() {
        for addr in ["127.0.0.1:53", "127.0.0.53:53", "[::1]:53", "[::ffff:127.0.0.1]:5353"] {
            assert!(trusted_path(addr.parse().unwrap_or_else(|_| panic!("{addr}"))), "{addr}");
        }
        for addr in ["192.0.2.53:53", "10.0.0.1:53", "[2001:db8::53]:53", "0.0.0.0:53"] {
            assert!(!trusted_path(addr.parse().unwrap_or_else(|_| panic!("{addr}"))), "{addr}");
        }
    }
}
