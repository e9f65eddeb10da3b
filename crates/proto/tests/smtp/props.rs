//! Properties over random input: the session never panics, every reply is well-formed,
//! nothing happens after Close, memory stays bounded, and messages round-trip through DATA
//! and BDAT whatever the packet boundaries.

use std::collections::VecDeque;

use mailstead_proto::smtp::{Action, AuthVerdict, Mode, Reply, Session, SessionConfig, Verdict};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::transcript::config;

/// Pieces a fuzzing client strings together: real commands, data, and garbage.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    const COMMANDS: &[&str] = &[
        "EHLO c.example\r\n",
        "HELO c.example\r\n",
        "LHLO c.example\r\n",
        "MAIL FROM:<a@example.net>\r\n",
        "MAIL FROM:<> SIZE=99999999\r\n",
        "RCPT TO:<b@example.org>\r\n",
        "RCPT TO:<Postmaster>\r\n",
        "DATA\r\n",
        ".\r\n",
        "\r\n.\r\n",
        "\n.\n",
        "BDAT 5\r\n",
        "BDAT 3 LAST\r\n",
        "BDAT 0 LAST\r\n",
        "BDAT 99999999999999999999\r\n",
        "RSET\r\n",
        "NOOP\r\n",
        "VRFY x\r\n",
        "HELP\r\n",
        "AUTH PLAIN\r\n",
        "AUTH PLAIN AGEAYg==\r\n",
        "AUTH LOGIN\r\n",
        "YQ==\r\n",
        "*\r\n",
        "STARTTLS\r\n",
        "QUIT\r\n",
        "Received: x\r\n",
        "\0\r\n",
    ];
    prop_oneof![
        4 => proptest::sample::select(COMMANDS).prop_map(|c| c.as_bytes().to_vec()),
        1 => vec(any::<u8>(), 0..64),
        1 => vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..16),
    ]
}

/// Checks the wire form of a reply: `ddd-text` lines and a final `ddd text` line, CRLF each.
fn assert_well_formed(reply: &Reply) {
    let text = reply.to_string();
    assert!(text.ends_with("\r\n"), "{text:?}");
    let lines: Vec<&str> = text.trim_end_matches("\r\n").split("\r\n").collect();
    for (i, line) in lines.iter().enumerate() {
        let b = line.as_bytes();
        assert!(b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit), "{text:?}");
        let sep = if i + 1 == lines.len() { b' ' } else { b'-' };
        assert_eq!(b[3], sep, "{text:?}");
        assert!(!line.contains('\r') && !line.contains('\n'), "{text:?}");
    }
}

/// Plays the driver with answers drawn from `answers`; returns the delivered messages.
fn drive(session: &mut Session, chunks: &[Vec<u8>], answers: &[u8]) -> Vec<Vec<u8>> {
    let mut answers = answers.iter().cycle();
    let mut delivered = Vec::new();
    let mut closed = false;
    for chunk in chunks {
        let mut queue: VecDeque<Action> = session.feed(chunk).into();
        if closed {
            assert!(queue.is_empty(), "actions after Close");
        }
        while let Some(action) = queue.pop_front() {
            assert!(!closed, "action after Close: {action:?}");
            let pick = answers.next().copied().unwrap_or(0);
            let reject = Reply::new(550, "5.7.1", "no");
            let more = match action {
                Action::Reply(r) => {
                    assert_well_formed(&r);
                    continue;
                }
                Action::Close => {
                    closed = true;
                    continue;
                }
                Action::Verify(_) => continue,
                Action::CheckSender { .. } if pick % 3 == 0 => {
                    session.sender_verdict(Verdict::Reject(reject))
                }
                Action::CheckSender { .. } => session.sender_verdict(Verdict::Accept),
                Action::CheckRecipient { .. } if pick % 3 == 0 => {
                    session.recipient_verdict(Verdict::Reject(reject))
                }
                Action::CheckRecipient { .. } => session.recipient_verdict(Verdict::Accept),
                Action::Authenticate { username, .. } => session.auth_verdict(match pick % 3 {
                    0 => AuthVerdict::Failed,
                    1 => AuthVerdict::TemporaryFailure,
                    _ => AuthVerdict::Ok { user: username },
                }),
                Action::StartTls => session.tls_started(),
                Action::Deliver { envelope, message } => {
                    delivered.push(message);
                    let n = usize::from(pick % 4);
                    let _ = envelope;
                    session.message_done(vec![Reply::new(250, "2.0.0", "Ok"); n])
                }
            };
            for (i, a) in more.into_iter().enumerate() {
                queue.insert(i, a);
            }
        }
        assert!(session.buffered_len() <= 512 + 10_000 + (1 << 20) + 4096);
    }
    delivered
}

