//! AUTHENTICATE (RFC 9051 §6.2.2) with PLAIN (RFC 4616) and LOGIN, and SASL-IR (RFC 4959).

use imap_types::auth::AuthMechanism;
use imap_types::secret::Secret;
use std::borrow::Cow;

use mailstead_proto::sasl::{self, Mechanism, SaslError, SaslNext};

use super::Close;
use super::login::{login, supported};
use crate::conn::Line;
use crate::session::{Done, Session, code};

/// Longest SASL response line.
const MAX_RESPONSE: usize = 4096;

/// AUTHENTICATE.
pub async fn run(
    s: &mut Session<'_>,
    mechanism: &AuthMechanism<'_>,
    initial: Option<&Secret<Cow<'_, [u8]>>>,
) -> Result<Done, Close> {
    if !supported(mechanism) {
        return Ok(Done::no("Unsupported mechanism; use PLAIN or LOGIN").with(code("CANNOT")));
    }
    if !s.plaintext_allowed() {
        return Ok(Done::no("Authenticate over TLS (use STARTTLS or port 993)").with(code("PRIVACYREQUIRED")));
    }
    let kind = match mechanism {
        AuthMechanism::Plain => Mechanism::Plain,
        _ => Mechanism::Login,
    };
    // imap-codec has decoded a SASL-IR initial response (RFC 4959) already.
    let mut next = match initial {
        Some(message) => sasl::respond_decoded(sasl::first_step(kind), message.declassify().to_vec()),
        None => sasl::start(kind, None),
    };
    loop {
        match next {
            SaslNext::Challenge(step, challenge) => match ask(s, challenge).await? {
                Ok(line) => next = sasl::respond(step, &line),
                Err(done) => return Ok(done),
            },
            SaslNext::Credentials { username, password, .. } => {
                return login(s, &username, &password, "AUTHENTICATE").await;
            }
            SaslNext::Failed(SaslError::Cancelled) => return Ok(Done::bad("Authentication cancelled")),
            SaslNext::Failed(other) => return Ok(Done::bad(format!("Invalid SASL response: {other}"))),
        }
    }
}

/// Sends a continuation with `challenge` (base64 text) and reads the client's answer line.
async fn ask(s: &mut Session<'_>, challenge: &str) -> Result<Result<String, Done>, Close> {
    s.conn.send_line(&format!("+ {challenge}"));
    if s.conn.flush().await.is_err() {
        return Err(Close);
    }
    match s.conn.next_line(MAX_RESPONSE).await {
        Line::Text(line) => Ok(Ok(String::from_utf8_lossy(&line).into_owned())),
        Line::TooLong => Ok(Err(Done::bad("SASL response too long"))),
        Line::Failed(e) => {
            tracing::debug!(peer = %s.peer, error = %e, "imap: read failed in AUTHENTICATE");
            Err(Close)
        }
        Line::Closed | Line::TimedOut => Err(Close),
    }
}
