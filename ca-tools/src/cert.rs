//! `pki cert list` and `pki cert show`: find a certificate, see its status
//! and the audit entries that touched it.
//!
//! The listing reads the store one keyset page at a time and writes each
//! page as it comes, so a CA with a million certificates is listed in the
//! memory of one page.

use std::path::PathBuf;

use pki_core::cert::hex;
use pki_core::Cert;
use serde_json::{json, Value};
use store::{
    CertStatus, CertificateQuery, CertificateRecord, CertificateSummary, RevocationReason,
    StatusFilter, Store,
};

use crate::ca::dn_text;
use crate::config::{self, GlobalArgs};
use crate::database;
use crate::error::{invalid, CliError, Result};
use crate::report::{self, rfc3339, say};
use crate::revoke::serial;

/// `--status` of `pki cert list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Status {
    Good,
    Revoked,
    Hold,
}

/// Arguments of `pki cert list`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// The issuing CA.
    #[arg(long, value_name = "NAME")]
    pub ca: String,
    /// Only certificates in this status (revoked: for any reason but
    /// certificateHold).
    #[arg(long, value_enum)]
    pub status: Option<Status>,
    /// Only subjects whose RFC 4514 text (as listed) contains this,
    /// ignoring case: `Amina`, `serialNumber=AB1`.
    #[arg(long, value_name = "TEXT")]
    pub subject_contains: Option<String>,
    /// Only certificates recorded after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    pub issued_after: Option<String>,
    /// At most this many certificates.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// JSON Lines: one object per certificate, written as they are read.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `pki cert show`: one certificate, by serial and CA, by
