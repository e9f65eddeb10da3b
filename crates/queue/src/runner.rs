//! The queue loop. Every `poll_interval`, or at once when woken ([`QueueHandle::wake`]), it
//! takes the messages with recipients due, and for each:
//!
//! 1. groups the due recipients by domain; local domains are delivered into mailboxes here
//!    (a DSN to a local sender, say), the others go to the domain's route (smart host or MX);
//! 2. tries the route's hosts and addresses in order, within a global and a per-domain
//!    connection limit, until a session gets to RCPT; per-recipient replies decide:
//!    2xx delivered, 5xx failed, 4xx (or no server reachable) deferred with backoff — and
//!    failed as expired once the message is older than the expiry age;
//! 3. records every outcome, the DSNs they call for (failure, delay after the warning age,
//!    success when asked and the remote does not report) and the delay flag in one store
//!    transaction ([`QueueStore::queue_record`]); the message leaves the queue with its last
//!    pending recipient;
//! 4. journals each attempt (host, address, TLS, the server's replies) and each outcome.
//!
//! A message is never processed twice at once; on shutdown, sessions in flight get a short
//! grace period to finish and record, so accepted recipients are not sent again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use mailstead_dns::Resolver;
use mailstead_store::Store;
use mailstead_store::journal_batch::JournalBatcher;
use mailstead_store::model::{
    AppendTarget, AttemptRecord, Event, MessageData, NewMessage, NewQueued, NewRecipient, QueueRecipient,
    QueuedMessage, RecipientState, RecipientUpdate,
};
use mailstead_types::{Address, QueueId};
use rand::Rng;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::client::{self, ClientSettings, Endpoint, Envelope, Recipient, Reply, SessionError};
use crate::dsn::{self, Action, ReportedRecipient};
use crate::endpoints::Router;
use crate::pool::{ServerKey, SessionPool};
use crate::route::SmartHost;
use crate::schedule::Schedule;

/// How long sessions in flight may finish after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Settings of the runner.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Our host name (EHLO, DSN Reporting-MTA).
    pub hostname: String,
    /// Retry timing.
    pub schedule: Schedule,
    /// The port MX hosts are reached on (25; tests use others).
    pub mx_port: u16,
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once to one destination domain.
    pub max_per_domain: usize,
    /// How often the queue is looked at when nothing wakes it.
    pub poll_interval: Duration,
    /// Messages taken per look.
    pub batch: usize,
    /// Relays, by recipient domain (the first that serves a domain wins).
    pub smart_hosts: Vec<SmartHost>,
    /// The SMTP client's settings.
    pub client: ClientSettings,
    /// Plus-addressing separator for local deliveries.
    pub plus_separator: Option<char>,
    /// Whether MTA-STS policies of destination domains are looked up and applied.
    pub mta_sts: bool,
    /// The HTTPS port MTA-STS policies are fetched from (443; tests use others).
    pub mta_sts_port: u16,
    /// Whether DANE (RFC 7672) applies to MX hosts with DNSSEC-validated TLSA records. The
    /// resolver must report validation (the AD bit of a validating resolver on loopback).
    pub dane: bool,
}

/// Wakes the runner when something was queued.
#[derive(Debug, Clone, Default)]
pub struct QueueHandle {
    wake: Arc<Notify>,
}

