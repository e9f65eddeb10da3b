//! The ordinary dialogues: what a well-behaved client sees.

use mailstead_proto::smtp::{Mode, Notify, SessionConfig};

use crate::transcript::{config, run};

#[test]
fn main_path_ehlo_mail_two_rcpts_data_quit() {
    let r = run(
        config(Mode::Smtp),
        r"
        S: 220 mx.example.org ESMTP Mailstead
        C: EHLO client.example.net
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE 10000
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-ENHANCEDSTATUSCODES
        S: 250-CHUNKING
        S: 250 DSN
        C: MAIL FROM:<alice@example.net> SIZE=120 BODY=8BITMIME
        S: 250 2.1.0 Ok
        C: RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE
        S: 250 2.1.5 Ok
        C: RCPT TO:<carol@example.org>
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 Start mail input
        C: Subject: hello
        C:
        C: ..a line starting with a dot
        C: body
        C: .
        E: deliver
        S: 250 2.0.0 Ok: queued as TEST
        C: QUIT
        S: 221 2.0.0 Bye
        E: close
        ",
    );
    let (envelope, message) = &r.delivered[0];
    assert_eq!(message, b"Subject: hello\r\n\r\n.a line starting with a dot\r\nbody\r\n");
    assert_eq!(envelope.helo, "client.example.net");
    assert_eq!(envelope.sender.as_ref().map(|a| a.to_string()).as_deref(), Some("alice@example.net"));
    assert_eq!(envelope.mail_params.size, Some(120));
    let rcpts: Vec<String> = envelope.recipients.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(rcpts, ["bob@example.org", "carol@example.org"]);
    assert_eq!(envelope.recipients[0].params.notify, Some(vec![Notify::Success, Notify::Failure]));
    assert!(r.session.is_closed());
}

#[test]
fn pipelining_in_one_packet() {
    // RFC 2920: the client sends the whole envelope at once; replies come back in order, and
    // the commands after each question wait for its answer.
    let r = run(
        config(Mode::Smtp),
        r"
        S: 220
        C: EHLO client.example.net
        S~ 250
        C: MAIL FROM:<>
        C: RCPT TO:<bob@example.org>
        C: RCPT TO:<nobody@example.org>
        C: RCPT TO:<carol@example.org>
        C: DATA
        !reject-rcpt <nobody@example.org> 550 5.1.1 <nobody@example.org>: no such user
        S: 250 2.1.0
        S: 250 2.1.5
        S: 550 5.1.1 <nobody@example.org>: no such user
        S: 250 2.1.5
        S: 354
        C: hi
        C: .
        C: QUIT
        E: deliver
        S: 250 2.0.0
        S: 221 2.0.0
        E: close
        ",
    );
    let (envelope, _) = &r.delivered[0];
    assert_eq!(envelope.sender, None, "MAIL FROM:<> is the null sender");
    assert_eq!(envelope.recipients.len(), 2);
}

#[test]
fn bdat_in_several_chunks_with_bdat_0_last() {
    let r = run(
        config(Mode::Smtp),
        r"
        S: 220
        C: EHLO client.example.net
        S~ 250
        C: MAIL FROM:<alice@example.net>
        C: RCPT TO:<bob@example.org>
        R: BDAT 14\r\nSubject: x\r\n\r\n
        R: BDAT 9\r\nline one\n
        S: 250 2.1.0
        S: 250 2.1.5
        S: 250 2.0.0 14 octets received
        S: 250 2.0.0 9 octets received
        C: DATA
        S: 503 5.5.1 DATA not allowed after BDAT
        C: BDAT 0 LAST
        E: deliver
        S: 250 2.0.0 Ok: queued as TEST
        ",
    );
    // No dot-unstuffing in BDAT; the bare LF is normalised like in DATA.
    assert_eq!(r.delivered[0].1, b"Subject: x\r\n\r\nline one\r\n");
}

#[test]
fn bdat_last_with_data_and_dots() {
    let r = run(
        config(Mode::Smtp),
        r"
        S: 220
        C: EHLO c.example
        S~ 250
        C: MAIL FROM:<a@example.net>
        C: RCPT TO:<b@example.org>
        R: BDAT 7 LAST\r\n.\r\n..\r\n
        S: 250 2.1.0
        S: 250 2.1.5
        E: deliver
        S: 250 2.0.0
        ",
    );
    assert_eq!(r.delivered[0].1, b".\r\n..\r\n");
}

#[test]
fn rset_aborts_the_transaction_and_keeps_the_greeting() {
    run(
        config(Mode::Smtp),
        r"
        S: 220
        C: EHLO client.example.net
        S~ 250
        C: MAIL FROM:<alice@example.net>
        S: 250 2.1.0
        C: RCPT TO:<bob@example.org>
        S: 250 2.1.5
        C: RSET
        S: 250 2.0.0 Ok
        C: RCPT TO:<bob@example.org>
        S: 503 5.5.1 Need MAIL command
        C: MAIL FROM:<alice@example.net>
        S: 250 2.1.0
        ",
    );
}

