//! `pki audit verify`: walks the hash-chained audit log from its first
//! entry and names the first broken one.

use store::{AuditError, Store};

use crate::config::GlobalArgs;
use crate::error::Result;
use crate::report::say;

/// Whether the chain held.
#[derive(Debug)]
pub enum Verdict {
    Intact { entries: u64 },
    Broken { seq: u64, reason: store::ChainBreak },
}

/// `pki audit verify`
pub async fn verify(g: &GlobalArgs) -> Result<Verdict> {
    let ops = g.ops_config()?;
    let section = ops.map(|o| o.value.store).unwrap_or_default();
    let url = g.store_url(&[&section]);
    let store = Store::open(&url).await?;
    let verdict = match store.verify_audit().await {
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
            Verdict::Intact { entries }
        }
        Err(AuditError::Broken { seq, reason }) => {
            say!("audit log BROKEN at entry {seq}: {reason}");
            Verdict::Broken { seq, reason }
        }
        Err(AuditError::Store(e)) => return Err(e.into()),
        Err(other) => {
            say!("audit log could not be verified: {other}");
            return Err(crate::error::invalid("audit log", other.to_string()));
        }
    };
    store.close().await;
    Ok(verdict)
}
