//! Table tests of `mailstead_imap::query` (SEARCH, SORT, THREAD) that read like a session: each
//! case is a client command decoded by imap-codec, run over a small mailbox of real messages
//! (`testdata/*.eml` and inline ones), and compared with the untagged response's numbers.
#![allow(clippy::unwrap_used)]

mod search;
mod sort;
mod thread;

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::search::SearchKey;
use mailstead_imap::message::ParsedMessage;
use mailstead_imap::query::{
    Candidate, SearchContext, ThreadAlgorithm, matches, needs_content, sort, sort_needs_content, thread,
};
use mailstead_types::{Flag, Flags};

/// 2025-03-01 00:00:00 UTC.
const MARCH_1: i64 = 1_740_787_200;

/// Seconds since the epoch of a moment in March 2025, UTC.
fn march(day: i64, hour: i64, minute: i64) -> i64 {
    MARCH_1 + (day - 1) * 86_400 + hour * 3_600 + minute * 60
}

/// One stored message: what the index knows, and its bytes.
struct Stored {
    uid: u32,
    flags: Flags,
    keywords: Vec<String>,
    modseq: u64,
    internal_date: i64,
    raw: Vec<u8>,
}

impl Stored {
    fn new(uid: u32, internal_date: i64, raw: Vec<u8>) -> Stored {
        Stored { uid, flags: Flags::EMPTY, keywords: Vec::new(), modseq: 1, internal_date, raw }
    }

    fn flags(mut self, flags: &[Flag]) -> Stored {
        self.flags = flags.iter().copied().collect();
        self
    }

    fn keywords(mut self, keywords: &[&str]) -> Stored {
        self.keywords = keywords.iter().map(|k| k.to_string()).collect();
        self
    }

    fn modseq(mut self, modseq: u64) -> Stored {
        self.modseq = modseq;
        self
    }
}

/// A selected mailbox: messages in sequence order, parsed once.
struct Mailbox {
    stored: Vec<Stored>,
    parsed: Vec<ParsedMessage>,
    now: i64,
}

impl Mailbox {
    fn new(stored: Vec<Stored>, now: i64) -> Mailbox {
        let parsed = stored.iter().map(|s| ParsedMessage::parse(&s.raw)).collect();
        Mailbox { stored, parsed, now }
    }

