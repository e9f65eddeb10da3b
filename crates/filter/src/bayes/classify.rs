//! The arithmetic of the classifier: Gary Robinson's token probabilities combined with Fisher's
//! chi-square method, as SpamBayes and SpamAssassin's Bayes do. Pure functions of the counts.
//!
//! For each token, with `s` spam and `h` ham messages containing it among `S` spam and `H` ham
//! trained: `p = (s/S) / (s/S + h/H)`, then pulled toward 0.5 by the evidence it rests on,
//! `f = (STRENGTH * 0.5 + n * p) / (STRENGTH + n)` (Robinson's f(w)). The evidence `n` counts
//! messages as if both classes were as large as the smaller one, `n = s·m/S + h·m/H` with
//! `m = min(S, H)`: `p` already compares the classes by their rates, and a token missing from
//! 200 spam but seen in 14 of 1,100 ham is as sure as 2.5 sightings, not 14. Plain `n = s + h`
//! makes every word of the larger class (ham, for most accounts) look surer than it is, and
//! spam that talks about ordinary things drowns in them. The
//! [`MAX_DISCRIMINATORS`] tokens farthest from 0.5 (by at least [`MIN_DISTANCE`]) are combined:
//! `S' = 1 - C(-2 Σ ln(1 - f), 2k)` (evidence of spam), `H' = 1 - C(-2 Σ ln f, 2k)` (evidence of
//! ham), with `C` the chi-square survival function of `2k` degrees of freedom; the score is
//! `(1 + S' - H') / 2`. Scores near 1 are spam, near 0 ham, and near 0.5 mean either no
//! evidence or strong evidence both ways (the "unsure" middle).

use mailstead_store::model::SpamCounts;

/// Trained messages of *each* class an account needs before the classifier answers. Below
/// this the counts are too thin to trust and [`score`] returns `None`. (SpamAssassin waits
/// for 200 of each; SpamBayes answers from the first message. 50 lets an account that trains
/// through its Junk folder get an answer within weeks.)
pub const MIN_TRAINED: u64 = 50;

/// Robinson's `s`: how many messages' worth of weight the 0.5 prior has (SpamBayes: 0.45).
const STRENGTH: f64 = 0.45;
/// Tokens closer to 0.5 than this say nothing and are left out (SpamBayes: 0.1).
pub const MIN_DISTANCE: f64 = 0.1;
/// Most tokens combined (SpamBayes: 150).
pub const MAX_DISCRIMINATORS: usize = 150;

/// The spam probability of a message whose tokens have these counts, or `None` while the
/// account has trained fewer than [`MIN_TRAINED`] messages of either class.
pub fn score(counts: &SpamCounts) -> Option<f64> {
    let (spam_total, ham_total) = (counts.spam_messages, counts.ham_messages);
    if spam_total < MIN_TRAINED || ham_total < MIN_TRAINED {
        return None;
    }
    let mut clues: Vec<f64> = counts
        .tokens
        .iter()
        .filter(|c| c.spam > 0 || c.ham > 0)
        .map(|c| token_probability(c.spam, c.ham, spam_total, ham_total))
        .filter(|f| (f - 0.5).abs() >= MIN_DISTANCE)
        .collect();
    // Most extreme first; equal distances keep their (hash) order, so the result is stable.
    clues.sort_by(|a, b| (b - 0.5).abs().total_cmp(&(a - 0.5).abs()));
    clues.truncate(MAX_DISCRIMINATORS);
    Some(combine(&clues))
}

/// Robinson's f(w) of one token.
pub fn token_probability(spam: u32, ham: u32, spam_total: u64, ham_total: u64) -> f64 {
    let spam_ratio = (f64::from(spam) / spam_total as f64).min(1.0);
    let ham_ratio = (f64::from(ham) / ham_total as f64).min(1.0);
    let p = spam_ratio / (spam_ratio + ham_ratio);
    let smaller = spam_total.min(ham_total) as f64;
    let n = f64::from(spam) * smaller / spam_total as f64 + f64::from(ham) * smaller / ham_total as f64;
    (STRENGTH * 0.5 + n * p) / (STRENGTH + n)
}

