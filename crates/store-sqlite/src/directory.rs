//! Domains, accounts and aliases in SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use mailstead_store::model::{Account, AccountId, Alias, AliasSource, NewAccount};
use mailstead_store::{DirectoryStore, Result, StoreError};
use mailstead_types::{Address, Domain, SpecialUse};

use crate::rows::{self, ACCOUNT_COLUMNS};
use crate::{SqliteStore, db_err, now_secs};

#[async_trait]
impl DirectoryStore for SqliteStore {
    async fn add_domain(&self, domain: &Domain) -> Result<()> {
        let name = domain.to_string();
        self.inner
            .writer
            .write(move |conn, _| {
                conn.execute("INSERT INTO domains(name, created) VALUES(?1, ?2)", params![name, now_secs()])
                    .map_err(|e| rows::unique_as_exists(e, || format!("domain {name} already exists")))?;
                Ok(())
            })
            .await
    }

    async fn delete_domain(&self, domain: &Domain) -> Result<()> {
        let name = domain.to_string();
        self.inner
            .writer
            .write(move |conn, _| {
                let used: i64 = conn
                    .query_row(
                        "SELECT (SELECT COUNT(*) FROM accounts WHERE domain = ?1) + (SELECT COUNT(*) FROM aliases WHERE domain = ?1)",
                        [&name],
                        |r| r.get(0),
                    )
                    .map_err(db_err)?;
                if used > 0 {
                    return Err(StoreError::invalid(format!(
                        "domain {name} still has {used} accounts or aliases; delete them first"
                    )));
                }
                match conn.execute("DELETE FROM domains WHERE name = ?1", [&name]).map_err(db_err)? {
                    0 => Err(StoreError::not_found(format!("domain {name} does not exist"))),
                    _ => Ok(()),
                }
            })
            .await
    }

