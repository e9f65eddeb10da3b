//! Open sessions waiting for the next message to the same server: after a session delivered
//! and its outcome is recorded, it is parked here instead of sending QUIT; a delivery to the
//! same host, address and port within [`IDLE`] takes it, saving the connection, the EHLO and
//! the TLS handshake. Sessions idle longer are closed. At most [`PER_SERVER`] wait per server.
//! The key also holds the TLS policy the session was opened under: a session whose certificate
//! was not checked (opportunistic) never carries mail that MTA-STS or DANE protects, even to
//! the same server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client::Closer;

/// How long a parked session may wait.
pub const IDLE: Duration = Duration::from_secs(5);
/// Most parked sessions per server.
pub const PER_SERVER: usize = 8;

/// Which server a session talks to (host, address, port), and under which TLS policy.
pub type ServerKey = (String, IpAddr, u16, String);

/// The parked sessions.
#[derive(Default)]
pub struct SessionPool {
    idle: Mutex<HashMap<ServerKey, Vec<(Closer, Instant)>>>,
}

impl SessionPool {
    /// A parked session to `key`, if one is fresh enough; stale ones are closed.
    pub fn take(&self, key: &ServerKey) -> Option<Closer> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let sessions = idle.get_mut(key)?;
        while let Some((closer, since)) = sessions.pop() {
            if since.elapsed() < IDLE {
                return Some(closer);
            }
            tokio::spawn(closer.quit());
        }
        None
    }

    /// Parks a session to `key` (closing it when the server already has enough waiting), and
    /// closes every session that waited too long.
    pub fn put(&self, key: ServerKey, closer: Closer) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        for sessions in idle.values_mut() {
            let (fresh, stale): (Vec<_>, Vec<_>) =
                sessions.drain(..).partition(|(_, since)| since.elapsed() < IDLE);
            *sessions = fresh;
            for (old, _) in stale {
                tokio::spawn(old.quit());
            }
        }
        idle.retain(|_, sessions| !sessions.is_empty());
        let sessions = idle.entry(key).or_default();
        if sessions.len() < PER_SERVER {
            sessions.push((closer, Instant::now()));
        } else {
            tokio::spawn(closer.quit());
        }
    }

    /// Closes every parked session (shutdown).
    pub async fn close_all(&self) {
        let all: Vec<Closer> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.drain().flat_map(|(_, sessions)| sessions.into_iter().map(|(c, _)| c)).collect()
        };
        for closer in all {
            closer.quit().await;
        }
    }
}
