//! Transcripts of hostile and broken clients: long lines, NUL bytes, bare LF, garbage,
//! error floods, command injection around STLS, input floods while the session waits, and
//! connections that end without QUIT (which must delete nothing).

use mailstead_proto::pop3::{Action, AuthVerdict, Session, SessionConfig};

use crate::transcript::{config, config_stls, maildrop, run};

#[test]
fn overlong_line_is_refused_and_skipped() {
    let long = "A".repeat(600);
    run(
        config(),
        &format!(
            "
            C: {long}
            S: -ERR Line too long
            C: QUIT
            S* +OK
            E: close
            "
        ),
    );
}

#[test]
fn ten_megabytes_without_a_line_end_cost_no_memory() {
    let mut session = Session::new(config());
    let chunk = vec![b'x'; 64 * 1024];
    let mut replies = 0;
    for _ in 0..160 {
        for action in session.feed(&chunk) {
            if let Action::Reply(r) = action {
                assert_eq!(r.to_bytes(), b"-ERR Line too long\r\n");
                replies += 1;
            }
        }
        assert!(session.buffered_len() <= 512, "{}", session.buffered_len());
    }
    assert_eq!(replies, 1);
    let out = session.feed(b"\r\nQUIT\r\n");
    assert!(matches!(out.last(), Some(Action::Close)));
}

#[test]
fn nul_and_control_characters() {
    run(
        config(),
        r"
        R: US\0ER alice\r\n
        S: -ERR Invalid characters in command
        R: STAT\x01\r\n
        S: -ERR Invalid characters in command
        R: \xff\xfe\r\n
        S: -ERR Invalid characters in command
        ",
    );
}

#[test]
fn bare_lf_commands_are_accepted() {
    run(
        config(),
        r"
        R: USER alice@example.org\nPASS secret\nSTAT\n
        S: +OK Send PASS
        E: auth UserPass alice@example.org
        S* +OK Logged in
        S: +OK 3 122
        ",
    );
}

#[test]
fn too_many_errors_close_the_session() {
    run(
        config(),
        "
        C: ONE
        C: TWO
        C: THREE
        C: FOUR
        C: FIVE
        C: SIX
        S: -ERR Unknown command
        S: -ERR Unknown command
        S: -ERR Unknown command
        S: -ERR Unknown command
        S: -ERR Unknown command
        S: -ERR Too many errors, closing connection
        E: close
        ",
    );
}

#[test]
fn password_guessing_closes_after_max_errors() {
    let mut script = String::new();
    for _ in 0..4 {
        script.push_str(
            "
            C: USER alice@example.org
            S: +OK Send PASS
            C: PASS guess
            E: auth UserPass alice@example.org
            S: -ERR [AUTH] Invalid user name or password
            ",
        );
    }
    script.push_str(
        "
        C: USER alice@example.org
        S: +OK Send PASS
        C: PASS guess
        E: auth UserPass alice@example.org
        S: -ERR [AUTH] Invalid user name or password
        S: -ERR Too many errors, closing connection
        E: close
        ",
    );
    run(config(), &script);
}

#[test]
fn commands_pipelined_after_stls_are_discarded() {
    // CVE-2011-0411 class: the USER/PASS sent in the same packet as STLS must not run inside TLS.
    run(
        config_stls(),
        "
        C: STLS
        C: USER alice@example.org
        C: PASS secret
        S: +OK Begin TLS negotiation
        E: starttls
        C: STAT
        S: -ERR Command not valid before login
        ",
    );
}

#[test]
fn user_before_stls_is_forgotten() {
    let cfg = SessionConfig { plaintext_auth_allowed: true, stls_offered: true, ..config() };
    run(
        cfg,
        "
        C: USER alice@example.org
        S: +OK Send PASS
        C: STLS
        S: +OK Begin TLS negotiation
        E: starttls
        C: PASS secret
        S: -ERR Send USER first
        ",
    );
}