    async fn list_domains(&self) -> Result<Vec<Domain>> {
        self.inner
            .readers
            .read(|conn| {
                let mut stmt =
                    conn.prepare_cached("SELECT name FROM domains ORDER BY name").map_err(db_err)?;
                let names = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(db_err)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_err)?;
                Ok(names.iter().filter_map(|n| Domain::parse(n).ok()).collect())
            })
            .await
    }

    async fn is_local_domain(&self, domain: &Domain) -> Result<bool> {
        let name = domain.to_string();
        self.inner.readers.read_point(move |conn| {
            conn.prepare_cached("SELECT 1 FROM domains WHERE name = ?1")
                .and_then(|mut s| s.exists([name]))
                .map_err(db_err)
        })
    }

    async fn add_account(&self, new: NewAccount) -> Result<Account> {
        self.inner
            .writer
            .write(move |conn, _| {
                let domain = new.address.domain().to_string();
                let lookup = new.address.normalized();
                if !conn.prepare_cached("SELECT 1 FROM domains WHERE name = ?1").and_then(|mut s| s.exists([&domain])).map_err(db_err)? {
                    return Err(StoreError::not_found(format!(
                        "{domain} is not a local domain; add it first (mailstead init or domain add)"
                    )));
                }
                if conn.prepare_cached("SELECT 1 FROM aliases WHERE source = ?1").and_then(|mut s| s.exists([&lookup])).map_err(db_err)? {
                    return Err(StoreError::exists(format!("{lookup} is already an alias")));
                }
                let created = now_secs();
                conn.execute(
                    "INSERT INTO accounts(address, lookup, domain, password_hash, quota_bytes, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                    params![new.address.to_string(), lookup, domain, new.password_hash, new.quota_bytes as i64, created],
                )
                .map_err(|e| rows::unique_as_exists(e, || format!("account {lookup} already exists")))?;
                let id = conn.last_insert_rowid();
                for (role, name) in SpecialUse::DEFAULTS {
                    conn.execute(
                        "INSERT INTO mailboxes(account, name, uidvalidity, uidnext, highest_modseq, special_use, subscribed)
                         VALUES(?1, ?2, ?3, 1, 1, ?4, 1)",
                        params![id, name, rows::new_uidvalidity(conn)?, role.as_str()],
                    )
                    .map_err(db_err)?;
                }
                Ok(Account {
                    id,
                    address: new.address,
                    password_hash: new.password_hash,
                    quota_bytes: new.quota_bytes,
                    used_bytes: 0,
                    created,
                })
            })
            .await
    }

    async fn get_account(&self, address: &Address) -> Result<Option<Account>> {
        let lookup = address.normalized();
        self.inner.readers.read_point(move |conn| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lookup = ?1");
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_row([lookup], rows::account).optional())
                .map_err(db_err)
        })
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>> {
        self.inner.readers.read_point(move |conn| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1");
            conn.prepare_cached(&sql)
                .and_then(|mut s| s.query_row([id], rows::account).optional())
                .map_err(db_err)
        })
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        self.inner
            .readers
            .read(|conn| {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY lookup");
                let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
                let rows = stmt.query_map([], rows::account).map_err(db_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
            })
            .await
    }

    async fn set_password(&self, address: &Address, password_hash: String) -> Result<()> {
        let lookup = address.normalized();
        self.update_account(lookup, "password_hash", rusqlite::types::Value::Text(password_hash)).await
    }

    async fn set_quota(&self, address: &Address, quota_bytes: u64) -> Result<()> {
        let lookup = address.normalized();
        self.update_account(lookup, "quota_bytes", rusqlite::types::Value::Integer(quota_bytes as i64)).await
    }

    async fn delete_account(&self, address: &Address) -> Result<()> {
        let lookup = address.normalized();
        self.inner
            .writer
            .write(move |conn, ctx| {
                let id: i64 = conn
                    .query_row("SELECT id FROM accounts WHERE lookup = ?1", [&lookup], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?
                    .ok_or_else(|| StoreError::not_found(format!("no account {lookup}")))?;
                let mailboxes: Vec<i64> = conn
                    .prepare("SELECT id FROM mailboxes WHERE account = ?1")
                    .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
                    .map_err(db_err)?;
                for mailbox in mailboxes {
                    rows::drop_mailbox_messages(conn, ctx, mailbox)?;
                }
                conn.execute("DELETE FROM accounts WHERE id = ?1", [id]).map_err(db_err)?;
                Ok(())
            })
            .await
    }

    async fn add_alias(&self, alias: Alias) -> Result<()> {
        self.inner
            .writer
            .write(move |conn, _| {
                let key = alias.source.key();
                let domain = alias.source.domain().to_string();
                if !conn
                    .prepare_cached("SELECT 1 FROM domains WHERE name = ?1")
                    .and_then(|mut s| s.exists([&domain]))
                    .map_err(db_err)?
                {
                    return Err(StoreError::not_found(format!("{domain} is not a local domain")));
                }
                if alias.targets.is_empty() {
                    return Err(StoreError::invalid("an alias needs at least one target"));
                }
                if conn
                    .prepare_cached("SELECT 1 FROM accounts WHERE lookup = ?1")
                    .and_then(|mut s| s.exists([&key]))
                    .map_err(db_err)?
                {
                    return Err(StoreError::exists(format!("{key} is an account")));
                }
                let targets: Vec<String> = alias.targets.iter().map(|t| t.to_string()).collect();
                conn.execute(
                    "INSERT INTO aliases(source, domain, targets, created) VALUES(?1, ?2, ?3, ?4)",
                    params![key, domain, targets.join("\n"), now_secs()],
                )
                .map_err(|e| rows::unique_as_exists(e, || format!("alias {key} already exists")))?;
                Ok(())
            })
            .await
    }

    async fn get_alias(&self, source: &AliasSource) -> Result<Option<Alias>> {
        let key = source.key();
        self.inner.readers.read_point(move |conn| {
            let row: Option<(String, String)> = conn
                .prepare_cached("SELECT source, targets FROM aliases WHERE source = ?1")
                .and_then(|mut s| s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(db_err)?;
            Ok(row.and_then(|(source, targets)| decode_alias(&source, &targets)))
        })
    }

    async fn list_aliases(&self) -> Result<Vec<Alias>> {
        self.inner
            .readers
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT source, targets FROM aliases ORDER BY source")
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .map_err(db_err)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_err)?;
                Ok(rows.iter().filter_map(|(s, t)| decode_alias(s, t)).collect())
            })
            .await
    }

    async fn delete_alias(&self, source: &AliasSource) -> Result<()> {
        let key = source.key();
        self.inner
            .writer
            .write(move |conn, _| {
                match conn.execute("DELETE FROM aliases WHERE source = ?1", [&key]).map_err(db_err)? {
                    0 => Err(StoreError::not_found(format!("no alias {key}"))),
                    _ => Ok(()),
                }
            })
            .await
    }
}

impl SqliteStore {
    async fn update_account(
        &self,
        lookup: String,
        column: &'static str,
        value: rusqlite::types::Value,
    ) -> Result<()> {
        self.inner
            .writer
            .write(move |conn, _| {
                let sql = format!("UPDATE accounts SET {column} = ?2 WHERE lookup = ?1");
                match conn.execute(&sql, params![lookup, value]).map_err(db_err)? {
                    0 => Err(StoreError::not_found(format!("no account {lookup}"))),
                    _ => Ok(()),
                }
            })
            .await
    }
}

fn decode_alias(source: &str, targets: &str) -> Option<Alias> {
    let source = match AliasSource::parse(source) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(alias = source, error = %e, "skipping an alias with an unparsable source");
            return None;
        }
    };
    let targets = targets.lines().filter_map(|t| Address::parse(t).ok()).collect();
    Some(Alias { source, targets })
}
