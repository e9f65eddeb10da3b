//! THREAD: ORDEREDSUBJECT and REFERENCES (RFC 5256 §3) on hand-built conversations, with the
//! expected `* THREAD` data written out by hand from the RFC's steps.

use super::{Mailbox, Stored, inline, mailbox, march};

/// One inline message: its header lines and the day and hour in March 2025 it was sent.
type Spec<'a> = (&'a str, i64, i64);

/// A mailbox of inline messages. UIDs are 10 × the sequence number; internal dates are the sent
/// dates.
fn conversation(messages: &[Spec<'_>]) -> Mailbox {
    let stored = messages
        .iter()
        .enumerate()
        .map(|(i, (header, day, hour))| {
            let date = march(*day, *hour, 0);
            let date_line = format!("Date: {} Mar 2025 {hour:02}:00:00 +0000", day);
            let raw = inline(&format!("{date_line}\n{header}\n\nbody\n"));
            Stored::new(10 * (i as u32 + 1), date, raw)
        })
        .collect();
    Mailbox::new(stored, 0)
}

/// Nine messages: a discussion (1-4), a topic with a reply linked by subject only (5, 8), two
/// replies to a message that is not in the mailbox (6, 7), and one without subject or ids (9).
fn discussion() -> Mailbox {
    conversation(&[
        ("Message-ID: <a@x>\nSubject: Plans", 1, 10),
        ("Message-ID: <b@x>\nReferences: <a@x>\nSubject: Re: Plans", 1, 11),
        ("Message-ID: <c@x>\nReferences: <a@x> <b@x>\nSubject: Re: Plans", 1, 13),
        ("Message-ID: <d@x>\nIn-Reply-To: <a@x>\nSubject: RE: plans", 1, 12),
        ("Message-ID: <e@x>\nSubject: Other", 2, 9),
        ("Message-ID: <f@x>\nIn-Reply-To: <missing@x>\nSubject: Re: Lost", 2, 11),
        ("Message-ID: <g@x>\nReferences: <missing@x>\nSubject: Re: Lost", 2, 10),
        ("Message-ID: <h@x>\nSubject: Re: Other", 3, 8),
        ("X-Note: nothing to thread on", 4, 0),
    ])
}

#[test]
fn references_on_a_discussion() {
    discussion().check(&[
        // 1 has two replies, 2 (with reply 3) and 4, sorted by date. 8 is tied to 5 by subject
        // alone (a reply below the non-reply). 6 and 7 share a missing parent: a dummy with two
        // children stays, as a nested list without a number. 9 is alone.
        ("A THREAD REFERENCES UTF-8 ALL", "(1 (2 3)(4))(5 8)((7)(6))(9)"),
        ("A UID THREAD REFERENCES UTF-8 ALL", "(10 (20 30)(40))(50 80)((70)(60))(90)"),
        // Threading only what the search selected: without 1, its replies 2 and 4 hang below a
        // dummy for <a@x>, which stays because it has two children.
        ("A THREAD REFERENCES UTF-8 NOT 1", "((2 3)(4))(5 8)((7)(6))(9)"),
        // The dummy for <missing@x> with one child (7) is replaced by that child.
        ("A THREAD REFERENCES UTF-8 7", "(7)"),
        ("A THREAD REFERENCES UTF-8 NOT ALL", ""),
    ]);
}

#[test]
fn ordered_subject_on_a_discussion() {
    discussion().check(&[
        // Runs of one base subject, by date; the first message is the parent of the rest;
        // threads ordered by their first message. 9 has the empty base subject.
        ("A THREAD ORDEREDSUBJECT UTF-8 ALL", "(1 (2)(4)(3))(5 8)(7 6)(9)"),
        ("A UID THREAD ORDEREDSUBJECT UTF-8 ALL", "(10 (20)(40)(30))(50 80)(70 60)(90)"),
        ("A THREAD ORDEREDSUBJECT UTF-8 1:2", "(1 2)"),
    ]);
}

#[test]
fn subject_merging_rules() {
    let cases: [(&[Spec<'_>], &str); 6] = [
        // Both replies (5.C "otherwise"): siblings under a new dummy.
        (&[("Subject: Re: Party", 1, 0), ("Subject: Fwd: Party", 2, 0)], "((1)(2))"),
        // Neither is a reply: the same.
        (&[("Subject: Party", 1, 0), ("Subject: party", 2, 0)], "((1)(2))"),
        // The non-reply holds the table (5.B) and the older reply goes below it (5.C).
        (&[("Subject: Re: Party", 1, 0), ("Subject: Party", 2, 0)], "(2 1)"),
        // A dummy (two replies to a missing message) holds the table; the message joins it.
        (
            &[
                ("References: <gone@x>\nSubject: Re: Trip", 1, 0),
                ("References: <gone@x>\nSubject: Re: Trip", 2, 0),
                ("Subject: Trip", 3, 0),
            ],
            "((1)(2)(3))",
        ),
        // Two dummies with the same subject: their children become siblings.
        (
            &[
                ("References: <gone1@x>\nSubject: Re: Trip", 1, 0),
                ("References: <gone2@x>\nSubject: Re: Trip", 2, 0),
                ("References: <gone1@x>\nSubject: Re: Trip", 3, 0),
                ("References: <gone2@x>\nSubject: Re: Trip", 4, 0),
            ],
            "((1)(2)(3)(4))",
        ),
        // Empty base subjects are never merged.
        (&[("Subject: Re:", 1, 0), ("Subject: Re:", 2, 0), ("X-None: 1", 3, 0)], "(1)(2)(3)"),
    ];
    for (messages, expected) in cases {
        conversation(messages).check(&[("A THREAD REFERENCES UTF-8 ALL", expected)]);
    }
}

#[test]
fn reference_links_follow_rfc_5256_step_1() {
    let cases: [(&str, &[Spec<'_>], &str); 6] = [
        (
            "references to each other: the second link would be a loop",
            &[
                ("Message-ID: <a@x>\nReferences: <b@x>\nSubject: A", 1, 0),
                ("Message-ID: <b@x>\nReferences: <a@x>\nSubject: B", 2, 0),
            ],
            "(2 1)",
        ),
        (
            "a message referencing itself",
            &[("Message-ID: <a@x>\nReferences: <a@x>\nSubject: A", 1, 0)],
            "(1)",
        ),
        (
            "a duplicate Message-ID belongs to the first message",
            &[
                ("Message-ID: <dup@x>\nSubject: X", 1, 0),
                ("Message-ID: <dup@x>\nSubject: Y", 2, 0),
                ("Message-ID: <r@x>\nReferences: <dup@x>\nSubject: Z", 3, 0),
            ],
            "(1 3)(2)",
        ),
        (
            "a message without references ends up without a parent (step 1.B)",
            &[
                ("Message-ID: <a@x>\nSubject: A", 1, 0),
                ("Message-ID: <c@x>\nReferences: <a@x> <b@x>\nSubject: C", 2, 0),
                ("Message-ID: <b@x>\nSubject: B", 3, 0),
            ],
            "(1)(3 2)",
        ),
        (
            "an earlier link is replaced by the message's own last reference",
            &[
                ("Message-ID: <a@x>\nSubject: A", 1, 0),
                ("Message-ID: <b@x>\nSubject: B", 1, 1),
                ("Message-ID: <d@x>\nReferences: <a@x> <c@x>\nSubject: D", 1, 2),
                ("Message-ID: <c@x>\nReferences: <b@x>\nSubject: C", 1, 3),
            ],
            "(1)(2 4 3)",
        ),
        (
            "a chain through missing messages keeps its order, the dummies vanish",
            &[
                ("Message-ID: <a@x>\nSubject: A", 1, 0),
                ("Message-ID: <d@x>\nReferences: <a@x> <b@x> <c@x>\nSubject: D", 1, 1),
                ("Message-ID: <e@x>\nReferences: <a@x> <b@x>\nSubject: E", 1, 2),
            ],
            "(1 (2)(3))",
        ),
    ];
    for (what, messages, expected) in cases {
        let got = conversation(messages).run("A THREAD REFERENCES UTF-8 ALL");
        assert_eq!(got, expected, "{what}");
    }
}

#[test]
fn thread_on_the_test_messages() {
    // alternative.eml replies to digest-41, which is not here: a dummy with one child, pruned.
    mailbox().check(&[
        ("A THREAD REFERENCES UTF-8 ALL", "(7)(1)(2)(3)(4)(5)(6)"),
        ("A THREAD ORDEREDSUBJECT UTF-8 ALL", "(7)(1)(2)(3)(4)(5)(6)"),
    ]);
}

#[test]
fn long_chains_and_deep_branching_stay_bounded() {
    // 3000 messages, each replying to the previous one: one chain, rendered flat.
    let raws: Vec<String> = (1..=3000)
        .map(|i| match i {
            1 => "Message-ID: <m1@x>\nSubject: chain".to_string(),
            _ => format!("Message-ID: <m{i}@x>\nIn-Reply-To: <m{}@x>\nSubject: Re: chain", i - 1),
        })
        .collect();
    let messages: Vec<Spec<'_>> = raws.iter().map(|r| (r.as_str(), 1, 0)).collect();
    let chain = conversation(&messages).run("A THREAD REFERENCES UTF-8 ALL");
    let expected: Vec<String> = (1..=3000).map(|i| i.to_string()).collect();
    assert_eq!(chain, format!("({})", expected.join(" ")));

    // A spine of 400 messages, each with a second, leaf reply: 400 levels of branching,
    // nested up to MAX_THREAD_DEPTH and listed flat below that.
    let mut raws = vec!["Message-ID: <s1@x>\nSubject: spine".to_string()];
    for i in 2..=400 {
        raws.push(format!("Message-ID: <s{i}@x>\nIn-Reply-To: <s{}@x>\nSubject: Re: spine", i - 1));
        raws.push(format!("Message-ID: <l{i}@x>\nIn-Reply-To: <s{}@x>\nSubject: Re: spine", i - 1));
    }
    let messages: Vec<Spec<'_>> = raws.iter().map(|r| (r.as_str(), 1, 0)).collect();
    let tree = conversation(&messages).run("A THREAD REFERENCES UTF-8 ALL");
    let depth = tree.chars().fold((0usize, 0usize), |(now, max), c| match c {
        '(' => (now + 1, max.max(now + 1)),
        ')' => (now - 1, max),
        _ => (now, max),
    });
    assert_eq!(depth.0, 0);
    assert_eq!(depth.1, mailstead_imap::query::MAX_THREAD_DEPTH + 1);
    let mut ids: Vec<u32> =
        tree.split(['(', ')', ' ']).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=799).collect::<Vec<u32>>());

    // A References field of 20000 ids costs no more than the last MAX_REFERENCES of them.
    let many: String = (0..20_000).map(|i| format!("<r{i}@x> ")).collect();
    let raws =
        ["Message-ID: <r19999@x>\nSubject: top".to_string(), format!("References: {many}\nSubject: Re: top")];
    let messages: Vec<Spec<'_>> = raws.iter().map(|r| (r.as_str(), 1, 0)).collect();
    assert_eq!(conversation(&messages).run("A THREAD REFERENCES UTF-8 ALL"), "(1 2)");
}
