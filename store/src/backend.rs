//! The two database backends behind one schema and one set of statements.
//!
//! A small enum over the native pools rather than sqlx's `AnyPool`: each arm
//! keeps its driver's own types (BYTEA/BLOB as `Vec<u8>`, BOOLEAN as
//! `bool`), its own connect options (SQLite WAL, `synchronous=FULL`, busy
//! timeout; PostgreSQL pools usable by `PgListener` for LISTEN/NOTIFY) and
//! its own way to take the write lock. The SQL text is shared: `$N`
//! placeholders work on both engines, and the [`on_pool!`] / [`on_tx!`]
//! macros expand one body once per backend with concrete types.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Transaction;
use time::OffsetDateTime;

use crate::error::{Result, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$c` bound to the pool of whichever backend is open.
/// The body is compiled once per backend, so queries and row tuples get the
/// driver's concrete types.
macro_rules! on_pool {
    ($pool:expr, $c:ident => $body:expr) => {
        match $pool {
            $crate::backend::Pool::Sqlite($c) => $body,
            $crate::backend::Pool::Postgres($c) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the connection of the open transaction;
/// use `&mut *$c` as the executor.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::backend::Tx::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::backend::Tx::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

pub(crate) use {on_pool, on_tx};

/// The certificate, revocation and audit database.
///
/// Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// Audit entries binding many rows whose rows digest this process has
    /// checked lately (see [`crate::audit::EntryMemo`]).
    pub(crate) entry_memo: std::sync::Arc<crate::audit::EntryMemo>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its
    /// schema up to date.
    ///
    /// - `sqlite://PATH` (relative or absolute, e.g. `sqlite://var/pki.db`,
    ///   `sqlite:///srv/pki/pki.db`): creates the file and its parent
    ///   directory, WAL journal, `synchronous=FULL` so a committed
    ///   revocation survives a power cut.
    /// - `postgres://...` or `postgresql://...`: the database must exist.
    pub async fn open(url: &str) -> Result<Self> {
        let pool = connect(url, true).await?;
        on_pool!(&pool, p => MIGRATOR.run(p).await?);
        let store = Self::from_pool(pool);
        store.bind_baseline().await?;
        Ok(store)
    }

    /// Creates a new store (`pki store init`): a SQLite file and its
    /// directory are created, a PostgreSQL database must exist; then the
    /// whole schema is applied. Refuses a database that already has the
    /// schema ([`StoreError::AlreadyInitialized`]).
    pub async fn create(url: &str) -> Result<Self> {
        let store = Self::from_pool(connect(url, true).await?);
        if let Some(applied) = applied_migrations(&store.pool).await? {
            store.close().await;
            return Err(StoreError::AlreadyInitialized {
                url: redact(url),
                version: applied.last().copied().unwrap_or(0),
            });
        }
        on_pool!(&store.pool, p => MIGRATOR.run(p).await?);
        Ok(store)
    }

    /// Opens an existing store without creating or migrating anything, for
    /// the officer commands: a URL naming no database is
    /// [`StoreError::DatabaseMissing`], a database without the schema
    /// [`StoreError::NotInitialized`], and one missing any migration this
    /// binary embeds [`StoreError::SchemaBehind`].
    pub async fn open_existing(url: &str) -> Result<Self> {
        let store = Self::from_pool(connect(url, false).await?);
        let schema = match store.schema().await {
            Ok(Some(schema)) => schema,
            Ok(None) => {
                store.close().await;
                return Err(StoreError::NotInitialized { url: redact(url) });
            }
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        };
        if !schema.is_current() {
            store.close().await;
            return Err(StoreError::SchemaBehind {
                have: schema.applied,
                need: schema.embedded,
            });
        }
        Ok(store)
    }

    /// Applies the migrations an existing store lacks (`pki store
    /// migrate`), then binds rows written before the audit log vouched for
    /// rows, as [`Store::open`] does. Creates nothing: see
    /// [`Store::open_existing`] for the errors.
    pub async fn migrate(url: &str) -> Result<(Self, Migrated)> {
        let store = Self::from_pool(connect(url, false).await?);
        let Some(before) = store.schema().await? else {
            store.close().await;
            return Err(StoreError::NotInitialized { url: redact(url) });
        };
        on_pool!(&store.pool, p => MIGRATOR.run(p).await?);
        store.bind_baseline().await?;
        let after = store
            .schema()
            .await?
            .ok_or_else(|| StoreError::NotInitialized { url: redact(url) })?;
        Ok((
            store,
            Migrated {
                from: before.applied,
                to: after.applied,
                applied: before.missing.len(),
            },
        ))
    }

    /// The schema version of this database against the one this binary
    /// embeds; `None` when the database has no schema at all.
    pub async fn schema(&self) -> Result<Option<Schema>> {
        let Some(applied) = applied_migrations(&self.pool).await? else {
            return Ok(None);
        };
        let embedded: Vec<i64> = MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| m.version)
            .collect();
        // The schema is "at" the last migration before the first one it
        // lacks: a store missing 3 of 1..=5 is at 2, not at 5.
        let at = embedded
            .iter()
            .take_while(|v| applied.contains(v))
            .last()
            .copied()
            .unwrap_or(0);
        Ok(Some(Schema {
            applied: at,
            embedded: embedded.iter().copied().max().unwrap_or(0),
            missing: embedded
                .into_iter()
                .filter(|v| !applied.contains(v))
                .collect(),
        }))
    }

    /// Opens an existing database for reading only, without migrating:
    /// what a responder does with a PostgreSQL streaming replica (which
    /// refuses writes). Fails when the schema is older than this binary
    /// needs, or when a SQLite file does not exist.
    pub async fn open_read(url: &str) -> Result<Self> {
        // Opening an existing store writes nothing: the same checks.
        Self::open_existing(url).await
    }

    fn from_pool(pool: Pool) -> Self {
        Self {
            pool,
            entry_memo: std::sync::Arc::default(),
        }
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The PostgreSQL pool, for `sqlx::postgres::PgListener` on
    /// [`crate::CHANGES_CHANNEL`]; `None` on SQLite (poll
    /// [`Store::changes_since`] instead).
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(p) => Some(p),
            Pool::Sqlite(_) => None,
        }
    }

    /// Closes every connection; pending work finishes first.
    pub async fn close(&self) {
        on_pool!(&self.pool, p => p.close().await);
    }

    /// Starts a write transaction holding the store-wide write lock: SQLite
    /// `BEGIN IMMEDIATE`, PostgreSQL `SELECT ... FOR UPDATE` on the audit
    /// head. Writers queue behind each other, so the audit chain cannot fork
    /// and sequence numbers commit in order. Dropping the transaction
    /// without [`StoreTx::commit`] rolls it back.
    pub async fn begin(&self) -> Result<StoreTx> {
        let tx = match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => {
                let mut t = p.begin().await?;
                sqlx::query("SELECT value FROM counters WHERE name = 'audit' FOR UPDATE")
                    .execute(&mut *t)
                    .await?;
                Tx::Postgres(t)
            }
        };
        Ok(StoreTx {
            tx,
            bound: Vec::new(),
        })
    }

    /// Starts a read-only transaction that sees one consistent snapshot
    /// (SQLite: a deferred transaction, fixed at its first read in WAL
    /// mode; PostgreSQL: REPEATABLE READ). Writers are not blocked.
    pub(crate) async fn begin_read(&self) -> Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => {
                let mut t = p
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                // The audit replays run one prepared statement per page;
                // after five runs PostgreSQL switches to a generic plan,
                // which (not knowing the page bounds) hashes every binding
                // of the table for each page: 232 ms a page at a million
                // rows instead of 3 ms. Plan each page for its values.
                sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
                    .execute(&mut *t)
                    .await?;
                Tx::Postgres(t)
            }
        })
    }
}

