//! Hostile input: truncated and mutated messages, nesting bombs. Every accessor must answer
//! without panicking, and deep nesting must not exhaust a small (tokio-sized) stack.
#![allow(clippy::unwrap_used)]

use std::num::NonZeroU32;

use imap_codec::imap_types::core::{AString, Vec1};
use imap_codec::imap_types::fetch::{Part, Section};
use mailstead_imap::message::{MAX_DEPTH, MAX_PARTS, ParsedMessage};

/// Calls everything a FETCH, SEARCH or SORT could call.
fn exercise(raw: &[u8]) {
    let m = ParsedMessage::parse(raw);
    let _ = (m.envelope(), m.body_structure(), m.body(), m.size(), m.header(), m.text());
    let names = Vec1::from(AString::try_from("subject").unwrap());
    let paths: [&[u32]; 6] = [&[1], &[2], &[1, 1], &[2, 1], &[2, 2, 1], &[3, 1, 2]];
    for numbers in paths {
        let path: Vec<NonZeroU32> = numbers.iter().map(|&n| NonZeroU32::new(n).unwrap()).collect();
        let part = Part(Vec1::try_from(path.clone()).unwrap());
        for section in [
            Section::Part(part.clone()),
            Section::Mime(part.clone()),
            Section::Header(Some(part.clone())),
            Section::Text(Some(part.clone())),
            Section::HeaderFields(Some(part.clone()), names.clone()),
            Section::HeaderFieldsNot(Some(part), names.clone()),
        ] {
            let _ = m.section(Some(&section));
        }
        let _ = (m.binary(&path), m.binary_size(&path));
    }
    let _ = m.section(None);
    let _ = m.section(Some(&Section::HeaderFields(None, names)));
    let _ = (m.header_contains("subject", "x"), m.body_contains("x"), m.text_contains("x"));
    let _ = (m.sent_date(), m.subject_base(), m.message_id(), m.references(), m.in_reply_to());
    let _ = (m.first_from().map(|a| a.display()), m.first_to(), m.first_cc());
}

fn testdata() -> Vec<Vec<u8>> {
    let dir = format!("{}/testdata", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn every_truncation_of_every_test_message() {
    for raw in testdata() {
        for end in 0..=raw.len() {
            exercise(&raw[..end]);
        }
    }
}

#[test]
fn mutated_test_messages() {
    // A small deterministic xorshift; mutations favour the bytes MIME parsing cares about.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let interesting = b"\r\n-:;\"=<>()[]@\\\0 ";
    for raw in testdata() {
        for _ in 0..300 {
            let mut copy = raw.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % copy.len().max(1);
                let byte = interesting[(next() as usize) % interesting.len()];
                match next() % 3 {
                    0 if at < copy.len() => copy[at] = byte,
                    1 => copy.insert(at.min(copy.len()), byte),
                    _ if at < copy.len() => {
                        copy.remove(at);
                    }
                    _ => {}
                }
            }
            exercise(&copy);
        }
    }
}

#[test]
fn deep_message_rfc822_nesting_on_a_small_stack() {
    // Below MAX_PARTS, so mail-parser parses every level; dropping its result recursively would
    // overflow this stack.
    let levels = MAX_PARTS - 100;
    let mut raw = b"Subject: x\r\nContent-Type: message/rfc822\r\n\r\n".repeat(levels);
    raw.extend_from_slice(b"Subject: end\r\n\r\nbody\r\n");
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let m = ParsedMessage::parse(&raw);
            let _ = m.body_structure();
            let deep: Vec<NonZeroU32> = vec![NonZeroU32::MIN; MAX_DEPTH];
            let leaf = m.section(Some(&Section::Part(Part(Vec1::try_from(deep).unwrap())))).unwrap();
            assert!(leaf.starts_with(b"Subject: x\r\n"));
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn too_many_parts_is_one_text_part() {
    let mut raw = b"Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    raw.extend(b"--b\r\n\r\nx\r\n".repeat(MAX_PARTS + 1));
    raw.extend_from_slice(b"--b--\r\n");
    let m = ParsedMessage::parse(&raw);
    let bodystructure = format!("{:?}", m.body_structure());
    assert!(bodystructure.starts_with("Single"), "{bodystructure}");
    assert_eq!(m.subject(), Some("many"));
    let one = Part(Vec1::from(NonZeroU32::MIN));
    assert_eq!(m.section(Some(&Section::Part(one))).unwrap(), m.text());
    assert!(m.text().starts_with(b"--b\r\n"));
}
