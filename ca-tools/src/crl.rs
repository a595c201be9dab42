//! `pki crl generate`: a full or delta CRL (RFC 5280 5) from the store,
//! signed by the CA's HSM key, checked, recorded and published.
//!
//! Revocations are paged out of the store in serial order straight into
//! CRL entries; the builder writes `revokedCertificates` into one buffer,
//! so a 1,000,000-entry CRL takes seconds. A progress bar shows on a
//! terminal.
//!
//! Before a CRL number is taken, every row of the CA (its record,
//! certificates, revocations, CRL numbers) is replayed against the audit
//! log ([`store::Store::verify_ca_state`]): a row the log does not vouch
//! for stops the run, named, and nothing is published.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use der::asn1::Ia5String;
use der::Encode;
use indicatif::{ProgressBar, ProgressStyle};
use pki_core::builder::{build_crl, CrlEntry, CrlTemplate, RawExtension};
use pki_core::cert::hex;
use pki_core::crl::Crl;
use pki_core::revocation::RevocationReason as CrlReason;
use pki_core::AlgorithmPolicy;
use serde_json::json;
use store::{AuditContext, CrlKind, NewCrl, RevocationQuery, RevocationReason, RevokedEntry};
use time::OffsetDateTime;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{CrlDistributionPoints, KeyUsages};

use crate::config::GlobalArgs;
use crate::error::{invalid, CliError, Result};
use crate::keystore;
use crate::officer::OfficerArgs;
use crate::publish;
use crate::report::say;
use crate::revoke::ca_policy;

/// Arguments of `pki crl generate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// The CA whose CRL to generate.
    #[arg(long, value_name = "NAME")]
    pub ca: String,
    /// A delta CRL (RFC 5280 5.2.4) against the last full CRL.
    #[arg(long)]
    pub delta: bool,
    /// Output file [default: NAME.crl, or NAME-delta.crl]; replaced
    /// atomically, one run at a time (lock file .FILE.lock beside it).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write PEM instead of DER.
    #[arg(long)]
    pub pem: bool,
    /// A CRL outside the schedule is signed under dual control: the
    /// officers present pass their shares. The scheduled run (cron) uses
    /// the single PIN file, labelled "single (demo)" in the audit log.
    #[command(flatten)]
    pub officers: OfficerArgs,
}

/// What was published.
#[derive(Debug, Clone)]
pub struct Generated {
    pub number: u64,
    pub entries: usize,
    pub path: PathBuf,
    pub der_len: usize,
    pub audit_seq: u64,
}

