//! Batches journal events from many sessions into few store writes. The journal is a record
//! of what happened, not the mail itself (which is durable before any reply), so sessions hand
//! their events over without waiting and one background task writes whatever has gathered in
//! a single transaction.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::model::Event;
use crate::traits::JournalStore;

/// Most events written in one transaction.
const MAX_BATCH: usize = 4096;

/// A cheap-to-clone handle that queues events for writing.
#[derive(Debug, Clone)]
pub struct JournalBatcher {
    tx: mpsc::UnboundedSender<Vec<Event>>,
}

impl JournalBatcher {
    /// Starts the writer task on the current tokio runtime. It ends, after writing what is
    /// queued, when the last handle is dropped.
    pub fn start(store: Arc<dyn JournalStore>) -> JournalBatcher {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Event>>();
        tokio::spawn(async move {
            while let Some(mut batch) = rx.recv().await {
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(more) => batch.extend(more),
                        Err(_) => break,
                    }
                }
                let count = batch.len();
                if let Err(e) = store.journal(batch).await {
                    tracing::warn!(error = %e, events = count, "could not write journal events");
                }
            }
        });
        JournalBatcher { tx }
    }

    /// Queues events; never blocks.
    pub fn record(&self, events: Vec<Event>) {
        if !events.is_empty() && self.tx.send(events).is_err() {
            tracing::warn!("journal writer stopped; events dropped");
        }
    }
}
