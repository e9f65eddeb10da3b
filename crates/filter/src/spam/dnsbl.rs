//! DNS blocklists (RFC 5782): the client's address under IP lists (`2.0.0.127.zen.spamhaus.org`)
//! and the registered domains of the message's links under domain lists
//! (`example.com.dbl.spamhaus.org`).
//!
//! An answer in 127.0.0.0/8 means "listed" — except 127.255.255.0/24, which Spamhaus and others
//! use to say "query refused" (public resolver, over quota, malformed query): that is logged
//! and never counted as a listing. Answers outside 127/8 (resolvers that rewrite NXDOMAIN)
//! are ignored. Private, loopback and link-local client addresses are not looked up, except
//! 127.0.0.2, the test entry every IP list must carry (RFC 5782 §5).

use std::net::{IpAddr, Ipv4Addr};

use futures_util::future::join_all;
use mailstead_dns::{Resolver, reverse_name};

use super::Hit;

/// What a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlocklistKind {
    /// Client IP addresses (DNSBL/RBL).
    Ip,
    /// Domain names (DBL/URIBL/SURBL).
    Domain,
}

/// One configured list.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocklist {
    /// The zone queried, e.g. `zen.spamhaus.org`.
    pub zone: String,
    /// IP or domain list.
    pub kind: BlocklistKind,
    /// Points for a listing.
    pub score: f64,
}

impl Blocklist {
    /// The rule name of a listing: `DNSBL_` or `URIBL_` and the zone in capitals.
    pub fn rule(&self) -> String {
        let prefix = match self.kind {
            BlocklistKind::Ip => "DNSBL_",
            BlocklistKind::Domain => "URIBL_",
        };
        let zone: String = self
            .zone
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
            .collect();
        format!("{prefix}{zone}")
    }
}

/// What one lookup said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Listed, with the first return code.
    Listed(Ipv4Addr),
    /// Not listed (or no usable answer).
    NotListed,
    /// The list refused to answer (127.255.255.x).
    Refused(Ipv4Addr),
}

/// Interprets the A records of a blocklist answer.
pub fn interpret(codes: &[Ipv4Addr]) -> Listing {
    if let Some(refused) = codes.iter().find(|c| c.octets()[..3] == [127, 255, 255]) {
        return Listing::Refused(*refused);
    }
    codes.iter().find(|c| c.octets()[0] == 127).map_or(Listing::NotListed, |c| Listing::Listed(*c))
}

/// Whether the client address should be looked up at all.
fn worth_looking_up(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4 == Ipv4Addr::new(127, 0, 0, 2)
                || !(v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified())
        }
        IpAddr::V6(v6) => {
            let unique_local = (v6.segments()[0] & 0xfe00) == 0xfc00;
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || unique_local || link_local)
        }
    }
}

/// Looks `name` up and turns the answer into a hit for `list`.
async fn query(resolver: &dyn Resolver, list: &Blocklist, name: String, what: &str) -> Option<Hit> {
    let answer = resolver.ipv4(&name).await;
    let codes = match answer {
        Ok(a) => a.records,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            tracing::debug!(zone = %list.zone, error = %e, "blocklist lookup failed");
            return None;
        }
    };
    match interpret(&codes) {
        Listing::Listed(code) => {
            Some(Hit::new(list.rule(), list.score, format!("{what} listed by {} ({code})", list.zone)))
        }
        Listing::Refused(code) => {
            tracing::warn!(
                zone = %list.zone,
                "blocklist {} refused the query ({code}): it does not answer this resolver (public resolvers and \
                 high volumes are refused); use a local resolver or a paid feed",
                list.zone
            );
            None
        }
        Listing::NotListed => None,
    }
}

/// The IP lists' hits for the client at `ip`.
pub async fn check_ip(resolver: &dyn Resolver, lists: &[Blocklist], ip: IpAddr) -> Vec<Hit> {
    if !worth_looking_up(ip) {
        return Vec::new();
    }
    let reversed = reverse_name(ip);
    let prefix = reversed.trim_end_matches(".in-addr.arpa").trim_end_matches(".ip6.arpa");
    let shown = ip.to_string();
    let lookups = lists
        .iter()
        .filter(|l| l.kind == BlocklistKind::Ip)
        .map(|l| query(resolver, l, format!("{prefix}.{}", l.zone), &shown));
    join_all(lookups).await.into_iter().flatten().collect()
}

/// The domain lists' hits for `domains` (each list counts once per message).
pub async fn check_domains(resolver: &dyn Resolver, lists: &[Blocklist], domains: &[String]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for list in lists.iter().filter(|l| l.kind == BlocklistKind::Domain) {
        let lookups = domains.iter().map(|d| query(resolver, list, format!("{d}.{}", list.zone), d));
        if let Some(hit) = join_all(lookups).await.into_iter().flatten().next() {
            hits.push(hit);
        }
    }
    hits
}
