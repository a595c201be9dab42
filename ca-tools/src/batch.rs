//! `pki issue --batch FILE`: card personalisation, many certificates in
//! one run, each issued exactly once however often the run is restarted.
//!
//! The input is JSON Lines, one request per line:
//!
//! ```text
//! {"id": "card-0001", "csr": "-----BEGIN CERTIFICATE REQUEST-----\n..."}
//! {"id": "card-0002", "subject": "CN=...,C=MA", "public_key": "<PEM or base64 DER SPKI>", "san": ["email:a@b.ma"]}
//! ```
//!
//! The output is JSON Lines too, one line per input line in the same
//! order: `status` is `issued`, `already_issued` (an earlier run, or an
//! earlier line, issued this very request: its certificate is given
//! again) or `failed` (with `error`; the batch goes on).
//!
//! Lines are taken a chunk at a time. Per chunk: one transaction reserves
//! the serials and finds the requests already answered; the certificates
//! are built, linted, signed in the HSM and verified on several threads
//! (one HSM session each), while the previous chunk's certificates are
//! recorded; then one transaction records the chunk, each certificate with
//! its own audit entry and a row of `issuance_requests` tying the request
//! digest to the serial, and commits once (group commit). A run killed at
//! any point leaves whole chunks recorded; run again, it finds them in
//! `issuance_requests` and issues only the rest.
//!
//! A request's digest covers what its certificate will carry (profile,
//! subject, public key, subjectAltName), so an index row is checked
//! against the certificate it names, which the audit log vouches for.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use der::{Decode, Encode};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pki_core::builder::GeneralNameSpec;
use serde::Deserialize;
use serde_json::json;
use spki::SubjectPublicKeyInfoOwned;
use store::{AuditContext, Serial};

use crate::ceremony::new_certificate;
use crate::config::{self, GlobalArgs};
use crate::csr;
use crate::error::{invalid, CliError, Result};
use crate::issue::{Issuer, Subject};
use crate::publish;
use crate::report::say;

/// Longest input line: a CSR or public key with a subject is a few KiB.
pub const MAX_LINE: usize = 64 * 1024;

/// Lines per chunk by default: one store transaction each.
pub const DEFAULT_CHUNK: usize = 500;

/// The batch options of `pki issue`.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    pub file: PathBuf,
    pub out: Option<PathBuf>,
    pub chunk: usize,
    pub threads: usize,
    pub progress: bool,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchSummary {
    pub lines: u64,
    pub issued: u64,
    pub already_issued: u64,
    pub failed: u64,
}

/// One input line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    /// The caller's reference, echoed in the output.
    #[serde(default)]
    id: Option<serde_json::Value>,
    /// PKCS#10 request, PEM or base64 DER.
    #[serde(default)]
    csr: Option<String>,
    /// Subject DN (RFC 4514 or `/C=MA/...`), with `public_key`.
    #[serde(default)]
    subject: Option<String>,
    /// SubjectPublicKeyInfo, PEM or base64 DER.
    #[serde(default)]
    public_key: Option<String>,
    /// subjectAltName entries as `--san` takes them.
    #[serde(default)]
    san: Vec<String>,
}

/// A line on its way through the batch.
struct Item {
    line: u64,
    id: Option<serde_json::Value>,
    outcome: Outcome,
}

enum Outcome {
    Failed(String),
    /// Parsed, its digest known, not yet looked up.
    Ready {
        subject: Subject,
        digest: [u8; 32],
    },
    /// To sign with this serial.
    ToSign {
        subject: Subject,
        digest: [u8; 32],
        serial: Serial,
    },
    /// Signed, to record.
    Signed {
        subject: Subject,
        digest: [u8; 32],
        cert: Box<pki_core::Cert>,
    },
    /// Answered by `serial`: recorded by this run (`der` known), or
    /// before (`der` to read and check against `digest`).
    Answered {
        digest: [u8; 32],
        serial: Serial,
        der: Option<Vec<u8>>,
        fresh: bool,
    },
}

