//! NAMESPACE (RFC 2342): one personal namespace, no prefix, `/` as separator.

use crate::session::{Done, Session};

/// NAMESPACE.
pub fn run(s: &mut Session<'_>) -> Done {
    s.conn.send_line("* NAMESPACE ((\"\" \"/\")) NIL NIL");
    Done::ok("NAMESPACE completed")
}
