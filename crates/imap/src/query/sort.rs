//! SORT (RFC 5256 §3) with the DISPLAYFROM and DISPLAYTO keys of RFC 5957.
//!
//! Each message's keys are computed once, then the indices are sorted; messages equal on every
//! criterion keep mailbox order (sequence number), as RFC 5256 §3 requires.

use std::cmp::Ordering;

use imap_types::extensions::sort::{SortCriterion, SortKey};

use super::Candidate;
use crate::message::{AddressKey, ParsedMessage};

/// Whether sorting by `criteria` needs the message bytes: ARRIVAL and SIZE come from the
/// index, every other key from the header.
pub fn sort_needs_content(criteria: &[SortCriterion]) -> bool {
    criteria.iter().any(|criterion| !matches!(criterion.key, SortKey::Arrival | SortKey::Size))
}

/// Sorts `items` by `criteria` and returns their indices in sorted order. A header key of an item
/// without a [`ParsedMessage`] sorts as if the header were missing.
pub fn sort(criteria: &[SortCriterion], items: &[(Candidate<'_>, Option<&ParsedMessage>)]) -> Vec<usize> {
    let keys: Vec<Vec<Key>> = items
        .iter()
        .map(|(candidate, message)| criteria.iter().map(|c| key(&c.key, candidate, *message)).collect())
        .collect();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        for (i, criterion) in criteria.iter().enumerate() {
            let ordering = keys[a][i].cmp(&keys[b][i]);
            // RFC 5256 §3: REVERSE reverses the one criterion that follows it.
            let ordering = if criterion.reverse { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        // RFC 5256 §3: "sorted according to the order in which they appear in the mailbox".
        items[a].0.seq.cmp(&items[b].0.seq)
    });
    order
}

/// One criterion's value for one message. All values of one criterion have the same variant.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Number(i128),
    Text(String),
}

fn key(key: &SortKey, c: &Candidate<'_>, message: Option<&ParsedMessage>) -> Key {
    // RFC 5256 §3: FROM, TO and CC compare the addr-mailbox of the first address with the
    // i;ascii-casemap collation; a missing header or address is the empty string.
    let mailbox = |address: Option<&AddressKey>| {
        Key::Text(address.and_then(|a| a.mailbox.as_deref()).unwrap_or_default().to_ascii_uppercase())
    };
    // RFC 5957 §3: the display name, else the address, compared with i;unicode-casemap (we
    // approximate it by Unicode lower-casing).
    let display = |address: Option<&AddressKey>| {
        Key::Text(address.map(AddressKey::display).unwrap_or_default().to_lowercase())
    };
    match key {
        SortKey::Arrival => Key::Number(i128::from(c.internal_date)),
        SortKey::Size => Key::Number(i128::from(c.size)),
        // RFC 5256 §2.2 (sent date): the Date: header in UTC, else the internal date.
        SortKey::Date => Key::Number(i128::from(sent_date(c, message))),
        // RFC 5256 §3: the base subject (§2.1), i;ascii-casemap.
        SortKey::Subject => {
            Key::Text(message.map(ParsedMessage::subject_base).unwrap_or_default().to_ascii_uppercase())
        }
        SortKey::From => mailbox(message.and_then(ParsedMessage::first_from)),
        SortKey::To => mailbox(message.and_then(ParsedMessage::first_to)),
        SortKey::Cc => mailbox(message.and_then(ParsedMessage::first_cc)),
        SortKey::DisplayFrom => display(message.and_then(ParsedMessage::first_from)),
        SortKey::DisplayTo => display(message.and_then(ParsedMessage::first_to)),
    }
}

/// The sent date of RFC 5256 §2.2: the Date: header normalised to UTC, or the internal date when
/// the header is missing or cannot be parsed.
pub(crate) fn sent_date(c: &Candidate<'_>, message: Option<&ParsedMessage>) -> i64 {
    message.and_then(ParsedMessage::sent_date).unwrap_or(c.internal_date)
}
