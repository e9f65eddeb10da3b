//! Transcripts of ordinary POP3 dialogues: every command of RFC 1939, CAPA (RFC 2449), STLS
//! (RFC 2595), AUTH (RFC 5034), and each of their error replies.

use mailstead_proto::pop3::{Expire, SessionConfig};

use crate::transcript::{config, config_stls, run};

/// USER/PASS then the common part of every logged-in test.
const LOGIN: &str = "
    C: USER alice@example.org
    S: +OK Send PASS
    C: PASS secret
    E: auth UserPass alice@example.org
    S: +OK Logged in: maildrop has 3 messages (122 octets)
";

fn logged_in(script: &str) {
    run(config(), &format!("{LOGIN}{script}"));
}

#[test]
fn greeting_and_quit_in_authorization() {
    let r = run(
        config(),
        "
        C: QUIT
        S: +OK pop.example.org Mailstead POP3 server signing off
        E: close
        ",
    );
    assert!(r.session.is_closed() && r.session.user().is_none());
}

#[test]
fn greeting_text() {
    let r = run(config(), "");
    assert_eq!(r.wire, b"+OK pop.example.org Mailstead POP3 server ready\r\n");
}

#[test]
fn stat_list_uidl() {
    logged_in(
        "
        C: STAT
        S: +OK 3 122
        C: LIST
        S: +OK 3 messages (122 octets)
        S: 1 70
        S: 2 22
        S: 3 30
        S: .
        C: LIST 2
        S: +OK 2 22
        C: UIDL
        S: +OK 3 messages (122 octets)
        S: 1 000000045F000001
        S: 2 000000075F000001
        S: 3 000000095F000001
        S: .
        C: UIDL 3
        S: +OK 3 000000095F000001
        ",
    );
}

#[test]
fn retr_is_byte_stuffed_with_octet_count() {
    logged_in(
        "
        C: RETR 1
        E: fetch 4
        S: +OK 70 octets
        S: From: a@example.org
        S: Subject: one
        S:
        S: Hello
        S: ..dot line
        S: ...two
        S: ..
        S: end
        S: .
        ",
    );
}

#[test]
fn top_sends_header_and_n_lines() {
    logged_in(
        "
        C: TOP 3 0
        E: fetch 9
        S: +OK Top of message follows
        S: Subject: three
        S:
        S: .
        C: TOP 3 2
        E: fetch 9
        S: +OK Top of message follows
        S: Subject: three
        S:
        S: l1
        S: l2
        S: .
        C: TOP 2 100
        E: fetch 7
        S: +OK Top of message follows
        S: Subject: two
        S:
        S: body
        S: .
        ",
    );
}

#[test]
fn dele_marks_and_quit_applies() {
    logged_in(
        "
        C: DELE 2
        S: +OK Message 2 deleted
        C: STAT
        S: +OK 2 100
        C: LIST
        S: +OK 2 messages (100 octets)
        S: 1 70
        S: 3 30
        S: .
        C: LIST 2
        S: -ERR Message already deleted
        C: UIDL 2
        S: -ERR Message already deleted
        C: RETR 2
        S: -ERR Message already deleted
        C: TOP 2 1
        S: -ERR Message already deleted
        C: DELE 2
        S: -ERR Message already deleted
        C: RETR 3
        E: fetch 9
        S* +OK 30 octets
        S: Subject: three
        S:
        S: l1
        S: l2
        S: l3
        S: .
        C: QUIT
        E: update expunge=[7] seen=[9]
        S: +OK pop.example.org Mailstead POP3 server signing off (2 messages left)
        E: close
        ",
    );
}

#[test]
fn rset_undoes_deletions() {
    logged_in(
        "
        C: DELE 1
        S: +OK Message 1 deleted
        C: DELE 3
        S: +OK Message 3 deleted
        C: RSET
        S: +OK Maildrop has 3 messages (122 octets)
        C: NOOP
        S: +OK
        C: QUIT
        E: update expunge=[] seen=[]
        S: +OK pop.example.org Mailstead POP3 server signing off (3 messages left)
        E: close
        ",
    );
}

#[test]
fn retrieved_then_deleted_is_not_marked_seen() {
    logged_in(
        "
        C: RETR 2
        E: fetch 7
        S: +OK 22 octets
        S: Subject: two
        S:
        S: body
        S: .
        C: DELE 2
        S: +OK Message 2 deleted
        C: TOP 1 0
        E: fetch 4
        S: +OK Top of message follows
        S: From: a@example.org
        S: Subject: one
        S:
        S: .
        C: QUIT
        E: update expunge=[7] seen=[]
        S* +OK
        E: close
        ",
    );
}

#[test]
fn quit_when_the_update_fails() {
    logged_in(
        "
        C: DELE 1
        S: +OK Message 1 deleted
        !update failed
        C: QUIT
        E: update expunge=[4] seen=[]
        S: -ERR [SYS/TEMP] Some deleted messages not removed; try again later
        E: close
        ",
    );
}

