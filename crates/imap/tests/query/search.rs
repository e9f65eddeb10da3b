//! SEARCH: every search key imap-types knows, over the mailbox of `mailbox()`.

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::search::SearchKey;

use super::{Mailbox, Stored, inline, mailbox, march};
use mailstead_imap::message::ParsedMessage;
use mailstead_imap::query::{SearchContext, matches, needs_content};

/// The search keys of a `SEARCH` command line.
fn keys(command: &str) -> Vec<SearchKey<'static>> {
    let line = format!("{command}\r\n");
    let (_, command) = CommandCodec::default().decode_static(line.as_bytes()).unwrap();
    match command.body {
        CommandBody::Search { criteria, .. } => criteria.into_inner(),
        other => panic!("not a SEARCH: {other:?}"),
    }
}

#[test]
fn flags_and_keywords() {
    mailbox().check(&[
        ("A SEARCH ALL", "1 2 3 4 5 6 7"),
        ("A SEARCH ANSWERED", "2"),
        ("A SEARCH UNANSWERED", "1 3 4 5 6 7"),
        ("A SEARCH DELETED", "4"),
        ("A SEARCH UNDELETED", "1 2 3 5 6 7"),
        ("A SEARCH DRAFT", "5"),
        ("A SEARCH UNDRAFT", "1 2 3 4 6 7"),
        ("A SEARCH FLAGGED", "3 6"),
        ("A SEARCH UNFLAGGED", "1 2 4 5 7"),
        ("A SEARCH SEEN", "1 2 6"),
        ("A SEARCH UNSEEN", "3 4 5 7"),
        // No message is \Recent (RFC 9051 dropped it): NEW = RECENT UNSEEN, OLD = NOT RECENT.
        ("A SEARCH RECENT", ""),
        ("A SEARCH NEW", ""),
        ("A SEARCH OLD", "1 2 3 4 5 6 7"),
        // Keywords compare case-insensitively.
        ("A SEARCH KEYWORD work", "2 4"),
        ("A SEARCH KEYWORD WORK", "2 4"),
        ("A SEARCH UNKEYWORD work", "1 3 5 6 7"),
        ("A SEARCH KEYWORD $Forwarded", "1"),
        ("A SEARCH KEYWORD $junk", "4"),
        ("A SEARCH KEYWORD nothing", ""),
        ("A SEARCH UNKEYWORD nothing", "1 2 3 4 5 6 7"),
    ]);
}

#[test]
fn sequence_and_uid_sets() {
    mailbox().check(&[
        ("A SEARCH 2:4", "2 3 4"),
        ("A SEARCH 5:3", "3 4 5"),
        ("A SEARCH *", "7"),
        ("A SEARCH 6:*", "6 7"),
        ("A SEARCH *:6", "6 7"),
        ("A SEARCH 1,3,5:*", "1 3 5 6 7"),
        ("A SEARCH 9", ""),
        // Checked range by range, never expanded.
        ("A SEARCH 1:4294967295", "1 2 3 4 5 6 7"),
        ("A SEARCH 4294967295,2", "2"),
        ("A SEARCH UID 11:21", "2 3 4"),
        ("A SEARCH UID 22:20", "3 4 5"),
        ("A SEARCH UID 25:*", "7"),
        // RFC 9051 §6.4.8: "559:*" includes the highest UID even when it is below 559.
        ("A SEARCH UID 40:*", "7"),
        ("A SEARCH UID 12:19", ""),
        ("A SEARCH UID 1:4294967295", "1 2 3 4 5 6 7"),
        ("A UID SEARCH UID *", "30"),
        ("A UID SEARCH FLAGGED", "20 23"),
        ("A UID SEARCH 1:2", "10 11"),
        ("A SEARCH 2:3 UID 20:30", "3"),
    ]);
}