#[test]
fn helo_has_no_extensions() {
    run(
        config(Mode::Smtp),
        r"
        S: 220
        C: HELO client.example.net
        S: 250 mx.example.org
        C: MAIL FROM:<alice@example.net>
        S: 250 2.1.0
        C: NOOP
        S: 250 2.0.0
        C: HELP
        S: 214 2.0.0
        C: VRFY bob
        S: 252 2.5.0
        C: EHLO again.example.net
        S~ 250
        C: DATA
        S: 503 5.5.1 Need MAIL command
        ",
    );
}

#[test]
fn lmtp_with_two_recipients_gets_one_reply_each() {
    let r = run(
        config(Mode::Lmtp),
        r"
        S: 220 mx.example.org LMTP Mailstead
        C: EHLO client.example.net
        S: 500 5.5.1
        C: LHLO client.example.net
        S~ 250
        C: MAIL FROM:<alice@example.net>
        S: 250 2.1.0
        C: RCPT TO:<bob@example.org>
        S: 250 2.1.5
        C: RCPT TO:<carol@example.org>
        S: 250 2.1.5
        C: DATA
        S: 354
        C: hello
        C: .
        !deliver 250 2.1.5 <bob@example.org> delivered
        !deliver 452 4.2.2 <carol@example.org> mailbox full
        E: deliver
        S: 250 2.1.5 <bob@example.org> delivered
        S: 452 4.2.2 <carol@example.org> mailbox full
        C: QUIT
        S: 221
        E: close
        ",
    );
    assert_eq!(r.delivered.len(), 1);
}

#[test]
fn starttls_resets_the_session() {
    let cfg = SessionConfig { starttls_offered: true, max_errors: 10, ..config(Mode::Submission) };
    let r = run(
        cfg,
        r"
        S: 220
        C: EHLO client.example.net
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-ENHANCEDSTATUSCODES
        S: 250-CHUNKING
        S: 250-DSN
        S: 250 STARTTLS
        C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
        S: 530 5.7.0 Must issue a STARTTLS command first
        C: STARTTLS
        S: 220 2.0.0 Ready to start TLS
        E: starttls
        # RFC 3207 §4.2: the EHLO argument is forgotten; MAIL needs a new EHLO.
        C: MAIL FROM:<alice@example.net>
        S: 503 5.5.1 Send HELO/EHLO first
        C: EHLO client.example.net
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-ENHANCEDSTATUSCODES
        S: 250-CHUNKING
        S: 250-DSN
        S: 250 AUTH PLAIN LOGIN
        C: STARTTLS
        S: 454 4.7.0 TLS not available
        C: MAIL FROM:<alice@example.net>
        S: 530 5.7.0 Authentication required
        C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
        E: auth alice
        S: 235 2.7.0
        C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
        S: 503 5.5.1 Already authenticated
        C: MAIL FROM:<alice@example.net>
        S: 250 2.1.0
        ",
    );
    assert!(r.session.config().tls_active);
    assert_eq!(r.session.auth_user(), Some("alice"));
}

#[test]
fn auth_login_and_cancel() {
    let cfg = SessionConfig { auth_offered: true, tls_active: true, ..config(Mode::Submission) };
    let r = run(
        cfg,
        r"
        S: 220
        C: EHLO client.example.net
        S~ 250
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C: *
        S: 501 5.0.0 Authentication cancelled
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C: Ym9i
        S: 334 UGFzc3dvcmQ6
        C: d3Jvbmc=
        E: auth bob
        S: 535 5.7.8
        C: AUTH PLAIN
        S: 334
        C: AGJvYgBzZWNyZXQ=
        E: auth bob
        S: 235 2.7.0
        C: MAIL FROM:<bob@example.org>
        S: 250 2.1.0
        C: RCPT TO:<x@example.net>
        S: 250 2.1.5
        C: DATA
        S: 354
        C: .
        E: deliver
        S: 250
        ",
    );
    assert_eq!(r.delivered[0].0.auth_user.as_deref(), Some("bob"));
    assert_eq!(r.delivered[0].1, b"");
}

#[test]
fn postmaster_without_domain_is_accepted() {
    let r = run(
        config(Mode::Smtp),
        r"
        S: 220
        C: HELO c.example
        S: 250
        C: MAIL FROM:<postmaster>
        S: 501 5.1.7
        C: MAIL FROM:<>
        S: 250 2.1.0
        C: RCPT TO:<Postmaster>
        S: 250 2.1.5
        ",
    );
    let rcpt = &r.session.envelope().map(|e| e.recipients[0].address.to_string());
    assert_eq!(rcpt.as_deref(), Some("postmaster@mx.example.org"));
}

#[test]
fn sender_rejection_ends_the_transaction() {
    run(
        config(Mode::Smtp),
        r"
        S: 220
        C: EHLO c.example
        S~ 250
        C: MAIL FROM:<spammer@example.com>
        C: RCPT TO:<bob@example.org>
        R: BDAT 3 LAST\r\nabc
        C: NOOP
        !reject-sender 550 5.7.1 Sender rejected
        S: 550 5.7.1 Sender rejected
        S: 503 5.5.1 Need MAIL command
        S: 503 5.5.1 Need MAIL command
        S: 250 2.0.0 Ok
        ",
    );
}