#[test]
fn message_number_errors() {
    logged_in(
        "
        C: RETR 0
        S: -ERR No such message, only 3 messages in maildrop
        C: RETR 4
        S: -ERR No such message, only 3 messages in maildrop
        C: LIST x
        S: -ERR Invalid message number
        C: DELE -1
        S: -ERR Invalid message number
        C: TOP 1 -1
        S: -ERR Syntax: TOP msg n (n a non-negative number)
        ",
    );
}

#[test]
fn syntax_errors() {
    logged_in(
        "
        C: RETR
        S: -ERR Syntax: RETR msg
        C: TOP 1
        S: -ERR Syntax: TOP msg n
        C: LIST 1 2
        S: -ERR Syntax: LIST [msg]
        C: STAT now
        S: -ERR Syntax: STAT
        ",
    );
}

#[test]
fn fetch_failures() {
    logged_in(
        "
        !fetch gone
        C: RETR 1
        E: fetch 4
        S: -ERR Message was removed by another session
        !fetch temp
        C: TOP 1 0
        E: fetch 4
        S: -ERR [SYS/TEMP] Cannot read the message now; try again later
        C: QUIT
        E: update expunge=[] seen=[]
        S* +OK
        E: close
        ",
    );
}

#[test]
fn commands_are_case_insensitive() {
    run(
        config(),
        "
        C: user alice@example.org
        S: +OK Send PASS
        C: pass secret
        E: auth UserPass alice@example.org
        S* +OK Logged in
        C: stat
        S: +OK 3 122
        C: uIdL 1
        S: +OK 1 000000045F000001
        ",
    );
}

#[test]
fn wrong_state_commands() {
    run(
        config(),
        "
        C: STAT
        S: -ERR Command not valid before login
        C: RETR 1
        S: -ERR Command not valid before login
        C: NOOP
        S: -ERR Command not valid before login
        C: PASS secret
        S: -ERR Send USER first
        ",
    );
    logged_in(
        "
        C: USER bob@example.org
        S: -ERR Command not valid after login
        C: PASS x
        S: -ERR Command not valid after login
        C: AUTH PLAIN
        S: -ERR Command not valid after login
        C: STLS
        S: -ERR Command not valid after login
        ",
    );
}

#[test]
fn unknown_and_apop() {
    run(
        config(),
        "
        C: XYZZY
        S: -ERR Unknown command
        C: APOP alice 0123456789abcdef0123456789abcdef
        S: -ERR APOP not supported: use USER/PASS or AUTH
        ",
    );
}

#[test]
fn wrong_password_then_right_one() {
    run(
        config(),
        "
        C: USER alice@example.org
        S: +OK Send PASS
        C: PASS wrong
        E: auth UserPass alice@example.org
        S: -ERR [AUTH] Invalid user name or password
        C: PASS secret
        S: -ERR Send USER first
        C: USER alice@example.org
        S: +OK Send PASS
        C: PASS secret
        E: auth UserPass alice@example.org
        S* +OK Logged in
        ",
    );
}

#[test]
fn password_may_contain_spaces() {
    run(
        config(),
        "
        C: USER alice@example.org
        S: +OK Send PASS
        C: PASS correct horse battery
        E: auth UserPass alice@example.org
        S: -ERR [AUTH] Invalid user name or password
        ",
    );
}

#[test]
fn auth_verdicts_carry_response_codes() {
    run(
        config(),
        "
        !auth throttled
        C: USER alice@example.org
        C: PASS secret
        S: +OK Send PASS
        E: auth UserPass alice@example.org
        S: -ERR [AUTH] Too many failed logins; try again later
        !auth in-use
        C: USER alice@example.org
        C: PASS secret
        S: +OK Send PASS
        E: auth UserPass alice@example.org
        S: -ERR [IN-USE] Maildrop is in use by another session; try again later
        !auth login-delay
        C: USER alice@example.org
        C: PASS secret
        S: +OK Send PASS
        E: auth UserPass alice@example.org
        S: -ERR [LOGIN-DELAY] Logged in too recently; wait before checking again
        ",
    );
    run(
        config(),
        "
        !auth temp
        C: USER alice@example.org
        C: PASS secret
        S: +OK Send PASS
        E: auth UserPass alice@example.org
        S: -ERR [SYS/TEMP] Temporary failure; try again later
        ",
    );
}

