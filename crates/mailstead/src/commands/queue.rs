//! `mailstead queue list|show|retry|hold|release|cancel`: the outbound queue from the command
//! line, beside a running server (tool mode). A running server notices retries and releases at
//! its next look at the queue (within seconds).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use clap::Subcommand;

use mailstead_store::QueueStore;
use mailstead_store::model::{QueuedMessage, RecipientState};
use mailstead_types::{QueueId, rfc5322_date};

use crate::commands::open_store;
use crate::datadir::DataDir;

/// `mailstead queue …`
#[derive(Debug, Subcommand)]
pub enum QueueAction {
    /// List queued messages with each recipient's state and last reply.
    List,
    /// Everything about one queued message.
    Show {
        /// Queue id.
        id: String,
    },
    /// Try now (and release a hold): one message, or every message with `--all`.
    Retry {
        /// Queue id.
        id: Option<String>,
        /// Every queued message.
        #[arg(long)]
        all: bool,
    },
    /// Keep a message in the queue without delivering it.
    Hold {
        /// Queue id.
        id: String,
    },
    /// Let a held message go.
    Release {
        /// Queue id.
        id: String,
    },
    /// Remove a message from the queue without delivering it (no bounce is sent).
    Cancel {
        /// Queue id.
        id: String,
    },
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn parse_id(id: &str) -> Result<QueueId> {
    QueueId::parse(id.trim())
        .ok_or_else(|| anyhow::anyhow!("{id:?} is not a queue id (see `mailstead queue list`)"))
}

/// Runs `queue`.
pub async fn run(data: &DataDir, action: QueueAction) -> Result<()> {
    let store = open_store(data)?;
    match action {
        QueueAction::List => {
            let queued = store.queue_list().await?;
            if queued.is_empty() {
                println!("the queue is empty");
            }
            for m in &queued {
                print_summary(m);
            }
        }
        QueueAction::Show { id } => {
            let id = parse_id(&id)?;
            let Some(m) = store.queue_get(&id).await? else { bail!("no queued message {id}") };
            print_summary(&m);
            println!("  created   {}", rfc5322_date(m.created));
            println!("  envid     {}", m.envid.as_deref().unwrap_or("-"));
            println!("  ret       {}", m.ret.as_deref().unwrap_or("-"));
            println!("  submitted {}", m.auth_user.as_deref().unwrap_or("-"));
            println!("  delay notice sent: {}", if m.delay_notified { "yes" } else { "no" });
            println!("  (mailstead trace {id} shows every attempt)");
        }
        QueueAction::Retry { id, all } => {
            let ids = match (id, all) {
                (Some(id), false) => vec![parse_id(&id)?],
                (None, true) => store.queue_list().await?.into_iter().map(|m| m.id).collect(),
                _ => bail!("give a queue id, or --all"),
            };
            for id in &ids {
                store.queue_retry(id, now()).await?;
            }
            println!("{} message(s) due now", ids.len());
        }
        QueueAction::Hold { id } => {
            store.queue_set_held(&parse_id(&id)?, true).await?;
            println!("held {id}");
        }
        QueueAction::Release { id } => {
            store.queue_set_held(&parse_id(&id)?, false).await?;
            println!("released {id}");
        }
        QueueAction::Cancel { id } => {
            store.queue_cancel(&parse_id(&id)?).await?;
            println!("removed {id} from the queue; no bounce was sent");
        }
    }
    Ok(())
}

fn print_summary(m: &QueuedMessage) {
    let age = (now() - m.created).max(0);
    let age = if age >= 86400 {
        format!("{}d{}h", age / 86400, age % 86400 / 3600)
    } else if age >= 3600 {
        format!("{}h{}m", age / 3600, age % 3600 / 60)
    } else {
        format!("{}m", age / 60)
    };
    let sender = m.sender.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "<>".into());
    println!("{}  {age:>6}  {:>8} bytes  from {sender}{}", m.id, m.size, if m.held { "  HELD" } else { "" });
    for r in &m.recipients {
        let state = match r.state {
            RecipientState::Pending if r.attempts == 0 => "waiting".to_string(),
            RecipientState::Pending => {
                let wait = (r.next_attempt - now()).max(0);
                format!("retry in {}m (attempt {})", wait / 60, r.attempts + 1)
            }
            RecipientState::Delivered => "delivered".into(),
            RecipientState::Failed => "failed".into(),
        };
        println!("    {:<40} {state}", r.address.to_string());
        if let Some(reply) = &r.last_reply {
            println!("        last: {reply}");
        }
    }
}
