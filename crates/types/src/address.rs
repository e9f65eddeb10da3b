//! Mail domains and addresses, normalised once at the edge.
//!
//! Invariants: a [`Domain`] is lower-case, has no trailing dot, at most 255 octets, labels of
//! 1–63 octets (RFC 1035 §2.3.4); non-ASCII labels are kept as UTF-8 (SMTPUTF8, RFC 6531) and
//! lower-cased. An [`Address`] keeps its local part exactly as given (local parts are
//! case-sensitive in principle, RFC 5321 §2.4) and offers [`Address::normalized`] for lookups,
//! where Mailstead treats local parts case-insensitively like every mainstream server.

use std::fmt;

/// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
pub const MAX_DOMAIN_LEN: usize = 255;
/// RFC 5321 §4.5.3.1.3: a path (address) is at most 256 octets including the brackets.
pub const MAX_ADDRESS_LEN: usize = 254;

/// Why a string is not a valid domain or address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The input was empty.
    #[error("empty")]
    Empty,
    /// There is no `@`, or nothing on one side of it.
    #[error("not of the form local@domain")]
    MissingAt,
    /// Too long for RFC 5321.
    #[error("{what} is longer than {max} octets")]
    TooLong {
        /// Which part is too long.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A domain label is empty, too long, or has a forbidden character.
    #[error("invalid domain label {0:?}")]
    BadLabel(String),
    /// The local part has a control character, space or similar.
    #[error("invalid character in local part")]
    BadLocalPart,
}

/// A mail domain, normalised to lower case without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

impl Domain {
    /// Parses and normalises a domain name.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let trimmed = input.strip_suffix('.').unwrap_or(input);
        if trimmed.is_empty() {
            return Err(AddressError::Empty);
        }
        if trimmed.len() > MAX_DOMAIN_LEN {
            return Err(AddressError::TooLong { what: "domain", max: MAX_DOMAIN_LEN });
        }
        let lower = trimmed.to_lowercase();
        for label in lower.split('.') {
            let ok_chars =
                label.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_' || !c.is_ascii());
            if label.is_empty()
                || label.len() > 63
                || !ok_chars
                || label.starts_with('-')
                || label.ends_with('-')
            {
                return Err(AddressError::BadLabel(label.to_string()));
            }
        }
        Ok(Domain(lower))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Domain {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Domain::parse(&s)
    }
}

impl From<Domain> for String {
    fn from(d: Domain) -> String {
        d.0
    }
}

/// A mail address `local@domain`. The empty reverse path `<>` is not an `Address`; callers use
/// `Option<Address>` for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address {
    local: String,
    domain: Domain,
}

impl Address {
    /// Parses `local@domain`; the split is at the last `@` (a quoted local part may hold one).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        if input.len() > MAX_ADDRESS_LEN {
            return Err(AddressError::TooLong { what: "address", max: MAX_ADDRESS_LEN });
        }
        let (local, domain) = input.rsplit_once('@').ok_or(AddressError::MissingAt)?;
        if local.is_empty() || domain.is_empty() {
            return Err(AddressError::MissingAt);
        }
        if local.len() > MAX_LOCAL_PART_LEN {
            return Err(AddressError::TooLong { what: "local part", max: MAX_LOCAL_PART_LEN });
        }
        if local.chars().any(|c| c.is_control() || c == ' ') {
            return Err(AddressError::BadLocalPart);
        }
        Ok(Address { local: local.to_string(), domain: Domain::parse(domain)? })
    }

    /// The local part as given.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The lookup key: local part lower-cased, `local@domain`.
    pub fn normalized(&self) -> String {
        // Built directly: it is asked for several times per recipient on the delivery path.
        let domain = self.domain.as_str();
        let mut key = String::with_capacity(self.local.len() + 1 + domain.len());
        if self.local.is_ascii() {
            key.extend(self.local.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            key.push_str(&self.local.to_lowercase());
        }
        key.push('@');
        key.push_str(domain);
        key
    }

    /// Splits a plus-address: with separator `+`, `user+tag@d` gives (`user@d`, `tag`).
    /// Returns `None` when there is no separator or it would leave an empty base.
    pub fn without_detail(&self, separator: char) -> Option<(Address, String)> {
        let (base, detail) = self.local.split_once(separator)?;
        if base.is_empty() {
            return None;
        }
        let base = Address { local: base.to_string(), domain: self.domain.clone() };
        Some((base, detail.to_string()))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Address::parse(&s)
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_normalise() {
        assert_eq!(Domain::parse("Example.COM.").map(|d| d.0), Ok("example.com".to_string()));
        assert_eq!(Domain::parse("bücher.example").map(|d| d.0), Ok("bücher.example".to_string()));
        assert!(Domain::parse("a..b").is_err());
        assert!(Domain::parse("-a.b").is_err());
        assert!(Domain::parse("a b.c").is_err());
        assert!(Domain::parse(&"a".repeat(64)).is_err());
        assert!(Domain::parse("").is_err());
    }

    #[test]
    fn addresses_parse_and_normalise() {
        let a = Address::parse("John.Doe@Example.com").unwrap();
        assert_eq!(a.local(), "John.Doe");
        assert_eq!(a.domain().as_str(), "example.com");
        assert_eq!(a.normalized(), "john.doe@example.com");
        // SMTPUTF8 local parts lower-case by Unicode rules.
        assert_eq!(Address::parse("ÉLodie.Ü@Example.com").unwrap().normalized(), "élodie.ü@example.com");
        assert_eq!(Address::parse("nobody"), Err(AddressError::MissingAt));
        assert_eq!(Address::parse("@x.org"), Err(AddressError::MissingAt));
        assert!(Address::parse(&format!("{}@x.org", "a".repeat(65))).is_err());
        assert!(Address::parse("a\0b@x.org").is_err());
        let quoted = Address::parse("\"a@b\"@x.org").unwrap();
        assert_eq!(quoted.local(), "\"a@b\"");
    }

    #[test]
    fn plus_detail() {
        let a = Address::parse("alice+lists@x.org").unwrap();
        let (base, tag) = a.without_detail('+').unwrap();
        assert_eq!(base.to_string(), "alice@x.org");
        assert_eq!(tag, "lists");
        assert!(Address::parse("alice@x.org").unwrap().without_detail('+').is_none());
        assert!(Address::parse("+x@x.org").unwrap().without_detail('+').is_none());
    }
}