impl Tx {
    /// Ends a read transaction.
    pub(crate) async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// A database's schema against the migrations this binary embeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// The last migration applied before the first one the database lacks
    /// (the highest applied when it lacks none).
    pub applied: i64,
    /// Highest migration this binary embeds.
    pub embedded: i64,
    /// Embedded migrations the database lacks, in order.
    pub missing: Vec<i64>,
}

impl Schema {
    /// Every migration this binary embeds is applied.
    pub fn is_current(&self) -> bool {
        self.missing.is_empty()
    }
}

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// Highest migration applied before.
    pub from: i64,
    /// Highest migration applied now.
    pub to: i64,
    /// How many migrations ran.
    pub applied: usize,
}

/// The successful migrations recorded in the database, in order; `None`
/// when it has no migrations table (not a store, or a new empty one). The
/// catalog query is the one statement that differs between the engines.
async fn applied_migrations(pool: &Pool) -> Result<Option<Vec<i64>>> {
    const SQLITE: &str =
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'";
    const POSTGRES: &str = "SELECT to_regclass('_sqlx_migrations') IS NOT NULL";
    const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    let exists: bool = match pool {
        Pool::Sqlite(p) => sqlx::query_scalar(SQLITE).fetch_one(p).await?,
        Pool::Postgres(p) => sqlx::query_scalar(POSTGRES).fetch_one(p).await?,
    };
    if !exists {
        return Ok(None);
    }
    let applied: Vec<i64> = on_pool!(pool, p => sqlx::query_scalar(APPLIED).fetch_all(p).await?);
    Ok(Some(applied))
}