impl QueueHandle {
    /// Asks the runner to look at the queue now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The queue runner.
pub struct Runner {
    store: Arc<dyn Store>,
    config: QueueConfig,
    journal: JournalBatcher,
    handle: QueueHandle,
    in_flight: Mutex<HashSet<QueueId>>,
    connections: Arc<Semaphore>,
    per_domain: Mutex<HashMap<String, Arc<Semaphore>>>,
    sessions: SessionPool,
    router: Router,
}

/// A session whose outcome awaits recording: its connection, and the permits that keep a
/// new session from starting in its place until then.
struct Finisher {
    closer: Option<client::Closer>,
    key: ServerKey,
    _permits: (tokio::sync::OwnedSemaphorePermit, tokio::sync::OwnedSemaphorePermit),
}

/// What became of one recipient in one round.
#[derive(Debug, Clone)]
enum Outcome {
    /// Accepted by the next hop (or stored locally).
    Delivered { reply: String, remote: Option<String>, remote_reports: bool },
    /// Try again later.
    Deferred { reason: String, remote: Option<String> },
    /// Permanent failure.
    Failed { reason: String, status: String, remote: Option<String> },
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Runner {
    /// Starts the loop on the current runtime; it ends when `shutdown` is cancelled.
    pub fn start(
        store: Arc<dyn Store>,
        resolver: Arc<dyn Resolver>,
        config: QueueConfig,
        shutdown: CancellationToken,
    ) -> (QueueHandle, tokio::task::JoinHandle<()>) {
        let handle = QueueHandle::default();
        let runner = Arc::new(Runner {
            router: Router::new(store.clone(), resolver, &config),
            journal: JournalBatcher::start(store.clone()),
            store,
            connections: Arc::new(Semaphore::new(config.max_connections.max(1))),
            config,
            handle: handle.clone(),
            in_flight: Mutex::new(HashSet::new()),
            per_domain: Mutex::new(HashMap::new()),
            sessions: SessionPool::default(),
        });
        let task = tokio::spawn(runner.run(shutdown));
        (handle, task)
    }

    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        loop {
            match self.store.queue_due(now_secs(), self.config.batch).await {
                Ok(due) => {
                    for id in due {
                        let fresh =
                            self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone());
                        if fresh {
                            tasks.spawn(self.clone().process(id));
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "queue: cannot read due messages"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.handle.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        let drain = async { while tasks.join_next().await.is_some() {} };
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, drain).await;
        self.sessions.close_all().await;
        if drained.is_err() {
            tracing::warn!(
                "queue: deliveries still running at shutdown were stopped; they are retried at the next start"
            );
        }
    }

    async fn process(self: Arc<Self>, id: QueueId) {
        // The list may predate a round that just finished: work from the current state, or a
        // recipient recorded as delivered a moment ago would be sent again.
        let result = match self.store.queue_get(&id).await {
            Ok(Some(message)) => self.deliver_message(&message).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(target: "mail", "{id}: queue run failed, will retry: {e}");
        }
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        // Notices it queued, or recipients due again soon, are picked up by the next look.
        self.handle.wake();
    }

    async fn deliver_message(&self, message: &QueuedMessage) -> mailstead_store::Result<()> {
        if message.held {
            return Ok(());
        }
        let now = now_secs();
        // The message row was just read: its blob directly, not the row again.
        let data = self.store.read_message(&message.blob).await?;
        let due: Vec<&QueueRecipient> = message
            .recipients
            .iter()
            .filter(|r| r.state == RecipientState::Pending && r.next_attempt <= now)
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let mut by_domain: BTreeMap<String, (&mailstead_types::Domain, Vec<&QueueRecipient>)> =
            BTreeMap::new();
        for r in &due {
            by_domain
                .entry(r.address.domain().to_string())
                .or_insert_with(|| (r.address.domain(), Vec::new()))
                .1
                .push(r);
        }
        let mut forwards = Vec::new();
        let closers = Mutex::new(Vec::new());
        let closers = &closers;
        let rounds = by_domain.into_iter().map(|(name, (domain, rcpts))| {
            let data = data.clone();
            async move {
                match self.store.is_local_domain(domain).await {
                    Ok(true) => self.deliver_locally(message, &rcpts, &data).await,
                    Ok(false) => {
                        (self.deliver_remote(message, &name, &rcpts, &data, closers).await, Vec::new())
                    }
                    Err(e) => (
                        rcpts
                            .iter()
                            .map(|r| {
                                (
                                    r.address.clone(),
                                    Outcome::Deferred { reason: format!("local store: {e}"), remote: None },
                                )
                            })
                            .collect(),
                        Vec::new(),
                    ),
                }
            }
        });
        let mut outcomes: Vec<(Address, Outcome)> = Vec::new();
        for (o, f) in join_all(rounds).await {
            outcomes.extend(o);
            forwards.extend(f);
        }
        let record = self.record_for(message, &outcomes, &data, now, forwards);
        let counts = (record.updates.len(), record.notices.len());
        let recorded = self.store.queue_record(&message.id, record).await;
        // Only with the outcome durable are the sessions ended: a crash before this point
        // leaves the remote waiting for our QUIT, not a recipient we forget we delivered.
        for finisher in std::mem::take(&mut *closers.lock().unwrap_or_else(|p| p.into_inner())) {
            if let Some(closer) = finisher.closer {
                self.sessions.put(finisher.key, closer);
            }
        }
        recorded?;
        self.journal_outcomes(message, &outcomes);
        tracing::debug!(queue_id = %message.id, updates = counts.0, notices = counts.1, "queue: round recorded");
        Ok(())
    }

    /// The permit for one connection to `domain`.
    async fn permits(
        &self,
        domain: &str,
    ) -> Option<(tokio::sync::OwnedSemaphorePermit, tokio::sync::OwnedSemaphorePermit)> {
        let per_domain = {
            let mut map = self.per_domain.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(domain.to_ascii_lowercase())
                .or_insert_with(|| Arc::new(Semaphore::new(self.config.max_per_domain.max(1))))
                .clone()
        };
        let d = per_domain.acquire_owned().await.ok()?;
        let c = self.connections.clone().acquire_owned().await.ok()?;
        Some((d, c))
    }

    async fn deliver_remote(
        &self,
        message: &QueuedMessage,
        domain: &str,
        rcpts: &[&QueueRecipient],
        data: &MessageData,
        closers: &Mutex<Vec<Finisher>>,
    ) -> Vec<(Address, Outcome)> {
        let all =
            |outcome: Outcome| rcpts.iter().map(|r| (r.address.clone(), outcome.clone())).collect::<Vec<_>>();
        let endpoints = match self.router.endpoints(&self.config, domain).await {
            Ok(e) if e.is_empty() => {
                return all(Outcome::Deferred {
                    reason: format!("no address found for the mail servers of {domain}"),
                    remote: None,
                });
            }
            Ok(e) => e,
            Err(e) if e.is_temporary() => {
                return all(Outcome::Deferred { reason: e.to_string(), remote: None });
            }
            Err(e) => {
                return all(Outcome::Failed {
                    reason: e.to_string(),
                    status: e.status().to_string(),
                    remote: None,
                });
            }
        };
        let recipients: Vec<Recipient> = rcpts
            .iter()
            .map(|r| Recipient {
                address: r.address.to_string(),
                notify: r.notify.clone(),
                orcpt: r.orcpt.clone(),
            })
            .collect();
        let sender = message.sender.as_ref().map(|s| s.to_string()).unwrap_or_default();
        let envelope = Envelope {
            sender: &sender,
            recipients: &recipients,
            envid: message.envid.as_deref(),
            ret: message.ret.as_deref(),
            message: data,
        };
        let Some(permits) = self.permits(domain).await else {
            return all(Outcome::Deferred { reason: "queue is shutting down".into(), remote: None });
        };
        let mut last_error: Option<(SessionError, String)> = None;
        for endpoint in &endpoints {
            let key: ServerKey = (
                endpoint.host.clone(),
                endpoint.ip,
                endpoint.port,
                format!("{:?} {}", endpoint.tls, endpoint.policy),
            );
            let reuse = self.sessions.take(&key);
            let report = client::deliver(&self.config.client, endpoint, &envelope, reuse).await;
            let remote = format!("{} [{}]", endpoint.host, endpoint.ip);
            self.journal_attempt(message, endpoint, &report);
            match report.result {
                Ok(delivery) => {
                    // The session stays open until the outcome is recorded (see deliver_message).
                    // So do its connection permits: no new session to this domain starts while
                    // this one's accepted recipients are not yet recorded.
                    closers.lock().unwrap_or_else(|p| p.into_inner()).push(Finisher {
                        closer: report.closer,
                        key,
                        _permits: permits,
                    });
                    return rcpts
                        .iter()
                        .zip(delivery.results)
                        .map(|(r, reply)| (r.address.clone(), outcome_of(&reply, &remote, delivery.dsn)))
                        .collect();
                }
                Err(e) => {
                    if let Some(closer) = report.closer {
                        tokio::spawn(closer.quit());
                    }
                    let next = e.try_next_host();
                    tracing::info!(target: "mail", "{}: {remote}: {}", message.id, e.describe());
                    last_error = Some((e, remote));
                    if !next {
                        break;
                    }
                }
            }
        }
        match last_error {
            Some((SessionError::Refused { reply, .. }, remote)) if !reply.is_temporary() => {
                all(Outcome::Failed {
                    reason: reply.line(),
                    status: dsn::status_of(reply.code, reply.status.as_deref()),
                    remote: Some(remote),
                })
            }
            Some((e, remote)) => all(Outcome::Deferred { reason: e.describe(), remote: Some(remote) }),
            None => all(Outcome::Deferred { reason: "no server to try".into(), remote: None }),
        }
    }

    /// Delivers recipients of a local domain into their accounts' INBOX; remote alias
    /// targets come back as a forward to queue.
    async fn deliver_locally(
        &self,
        message: &QueuedMessage,
        rcpts: &[&QueueRecipient],
        data: &MessageData,
    ) -> (Vec<(Address, Outcome)>, Vec<NewQueued>) {
        let mut outcomes = Vec::new();
        let mut items = Vec::new();
        let mut owners = Vec::new();
        let mut remote_targets = Vec::new();
        for r in rcpts {
            match mailstead_store::resolve::resolve(
                self.store.as_ref(),
                &r.address,
                self.config.plus_separator,
            )
            .await
            {
                Ok(res) if res.is_empty() => outcomes.push((
                    r.address.clone(),
                    Outcome::Failed {
                        reason: "550 5.1.1 no such local user".into(),
                        status: "5.1.1".into(),
                        remote: None,
                    },
                )),
                Ok(res) => {
                    for account in res.local {
                        let mut copy = format!(
                            "Return-Path: <{}>\r\nDelivered-To: {}\r\n",
                            message.sender.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                            account.address
                        )
                        .into_bytes();
                        copy.extend_from_slice(data);
                        items.push((
                            NewMessage {
                                data: MessageData::from(copy),
                                internal_date: now_secs(),
                                flags: Default::default(),
                                keywords: vec![],
                            },
                            AppendTarget { account: account.id, mailbox: "INBOX".into() },
                        ));
                        owners.push(r.address.clone());
                    }
                    remote_targets.extend(res.remote);
                    outcomes.push((
                        r.address.clone(),
                        Outcome::Delivered {
                            reply: "stored in the local mailbox".into(),
                            remote: None,
                            remote_reports: true,
                        },
                    ));
                }
                Err(e) => outcomes.push((
                    r.address.clone(),
                    Outcome::Deferred { reason: format!("local lookup: {e}"), remote: None },
                )),
            }
        }
        if !items.is_empty()
            && let Err(e) = self.store.append_each(items).await
        {
            for (address, outcome) in &mut outcomes {
                if owners.contains(address) {
                    *outcome =
                        Outcome::Deferred { reason: format!("local delivery failed: {e}"), remote: None };
                }
            }
            remote_targets.clear();
        }
        let forwards = if remote_targets.is_empty() {
            Vec::new()
        } else {
            vec![NewQueued {
                id: QueueId::new(SystemTime::now(), rand::thread_rng().r#gen()),
                sender: message.sender.clone(),
                recipients: remote_targets
                    .into_iter()
                    .map(|address| NewRecipient { address, orcpt: None, notify: None })
                    .collect(),
                envid: message.envid.clone(),
                ret: message.ret.clone(),
                auth_user: message.auth_user.clone(),
                held: false,
                data: data.clone(),
                created: now_secs(),
            }]
        };
        (outcomes, forwards)
    }

    /// Turns outcomes into the store record: recipient updates, DSNs, the delay flag.
    fn record_for(
        &self,
        message: &QueuedMessage,
        outcomes: &[(Address, Outcome)],
        data: &[u8],
        now: i64,
        forwards: Vec<NewQueued>,
    ) -> AttemptRecord {
        let schedule = &self.config.schedule;
        let expired = schedule.expired(message.created, now);
        let recipient = |a: &Address| message.recipients.iter().find(|r| &r.address == a);
        let mut updates = Vec::new();
        let mut reported: BTreeMap<&'static str, Vec<ReportedRecipient>> = BTreeMap::new();
        let report = |address: &Address,
                      action: Action,
                      status: String,
                      remote: &Option<String>,
                      diagnostic: String| {
            let r = recipient(address);
            ReportedRecipient {
                address: address.to_string(),
                orcpt: r.and_then(|r| r.orcpt.clone()),
                action,
                status,
                remote_mta: remote.as_ref().map(|m| format!("dns; {}", m.split(' ').next().unwrap_or(m))),
                diagnostic,
                last_attempt: now,
            }
        };
        let mut still_pending = Vec::new();
        for (address, outcome) in outcomes {
            let notify = recipient(address).and_then(|r| r.notify.clone());
            let attempts = recipient(address).map_or(0, |r| r.attempts) + 1;
            let (state, next, reply) = match outcome {
                Outcome::Delivered { reply, remote, remote_reports } => {
                    if !remote_reports && dsn::wanted(notify.as_deref(), Action::Relayed) {
                        reported.entry("relayed").or_default().push(report(
                            address,
                            Action::Relayed,
                            "2.0.0".into(),
                            remote,
                            reply.clone(),
                        ));
                    }
                    (RecipientState::Delivered, 0, reply.clone())
                }
                Outcome::Failed { reason, status, remote } => {
                    if dsn::wanted(notify.as_deref(), Action::Failed) {
                        reported.entry("failed").or_default().push(report(
                            address,
                            Action::Failed,
                            status.clone(),
                            remote,
                            reason.clone(),
                        ));
                    }
                    (RecipientState::Failed, 0, reason.clone())
                }
                Outcome::Deferred { reason, remote } if expired => {
                    let days = schedule.expire.as_secs() / 86400;
                    let why = format!("message expired after {days} days in the queue; last error: {reason}");
                    if dsn::wanted(notify.as_deref(), Action::Failed) {
                        reported.entry("failed").or_default().push(report(
                            address,
                            Action::Failed,
                            "4.4.7".into(),
                            remote,
                            why.clone(),
                        ));
                    }
                    (RecipientState::Failed, 0, why)
                }
                Outcome::Deferred { reason, remote } => {
                    if dsn::wanted(notify.as_deref(), Action::Delayed) {
                        still_pending.push(report(
                            address,
                            Action::Delayed,
                            "4.0.0".into(),
                            remote,
                            reason.clone(),
                        ));
                    }
                    (RecipientState::Pending, schedule.next_attempt(attempts, now), reason.clone())
                }
            };
            updates.push(RecipientUpdate {
                address: address.clone(),
                state,
                next_attempt: next,
                attempted_at: now,
                reply,
            });
        }
        let mut delay_notified = false;
        if !message.delay_notified && schedule.delay_due(message.created, now) && !still_pending.is_empty() {
            reported.insert("delayed", still_pending);
            delay_notified = true;
        }
        let mut notices = forwards;
        if let Some(sender) = &message.sender {
            for (_, recipients) in reported {
                let text = dsn::build(&dsn::Report {
                    hostname: &self.config.hostname,
                    queue_id: message.id.as_str(),
                    to: &sender.to_string(),
                    envid: message.envid.as_deref(),
                    ret: message.ret.as_deref(),
                    arrival: message.created,
                    retry_until: Some(schedule.gives_up_at(message.created)),
                    now,
                    recipients,
                    original: data,
                });
                notices.push(NewQueued {
                    id: QueueId::new(SystemTime::now(), rand::thread_rng().r#gen()),
                    sender: None,
                    recipients: vec![NewRecipient { address: sender.clone(), orcpt: None, notify: None }],
                    envid: None,
                    ret: None,
                    auth_user: None,
                    held: false,
                    data: MessageData::from(text),
                    created: now,
                });
            }
        }
        AttemptRecord { updates, notices, delay_notified }
    }

    fn journal_attempt(&self, message: &QueuedMessage, endpoint: &Endpoint, report: &client::SessionReport) {
        let data = serde_json::json!({
            "host": endpoint.host,
            "ip": endpoint.ip.to_string(),
            "port": endpoint.port,
            "policy": endpoint.policy,
            "tls": match &report.result { Ok(d) => d.tls.clone(), Err(_) => None },
            "result": match &report.result { Ok(_) => "session".to_string(), Err(e) => e.describe() },
            "transcript": report.transcript,
        });
        self.journal.record(vec![event(&message.id, "outbound.attempt", None, data)]);
    }

    fn journal_outcomes(&self, message: &QueuedMessage, outcomes: &[(Address, Outcome)]) {
        let events = outcomes
            .iter()
            .map(|(address, outcome)| {
                let (kind, data) = match outcome {
                    Outcome::Delivered { reply, remote, .. } => {
                        ("outbound.delivered", serde_json::json!({ "to": address.to_string(), "reply": reply, "remote": remote }))
                    }
                    Outcome::Deferred { reason, remote } => {
                        ("outbound.deferred", serde_json::json!({ "to": address.to_string(), "reply": reason, "remote": remote }))
                    }
                    Outcome::Failed { reason, status, remote } => (
                        "outbound.failed",
                        serde_json::json!({ "to": address.to_string(), "reply": reason, "status": status, "remote": remote }),
                    ),
                };
                tracing::info!(target: "mail", "{}: to=<{address}>, {}", message.id, describe(outcome));
                event(&message.id, kind, Some(address.normalized()), data)
            })
            .collect();
        self.journal.record(events);
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Delivered { reply, remote, .. } => {
            format!("relay={}, status=sent ({reply})", remote.as_deref().unwrap_or("local"))
        }
        Outcome::Deferred { reason, remote } => {
            format!("relay={}, status=deferred ({reason})", remote.as_deref().unwrap_or("none"))
        }
        Outcome::Failed { reason, remote, .. } => {
            format!("relay={}, status=bounced ({reason})", remote.as_deref().unwrap_or("none"))
        }
    }
}

fn outcome_of(reply: &Reply, remote: &str, remote_reports: bool) -> Outcome {
    let remote = Some(remote.to_string());
    if reply.is_positive() {
        Outcome::Delivered { reply: reply.line(), remote, remote_reports }
    } else if reply.is_temporary() {
        Outcome::Deferred { reason: reply.line(), remote }
    } else {
        Outcome::Failed {
            reason: reply.line(),
            status: dsn::status_of(reply.code, reply.status.as_deref()),
            remote,
        }
    }
}

fn event(queue_id: &QueueId, kind: &str, address: Option<String>, data: serde_json::Value) -> Event {
    Event {
        ts_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0),
        queue_id: Some(queue_id.clone()),
        message_id: None,
        address,
        kind: kind.into(),
        data,
    }
}
