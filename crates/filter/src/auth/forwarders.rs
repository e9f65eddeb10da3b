//! The DMARC exception list: forwarders whose mail is not rejected or quarantined by DMARC.
//!
//! Forwarding and mailing lists break SPF (new sending IP) and often DKIM (rewritten subject
//! or footer), so DMARC fails for mail they relay in good faith (RFC 7489 §10.2, RFC 7960).
//! An entry is either a network (`192.0.2.0/24`, `2001:db8::/32`, or one address) matched
//! against the connecting IP, or a domain matched — with its subdomains — against an
//! *authenticated* identity of the relay: the SPF-passing MAIL FROM domain or HELO name, a
//! passing DKIM signature's `d=`, or the newest ARC-Seal's `d=` of a passing ARC chain. A
//! bare HELO name is never trusted, so the list cannot be used to spoof.

use std::net::IpAddr;

use mailstead_types::IpNetwork;

/// One entry that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a domain, IP address or network: {0:?}")]
pub struct ForwarderParseError(pub String);

/// Domains and networks whose relayed mail DMARC does not reject or quarantine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwarders {
    domains: Vec<String>,
    networks: Vec<IpNetwork>,
}

impl Forwarders {
    /// Parses entries such as `lists.example.org`, `192.0.2.0/24`, `2001:db8::1`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, ForwarderParseError> {
        let mut list = Forwarders::default();
        for entry in entries {
            let raw = entry.as_ref().trim();
            if let Ok(network) = IpNetwork::parse(raw) {
                list.networks.push(network);
            } else if is_domain(raw) {
                list.domains.push(raw.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(ForwarderParseError(raw.to_string()));
            }
        }
        Ok(list)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.networks.is_empty()
    }

    /// Whether `ip` is inside one of the networks.
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(ip))
    }

    /// The listed domain `identity` equals or is a subdomain of, if any.
    pub fn matching_domain(&self, identity: &str) -> Option<&str> {
        let identity = identity.trim_end_matches('.').to_ascii_lowercase();
        self.domains
            .iter()
            .find(|d| identity == **d || identity.strip_suffix(d.as_str()).is_some_and(|p| p.ends_with('.')))
            .map(String::as_str)
    }
}

fn is_domain(s: &str) -> bool {
    let s = s.trim_end_matches('.');
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let list =
            Forwarders::parse(&["Lists.Example.org.", "192.0.2.0/24", "2001:db8::/32", "198.51.100.7"])
                .unwrap();
        assert_eq!(list.matching_domain("lists.example.org"), Some("lists.example.org"));
        assert_eq!(list.matching_domain("bounce.LISTS.example.org"), Some("lists.example.org"));
        assert_eq!(list.matching_domain("evillists.example.org"), None);
        assert!(list.contains_ip("192.0.2.200".parse().unwrap()));
        assert!(list.contains_ip("::ffff:192.0.2.9".parse().unwrap()));
        assert!(list.contains_ip("198.51.100.7".parse().unwrap()));
        assert!(!list.contains_ip("198.51.100.8".parse().unwrap()));
        assert!(list.contains_ip("2001:db8:1::5".parse().unwrap()));
        assert!(!list.contains_ip("2001:db9::5".parse().unwrap()));
        assert!(Forwarders::parse(&["192.0.2.0/33"]).is_err());
        assert!(Forwarders::parse(&["not a domain"]).is_err());
        assert!(Forwarders::parse(&["example.org/8"]).is_err());
        assert!(Forwarders::parse(&["0.0.0.0/0"]).unwrap().contains_ip("203.0.113.1".parse().unwrap()));
    }
}
