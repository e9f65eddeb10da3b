//! Properties over random input: the session never panics, every response is well-formed,
//! nothing happens after Close, memory stays bounded, deletions are asked for only at QUIT,
//! and byte-stuffing round-trips whatever the message.

use std::collections::VecDeque;
use std::sync::Arc;

use mailstead_proto::pop3::{Action, AuthVerdict, FetchResult, Session, SessionConfig, UpdateResult, stuff};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::transcript::{MESSAGES, config, maildrop};

/// Pieces a fuzzing client strings together: real commands and garbage.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    const COMMANDS: &[&str] = &[
        "USER alice@example.org\r\n",
        "PASS secret\r\n",
        "PASS wrong\r\n",
        "AUTH PLAIN\r\n",
        "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n",
        "AUTH LOGIN\r\n",
        "YWxpY2U=\r\n",
        "*\r\n",
        "AUTH\r\n",
        "CAPA\r\n",
        "STLS\r\n",
        "STAT\r\n",
        "LIST\r\n",
        "LIST 2\r\n",
        "UIDL\r\n",
        "UIDL 9\r\n",
        "RETR 1\r\n",
        "TOP 3 1\r\n",
        "TOP 1 99999999999\r\n",
        "DELE 1\r\n",
        "DELE 3\r\n",
        "RSET\r\n",
        "NOOP\r\n",
        "QUIT\r\n",
        "\0\r\n",
        ".\r\n",
    ];
    prop_oneof![
        4 => proptest::sample::select(COMMANDS).prop_map(|c| c.as_bytes().to_vec()),
        1 => vec(any::<u8>(), 0..64),
        1 => vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b' '), Just(b'a')], 0..16),
    ]
}

