//! `pki ca list`, `pki ca show` and `pki ca export`: the CAs the store
//! knows, what each holds, and their certificates as PEM.

use std::path::PathBuf;

use der::Decode;
use pki_core::cert::hex;
use pki_core::name::format_dn;
use serde_json::{json, Value};
use store::{Ca, CrlKind, StatusCounts, Store};
use time::OffsetDateTime;

use crate::config::GlobalArgs;
use crate::database;
use crate::error::{invalid, Result};
use crate::keystore;
use crate::publish;
use crate::report::{self, rfc3339, say, Table};

/// Arguments of `pki ca list`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// JSON Lines: one object per CA.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `pki ca show`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    /// The CA's name in the store.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `pki ca export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The CA's name in the store.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Also its issuers up to the root, the CA's own certificate first.
    #[arg(long)]
    pub chain: bool,
    /// Write the PEM here (must not exist; written whole or not at all)
    /// instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// A subject DER as officers read it, or its hex when it does not decode.
pub(crate) fn dn_text(der: &[u8]) -> String {
    match x509_cert::name::Name::from_der(der) {
        Ok(name) => format_dn(&name),
        Err(_) => format!("#{}", hex(der)),
    }
}

/// The validity of a CA's own certificate.
fn validity(ca: &Ca) -> Result<(OffsetDateTime, OffsetDateTime)> {
    let cert = keystore::ca_certificate(ca)?;
    let time = |t: pki_core::UnixTime| {
        OffsetDateTime::from_unix_timestamp(t.0).map_err(|_| {
            invalid(
                format!("certificate of CA {:?}", ca.name),
                "validity out of range",
            )
        })
    };
    Ok((time(cert.not_before())?, time(cert.not_after())?))
}

fn counts_json(c: &StatusCounts) -> Value {
    json!({
        "issued": c.issued,
        "good": c.good,
        "revoked": c.revoked,
        "hold": c.on_hold,
        "revoked_unrecorded": c.revoked_unrecorded,
    })
}

fn parent_name(ca: &Ca, all: &[Ca]) -> Option<String> {
    ca.parent
        .and_then(|p| all.iter().find(|c| c.id == p))
        .map(|c| c.name.clone())
}

/// `pki ca list`
pub async fn list(args: &ListArgs, g: &GlobalArgs) -> Result<()> {
    let store = database::open(&database::store_url(g)?).await?;
    let cas = store.cas().await?;
    let mut table = Table::new(&[
        "NAME",
        "PARENT",
        "TIER",
        "KEY LABEL",
        "NOT AFTER",
        "ISSUED",
        "SUBJECT",
    ]);
    for ca in &cas {
        let (_, not_after) = validity(ca)?;
        let counts = store.status_counts(ca.id).await?;
        let parent = parent_name(ca, &cas);
        if args.json {
            report::json(
                &json!({
                    "name": ca.name,
                    "parent": parent,
                    "tier": ca.tier,
                    "key_label": ca.key_label,
                    "subject": dn_text(&ca.subject_der),
                    "not_after": rfc3339(not_after),
                    "certificates": counts_json(&counts),
                }),
                false,
            );
        } else {
            table.push(vec![
                ca.name.clone(),
                parent.unwrap_or_else(|| "-".into()),
                ca.tier.clone().unwrap_or_else(|| "-".into()),
                ca.key_label.clone(),
                rfc3339(not_after),
                counts.issued.to_string(),
                dn_text(&ca.subject_der),
            ]);
        }
    }
    if !args.json {
        if cas.is_empty() {
            say!("no CAs in the store yet: `pki ceremony root FILE` makes the first");
        } else {
            table.print();
        }
    }
    store.close().await;
    Ok(())
}

