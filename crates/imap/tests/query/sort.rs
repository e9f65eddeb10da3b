//! SORT: each criterion of RFC 5256 §3 and RFC 5957, REVERSE, several criteria, and ties.
//!
//! Per message of `mailbox()`: base subject, first From / To / Cc mailbox, display names.
//!
//! | seq | subject base     | from     | to     | cc  | DISPLAYFROM      | DISPLAYTO          |
//! |-----|------------------|----------|--------|-----|------------------|--------------------|
//! | 1   | Lunch on Friday? | alice    | bob    |     | Alice Example    | Bob                |
//! | 2   | Weekly digest    | news     | reader |     | news@example.net | reader@example.com |
//! | 3   | Report attached  | carol    | dave   |     | Carol            | dave@example.com   |
//! | 4   | Grüße aus Köln   | joerg    | andre  |     | Jörg Müller      | André              |
//! | 5   | Groups           | john.doe | ann    |     | Doe, John        | ann@example.com    |
//! | 6   | Late night hi    | eve      | alice  | bob | Eve              | alice@example.org  |
//! | 7   |                  |          |        |     |                  |                    |

use super::{Mailbox, Stored, inline, mailbox, march};

#[test]
fn single_criteria() {
    mailbox().check(&[
        // Internal date: 7 (Mar 1), 1, 2, 4, 5, 3 (arrived late, Mar 10), 6.
        ("A SORT (ARRIVAL) UTF-8 ALL", "7 1 2 4 5 3 6"),
        // Sent date; 7 has no Date: and sorts by its internal date (Mar 1).
        ("A SORT (DATE) UTF-8 ALL", "7 1 2 3 4 5 6"),
        ("A SORT (SIZE) UTF-8 ALL", "7 6 1 5 4 2 3"),
        // i;ascii-casemap on the base subject: "GROUPS" < "GRüßE..." (byte order after ASCII
        // upper-casing), the empty subject first.
        ("A SORT (SUBJECT) UTF-8 ALL", "7 5 4 6 1 3 2"),
        ("A SORT (FROM) UTF-8 ALL", "7 1 3 6 4 5 2"),
        // The first To of message 5 is the first member of its group (ann).
        ("A SORT (TO) UTF-8 ALL", "7 6 4 5 1 3 2"),
        // Only message 6 has a Cc address; all others tie and keep mailbox order.
        ("A SORT (CC) UTF-8 ALL", "1 2 3 4 5 7 6"),
        ("A SORT (DISPLAYFROM) UTF-8 ALL", "7 1 3 5 6 4 2"),
        ("A SORT (DISPLAYTO) UTF-8 ALL", "7 6 4 5 1 3 2"),
    ]);
}

#[test]
fn reverse_and_several_criteria() {
    mailbox().check(&[
        ("A SORT (REVERSE ARRIVAL) UTF-8 ALL", "6 3 5 4 2 1 7"),
        ("A SORT (REVERSE DATE) UTF-8 ALL", "6 5 4 3 2 1 7"),
        ("A SORT (REVERSE SIZE) UTF-8 ALL", "3 2 4 5 1 6 7"),
        ("A SORT (REVERSE SUBJECT) UTF-8 ALL", "2 3 1 6 4 5 7"),
        ("A SORT (REVERSE FROM) UTF-8 ALL", "2 5 4 6 3 1 7"),
        // Ties still keep ascending mailbox order under REVERSE.
        ("A SORT (REVERSE CC) UTF-8 ALL", "6 1 2 3 4 5 7"),
        // The second criterion orders what the first leaves tied.
        ("A SORT (CC REVERSE ARRIVAL) UTF-8 ALL", "3 5 4 2 1 7 6"),
        ("A SORT (CC SIZE) UTF-8 ALL", "7 1 5 4 2 3 6"),
        ("A SORT (REVERSE CC REVERSE SIZE) UTF-8 ALL", "6 3 2 4 5 1 7"),
        // The search criteria select first.
        ("A SORT (SIZE) UTF-8 UNSEEN", "7 5 4 3"),
        ("A SORT (REVERSE DATE) UTF-8 OR FROM alice FROM eve", "6 1"),
        ("A UID SORT (SIZE) UTF-8 ALL", "30 23 10 22 21 11 20"),
        ("A UID SORT (DATE) UTF-8 UID 20:*", "30 20 21 22 23"),
        ("A SORT (SUBJECT) UTF-8 NOT ALL", ""),
    ]);
}

#[test]
fn subject_ties_fall_back_to_later_criteria_then_mailbox_order() {
    let messages = [
        ("Re: [list] Plans", march(3, 0, 0)),
        ("plans", march(2, 0, 0)),
        ("Fwd: PLANS (fwd)", march(2, 0, 0)),
        ("Agenda", march(9, 0, 0)),
        ("Re: agenda", march(1, 0, 0)),
    ];
    let stored = messages
        .iter()
        .enumerate()
        .map(|(i, (subject, date))| {
            let raw = inline(&format!("Subject: {subject}\n\nx\n"));
            Stored::new(i as u32 + 1, *date, raw)
        })
        .collect();
    Mailbox::new(stored, 0).check(&[
        ("A SORT (SUBJECT) UTF-8 ALL", "4 5 1 2 3"),
        // Without Date: headers, DATE is the internal date; 2 and 3 tie and keep mailbox order.
        ("A SORT (SUBJECT DATE) UTF-8 ALL", "5 4 2 3 1"),
        ("A SORT (SUBJECT REVERSE DATE) UTF-8 ALL", "4 5 1 2 3"),
        ("A SORT (REVERSE SUBJECT DATE) UTF-8 ALL", "2 3 1 5 4"),
    ]);
}
