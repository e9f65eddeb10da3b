//! The storage traits. Servers hold an `Arc<dyn Store>`; the embedded SQLite backend and the
//! PostgreSQL backend implement it. Split by concern so each reads on its own page.

use async_trait::async_trait;
use mailstead_types::{Address, Domain, QueueId, SpecialUse};

use crate::Result;
use crate::model::*;
use crate::notify::ChangeHub;

/// Domains, accounts and aliases.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Adds a local domain. Errors with `AlreadyExists` if present.
    async fn add_domain(&self, domain: &Domain) -> Result<()>;
    /// Removes a domain; refused (`Invalid`) while accounts or aliases use it.
    async fn delete_domain(&self, domain: &Domain) -> Result<()>;
    /// All local domains, sorted.
    async fn list_domains(&self) -> Result<Vec<Domain>>;
    /// Whether mail for `domain` is delivered here.
    async fn is_local_domain(&self, domain: &Domain) -> Result<bool>;

    /// Creates an account and its default mailboxes (INBOX, Sent, Drafts, Trash, Junk, Archive),
    /// all in one transaction. The domain must be local; the address must not be taken by an
    /// account or an alias.
    async fn add_account(&self, new: NewAccount) -> Result<Account>;
    /// Looks up an account by address (case-insensitive local part).
    async fn get_account(&self, address: &Address) -> Result<Option<Account>>;
    /// Looks up an account by id.
    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>>;
    /// All accounts, sorted by address.
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    /// Replaces an account's password hash.
    async fn set_password(&self, address: &Address, password_hash: String) -> Result<()>;
    /// Sets an account's quota (0 = unlimited).
    async fn set_quota(&self, address: &Address, quota_bytes: u64) -> Result<()>;
    /// Deletes an account with all its mailboxes and messages.
    async fn delete_account(&self, address: &Address) -> Result<()>;

    /// Adds an alias; `AlreadyExists` if the source is an alias or an account already.
    async fn add_alias(&self, alias: Alias) -> Result<()>;
    /// Looks up an alias.
    async fn get_alias(&self, source: &AliasSource) -> Result<Option<Alias>>;
    /// All aliases, sorted by source.
    async fn list_aliases(&self) -> Result<Vec<Alias>>;
    /// Deletes an alias.
    async fn delete_alias(&self, source: &AliasSource) -> Result<()>;
}

