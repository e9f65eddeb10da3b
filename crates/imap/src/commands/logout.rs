//! LOGOUT (RFC 9051 §6.1.3).

use imap_types::response::{Response, Status};

use crate::session::{Done, Session, State};

/// LOGOUT: BYE, then the tagged OK, then the connection closes.
pub fn run(s: &mut Session<'_>) -> Done {
    if let Ok(bye) = Status::bye(None, "Mailstead IMAP logging out") {
        s.conn.send(&Response::Status(bye));
    }
    s.state = State::Logout;
    Done::ok("LOGOUT completed")
}
