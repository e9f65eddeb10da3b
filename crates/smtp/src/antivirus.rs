//! The antivirus step at end of DATA: runs the configured [`Scanner`] (built-in attachment
//! policy, clamd) on the message as received, journals the verdict (`antivirus` event) and
//! turns a refusal into the SMTP reply: infected or blocked attachment → `554 5.7.0` naming the
//! signature or the rule; clamd down with fail-closed → `451 4.7.0` (RFC 3463 §3.8).

use mailstead_antivirus::{Action, ClamdVerdict, Report, Scanner, Verdict};
use mailstead_proto::smtp::Reply;

use crate::delivery::event;
use crate::driver::Transaction;

/// Scans `message` (`parsed`: the message parsed, or `None` when it does not parse);
/// `Some(reply)` refuses it. Without a scanner, accepts.
pub(crate) async fn check(
    scanner: Option<&Scanner>,
    txn: &mut Transaction,
    message: &[u8],
    parsed: Option<&mail_parser::Message<'_>>,
) -> Option<Reply> {
    let scanner = scanner?;
    let report = scanner.scan_parsed(message, parsed).await;
    let queue_id = txn.queue_id.clone();
    match &report.verdict {
        Verdict::TempFail { reason } => {
            tracing::warn!(target: "mail", "{queue_id}: antivirus unavailable, sender asked to retry: {reason}");
        }
        Verdict::Clean => {
            if let Some(ClamdVerdict::Unavailable { reason }) = &report.clamd {
                tracing::warn!(target: "mail", "{queue_id}: accepted unscanned (antivirus fail-open): {reason}");
            }
        }
        Verdict::Infected { .. } | Verdict::Blocked(_) => {}
    }
    txn.events.push(event(&queue_id, "antivirus", None, journal(&report)));
    let reply = report.verdict.reply()?;
    Some(Reply::new(reply.code, reply.enhanced, reply.text))
}

/// The journal record of a scan: the verdict, what clamd said, every policy finding.
pub fn journal(report: &Report) -> serde_json::Value {
    let verdict = match &report.verdict {
        Verdict::Clean => serde_json::json!({ "verdict": "clean" }),
        Verdict::Infected { signature } => {
            serde_json::json!({ "verdict": "infected", "signature": signature })
        }
        Verdict::Blocked(f) => serde_json::json!({ "verdict": "blocked", "reason": f.to_string() }),
        Verdict::TempFail { reason } => serde_json::json!({ "verdict": "tempfail", "reason": reason }),
    };
    let clamd = report.clamd.as_ref().map(|c| match c {
        ClamdVerdict::Clean => "clean".to_string(),
        ClamdVerdict::Infected { signature } => format!("infected: {signature}"),
        ClamdVerdict::Unavailable { reason } => format!("unavailable: {reason}"),
        ClamdVerdict::TooLarge { size, limit } => {
            format!("not scanned: {size} bytes over the {limit}-byte limit")
        }
    });
    let findings: Vec<String> = report
        .policy
        .iter()
        .flat_map(|p| p.findings.iter())
        .map(|f| {
            let action = match f.action {
                Action::Block => "block",
                Action::Flag => "flag",
            };
            format!("{action}: {f}")
        })
        .collect();
    let mut v = verdict;
    v["clamd"] = serde_json::json!(clamd);
    v["findings"] = serde_json::json!(findings);
    v
}