    fn candidate(&self, index: usize) -> Candidate<'_> {
        let s = &self.stored[index];
        Candidate {
            seq: u32::try_from(index + 1).unwrap(),
            uid: s.uid,
            flags: s.flags,
            keywords: &s.keywords,
            modseq: s.modseq,
            internal_date: s.internal_date,
            size: s.raw.len() as u64,
        }
    }

    fn context(&self) -> SearchContext {
        SearchContext {
            max_seq: u32::try_from(self.stored.len()).unwrap(),
            max_uid: self.stored.iter().map(|s| s.uid).max().unwrap_or(0),
            now: self.now,
        }
    }

    /// The indices of the messages matching `keys`, handing over the parsed message only when
    /// `needs_content` asks for it (as the server will).
    fn hits(&self, keys: &[SearchKey<'_>]) -> Vec<usize> {
        let content = needs_content(keys);
        let ctx = self.context();
        (0..self.stored.len())
            .filter(|&i| matches(keys, &self.candidate(i), content.then(|| &self.parsed[i]), &ctx))
            .collect()
    }

    fn id(&self, index: usize, uid: bool) -> u32 {
        if uid { self.stored[index].uid } else { u32::try_from(index + 1).unwrap() }
    }

    /// Runs a SEARCH, SORT or THREAD command line and returns the response's data: the numbers
    /// of `* SEARCH` / `* SORT` separated by spaces, or the thread lists of `* THREAD`.
    fn run(&self, command: &str) -> String {
        let line = format!("{command}\r\n");
        let (rest, command) = CommandCodec::default().decode(line.as_bytes()).unwrap();
        assert!(rest.is_empty());
        let numbers = |ids: Vec<u32>| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
        match command.body {
            CommandBody::Search { criteria, uid, .. } => {
                numbers(self.hits(criteria.as_ref()).into_iter().map(|i| self.id(i, uid)).collect())
            }
            CommandBody::Sort { sort_criteria, search_criteria, uid, .. } => {
                let hits = self.hits(search_criteria.as_ref());
                let content = sort_needs_content(sort_criteria.as_ref());
                let items: Vec<_> =
                    hits.iter().map(|&i| (self.candidate(i), content.then(|| &self.parsed[i]))).collect();
                let order = sort(sort_criteria.as_ref(), &items);
                numbers(order.into_iter().map(|k| self.id(hits[k], uid)).collect())
            }
            CommandBody::Thread { algorithm, search_criteria, uid, .. } => {
                let algorithm = ThreadAlgorithm::from_imap(&algorithm).unwrap();
                let hits = self.hits(search_criteria.as_ref());
                let items: Vec<_> = hits.iter().map(|&i| (self.candidate(i), &self.parsed[i])).collect();
                thread(algorithm, &items, uid).iter().map(ToString::to_string).collect()
            }
            other => panic!("not a query: {other:?}"),
        }
    }

    /// Runs each (command, expected response data) case and reports every mismatch at once.
    fn check(&self, cases: &[(&str, &str)]) {
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(command, expected)| {
                let got = self.run(command);
                (got != *expected).then(|| format!("{command}\n  expected: {expected}\n  got:      {got}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// An inline message: `\n` line ends become CRLF.
fn inline(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

/// The mailbox most SEARCH and SORT cases run on. Sizes: 1: 322, 2: 630, 3: 1021, 4: 399,
/// 5: 326, 6: 208, 7: 65 octets.
///
/// | seq | uid | flags            | keywords       | modseq | internal date (UTC) | Date: header          |
/// |-----|-----|------------------|----------------|--------|---------------------|-----------------------|
/// | 1   | 10  | Seen             | $Forwarded     | 5      | Mar 4 09:16         | Mar 4 10:15 +0100     |
/// | 2   | 11  | Seen Answered    | Work           | 7      | Mar 5 08:01         | Mar 5 08:00 +0000     |
/// | 3   | 20  | Flagged          |                | 12     | Mar 10 12:00 (late) | Mar 6 12:00 -0500     |
/// | 4   | 21  | Deleted          | work $Junk     | 3      | Mar 8 13:31         | Mar 8 14:30 +0100     |
/// | 5   | 22  | Draft            |                | 20     | Mar 9 10:01         | Mar 9 10:00 +0000     |
/// | 6   | 23  | Seen Flagged     |                | 21     | Mar 11 07:31        | Mar 10 23:30 -0800    |
/// | 7   | 30  |                  |                | 22     | Mar 1 00:00         | none                  |
///
/// "Now" is Mar 12 00:00 UTC.
fn mailbox() -> Mailbox {
    let late = inline(
        "From: Eve <eve@example.net>\nTo: alice@example.org\nCc: Bob <bob@example.com>\n\
         Subject: Late night hi\nDate: Mon, 10 Mar 2025 23:30:00 -0800\n\
         Message-ID: <late@example.net>\nX-Priority: 1\n\nhi there, alice\n",
    );
    let stored = vec![
        Stored::new(10, march(4, 9, 16), testdata("simple.eml"))
            .flags(&[Flag::Seen])
            .keywords(&["$Forwarded"])
            .modseq(5),
        Stored::new(11, march(5, 8, 1), testdata("alternative.eml"))
            .flags(&[Flag::Seen, Flag::Answered])
            .keywords(&["Work"])
            .modseq(7),
        Stored::new(20, march(10, 12, 0), testdata("mixed-attachment.eml"))
            .flags(&[Flag::Flagged])
            .modseq(12),
        Stored::new(21, march(8, 13, 31), testdata("qp-utf8.eml"))
            .flags(&[Flag::Deleted])
            .keywords(&["work", "$Junk"])
            .modseq(3),
        Stored::new(22, march(9, 10, 1), testdata("groups.eml")).flags(&[Flag::Draft]).modseq(20),
        Stored::new(23, march(11, 7, 31), late).flags(&[Flag::Seen, Flag::Flagged]).modseq(21),
        Stored::new(30, march(1, 0, 0), testdata("missing-headers.eml")).modseq(22),
    ];
    Mailbox::new(stored, march(12, 0, 0))
}