#[test]
fn dates_sizes_and_modseq() {
    mailbox().check(&[
        // Internal date, its calendar day in UTC.
        ("A SEARCH BEFORE 6-Mar-2025", "1 2 7"),
        ("A SEARCH BEFORE 1-Mar-2025", ""),
        ("A SEARCH ON 1-Mar-2025", "7"),
        ("A SEARCH ON 10-Mar-2025", "3"),
        ("A SEARCH ON 11-Mar-2025", "6"),
        ("A SEARCH SINCE 9-Mar-2025", "3 5 6"),
        ("A SEARCH SINCE 1-Jan-2026", ""),
        ("A SEARCH SINCE 4-Mar-2025 BEFORE 9-Mar-2025", "1 2 4"),
        // Date: header as written, in its own zone: message 6 was sent on the 10th at 23:30
        // -0800 (the 11th in UTC). Message 7 has no Date: and matches none of these.
        ("A SEARCH SENTON 10-Mar-2025", "6"),
        ("A SEARCH SENTON 11-Mar-2025", ""),
        ("A SEARCH SENTON 6-Mar-2025", "3"),
        ("A SEARCH SENTBEFORE 5-Mar-2025", "1"),
        ("A SEARCH SENTBEFORE 6-Mar-2025", "1 2"),
        ("A SEARCH SENTSINCE 8-Mar-2025", "4 5 6"),
        ("A SEARCH NOT SENTBEFORE 5-Mar-2025", "2 3 4 5 6 7"),
        // RFC 5032: OLDER/YOUNGER are inclusive; message 6 is 59340 seconds old.
        ("A SEARCH YOUNGER 59340", "6"),
        ("A SEARCH YOUNGER 59339", ""),
        ("A SEARCH OLDER 59340", "1 2 3 4 5 6 7"),
        ("A SEARCH OLDER 59341", "1 2 3 4 5 7"),
        ("A SEARCH YOUNGER 172800", "3 6"),
        // RFC822.SIZE, strictly larger / smaller.
        ("A SEARCH LARGER 322", "2 3 4 5"),
        ("A SEARCH LARGER 630", "3"),
        ("A SEARCH LARGER 64", "1 2 3 4 5 6 7"),
        ("A SEARCH SMALLER 327", "1 5 6 7"),
        ("A SEARCH SMALLER 65", ""),
        // RFC 7162 §3.1.5: MODSEQ is "greater than or equal"; the entry is ignored here.
        ("A SEARCH MODSEQ 12", "3 5 6 7"),
        ("A SEARCH MODSEQ 23", ""),
        ("A SEARCH MODSEQ \"/flags/\\\\draft\" all 20", "5 6 7"),
    ]);
}

#[test]
fn header_and_text_keys() {
    mailbox().check(&[
        ("A SEARCH FROM alice", "1"),
        ("A SEARCH FROM ALICE@EXAMPLE.ORG", "1"),
        // Decoded (RFC 2047) and case-insensitive beyond ASCII.
        ("A SEARCH FROM \"Jörg\"", "4"),
        ("A SEARCH FROM \"MÜLLER\"", "4"),
        ("A SEARCH FROM example", "1 2 3 4 5 6"),
        ("A SEARCH TO bob", "1 5"),
        ("A SEARCH TO \"André\"", "4"),
        ("A SEARCH CC bob", "6"),
        ("A SEARCH CC undisclosed", "5"),
        ("A SEARCH BCC hidden", "5"),
        ("A SEARCH BCC bob", ""),
        ("A SEARCH SUBJECT lunch", "1"),
        ("A SEARCH SUBJECT \"weekly DIGEST\"", "2"),
        ("A SEARCH SUBJECT \"grüße\"", "4"),
        ("A SEARCH SUBJECT \"\"", "1 2 3 4 5 6"),
        // BODY is the body only; TEXT adds the header.
        ("A SEARCH BODY lunch", "1"),
        ("A SEARCH BODY report", "3"),
        ("A SEARCH BODY attached", "3"),
        ("A SEARCH BODY \"plain version\"", "2"),
        ("A SEARCH BODY \"schöne\"", "4"),
        ("A SEARCH BODY Bob", "1"),
        ("A SEARCH BODY nothing-like-this", ""),
        ("A SEARCH TEXT alice", "1 6"),
        ("A SEARCH TEXT report", "3"),
        ("A SEARCH TEXT x-mailer", "7"),
        ("A SEARCH TEXT \"no date\"", "7"),
        // HEADER with an empty string: every message that has the field.
        ("A SEARCH HEADER Message-ID \"\"", "1 2 3 6"),
        ("A SEARCH HEADER X-Priority \"\"", "6"),
        ("A SEARCH HEADER x-priority 1", "6"),
        ("A SEARCH HEADER References digest-40", "2"),
        ("A SEARCH HEADER Message-ID report", "3"),
        ("A SEARCH HEADER X-Missing \"\"", ""),
    ]);
}

#[test]
fn boolean_combinations() {
    mailbox().check(&[
        ("A SEARCH OR FROM alice SUBJECT groups NOT SEEN", "5"),
        ("A SEARCH OR FROM alice SUBJECT \"hi\" NOT SEEN", ""),
        ("A SEARCH OR FROM alice SUBJECT \"hi\"", "1 6"),
        ("A SEARCH (SEEN FLAGGED)", "6"),
        ("A SEARCH NOT (SEEN FLAGGED)", "1 2 3 4 5 7"),
        ("A SEARCH OR (SEEN FLAGGED) DELETED", "4 6"),
        ("A SEARCH NOT NOT SEEN", "1 2 6"),
        ("A SEARCH OR OR ANSWERED DRAFT DELETED", "2 4 5"),
        ("A SEARCH SEEN ((UNFLAGGED) (NOT ANSWERED))", "1"),
        ("A SEARCH UNDELETED OR BODY lunch TEXT x-mailer", "1 7"),
        ("A SEARCH NOT OR 1 *", "2 3 4 5 6"),
        ("A SEARCH ALL NOT ALL", ""),
    ]);
}

