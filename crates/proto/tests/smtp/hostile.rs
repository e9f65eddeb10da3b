//! Hostile and broken clients: every limit and every known attack on an SMTP receiver.

use mailstead_proto::smtp::{Action, Mode, Session, SessionConfig, Verdict};

use crate::transcript::{config, run};

/// The reply lines in `actions`, for tests that drive the session by hand.
fn replies(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Reply(r) => Some(r.to_string().trim_end().to_string()),
            _ => None,
        })
        .collect()
}

const ENVELOPE: &str = r"
    S: 220
    C: EHLO client.example.net
    S~ 250
    C: MAIL FROM:<alice@example.net>
    S: 250 2.1.0
    C: RCPT TO:<bob@example.org>
    S: 250 2.1.5
";

#[test]
fn line_too_long_is_refused_and_skipped() {
    let long = format!("C: NOOP {}\n", "x".repeat(600));
    run(config(Mode::Smtp), &format!("S: 220\n{long}S: 500 5.5.2 Line too long\nC: NOOP\nS: 250 2.0.0"));
}

#[test]
fn ten_megabyte_line_is_not_buffered() {
    let mut s = Session::new(config(Mode::Smtp));
    let chunk = vec![b'A'; 64 * 1024];
    let mut all = Vec::new();
    for _ in 0..160 {
        all.extend(replies(&s.feed(&chunk)));
        assert!(s.buffered_len() <= 512, "buffered {}", s.buffered_len());
    }
    // And in a single 10 MB feed: nothing of it is copied into the session.
    all.extend(replies(&s.feed(&vec![b'B'; 10 * 1024 * 1024])));
    assert!(s.buffered_len() <= 512);
    all.extend(replies(&s.feed(b"\r\nNOOP\r\n")));
    assert_eq!(all, ["500 5.5.2 Line too long", "250 2.0.0 Ok"]);
}

#[test]
fn bare_lf_in_data_is_normalised_and_lf_dot_lf_does_not_end_data() {
    // SMTP smuggling (CVE-2023-51766 class): "\n.\n" must not end the message, or the text
    // after it would be run as a second, forged transaction.
    let r = run(
        config(Mode::Smtp),
        &format!(
            r"{ENVELOPE}
            C: DATA
            S: 354
            R: Subject: a\nline\r\n.\nMAIL FROM:<ceo@example.org>\nRCPT TO:<bob@example.org>\nDATA\n\nforged\n.\n
            R: tail\r\n.\r\n
            E: deliver
            S: 250 2.0.0
            "
        ),
    );
    assert_eq!(r.delivered.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&r.delivered[0].1),
        "Subject: a\r\nline\r\n\r\nMAIL FROM:<ceo@example.org>\r\nRCPT TO:<bob@example.org>\r\n\
         DATA\r\n\r\nforged\r\n\r\ntail\r\n"
    );
}

#[test]
fn nul_in_data_is_refused_after_the_end() {
    let r = run(
        config(Mode::Smtp),
        &format!(
            r"{ENVELOPE}
            C: DATA
            S: 354
            R: Subject: x\r\n\r\nnul \0 here\r\n.\r\n
            S: 554 5.6.0
            C: RCPT TO:<bob@example.org>
            S: 503 5.5.1 Need MAIL command
            "
        ),
    );
    assert!(r.delivered.is_empty());
}

#[test]
fn oversize_by_declared_size() {
    run(
        config(Mode::Smtp),
        r"
        S: 220
        C: EHLO client.example.net
        S~ 250
        C: MAIL FROM:<alice@example.net> SIZE=10001
        S: 552 5.3.4
        C: MAIL FROM:<alice@example.net> SIZE=10000
        S: 250 2.1.0
        ",
    );
}

