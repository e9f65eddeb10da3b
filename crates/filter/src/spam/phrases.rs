//! Body phrase rules: the sales pitch, the get-rich promise and the advance-fee ("419") story
//! that spam has told for decades, in the spirit of SpamAssassin's body rules. Each rule
//! counts distinct phrases from its list (so one innocent "click here" costs nothing) and
//! fires at a minimum count; shouting (a body mostly in capitals) is its own rule.
//!
//! Input is the decoded text of the message (plain parts, and HTML with tags removed), at most
//! [`super::content::PHRASE_SCAN`] bytes of it; phrases are lower case and match without regard
//! to ASCII case.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, Input, MatchKind};

use super::Hit;

/// Advance-fee fraud: a stranger's fortune that needs your account.
const ADVANCE_FEE: &[&str] = &[
    "urgent assistance",
    "next of kin",
    "foreign account",
    "foreign partner",
    "transfer of the fund",
    "transfer the fund",
    "million united states dollars",
    "million us dollars",
    "(us$",
    "beneficiary",
    "strictly confidential",
    "late father",
    "deposited in",
    "security company",
    "your assistance",
    "barrister",
    "god bless you",
];

/// Promises of easy money.
const MONEY_PROMISE: &[&str] = &[
    "earn $",
    "make $",
    "a year as",
    "financial freedom",
    "extra income",
    "work from home",
    "from the comfort of your",
    "be your own boss",
    "make money",
    "making money",
    "cash bonus",
    "income opportunity",
    "home based business",
    "get paid",
    "dirty little secret",
    "no experience",
];

/// The sales pitch of bulk mail.
const PITCH: &[&str] = &[
    "100% free",
    "risk free",
    "risk-free",
    "no obligation",
    "act now",
    "limited time",
    "order now",
    "order today",
    "click here",
    "special offer",
    "satisfaction guaranteed",
    "money back",
    "lowest price",
    "call now",
    "don't delete",
    "this is not spam",
    "you have been selected",
    "to be removed",
    "remove you from",
    "removed from our list",
    "unsubscribe from this list",
    "once in a lifetime",
    "as seen on",
    "buy direct",
    "wholesale",
];

/// The three phrase lists in one automaton, matched in a single pass over the lower-cased
/// text (rather than one pass per phrase).
struct Lists {
    /// `None` only if the automaton could not be built (it is made of the constant lists
    /// below, so never in practice); the phrase rules then find nothing.
    matcher: Option<AhoCorasick>,
}

/// Which list a pattern of the automaton came from: patterns are numbered list after list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    AdvanceFee,
    MoneyPromise,
    Pitch,
}

impl Lists {
    fn get() -> &'static Lists {
        static LISTS: OnceLock<Lists> = OnceLock::new();
        LISTS.get_or_init(|| {
            let patterns = ADVANCE_FEE.iter().chain(MONEY_PROMISE).chain(PITCH);
            let matcher = AhoCorasick::builder().match_kind(MatchKind::LeftmostFirst).build(patterns);
            if let Err(e) = &matcher {
                tracing::error!(error = %e, "the spam phrase rules are off: cannot build their automaton");
            }
            Lists { matcher: matcher.ok() }
        })
    }

    fn phrase(index: usize) -> (List, &'static str) {
        let money = ADVANCE_FEE.len();
        let pitch = money + MONEY_PROMISE.len();
        match index {
            i if i < money => (List::AdvanceFee, ADVANCE_FEE[i]),
            i if i < pitch => (List::MoneyPromise, MONEY_PROMISE[i - money]),
            i => (List::Pitch, PITCH[i - pitch]),
        }
    }

    /// The distinct phrases that occur in `text`, with their lists, in list order.
    ///
    /// Every occurrence is found, overlapping ones too: each search starts one octet after the
    /// start of the previous match. That is exact because no phrase contains another (a unit
    /// test holds the lists to it), so matches are found in the order they start. A
    /// leftmost search, unlike an overlapping one, skips ahead with the automaton's prefilter.
    fn found(&self, text: &str) -> Vec<(List, &'static str)> {
        let Some(matcher) = &self.matcher else { return Vec::new() };
        let mut seen = vec![false; ADVANCE_FEE.len() + MONEY_PROMISE.len() + PITCH.len()];
        let lower = text.to_ascii_lowercase();
        let mut at = 0;
        while let Some(m) = matcher.find(Input::new(&lower).span(at..lower.len())) {
            if let Some(slot) = seen.get_mut(m.pattern().as_usize()) {
                *slot = true;
            }
            at = m.start() + 1;
        }
        seen.iter().enumerate().filter(|(_, s)| **s).map(|(i, _)| Self::phrase(i)).collect()
    }
}

