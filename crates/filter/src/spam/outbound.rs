//! Outbound scoring: what our own users submit is scored with the same content rules plus
//! rate anomalies, so a compromised account or a hacked web form is caught before the
//! Internet blocklists us. At or above the hold threshold the submission layer keeps the
//! message in the queue, held, and tells the postmaster instead of sending it.
//!
//! Rate anomalies compare the last hour of one sender with its own history: a sender that
//! usually sends a handful of messages an hour and suddenly sends hundreds is suspicious even
//! when each message looks harmless. The history is kept in memory (hourly buckets over the
//! last week), so a restart forgets it and only the absolute limits apply until it rebuilds.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::{Hit, Report, content};

/// Hours of history kept per sender.
const HISTORY_HOURS: usize = 7 * 24;

/// Limits of outbound scoring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutboundPolicy {
    /// From this score a message is held.
    pub hold_threshold: f64,
    /// A sender's messages in the last hour beyond which the rate rule fires, whatever its
    /// history (a floor, so new accounts are not held for a first newsletter of 30 mails).
    pub min_hourly_messages: u32,
    /// The rate rule fires when the last hour exceeds this many times the sender's usual hour.
    pub burst_factor: f64,
    /// Distinct recipients in the last hour beyond which the recipient rule fires.
    pub max_hourly_recipients: u32,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        OutboundPolicy {
            hold_threshold: 8.0,
            min_hourly_messages: 50,
            burst_factor: 10.0,
            max_hourly_recipients: 500,
        }
    }
}

/// One sender's counts in one hour.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    hour: i64,
    messages: u32,
    recipients: u32,
}

/// Per-sender hourly counts. Share it between sessions.
#[derive(Debug, Default)]
pub struct RateTracker {
    senders: Mutex<HashMap<String, VecDeque<Bucket>>>,
}

/// A sender's recent activity, including the message being scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity {
    /// Messages in the current hour.
    pub messages_this_hour: u32,
    /// Recipients in the current hour.
    pub recipients_this_hour: u32,
    /// Mean messages per hour over the earlier hours of the history that had any mail.
    pub usual_hourly: f64,
}

impl RateTracker {
    /// An empty tracker.
    pub fn new() -> RateTracker {
        RateTracker::default()
    }

    /// Counts one message of `sender` to `recipients` recipients at `now` (Unix seconds) and
    /// returns the sender's activity.
    pub fn record(&self, sender: &str, recipients: u32, now: i64) -> Activity {
        let hour = now.div_euclid(3600);
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        let buckets = senders.entry(sender.to_ascii_lowercase()).or_default();
        while buckets.front().is_some_and(|b| b.hour <= hour - HISTORY_HOURS as i64) {
            buckets.pop_front();
        }
        if buckets.back().is_none_or(|b| b.hour != hour) {
            buckets.push_back(Bucket { hour, ..Bucket::default() });
        }
        if let Some(current) = buckets.back_mut() {
            current.messages = current.messages.saturating_add(1);
            current.recipients = current.recipients.saturating_add(recipients);
        }
        let earlier: Vec<&Bucket> = buckets.iter().filter(|b| b.hour != hour).collect();
        let usual_hourly = if earlier.is_empty() {
            0.0
        } else {
            earlier.iter().map(|b| f64::from(b.messages)).sum::<f64>() / earlier.len() as f64
        };
        let current = buckets.back().copied().unwrap_or_default();
        Activity {
            messages_this_hour: current.messages,
            recipients_this_hour: current.recipients,
            usual_hourly,
        }
    }

    /// Forgets senders with no mail in the history window (call now and then).
    pub fn prune(&self, now: i64) {
        let oldest = now.div_euclid(3600) - HISTORY_HOURS as i64;
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        senders.retain(|_, buckets| buckets.back().is_some_and(|b| b.hour > oldest));
    }
}

/// What to do with a submitted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundVerdict {
    /// Send it.
    Send,
    /// Keep it in the queue, held, and tell the postmaster.
    Hold,
}

