//! IDLE (RFC 2177, RFC 9051 §6.3.13): changes are pushed as they are committed, until DONE.

use tokio::sync::broadcast::error::RecvError;

use super::Close;
use crate::conn::Line;
use crate::selected::SyncPoint;
use crate::session::{Done, Session, State};

/// IDLE.
pub async fn run(s: &mut Session<'_>) -> Result<Done, Close> {
    s.conn.send_line("+ idling");
    // Anything that happened before IDLE is reported now.
    s.dirty = true;
    if !s.sync(SyncPoint::Full).await || s.conn.flush().await.is_err() {
        return Err(Close);
    }
    loop {
        let changed = {
            let changes = match &mut s.state {
                State::Authenticated(a) | State::Selected(a, _) => &mut a.changes,
                _ => return Ok(Done::bad("Not logged in")),
            };
            tokio::select! {
                () = s.shutdown.cancelled() => {
                    s.bye("Server shutting down").await;
                    return Err(Close);
                }
                line = s.conn.next_line(64) => match line {
                    Line::Text(text) if text.eq_ignore_ascii_case(b"DONE") => return Ok(Done::ok("IDLE terminated")),
                    Line::Text(_) | Line::TooLong => return Ok(Done::bad("Expected DONE")),
                    Line::TimedOut => {
                        s.bye("Autologout; idle for too long").await;
                        return Err(Close);
                    }
                    Line::Failed(e) => {
                        tracing::debug!(peer = %s.peer, error = %e, "imap: read failed in IDLE");
                        return Err(Close);
                    }
                    Line::Closed => return Err(Close),
                },
                change = changes.recv() => match change {
                    Ok(change) => Some(change),
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return Err(Close),
                },
            }
        };
        let relevant = match (&s.state, changed) {
            (State::Selected(_, sel), Some(change)) => match change {
                mailstead_store::Change::MessageAdded { mailbox, .. }
                | mailstead_store::Change::FlagsChanged { mailbox, .. }
                | mailstead_store::Change::Expunged { mailbox, .. } => mailbox == sel.id,
                _ => true,
            },
            (State::Selected(..), None) => true,
            _ => false,
        };
        if relevant {
            s.dirty = true;
            if !s.sync(SyncPoint::Full).await || s.conn.flush().await.is_err() {
                return Err(Close);
            }
        }
    }
}