/// Checks a response's wire form: a status line (`+OK`, `-ERR`, `+ `) ending in CRLF with no
/// other CR or LF, then for multi-line responses stuffed lines and a lone `.`.
fn assert_well_formed(bytes: &[u8]) {
    assert!(bytes.ends_with(b"\r\n"), "{bytes:?}");
    let first_end = bytes.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
    let first = &bytes[..first_end];
    assert!(first.starts_with(b"+OK") || first.starts_with(b"-ERR") || first.starts_with(b"+ "), "{first:?}");
    assert!(!first.contains(&b'\r') && !first.contains(&b'\n'));
    let rest = &bytes[first_end + 2..];
    if !rest.is_empty() {
        assert!(rest.ends_with(b".\r\n"), "{rest:?}");
        let body = &rest[..rest.len() - 3];
        // The terminator appears nowhere else at the start of a line.
        assert!(!body.starts_with(b".\r\n") && !contains(body, b"\n.\r\n"), "{rest:?}");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Removes byte-stuffing and the terminator (what a client does).
fn unstuff(wire: &[u8]) -> Vec<u8> {
    let body = wire.strip_suffix(b".\r\n").unwrap_or(wire);
    let mut out = Vec::new();
    let mut at_start = true;
    for (i, &b) in body.iter().enumerate() {
        if at_start && b == b'.' && body.get(i + 1) == Some(&b'.') {
            at_start = false;
            continue;
        }
        out.push(b);
        at_start = b == b'\n';
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_input_is_handled(pieces in vec(piece(), 0..40), seed in any::<u32>(), stls in any::<bool>()) {
        let cfg = SessionConfig { stls_offered: stls, plaintext_auth_allowed: !stls, ..config() };
        let max_line = cfg.max_line_length;
        let mut session = Session::new(cfg);
        let mut answer = seed;
        let mut closed = false;
        let mut quit_sent = false;
        for piece in &pieces {
            quit_sent |= contains(piece, b"QUIT");
            let mut queue: VecDeque<Action> = session.feed(piece).into();
            while let Some(action) = queue.pop_front() {
                prop_assert!(!closed, "action after Close: {action:?}");
                answer = answer.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let more = match action {
                    Action::Reply(r) => {
                        assert_well_formed(&r.to_bytes());
                        continue;
                    }
                    Action::Close => {
                        closed = true;
                        continue;
                    }
                    Action::Authenticate { username, .. } => session.auth_verdict(match answer % 4 {
                        0 => AuthVerdict::Failed,
                        1 => AuthVerdict::InUse,
                        _ => AuthVerdict::Ok { user: username, maildrop: maildrop() },
                    }),
                    Action::Fetch { uid } => {
                        let data = MESSAGES.iter().find(|(u, _)| *u == uid).map(|(_, m)| *m);
                        prop_assert!(data.is_some(), "fetch of unknown uid {uid}");
                        session.fetched(FetchResult::Message(Arc::new(data.unwrap_or_default().to_vec())))
                    }
                    Action::Update { expunge, seen } => {
                        // Only QUIT enters UPDATE, and only with UIDs of the maildrop.
                        prop_assert!(quit_sent);
                        for uid in expunge.iter().chain(&seen) {
                            prop_assert!(MESSAGES.iter().any(|(u, _)| u == uid));
                        }
                        session.update_done(UpdateResult::Done { remaining: 0 })
                    }
                    Action::StartTls => session.tls_started(),
                };
                for (k, a) in more.into_iter().enumerate() {
                    queue.insert(k, a);
                }
            }
            prop_assert!(session.buffered_len() <= max_line + (1 << 20) + 64);
        }
    }

    #[test]
    fn stuffing_round_trips(body in vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'x')], 0..200)) {
        let mut wire = Vec::new();
        stuff(&body, &mut wire);
        let mut expected = body.clone();
        if !expected.is_empty() && !expected.ends_with(b"\n") {
            expected.extend_from_slice(b"\r\n");
        }
        prop_assert_eq!(unstuff(&wire), expected);
        prop_assert!(wire.ends_with(b".\r\n"));
        let inner = &wire[..wire.len() - 3];
        prop_assert!(!inner.starts_with(b".\r\n") && !contains(inner, b"\n.\r\n"));
    }

    #[test]
    fn packet_boundaries_do_not_matter(cuts in vec(0usize..200, 0..8)) {
        let script: &[u8] = b"USER alice@example.org\r\nPASS secret\r\nLIST\r\nRETR 1\r\nDELE 2\r\nQUIT\r\n";
        let whole = drive(&[script]);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % script.len()).collect();
        cuts.sort_unstable();
        let mut packets = Vec::new();
        let mut start = 0;
        for c in cuts {
            packets.push(&script[start..c]);
            start = c;
        }
        packets.push(&script[start..]);
        prop_assert_eq!(drive(&packets), whole);
    }
}

/// Runs packets through a session that always says yes; returns the wire bytes and events.
fn drive(packets: &[&[u8]]) -> Vec<u8> {
    let mut session = Session::new(config());
    let mut wire = Vec::new();
    for packet in packets {
        let mut queue: VecDeque<Action> = session.feed(packet).into();
        while let Some(action) = queue.pop_front() {
            let more = match action {
                Action::Reply(r) => {
                    r.write_to(&mut wire);
                    continue;
                }
                Action::Close => {
                    wire.extend_from_slice(b"<close>");
                    continue;
                }
                Action::Authenticate { username, .. } => {
                    session.auth_verdict(AuthVerdict::Ok { user: username, maildrop: maildrop() })
                }
                Action::Fetch { uid } => {
                    let data = MESSAGES.iter().find(|(u, _)| *u == uid).map(|(_, m)| *m).unwrap_or_default();
                    session.fetched(FetchResult::Message(Arc::new(data.to_vec())))
                }
                Action::Update { expunge, .. } => {
                    wire.extend_from_slice(format!("<update {expunge:?}>").as_bytes());
                    session.update_done(UpdateResult::Done { remaining: 2 })
                }
                Action::StartTls => session.tls_started(),
            };
            for (k, a) in more.into_iter().enumerate() {
                queue.insert(k, a);
            }
        }
    }
    wire
}
