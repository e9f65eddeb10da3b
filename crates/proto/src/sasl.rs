//! The client side of a SASL exchange, shared by SMTP AUTH (RFC 4954) and POP3 AUTH
//! (RFC 5034): base64 responses, PLAIN (RFC 4616) and LOGIN. Pure functions; each protocol
//! runs its own dialogue (`smtp/commands/auth.rs`, `pop3/commands/auth.rs`).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64; some clients leave out the padding, which we tolerate.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The LOGIN prompt `Username:`, base64-encoded.
pub const LOGIN_USERNAME: &str = "VXNlcm5hbWU6";
/// The LOGIN prompt `Password:`, base64-encoded.
pub const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

/// RFC 4616 §2: authcid, authzid and passwd are at most 255 octets each.
const MAX_FIELD: usize = 255;

/// Why a SASL response is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client sent `*` (RFC 4954 §4).
    #[error("authentication cancelled")]
    Cancelled,
    /// Not valid base64.
    #[error("invalid base64")]
    BadBase64,
    /// Decoded, but not a well-formed response for the mechanism.
    #[error("malformed SASL response")]
    Malformed,
    /// PLAIN asked to act as another identity (authzid ≠ authcid), which we do not support.
    #[error("authorization identity not permitted")]
    ForeignAuthzid,
}

/// Decodes one client response line (CRLF already removed). RFC 4954 §4: `*` cancels, and
/// `=` is an empty initial response.
pub fn decode(line: &str) -> Result<Vec<u8>, SaslError> {
    let line = line.trim();
    match line {
        "*" => Err(SaslError::Cancelled),
        "=" => Ok(Vec::new()),
        _ => BASE64.decode(line).map_err(|_| SaslError::BadBase64),
    }
}

/// Splits a PLAIN message `[authzid] NUL authcid NUL passwd` (RFC 4616 §2) into the
/// authentication identity and the password.
pub fn plain(message: &[u8]) -> Result<(String, String), SaslError> {
    let mut fields = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(SaslError::Malformed);
    };
    if authcid.is_empty()
        || passwd.is_empty()
        || [authzid, authcid, passwd].iter().any(|f| f.len() > MAX_FIELD)
    {
        return Err(SaslError::Malformed);
    }
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Malformed);
    let (authzid, authcid, passwd) = (text(authzid)?, text(authcid)?, text(passwd)?);
    // RFC 4616 §2: an empty authzid means "act as authcid"; acting as anyone else would
    // need a proxy-authorisation policy we do not have.
    if !authzid.is_empty() && authzid != authcid {
        return Err(SaslError::ForeignAuthzid);
    }
    Ok((authcid, passwd))
}

/// Decodes one LOGIN field (user name or password) as UTF-8 text.
pub fn login_field(decoded: Vec<u8>) -> Result<String, SaslError> {
    if decoded.len() > MAX_FIELD {
        return Err(SaslError::Malformed);
    }
    String::from_utf8(decoded).map_err(|_| SaslError::Malformed)
}

/// The mechanisms the exchange below runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// LOGIN (user name, then password, each base64).
    Login,
}

/// Where a PLAIN or LOGIN exchange stands while the server waits for the client's next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// The PLAIN message, after an empty challenge.
    Plain,
    /// The LOGIN user name.
    LoginUser,
    /// The LOGIN password of this user.
    LoginPassword {
        /// The user name already received.
        username: String,
    },
}

impl SaslStep {
    /// The mechanism this step belongs to.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            SaslStep::Plain => Mechanism::Plain,
            SaslStep::LoginUser | SaslStep::LoginPassword { .. } => Mechanism::Login,
        }
    }
}

/// What the server does next in the exchange. Shared by SMTP AUTH, POP3 AUTH and IMAP
/// AUTHENTICATE, which differ only in how they word a challenge or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslNext {
    /// Send this challenge (base64 text, possibly empty) and wait in the step.
    Challenge(SaslStep, &'static str),
    /// The exchange is complete: check these credentials.
    Credentials {
        /// The mechanism that carried them.
        mechanism: Mechanism,
        /// The authentication identity.
        username: String,
        /// The password.
        password: String,
    },
    /// The exchange failed.
    Failed(SaslError),
}

