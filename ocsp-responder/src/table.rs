//! Answers from the store's response table (`[responses] source =
//! "table"`): the bytes the updater signed once, shared by every
//! responder, read through a bounded in-memory cache.
//!
//! ```text
//! IssuerFilter  unknown issuer            -> unauthorized
//!  -> Table     single CertID, no nonce   -> memory cache, else one table read
//!   -> Live     HSM, bounded concurrency  -> signed now, or tryLater
//! ```
//!
//! - The memory cache ([`EvictingCache`]) holds at most `cache_capacity`
//!   responses, evicting the least recently used of a sample when full;
//!   an entry lives until its response is due for re-signing
//!   (`refresh_after` after thisUpdate) or its nextUpdate, whichever is
//!   first, so every responder moves to the updater's new bytes together.
//! - Concurrent misses for one key are one table read
//!   ([`EvictingCache::get_or_read`]).
//! - A row is served only if no revocation or release from hold came after
//!   the status it was signed from (the read joins the revocation row):
//!   a revoked certificate's old `good` response is never served, even
//!   with the updater down.
//! - The change feed marks changed serials and evicts them at once; a
//!   cached entry older than its serial's last change is not served.
//! - What the table cannot answer is signed live; issued serials' live
//!   answers are cached for a minute, unissued serials' in a separate small
//!   cache for a minute, so made-up serials cannot push real answers out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use moka::future::Cache;
use pki_core::ocsp::HashAlgorithm;
use store::Serial;

use crate::cache::{pack, EvictingCache, InlineKey};
use crate::core::Db;
use crate::issuer::{Issuer, Ready};
use crate::metrics::Metrics;
use crate::reader::TableReader;
use crate::source::{Answer, Query, Source};
use crate::status::Known;
use crate::updater::stored_hash;

/// How long a live-signed answer is served from memory (then the table,
/// where the updater has put the shared bytes by then).
const LIVE_TTL: Duration = Duration::from_secs(60);
/// Unissued serials' answers held in memory, and for how long.
const UNISSUED_CAPACITY: u64 = 10_000;
const UNISSUED_TTL: Duration = Duration::from_secs(60);
/// Changed serials remembered (their cached answers checked against).
const CHANGED_CAPACITY: u64 = 1_000_000;
/// Statuses of issued serials kept for live signing (requests with a
/// nonce cannot be answered from a stored response), and for how long at
/// most: the change feed evicts a changed serial's at once.
const STATUS_CAPACITY: usize = 100_000;
const STATUS_TTL: Duration = Duration::from_secs(60);

/// A cached response and the status version it was signed from, in one
/// allocation: the response's packed buffer ([`Ready::packed`]), then the
/// sequence number (8 octets) and whether this responder signed it live
/// instead of reading it from the table (1 octet).
///
/// One allocation and a 16-byte handle per entry: with the `Bytes` of a
/// [`Ready`] kept as such, a million entries cost a second allocation each
/// (the shared header `Bytes` makes on its first clone) and 32 more bytes
/// per slot of the cache's tables, some 70 MB (issue 17's memory goal).
#[derive(Clone)]
pub struct Entry(Arc<[u8]>);

/// Sequence number and live flag after the packed response.
const ENTRY_TAIL: usize = 9;

/// Hands an entry's response to `Bytes` without copying it.
struct EntryBytes(Arc<[u8]>);

impl AsRef<[u8]> for EntryBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0[..self.0.len() - ENTRY_TAIL]
    }
}

impl Entry {
    pub fn new(ready: &Ready, seq: u64, live: bool) -> Self {
        let packed = ready.packed();
        let mut buf = Vec::with_capacity(packed.len() + ENTRY_TAIL);
        buf.extend_from_slice(packed);
        buf.extend_from_slice(&seq.to_be_bytes());
        buf.push(u8::from(live));
        Self(Arc::from(buf))
    }

    fn packed(&self) -> &[u8] {
        &self.0[..self.0.len() - ENTRY_TAIL]
    }

    /// The response, sharing this entry's buffer.
    pub fn ready(&self) -> Ready {
        Ready::from_packed(bytes::Bytes::from_owner(EntryBytes(Arc::clone(&self.0))))
            .expect("an entry holds a packed response")
    }

    /// The change sequence number the status was read at.
    pub fn seq(&self) -> u64 {
        let tail = &self.0[self.0.len() - ENTRY_TAIL..];
        u64::from_be_bytes(tail[..8].try_into().unwrap_or_default())
    }

    /// Signed by this responder, not read from the table.
    pub fn live(&self) -> bool {
        self.0[self.0.len() - 1] == 1
    }

    /// thisUpdate and nextUpdate.
    pub fn times(&self) -> (SystemTime, SystemTime) {
        Ready::packed_times(self.packed())
    }

    /// Still usable at `now` (before nextUpdate).
    pub fn fresh_at(&self, now: SystemTime) -> bool {
        now < self.times().1
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("len", &self.packed().len())
            .field("seq", &self.seq())
            .field("live", &self.live())
            .finish()
    }
}