/// A pool on the database at `url`. With `create`, a missing SQLite file
/// (and its directory) is created; without, a URL that names no database
/// is [`StoreError::DatabaseMissing`].
async fn connect(url: &str, create: bool) -> Result<Pool> {
    if let Some(path) = sqlite_path(url) {
        if !create && !path.is_empty() && !path.contains(":memory:") && !Path::new(path).exists() {
            return Err(StoreError::DatabaseMissing { url: redact(url) });
        }
        return Ok(Pool::Sqlite(open_sqlite_with(url, path, create).await?));
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::UnsupportedUrl { url: redact(url) });
    }
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .map_err(|e| match &e {
            // invalid_catalog_name: the database does not exist.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000") => {
                StoreError::DatabaseMissing { url: redact(url) }
            }
            _ => StoreError::Database(e),
        })?;
    Ok(Pool::Postgres(pool))
}

/// A write transaction (see [`Store::begin`]). Every mutating method
/// appends its audit entry inside the same transaction.
#[derive(Debug)]
pub struct StoreTx {
    pub(crate) tx: Tx,
    /// Row images read back after writing, for the next audit entry.
    pub(crate) bound: Vec<crate::audit::Image>,
}

impl StoreTx {
    /// Commits; when this returns `Ok`, the changes are durable.
    pub async fn commit(self) -> Result<()> {
        match self.tx {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Rolls back explicitly (dropping does the same).
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await
    }

    /// Adds `n` to a row of `counters` and returns the new value.
    pub(crate) async fn bump_counter(&mut self, name: &str, n: i64) -> Result<i64> {
        const SQL: &str = "UPDATE counters SET value = value + $2 WHERE name = $1 RETURNING value";
        let value: i64 = on_tx!(&mut self.tx, c => sqlx::query_scalar(SQL)
            .bind(name)
            .bind(n)
            .fetch_one(&mut *c)
            .await?);
        Ok(value)
    }
}

pub(crate) async fn read_counter(pool: &Pool, name: &str) -> Result<i64> {
    const SQL: &str = "SELECT value FROM counters WHERE name = $1";
    let value: i64 = on_pool!(pool, p => sqlx::query_scalar(SQL).bind(name).fetch_one(p).await?);
    Ok(value)
}

pub(crate) async fn read_counter_tx(tx: &mut Tx, name: &str) -> Result<i64> {
    const SQL: &str = "SELECT value FROM counters WHERE name = $1";
    let value: i64 = on_tx!(tx, c => sqlx::query_scalar(SQL).bind(name).fetch_one(&mut *c).await?);
    Ok(value)
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split_once('?').map_or(rest, |(path, _)| path))
}

