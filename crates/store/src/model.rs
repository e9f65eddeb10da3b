//! The data model shared by all backends: directory (domains, accounts, aliases), mailboxes and
//! messages, the outbound queue and the event journal. Plain data, no behaviour.

use std::sync::Arc;

use mailstead_types::{Address, Domain, Flags, QueueId, SpecialUse};

/// Database id of an account.
pub type AccountId = i64;
/// Database id of a mailbox.
pub type MailboxId = i64;
/// Message bytes, shared without copying between the deliveries of one message. An `Arc` of
/// a `Vec` rather than of a slice: a body assembled in a `Vec` (a delivery's own header fields
/// and the message) becomes one without copying it again, which `Arc<[u8]>` cannot do.
pub type MessageData = Arc<Vec<u8>>;

/// A content address: the lower-case hex SHA-256 of the message bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub String);

impl BlobId {
    /// The content address of message bytes: SHA-256, in lowercase hex. Every backend names
    /// contents this way, so a caller that holds the bytes knows their id.
    pub fn of(data: &[u8]) -> BlobId {
        use sha2::{Digest, Sha256};
        BlobId(hex::encode(Sha256::digest(data)))
    }
}

/// A mail account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Database id.
    pub id: AccountId,
    /// The login and primary address.
    pub address: Address,
    /// PHC string of the password hash (Argon2id for accounts made here).
    pub password_hash: String,
    /// Storage quota in bytes; 0 means unlimited.
    pub quota_bytes: u64,
    /// Bytes used by the account's messages (each mailbox copy counts).
    pub used_bytes: u64,
    /// Creation time, seconds since the epoch.
    pub created: i64,
}

/// What `add_account` needs.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Address; its domain must already be a local domain.
    pub address: Address,
    /// PHC password hash (see [`crate::password::hash`]).
    pub password_hash: String,
    /// Quota in bytes, 0 for none.
    pub quota_bytes: u64,
}

/// The left side of an alias: one address, or a whole domain (catch-all `@domain`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AliasSource {
    /// `local@domain`
    Address(Address),
    /// `@domain`: any address of the domain that is not an account or another alias.
    CatchAll(Domain),
}

impl AliasSource {
    /// Parses `local@domain` or `@domain`.
    pub fn parse(s: &str) -> Result<AliasSource, mailstead_types::AddressError> {
        match s.strip_prefix('@') {
            Some(domain) => Ok(AliasSource::CatchAll(Domain::parse(domain)?)),
            None => Ok(AliasSource::Address(Address::parse(s)?)),
        }
    }

    /// The stored key: the normalised address or `@domain`.
    pub fn key(&self) -> String {
        match self {
            AliasSource::Address(a) => a.normalized(),
            AliasSource::CatchAll(d) => format!("@{d}"),
        }
    }

    /// The domain the alias belongs to.
    pub fn domain(&self) -> &Domain {
        match self {
            AliasSource::Address(a) => a.domain(),
            AliasSource::CatchAll(d) => d,
        }
    }
}

impl std::fmt::Display for AliasSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AliasSource::Address(a) => write!(f, "{a}"),
            AliasSource::CatchAll(d) => write!(f, "@{d}"),
        }
    }
}

/// An alias and where it delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// Source address or catch-all.
    pub source: AliasSource,
    /// Targets: local accounts, other aliases, or remote addresses.
    pub targets: Vec<Address>,
}

/// A mailbox and its IMAP counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Database id.
    pub id: MailboxId,
    /// Owner.
    pub account: AccountId,
    /// Full name with `/` as hierarchy separator; `INBOX` is spelled in capitals.
    pub name: String,
    /// UIDVALIDITY: new for every mailbox ever created under a name.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
    /// HIGHESTMODSEQ (RFC 7162).
    pub highest_modseq: u64,
    /// Special-use role, if any.
    pub special_use: Option<SpecialUse>,
    /// Subscribed (LSUB / LIST (SUBSCRIBED)).
    pub subscribed: bool,
    /// Number of messages.
    pub messages: u32,
    /// Number of messages without `\Seen`.
    pub unseen: u32,
    /// Sum of message sizes.
    pub size: u64,
}

/// One message in a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEntry {
    /// IMAP UID.
    pub uid: u32,
    /// Content address of the bytes.
    pub blob: BlobId,
    /// Size in octets (RFC822.SIZE).
    pub size: u64,
    /// INTERNALDATE, seconds since the epoch.
    pub internal_date: i64,
    /// System flags.
    pub flags: Flags,
    /// Keywords, sorted, without duplicates.
    pub keywords: Vec<String>,
    /// MODSEQ of the last change.
    pub modseq: u64,
}

/// What IMAP FETCH needs often and costs a full parse: the encoded ENVELOPE and BODYSTRUCTURE
/// of a message content (they depend on the bytes only, so they are keyed by the blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFetch {
    /// The ENVELOPE item's value as IMAP bytes, e.g. `("date" "subject" ...)`.
    pub envelope: Vec<u8>,
    /// The BODYSTRUCTURE item's value as IMAP bytes.
    pub body_structure: Vec<u8>,
}

