//! Canonical images of the rows the audit log vouches for: one encoding per
//! table, defined here and nowhere else.
//!
//! Every write to `cas`, `certificates`, `revocations`, `crl_numbers` or
//! `officers` reads the row back as stored and appends its image to the
//! audit entry of the same transaction (`audit_rows`, bound into the hash
//! chain by the entry's `rows` digest, see [`crate::audit`]). Replaying the log compares
//! each row's image now with the last image the log recorded for it.
//!
//! An image is:
//!
//! ```text
//! "pki-store row v1\0"
//! table          u8 code (1 cas, 2 certificates, 3 revocations, 4 crl_numbers,
//!                6 officers)
//! each field of the table, in the order below:
//!   optional     1 byte: 0 absent (nothing follows), 1 present
//!   integer/time i64, big-endian (times: Unix seconds)
//!   bool         1 byte, 0 or 1
//!   bytes/text   u32 length, big-endian, then the bytes (text: UTF-8)
//! ```
//!
//! | table | fields |
//! |---|---|
//! | cas | id, name, SHA-256(subject_der), cert_sha256, key_label, parent_id?, tier?, crl_counter, created_at |
//! | certificates | ca_id, serial, SHA-256(subject_der), not_before, not_after, profile, sha256, issued_at |
//! | revocations | ca_id, serial, reason, revoked_at, invalidity_date?, removed_from_hold, change_seq |
//! | crl_numbers | ca_id, number, kind, base_number?, as_of_change, reserved_at, this_update?, next_update?, sha256? |
//! | officers | name, credential_kind, credential, enrolled_at |
//!
//! Officers belong to no CA: their bindings have CA id 0 and the name's
//! UTF-8 bytes as key, and the table is replayed once, not per CA
//! ([`Table::GLOBAL`]).
//!
//! `issuance_requests` (migration 0004) is not among them: each of its rows
//! points a request digest at a certificate whose own fields give that
//! digest again, so it is an index derived from vouched rows (like
//! `serials` and `changes`), checked against the certificate on every use.
//!
//! Large byte columns enter the image by digest: the subject by its
//! SHA-256, the certificate and CRL DER through their stored `sha256`
//! column, which [`Store::verify_state`](crate::Store::verify_state) checks
//! against the DER itself.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::audit::sha256;
use crate::backend::{on_tx, Tx};
use crate::error::Result;
use crate::revocation::RevocationReason;

const DOMAIN: &[u8] = b"pki-store row v1\0";

/// A table whose rows the audit log vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Table {
    Cas,
    Certificates,
    Revocations,
    CrlNumbers,
    /// Dual-control officers (migration 0005): not per CA.
    Officers,
}

impl Table {
    /// In the order of their codes, the order bindings are digested in.
    pub const ALL: [Self; 4] = [
        Self::Cas,
        Self::Certificates,
        Self::Revocations,
        Self::CrlNumbers,
    ];

    /// The tables whose rows belong to no CA (bound under CA id 0),
    /// replayed once after the CAs.
    pub const GLOBAL: [Self; 1] = [Self::Officers];

    /// The SQL table name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cas => "cas",
            Self::Certificates => "certificates",
            Self::Revocations => "revocations",
            Self::CrlNumbers => "crl_numbers",
            Self::Officers => "officers",
        }
    }

    /// `audit_rows.tbl`.
    pub(crate) fn code(self) -> i16 {
        match self {
            Self::Cas => 1,
            Self::Certificates => 2,
            Self::Revocations => 3,
            Self::CrlNumbers => 4,
            Self::Officers => 6,
        }
    }

    fn fields(self) -> &'static [Field] {
        match self {
            Self::Cas => CAS,
            Self::Certificates => CERTIFICATES,
            Self::Revocations => REVOCATIONS,
            Self::CrlNumbers => CRL_NUMBERS,
            Self::Officers => OFFICERS,
        }
    }

    /// How a row's key reads to an operator, e.g. `serial 0A1B`.
    pub fn describe_key(self, key: &[u8]) -> String {
        match self {
            Self::Cas => String::new(),
            Self::Certificates | Self::Revocations => format!("serial {}", hex(key)),
            Self::CrlNumbers => match crl_number_from_key(key) {
                Some(n) => format!("CRL number {n}"),
                None => format!("CRL number key {}", hex(key)),
            },
            Self::Officers => format!("officer {:?}", String::from_utf8_lossy(key)),
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    /// Unix seconds.
    Time,
    /// Shown in hexadecimal.
    Bytes,
    Text,
    Bool,
    /// RFC 5280 CRLReason code.
    Reason,
}

#[derive(Debug)]
struct Field {
    name: &'static str,
    kind: Kind,
    optional: bool,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        optional: false,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        optional: true,
    }
}

