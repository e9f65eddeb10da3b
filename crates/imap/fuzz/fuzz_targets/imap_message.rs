//! Fuzzes what IMAP computes from a stored message: arbitrary bytes as a message, then
//! ENVELOPE, BODY, BODYSTRUCTURE, every section of the first parts, BINARY, and the search
//! helpers. Checks: no panic, no unbounded work, and the FETCH response built from the
//! results encodes (imap-types accepted every value).

#![no_main]

use std::num::NonZeroU32;

use imap_codec::ResponseCodec;
use imap_codec::encode::Encoder;
use imap_types::core::Vec1;
use imap_types::fetch::MessageDataItem;
use imap_types::response::{Data, Response};
use libfuzzer_sys::fuzz_target;
use mailstead_imap::message::ParsedMessage;

fuzz_target!(|data: &[u8]| {
    let message = ParsedMessage::parse(data);
    let items = vec![
        MessageDataItem::Envelope(message.envelope()),
        MessageDataItem::Body(message.body()),
        MessageDataItem::BodyStructure(message.body_structure()),
    ];
    let response = Response::Data(Data::Fetch {
        seq: NonZeroU32::MIN,
        items: Vec1::try_from(items).expect("non-empty"),
    });
    let bytes = ResponseCodec::default().encode(&response).dump();
    assert!(bytes.starts_with(b"* 1 FETCH ("));
    for part in 1..4u32 {
        let part = [NonZeroU32::new(part).expect("non-zero")];
        let _ = message.binary(&part);
        let _ = message.binary_size(&part);
    }
    let _ = message.section(None);
    let _ = message.header_contains("subject", "a");
    let _ = message.text_contains("x");
    let _ = message.subject_base();
});