impl Outcome {
    fn take(&mut self) -> Self {
        std::mem::replace(self, Self::Failed(String::new()))
    }
}

/// PEM text, or base64 of the DER.
fn pem_or_base64(field: &str, text: &str) -> std::result::Result<Vec<u8>, String> {
    if text.trim_start().starts_with("-----BEGIN") {
        return Ok(text.as_bytes().to_vec());
    }
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("{field}: neither PEM nor base64 DER: {e}"))
}

/// What to certify for one request line, checked as far as it can be
/// before signing.
fn subject_of(request: &Request) -> std::result::Result<Subject, String> {
    let sans = request
        .san
        .iter()
        .map(|s| config::general_name("san", s).map_err(|e| e.to_string()))
        .collect::<std::result::Result<Vec<GeneralNameSpec>, String>>()?;
    match (&request.csr, &request.subject, &request.public_key) {
        (Some(csr), None, None) => {
            let bytes = pem_or_base64("csr", csr)?;
            let req = csr::verify(&bytes).map_err(|e| format!("csr: {e}"))?;
            Ok(Subject {
                name: req.subject,
                public_key: req.public_key,
                sans,
                inputs: vec![req.sha256],
                key_note: json!({ "csr_sha256": pki_core::cert::hex(&req.sha256) }),
            })
        }
        (None, Some(dn), Some(key)) => {
            let name = config::name("subject", dn).map_err(|e| e.to_string())?;
            let bytes = pem_or_base64("public_key", key)?;
            let der = pki_core::pem::decode_all(&bytes, "PUBLIC KEY")
                .map_err(|e| format!("public_key: {e}"))?;
            let first = der.first().ok_or("public_key: no key found")?;
            let spki = SubjectPublicKeyInfoOwned::from_der(first)
                .map_err(|e| format!("public_key: not a SubjectPublicKeyInfo: {e}"))?;
            let digest = store::sha256(first);
            Ok(Subject {
                name,
                public_key: spki,
                sans,
                inputs: vec![digest],
                key_note: json!({ "public_key_sha256": pki_core::cert::hex(&digest) }),
            })
        }
        _ => Err("give either \"csr\", or \"subject\" with \"public_key\"".into()),
    }
}

/// Turns one input line into an item.
fn item_of(issuer: &Issuer, line: u64, text: std::result::Result<String, String>) -> Item {
    let request = text.and_then(|t| {
        serde_json::from_str::<Request>(&t).map_err(|e| format!("not a request: {e}"))
    });
    let (id, outcome) = match request {
        Err(e) => (None, Outcome::Failed(e)),
        Ok(request) => {
            let outcome = match subject_of(&request) {
                Err(e) => Outcome::Failed(e),
                Ok(subject) => match issuer.request_tbs(&subject) {
                    Err(e) => Outcome::Failed(e.to_string()),
                    Ok(tbs) => match request_digest(issuer.profile_name(), &tbs) {
                        Err(e) => Outcome::Failed(e.to_string()),
                        Ok(digest) => Outcome::Ready { subject, digest },
                    },
                },
            };
            (request.id, outcome)
        }
    };
    Item { line, id, outcome }
}

/// The digest of an issuance request: what the certificate carries that
/// the request decides (profile, subject, public key, subjectAltName), so
/// it is found again from the certificate ([`certificate_digest`]).
fn request_digest(profile: &str, tbs: &x509_cert::TbsCertificate) -> Result<[u8; 32]> {
    let mut bytes = b"pki issuance request v1\0".to_vec();
    let mut field = |b: &[u8]| {
        // Fields far below 4 GiB: a certificate's parts.
        bytes.extend_from_slice(&(b.len() as u32).to_be_bytes());
        bytes.extend_from_slice(b);
    };
    field(profile.as_bytes());
    field(&tbs.subject.to_der()?);
    field(&tbs.subject_public_key_info.to_der()?);
    let san = tbs
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME);
    match san {
        Some(e) => field(e.extn_value.as_bytes()),
        None => field(&[]),
    }
    Ok(store::sha256(&bytes))
}

