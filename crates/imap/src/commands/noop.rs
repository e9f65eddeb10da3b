//! NOOP and CHECK (RFC 9051 §6.1.2, RFC 3501 §6.4.1): nothing to do but report changes, which
//! the session does before every tagged reply.

use crate::session::{Done, Session};

/// NOOP / CHECK.
pub fn run(s: &mut Session<'_>, name: &str) -> Done {
    // Changes reach the client through the sync before the tagged reply; force one.
    s.dirty = true;
    Done::ok(format!("{name} completed"))
}
