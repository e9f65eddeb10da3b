//! Fuzzes the POP3 session with arbitrary bytes cut into arbitrary packets, playing a driver
//! whose answers also come from the input. Checks more than "does not crash": every response
//! is well-formed (one CRLF-terminated status line, byte-stuffed multi-line bodies ending in
//! `.` CRLF), nothing follows Close, deletions are asked for only after a QUIT, and memory stays
//! within the configured limits.
//!
//! Input layout: byte 0 picks options, byte 1 the answers' seed; the rest is the client's
//! stream, cut into packets at every 0xFF 0xFE pair (the pair itself is dropped).

#![no_main]

use std::collections::VecDeque;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mailstead_proto::pop3::{
    Action, AuthVerdict, FetchResult, Maildrop, MessageInfo, Reply, Session, SessionConfig, UpdateResult,
};

const MESSAGES: &[(u32, &[u8])] =
    &[(1, b"A: b\r\n\r\n.\r\n..\r\nx"), (5, b"S: t\r\n\r\nbody\r\n"), (6, b"")];

fn well_formed(reply: &Reply) {
    let bytes = reply.to_bytes();
    assert!(bytes.ends_with(b"\r\n"));
    let first_end = bytes.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
    let first = &bytes[..first_end];
    assert!(first.starts_with(b"+OK") || first.starts_with(b"-ERR") || first.starts_with(b"+ "));
    assert!(!first.contains(&b'\r') && !first.contains(&b'\n'));
    let rest = &bytes[first_end + 2..];
    if !rest.is_empty() {
        assert!(rest.ends_with(b".\r\n"));
        let body = &rest[..rest.len() - 3];
        assert!(!body.starts_with(b".\r\n") && !body.windows(4).any(|w| w == b"\n.\r\n"));
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, stream @ ..] = data else { return };
    let config = SessionConfig {
        stls_offered: flags & 1 != 0,
        tls_active: flags & 2 != 0,
        plaintext_auth_allowed: flags & 4 != 0,
        max_line_length: 128,
        max_errors: 1 + usize::from(flags >> 4),
        ..SessionConfig::new("pop.example.org")
    };
    let limit = config.max_line_length + (1 << 20);
    let maildrop = Maildrop {
        uidvalidity: 7,
        messages: MESSAGES.iter().map(|(uid, m)| MessageInfo { uid: *uid, size: m.len() as u64 }).collect(),
    };
    let mut session = Session::new(config);
    let mut answer = u32::from(*seed);
    let mut closed = false;
    let mut packets = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i + 1 < stream.len() {
        if stream[i] == 0xFF && stream[i + 1] == 0xFE {
            packets.push(&stream[start..i]);
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    packets.push(&stream[start..]);
    let mut seen_quit = false;
    for packet in packets {
        seen_quit |= packet.windows(4).any(|w| w.eq_ignore_ascii_case(b"QUIT"));
        let mut queue: VecDeque<Action> = session.feed(packet).into();
        while let Some(action) = queue.pop_front() {
            assert!(!closed, "action after Close");
            answer = answer.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let more = match action {
                Action::Reply(r) => {
                    well_formed(&r);
                    continue;
                }
                Action::Close => {
                    closed = true;
                    continue;
                }
                Action::Authenticate { username, .. } => session.auth_verdict(match answer % 5 {
                    0 => AuthVerdict::Failed,
                    1 => AuthVerdict::InUse,
                    2 => AuthVerdict::TemporaryFailure,
                    _ => AuthVerdict::Ok { user: username, maildrop: maildrop.clone() },
                }),
                Action::Fetch { uid } => {
                    let found = MESSAGES.iter().find(|(u, _)| *u == uid).map(|(_, m)| *m);
                    assert!(found.is_some());
                    session.fetched(match (found, answer % 4) {
                        (Some(m), 0..=2) => FetchResult::Message(Arc::new(m.to_vec())),
                        _ => FetchResult::Gone,
                    })
                }
                Action::Update { .. } => {
                    assert!(seen_quit);
                    session.update_done(if answer % 3 == 0 {
                        UpdateResult::Failed
                    } else {
                        UpdateResult::Done { remaining: 1 }
                    })
                }
                Action::StartTls => session.tls_started(),
            };
            for (k, a) in more.into_iter().enumerate() {
                queue.insert(k, a);
            }
        }
        assert!(session.buffered_len() <= limit);
    }
});