/// Fisher's chi-square combining of token probabilities; 0.5 for none.
pub fn combine(probabilities: &[f64]) -> f64 {
    if probabilities.is_empty() {
        return 0.5;
    }
    // f lies in (0, 1) strictly (the prior keeps it off the ends), so the logarithms are finite.
    let ln_not_spam: f64 = probabilities.iter().map(|f| (1.0 - f).ln()).sum();
    let ln_spam: f64 = probabilities.iter().map(|f| f.ln()).sum();
    let dof = 2 * probabilities.len();
    let spamminess = 1.0 - chi2_survival(-2.0 * ln_not_spam, dof);
    let hamminess = 1.0 - chi2_survival(-2.0 * ln_spam, dof);
    ((1.0 + spamminess - hamminess) / 2.0).clamp(0.0, 1.0)
}

/// P(X ≥ x²) for a chi-square variable of `dof` (even) degrees of freedom: the series
/// `e^-m Σ m^i / i!` for `i < dof/2`, with `m = x²/2`.
fn chi2_survival(x2: f64, dof: usize) -> f64 {
    let m = x2 / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..dof / 2 {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailstead_store::model::TokenCounts;

    fn counts(tokens: &[(u32, u32)]) -> SpamCounts {
        SpamCounts {
            spam_messages: 100,
            ham_messages: 100,
            tokens: tokens.iter().map(|&(spam, ham)| TokenCounts { spam, ham }).collect(),
        }
    }

    #[test]
    fn needs_enough_training() {
        let mut c = counts(&[(10, 0)]);
        c.ham_messages = MIN_TRAINED - 1;
        assert_eq!(score(&c), None);
    }

    #[test]
    fn spammy_hammy_and_unknown() {
        let spam = score(&counts(&[(40, 0), (30, 1), (20, 0), (0, 0)])).unwrap();
        let ham = score(&counts(&[(0, 40), (1, 30), (0, 20)])).unwrap();
        let unknown = score(&counts(&[(0, 0), (5, 5)])).unwrap();
        assert!(spam > 0.99, "{spam}");
        assert!(ham < 0.01, "{ham}");
        assert!((unknown - 0.5).abs() < 1e-9, "{unknown}");
        let mixed = score(&counts(&[(40, 0), (30, 0), (0, 40), (0, 30)])).unwrap();
        assert!((mixed - 0.5).abs() < 0.05, "strong evidence both ways is unsure: {mixed}");
    }

    #[test]
    fn token_probability_follows_robinson() {
        assert!((token_probability(1, 0, 100, 100) - (0.225 + 1.0) / 1.45).abs() < 1e-12);
        assert!((token_probability(3, 3, 100, 100) - 0.5).abs() < 1e-12);
        // Class sizes are normalised: 10 of 100 spam vs 10 of 1000 ham is spammy.
        assert!(token_probability(10, 10, 100, 1000) > 0.85);
        // ... and so is the evidence: 0 of 100 spam and 20 of 1000 ham rests on 2 messages'
        // worth, as 0 of 100 and 2 of 100 would.
        assert!((token_probability(0, 20, 100, 1000) - token_probability(0, 2, 100, 100)).abs() < 1e-12);
        assert!((token_probability(0, 20, 100, 1000) - 0.225 / 2.45).abs() < 1e-12);
    }

    #[test]
    fn chi2_is_a_probability() {
        assert!((chi2_survival(0.0, 4) - 1.0).abs() < 1e-12);
        // For 2 degrees of freedom the survival function is e^(-x/2).
        assert!((chi2_survival(3.0, 2) - (-1.5f64).exp()).abs() < 1e-12);
        assert!(chi2_survival(2000.0, 300) < 1e-100);
    }
}