/// The phrase rules for `text` (any case).
pub fn hits(text: &str) -> Vec<Hit> {
    let found = Lists::get().found(text);
    let count = |list: List| -> Vec<&'static str> {
        found.iter().filter(|(l, _)| *l == list).map(|(_, p)| *p).collect()
    };
    let mut hits = Vec::new();
    let fee = count(List::AdvanceFee);
    if fee.len() >= 3 {
        hits.push(Hit::new("ADVANCE_FEE", 1.0 + fee.len().min(6) as f64 * 0.5, listed(&fee)));
    }
    let money = count(List::MoneyPromise);
    if money.len() >= 2 {
        hits.push(Hit::new("MONEY_PROMISE", 1.5 + (money.len() - 2).min(3) as f64 * 0.5, listed(&money)));
    }
    let pitch = count(List::Pitch);
    if pitch.len() >= 3 {
        hits.push(Hit::new("SALES_PITCH", 1.0 + (pitch.len() - 3).min(4) as f64 * 0.5, listed(&pitch)));
    }
    let (letters, upper) = letter_counts(text);
    if letters >= 200 && upper * 2 > letters {
        hits.push(Hit::new("BODY_SHOUTING", 1.5, format!("{upper} of {letters} letters in capitals")));
    }
    hits
}

/// Letters in `text`, and how many of them are capitals (any script). Runs of ASCII, most of
/// any mail, are counted by [`ascii_letter_counts`]; other characters one by one.
fn letter_counts(text: &str) -> (usize, usize) {
    let (mut letters, mut upper) = (0usize, 0usize);
    let mut rest = text;
    while !rest.is_empty() {
        let ascii =
            if rest.is_ascii() { rest.len() } else { rest.bytes().position(|b| !b.is_ascii()).unwrap_or(0) };
        let (run, tail) = rest.split_at(ascii);
        let (l, u) = ascii_letter_counts(run.as_bytes());
        letters += l;
        upper += u;
        let mut chars = tail.chars();
        if let Some(c) = chars.next()
            && c.is_alphabetic()
        {
            letters += 1;
            upper += usize::from(c.is_uppercase());
        }
        rest = chars.as_str();
    }
    (letters, upper)
}

/// Letters and capitals in ASCII `bytes`, counted in one-octet lanes over blocks of 255 (so no
/// lane overflows), which the compiler turns into wide vector adds: a 16 KiB text took about
/// 20 µs counted byte by byte into machine words.
fn ascii_letter_counts(bytes: &[u8]) -> (usize, usize) {
    let (mut letters, mut upper) = (0usize, 0usize);
    for block in bytes.chunks(255) {
        let (mut l, mut u) = (0u8, 0u8);
        for &b in block {
            l += u8::from((b | 0x20).wrapping_sub(b'a') < 26);
            u += u8::from(b.wrapping_sub(b'A') < 26);
        }
        letters += usize::from(l);
        upper += usize::from(u);
    }
    (letters, upper)
}

fn listed(phrases: &[&str]) -> String {
    phrases.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letter_counts_agree_with_counting_char_by_char() {
        let naive = |t: &str| {
            let letters = t.chars().filter(|c| c.is_alphabetic()).count();
            (letters, t.chars().filter(|c| c.is_alphabetic() && c.is_uppercase()).count())
        };
        // Every ASCII octet, in runs longer than a block, then mixed with other scripts.
        let ascii: String = (0u8..128).map(char::from).cycle().take(1000).collect();
        let mixed = format!("{ascii}ΑΒΓ δε Ωmega ÉCOLE école 中文 {ascii}Ünïcödé");
        for text in ["", "X", "@[`{", ascii.as_str(), mixed.as_str(), &"ΠΡΟΣΟΧΗ ".repeat(40)] {
            assert_eq!(letter_counts(text), naive(text), "{text:?}");
        }
    }

    /// [`Lists::found`] relies on it: no phrase contains another, and all are lower case.
    #[test]
    fn no_phrase_contains_another() {
        let all: Vec<&str> = ADVANCE_FEE.iter().chain(MONEY_PROMISE).chain(PITCH).copied().collect();
        for (i, a) in all.iter().enumerate() {
            assert_eq!(*a, a.to_ascii_lowercase(), "phrases are lower case");
            for (j, b) in all.iter().enumerate() {
                assert!(i == j || !b.contains(a), "{a:?} is inside {b:?}");
            }
        }
    }
}