/// The request digest a recorded certificate answers.
fn certificate_digest(profile: &str, der: &[u8]) -> Result<[u8; 32]> {
    let cert = x509_cert::Certificate::from_der(der)?;
    request_digest(profile, &cert.tbs_certificate)
}

/// The input, a line at a time, each at most [`MAX_LINE`] bytes.
struct Lines {
    reader: BufReader<std::fs::File>,
    line: u64,
    read: u64,
}

type Line = (u64, std::result::Result<String, String>);

impl Lines {
    fn read_part(&mut self, buf: &mut Vec<u8>, limit: u64) -> Result<usize> {
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', buf)
            .map_err(|e| invalid("--batch", format!("cannot read: {e}")))?;
        self.read += n as u64;
        Ok(n)
    }

    /// The next line that is not blank: (line number, text or why not).
    fn next(&mut self) -> Result<Option<Line>> {
        loop {
            let mut buf = Vec::new();
            if self.read_part(&mut buf, MAX_LINE as u64 + 1)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE {
                // Skip the rest of the over-long line.
                loop {
                    let mut rest = Vec::new();
                    let m = self.read_part(&mut rest, MAX_LINE as u64)?;
                    if m == 0 || rest.last() == Some(&b'\n') {
                        break;
                    }
                }
                return Ok(Some((
                    self.line,
                    Err(format!("line longer than {MAX_LINE} bytes")),
                )));
            }
            let Ok(text) = String::from_utf8(buf) else {
                return Ok(Some((self.line, Err("not UTF-8".into()))));
            };
            if !text.trim().is_empty() {
                return Ok(Some((self.line, Ok(text))));
            }
        }
    }
}

/// The output, staged beside its destination and published whole at the
/// end, or standard output.
enum Sink {
    File {
        staged: publish::Staged,
        writer: std::io::BufWriter<std::fs::File>,
        path: PathBuf,
    },
    Stdout,
}

