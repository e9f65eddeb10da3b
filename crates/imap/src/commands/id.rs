//! ID (RFC 2971): logs what the client says it is and names the server.

use imap_types::core::{IString, NString};

use crate::session::{Done, Session};

/// Most parameters logged from a client's ID.
const MAX_LOGGED: usize = 30;

/// ID.
pub fn run(s: &mut Session<'_>, parameters: Option<Vec<(IString<'static>, NString<'static>)>>) -> Done {
    if let Some(params) = parameters {
        let said: Vec<String> = params
            .iter()
            .take(MAX_LOGGED)
            .map(|(k, v)| {
                let v =
                    v.0.as_ref()
                        .map(|v| String::from_utf8_lossy(v.as_ref()).into_owned())
                        .unwrap_or_default();
                format!("{}={}", String::from_utf8_lossy(k.as_ref()), v)
            })
            .collect();
        tracing::info!(peer = %s.peer, client = %said.join(", "), "imap: client id");
    }
    s.conn.send_line(&format!(
        "* ID (\"name\" \"Mailstead\" \"version\" \"{}\" \"vendor\" \"Mailstead\")",
        env!("CARGO_PKG_VERSION")
    ));
    Done::ok("ID completed")
}
