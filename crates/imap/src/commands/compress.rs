//! COMPRESS=DEFLATE (RFC 4978).

use super::Close;
use crate::session::{Done, Session};

/// COMPRESS DEFLATE: tagged OK uncompressed, then deflate both ways.
pub async fn run(s: &mut Session<'_>, tag: &imap_types::core::Tag<'static>) -> Result<Done, Close> {
    if s.conn.is_compressed() {
        return Ok(
            Done::no("Compression is already active").with(imap_types::response::Code::CompressionActive)
        );
    }
    s.conn.send_line(&format!("{} OK DEFLATE active", tag.as_ref()));
    if s.conn.flush().await.is_err() {
        return Err(Close);
    }
    s.conn.start_deflate();
    Ok(Done::sent())
}
