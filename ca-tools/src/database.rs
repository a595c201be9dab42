//! The store behind the officer commands, and `pki store init` and
//! `pki store migrate`: nothing is created or migrated behind an
//! officer's back. A mistyped URL is an error naming it, not a new empty
//! database; a schema older than this binary is refused with the command
//! that brings it up to date.

use serde_json::json;
use store::{AuditRecord, Store, StoreError};

use crate::config::GlobalArgs;
use crate::error::{CliError, Result};
use crate::report::say;

/// Arguments of `pki store init` and `pki store migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Database URL: sqlite://PATH or postgres://... [default: --store,
    /// PKI_STORE_URL, the operations config's [store] url, then
    /// sqlite://var/pki.db]
    #[arg(value_name = "URL")]
    pub url: Option<String>,
}

/// The store URL the command names: its argument, then the global
/// option, the operations config and the default.
fn url(args: &Args, g: &GlobalArgs) -> Result<String> {
    if let Some(url) = &args.url {
        return Ok(url.clone());
    }
    store_url(g)
}

/// The store URL: `--store` or `PKI_STORE_URL`, then the operations
/// config's `[store]`, then the default.
pub fn store_url(g: &GlobalArgs) -> Result<String> {
    let section = g.ops_config()?.map(|o| o.value.store).unwrap_or_default();
    Ok(g.store_url(&[&section]))
}

/// Opens the existing store at `url` for a command: no creation, no
/// migration, and a schema older than this binary is refused.
pub async fn open(url: &str) -> Result<Store> {
    Store::open_existing(url).await.map_err(|e| refusal(e, url))
}

/// The officer's version of a store error about the database itself.
fn refusal(e: StoreError, url: &str) -> CliError {
    match e {
        StoreError::DatabaseMissing { url } => CliError::StoreMissing { url },
        StoreError::NotInitialized { url } => CliError::StoreNotInitialized { url },
        StoreError::AlreadyInitialized { url, version } => {
            CliError::StoreAlreadyInitialized { url, version }
        }
        StoreError::SchemaBehind { have, need } => CliError::SchemaBehind {
            url: redact(url),
            have,
            need,
        },
        other => other.into(),
    }
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

/// `pki store init`: creates the store and records `store.init` as the
/// first entry of its audit log.
pub async fn init(args: &Args, g: &GlobalArgs) -> Result<()> {
    let actor = g.actor()?;
    let url = url(args, g)?;
    let store = Store::create(&url).await.map_err(|e| refusal(e, &url))?;
    let schema = store
        .schema()
        .await?
        .ok_or_else(|| CliError::StoreNotInitialized { url: redact(&url) })?;
    let entry = store
        .append_audit(&AuditRecord {
            actor,
            action: "store.init".into(),
            inputs_sha256: Vec::new(),
            outputs_sha256: Vec::new(),
            details: json!({ "schema": schema.applied }),
        })
        .await?;
    say!(
        "created the store at {} (schema migration {}); audit entry {}",
        redact(&url),
        schema.applied,
        entry.seq
    );
    store.close().await;
    Ok(())
}

/// `pki store migrate`: applies the migrations the store lacks and
/// records `store.migrate` when any ran.
pub async fn migrate(args: &Args, g: &GlobalArgs) -> Result<()> {
    let actor = g.actor()?;
    let url = url(args, g)?;
    let (store, done) = Store::migrate(&url).await.map_err(|e| refusal(e, &url))?;
    if done.applied == 0 {
        say!(
            "the store at {} is up to date (schema migration {})",
            redact(&url),
            done.to
        );
    } else {
        let entry = store
            .append_audit(&AuditRecord {
                actor,
                action: "store.migrate".into(),
                inputs_sha256: Vec::new(),
                outputs_sha256: Vec::new(),
                details: json!({ "from": done.from, "to": done.to, "applied": done.applied }),
            })
            .await?;
        say!(
            "migrated the store at {} from schema migration {} to {} ({} applied); audit entry {}",
            redact(&url),
            done.from,
            done.to,
            done.applied,
            entry.seq
        );
    }
    store.close().await;
    Ok(())
}