/// Mailboxes and messages.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// The account's change notifications.
    fn changes(&self) -> &ChangeHub;

    /// All mailboxes of an account, sorted by name (INBOX first).
    async fn list_mailboxes(&self, account: AccountId) -> Result<Vec<Mailbox>>;
    /// One mailbox by name (`INBOX` matched case-insensitively).
    async fn get_mailbox(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>>;
    /// Creates a mailbox with a fresh UIDVALIDITY.
    async fn create_mailbox(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<Mailbox>;
    /// Deletes a mailbox and its messages (not INBOX).
    async fn delete_mailbox(&self, account: AccountId, name: &str) -> Result<()>;
    /// Renames a mailbox and its children. Renaming INBOX moves its messages to the new
    /// mailbox and leaves INBOX empty (RFC 3501 §6.3.5).
    async fn rename_mailbox(&self, account: AccountId, from: &str, to: &str) -> Result<()>;
    /// Subscribes or unsubscribes.
    async fn set_subscribed(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()>;

    /// Appends one message to several mailboxes (local delivery to many recipients, or IMAP
    /// APPEND to one): the bytes are stored once. Each target succeeds or fails on its own
    /// (unknown mailbox, over quota); the outer error means nothing was stored. Returns only
    /// after everything is durable.
    async fn append(&self, message: NewMessage, targets: Vec<AppendTarget>) -> Result<Vec<Result<Appended>>>;
    /// Appends several different messages (e.g. one per recipient, each with its own
    /// `Delivered-To:`) in one transaction: all are durable together or, on the outer error,
    /// none is stored. Each item succeeds or fails on its own, as with [`MailStore::append`].
    async fn append_each(&self, items: Vec<(NewMessage, AppendTarget)>) -> Result<Vec<Result<Appended>>>;
    /// All messages of a mailbox in UID order.
    async fn entries(&self, mailbox: MailboxId) -> Result<Vec<MessageEntry>>;
    /// A mailbox by name and all its messages in UID order, read at one moment (IMAP SELECT):
    /// the counters agree with the entries. When the mailbox's HIGHESTMODSEQ equals
    /// `cached_modseq` the caller's copy of the entries is current (every change raises
    /// HIGHESTMODSEQ): the entries are not read, `None` is returned for them and the counters
    /// are left 0.
    async fn open_mailbox(
        &self,
        account: AccountId,
        name: &str,
        cached_modseq: Option<u64>,
    ) -> Result<Option<(Mailbox, Option<Vec<MessageEntry>>)>>;
    /// The bytes of a stored message.
    async fn read_message(&self, blob: &BlobId) -> Result<MessageData>;
    /// The bytes of several messages in one round trip, in the order asked; each read
    /// succeeds or fails on its own.
    async fn read_messages(&self, blobs: Vec<BlobId>) -> Result<Vec<Result<MessageData>>>;
    /// Cached FETCH data (encoded ENVELOPE and BODYSTRUCTURE) of message contents, in the
    /// order asked; `None` where nothing is cached.
    async fn fetch_cache(&self, blobs: Vec<BlobId>) -> Result<Vec<Option<CachedFetch>>>;
    /// Caches FETCH data. A cache, not a record: entries for contents no longer stored are
    /// ignored, and an entry goes when its content goes.
    async fn put_fetch_cache(&self, items: Vec<(BlobId, CachedFetch)>) -> Result<()>;
    /// Changes flags of the given UIDs (missing UIDs are ignored).
    async fn update_flags(
        &self,
        mailbox: MailboxId,
        uids: Vec<u32>,
        update: FlagUpdate,
    ) -> Result<FlagResult>;
    /// Copies messages to another mailbox of the same account, keeping flags.
    async fn copy_messages(&self, from: MailboxId, uids: Vec<u32>, to: MailboxId) -> Result<CopyResult>;
    /// Moves messages atomically (copy + expunge in one transaction, RFC 6851).
    async fn move_messages(&self, from: MailboxId, uids: Vec<u32>, to: MailboxId) -> Result<CopyResult>;
    /// Removes messages flagged `\Deleted` (only among `uids` when given). Returns removed UIDs.
    async fn expunge(&self, mailbox: MailboxId, uids: Option<Vec<u32>>) -> Result<Vec<u32>>;
    /// Removes exactly these messages, whatever their flags, in one transaction, as an expunge
    /// (tombstones for QRESYNC, change notification): POP3's UPDATE state. Returns the UIDs
    /// removed (those that existed).
    async fn remove_messages(&self, mailbox: MailboxId, uids: Vec<u32>) -> Result<Vec<u32>>;
    /// Messages changed and UIDs expunged after `modseq`.
    async fn changes_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Changes>;
}

/// The durable outbound queue.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Puts a message on the queue; durable on return. All recipients start `Pending` and due now.
    async fn enqueue(&self, message: NewQueued) -> Result<()>;
    /// Every queued message, oldest first.
    async fn queue_list(&self) -> Result<Vec<QueuedMessage>>;
    /// One queued message.
    async fn queue_get(&self, id: &QueueId) -> Result<Option<QueuedMessage>>;
    /// The ids of messages not held with a pending recipient due at or before `now`, oldest
    /// first (ids only: the runner reads each message's current state when it takes it).
    async fn queue_due(&self, now: i64, limit: usize) -> Result<Vec<QueueId>>;
    /// The bytes of a queued message.
    async fn queue_read(&self, id: &QueueId) -> Result<MessageData>;
    /// Records attempt outcomes. When no recipient is left pending the message leaves the queue.
    async fn queue_update(&self, id: &QueueId, updates: Vec<RecipientUpdate>) -> Result<()> {
        self.queue_record(id, AttemptRecord { updates, ..AttemptRecord::default() }).await
    }
    /// Records attempt outcomes, enqueues the notices and sets the delay flag, in one
    /// transaction. When no recipient is left pending the message leaves the queue.
    async fn queue_record(&self, id: &QueueId, record: AttemptRecord) -> Result<()>;
    /// Makes every pending recipient due at `now` (and releases a hold).
    async fn queue_retry(&self, id: &QueueId, now: i64) -> Result<()>;
    /// Holds or releases a message.
    async fn queue_set_held(&self, id: &QueueId, held: bool) -> Result<()>;
    /// Removes a message from the queue without delivering it.
    async fn queue_cancel(&self, id: &QueueId) -> Result<()>;
    /// The cached MTA-STS policy of `domain` (lower case), expired or not.
    async fn sts_policy(&self, domain: &str) -> Result<Option<StsPolicyRecord>>;
    /// Stores (replaces) the MTA-STS policy of `domain`; durable on return.
    async fn put_sts_policy(&self, domain: &str, policy: StsPolicyRecord) -> Result<()>;
}

/// The event journal (the message journey).
#[async_trait]
pub trait JournalStore: Send + Sync {
    /// Appends events, durable on return.
    async fn journal(&self, events: Vec<Event>) -> Result<()>;
    /// Events matching a query, oldest first, at most `limit`.
    async fn journal_query(&self, query: JournalQuery, limit: usize) -> Result<Vec<Event>>;
}

/// The per-account spam classifier's data: token counts, which message contents were trained
/// as what, and the correspondents of the account (sender reputation). Token hashes and their
/// meaning belong to the classifier; the store only counts.
#[async_trait]
pub trait SpamStore: Send + Sync {
    /// The account's trained totals and the counts of `tokens`, in the order asked, read at
    /// one moment.
    async fn spam_counts(&self, account: AccountId, tokens: Vec<u64>) -> Result<SpamCounts>;
    /// Trains one message in one transaction. Trained before as the same class: nothing
    /// changes. Trained as the other class: its tokens leave that class and join this one, and
    /// the totals and the sender's counts move too. Counts never go below zero (a token set
    /// that changed between training and untraining cannot corrupt the counts).
    async fn spam_train(&self, account: AccountId, training: SpamTraining) -> Result<TrainOutcome>;
    /// What a message content was trained as, if it was.
    async fn spam_trained_as(&self, account: AccountId, blob: &BlobId) -> Result<Option<SpamClass>>;
    /// Totals for the operator.
    async fn spam_stats(&self, account: AccountId) -> Result<SpamStats>;
    /// The record of one correspondent (normalised address), if any.
    async fn correspondent(&self, account: AccountId, address: &str) -> Result<Option<Correspondent>>;
    /// Counts an event for a correspondent (normalised address).
    async fn note_correspondent(
        &self,
        account: AccountId,
        address: &str,
        event: CorrespondentEvent,
    ) -> Result<()>;
}

/// Everything a Mailstead server needs from storage.
pub trait Store: DirectoryStore + MailStore + QueueStore + JournalStore + SpamStore {}

impl<T: DirectoryStore + MailStore + QueueStore + JournalStore + SpamStore> Store for T {}
