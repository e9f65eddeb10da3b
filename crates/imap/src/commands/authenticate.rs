//! AUTHENTICATE (RFC 9051 §6.2.2) with PLAIN (RFC 4616) and LOGIN, and SASL-IR (RFC 4959).

use imap_types::auth::AuthMechanism;
use imap_types::secret::Secret;
use std::borrow::Cow;

use mailstead_proto::sasl;

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
    let initial: Option<Vec<u8>> = initial.map(|i| i.declassify().to_vec());
    let credentials = match mechanism {
        AuthMechanism::Plain => {
            let message = match initial {
                Some(message) => message,
                None => match ask(s, "").await? {
                    Ok(message) => message,
                    Err(done) => return Ok(done),
                },
            };
            sasl::plain(&message).map_err(|e| e.to_string())
        }
        _ => {
            let user = match initial {
                Some(user) => Ok(user),
                None => ask(s, sasl::LOGIN_USERNAME).await?,
            };
            let user = match user {
                Ok(user) => user,
                Err(done) => return Ok(done),
            };
            let password = match ask(s, sasl::LOGIN_PASSWORD).await? {
                Ok(password) => password,
                Err(done) => return Ok(done),
            };
            match (sasl::login_field(user), sasl::login_field(password)) {
                (Ok(u), Ok(p)) => Ok((u, p)),
                (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
            }
        }
    };
    match credentials {
        Ok((user, password)) => login(s, &user, &password, "AUTHENTICATE").await,
        Err(reason) => Ok(Done::bad(format!("Invalid SASL response: {reason}"))),
    }
}

/// Sends a continuation with `challenge` (base64 text) and reads the client's decoded answer.
async fn ask(s: &mut Session<'_>, challenge: &str) -> Result<Result<Vec<u8>, Done>, Close> {
    s.conn.send_line(&format!("+ {challenge}"));
    if s.conn.flush().await.is_err() {
        return Err(Close);
    }
    match s.conn.next_line(MAX_RESPONSE).await {
        Line::Text(line) => {
            let line = String::from_utf8_lossy(&line).into_owned();
            Ok(sasl::decode(&line).map_err(|e| match e {
                sasl::SaslError::Cancelled => Done::bad("Authentication cancelled"),
                other => Done::bad(format!("Invalid SASL response: {other}")),
            }))
        }
        Line::TooLong => Ok(Err(Done::bad("SASL response too long"))),
        Line::Failed(e) => {
            tracing::debug!(peer = %s.peer, error = %e, "imap: read failed in AUTHENTICATE");
            Err(Close)
        }
        Line::Closed | Line::TimedOut => Err(Close),
    }
}
