//! STARTTLS (RFC 9051 §6.2.1, RFC 2595).

use super::Close;
use crate::session::{Done, Session};

/// STARTTLS: OK, then the handshake; everything the client sent meanwhile is discarded.
pub async fn run(s: &mut Session<'_>, tag: &imap_types::core::Tag<'static>) -> Result<Done, Close> {
    let Some(acceptor) = s.starttls.take() else {
        return Ok(Done::bad(if s.conn.is_tls() {
            "TLS is already active"
        } else {
            "STARTTLS is not offered here"
        }));
    };
    s.conn.send_line(&format!("{} OK Begin TLS negotiation now", tag.as_ref()));
    if s.conn.flush().await.is_err() {
        return Err(Close);
    }
    if let Err(e) = s.conn.start_tls(&acceptor, s.tls_timeout).await {
        tracing::info!(peer = %s.peer, error = %e, "imap: STARTTLS failed");
        return Err(Close);
    }
    s.conn.reset_limits(&s.policy);
    Ok(Done::sent())
}