#[test]
fn plaintext_pass_without_tls_is_refused() {
    run(
        config_stls(),
        "
        C: PASS secret
        S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections: use STLS first
        C: AUTH LOGIN
        S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections: use STLS first
        C: AUTH
        S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections: use STLS first
        ",
    );
    let no_tls_at_all = SessionConfig { stls_offered: false, ..config_stls() };
    run(
        no_tls_at_all,
        "
        C: USER alice@example.org
        S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections
        ",
    );
}

#[test]
fn overlong_sasl_response_ends_the_exchange() {
    let long = "Q".repeat(600);
    run(
        config(),
        &format!(
            "
            C: AUTH PLAIN
            S: +
            C: {long}
            S: -ERR Line too long
            C: STAT
            S: -ERR Command not valid before login
            "
        ),
    );
}

#[test]
fn garbage_pipelined_with_commands() {
    run(
        config(),
        r"
        R: \x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\nGET / HTTP/1.1\r\nUSER alice@example.org\r\n
        S: -ERR Invalid characters in command
        S: -ERR Unknown command
        S: +OK Send PASS
        ",
    );
}

#[test]
fn dropped_connection_deletes_nothing() {
    // A session that deletes and then stops (drop, timeout or shutdown) never asks for Update.
    for end in ["drop", "timeout", "shutdown"] {
        let mut s = Session::new(config());
        let mut actions = s.feed(b"USER alice@example.org\r\nPASS secret\r\n");
        assert!(actions.iter().any(|a| matches!(a, Action::Authenticate { .. })));
        actions = s.auth_verdict(AuthVerdict::Ok { user: "alice@example.org".into(), maildrop: maildrop() });
        actions.extend(s.feed(b"DELE 1\r\nDELE 2\r\n"));
        actions.extend(match end {
            "timeout" => s.timeout(),
            "shutdown" => s.shutdown(),
            _ => Vec::new(),
        });
        assert!(!actions.iter().any(|a| matches!(a, Action::Update { .. })), "{end}: {actions:?}");
        if end == "timeout" {
            // RFC 1939 §3: the autologout closes without any response.
            assert!(matches!(actions.last(), Some(Action::Close)));
            assert_eq!(actions.iter().filter(|a| matches!(a, Action::Reply(_))).count(), 3);
        }
        if end == "shutdown" {
            let last_reply = actions.iter().rev().find_map(|a| match a {
                Action::Reply(r) => Some(r.to_bytes()),
                _ => None,
            });
            assert_eq!(
                last_reply.as_deref(),
                Some(&b"-ERR [SYS/TEMP] Server shutting down, try again later\r\n"[..])
            );
        }
    }
}

#[test]
fn shutdown_waits_for_a_quit_in_progress() {
    let mut s = Session::new(config());
    s.feed(b"USER a@example.org\r\nPASS secret\r\n");
    s.auth_verdict(AuthVerdict::Ok { user: "a@example.org".into(), maildrop: maildrop() });
    let actions = s.feed(b"DELE 1\r\nQUIT\r\n");
    assert!(matches!(actions.last(), Some(Action::Update { .. })));
    assert!(s.shutdown().is_empty());
    let done = s.update_done(mailstead_proto::pop3::UpdateResult::Done { remaining: 2 });
    assert!(matches!(done.last(), Some(Action::Close)));
    assert_eq!(done.iter().filter(|a| matches!(a, Action::Reply(_))).count(), 1);
}

#[test]
fn input_flood_while_waiting_is_bounded() {
    let mut s = Session::new(config());
    let actions = s.feed(b"USER a@example.org\r\nPASS secret\r\n");
    assert!(s.is_waiting(), "{actions:?}");
    let flood = b"NOOP\r\n".repeat(50_000);
    let mut closed = false;
    for _ in 0..5 {
        closed |= s.feed(&flood).iter().any(|a| matches!(a, Action::Close));
    }
    assert!(closed);
    assert!(s.buffered_len() <= 512);
}

#[test]
fn answers_out_of_turn_are_ignored() {
    let mut s = Session::new(config());
    assert!(s.auth_verdict(AuthVerdict::Failed).is_empty());
    assert!(s.fetched(mailstead_proto::pop3::FetchResult::Gone).is_empty());
    assert!(s.update_done(mailstead_proto::pop3::UpdateResult::Failed).is_empty());
    assert!(s.tls_started().is_empty());
}
