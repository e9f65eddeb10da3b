//! Fuzzes the SMTP/LMTP session with arbitrary bytes cut into arbitrary packets, playing a
//! driver whose answers also come from the input. Checks more than "does not crash": every
//! reply is well-formed (`ddd-` lines, a final `ddd ` line, CRLF), nothing follows Close, and
//! memory stays within the configured limits.
//!
//! Input layout: byte 0 picks mode and options, byte 1 the answers' seed; the rest is the
//! client's stream, cut into packets at every 0xFF 0xFE pair (the pair itself is dropped).

#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use mailstead_proto::smtp::{Action, AuthVerdict, Mode, Reply, Session, SessionConfig, Verdict};

fn well_formed(reply: &Reply) {
    let text = reply.to_string();
    assert!(text.ends_with("\r\n"));
    let lines: Vec<&str> = text.trim_end_matches("\r\n").split("\r\n").collect();
    for (i, line) in lines.iter().enumerate() {
        let b = line.as_bytes();
        assert!(b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit));
        assert_eq!(b[3], if i + 1 == lines.len() { b' ' } else { b'-' });
        assert!(!line.contains('\r') && !line.contains('\n'));
    }
}

fn verdict(reject: bool) -> Verdict {
    if reject { Verdict::Reject(Reply::new(550, "5.7.1", "no")) } else { Verdict::Accept }
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, stream @ ..] = data else { return };
    let mode = match flags % 3 {
        0 => Mode::Smtp,
        1 => Mode::Submission,
        _ => Mode::Lmtp,
    };
    let config = SessionConfig {
        max_message_size: 4096,
        max_recipients: 4,
        max_errors: 1 + usize::from(flags >> 5),
        max_line_length: 128,
        starttls_offered: flags & 4 != 0,
        auth_offered: flags & 8 != 0,
        vrfy_enabled: flags & 16 != 0,
        max_received_headers: 5,
        ..SessionConfig::new("mx.example.org", mode)
    };
    let limit = config.max_line_length + config.max_message_size + (1 << 20);
    let mut session = Session::new(config);
    let mut answer = u32::from(*seed);
    let mut closed = false;
    let mut packets = Vec::new();
    let mut start = 0;
    let mut i = 0;
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
    for packet in packets {
        let mut queue: VecDeque<Action> = session.feed(packet).into();
        while let Some(action) = queue.pop_front() {
            assert!(!closed, "action after Close");
            answer = answer.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let reject = answer % 3 == 0;
            let more = match action {
                Action::Reply(r) => {
                    well_formed(&r);
                    continue;
                }
                Action::Close => {
                    closed = true;
                    continue;
                }
                Action::Verify(_) => continue,
                Action::CheckSender { .. } => session.sender_verdict(verdict(reject)),
                Action::CheckRecipient { .. } => session.recipient_verdict(verdict(reject)),
                Action::Authenticate { username, .. } => session.auth_verdict(if reject {
                    AuthVerdict::Failed
                } else {
                    AuthVerdict::Ok { user: username }
                }),
                Action::StartTls => session.tls_started(),
                Action::Deliver { envelope, .. } => {
                    let n = (answer as usize % 3) + envelope.recipients.len() / 2;
                    session.message_done(vec![Reply::new(250, "2.0.0", "Ok"); n])
                }
            };
            for (k, a) in more.into_iter().enumerate() {
                queue.insert(k, a);
            }
        }
        assert!(session.buffered_len() <= limit);
    }
});