const CAS: &[Field] = &[
    f("id", Kind::Int),
    f("name", Kind::Text),
    f("subject_der (SHA-256)", Kind::Bytes),
    f("cert_sha256", Kind::Bytes),
    f("key_label", Kind::Text),
    opt("parent_id", Kind::Int),
    opt("tier", Kind::Text),
    f("crl_counter", Kind::Int),
    f("created_at", Kind::Time),
];

const CERTIFICATES: &[Field] = &[
    f("ca_id", Kind::Int),
    f("serial", Kind::Bytes),
    f("subject_der (SHA-256)", Kind::Bytes),
    f("not_before", Kind::Time),
    f("not_after", Kind::Time),
    f("profile", Kind::Text),
    f("sha256", Kind::Bytes),
    f("issued_at", Kind::Time),
];

const REVOCATIONS: &[Field] = &[
    f("ca_id", Kind::Int),
    f("serial", Kind::Bytes),
    f("reason", Kind::Reason),
    f("revoked_at", Kind::Time),
    opt("invalidity_date", Kind::Time),
    f("removed_from_hold", Kind::Bool),
    f("change_seq", Kind::Int),
];

const CRL_NUMBERS: &[Field] = &[
    f("ca_id", Kind::Int),
    f("number", Kind::Int),
    f("kind", Kind::Text),
    opt("base_number", Kind::Int),
    f("as_of_change", Kind::Int),
    f("reserved_at", Kind::Time),
    opt("this_update", Kind::Time),
    opt("next_update", Kind::Time),
    opt("sha256", Kind::Bytes),
];

const OFFICERS: &[Field] = &[
    f("name", Kind::Text),
    f("credential_kind", Kind::Text),
    f("credential", Kind::Bytes),
    f("enrolled_at", Kind::Time),
];

/// One field value as read from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    Text(String),
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Self::Null, Self::Int)
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Self::Null, Self::Text)
    }
}

impl From<Option<Vec<u8>>> for Value {
    fn from(v: Option<Vec<u8>>) -> Self {
        v.map_or(Self::Null, Self::Bytes)
    }
}

/// The canonical image of one row, with the row's identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Image {
    pub table: Table,
    pub ca: i64,
    /// Serial octets (certificates, revocations), the CRL number as 8
    /// big-endian octets (crl_numbers), empty (cas), the name's UTF-8
    /// (officers, CA 0).
    pub key: Vec<u8>,
    pub bytes: Vec<u8>,
}

impl Image {
    /// The order of bindings in an entry's digest: (table, CA, row_key,
    /// row_num).
    pub(crate) fn order(&self) -> (Table, i64, &[u8], i64) {
        let (key, num) = db_key(self.table, &self.key);
        (self.table, self.ca, key, num)
    }
}

/// A stored digest column that does not match what it digests, found while
/// reading a row with its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContentMismatch {
    pub column: &'static str,
    pub digest_column: &'static str,
}

/// The key of a CRL number row.
pub(crate) fn crl_number_key(number: i64) -> Vec<u8> {
    number.to_be_bytes().to_vec()
}

fn crl_number_from_key(key: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(key.try_into().ok()?))
}

