//! DNS lookups for Mailstead behind one [`Resolver`] trait.
//!
//! Everything that asks DNS a question (sender authentication, MX routing, DANE, DNSBLs) goes
//! through [`Resolver`], so it can be tested offline and pointed at a test zone:
//!
//! - [`HickoryResolver`]: the real one, on hickory-resolver. The system's resolver
//!   configuration by default; [`ResolverSettings::nameservers`] points it elsewhere (a local
//!   validating resolver, or a test DNS server on loopback). It never asks for the AD bit.
//! - [`AdResolver`]: for DANE. Asks with the AD and DO bits set and reports the AD bit of a
//!   validating resolver on loopback (Mailstead does not validate DNSSEC itself).
//! - [`MemoryResolver`]: answers from a table filled by the test, with injectable failures.
//!
//! Every lookup returns an [`Answer`] (records plus the AD bit) or a [`DnsError`] whose
//! [`DnsErrorKind`] separates "the name does not exist" (NXDOMAIN), "the name exists but has no
//! such records" (NODATA), and temporary failures (timeouts, SERVFAIL) — the distinction SPF,
//! DMARC and the outbound queue each act on (RFC 7208 §5, RFC 7489 §6.6.3, RFC 5321 §5.1).
//!
//! [`LoopbackServer`] serves any [`Resolver`] as a DNS server on 127.0.0.1, for libraries that
//! can only speak DNS themselves (mail-auth) and for testing [`HickoryResolver`].
//!
//! Names are given in ASCII (A-labels); a trailing dot is optional and case does not matter.

mod error;
mod hickory;
mod memory;
mod server;
mod validated;
mod wire;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use error::{DnsError, DnsErrorKind};
pub use hickory::{HickoryResolver, ResolverSettings};
pub use memory::MemoryResolver;
pub use server::LoopbackServer;
pub use validated::AdResolver;

/// One TXT record: its character-strings (each at most 255 bytes, RFC 1035 §3.3.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtRecord {
    /// The character-strings, in order.
    pub strings: Vec<Vec<u8>>,
}

impl TxtRecord {
    /// A record from one logical value, split into 255-byte character-strings as a zone file
    /// would need it.
    pub fn from_value(value: &[u8]) -> Self {
        if value.is_empty() {
            return TxtRecord { strings: vec![Vec::new()] };
        }
        TxtRecord { strings: value.chunks(255).map(<[u8]>::to_vec).collect() }
    }

    /// The strings joined without separator: how SPF (RFC 7208 §3.3) and DKIM (RFC 6376
    /// §3.6.2.2) read a record.
    pub fn joined(&self) -> Vec<u8> {
        self.strings.concat()
    }
}

/// One MX record (RFC 5321 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxRecord {
    /// Lower is preferred.
    pub preference: u16,
    /// The mail exchanger's host name, lower case, without trailing dot ("" for a null MX,
    /// RFC 7505).
    pub exchange: String,
}

/// One TLSA record (RFC 6698 §2.1): how a TLS server's certificate is pinned, for DANE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsaRecord {
    /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// Selector: 0 the whole certificate, 1 its SubjectPublicKeyInfo.
    pub selector: u8,
    /// Matching type: 0 the data itself, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// The association data.
    pub data: Vec<u8>,
}

/// The records of a successful lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    /// Never empty: a lookup without records is [`DnsErrorKind::NoRecords`].
    pub records: Vec<T>,
    /// The AD (authentic data) bit of the response (RFC 4035 §3.2.3): set by a validating
    /// resolver when the answer is DNSSEC-secure. Trust it only from a resolver on a trusted
    /// path (loopback), as Postfix does for DANE (RFC 7672 §1.3).
    pub authentic: bool,
}

/// Result of one lookup.
pub type DnsResult<T> = Result<Answer<T>, DnsError>;

/// Asynchronous DNS lookups. Implementations are cheap to share (`Arc<dyn Resolver>`).
#[async_trait::async_trait]
pub trait Resolver: Send + Sync + 'static {
    /// TXT records of `name`.
    async fn txt(&self, name: &str) -> DnsResult<TxtRecord>;
    /// MX records of `name`, in the order the server gave them (callers sort by preference).
    async fn mx(&self, name: &str) -> DnsResult<MxRecord>;
    /// A records of `name`.
    async fn ipv4(&self, name: &str) -> DnsResult<Ipv4Addr>;
    /// AAAA records of `name`.
    async fn ipv6(&self, name: &str) -> DnsResult<Ipv6Addr>;
    /// PTR names of `ip` (lower case, without trailing dot), looked up under `in-addr.arpa` or
    /// `ip6.arpa` (RFC 1035 §3.5, RFC 3596 §2.5).
    async fn ptr(&self, ip: IpAddr) -> DnsResult<String>;
    /// TLSA records of `name` (`_25._tcp.<host>` for SMTP, RFC 7672 §2.2).
    async fn tlsa(&self, name: &str) -> DnsResult<TlsaRecord>;
}

/// `name` in the form lookups use as a key: lower case, no trailing dot.
pub fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The reverse-lookup name of `ip`, without trailing dot (RFC 1035 §3.5, RFC 3596 §2.5).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                out.push(char::from(b"0123456789abcdef"[usize::from(byte & 0x0f)]));
                out.push('.');
                out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
                out.push('.');
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}

/// The address a reverse-lookup name stands for: the inverse of [`reverse_name`].
pub fn parse_reverse_name(name: &str) -> Option<IpAddr> {
    let name = normalize_name(name);
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let mut octets = [0u8; 4];
        let parts: Vec<&str> = rest.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        for (i, part) in parts.iter().rev().enumerate() {
            octets[i] = part.parse().ok()?;
        }
        return Some(IpAddr::from(octets));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|n| if n.len() == 1 { u8::from_str_radix(n, 16).ok() } else { None })
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut octets = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        // rchunks walks from the end: the last two nibbles are the first octet.
        octets[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_round_trip() {
        for ip in ["192.0.2.1", "2001:db8::cb01", "::1", "10.20.30.40"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(parse_reverse_name(&reverse_name(ip)), Some(ip), "{ip}");
        }
        assert_eq!(reverse_name("192.0.2.1".parse().unwrap()), "1.2.0.192.in-addr.arpa");
        assert_eq!(
            reverse_name("2001:db8::cb01".parse().unwrap()),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(parse_reverse_name("1.2.3.in-addr.arpa"), None);
        assert_eq!(parse_reverse_name("example.com"), None);
    }

    #[test]
    fn txt_values_split_at_255() {
        let long = vec![b'a'; 600];
        let rec = TxtRecord::from_value(&long);
        assert_eq!(rec.strings.iter().map(Vec::len).collect::<Vec<_>>(), [255, 255, 90]);
        assert_eq!(rec.joined(), long);
    }
}
