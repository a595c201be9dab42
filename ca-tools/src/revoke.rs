//! `pki revoke` and `pki unhold`: revocation committed to the store (with
//! its audit entry) before success is reported.

use store::{
    AuditContext, Ca, RevocationReason, RevocationRequest, RevokedEntry, Serial, StoreError,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::{CaPolicy, GlobalArgs};
use crate::error::{invalid, CliError, Result};
use crate::officer::OfficerArgs;
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
    /// Revoking a CA certificate is a CA-key operation: the officers
    /// present pass their shares, and the rebuilt PIN must open the token.
    /// Without shares the single PIN is used (demo mode, so labelled).
    #[command(flatten)]
    pub officers: OfficerArgs,
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

/// A serial as officers copy it: hex, with or without colons
/// (`openssl x509 -serial` or `-text`).
pub fn serial(text: &str) -> Result<Serial> {
    Serial::from_hex(text).map_err(|e| invalid("--serial", format!("{text:?}: {e}")))
}

/// A store refusal about one certificate, with the CA by name and times
/// in RFC 3339.
fn named(e: StoreError, ca: &Ca) -> CliError {
    match e {
        StoreError::AlreadyRevoked {
            serial,
            reason,
            revoked_at,
            ..
        } => CliError::AlreadyRevoked {
            ca: ca.name.clone(),
            serial,
            reason,
            revoked_at: crate::report::rfc3339(revoked_at),
        },
        StoreError::UnknownSerial { serial, .. } => CliError::NeverIssued {
            ca: ca.name.clone(),
            serial,
        },
        StoreError::NotOnHold { serial, .. } => CliError::NotOnHold {
            ca: ca.name.clone(),
            serial,
        },
        other => other.into(),
    }
}

/// Profiles under which the ceremonies record CA certificates.
const CA_PROFILES: [&str; 2] = ["root-ca", "intermediate-ca"];

/// `pki revoke`
pub async fn revoke(args: &RevokeArgs, g: &GlobalArgs) -> Result<RevokedEntry> {
    let actor = g.actor()?;
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
    let store =
        crate::database::open(&g.store_url(&store_section.iter().collect::<Vec<_>>())).await?;
    let ca = store.require_ca(&args.ca).await?;
    let mut req = RevocationRequest::new(ca.id, serial.clone(), reason);
    req.invalidity_date = invalidity_date;
    let ca_certificate = store
        .certificate(ca.id, &serial)
        .await?
        .is_some_and(|c| CA_PROFILES.contains(&c.profile.as_str()));
    let mut audit = AuditContext::new(actor);
    if ca_certificate || args.officers.dual_control() {
        // Dual control: the officers' shares rebuild the PIN, which must
        // open the token (or, in demo mode, the single PIN must).
        let hsm_section = g.ops_config()?.map(|o| o.value.hsm).unwrap_or_default();
        let settings = g.hsm(&[&hsm_section])?;
        let unlock = args.officers.unlock(&store, &settings.token).await?;
        drop(unlock.open(&settings)?);
        say!("  PIN       {}", unlock.describe());
        audit = audit
            .with_details(unlock.annotate(serde_json::json!({ "ca_certificate": ca_certificate })));
    }
    let done = store
        .revoke(&req, &audit)
        .await
        .map_err(|e| named(e, &ca))?;
    say!(
        "revoked serial {serial} of {:?}: {reason} at {}; committed (audit entry {})",
        ca.name,
        crate::report::rfc3339(done.record.revoked_at),
        done.audit_seq
    );
    store.close().await;
    Ok(done.record)
}

/// `pki unhold`
pub async fn unhold(args: &UnholdArgs, g: &GlobalArgs) -> Result<RevokedEntry> {
    let actor = g.actor()?;
    let (policy, store_section) = ca_policy(g, &args.ca)?;
    if !policy.allow_hold {
        return Err(CliError::HoldNotAllowed {
            ca: args.ca.clone(),
        });
    }
    let serial = serial(&args.serial)?;
    let store =
        crate::database::open(&g.store_url(&store_section.iter().collect::<Vec<_>>())).await?;
    let ca = store.require_ca(&args.ca).await?;
    let done = store
        .unhold(ca.id, &serial, &AuditContext::new(actor))
        .await
        .map_err(|e| named(e, &ca))?;
    say!(
        "released serial {serial} of {:?} from hold; committed (audit entry {})",
        ca.name,
        done.audit_seq
    );
    store.close().await;
    Ok(done.record)
}