/// Why the table did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    NotStored,
    /// Signed before the serial's last revocation or release from hold.
    Stale,
    /// Past its nextUpdate (the updater is behind).
    Expired,
    /// The database did not answer.
    Unavailable,
}

/// The memory side of table mode.
pub struct TableCache {
    ready: EvictingCache<Entry>,
    refresh_after: Duration,
    unissued: Cache<Box<[u8]>, Ready>,
    /// (issuer, serial) -> sequence number of its last change seen.
    changed: moka::sync::Cache<Box<[u8]>, u64>,
    /// Issued serials' statuses, vouched for by the audit log, and the
    /// change sequence number read before them (keyed with the SHA-1 slot
    /// of [`InlineKey`]: a status is the same for every hash).
    statuses: EvictingCache<(Known, u64)>,
    any_change: AtomicBool,
}

impl std::fmt::Debug for TableCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableCache")
            .field("entries", &self.ready.len())
            .field("unissued", &self.unissued.entry_count())
            .finish_non_exhaustive()
    }
}

/// Key of a serial regardless of hash (hash code 0).
fn serial_key(issuer: u32, serial: &[u8]) -> Box<[u8]> {
    let mut key = Vec::with_capacity(5 + serial.len());
    key.extend_from_slice(&issuer.to_be_bytes());
    key.push(0);
    key.extend_from_slice(serial);
    key.into_boxed_slice()
}

impl TableCache {
    pub fn new(capacity: usize, refresh_after: Duration) -> Self {
        Self {
            ready: EvictingCache::new(capacity),
            refresh_after,
            unissued: Cache::builder()
                .max_capacity(UNISSUED_CAPACITY)
                .time_to_live(UNISSUED_TTL)
                .build(),
            changed: moka::sync::Cache::builder()
                .max_capacity(CHANGED_CAPACITY)
                .time_to_live(refresh_after)
                .build(),
            statuses: EvictingCache::new(STATUS_CAPACITY),
            any_change: AtomicBool::new(false),
        }
    }

    /// The kept status of an issued `serial` and its version, unless the
    /// serial changed since.
    pub fn status(&self, issuer: u32, serial: &[u8]) -> Option<(Known, u64)> {
        let key = InlineKey::new(issuer, HashAlgorithm::Sha1, serial)?;
        let (known, version) = self.statuses.get(&key)?;
        if self
            .changed_seq(issuer, serial)
            .is_some_and(|seq| seq > version)
        {
            return None;
        }
        Some((known, version))
    }

    /// Keeps the status of an issued `serial`, read at `version` and
    /// vouched for, unless the change feed saw it change after that.
    pub fn keep_status(&self, issuer: u32, serial: &[u8], known: Known, version: u64) {
        let Some(key) = InlineKey::new(issuer, HashAlgorithm::Sha1, serial) else {
            return;
        };
        if self
            .changed_seq(issuer, serial)
            .is_some_and(|seq| seq > version)
        {
            return;
        }
        let until = self.statuses.clock_of(SystemTime::now() + STATUS_TTL);
        self.statuses.insert(key, (known, version), until);
    }

    /// Forgets what was read or signed (a signing identity changed).
    pub fn clear(&self) {
        self.ready.invalidate_all();
        self.statuses.invalidate_all();
        self.unissued.invalidate_all();
    }

    /// Responses held in memory (approximate, as moka counts).
    pub fn len(&self) -> u64 {
        self.ready.len() as u64
    }

    /// Until when `entry` is served from memory: its re-signing is due
    /// (`refresh_after` after thisUpdate) or its nextUpdate, whichever is
    /// first; a live-signed answer a minute at most.
    fn until(&self, entry: &Entry) -> u32 {
        let (this_update, next_update) = entry.times();
        let mut until = next_update.min(this_update + self.refresh_after);
        if entry.live() {
            until = until.min(SystemTime::now() + LIVE_TTL);
        }
        self.ready.clock_of(until)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn changed_seq(&self, issuer: u32, serial: &[u8]) -> Option<u64> {
        if !self.any_change.load(Ordering::Acquire) {
            // Nothing changed since start: no lookup on the hot path.
            return None;
        }
        self.changed.get(&serial_key(issuer, serial))
    }

    /// The change feed saw `serial` change at `seq`: forget its answers.
    pub async fn changed(&self, issuer: u32, serial: &[u8], seq: u64) {
        self.changed.insert(serial_key(issuer, serial), seq);
        self.any_change.store(true, Ordering::Release);
        if let Some(key) = InlineKey::new(issuer, HashAlgorithm::Sha1, serial) {
            self.statuses.invalidate(&key);
        }
        for hash in HashAlgorithm::ALL {
            if let Some(key) = InlineKey::new(issuer, hash, serial) {
                self.ready.invalidate(&key);
            }
            self.unissued.invalidate(&pack(issuer, hash, serial)).await;
        }
    }

    /// Keeps a live-signed answer: issued serials' in the main cache
    /// unless their status changed after `version`, unissued serials' in
    /// their own.
    pub async fn publish(
        &self,
        issuer: u32,
        hash: HashAlgorithm,
        serial: &[u8],
        ready: Ready,
        version: u64,
        issued: bool,
    ) {
        if !issued {
            self.unissued
                .insert(pack(issuer, hash, serial), ready)
                .await;
            return;
        }
        let Some(key) = InlineKey::new(issuer, hash, serial) else {
            return;
        };
        if self
            .changed_seq(issuer, serial)
            .is_some_and(|seq| seq > version)
        {
            return;
        }
        let entry = Entry::new(&ready, version, true);
        let until = self.until(&entry);
        self.ready.insert(key, entry, until);
    }
}

/// Serves single-CertID requests without a nonce from memory or the
/// table; passes the rest (and what the table cannot answer) on.
#[derive(Debug)]
pub struct Table<S> {
    /// Shared with the change feed, which evicts changed serials.
    cache: Arc<TableCache>,
    /// The store's response table, read in batches.
    reader: TableReader,
    metrics: Arc<Metrics>,
    inner: S,
}

impl<S: Source> Table<S> {
    pub(crate) fn new(cache: Arc<TableCache>, db: Db, metrics: Arc<Metrics>, inner: S) -> Self {
        Self {
            cache,
            reader: TableReader::new(db, Arc::clone(&metrics)),
            metrics,
            inner,
        }
    }