/// Starts an exchange, with the client's initial response if it sent one (RFC 4954 §4,
/// RFC 5034 §4, RFC 4959).
pub fn start(mechanism: Mechanism, initial: Option<&str>) -> SaslNext {
    match (mechanism, initial) {
        // Without an initial response PLAIN gets an empty challenge.
        (Mechanism::Plain, None) => SaslNext::Challenge(SaslStep::Plain, ""),
        (Mechanism::Login, None) => SaslNext::Challenge(SaslStep::LoginUser, LOGIN_USERNAME),
        (_, Some(response)) => respond(first_step(mechanism), response),
    }
}

/// The step that takes a mechanism's first client response.
pub fn first_step(mechanism: Mechanism) -> SaslStep {
    match mechanism {
        Mechanism::Plain => SaslStep::Plain,
        Mechanism::Login => SaslStep::LoginUser,
    }
}

/// Takes the client's response (one base64 line, without its line end) at `step`.
pub fn respond(step: SaslStep, response: &str) -> SaslNext {
    match decode(response) {
        Ok(message) => respond_decoded(step, message),
        Err(error) => SaslNext::Failed(error),
    }
}

/// Takes an already decoded response at `step` (a protocol codec may have decoded it, as
/// imap-codec does with SASL-IR).
pub fn respond_decoded(step: SaslStep, message: Vec<u8>) -> SaslNext {
    let mechanism = step.mechanism();
    let next = match step {
        SaslStep::Plain => plain(&message).map(|(username, password)| SaslNext::Credentials {
            mechanism,
            username,
            password,
        }),
        SaslStep::LoginUser => login_field(message)
            .map(|username| SaslNext::Challenge(SaslStep::LoginPassword { username }, LOGIN_PASSWORD)),
        SaslStep::LoginPassword { username } => {
            login_field(message).map(|password| SaslNext::Credentials { mechanism, username, password })
        }
    };
    next.unwrap_or_else(SaslNext::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_with_and_without_padding() {
        assert_eq!(decode("dXNlcg=="), Ok(b"user".to_vec()));
        assert_eq!(decode("dXNlcg"), Ok(b"user".to_vec()));
        assert_eq!(decode(" * "), Err(SaslError::Cancelled));
        assert_eq!(decode("="), Ok(vec![]));
        assert_eq!(decode("!!!"), Err(SaslError::BadBase64));
    }

    #[test]
    fn exchanges() {
        let creds = |mechanism, u: &str, p: &str| SaslNext::Credentials {
            mechanism,
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(start(Mechanism::Plain, None), SaslNext::Challenge(SaslStep::Plain, ""));
        assert_eq!(start(Mechanism::Plain, Some("AGFsaWNlAHB3")), creds(Mechanism::Plain, "alice", "pw"));
        let SaslNext::Challenge(step, LOGIN_USERNAME) = start(Mechanism::Login, None) else {
            panic!("login")
        };
        let SaslNext::Challenge(step, LOGIN_PASSWORD) = respond(step, "YWxpY2U=") else { panic!("user") };
        assert_eq!(step.mechanism(), Mechanism::Login);
        assert_eq!(respond(step, "cHc="), creds(Mechanism::Login, "alice", "pw"));
        assert_eq!(respond(SaslStep::LoginUser, "*"), SaslNext::Failed(SaslError::Cancelled));
    }

    #[test]
    fn plain_fields() {
        assert_eq!(plain(b"\0alice\0pw"), Ok(("alice".into(), "pw".into())));
        assert_eq!(plain(b"alice\0alice\0pw"), Ok(("alice".into(), "pw".into())));
        assert_eq!(plain(b"bob\0alice\0pw"), Err(SaslError::ForeignAuthzid));
        assert_eq!(plain(b"\0alice"), Err(SaslError::Malformed));
        assert_eq!(plain(b"\0\0pw"), Err(SaslError::Malformed));
        assert_eq!(plain(b"\0a\0b\0c"), Err(SaslError::Malformed));
    }
}
