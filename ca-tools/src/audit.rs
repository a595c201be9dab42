//! The hash-chained audit log.
//!
//! `pki audit verify` walks it from its first entry and names the first
//! broken one, then replays the log against the tables and names every
//! row of `cas`, `certificates`, `revocations`, `crl_numbers` and
//! `officers` the log does not vouch for. An empty log is not a verdict:
//! it fails, saying so.
//!
//! `pki audit list` pages through the entries with filters, writing each
//! page as it comes; `pki audit show N` prints one entry whole, with the
//! rows it wrote.

use pki_core::cert::hex;
use serde_json::{json, Value};
use store::{AuditEntry, AuditError, AuditQuery, StateReport, Store};

use crate::config::GlobalArgs;
use crate::database;
use crate::error::{CliError, Result};
use crate::report::{self, rfc3339, say};

/// Arguments of `pki audit list`; `--actor NAME` (a global option) keeps
/// the entries of one actor.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Only entries at or after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Only this action, or the actions under it (`certificate` matches
    /// `certificate.issue`, `certificate.revoke`, ...).
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// At most this many entries.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// JSON Lines: one object per entry, written as they are read.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `pki audit show`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    /// The entry's sequence number.
    #[arg(value_name = "N")]
    pub seq: u64,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Entries read from the store per page.
const PAGE: u32 = 1_000;
/// Rows an entry wrote that `audit show` lists (a baseline entry may have
/// written every row of the store).
const SHOWN_ROWS: u32 = 50;
/// Widths of the listing's columns.
const WIDTHS: [usize; 5] = [6, 27, 16, 20, 0];

/// The details as JSON, or as the stored text if it is not JSON.
fn details(entry: &AuditEntry) -> Value {
    serde_json::from_str(&entry.details).unwrap_or_else(|_| Value::String(entry.details.clone()))
}

/// An entry as `--json` gives it.
pub(crate) fn entry_json(entry: &AuditEntry) -> Value {
    json!({
        "seq": entry.seq,
        "time": rfc3339(entry.time),
        "actor": entry.actor,
        "action": entry.action,
        "inputs_sha256": entry.inputs_sha256.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        "outputs_sha256": entry.outputs_sha256.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        "details": details(entry),
        "prev_hash": hex(&entry.prev_hash),
        "hash": hex(&entry.hash),
    })
}

/// What an entry was about, in a few words: the CA, serial, reason, CRL
/// number or profile its details name.
fn summary(entry: &AuditEntry) -> String {
    let details = details(entry);
    let mut words = Vec::new();
    for key in ["ca", "serial", "reason", "number", "profile", "kind"] {
        match details.get(key) {
            Some(Value::String(s)) => words.push(format!("{key}={s}")),
            Some(Value::Number(n)) => words.push(format!("{key}={n}")),
            _ => {}
        }
    }
    words.join(" ")
}

fn entry_row(entry: &AuditEntry) -> String {
    report::row(
        &[
            &entry.seq.to_string(),
            &rfc3339(entry.time),
            &entry.actor,
            &entry.action,
            &summary(entry),
        ],
        &WIDTHS,
    )
}

fn header() -> String {
    report::row(&["SEQ", "TIME", "ACTOR", "ACTION", "ABOUT"], &WIDTHS)
}

/// A table of entries (`pki cert show`).
pub(crate) fn print_entries(entries: &[AuditEntry]) {
    let mut out = header();
    for entry in entries {
        out.push_str(&entry_row(entry));
    }
    report::text(format_args!("{out}"));
}

/// `pki audit list`
pub async fn list(args: &ListArgs, g: &GlobalArgs) -> Result<()> {
    let mut query = AuditQuery::new();
    query.since = args
        .since
        .as_deref()
        .map(|t| report::parse_time("--since", t))
        .transpose()?;
    // The command line's --actor only: PKI_ACTOR says who runs this
    // command, not whose entries to show.
    query.actor.clone_from(&g.actor);
    query.action.clone_from(&args.action);
    let store = database::open(&database::store_url(g)?).await?;
    let limit = args.limit.unwrap_or(u64::MAX);
    if !args.json {
        report::text(format_args!("{}", header()));
    }
    let mut shown = 0u64;
    while shown < limit && !report::finished() {
        query.limit = u32::try_from(limit - shown).map_or(PAGE, |left| left.min(PAGE));
        let page = store.audit_page(&query).await?;
        let mut out = String::new();
        for entry in &page {
            if args.json {
                out.push_str(&entry_json(entry).to_string());
                out.push('\n');
            } else {
                out.push_str(&entry_row(entry));
            }
        }
        shown += page.len() as u64;
        report::text(format_args!("{out}"));
        if !query.advance(&page) {
            break;
        }
    }
    store.close().await;
    Ok(())
}

