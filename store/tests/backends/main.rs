//! The store's integration suite, run once on SQLite (a temp file) and once
//! on PostgreSQL 15 (a throwaway server started by this binary and stopped
//! when it ends, also when tests fail). Without PostgreSQL binaries the
//! `postgres::` tests fail with an install hint; they never skip.
//!
//! `cargo test -p store --test backends [-- FILTER] [--include-ignored]`
#![allow(clippy::unwrap_used)]

mod cases;
#[allow(dead_code)] // The streaming-replica half serves ocsp-responder's topology test.
mod pg;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use libtest_mimic::{Arguments, Failed, Trial};
use store::{Backend, Store};

use crate::pg::PgServer;

type CaseFuture = Pin<Box<dyn Future<Output = ()>>>;
type Case = fn(Ctx) -> CaseFuture;

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), |ctx| Box::pin(cases::$name(ctx)) as CaseFuture)),*]
    };
}

/// Every case runs on both backends.
const SUITE: &[(&str, Case)] = suite![
    open_creates_and_migrates_idempotently,
    cas_insert_get_list,
    serials_unique_random_and_reserved,
    record_certificate_twice_is_refused,
    revoke_hold_unhold_status,
    double_revoke_is_refused,
    unknown_serial_is_never_good,
    revocation_is_committed_before_returning,
    crl_numbers_monotonic_under_concurrency,
    crl_reservation_and_recording,
    changes_since_lists_in_order,
    revocation_listing_pages_full_and_delta,
    import_overlap_imports_nothing,
    audit_chain_verifies,
    audit_concurrent_appends_do_not_fork,
    audit_tamper_update_names_entry,
    audit_tamper_delete_middle_names_gap,
    audit_tamper_delete_tail_is_detected,
    audit_tamper_reorder_is_detected,
    audit_tamper_beyond_head_is_named,
    audit_tamper_malformed_hashes_are_named,
    listen_changes_hears_each_commit,
    state_intact_after_every_kind_of_write,
    state_edited_reason_is_named,
    state_edited_date_is_named,
    state_deleted_revocation_is_named,
    state_inserted_certificate_is_named,
    state_rewritten_image_breaks_the_entry,
    state_imported_rows_are_named,
    state_entry_memo_is_refreshed_and_forgets_a_broken_entry,
    state_baseline_binds_rows_of_an_older_schema,
    state_officer_rows_are_named,
    bulk_revocations_import_and_list,
    million_revocations_import_and_list,
    ocsp_responses_upsert_keeps_the_newest_status,
    ocsp_responses_missing_and_due,
    leases_have_one_holder,
    open_read_does_not_migrate,
];

/// Cases ignored in unoptimised builds, and why. `cargo test --release`
/// runs them; `-- --include-ignored` forces them.
const SLOW_IN_DEBUG: &[(&str, &str)] = &[(
    "million_revocations_import_and_list",
    "about a minute per backend unoptimised on 2 cores; runs under `cargo test --release` \
     (see also `cargo run --release -p store --example bulk_revocations`)",
)];

#[derive(Debug)]
pub struct Ctx {
    pub store: Store,
    pub url: String,
    pub backend: Backend,
    _sqlite_dir: Option<tempfile::TempDir>,
    _pg: Option<Arc<PgServer>>,
}

impl Ctx {
    /// Opens a second, independent `Store` on the same database (another
    /// process, as far as the database can tell).
    pub async fn reopen(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }

    /// Runs raw SQL behind the store's back, as a tamperer would.
    pub async fn tamper(&self, sql: &str) -> u64 {
        use sqlx::Connection as _;
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql)
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected()
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql)
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected()
            }
        }
    }
}

#[derive(Default)]
enum Slot {
    #[default]
    NotStarted,
    Running(Arc<PgServer>),
    Failed(String),
}

/// The one PostgreSQL server of this binary, started by the first
/// `postgres::` test that runs.
#[derive(Default)]
struct SharedPg(Mutex<Slot>);

impl SharedPg {
    fn get(&self) -> Result<Arc<PgServer>, String> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*slot, Slot::NotStarted) {
            *slot = match PgServer::start() {
                Ok(server) => {
                    eprintln!("test PostgreSQL server on 127.0.0.1:{}", server.port());
                    Slot::Running(Arc::new(server))
                }
                Err(e) => Slot::Failed(e),
            };
        }
        match &*slot {
            Slot::Running(server) => Ok(Arc::clone(server)),
            Slot::Failed(e) => Err(e.clone()),
            Slot::NotStarted => unreachable!("started above"),
        }
    }

    /// Drops the server (the last reference once all tests are done), which
    /// stops it.
    fn shutdown(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Slot::NotStarted;
    }
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

fn run_case(backend: Backend, name: &str, case: Case, pg: &SharedPg) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async {
        let ctx = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
                // A nested path: open must create the parent directories.
                let url = format!("sqlite://{}/var/db/pki.db", dir.path().display());
                Ctx {
                    store: Store::open(&url)
                        .await
                        .map_err(|e| format!("open {url}: {e}"))?,
                    url,
                    backend,
                    _sqlite_dir: Some(dir),
                    _pg: None,
                }
            }
            Backend::Postgres => {
                let server = pg.get()?;
                let n = DATABASES.fetch_add(1, Ordering::Relaxed);
                let url = server.create_database(&format!("t{n}_{name}")).await;
                Ctx {
                    store: Store::open(&url)
                        .await
                        .map_err(|e| format!("open {url}: {e}"))?,
                    url,
                    backend,
                    _sqlite_dir: None,
                    _pg: Some(server),
                }
            }
        };
        case(ctx).await;
        Ok(())
    })
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let pg = Arc::new(SharedPg::default());
    let mut trials = Vec::new();
    for (backend, prefix) in [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")] {
        for &(name, case) in SUITE {
            let pg = Arc::clone(&pg);
            let slow = SLOW_IN_DEBUG.iter().any(|(n, _)| *n == name);
            trials.push(
                Trial::test(format!("{prefix}::{name}"), move || {
                    run_case(backend, name, case, &pg)
                })
                .with_ignored_flag(slow && cfg!(debug_assertions)),
            );
        }
    }
    if cfg!(debug_assertions) && !args.list && !args.ignored && !args.include_ignored {
        for (name, why) in SLOW_IN_DEBUG {
            eprintln!("note: {name} is ignored in debug builds: {why}");
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    pg.shutdown();
    conclusion.exit_code()
}