fn encode(table: Table, values: &[Value]) -> Vec<u8> {
    fn len(out: &mut Vec<u8>, n: usize) {
        // Row values are bounded far below 4 GiB (database limits).
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(DOMAIN);
    out.push(table.code() as u8);
    for (field, value) in table.fields().iter().zip(values) {
        if field.optional {
            out.push(u8::from(*value != Value::Null));
        }
        match value {
            Value::Null => {}
            Value::Int(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Bool(b) => out.push(u8::from(*b)),
            Value::Bytes(b) => {
                len(&mut out, b.len());
                out.extend_from_slice(b);
            }
            Value::Text(t) => {
                len(&mut out, t.len());
                out.extend_from_slice(t.as_bytes());
            }
        }
    }
    out
}

/// The values of an image of `table`, or `None` if it does not decode.
fn decode(table: Table, bytes: &[u8]) -> Option<Vec<Value>> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if rest.len() < n {
            return None;
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Some(head)
    }
    let mut rest = bytes.strip_prefix(DOMAIN)?;
    if take(&mut rest, 1)? != [table.code() as u8] {
        return None;
    }
    let mut values = Vec::with_capacity(table.fields().len());
    for field in table.fields() {
        if field.optional && take(&mut rest, 1)? == [0] {
            values.push(Value::Null);
            continue;
        }
        values.push(match field.kind {
            Kind::Int | Kind::Time | Kind::Reason => {
                Value::Int(i64::from_be_bytes(take(&mut rest, 8)?.try_into().ok()?))
            }
            Kind::Bool => Value::Bool(take(&mut rest, 1)? != [0]),
            Kind::Bytes | Kind::Text => {
                let n = u32::from_be_bytes(take(&mut rest, 4)?.try_into().ok()?) as usize;
                let b = take(&mut rest, n)?.to_vec();
                if field.kind == Kind::Text {
                    Value::Text(String::from_utf8(b).ok()?)
                } else {
                    Value::Bytes(b)
                }
            }
        });
    }
    rest.is_empty().then_some(values)
}

fn show(kind: Kind, value: &Value) -> String {
    match (kind, value) {
        (_, Value::Null) => "absent".into(),
        (Kind::Time, Value::Int(t)) => OffsetDateTime::from_unix_timestamp(*t)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| format!("{t} (Unix seconds)")),
        (Kind::Reason, Value::Int(code)) => u8::try_from(*code)
            .ok()
            .and_then(RevocationReason::from_code)
            .map_or_else(|| format!("code {code}"), |r| r.as_str().to_owned()),
        (_, Value::Int(v)) => v.to_string(),
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::Bytes(b)) => hex(b),
        (_, Value::Text(t)) => format!("{t:?}"),
    }
}

/// One field of a row that differs from the log's image of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    pub field: &'static str,
    /// The value in the table now.
    pub found: String,
    /// The value the audit log recorded.
    pub logged: String,
}

impl fmt::Display for FieldDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {}, the log says {}",
            self.field, self.found, self.logged
        )
    }
}

/// The fields in which two images of one table differ; empty if either
/// does not decode (the caller then reports the whole row).
pub(crate) fn diff(table: Table, found: &[u8], logged: &[u8]) -> Vec<FieldDiff> {
    let (Some(a), Some(b)) = (decode(table, found), decode(table, logged)) else {
        return Vec::new();
    };
    table
        .fields()
        .iter()
        .zip(a.iter().zip(&b))
        .filter(|(_, (x, y))| x != y)
        .map(|(field, (x, y))| FieldDiff {
            field: field.name,
            found: show(field.kind, x),
            logged: show(field.kind, y),
        })
        .collect()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02X}");
            s
        })
}

/// The image of a certificate row as the batch issuance writes it (too
/// many rows to read each back). `subject_sha256` is the SHA-256 of the
/// subject DER.
#[allow(clippy::too_many_arguments)]
pub(crate) fn certificate_image(
    ca: i64,
    serial: &[u8],
    subject_sha256: [u8; 32],
    not_before: i64,
    not_after: i64,
    profile: &str,
    sha256: [u8; 32],
    issued_at: i64,
) -> Image {
    let values = [
        Value::Int(ca),
        Value::Bytes(serial.to_vec()),
        Value::Bytes(subject_sha256.to_vec()),
        Value::Int(not_before),
        Value::Int(not_after),
        Value::Text(profile.to_owned()),
        Value::Bytes(sha256.to_vec()),
        Value::Int(issued_at),
    ];
    Image {
        table: Table::Certificates,
        ca,
        key: serial.to_vec(),
        bytes: encode(Table::Certificates, &values),
    }
}