/// `pki audit show`
pub async fn show(args: &ShowArgs, g: &GlobalArgs) -> Result<()> {
    let store = database::open(&database::store_url(g)?).await?;
    let Some(entry) = store.audit_entry(args.seq).await? else {
        let head = store.audit_head().await?;
        store.close().await;
        return Err(CliError::NoAuditEntry {
            seq: args.seq,
            head,
        });
    };
    let (rows, total) = store.audit_bound_rows(entry.seq, SHOWN_ROWS).await?;
    let names: std::collections::HashMap<_, _> = store
        .cas()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    store.close().await;
    let hash_holds = entry.compute_hash() == entry.hash;
    let row_text = |r: &store::BoundRow| {
        let ca = names
            .get(&r.ca)
            .map_or_else(|| format!("CA {}", r.ca), |n| format!("CA {n:?}"));
        if let Some(officer) = &r.officer {
            return format!("{} row, officer {officer:?}", r.table.name());
        }
        match (&r.serial, r.number) {
            (Some(serial), _) => format!("{} of {ca}, serial {serial}", r.table.name()),
            (None, Some(number)) => format!("{} of {ca}, number {number}", r.table.name()),
            (None, None) => format!("{} row of {ca}", r.table.name()),
        }
    };
    if args.json {
        let mut value = entry_json(&entry);
        if let Some(map) = value.as_object_mut() {
            map.insert("hash_matches_contents".into(), hash_holds.into());
            map.insert("rows_written".into(), total.into());
            map.insert(
                "rows".into(),
                rows.iter().map(|r| Value::String(row_text(r))).collect(),
            );
        }
        report::json(&value, true);
        return Ok(());
    }
    say!("audit entry {}", entry.seq);
    say!("  time      {}", rfc3339(entry.time));
    say!("  actor     {}", entry.actor);
    say!("  action    {}", entry.action);
    for (label, hashes) in [
        ("input", &entry.inputs_sha256),
        ("output", &entry.outputs_sha256),
    ] {
        for h in hashes {
            say!("  {label:<8}  sha256 {}", hex(h));
        }
    }
    say!("  prev hash {}", hex(&entry.prev_hash));
    say!(
        "  hash      {} ({})",
        hex(&entry.hash),
        if hash_holds {
            "matches the entry's contents; `pki audit verify` checks the whole chain"
        } else {
            "DOES NOT match the entry's contents"
        }
    );
    let pretty = serde_json::to_string_pretty(&details(&entry)).unwrap_or_default();
    say!("  details");
    for line in pretty.lines() {
        say!("    {line}");
    }
    if total > 0 {
        say!("  rows written ({total})");
        for r in &rows {
            say!("    {}", row_text(r));
        }
        if total > rows.len() as u64 {
            say!("    and {} more", total - rows.len() as u64);
        }
    }
    Ok(())
}

/// Whether the chain held, and what the replay of the rows found.
#[derive(Debug)]
pub struct Verdict {
    pub chain: Chain,
    pub state: StateReport,
}

/// The hash chain itself.
#[derive(Debug)]
pub enum Chain {
    /// No entries: nothing was verified (a new store, or the wrong one).
    Empty,
    Intact {
        entries: u64,
    },
    Broken {
        seq: u64,
        reason: store::ChainBreak,
    },
}

impl Verdict {
    /// The chain is intact and vouches for every row.
    pub fn holds(&self) -> bool {
        matches!(self.chain, Chain::Intact { .. }) && self.state.is_intact()
    }
}

/// `pki audit verify`
pub async fn verify(g: &GlobalArgs) -> Result<Verdict> {
    let url = database::store_url(g)?;
    let store: Store = database::open(&url).await?;
    let chain = match store.verify_audit().await {
        Ok(0) => {
            say!(
                "audit log EMPTY at {}: nothing to verify; is this the store you meant?",
                database::redact(&url)
            );
            Chain::Empty
        }
        Ok(entries) => {
            say!("audit log intact: {entries} entries, every hash and link verified");
            // The head hash, to copy into the minutes: a later verify can be
            // compared against it even if the whole table was rewritten.
            if let Some(head) = store
                .audit_entries(entries.saturating_sub(1), 1)
                .await?
                .first()
            {
                say!(
                    "head: entry {} hash {}",
                    head.seq,
                    pki_core::cert::hex(&head.hash)
                );
            }
            Chain::Intact { entries }
        }
        Err(AuditError::Broken { seq, reason }) => {
            say!("audit log BROKEN at entry {seq}: {reason}");
            Chain::Broken { seq, reason }
        }
        Err(AuditError::Store(e)) => return Err(e.into()),
        Err(other) => {
            say!("audit log could not be verified: {other}");
            return Err(crate::error::invalid("audit log", other.to_string()));
        }
    };
    // The rows are replayed whatever the chain's verdict: each finding
    // names its row either way.
    let state = store.verify_state().await?;
    if state.is_intact() {
        say!(
            "rows intact: {} rows of cas, certificates, revocations, crl_numbers and officers, \
             each as the log last wrote it",
            state.rows
        );
    } else {
        let count = state.findings.len() as u64 + state.more;
        say!(
            "rows NOT VOUCHED FOR: {count} of {} rows differ from the audit log, or are missing \
             from it or from the tables:",
            state.rows
        );
        for finding in &state.findings {
            say!("  {finding}");
        }
        if state.more > 0 {
            say!("  and {} more", state.more);
        }
    }
    store.close().await;
    Ok(Verdict { chain, state })
}