#[test]
fn oversize_by_actual_bytes_reads_to_the_end_without_storing() {
    let mut s = Session::new(config(Mode::Smtp));
    let mut out = replies(&s.feed(b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n"));
    out.extend(replies(&s.sender_verdict(Verdict::Accept)));
    s.feed(b"RCPT TO:<b@example.org>\r\n");
    out.extend(replies(&s.recipient_verdict(Verdict::Accept)));
    out.extend(replies(&s.feed(b"DATA\r\n")));
    let line = [&[b'y'; 998][..], b"\r\n"].concat();
    for _ in 0..100 {
        assert!(s.feed(&line).is_empty());
        assert!(s.buffered_len() <= 10_000, "buffered {}", s.buffered_len());
    }
    let end = s.feed(b".\r\nNOOP\r\n");
    assert!(!end.iter().any(|a| matches!(a, Action::Deliver { .. })));
    assert_eq!(replies(&end), ["552 5.3.4 Message size exceeds fixed maximum message size", "250 2.0.0 Ok"]);
}

#[test]
fn too_many_recipients() {
    run(
        config(Mode::Smtp),
        &format!(
            r"{ENVELOPE}
            C: RCPT TO:<c@example.org>
            C: RCPT TO:<d@example.org>
            C: RCPT TO:<e@example.org>
            S: 250 2.1.5
            S: 250 2.1.5
            S: 452 4.5.3 Too many recipients
            "
        ),
    );
}

#[test]
fn too_many_errors_closes_with_421() {
    run(
        config(Mode::Smtp),
        r"
        S: 220
        C: FOO
        C: RCPT TO:<bob@example.org>
        C: DATA
        C: MAIL FROM:<a@example.net>
        C: BAR
        C: NOOP
        S: 500 5.5.1 Unknown command
        S: 503 5.5.1 Need MAIL command
        S: 503 5.5.1 Need MAIL command
        S: 503 5.5.1 Send HELO/EHLO first
        S: 500 5.5.1 Unknown command
        S: 421 4.7.0 mx.example.org Error: too many errors
        E: close
        ",
    );
}

#[test]
fn rcpt_before_mail_data_without_rcpt_and_unknown_command() {
    run(
        config(Mode::Smtp),
        r"
        S: 220
        C: EHLO client.example.net
        S~ 250
        C: RCPT TO:<bob@example.org>
        S: 503 5.5.1 Need MAIL command
        C: MAIL FROM:<alice@example.net>
        S: 250 2.1.0
        C: DATA
        S: 554 5.5.1 No valid recipients
        C: XYZZY
        S: 500 5.5.1 Unknown command
        ",
    );
}

#[test]
fn bad_commands_and_parameters() {
    run(
        SessionConfig { max_errors: 20, starttls_offered: true, ..config(Mode::Smtp) },
        r"
        S: 220
        R: NO\0OP\r\n
        S: 500 5.5.2 Invalid characters
        R: NOOP \xff\r\n
        S: 500 5.5.2 Invalid characters
        C: EHLO
        S: 501 5.5.2
        C: EHLO client.example.net
        S~ 250
        C: AUTH PLAIN
        S: 503 5.5.1 AUTH not available
        C: STARTTLS now
        S: 501 5.5.4
        C: MAIL FROM:<alice@example.net> FOO=BAR
        S: 555 5.5.4
        C: MAIL FROM:<alice@example.net> BODY=BINARYMIME
        S: 555 5.5.4
        C: MAIL FROM:alice
        S: 501 5.5.2
        C: MAIL FROM:<alice@example.net>
        S: 250 2.1.0
        C: MAIL FROM:<alice@example.net>
        S: 503 5.5.1 Nested MAIL
        C: RCPT TO:<bøb@example.org>
        S: 553 5.6.7
        C: STARTTLS
        S: 503 5.5.1
        C: EXPN list
        S: 502 5.5.1
        ",
    );
}

#[test]
fn bad_base64_in_auth() {
    run(
        SessionConfig { auth_offered: true, ..config(Mode::Submission) },
        r"
        S: 220
        C: EHLO client.example.net
        S~ 250
        C: AUTH PLAIN !!notbase64!!
        S: 501 5.5.2 Invalid base64 data
        C: AUTH LOGIN
        S: 334
        C: %%%
        S: 501 5.5.2 Invalid base64 data
        C: AUTH CRAM-MD5
        S: 504 5.5.4
        C: AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==
        S: 535 5.7.8
        ",
    );
}

#[test]
fn commands_pipelined_after_starttls_are_discarded() {
    // CVE-2011-0411: plaintext commands sent with STARTTLS must not run inside TLS.
    run(
        SessionConfig { starttls_offered: true, ..config(Mode::Smtp) },
        r"
        S: 220
        C: EHLO client.example.net
        S~ 250
        C: STARTTLS
        C: MAIL FROM:<attacker@example.com>
        C: RCPT TO:<bob@example.org>
        S: 220 2.0.0
        E: starttls
        C: RCPT TO:<bob@example.org>
        S: 503 5.5.1 Need MAIL command
        ",
    );
}

#[test]
fn mail_loop_is_detected() {
    let received: String = (0..30).map(|i| format!("R: Received: from hop{i}\\r\\n\n")).collect();
    let r = run(
        config(Mode::Smtp),
        &format!(
            "{ENVELOPE}\nC: DATA\nS: 354\n{received}C: Subject: loop\nC:\nC: body\nC: .\nS: 554 5.4.6\n"
        ),
    );
    assert!(r.delivered.is_empty());
}

#[test]
fn bdat_without_recipients_still_consumes_the_chunk() {
    run(
        config(Mode::Smtp),
        r"
        S: 220
        C: EHLO client.example.net
        S~ 250
        R: BDAT 6\r\nNOOP\r\n
        S: 503 5.5.1 Need MAIL command
        C: MAIL FROM:<alice@example.net>
        S: 250 2.1.0
        R: BDAT 6 LAST\r\nQUIT\r\n
        S: 554 5.5.1 No valid recipients
        C: NOOP
        S: 250 2.0.0
        ",
    );
}

#[test]
fn oversize_bdat_is_read_and_refused() {
    let big = "x".repeat(6000);
    run(
        config(Mode::Smtp),
        &format!(
            "{ENVELOPE}\nR: BDAT 6000\\r\\n{big}\nS: 250 2.0.0 6000\nR: BDAT 6000 LAST\\r\\n{big}\nS: 552 5.3.4\nC: NOOP\nS: 250 2.0.0"
        ),
    );
}

#[test]
fn commands_wait_for_the_verdict() {
    let mut s = Session::new(config(Mode::Smtp));
    s.feed(b"EHLO c.example\r\n");
    let actions = s.feed(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nNOOP\r\n");
    assert!(matches!(actions.last(), Some(Action::CheckSender { .. })));
    assert_eq!(actions.len(), 1);
    assert!(s.is_waiting());
    assert!(s.feed(b"NOOP\r\n").is_empty(), "still waiting");
    let actions = s.sender_verdict(Verdict::Accept);
    assert_eq!(replies(&actions), ["250 2.1.0 Ok"]);
    assert!(matches!(actions.last(), Some(Action::CheckRecipient { .. })));
    let actions = s.recipient_verdict(Verdict::Accept);
    assert_eq!(replies(&actions), ["250 2.1.5 Ok", "250 2.0.0 Ok", "250 2.0.0 Ok"]);
    // Answers to questions never asked are ignored.
    assert!(s.sender_verdict(Verdict::Accept).is_empty());
    assert!(s.message_done(vec![]).is_empty());
}

#[test]
fn early_talker_timeout_and_shutdown() {
    let mut s = Session::new(config(Mode::Smtp));
    let a = s.early_talker();
    assert_eq!(
        replies(&a),
        ["554 5.5.0 mx.example.org Protocol error: client sent data before the greeting"]
    );
    assert!(matches!(a.last(), Some(Action::Close)));
    assert!(s.feed(b"NOOP\r\n").is_empty());

    let mut s = Session::new(config(Mode::Smtp));
    let a = s.timeout();
    assert_eq!(replies(&a), ["421 4.4.2 mx.example.org Error: timeout exceeded"]);
    assert!(matches!(a.last(), Some(Action::Close)));

    let mut s = Session::new(config(Mode::Smtp));
    let a = s.shutdown();
    assert!(replies(&a)[0].starts_with("421 4.3.2"));
    assert!(matches!(a.last(), Some(Action::Close)));
}

#[test]
fn shutdown_inside_data_waits_for_the_transaction() {
    let mut s = Session::new(config(Mode::Smtp));
    s.feed(b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n");
    s.sender_verdict(Verdict::Accept);
    s.feed(b"RCPT TO:<b@example.org>\r\n");
    s.recipient_verdict(Verdict::Accept);
    s.feed(b"DATA\r\nSubject: x\r\n");
    assert!(s.shutdown().is_empty(), "inside DATA: finish first");
    let a = s.feed(b"\r\nbody\r\n.\r\n");
    assert!(matches!(a.last(), Some(Action::Deliver { .. })));
    let a = s.message_done(vec![mailstead_proto::smtp::Reply::new(250, "2.0.0", "Ok: queued")]);
    assert_eq!(replies(&a)[0], "250 2.0.0 Ok: queued");
    assert!(replies(&a)[1].starts_with("421 4.3.2"));
    assert!(matches!(a.last(), Some(Action::Close)));
}
