//! LOGIN (RFC 9051 §6.2.3) and what every successful login does (shared with AUTHENTICATE).

use imap_types::auth::AuthMechanism;
use imap_types::core::AString;
use imap_types::secret::Secret;

use mailstead_store::auth::AuthError;

use super::Close;
use crate::session::{Auth, Done, Session, State, code};

/// LOGIN.
pub async fn run(
    s: &mut Session<'_>,
    username: &AString<'_>,
    password: &Secret<AString<'_>>,
) -> Result<Done, Close> {
    if !s.plaintext_allowed() {
        return Ok(Done::no("Log in over TLS (use STARTTLS or port 993)").with(code("PRIVACYREQUIRED")));
    }
    let user = String::from_utf8_lossy(username.as_ref()).into_owned();
    let password = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
    login(s, &user, &password, "LOGIN").await
}

/// Checks the credentials and, on success, enters the authenticated state.
pub async fn login(s: &mut Session<'_>, user: &str, password: &str, how: &str) -> Result<Done, Close> {
    match s.server.auth.authenticate(s.peer.ip(), user, password).await {
        Ok(account) => {
            tracing::info!(peer = %s.peer, user = %account.address, method = how, "imap: login");
            let changes = s.server.store.changes().subscribe(account.id);
            s.state = State::Authenticated(Auth { account, changes });
            s.conn.set_timeout(s.server.config.authenticated_timeout);
            let caps = super::capability::list(s).join(" ");
            Ok(Done::ok(format!("[CAPABILITY {caps}] Logged in")))
        }
        Err(AuthError::Invalid) => {
            s.auth_failures += 1;
            tracing::info!(peer = %s.peer, user = %user.chars().take(100).collect::<String>(), method = how, "imap: login failed");
            if s.auth_failures >= s.server.config.max_auth_failures {
                s.bye("Too many failed logins").await;
                return Err(Close);
            }
            Ok(Done::no("Invalid credentials").with(code("AUTHENTICATIONFAILED")))
        }
        Err(AuthError::Throttled { retry_after, by_ip }) => {
            tracing::warn!(peer = %s.peer, by_ip, "imap: login refused, too many failures");
            Ok(Done::no(format!("Too many failed logins; try again in {} s", retry_after.as_secs().max(1)))
                .with(code("UNAVAILABLE")))
        }
        Err(AuthError::Unavailable(e)) => {
            tracing::warn!(error = %e, "imap: account store unavailable at login");
            Ok(Done::no("Temporary failure, try again").with(code("UNAVAILABLE")))
        }
    }
}

/// Whether we offer this SASL mechanism.
pub fn supported(mechanism: &AuthMechanism<'_>) -> bool {
    matches!(mechanism, AuthMechanism::Plain | AuthMechanism::Login)
}
