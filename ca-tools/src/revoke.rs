//! `pki revoke` and `pki unhold`: revocation committed to the store (with
//! its audit entry) before success is reported.

use store::{AuditContext, RevocationReason, RevocationRequest, RevokedEntry, Serial, Store};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::{CaPolicy, GlobalArgs};
use crate::error::{invalid, CliError, Result};
use crate::report::say;

/// Arguments of `pki revoke`.
#[derive(Debug, Clone, clap::Args)]
pub struct RevokeArgs {
    /// The issuing CA.
    #[arg(long, value_name = "NAME")]
    pub ca: String,
    /// Serial number in hex, as `openssl x509 -serial` prints it.
    #[arg(long, value_name = "HEX")]
    pub serial: String,
    /// RFC 5280 5.3.1 reason: unspecified, keyCompromise, cACompromise,
    /// affiliationChanged, superseded, cessationOfOperation,
    /// certificateHold (only where the CA allows it), privilegeWithdrawn,
    /// aACompromise.
    #[arg(long, value_name = "REASON")]
    pub reason: String,
    /// When the key is known or suspected to have been compromised
    /// (RFC 5280 5.3.2), RFC 3339.
    #[arg(long, value_name = "RFC3339")]
    pub invalidity_date: Option<String>,
}

/// Arguments of `pki unhold`.
#[derive(Debug, Clone, clap::Args)]
pub struct UnholdArgs {
    #[arg(long, value_name = "NAME")]
    pub ca: String,
    #[arg(long, value_name = "HEX")]
    pub serial: String,
}

/// The CA's policy from the operations config, or the defaults (no hold)
/// when there is no config or no section for it.
pub fn ca_policy(
    g: &GlobalArgs,
    ca: &str,
) -> Result<(CaPolicy, Option<crate::config::StoreSection>)> {
    Ok(match g.ops_config()? {
        Some(ops) => (
            ops.value.ca.get(ca).cloned().unwrap_or_default(),
            Some(ops.value.store),
        ),
        None => (CaPolicy::default(), None),
    })
}

fn serial(text: &str) -> Result<Serial> {
    Serial::from_hex(text).map_err(|e| invalid("--serial", e.to_string()))
}

/// `pki revoke`
pub async fn revoke(args: &RevokeArgs, g: &GlobalArgs) -> Result<RevokedEntry> {
    let reason: RevocationReason = args
        .reason
        .parse()
        .map_err(|e: store::UnknownReason| invalid("--reason", e.to_string()))?;
    let (policy, store_section) = ca_policy(g, &args.ca)?;
    if reason == RevocationReason::CertificateHold && !policy.allow_hold {
        return Err(CliError::HoldNotAllowed {
            ca: args.ca.clone(),
        });
    }
    let invalidity_date = args
        .invalidity_date
        .as_deref()
        .map(|t| {
            OffsetDateTime::parse(t, &Rfc3339)
                .map_err(|e| invalid("--invalidity-date", format!("{t:?}: {e}")))
        })
        .transpose()?;
    let serial = serial(&args.serial)?;
    let store = Store::open(&g.store_url(&store_section.iter().collect::<Vec<_>>())).await?;
    let ca = store.require_ca(&args.ca).await?;
    let mut req = RevocationRequest::new(ca.id, serial.clone(), reason);
    req.invalidity_date = invalidity_date;
    let done = store.revoke(&req, &AuditContext::new(g.actor())).await?;
    say!(
        "revoked serial {serial} of {:?}: {reason} at {}; committed (audit entry {})",
        ca.name,
        done.record.revoked_at.format(&Rfc3339).unwrap_or_default(),
        done.audit_seq
    );
    store.close().await;
    Ok(done.record)
}

/// `pki unhold`
pub async fn unhold(args: &UnholdArgs, g: &GlobalArgs) -> Result<RevokedEntry> {
    let (policy, store_section) = ca_policy(g, &args.ca)?;
    if !policy.allow_hold {
        return Err(CliError::HoldNotAllowed {
            ca: args.ca.clone(),
        });
    }
    let serial = serial(&args.serial)?;
    let store = Store::open(&g.store_url(&store_section.iter().collect::<Vec<_>>())).await?;
    let ca = store.require_ca(&args.ca).await?;
    let done = store
        .unhold(ca.id, &serial, &AuditContext::new(g.actor()))
        .await?;
    say!(
        "released serial {serial} of {:?} from hold; committed (audit entry {})",
        ca.name,
        done.audit_seq
    );
    store.close().await;
    Ok(done.record)
}