impl Sink {
    fn write(&mut self, value: &serde_json::Value) -> Result<()> {
        match self {
            Self::File { writer, path, .. } => serde_json::to_writer(&mut *writer, value)
                .map_err(std::io::Error::other)
                .and_then(|()| writer.write_all(b"\n"))
                .map_err(|source| CliError::Write {
                    path: path.clone(),
                    source,
                }),
            Self::Stdout => {
                crate::report::text(format_args!("{value}\n"));
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<()> {
        if let Self::File {
            staged,
            writer,
            path,
        } = self
        {
            let file = writer.into_inner().map_err(|e| CliError::Write {
                path: path.clone(),
                source: e.into_error(),
            })?;
            file.sync_all()
                .map_err(|source| CliError::Write { path, source })?;
            staged.publish_new()?;
        }
        Ok(())
    }
}

/// Signs the items waiting with a serial, on `threads` threads; each
/// becomes `Signed` or `Failed`.
fn sign_all(issuer: &Issuer, items: &mut [Item], threads: usize) {
    let mut todo: Vec<&mut Item> = items
        .iter_mut()
        .filter(|i| matches!(i.outcome, Outcome::ToSign { .. }))
        .collect();
    if todo.is_empty() {
        return;
    }
    let per = todo.len().div_ceil(threads.max(1));
    std::thread::scope(|scope| {
        for part in todo.chunks_mut(per) {
            scope.spawn(move || {
                for item in part {
                    item.outcome = match item.outcome.take() {
                        Outcome::ToSign {
                            subject,
                            digest,
                            serial,
                        } => match issuer.sign(&subject, &serial) {
                            Ok(cert) => Outcome::Signed {
                                subject,
                                digest,
                                cert: Box::new(cert),
                            },
                            Err(e) => Outcome::Failed(e.to_string()),
                        },
                        other => other,
                    };
                }
            });
        }
    });
}

/// `pki issue --batch`
pub async fn run(
    opts: BatchOptions,
    g: &GlobalArgs,
    ca: &str,
    profile: &str,
) -> Result<BatchSummary> {
    let _lock = match &opts.out {
        Some(out) => {
            let lock = publish::wait_for_lock(out).await?;
            publish::ensure_absent(out, "batch output file")?;
            Some(lock)
        }
        None => None,
    };
    let read_error = |source| CliError::Read {
        path: opts.file.clone(),
        source,
    };
    let file_sha256 = file_digest(&opts.file)?;
    let file = std::fs::File::open(&opts.file).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    let issuer = Arc::new(Issuer::open(g, ca, profile).await?);
    let mut sink = match &opts.out {
        Some(out) => {
            let (staged, file) = publish::stage_file(out)?;
            Sink::File {
                staged,
                writer: std::io::BufWriter::new(file),
                path: out.clone(),
            }
        }
        None => Sink::Stdout,
    };
    let bar = if opts.progress {
        ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "issuing [{bar:40}] {binary_bytes}/{binary_total_bytes} {msg}, {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut lines = Lines {
        reader: BufReader::new(file),
        line: 0,
        read: 0,
    };
    let batch = Batch {
        file: opts.file.display().to_string(),
        file_sha256: pki_core::cert::hex(&file_sha256),
    };
    let started = Instant::now();
    let mut summary = BatchSummary::default();
    let chunk = opts.chunk.max(1);
    // Three chunks in flight: while chunk k is signed on threads, chunk
    // k-1 is recorded and chunk k+1 read, parsed and given its serials.
    let opts = &opts;
    let mut next = next_chunk(&issuer, &mut lines, chunk).await?;
    let mut pending: Option<Vec<Item>> = None;
    loop {
        let signing = if next.is_empty() {
            None
        } else {
            let mut items = std::mem::take(&mut next);
            let issuer = Arc::clone(&issuer);
            let threads = opts.threads;
            Some(tokio::task::spawn_blocking(move || {
                sign_all(&issuer, &mut items, threads);
                items
            }))
        };
        if let Some(mut done) = pending.take() {
            record(&issuer, &mut done, &batch).await?;
            for item in &done {
                write_item(&mut sink, item, &mut summary)?;
            }
            bar.set_position(lines.read);
            bar.set_message(format!(
                "{} issued, {} already, {} failed",
                summary.issued, summary.already_issued, summary.failed
            ));
        }
        let Some(handle) = signing else {
            break;
        };
        next = next_chunk(&issuer, &mut lines, chunk).await?;
        pending = Some(match handle.await {
            Ok(items) => items,
            // A panic in a signing thread is a bug: let it surface.
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Nothing cancels the task but the runtime going away.
                Err(e) => return Err(invalid("--batch", format!("signing stopped: {e}"))),
            },
        });
    }
    bar.finish_and_clear();
    sink.finish()?;
    let secs = started.elapsed().as_secs_f64();
    let report = format!(
        "batch {}: {} line(s), {} issued, {} already issued, {} failed, in {:.1} s ({:.0} certificates/s)",
        opts.file.display(),
        summary.lines,
        summary.issued,
        summary.already_issued,
        summary.failed,
        secs,
        summary.issued as f64 / secs.max(1e-9)
    );
    if opts.out.is_some() {
        say!("{report}");
    } else {
        eprintln!("{report}");
    }
    issuer.store.close().await;
    if summary.failed > 0 {
        return Err(CliError::BatchLinesFailed {
            failed: summary.failed,
            lines: summary.lines,
        });
    }
    Ok(summary)
}

/// The batch file, as the audit entries name it.
struct Batch {
    file: String,
    file_sha256: String,
}

fn file_digest(path: &Path) -> Result<[u8; 32]> {
    let mut file = std::fs::File::open(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|source| CliError::Read {
            path: path.to_owned(),
            source,
        })?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Ok(out)
}

/// One output line.
fn write_item(sink: &mut Sink, item: &Item, summary: &mut BatchSummary) -> Result<()> {
    summary.lines += 1;
    let mut out = json!({ "line": item.line });
    if let Some(id) = &item.id {
        out["id"] = id.clone();
    }
    match &item.outcome {
        Outcome::Answered {
            serial,
            der: Some(der),
            fresh,
            ..
        } => {
            if *fresh {
                summary.issued += 1;
            } else {
                summary.already_issued += 1;
            }
            out["status"] = json!(if *fresh { "issued" } else { "already_issued" });
            out["serial"] = json!(serial.to_hex());
            out["sha256"] = json!(pki_core::cert::hex(&store::sha256(der)));
            out["certificate"] = json!(pki_core::pem::encode("CERTIFICATE", der));
        }
        Outcome::Failed(error) => {
            summary.failed += 1;
            out["status"] = json!("failed");
            out["error"] = json!(error);
        }
        // `record` leaves every item answered with its DER, or failed.
        _ => {
            summary.failed += 1;
            out["status"] = json!("failed");
            out["error"] = json!("internal: the request was left unfinished");
        }
    }
    sink.write(&out)
}

/// The next `chunk` lines, parsed and given their serials ([`reserve`]);
/// empty at the end of the input.
async fn next_chunk(issuer: &Issuer, lines: &mut Lines, chunk: usize) -> Result<Vec<Item>> {
    let mut items = Vec::with_capacity(chunk);
    while items.len() < chunk {
        let Some((line, text)) = lines.next()? else {
            break;
        };
        items.push(item_of(issuer, line, text));
    }
    if !items.is_empty() {
        reserve(issuer, &mut items).await?;
    }
    Ok(items)
}

/// One transaction: the requests of the chunk already answered (by an
/// earlier run or an earlier chunk) and a fresh serial for each of the
/// others. A request twice in the chunk is signed once.
async fn reserve(issuer: &Issuer, items: &mut [Item]) -> Result<()> {
    let digests: Vec<[u8; 32]> = items
        .iter()
        .filter_map(|i| match &i.outcome {
            Outcome::Ready { digest, .. } => Some(*digest),
            _ => None,
        })
        .collect();
    if digests.is_empty() {
        return Ok(());
    }
    let mut tx = issuer.store.begin().await?;
    let answered: HashMap<[u8; 32], Serial> = tx
        .answered_requests(issuer.ca.id, &digests)
        .await?
        .into_iter()
        .collect();
    let mut first_line: HashMap<[u8; 32], u64> = HashMap::new();
    let fresh = items
        .iter()
        .filter(|i| match &i.outcome {
            Outcome::Ready { digest, .. } => !answered.contains_key(digest),
            _ => false,
        })
        .count();
    let mut serials = tx.allocate_serials(issuer.ca.id, fresh).await?.into_iter();
    for item in items.iter_mut() {
        if !matches!(item.outcome, Outcome::Ready { .. }) {
            continue;
        }
        let Outcome::Ready { subject, digest } = item.outcome.take() else {
            unreachable!("matched Ready above");
        };
        item.outcome = if let Some(serial) = answered.get(&digest) {
            Outcome::Answered {
                digest,
                serial: serial.clone(),
                der: None,
                fresh: false,
            }
        } else if let Some(line) = first_line.get(&digest) {
            Outcome::Failed(format!("the same request as line {line}"))
        } else {
            first_line.insert(digest, item.line);
            // One serial per request not answered: `fresh` counted them
            // (a second copy of a request leaves one unused, which is
            // harmless: reserved serials are never handed out again).
            match serials.next() {
                Some(serial) => Outcome::ToSign {
                    subject,
                    digest,
                    serial,
                },
                None => Outcome::Failed("internal: no serial reserved".into()),
            }
        };
    }
    tx.commit().await?;
    Ok(())
}

/// One transaction: each signed certificate with its audit entry and its
/// `issuance_requests` row. Then the certificates answered before are
/// read and checked against the request that found them.
async fn record(issuer: &Issuer, items: &mut [Item], batch: &Batch) -> Result<()> {
    let signed: Vec<usize> = (0..items.len())
        .filter(|&i| matches!(items[i].outcome, Outcome::Signed { .. }))
        .collect();
    let mut tx = issuer.store.begin().await?;
    let mut serials = Vec::with_capacity(signed.len());
    for &i in &signed {
        if let Outcome::Signed { cert, .. } = &items[i].outcome {
            serials.push(Serial::from_der_content(cert.serial())?);
        }
    }
    let answers: Vec<([u8; 32], &Serial)> = signed
        .iter()
        .zip(&serials)
        .filter_map(|(&i, serial)| match &items[i].outcome {
            Outcome::Signed { digest, .. } => Some((*digest, serial)),
            _ => None,
        })
        .collect();
    let recorded = tx.answer_requests(issuer.ca.id, &answers).await?;
    let mut new = Vec::with_capacity(recorded.len());
    let mut lost = Vec::new();
    for (&i, serial) in signed.iter().zip(&serials) {
        let item = &mut items[i];
        let Outcome::Signed {
            subject,
            digest,
            cert,
        } = item.outcome.take()
        else {
            unreachable!("only signed items are listed");
        };
        if !recorded.contains(&digest) {
            // Another run recorded this request since the reservation.
            lost.push((i, digest));
            continue;
        }
        let mut audit = AuditContext::new(issuer.actor()).with_details(json!({
            "profile_kind": issuer.profile_kind(),
            "subject": cert.subject_string(),
            "key": subject.key_note,
            "batch": { "file": batch.file, "file_sha256": batch.file_sha256, "line": item.line },
        }));
        for input in subject.inputs {
            audit = audit.with_input(input);
        }
        new.push((
            new_certificate(issuer.ca.id, &cert, issuer.profile_name())?,
            audit,
        ));
        item.outcome = Outcome::Answered {
            digest,
            serial: serial.clone(),
            der: Some(cert.der().to_vec()),
            fresh: true,
        };
    }
    tx.record_certificates(issuer.ca.id, &new).await?;
    if !lost.is_empty() {
        let digests: Vec<[u8; 32]> = lost.iter().map(|(_, d)| *d).collect();
        let found: HashMap<[u8; 32], Serial> = tx
            .answered_requests(issuer.ca.id, &digests)
            .await?
            .into_iter()
            .collect();
        for (index, digest) in lost {
            items[index].outcome = match found.get(&digest) {
                Some(serial) => Outcome::Answered {
                    digest,
                    serial: serial.clone(),
                    der: None,
                    fresh: false,
                },
                None => {
                    Outcome::Failed("answered by another run meanwhile; its answer is gone".into())
                }
            };
        }
    }
    tx.commit().await?;
    for item in items.iter_mut() {
        if let Outcome::Answered {
            digest,
            serial,
            der: None,
            ..
        } = &item.outcome
        {
            item.outcome = match answered_before(issuer, digest, serial).await? {
                Ok(der) => Outcome::Answered {
                    digest: *digest,
                    serial: serial.clone(),
                    der: Some(der),
                    fresh: false,
                },
                Err(e) => Outcome::Failed(e),
            };
        }
    }
    Ok(())
}

/// The certificate an `issuance_requests` row names for `digest`, if it
/// is recorded and answers that very request (the row is an index: it is
/// checked against the certificate, which the audit log vouches for).
async fn answered_before(
    issuer: &Issuer,
    digest: &[u8; 32],
    serial: &Serial,
) -> Result<std::result::Result<Vec<u8>, String>> {
    let Some(record) = issuer.store.certificate(issuer.ca.id, serial).await? else {
        return Ok(Err(format!(
            "issuance_requests names serial {serial}, which CA {:?} has not recorded",
            issuer.ca.name
        )));
    };
    Ok(match certificate_digest(&record.profile, &record.der) {
        Ok(found) if found == *digest => Ok(record.der),
        Ok(_) => Err(format!(
            "issuance_requests names serial {serial} of CA {:?}, whose certificate answers another request: the index was edited",
            issuer.ca.name
        )),
        Err(e) => Err(format!("certificate serial {serial} does not decode: {e}")),
    })
}
