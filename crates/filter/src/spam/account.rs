//! Rules of one recipient account: what its own statistical classifier thinks of the message
//! (trained on the mail the user filed into and out of Junk) and whether the sender is a known
//! correspondent. These differ per recipient, so they are added to the message-wide report
//! once per account.

use super::Hit;

/// The classifier's probability as a hit, in bands like SpamAssassin's `BAYES_nn` rules:
/// confident verdicts weigh more, and a confident "ham" takes points away. From 0.90, the
/// classifier's own spam cut-off (SpamBayes's default), the band alone reaches the default
/// junk threshold; below it, other rules must agree. `None` (the account
/// has not trained enough yet) adds nothing.
pub fn bayes_hit(probability: Option<f64>) -> Option<Hit> {
    let p = probability?;
    let (rule, score) = match p {
        p if p >= 0.99 => ("BAYES_99", 6.0),
        p if p >= 0.90 => ("BAYES_90", 5.0),
        p if p >= 0.80 => ("BAYES_80", 3.0),
        p if p >= 0.60 => ("BAYES_60", 1.5),
        p if p > 0.40 => ("BAYES_50", 0.0),
        p if p > 0.20 => ("BAYES_20", -0.5),
        p if p > 0.05 => ("BAYES_05", -1.0),
        _ => ("BAYES_00", -2.0),
    };
    Some(Hit::new(rule, score, format!("spam probability {p:.3}")))
}

/// A sender this account corresponds with. Only counted when the sender's address is
/// authenticated (DMARC pass, or SPF pass for the envelope sender), so it cannot be forged.
pub fn known_correspondent_hit(sender: &str) -> Hit {
    Hit::new("KNOWN_CORRESPONDENT", -5.0, format!("{sender} is a known correspondent"))
}
