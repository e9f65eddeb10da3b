//! ENABLE (RFC 5161) for CONDSTORE, QRESYNC (RFC 7162), UTF8=ACCEPT (RFC 6855) and IMAP4rev2
//! (RFC 9051 §6.3.1).

use imap_types::core::Vec1;
use imap_types::extensions::enable::CapabilityEnable;

use crate::names::NameCoding;
use crate::session::{Done, Session};

/// ENABLE.
pub fn run(s: &mut Session<'_>, capabilities: Vec1<CapabilityEnable<'static>>) -> Done {
    let mut enabled = Vec::new();
    for cap in capabilities.as_ref() {
        let name = cap.to_string().to_ascii_uppercase();
        match name.as_str() {
            "CONDSTORE" if !s.reporting.condstore => {
                s.reporting.condstore = true;
                enabled.push("CONDSTORE");
            }
            "QRESYNC" if !s.reporting.qresync => {
                // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                s.reporting.qresync = true;
                s.reporting.condstore = true;
                enabled.push("QRESYNC");
            }
            "UTF8=ACCEPT" if s.coding != NameCoding::Utf8 || !enabled.contains(&"UTF8=ACCEPT") => {
                s.coding = NameCoding::Utf8;
                enabled.push("UTF8=ACCEPT");
            }
            "IMAP4REV2" if !s.rev2 => {
                s.rev2 = true;
                s.coding = NameCoding::Utf8;
                enabled.push("IMAP4rev2");
            }
            _ => {}
        }
    }
    s.conn.send_line(&format!("* ENABLED{}", enabled.iter().map(|c| format!(" {c}")).collect::<String>()));
    Done::ok("ENABLE completed")
}