    async fn lookup(
        &self,
        issuer: &Issuer,
        hash: HashAlgorithm,
        serial: &[u8],
    ) -> Result<Ready, Miss> {
        let cache = &self.cache;
        let changed = cache.changed_seq(issuer.index, serial);
        let usable =
            |e: &Entry| changed.is_none_or(|c| e.seq() >= c) && e.fresh_at(SystemTime::now());
        let Some(key) = InlineKey::new(issuer.index, hash, serial) else {
            // Never issued (longer than RFC 5280 allows): not cached.
            let entry = self.read(issuer, hash, serial).await?;
            return if usable(&entry) {
                Ok(entry.ready())
            } else {
                Err(Miss::Stale)
            };
        };
        // Issued serials first (the common hit), then the small cache of
        // unissued ones, then the table.
        if let Some(e) = cache.ready.get(&key) {
            if usable(&e) {
                self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(e.ready());
            }
            cache.ready.invalidate(&key);
        }
        if let Some(ready) = cache.unissued.get(&pack(issuer.index, hash, serial)).await {
            if ready.fresh_at(SystemTime::now()) {
                return Ok(ready);
            }
        }
        let entry = cache
            .ready
            .get_or_read(key, self.read(issuer, hash, serial), |e| cache.until(e))
            .await?;
        // The feed may have marked the serial while the row was read.
        if !usable(&entry)
            || cache
                .changed_seq(issuer.index, serial)
                .is_some_and(|c| entry.seq() < c)
        {
            cache.ready.invalidate(&key);
            return Err(Miss::Stale);
        }
        Ok(entry.ready())
    }

    /// One read of the table (coalesced per key by the cache).
    async fn read(
        &self,
        issuer: &Issuer,
        hash: HashAlgorithm,
        serial: &[u8],
    ) -> Result<Entry, Miss> {
        let Ok(parsed) = Serial::from_der_content(serial) else {
            return Err(Miss::NotStored);
        };
        self.metrics.table_reads.fetch_add(1, Ordering::Relaxed);
        let read = self.reader.read(issuer.ca, stored_hash(hash), parsed).await;
        let row = match read {
            Ok(Some(row)) => row,
            Ok(None) => return Err(Miss::NotStored),
            Err(_) => return Err(Miss::Unavailable),
        };
        if !row.current() {
            self.metrics.table_stale.fetch_add(1, Ordering::Relaxed);
            return Err(Miss::Stale);
        }
        let this_update = SystemTime::from(row.response.this_update);
        let next_update = SystemTime::from(row.response.next_update);
        if next_update <= SystemTime::now() {
            self.metrics.table_stale.fetch_add(1, Ordering::Relaxed);
            return Err(Miss::Expired);
        }
        Ok(Entry::new(
            &Ready::new(row.response.der, this_update, next_update),
            row.response.status_seq,
            false,
        ))
    }
}

impl<S: Source> Source for Table<S> {
    async fn answer(&self, query: Query) -> Answer {
        let key = query.shared_key();
        if let Some((issuer, hash, serial)) = &key {
            if let Ok(ready) = self.lookup(issuer, *hash, serial).await {
                return Answer::Cached(ready);
            }
        }
        self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
        let answer = self.inner.answer(query).await;
        if let (
            Some((issuer, hash, serial)),
            Answer::Live {
                ready,
                cacheable: true,
                version,
                issued,
            },
        ) = (&key, &answer)
        {
            self.cache
                .publish(
                    issuer.index,
                    *hash,
                    serial,
                    ready.clone(),
                    *version,
                    *issued,
                )
                .await;
        }
        answer
    }
}