/// fingerprint or from its file.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["serial", "sha256", "file"])))]
pub struct ShowArgs {
    /// Serial number in hex, with or without colons; needs --ca.
    #[arg(long, value_name = "HEX", requires = "ca")]
    pub serial: Option<String>,
    /// The issuing CA, with --serial.
    #[arg(long, value_name = "NAME", requires = "serial")]
    pub ca: Option<String>,
    /// SHA-256 of the certificate's DER, hex with or without colons.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// The certificate (PEM or DER).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Largest certificate file read (PEM or DER).
const MAX_CERT_FILE: u64 = 1024 * 1024;

/// Certificates read from the store per page.
const PAGE: u32 = 1_000;

/// Widths of the listing's columns (serial: 16 random octets in hex).
const WIDTHS: [usize; 5] = [32, 8, 20, 16, 0];

fn status_words(status: &CertStatus) -> (&'static str, Option<RevocationReason>) {
    match status {
        CertStatus::Revoked {
            reason: RevocationReason::CertificateHold,
            ..
        } => ("hold", Some(RevocationReason::CertificateHold)),
        CertStatus::Revoked { reason, .. } => ("revoked", Some(*reason)),
        CertStatus::Good => ("good", None),
        CertStatus::Unknown => ("unknown", None),
    }
}

fn status_json(status: &CertStatus) -> Value {
    let (word, _) = status_words(status);
    match status {
        CertStatus::Revoked {
            reason,
            revoked_at,
            invalidity_date,
        } => json!({
            "status": word,
            "reason": reason.as_str(),
            "revoked_at": rfc3339(*revoked_at),
            "invalidity_date": invalidity_date.map(rfc3339),
        }),
        _ => json!({ "status": word }),
    }
}

fn summary_json(ca: &str, c: &CertificateSummary, subject: &str) -> Value {
    let mut value = json!({
        "ca": ca,
        "serial": c.serial.to_hex(),
        "subject": subject,
        "not_before": rfc3339(c.not_before),
        "not_after": rfc3339(c.not_after),
        "profile": c.profile,
        "sha256": hex(&c.sha256),
        "issued_at": rfc3339(c.issued_at),
    });
    if let (Some(map), Value::Object(status)) = (value.as_object_mut(), status_json(&c.status)) {
        map.extend(status);
    }
    value
}

/// `pki cert list`
pub async fn list(args: &ListArgs, g: &GlobalArgs) -> Result<()> {
    let issued_after = args
        .issued_after
        .as_deref()
        .map(|t| report::parse_time("--issued-after", t))
        .transpose()?;
    let needle = args.subject_contains.as_deref().map(str::to_lowercase);
    let store = database::open(&database::store_url(g)?).await?;
    let ca = store.require_ca(&args.ca).await?;
    let mut query = CertificateQuery::new(ca.id);
    query.limit = PAGE;
    query.issued_after = issued_after;
    query.status = args.status.map(|s| match s {
        Status::Good => StatusFilter::Good,
        Status::Revoked => StatusFilter::Revoked,
        Status::Hold => StatusFilter::OnHold,
    });
    let limit = args.limit.unwrap_or(u64::MAX);
    if !args.json {
        report::text(format_args!(
            "{}",
            report::row(
                &["SERIAL", "STATUS", "NOT AFTER", "PROFILE", "SUBJECT"],
                &WIDTHS
            )
        ));
    }
    let mut shown = 0u64;
    while shown < limit && !report::finished() {
        // Without a subject filter every row is shown: read no more than
        // the limit needs.
        if needle.is_none() {
            query.limit = u32::try_from(limit - shown).map_or(PAGE, |left| left.min(PAGE));
        }
        let page = store.certificate_page(&query).await?;
        let mut out = String::new();
        for c in &page {
            if shown == limit {
                break;
            }
            let subject = dn_text(&c.subject_der);
            if let Some(needle) = &needle {
                if !subject.to_lowercase().contains(needle.as_str()) {
                    continue;
                }
            }
            shown += 1;
            if args.json {
                out.push_str(&summary_json(&ca.name, c, &subject).to_string());
                out.push('\n');
            } else {
                let (word, _) = status_words(&c.status);
                out.push_str(&report::row(
                    &[
                        &c.serial.to_hex(),
                        word,
                        &rfc3339(c.not_after),
                        &c.profile,
                        &subject,
                    ],
                    &WIDTHS,
                ));
            }
        }
        report::text(format_args!("{out}"));
        if !query.advance(&page) {
            break;
        }
    }
    store.close().await;
    Ok(())
}

/// 32 bytes from hex, with or without colons.
fn fingerprint(text: &str) -> Result<[u8; 32]> {
    let digits: String = text.chars().filter(|c| *c != ':').collect();
    let bad = || {
        invalid(
            "--sha256",
            format!("{text:?} is not 64 hexadecimal digits (colons allowed)"),
        )
    };
    if digits.len() != 64 || !digits.is_ascii() {
        return Err(bad());
    }
    let mut out = [0; 32];
    for (o, i) in out.iter_mut().zip((0..64).step_by(2)) {
        *o = u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// The record `args` names, with its CA's name.
async fn find(args: &ShowArgs, store: &Store) -> Result<(CertificateRecord, String)> {
    if let (Some(hex_serial), Some(ca_name)) = (&args.serial, &args.ca) {
        let serial = serial(hex_serial)?;
        let ca = store.require_ca(ca_name).await?;
        let record = store.certificate(ca.id, &serial).await?.ok_or_else(|| {
            CliError::CertificateNotRecorded {
                what: format!("with serial {serial} of CA {:?}", ca.name),
            }
        })?;
        return Ok((record, ca.name));
    }
    let (digest, what) = match (&args.sha256, &args.file) {
        (Some(text), _) => {
            let digest = fingerprint(text)?;
            (digest, format!("with SHA-256 {}", hex(&digest)))
        }
        (None, Some(path)) => {
            let bytes = config::read_limited(path, MAX_CERT_FILE)?;
            let cert = Cert::parse_many(&bytes)
                .map_err(|e| invalid(path.display().to_string(), e.to_string()))?
                .into_iter()
                .next()
                .ok_or_else(|| invalid(path.display().to_string(), "no certificate in it"))?;
            let digest = store::sha256(cert.der());
            (
                digest,
                format!("{} (SHA-256 {})", path.display(), hex(&digest)),
            )
        }
        // clap requires one of serial, sha256 and file.
        (None, None) => return Err(invalid("pki cert show", "name a certificate")),
    };
    let record = store
        .certificate_by_sha256(&digest)
        .await?
        .ok_or(CliError::CertificateNotRecorded { what })?;
    let ca = store
        .ca_by_id(record.ca)
        .await?
        .ok_or(store::StoreError::UnknownCa(record.ca))?;
    Ok((record, ca.name))
}

/// `pki cert show`
pub async fn show(args: &ShowArgs, g: &GlobalArgs) -> Result<()> {
    let store = database::open(&database::store_url(g)?).await?;
    let (record, ca_name) = find(args, &store).await?;
    let status = store.status(record.ca, &record.serial).await?;
    let entries = store
        .audit_entries_for_certificate(record.ca, &record.serial)
        .await?;
    store.close().await;
    let subject = dn_text(&record.subject_der);
    if args.json {
        let mut value = json!({
            "ca": ca_name,
            "serial": record.serial.to_hex(),
            "subject": subject,
            "not_before": rfc3339(record.not_before),
            "not_after": rfc3339(record.not_after),
            "profile": record.profile,
            "sha256": hex(&record.sha256),
            "issued_at": rfc3339(record.issued_at),
            "audit": entries.iter().map(crate::audit::entry_json).collect::<Vec<_>>(),
        });
        if let (Some(map), Value::Object(s)) = (value.as_object_mut(), status_json(&status)) {
            map.extend(s);
        }
        report::json(&value, true);
        return Ok(());
    }
    say!("certificate {} of CA {ca_name:?}", record.serial);
    say!("  subject     {subject}");
    say!(
        "  validity    {} to {}",
        rfc3339(record.not_before),
        rfc3339(record.not_after)
    );
    say!("  profile     {}", record.profile);
    say!("  sha256      {}", hex(&record.sha256));
    say!("  issued      {}", rfc3339(record.issued_at));
    match &status {
        CertStatus::Revoked {
            reason,
            revoked_at,
            invalidity_date,
        } => {
            let (word, _) = status_words(&status);
            say!(
                "  status      {word} ({reason}) since {}",
                rfc3339(*revoked_at)
            );
            if let Some(t) = invalidity_date {
                say!("  invalid     since {} (invalidityDate)", rfc3339(*t));
            }
        }
        other => say!("  status      {}", status_words(other).0),
    }
    say!("audit entries that touched it ({}):", entries.len());
    crate::audit::print_entries(&entries);
    Ok(())
}