/// A message to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The bytes, exactly as they will be served (CRLF line ends).
    pub data: MessageData,
    /// INTERNALDATE, seconds since the epoch.
    pub internal_date: i64,
    /// Initial flags.
    pub flags: Flags,
    /// Initial keywords.
    pub keywords: Vec<String>,
}

/// Where to append: an account's mailbox by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendTarget {
    /// The account.
    pub account: AccountId,
    /// Mailbox name (e.g. `INBOX`, `Junk`).
    pub mailbox: String,
}

/// Result of one append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The mailbox.
    pub mailbox: MailboxId,
    /// Its UIDVALIDITY (for APPENDUID).
    pub uidvalidity: u32,
    /// The new message's UID.
    pub uid: u32,
    /// Its MODSEQ.
    pub modseq: u64,
}

/// How a flag update combines with the current flags (IMAP STORE FLAGS / +FLAGS / -FLAGS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// Set exactly these.
    Replace,
    /// Add these.
    Add,
    /// Remove these.
    Remove,
}

/// A flag update for a set of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagUpdate {
    /// How to combine.
    pub op: FlagOp,
    /// System flags.
    pub flags: Flags,
    /// Keywords.
    pub keywords: Vec<String>,
    /// CONDSTORE UNCHANGEDSINCE: messages with a higher MODSEQ are not touched (RFC 7162 §3.1.3).
    pub unchanged_since: Option<u64>,
}

/// What a flag update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagResult {
    /// Messages whose flags changed, with their new state. Messages whose flags were already
    /// as requested are not listed and keep their MODSEQ.
    pub changed: Vec<MessageEntry>,
    /// UIDs refused because of UNCHANGEDSINCE (the MODIFIED response code).
    pub conflicts: Vec<u32>,
}

/// What COPY or MOVE did (for COPYUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyResult {
    /// UIDVALIDITY of the destination.
    pub uidvalidity: u32,
    /// (source UID, destination UID) pairs, in source UID order.
    pub mapping: Vec<(u32, u32)>,
}

/// Changes in a mailbox since a MODSEQ (CONDSTORE/QRESYNC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The mailbox's HIGHESTMODSEQ now.
    pub highest_modseq: u64,
    /// Messages added or changed after the given MODSEQ.
    pub changed: Vec<MessageEntry>,
    /// UIDs expunged after the given MODSEQ.
    pub vanished: Vec<u32>,
}

/// State of one recipient in the outbound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientState {
    /// Not yet delivered; `next_attempt` says when to try.
    Pending,
    /// Accepted by the next hop: final.
    Delivered,
    /// Permanently failed or expired: final (a DSN may be due).
    Failed,
}

impl RecipientState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Pending => "pending",
            RecipientState::Delivered => "delivered",
            RecipientState::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<RecipientState> {
        match s {
            "pending" => Some(RecipientState::Pending),
            "delivered" => Some(RecipientState::Delivered),
            "failed" => Some(RecipientState::Failed),
            _ => None,
        }
    }
}

/// A recipient as given to `enqueue`, with its DSN parameters (RFC 3461).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecipient {
    /// Forward path.
    pub address: Address,
    /// ORCPT parameter as received.
    pub orcpt: Option<String>,
    /// NOTIFY parameter as received (e.g. `SUCCESS,FAILURE`).
    pub notify: Option<String>,
}

/// A recipient in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecipient {
    /// Forward path.
    pub address: Address,
    /// ORCPT parameter.
    pub orcpt: Option<String>,
    /// NOTIFY parameter.
    pub notify: Option<String>,
    /// State.
    pub state: RecipientState,
    /// Attempts so far.
    pub attempts: u32,
    /// Next attempt, seconds since the epoch.
    pub next_attempt: i64,
    /// Last attempt, seconds since the epoch.
    pub last_attempt: Option<i64>,
    /// The last reply seen (remote server's text or our own reason).
    pub last_reply: Option<String>,
}

/// A message to put on the outbound queue.
#[derive(Debug, Clone)]
pub struct NewQueued {
    /// Queue id (also printed in the 250 reply).
    pub id: QueueId,
    /// Reverse path; `None` is the null sender `<>` (bounces).
    pub sender: Option<Address>,
    /// Recipients.
    pub recipients: Vec<NewRecipient>,
    /// DSN ENVID.
    pub envid: Option<String>,
    /// DSN RET (`FULL` or `HDRS`).
    pub ret: Option<String>,
    /// Who submitted it (account address), if authenticated.
    pub auth_user: Option<String>,
    /// Held for review (e.g. outbound spam score): not delivered until released.
    pub held: bool,
    /// The bytes.
    pub data: MessageData,
    /// Creation time, seconds since the epoch.
    pub created: i64,
}

/// A message in the outbound queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Queue id.
    pub id: QueueId,
    /// Reverse path, `None` for `<>`.
    pub sender: Option<Address>,
    /// Recipients and their state.
    pub recipients: Vec<QueueRecipient>,
    /// DSN ENVID.
    pub envid: Option<String>,
    /// DSN RET.
    pub ret: Option<String>,
    /// Submitting account.
    pub auth_user: Option<String>,
    /// Held for review.
    pub held: bool,
    /// Content address of the bytes.
    pub blob: BlobId,
    /// Size in octets.
    pub size: u64,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// A delay notice (DSN `delayed`) has been sent for it.
    pub delay_notified: bool,
}

