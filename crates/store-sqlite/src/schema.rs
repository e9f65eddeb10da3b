//! The SQLite schema and its forward migrations. The format version is `PRAGMA user_version`:
//! it equals the number of migrations applied. A database with a higher version than this
//! binary knows was written by a newer Mailstead and is refused rather than guessed at.

use rusqlite::Connection;

use crate::db_err;
use mailstead_store::{Result, StoreError, StoreErrorKind};

/// Migration `i` brings the database from version `i` to `i + 1`. Append only; never edit one
/// that has shipped.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE domains(name TEXT PRIMARY KEY, created INTEGER NOT NULL);
CREATE TABLE accounts(
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    lookup TEXT NOT NULL UNIQUE,
    domain TEXT NOT NULL REFERENCES domains(name),
    password_hash TEXT NOT NULL,
    quota_bytes INTEGER NOT NULL DEFAULT 0,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL);
CREATE TABLE aliases(
    source TEXT PRIMARY KEY,
    domain TEXT NOT NULL REFERENCES domains(name),
    targets TEXT NOT NULL,
    created INTEGER NOT NULL);
CREATE TABLE mailboxes(
    id INTEGER PRIMARY KEY,
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE NOCASE,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL,
    highest_modseq INTEGER NOT NULL,
    special_use TEXT,
    subscribed INTEGER NOT NULL,
    UNIQUE(account, name));
CREATE TABLE blobs(hash TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB, refs INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE messages(
    mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    keywords TEXT NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY(mailbox, uid)) WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages(mailbox, modseq);
CREATE TABLE expunged(
    mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY(mailbox, uid)) WITHOUT ROWID;
CREATE TABLE message_cache(blob TEXT PRIMARY KEY, envelope TEXT, bodystructure TEXT) WITHOUT ROWID;
CREATE TABLE queue(
    id TEXT PRIMARY KEY,
    sender TEXT,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    envid TEXT,
    ret TEXT,
    auth_user TEXT,
    held INTEGER NOT NULL,
    created INTEGER NOT NULL);
CREATE TABLE queue_recipients(
    queue TEXT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    address TEXT NOT NULL,
    orcpt TEXT,
    notify TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    last_attempt INTEGER,
    last_reply TEXT,
    PRIMARY KEY(queue, address));
CREATE INDEX queue_due ON queue_recipients(state, next_attempt);
CREATE TABLE events(
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    queue_id TEXT,
    message_id TEXT,
    address TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX events_queue ON events(queue_id);
CREATE INDEX events_message_id ON events(message_id);
CREATE INDEX events_address ON events(address);
"#,
    r#"
DROP INDEX events_queue;
DROP INDEX events_message_id;
DROP INDEX events_address;
CREATE INDEX events_queue ON events(queue_id) WHERE queue_id IS NOT NULL;
CREATE INDEX events_message_id ON events(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX events_address ON events(address) WHERE address IS NOT NULL;
"#,
    // 3: the per-account spam classifier (token counts, trained contents, correspondents).
    r#"
CREATE TABLE spam_totals(
    account INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    spam INTEGER NOT NULL,
    ham INTEGER NOT NULL);
CREATE TABLE spam_tokens(
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token INTEGER NOT NULL,
    spam INTEGER NOT NULL,
    ham INTEGER NOT NULL,
    PRIMARY KEY(account, token)) WITHOUT ROWID;
CREATE TABLE spam_seen(
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    blob TEXT NOT NULL,
    class TEXT NOT NULL,
    trained INTEGER NOT NULL,
    PRIMARY KEY(account, blob)) WITHOUT ROWID;
CREATE TABLE correspondents(
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    ham_received INTEGER NOT NULL DEFAULT 0,
    ham_trained INTEGER NOT NULL DEFAULT 0,
    spam_trained INTEGER NOT NULL DEFAULT 0,
    sent INTEGER NOT NULL DEFAULT 0,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY(account, address)) WITHOUT ROWID;
"#,
    // 4: the outbound queue remembers that a delay notice went out.
    r#"
ALTER TABLE queue ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;
"#,
    // 5: MTA-STS policies of destination domains, cached for their max_age (RFC 8461 §5.1).
    r#"
CREATE TABLE sts_policies(
    domain TEXT PRIMARY KEY,
    policy_id TEXT NOT NULL,
    text TEXT NOT NULL,
    fetched INTEGER NOT NULL,
    expires INTEGER NOT NULL) WITHOUT ROWID;
"#,
    // 6: large bodies may live in a shared segment file, at an offset (see `segments`); and
    // `blobs` becomes a rowid table. As a WITHOUT ROWID table keyed by a random hash, every
    // inline body of over about 1,000 bytes spilled into an overflow page and landed on a
    // random leaf: 1 KiB messages took 1.15 pages each at a third full. Rows are now appended
    // in order (data last, so reading the other columns never touches it), and only the small
    // hash index takes random inserts.
    r#"
CREATE TABLE blobs_new(
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    refs INTEGER NOT NULL,
    seg INTEGER,
    off INTEGER,
    data BLOB);
INSERT INTO blobs_new(hash, size, refs, data) SELECT hash, size, refs, data FROM blobs;
DROP TABLE blobs;
ALTER TABLE blobs_new RENAME TO blobs;
CREATE INDEX blobs_segment ON blobs(seg, off) WHERE seg IS NOT NULL;
"#,
];

/// The format version this binary writes.
pub const FORMAT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Pragmas for every connection that reads: memory-mapped I/O (256 MiB of address space,
/// not memory) and a larger page cache.
pub const READ_PRAGMAS: &str = "PRAGMA mmap_size = 268435456; PRAGMA cache_size = -8192;";

/// Pragmas for connections that only do point lookups: no memory map (see `readers`).
pub const POINT_READ_PRAGMAS: &str = "PRAGMA mmap_size = 0;";

/// Sets the per-connection pragmas: WAL, full fsync on commit, foreign keys, busy wait.
pub fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(db_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(db_err)?;
    conn.execute_batch(READ_PRAGMAS).map_err(db_err)
}

/// Brings the database to [`FORMAT_VERSION`], or refuses a newer one.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db_err)?;
    if version > FORMAT_VERSION {
        return Err(StoreError::new(
            StoreErrorKind::NewerFormat,
            format!(
                "the data directory was written by a newer Mailstead (store format {version}; this binary \
                 reads up to {FORMAT_VERSION}): run the newer version, or restore a backup made for this one"
            ),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute_batch(sql).map_err(db_err)?;
        tx.pragma_update(None, "user_version", i as i64 + 1).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        tracing::info!(from = i, to = i + 1, "store format migrated");
    }
    Ok(())
}
