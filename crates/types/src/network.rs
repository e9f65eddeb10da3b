//! IP networks in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`, or one address), for lists
//! of trusted relays and forwarders.

use std::net::IpAddr;

/// A network that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IP address or network: {0:?}")]
pub struct NetworkParseError(pub String);

/// An address with a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Parses `ADDR/PREFIX` or a single address (a full-length prefix).
    pub fn parse(raw: &str) -> Result<IpNetwork, NetworkParseError> {
        let raw = raw.trim();
        let bad = || NetworkParseError(raw.to_string());
        let (addr, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (raw, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(IpNetwork { addr, prefix })
    }

    /// Whether `ip` is inside; an IPv4-mapped IPv6 address is matched as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (ip, self.addr) {
            (IpAddr::V4(a), IpAddr::V4(n)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(a) & mask == u32::from(n) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(n)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(a) & mask == u128::from(n) & mask
            }
            (IpAddr::V6(a), IpAddr::V4(_)) => {
                a.to_ipv4_mapped().is_some_and(|v4| self.contains(IpAddr::V4(v4)))
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let n = IpNetwork::parse("192.0.2.0/24").unwrap();
        assert!(n.contains(ip("192.0.2.200")) && !n.contains(ip("192.0.3.1")));
        assert!(n.contains(ip("::ffff:192.0.2.1")));
        let one = IpNetwork::parse("2001:db8::1").unwrap();
        assert!(one.contains(ip("2001:db8::1")) && !one.contains(ip("2001:db8::2")));
        assert!(IpNetwork::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        assert!(IpNetwork::parse("::/0").unwrap().contains(ip("2001:db8::9")));
        for bad in ["192.0.2.0/33", "example.org", "1.2.3.4/x", ""] {
            assert!(IpNetwork::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(IpNetwork::parse("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
    }
}