/// What one delivery round of a queued message changes, recorded in one transaction: the
/// recipients' outcomes, the notices it produces (DSNs, themselves queued messages), and
/// whether a delay notice went out. A crash never leaves an outcome without its notice.
#[derive(Debug, Clone, Default)]
pub struct AttemptRecord {
    /// Outcomes of pending recipients.
    pub updates: Vec<RecipientUpdate>,
    /// Messages to enqueue with it (delivery status notifications).
    pub notices: Vec<NewQueued>,
    /// Marks the message as having had its delay notice.
    pub delay_notified: bool,
}

/// A domain's MTA-STS policy as last fetched (RFC 8461 §5.1): kept until `expires`, used when
/// a new fetch fails, and fetched again when the domain's `_mta-sts` record shows a new id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsPolicyRecord {
    /// The `id` of the `_mta-sts` TXT record the policy was fetched under.
    pub id: String,
    /// The policy file as served.
    pub text: String,
    /// When it was fetched (Unix seconds).
    pub fetched: i64,
    /// When it stops applying: fetched + its `max_age` (Unix seconds).
    pub expires: i64,
}

/// A change to one queued recipient after a delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientUpdate {
    /// Which recipient.
    pub address: Address,
    /// New state.
    pub state: RecipientState,
    /// When to try next (for `Pending`).
    pub next_attempt: i64,
    /// When this attempt was made.
    pub attempted_at: i64,
    /// The reply or reason.
    pub reply: String,
}

/// One entry of the event journal: a step of a message's journey.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// Queue id the event belongs to, if any.
    pub queue_id: Option<QueueId>,
    /// Message-ID header of the message, if known.
    pub message_id: Option<String>,
    /// The address concerned (recipient or sender), normalised, if any.
    pub address: Option<String>,
    /// What happened, e.g. `smtp.mail`, `smtp.rcpt`, `delivery.local`, `outbound.attempt`.
    pub kind: String,
    /// Details.
    pub data: serde_json::Value,
}

/// What to look up in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalQuery {
    /// Every event of a queue id.
    QueueId(QueueId),
    /// Every event of the queue ids that carried this Message-ID.
    MessageId(String),
    /// Every event of the queue ids that concerned this address.
    Address(String),
}

/// What a message was trained as, for the per-account spam classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpamClass {
    /// Unwanted mail.
    Spam,
    /// Wanted mail.
    Ham,
}

impl SpamClass {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SpamClass::Spam => "spam",
            SpamClass::Ham => "ham",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<SpamClass> {
        match s {
            "spam" => Some(SpamClass::Spam),
            "ham" => Some(SpamClass::Ham),
            _ => None,
        }
    }
}

/// One message to train the classifier on: its content address (the key of the "seen"
/// record), its hashed tokens (each once) and its sender, whose trained counts move with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamTraining {
    /// Content address of the message bytes.
    pub blob: BlobId,
    /// What to train it as.
    pub class: SpamClass,
    /// Token hashes, each listed once.
    pub tokens: Vec<u64>,
    /// The normalised sender address (lowercase `local@domain`), if the message has one.
    pub sender: Option<String>,
}

/// What training a message did (SpamAssassin's "seen" semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainOutcome {
    /// Never trained before: its tokens were added to the class.
    Learned,
    /// It had been trained as the other class: that was undone and it was learned as this one.
    Relearned,
    /// Already trained as this class: nothing changed.
    AlreadyKnown,
}

/// How often a token was seen in trained messages (each message counts a token once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Trained spam messages that had the token.
    pub spam: u32,
    /// Trained ham messages that had the token.
    pub ham: u32,
}

/// Counts for a classification: the account's trained totals and the asked tokens' counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpamCounts {
    /// Messages trained as spam.
    pub spam_messages: u64,
    /// Messages trained as ham.
    pub ham_messages: u64,
    /// Counts of each asked token, in the order asked (zero for unknown tokens).
    pub tokens: Vec<TokenCounts>,
}

/// An account's classifier database at a glance (`mailstead spam stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpamStats {
    /// Messages trained as spam.
    pub spam_messages: u64,
    /// Messages trained as ham.
    pub ham_messages: u64,
    /// Distinct tokens stored.
    pub tokens: u64,
    /// Correspondents recorded.
    pub correspondents: u64,
}

/// What the user's own history says about one sender (sender reputation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Correspondent {
    /// Messages from this sender delivered and not classified as spam.
    pub ham_received: u32,
    /// Messages from this sender trained as ham.
    pub ham_trained: u32,
    /// Messages from this sender trained as spam.
    pub spam_trained: u32,
    /// Messages the user sent to this address.
    pub sent: u32,
}

/// An event that changes a correspondent's record outside training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrespondentEvent {
    /// A message from them was delivered and not classified as spam.
    HamReceived,
    /// The user sent them a message.
    Sent,
}