/// Splits `bytes` at the given (sorted, deduplicated) cut points.
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points {
        out.push(bytes[start..p].to_vec());
        start = p;
    }
    out.push(bytes[start..].to_vec());
    out
}

fn any_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Smtp), Just(Mode::Submission), Just(Mode::Lmtp)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_input_is_handled(
        pieces in vec(piece(), 0..40),
        cuts in vec(any::<usize>(), 0..20),
        answers in vec(any::<u8>(), 1..8),
        mode in any_mode(),
        flags in any::<u8>(),
    ) {
        let cfg = SessionConfig {
            starttls_offered: flags & 1 != 0,
            auth_offered: flags & 2 != 0,
            auth_required: flags & 4 != 0,
            vrfy_enabled: flags & 8 != 0,
            max_errors: 1 + usize::from(flags >> 4),
            max_line_length: 64,
            ..config(mode)
        };
        let stream = pieces.concat();
        let mut session = Session::new(cfg);
        assert_well_formed(&session.greeting());
        drive(&mut session, &split(&stream, &cuts), &answers);
        for a in session.shutdown().iter().chain(session.timeout().iter()) {
            if let Action::Reply(r) = a {
                assert_well_formed(r);
            }
        }
        prop_assert!(session.feed(b"NOOP\r\n").is_empty(), "closed after timeout");
    }

    #[test]
    fn data_round_trips_whatever_the_packet_boundaries(
        lines in vec(vec(prop_oneof![Just(b'.'), Just(b'x'), Just(b' '), any::<u8>()
            .prop_filter("no line ends or NUL", |b| !matches!(b, b'\r' | b'\n' | 0))], 0..40), 0..30),
        cuts in vec(any::<usize>(), 0..10),
    ) {
        let message: Vec<u8> = lines.iter().flat_map(|l| [&l[..], b"\r\n"].concat()).collect();
        let mut stream = b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n".to_vec();
        for line in &lines {
            if line.first() == Some(&b'.') {
                stream.push(b'.'); // RFC 5321 §4.5.2 transparency, as a correct client does
            }
            stream.extend_from_slice(line);
            stream.extend_from_slice(b"\r\n");
        }
        stream.extend_from_slice(b".\r\n");
        let mut session = Session::new(SessionConfig { max_message_size: 1 << 20, ..config(Mode::Smtp) });
        let delivered = drive(&mut session, &split(&stream, &cuts), &[1]);
        prop_assert_eq!(delivered, vec![message]);
    }

    #[test]
    fn bdat_round_trips(
        body in vec(any::<u8>().prop_filter("text", |b| !matches!(b, b'\r' | b'\n' | 0)), 0..300),
        sizes in vec(0usize..100, 0..6),
        cuts in vec(any::<usize>(), 0..10),
    ) {
        let mut stream = b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n".to_vec();
        let mut rest = &body[..];
        for size in sizes {
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            stream.extend_from_slice(format!("BDAT {}\r\n", chunk.len()).as_bytes());
            stream.extend_from_slice(chunk);
            rest = tail;
        }
        stream.extend_from_slice(format!("BDAT {} LAST\r\n", rest.len()).as_bytes());
        stream.extend_from_slice(rest);
        let mut session = Session::new(config(Mode::Smtp));
        let delivered = drive(&mut session, &split(&stream, &cuts), &[1]);
        prop_assert_eq!(delivered, vec![body]);
    }
}