/// The image of a revocation row as the bulk import writes it (the import
/// inserts too many rows to read each back).
pub(crate) fn revocation_image(
    ca: i64,
    serial: &[u8],
    reason: i16,
    revoked_at: i64,
    invalidity_date: Option<i64>,
    change_seq: i64,
) -> Image {
    let values = [
        Value::Int(ca),
        Value::Bytes(serial.to_vec()),
        Value::Int(i64::from(reason)),
        Value::Int(revoked_at),
        invalidity_date.into(),
        Value::Bool(false),
        Value::Int(change_seq),
    ];
    Image {
        table: Table::Revocations,
        ca,
        key: serial.to_vec(),
        bytes: encode(Table::Revocations, &values),
    }
}

// ---- reading rows --------------------------------------------------------

/// How a row's key is stored in `audit_rows`: (`row_key`, `row_num`) =
/// (serial, 0) for certificates and revocations, (empty, number) for CRL
/// numbers, (empty, 0) for cas, (name, 0) for officers. Two columns so
/// that every table joins its bindings by plain equality.
pub(crate) fn db_key(table: Table, key: &[u8]) -> (&[u8], i64) {
    match table {
        Table::CrlNumbers => (&[], crl_number_from_key(key).unwrap_or(i64::MIN)),
        _ => (key, 0),
    }
}

/// The inverse of [`db_key`].
pub(crate) fn key_from_db(table: Table, row_key: Vec<u8>, row_num: i64) -> Vec<u8> {
    match table {
        Table::CrlNumbers if row_key.is_empty() => crl_number_key(row_num),
        _ => row_key,
    }
}

/// The empty byte string as an SQL literal: the `row_key` of cas and
/// crl_numbers bindings, compared by equality so the index serves it.
fn empty_bytes(tx: &Tx) -> &'static str {
    match tx {
        Tx::Sqlite(_) => "X''",
        Tx::Postgres(_) => "'\\x'::bytea",
    }
}

impl Table {
    /// The condition joining a binding `b` to row `r` of this table.
    fn join(self, tx: &Tx) -> String {
        let empty = empty_bytes(tx);
        match self {
            Self::Officers => {
                let name = match tx {
                    Tx::Sqlite(_) => "CAST(r.name AS BLOB)",
                    Tx::Postgres(_) => "convert_to(r.name, 'UTF8')",
                };
                format!("b.ca_id = 0 AND b.row_key = {name} AND b.row_num = 0")
            }
            Self::Cas => format!("b.ca_id = r.id AND b.row_key = {empty} AND b.row_num = 0"),
            Self::Certificates | Self::Revocations => {
                "b.ca_id = r.ca_id AND b.row_key = r.serial AND b.row_num = 0".into()
            }
            Self::CrlNumbers => {
                format!("b.ca_id = r.ca_id AND b.row_key = {empty} AND b.row_num = r.number")
            }
        }
    }

    /// `LEFT JOIN` of the row's bindings `b`: every one of them (ordered by
    /// seq, the caller keeps the newest: one index range per row), or only
    /// the newest (for the one cas row, which has a binding per CRL).
    fn bindings(self, tx: &Tx, newest_only: bool) -> String {
        let (code, join) = (self.code(), self.join(tx));
        if let Tx::Postgres(_) = tx {
            // LATERAL: one index range of `audit_rows_by_row` per row of
            // the page (with the custom plans of `begin_read`: a generic
            // plan flattens it into a hash join over every binding of the
            // table, for each page).
            let newest = if newest_only {
                " ORDER BY b.seq DESC LIMIT 1"
            } else {
                ""
            };
            return format!(
                "LEFT JOIN LATERAL (SELECT b.seq, b.image FROM audit_rows b \
                 WHERE b.tbl = {code} AND {join}{newest}) b ON TRUE"
            );
        }
        if !newest_only {
            return format!("LEFT JOIN audit_rows b ON b.tbl = {code} AND {join}");
        }
        let m_join = join.replace("b.", "m.");
        format!(
            "LEFT JOIN audit_rows b ON b.tbl = {code} AND {join} \
             AND b.seq = (SELECT MAX(m.seq) FROM audit_rows m WHERE m.tbl = {code} AND {m_join})"
        )
    }