/// Opens the SQLite file at `path`; with `create`, makes it and its
/// directory if missing.
async fn open_sqlite_with(url: &str, path: &str, create: bool) -> Result<SqlitePool> {
    if path.is_empty() || path.contains(":memory:") {
        // An in-memory database would be one per pooled connection.
        return Err(StoreError::UnsupportedUrl { url: url.into() });
    }
    let path = PathBuf::from(path);
    if create {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_dir(dir)?;
        }
    }
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(&path)
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        // 64 MiB page cache per connection (default 2 MiB): a million-entry
        // revocation index then stays in memory instead of spilling to the
        // WAL mid-transaction.
        .pragma("cache_size", "-65536")
        // Read through a memory map (up to 1 GiB) rather than read(2) into
        // each connection's cache: listing a million revocations in serial
        // order touches table pages in random order.
        .pragma("mmap_size", "1073741824")
        // Rows cross from sqlx's SQLite worker thread to the caller through a
        // bounded channel; the default of 50 costs a thread hand-off every
        // few rows when paging through revocations.
        .row_buffer_size(4096);
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(options)
        .await?)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDirectory {
        path: dir.to_path_buf(),
        source,
    })
}

/// Drops a password from a URL before it goes into an error message.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

// ---- value representation -------------------------------------------------
// Times are stored as Unix seconds (audit: microseconds) in BIGINT columns,
// sequence numbers as BIGINT; the API uses `OffsetDateTime` and `u64`.

pub(crate) fn unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn from_unix(
    table: &'static str,
    column: &'static str,
    value: i64,
) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(value).map_err(|_| StoreError::ValueOutOfRange {
        table,
        column,
        value,
    })
}

pub(crate) fn from_unix_opt(
    table: &'static str,
    column: &'static str,
    value: Option<i64>,
) -> Result<Option<OffsetDateTime>> {
    value.map(|v| from_unix(table, column, v)).transpose()
}

/// The `VALUES` list of a multi-row INSERT: `rows` tuples of `cols`
/// parameters, anonymous `?` on SQLite (which binds numbered ones in
/// O(P^2), see the revocation import), `$n` on PostgreSQL.
pub(crate) fn values_list(tx: &Tx, rows: usize, cols: usize) -> String {
    use std::fmt::Write as _;
    let sqlite = matches!(tx, Tx::Sqlite(_));
    let mut sql = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        sql.push_str(if r > 0 { ", (" } else { "(" });
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            if sqlite {
                sql.push('?');
            } else {
                // Writing to a String cannot fail.
                let _ = write!(sql, "${}", r * cols + c + 1);
            }
        }
        sql.push(')');
    }
    sql
}

/// `$first, $first+1, ...`: `n` numbered parameters for an `IN (...)` list.
pub(crate) fn numbered_list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `u64` from the API as a BIGINT; values past `i64::MAX` mean "no bound".
pub(crate) fn seq_to_db(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

pub(crate) fn seq_from_db(table: &'static str, column: &'static str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::ValueOutOfRange {
        table,
        column,
        value,
    })
}

pub(crate) fn hash_from_db(
    table: &'static str,
    column: &'static str,
    bytes: &[u8],
) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| StoreError::MalformedValue {
        table,
        column,
        reason: "not a 32-byte SHA-256 value",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(sqlite_path("sqlite://var/pki.db"), Some("var/pki.db"));
        assert_eq!(
            sqlite_path("sqlite:///srv/pki.db?mode=rwc"),
            Some("/srv/pki.db")
        );
        assert_eq!(sqlite_path("postgres://x"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("mysql://u:secret@h/db"), "mysql://***@h/db");
        assert_eq!(redact("nope"), "nope");
    }
}
