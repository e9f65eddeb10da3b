//! Body phrase rules: the sales pitch, the get-rich promise and the advance-fee ("419") story
//! that spam has told for decades, in the spirit of SpamAssassin's body rules. Each rule
//! counts distinct phrases from its list (so one innocent "click here" costs nothing) and
//! fires at a minimum count; shouting (a body mostly in capitals) is its own rule.
//!
//! Input is the decoded text of the message (plain parts, and HTML with tags removed), lower
//! case for matching; at most [`super::content::MAX_SCAN`] bytes per part are seen.

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

/// The phrase rules for `text` (any case).
pub fn hits(text: &str) -> Vec<Hit> {
    // The phrases are ASCII: an ASCII lower-casing is enough and costs one cheap pass.
    let lower = text.to_ascii_lowercase();
    let mut hits = Vec::new();
    let count = |list: &[&'static str]| -> Vec<&'static str> {
        list.iter().copied().filter(|p| lower.contains(p)).collect()
    };
    let fee = count(ADVANCE_FEE);
    if fee.len() >= 3 {
        hits.push(Hit::new("ADVANCE_FEE", 1.0 + fee.len().min(6) as f64 * 0.5, listed(&fee)));
    }
    let money = count(MONEY_PROMISE);
    if money.len() >= 2 {
        hits.push(Hit::new("MONEY_PROMISE", 1.5 + (money.len() - 2).min(3) as f64 * 0.5, listed(&money)));
    }
    let pitch = count(PITCH);
    if pitch.len() >= 3 {
        hits.push(Hit::new("SALES_PITCH", 1.0 + (pitch.len() - 3).min(4) as f64 * 0.5, listed(&pitch)));
    }
    let (mut letters, mut upper) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        upper += usize::from(c.is_uppercase());
    }
    if letters >= 200 && upper * 2 > letters {
        hits.push(Hit::new("BODY_SHOUTING", 1.5, format!("{upper} of {letters} letters in capitals")));
    }
    hits
}

fn listed(phrases: &[&str]) -> String {
    phrases.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(", ")
}
