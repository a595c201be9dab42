//! `pki audit verify`: walks the hash-chained audit log from its first
//! entry and names the first broken one, then replays the log against the
//! tables and names every row of `cas`, `certificates`, `revocations` and
//! `crl_numbers` the log does not vouch for.

use store::{AuditError, StateReport, Store};

use crate::config::GlobalArgs;
use crate::error::Result;
use crate::report::say;

/// Whether the chain held, and what the replay of the rows found.
#[derive(Debug)]
pub struct Verdict {
    pub chain: Chain,
    pub state: StateReport,
}

/// The hash chain itself.
#[derive(Debug)]
pub enum Chain {
    Intact { entries: u64 },
    Broken { seq: u64, reason: store::ChainBreak },
}

impl Verdict {
    /// The chain is intact and vouches for every row.
    pub fn holds(&self) -> bool {
        matches!(self.chain, Chain::Intact { .. }) && self.state.is_intact()
    }
}

/// `pki audit verify`
pub async fn verify(g: &GlobalArgs) -> Result<Verdict> {
    let ops = g.ops_config()?;
    let section = ops.map(|o| o.value.store).unwrap_or_default();
    let url = g.store_url(&[&section]);
    let store = Store::open(&url).await?;
    let chain = match store.verify_audit().await {
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
            "rows intact: {} rows of cas, certificates, revocations and crl_numbers, each as \
             the log last wrote it",
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