#[test]
fn capa_before_and_after_login() {
    let with_policy =
        SessionConfig { expire: Some(Expire::Days(30)), login_delay_secs: Some(300), ..config() };
    run(
        with_policy,
        "
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: USER
        S: SASL PLAIN LOGIN
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: EXPIRE 30
        S: LOGIN-DELAY 300
        S: IMPLEMENTATION Mailstead
        S: .
        C: USER alice@example.org
        S: +OK Send PASS
        C: PASS secret
        E: auth UserPass alice@example.org
        S* +OK Logged in
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: EXPIRE 30
        S: LOGIN-DELAY 300
        S: IMPLEMENTATION Mailstead
        S: .
        ",
    );
    run(
        SessionConfig { expire: Some(Expire::Never), ..config() },
        "
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: USER
        S: SASL PLAIN LOGIN
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: EXPIRE NEVER
        S: IMPLEMENTATION Mailstead
        S: .
        ",
    );
}

#[test]
fn stls_then_login() {
    run(
        config_stls(),
        "
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: STLS
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: IMPLEMENTATION Mailstead
        S: .
        C: USER alice@example.org
        S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections: use STLS first
        C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==
        S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections: use STLS first
        C: STLS
        S: +OK Begin TLS negotiation
        E: starttls
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: USER
        S: SASL PLAIN LOGIN
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: IMPLEMENTATION Mailstead
        S: .
        C: STLS
        S: -ERR TLS already active
        C: USER alice@example.org
        S: +OK Send PASS
        C: PASS secret
        E: auth UserPass alice@example.org
        S* +OK Logged in
        ",
    );
}

#[test]
fn stls_not_offered() {
    run(
        config(),
        "
        C: STLS
        S: -ERR STLS not available
        ",
    );
}

#[test]
fn implicit_tls_allows_passwords() {
    let tls = SessionConfig { tls_active: true, ..config_stls() };
    let r = run(
        tls,
        "
        C: USER alice@example.org
        S: +OK Send PASS
        C: PASS secret
        E: auth UserPass alice@example.org
        S* +OK Logged in
        ",
    );
    assert_eq!(r.session.user(), Some("alice@example.org"));
    assert!(r.session.in_transaction());
}

#[test]
fn auth_plain_with_and_without_initial_response() {
    // base64("\0alice@example.org\0secret")
    run(
        config(),
        "
        C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==
        E: auth Plain alice@example.org
        S* +OK Logged in
        ",
    );
    run(
        config(),
        "
        C: AUTH PLAIN
        S: +
        C: AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==
        E: auth Plain alice@example.org
        S* +OK Logged in
        ",
    );
}

#[test]
fn auth_login() {
    run(
        config(),
        "
        C: AUTH LOGIN
        S: + VXNlcm5hbWU6
        C: YWxpY2VAZXhhbXBsZS5vcmc=
        S: + UGFzc3dvcmQ6
        C: c2VjcmV0
        E: auth Login alice@example.org
        S* +OK Logged in
        ",
    );
    run(
        config(),
        "
        C: AUTH LOGIN YWxpY2VAZXhhbXBsZS5vcmc=
        S: + UGFzc3dvcmQ6
        C: d3Jvbmc=
        E: auth Login alice@example.org
        S: -ERR [AUTH] Invalid user name or password
        ",
    );
}

#[test]
fn auth_errors() {
    run(
        config(),
        "
        C: AUTH
        S: +OK Supported SASL mechanisms:
        S: PLAIN
        S: LOGIN
        S: .
        C: AUTH CRAM-MD5
        S: -ERR Unsupported authentication mechanism
        C: AUTH PLAIN
        S: +
        C: *
        S: -ERR Authentication cancelled
        C: AUTH PLAIN !!!notbase64
        S: -ERR Invalid base64 data
        C: AUTH PLAIN YWxpY2U=
        S: -ERR Invalid SASL response
        ",
    );
    run(
        config(),
        "
        # authzid bob, authcid alice: acting as someone else is refused
        C: AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==
        S: -ERR [AUTH] Authorization identity not permitted
        ",
    );
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    run(
        config(),
        "
        C: USER alice@example.org
        C: PASS secret
        C: STAT
        C: RETR 2
        C: DELE 2
        C: UIDL
        C: QUIT
        S: +OK Send PASS
        E: auth UserPass alice@example.org
        S* +OK Logged in
        S: +OK 3 122
        E: fetch 7
        S: +OK 22 octets
        S: Subject: two
        S:
        S: body
        S: .
        S: +OK Message 2 deleted
        S: +OK 2 messages (100 octets)
        S: 1 000000045F000001
        S: 3 000000095F000001
        S: .
        E: update expunge=[7] seen=[]
        S* +OK
        E: close
        ",
    );
}

#[test]
fn empty_maildrop_listing() {
    logged_in(
        "
        C: DELE 1
        S: +OK Message 1 deleted
        C: DELE 2
        S: +OK Message 2 deleted
        C: DELE 3
        S: +OK Message 3 deleted
        C: STAT
        S: +OK 0 0
        C: LIST
        S: +OK 0 messages (0 octets)
        S: .
        ",
    );
}