    /// The condition under which binding `b` has no row (see [`Table::join`]).
    pub(crate) fn no_row(self, tx: &Tx) -> String {
        format!(
            "NOT EXISTS (SELECT 1 FROM {} r WHERE {})",
            self.name(),
            self.join(tx)
        )
    }
}

/// A row's newest binding, if any: (seq, image).
type Binding = (Option<i64>, Option<Vec<u8>>);

type CaRow = (
    i64,
    String,
    Vec<u8>,
    Vec<u8>,
    String,
    Option<i64>,
    Option<String>,
    i64,
    i64,
    Option<Vec<u8>>,
    Option<i64>,
    Option<Vec<u8>>,
);
type CertRow = (
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    String,
    Vec<u8>,
    i64,
    Option<Vec<u8>>,
    Option<i64>,
    Option<Vec<u8>>,
);
type RevRow = (
    i64,
    Vec<u8>,
    i16,
    i64,
    Option<i64>,
    bool,
    i64,
    Option<i64>,
    Option<Vec<u8>>,
);
type OfficerRow = (String, String, Vec<u8>, i64, Option<i64>, Option<Vec<u8>>);
type CrlRow = (
    i64,
    i64,
    String,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<i64>,
    Option<Vec<u8>>,
);

/// Which rows to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows<'a> {
    /// The row with this key.
    One(&'a [u8]),
    /// Up to `limit` rows with keys after `after` (all keys when `None`),
    /// in key order.
    After(Option<&'a [u8]>, u32),
}

/// A row read from its table: its image, when read with content a digest
/// column that does not match the bytes it digests, and when read with
/// its binding the newest image the log recorded for it.
#[derive(Debug)]
pub(crate) struct Read {
    pub image: Image,
    pub content: Option<ContentMismatch>,
    /// (seq, image) of the newest binding of this row.
    pub binding: Option<(i64, Vec<u8>)>,
}

fn binding(b: Binding) -> Option<(i64, Vec<u8>)> {
    match b {
        (Some(seq), Some(image)) => Some((seq, image)),
        _ => None,
    }
}

/// One read per row: a row with several bindings came once per binding,
/// oldest first; the newest stays.
fn newest(reads: Vec<Read>) -> Vec<Read> {
    let mut out: Vec<Read> = Vec::with_capacity(reads.len());
    for read in reads {
        match out.last_mut() {
            Some(last) if last.image.key == read.image.key && last.image.ca == read.image.ca => {
                last.binding = read.binding;
            }
            _ => out.push(read),
        }
    }
    out
}

fn digest_check(
    content: Option<&[u8]>,
    digest: Option<&[u8]>,
    column: &'static str,
    digest_column: &'static str,
) -> Option<ContentMismatch> {
    let ok = match (content, digest) {
        (Some(c), Some(d)) => sha256(c)[..] == *d,
        (None, None) => true,
        _ => false,
    };
    (!ok).then_some(ContentMismatch {
        column,
        digest_column,
    })
}

/// Reads rows of `table` belonging to CA `ca` as images, in key order.
/// With `content`, the large DER columns are read too and checked against
/// their digest columns (cas rows always are: there is one per CA). With
/// `with_binding`, each row comes with its newest binding, joined in the
/// same statement.
pub(crate) async fn read(
    tx: &mut Tx,
    table: Table,
    ca: i64,
    rows: Rows<'_>,
    content: bool,
    with_binding: bool,
) -> Result<Vec<Read>> {
    let (op, after, limit) = match rows {
        Rows::One(key) => ("=", key, i64::MAX),
        // The empty key (cas) is the smallest: included from the start.
        Rows::After(None, limit) => (">=", &[][..], i64::from(limit)),
        Rows::After(Some(after), limit) => (">", after, i64::from(limit)),
    };
    // Rows a page at a time in the subquery, their bindings joined
    // outside it, oldest first: `newest` keeps the last one per row.
    let (bound, join, then) = if with_binding {
        (
            "b.seq, b.image",
            table.bindings(tx, table == Table::Cas),
            ", b.seq",
        )
    } else {
        ("NULL, NULL", String::new(), "")
    };
    let reads = match table {
        Table::Cas => {
            // One row per CA; its key is empty.
            if matches!(rows, Rows::After(Some(_), _)) {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT r.id, r.name, r.subject_der, r.cert_sha256, r.key_label, r.parent_id, \
                 r.tier, r.crl_counter, r.created_at, r.cert_der, {bound} FROM cas r {join} \
                 WHERE r.id = $1"
            );
            let found: Vec<CaRow> = on_tx!(tx, c => sqlx::query_as(&sql)
                .bind(ca)
                .fetch_all(&mut *c)
                .await?);
            found
                .into_iter()
                .map(|r| {
                    let content =
                        digest_check(r.9.as_deref(), Some(&r.3), "cert_der", "cert_sha256");
                    let values = [
                        Value::Int(r.0),
                        Value::Text(r.1),
                        Value::Bytes(sha256(&r.2).to_vec()),
                        Value::Bytes(r.3),
                        Value::Text(r.4),
                        r.5.into(),
                        r.6.into(),
                        Value::Int(r.7),
                        Value::Int(r.8),
                    ];
                    Read {
                        image: Image {
                            table,
                            ca: r.0,
                            key: Vec::new(),
                            bytes: encode(table, &values),
                        },
                        content,
                        binding: binding((r.10, r.11)),
                    }
                })
                .collect()
        }
        Table::Certificates => {
            let der = if content { "der" } else { "NULL" };
            let sql = format!(
                "SELECT r.*, {bound} FROM (SELECT ca_id, serial, subject_der, not_before, \
                 not_after, profile, sha256, issued_at, {der} AS content FROM certificates \
                 WHERE ca_id = $1 AND serial {op} $2 ORDER BY serial LIMIT $3) r {join} \
                 ORDER BY r.serial{then}"
            );
            let found: Vec<CertRow> = on_tx!(tx, c => sqlx::query_as(&sql)
                .bind(ca)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?);
            found
                .into_iter()
                .map(|r| {
                    let mismatch = if content {
                        digest_check(r.8.as_deref(), Some(&r.6), "der", "sha256")
                    } else {
                        None
                    };
                    let key = r.1.clone();
                    let values = [
                        Value::Int(r.0),
                        Value::Bytes(r.1),
                        Value::Bytes(sha256(&r.2).to_vec()),
                        Value::Int(r.3),
                        Value::Int(r.4),
                        Value::Text(r.5),
                        Value::Bytes(r.6),
                        Value::Int(r.7),
                    ];
                    Read {
                        image: Image {
                            table,
                            ca: r.0,
                            key,
                            bytes: encode(table, &values),
                        },
                        content: mismatch,
                        binding: binding((r.9, r.10)),
                    }
                })
                .collect()
        }
        Table::Revocations => {
            let sql = format!(
                "SELECT r.*, {bound} FROM (SELECT ca_id, serial, reason, revoked_at, \
                 invalidity_date, removed_from_hold, change_seq FROM revocations \
                 WHERE ca_id = $1 AND serial {op} $2 ORDER BY serial LIMIT $3) r {join} \
                 ORDER BY r.serial{then}"
            );
            let found: Vec<RevRow> = on_tx!(tx, c => sqlx::query_as(&sql)
                .bind(ca)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?);
            found
                .into_iter()
                .map(|r| {
                    let values = [
                        Value::Int(r.0),
                        Value::Bytes(r.1.clone()),
                        Value::Int(i64::from(r.2)),
                        Value::Int(r.3),
                        r.4.into(),
                        Value::Bool(r.5),
                        Value::Int(r.6),
                    ];
                    Read {
                        image: Image {
                            table,
                            ca: r.0,
                            key: r.1,
                            bytes: encode(table, &values),
                        },
                        content: None,
                        binding: binding((r.7, r.8)),
                    }
                })
                .collect()
        }
        Table::CrlNumbers => {
            let after = match rows {
                Rows::One(key) | Rows::After(Some(key), _) => match crl_number_from_key(key) {
                    Some(n) => n,
                    None => return Ok(Vec::new()),
                },
                Rows::After(None, _) => i64::MIN,
            };
            let der = if content { "der" } else { "NULL" };
            let sql = format!(
                "SELECT r.*, {bound} FROM (SELECT ca_id, number, kind, base_number, \
                 as_of_change, reserved_at, this_update, next_update, sha256, {der} AS content \
                 FROM crl_numbers WHERE ca_id = $1 AND number {op} $2 ORDER BY number LIMIT $3) \
                 r {join} ORDER BY r.number{then}"
            );
            let found: Vec<CrlRow> = on_tx!(tx, c => sqlx::query_as(&sql)
                .bind(ca)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?);
            found
                .into_iter()
                .map(|r| {
                    let mismatch = if content {
                        digest_check(r.9.as_deref(), r.8.as_deref(), "der", "sha256")
                    } else {
                        None
                    };
                    let values = [
                        Value::Int(r.0),
                        Value::Int(r.1),
                        Value::Text(r.2),
                        r.3.into(),
                        Value::Int(r.4),
                        Value::Int(r.5),
                        r.6.into(),
                        r.7.into(),
                        r.8.into(),
                    ];
                    Read {
                        image: Image {
                            table,
                            ca: r.0,
                            key: crl_number_key(r.1),
                            bytes: encode(table, &values),
                        },
                        content: mismatch,
                        binding: binding((r.10, r.11)),
                    }
                })
                .collect()
        }
        Table::Officers => {
            if ca != 0 {
                return Ok(Vec::new());
            }
            let Ok(after) = std::str::from_utf8(after) else {
                return Ok(Vec::new());
            };
            let sql = format!(
                "SELECT r.*, {bound} FROM (SELECT name, credential_kind, credential, \
                 enrolled_at FROM officers WHERE name {op} $1 ORDER BY name LIMIT $2) r \
                 {join} ORDER BY r.name{then}"
            );
            let found: Vec<OfficerRow> = on_tx!(tx, c => sqlx::query_as(&sql)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?);
            found
                .into_iter()
                .map(|r| {
                    let key = r.0.as_bytes().to_vec();
                    let values = [
                        Value::Text(r.0),
                        Value::Text(r.1),
                        Value::Bytes(r.2),
                        Value::Int(r.3),
                    ];
                    Read {
                        image: Image {
                            table,
                            ca: 0,
                            key,
                            bytes: encode(table, &values),
                        },
                        content: None,
                        binding: binding((r.4, r.5)),
                    }
                })
                .collect()
        }
    };
    Ok(newest(reads))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_round_trip_and_name_the_field() {
        let a = revocation_image(2, &[0x0a], 1, 1_700_000_000, None, 5);
        let b = revocation_image(2, &[0x0a], 0, 1_700_000_000, None, 5);
        assert_eq!(
            decode(Table::Revocations, &a.bytes).unwrap()[2],
            Value::Int(1)
        );
        let d = diff(Table::Revocations, &b.bytes, &a.bytes);
        assert_eq!(
            d,
            [FieldDiff {
                field: "reason",
                found: "unspecified".into(),
                logged: "keyCompromise".into(),
            }]
        );
        // Another table's image never decodes as this one.
        assert!(decode(Table::Certificates, &a.bytes).is_none());
    }

    #[test]
    fn optional_fields_are_unambiguous() {
        let absent = revocation_image(2, &[0x0a], 1, 0, None, 5);
        let zero = revocation_image(2, &[0x0a], 1, 0, Some(0), 5);
        assert_ne!(absent.bytes, zero.bytes);
        assert_eq!(
            diff(Table::Revocations, &zero.bytes, &absent.bytes)[0].found,
            "1970-01-01T00:00:00Z"
        );
    }
}