#[test]
fn which_keys_need_the_message() {
    let cases = [
        ("A SEARCH ALL", false),
        ("A SEARCH SEEN UID 1:* 1:3 KEYWORD x", false),
        ("A SEARCH BEFORE 1-Jan-2025 ON 1-Jan-2025 SINCE 1-Jan-2025", false),
        ("A SEARCH LARGER 5 SMALLER 9 MODSEQ 3 OLDER 5 YOUNGER 9 NEW OLD RECENT", false),
        ("A SEARCH NOT (SEEN OR 1 DRAFT)", false),
        ("A SEARCH NOT (SEEN OR 1 SUBJECT x)", true),
        ("A SEARCH SENTON 1-Jan-2025", true),
        ("A SEARCH SENTBEFORE 1-Jan-2025", true),
        ("A SEARCH SENTSINCE 1-Jan-2025", true),
        ("A SEARCH OR SEEN HEADER x y", true),
        ("A SEARCH FROM a", true),
        ("A SEARCH TO a", true),
        ("A SEARCH CC a", true),
        ("A SEARCH BCC a", true),
        ("A SEARCH BODY a", true),
        ("A SEARCH TEXT a", true),
    ];
    for (command, expected) in cases {
        assert_eq!(needs_content(&keys(command)), expected, "{command}");
    }
}

#[test]
fn content_keys_without_a_message_do_not_match() {
    let mailbox = mailbox();
    let ctx = mailbox.context();
    let candidate = mailbox.candidate(0);
    assert!(!matches(&keys("A SEARCH FROM alice"), &candidate, None, &ctx));
    assert!(!matches(&keys("A SEARCH SENTON 4-Mar-2025"), &candidate, None, &ctx));
    assert!(matches(&keys("A SEARCH FROM alice"), &candidate, Some(&mailbox.parsed[0]), &ctx));
}

#[test]
fn empty_mailbox_star() {
    let mailbox = Mailbox::new(Vec::new(), 0);
    assert_eq!(mailbox.run("A SEARCH *"), "");
    assert_eq!(mailbox.run("A UID SEARCH 1:*"), "");
}

#[test]
fn sent_date_at_the_edges_of_a_day() {
    // The same instant written in two zones falls on two calendar dates.
    let messages = [
        "Date: Sat, 1 Mar 2025 00:30:00 +1400\n\nx\n",
        "Date: Fri, 28 Feb 2025 10:30:00 -0000\n\nx\n",
        "Date: Fri, 28 Feb 2025 23:59:59 -1200\n\nx\n",
        "Date: not a date\n\nx\n",
    ];
    let stored = messages
        .iter()
        .enumerate()
        .map(|(i, m)| Stored::new(i as u32 + 1, march(1, 12, 0), inline(m)))
        .collect();
    Mailbox::new(stored, 0).check(&[
        ("A SEARCH SENTON 1-Mar-2025", "1"),
        ("A SEARCH SENTON 28-Feb-2025", "2 3"),
        ("A SEARCH SENTSINCE 1-Mar-2025", "1"),
        ("A SEARCH SENTBEFORE 1-Mar-2025", "2 3"),
        ("A SEARCH NOT SENTON 28-Feb-2025", "1 4"),
        ("A SEARCH ON 1-Mar-2025", "1 2 3 4"),
    ]);
}

#[test]
fn keys_on_a_message_that_is_not_mail() {
    // Bytes that are no message at all still answer every key without panicking.
    let stored = vec![Stored::new(1, 0, b"\xff\xfe\x00garbage".to_vec()), Stored::new(2, 0, Vec::new())];
    let mailbox = Mailbox::new(stored, 0);
    mailbox.check(&[
        ("A SEARCH FROM x", ""),
        ("A SEARCH SENTBEFORE 1-Jan-2100", ""),
        ("A SEARCH HEADER Subject \"\"", ""),
        ("A SEARCH SMALLER 1", "2"),
    ]);
    let parsed = ParsedMessage::parse(b"");
    let ctx = SearchContext::default();
    assert!(!matches(&keys("A SEARCH BODY x"), &mailbox.candidate(1), Some(&parsed), &ctx));
}