/// `pki ca show`
pub async fn show(args: &ShowArgs, g: &GlobalArgs) -> Result<()> {
    let store = database::open(&database::store_url(g)?).await?;
    let ca = store.require_ca(&args.name).await?;
    let chain = store.ca_chain(&ca).await?;
    let (not_before, not_after) = validity(&ca)?;
    let counts = store.status_counts(ca.id).await?;
    let crl_number = store.crl_counter(ca.id).await?;
    let full = store.latest_crl(ca.id, CrlKind::Full).await?;
    let delta = store.latest_crl(ca.id, CrlKind::Delta).await?;
    store.close().await;

    let crl_json = |crl: &Option<store::CrlRecord>| {
        crl.as_ref().map(|c| {
            json!({
                "number": c.number,
                "this_update": rfc3339(c.this_update),
                "next_update": c.next_update.map(rfc3339),
                "sha256": hex(&c.sha256),
            })
        })
    };
    if args.json {
        report::json(
            &json!({
                "name": ca.name,
                "tier": ca.tier,
                "subject": dn_text(&ca.subject_der),
                "key_label": ca.key_label,
                "not_before": rfc3339(not_before),
                "not_after": rfc3339(not_after),
                "sha256": hex(&ca.cert_sha256),
                "created_at": rfc3339(ca.created_at),
                "crl_number": crl_number,
                "last_full_crl": crl_json(&full),
                "last_delta_crl": crl_json(&delta),
                "certificates": counts_json(&counts),
                "chain": chain.iter().map(|c| json!({
                    "name": c.name,
                    "subject": dn_text(&c.subject_der),
                    "sha256": hex(&c.cert_sha256),
                })).collect::<Vec<_>>(),
            }),
            true,
        );
        return Ok(());
    }
    say!("CA {:?}", ca.name);
    say!("  subject       {}", dn_text(&ca.subject_der));
    say!("  tier          {}", ca.tier.as_deref().unwrap_or("-"));
    say!("  key label     {}", ca.key_label);
    say!(
        "  validity      {} to {}",
        rfc3339(not_before),
        rfc3339(not_after)
    );
    say!("  sha256        {}", hex(&ca.cert_sha256));
    say!("  recorded      {}", rfc3339(ca.created_at));
    say!("  CRL number    {crl_number} (last reserved)");
    for (kind, crl) in [("full", &full), ("delta", &delta)] {
        match crl {
            Some(c) => say!(
                "  last {kind:<5}    number {}, thisUpdate {}, nextUpdate {}",
                c.number,
                rfc3339(c.this_update),
                c.next_update.map_or_else(|| "-".into(), rfc3339)
            ),
            None => say!("  last {kind:<5}    none published"),
        }
    }
    say!(
        "  certificates  {} issued: {} good, {} revoked, {} on hold",
        counts.issued,
        counts.good,
        counts.revoked,
        counts.on_hold
    );
    if counts.revoked_unrecorded > 0 {
        say!(
            "                and {} revoked serials with no certificate recorded here (imported)",
            counts.revoked_unrecorded
        );
    }
    say!("  chain");
    for (i, c) in chain.iter().enumerate() {
        let role = if c.parent.is_none() { " (root)" } else { "" };
        say!(
            "    {}. {}{role}  {}",
            i + 1,
            c.name,
            dn_text(&c.subject_der)
        );
    }
    Ok(())
}

/// `pki ca export`
pub async fn export(args: &ExportArgs, g: &GlobalArgs) -> Result<()> {
    if let Some(out) = &args.out {
        publish::ensure_absent(out, "output file")?;
    }
    let store: Store = database::open(&database::store_url(g)?).await?;
    let ca = store.require_ca(&args.name).await?;
    let chain = if args.chain {
        store.ca_chain(&ca).await?
    } else {
        vec![ca]
    };
    store.close().await;
    let pem: String = chain
        .iter()
        .map(|c| pki_core::pem::encode("CERTIFICATE", &c.cert_der))
        .collect();
    match &args.out {
        Some(out) => {
            publish::stage(out, pem.as_bytes())?.publish_new()?;
            say!(
                "wrote {} certificate(s) of {:?} to {}",
                chain.len(),
                args.name,
                out.display()
            );
        }
        None => report::text(format_args!("{pem}")),
    }
    Ok(())
}