fn entry(e: &RevokedEntry) -> CrlEntry {
    let mut out = CrlEntry::new(e.serial.as_bytes().to_vec(), SystemTime::from(e.revoked_at));
    // RFC 5280 5.3.1: reasonCode unspecified SHOULD be absent.
    out.reason = if e.removed_from_hold {
        Some(CrlReason::RemoveFromCrl)
    } else if e.reason == RevocationReason::Unspecified {
        None
    } else {
        CrlReason::from_code(e.reason.code())
    };
    out.invalidity_date = e.invalidity_date.map(SystemTime::from);
    out
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `pki crl generate`
pub async fn generate(args: &GenerateArgs, g: &GlobalArgs) -> Result<Generated> {
    let actor = g.actor()?;
    let (policy, _) = ca_policy(g, &args.ca)?;
    let path = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(if args.delta {
            format!("{}-delta.crl", args.ca)
        } else {
            format!("{}.crl", args.ca)
        })
    });
    // Runs writing one file go one at a time, from opening the store to
    // replacing the file: each takes its CRL number and writes it in turn,
    // so the file always ends up with the highest number recorded.
    let _lock = publish::wait_for_lock(&path).await?;
    let ops = g.ops_config()?;
    let (store_section, hsm_section) = ops
        .map(|o| (o.value.store, o.value.hsm))
        .unwrap_or_default();
    let store = crate::database::open(&g.store_url(&[&store_section])).await?;
    let settings = g.hsm(&[&hsm_section])?;
    let unlock = args.officers.unlock(&store, &settings.token).await?;
    let pool = unlock.open(&settings)?;
    let ca = store.require_ca(&args.ca).await?;
    let ca_cert = keystore::ca_certificate(&ca)?;
    let signer = keystore::ca_signer(&pool, &ca, &ca_cert)?;
    if !ca_cert.key_usage_allows(KeyUsages::CRLSign) {
        return Err(CliError::IssuerUnfit {
            ca: ca.name.clone(),
            reason: "its certificate does not allow cRLSign".into(),
        });
    }
    let kind = if args.delta {
        CrlKind::Delta
    } else {
        CrlKind::Full
    };
    // Nothing is published from rows the audit log does not vouch for:
    // every row of this CA (its record, certificates, revocations, CRL
    // numbers) must be as the log last wrote it.
    store
        .verify_ca_state(ca.id)
        .await?
        .require_intact(format!("CA {:?}", ca.name))?;
    let reservation = store
        .next_crl_number(
            ca.id,
            kind,
            &AuditContext::new(actor.clone()).with_details(unlock.details()),
        )
        .await?;
    let mut query = match reservation.base {
        Some(base) => RevocationQuery::delta(ca.id, base.as_of_change, reservation.as_of_change),
        None => RevocationQuery::full(ca.id, reservation.as_of_change),
    };

    let bar = if args.delta {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::new(
            store
                .count_revocations(ca.id, reservation.as_of_change)
                .await?,
        )
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>9} [{bar:40}] {human_pos}/{human_len} entries, {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message("listing");
    let started = Instant::now();

    let mut entries = Vec::new();
    loop {
        let page = store.revocations(&query).await?;
        entries.extend(page.iter().map(entry));
        bar.set_position(entries.len() as u64);
        if !query.advance(&page) {
            break;
        }
    }
    bar.set_message("signing");
    let listed = started.elapsed();
    let phase = Instant::now();

    let this_update = whole_seconds(SystemTime::now());
    let hours = if args.delta {
        policy.delta_crl_next_update_hours
    } else {
        policy.crl_next_update_hours
    };
    if hours == 0 {
        return Err(invalid("crl next update hours", "must be at least 1"));
    }
    let next_update = this_update + Duration::from_secs(u64::from(hours) * 3600);
    if next_update > SystemTime::from(unix(ca_cert.not_after())?) {
        eprintln!("warning: nextUpdate is after the CA certificate expires");
    }
    let count = entries.len();
    let mut tpl = CrlTemplate::new(ca_cert.subject().clone(), this_update, reservation.number);
    tpl.next_update = Some(next_update);
    tpl.delta_crl_indicator = reservation.base.map(|b| b.number);
    if !args.delta && !policy.delta_crl_distribution_points.is_empty() {
        tpl.extra_extensions
            .push(freshest_crl(&policy.delta_crl_distribution_points)?);
    }
    tpl.revoked = entries;
    let der = build_crl(&tpl, &signer)?;
    drop(tpl);

    bar.set_message("checking");
    let built = phase.elapsed();
    let phase = Instant::now();
    let crl = Crl::from_der(&der).map_err(|source| CliError::PostSignCheck {
        what: "CRL".into(),
        source,
    })?;
    crl.verify_signed_by(&ca_cert, AlgorithmPolicy::Default)
        .map_err(|source| CliError::PostSignCheck {
            what: "CRL".into(),
            source,
        })?;
    if crl.len() != count {
        return Err(invalid(
            "CRL",
            format!("{} entries decoded, {count} written", crl.len()),
        ));
    }
    drop(crl);
    bar.finish_and_clear();

    let bytes = if args.pem {
        pki_core::pem::encode("X509 CRL", &der).into_bytes()
    } else {
        der.clone()
    };
    let checked = phase.elapsed();
    let staged = publish::stage(&path, &bytes)?;
    let audit = AuditContext::new(actor).with_details(unlock.annotate(json!({
        "entries": count,
        "file": path.display().to_string(),
    })));
    let recorded = store
        .record_crl(
            &NewCrl {
                ca: ca.id,
                number: reservation.number,
                this_update: OffsetDateTime::from(this_update),
                next_update: Some(OffsetDateTime::from(next_update)),
                der: der.clone(),
            },
            &audit,
        )
        .await?;
    staged.publish_replace()?;
    say!(
        "published {} CRL number {} of {:?}: {count} entries, {} bytes, SHA-256 {}{}; audit entry {}",
        if args.delta { "delta" } else { "full" },
        reservation.number,
        ca.name,
        der.len(),
        hex(&store::sha256(&der)),
        reservation
            .base
            .map(|b| format!(", base CRL {}", b.number))
            .unwrap_or_default(),
        recorded.audit_seq
    );
    say!(
        "wrote {} (listed in {listed:.2?}, built and signed in {built:.2?}, decoded and \
         verified in {checked:.2?}, total {:.2?})",
        path.display(),
        started.elapsed()
    );
    store.close().await;
    Ok(Generated {
        number: reservation.number,
        entries: count,
        path,
        der_len: der.len(),
        audit_seq: recorded.audit_seq,
    })
}

/// RFC 5280 5.2.6 Freshest CRL: `FreshestCRL ::= CRLDistributionPoints`,
/// not critical.
fn freshest_crl(urls: &[String]) -> Result<RawExtension> {
    let points = urls
        .iter()
        .map(|u| {
            let uri = Ia5String::new(u)
                .map_err(|e| invalid("delta_crl_distribution_points", format!("{u:?}: {e}")))?;
            Ok(DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![
                    GeneralName::UniformResourceIdentifier(uri),
                ])),
                reasons: None,
                crl_issuer: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RawExtension {
        oid: pki_core::oid::CE_FRESHEST_CRL,
        critical: false,
        value: CrlDistributionPoints(points).to_der()?,
    })
}

fn unix(t: pki_core::UnixTime) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.0)
        .ok()
        .ok_or_else(|| invalid("CA certificate notAfter", "out of range"))
}