/// The rate rules for `activity`.
pub fn rate_hits(activity: &Activity, policy: &OutboundPolicy) -> Vec<Hit> {
    let mut hits = Vec::new();
    let now = f64::from(activity.messages_this_hour);
    if activity.messages_this_hour > policy.min_hourly_messages
        && now > policy.burst_factor * activity.usual_hourly
    {
        hits.push(Hit::new(
            "OUT_RATE_BURST",
            6.0,
            format!(
                "{} messages this hour, usually {:.1} an hour",
                activity.messages_this_hour, activity.usual_hourly
            ),
        ));
    }
    if activity.recipients_this_hour > policy.max_hourly_recipients {
        hits.push(Hit::new(
            "OUT_MANY_RECIPIENTS",
            4.0,
            format!("{} recipients this hour", activity.recipients_this_hour),
        ));
    }
    hits
}

/// Scores a submitted message: the content rules plus the rate rules.
pub fn score(
    message: &[u8],
    activity: &Activity,
    policy: &OutboundPolicy,
    now: i64,
) -> (Report, OutboundVerdict) {
    let mut report = Report::default();
    report.extend(content::analyze(message, now).hits);
    report.extend(rate_hits(activity, policy));
    let verdict =
        if report.score() >= policy.hold_threshold { OutboundVerdict::Hold } else { OutboundVerdict::Send };
    (report, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    #[test]
    fn a_burst_against_the_senders_own_history_is_held() {
        let tracker = RateTracker::new();
        let policy = OutboundPolicy::default();
        // A week of 3 messages an hour.
        for h in 0..(HISTORY_HOURS as i64 - 1) {
            for _ in 0..3 {
                tracker.record("Alice@example.test", 1, T0 + h * 3600);
            }
        }
        let now = T0 + (HISTORY_HOURS as i64 - 1) * 3600;
        let mut last = None;
        for _ in 0..60 {
            last = Some(tracker.record("alice@example.test", 1, now));
        }
        let activity = last.unwrap();
        assert_eq!(activity.messages_this_hour, 60);
        assert!((activity.usual_hourly - 3.0).abs() < 0.01, "{activity:?}");
        // A script's mail: no Date, no Message-ID, sent in a burst.
        let message = b"From: alice@example.test\r\nTo: x@example.org\r\nSubject: hi\r\n\r\nhello\r\n";
        let (report, verdict) = score(message, &activity, &policy, now);
        let rules: Vec<&str> = report.hits.iter().map(|h| h.rule.as_str()).collect();
        assert_eq!(rules, ["MISSING_MID", "MISSING_DATE", "OUT_RATE_BURST"]);
        assert_eq!(verdict, OutboundVerdict::Hold);
        // The same message at the usual rate is sent.
        let calm = Activity { messages_this_hour: 3, recipients_this_hour: 3, usual_hourly: 3.0 };
        assert_eq!(score(message, &calm, &policy, now).1, OutboundVerdict::Send);
    }

    #[test]
    fn steady_senders_and_small_bursts_pass() {
        let tracker = RateTracker::new();
        let policy = OutboundPolicy::default();
        // A new account's first 40 messages: under the floor.
        let mut a = None;
        for _ in 0..40 {
            a = Some(tracker.record("new@example.test", 1, T0));
        }
        assert!(rate_hits(&a.unwrap(), &policy).is_empty());
        // A list server that always sends 200 an hour.
        for h in 0..10 {
            for _ in 0..200 {
                a = Some(tracker.record("list@example.test", 1, T0 + h * 3600));
            }
        }
        assert!(rate_hits(&a.unwrap(), &policy).is_empty());
        // Many recipients in one hour.
        let wide = tracker.record("wide@example.test", 600, T0);
        assert_eq!(rate_hits(&wide, &policy)[0].rule, "OUT_MANY_RECIPIENTS");
    }

    #[test]
    fn old_history_is_forgotten() {
        let tracker = RateTracker::new();
        tracker.record("a@example.test", 1, T0);
        tracker.prune(T0 + (HISTORY_HOURS as i64 + 1) * 3600);
        let a = tracker.record("a@example.test", 1, T0 + (HISTORY_HOURS as i64 + 1) * 3600);
        assert_eq!(a.usual_hourly, 0.0);
        assert_eq!(a.messages_this_hour, 1);
    }
}
