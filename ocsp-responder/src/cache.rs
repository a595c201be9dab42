//! The pre-signed response cache: ready-to-write bytes per (issuer, CertID
//! hash algorithm, serial), bounded in entries.

use std::sync::Arc;
use std::time::SystemTime;

use dashmap::DashMap;
use pki_core::ocsp::HashAlgorithm;

use crate::issuer::Ready;

/// Cache key: issuer index, CertID hash algorithm, serial content octets.
pub type CacheKey = (u32, HashAlgorithm, Box<[u8]>);

/// Stored keys are packed as issuer (4 octets, big-endian), hash (1 octet),
/// serial: a lookup builds that on the stack and borrows it as `[u8]`, with
/// no allocation on the hot path.
#[derive(Debug)]
pub struct ResponseCache {
    map: DashMap<Box<[u8]>, Ready>,
    capacity: usize,
}

/// Longest serial a `SerialNumber` decodes (20 octets plus a sign octet).
const MAX_SERIAL: usize = 21;

fn hash_code(hash: HashAlgorithm) -> u8 {
    match hash {
        HashAlgorithm::Sha1 => 1,
        HashAlgorithm::Sha256 => 2,
    }
}

/// Calls `f` with the packed key.
fn with_key<T>(issuer: u32, hash: HashAlgorithm, serial: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
    let mut buf = [0u8; 5 + MAX_SERIAL];
    if serial.len() <= MAX_SERIAL {
        buf[..4].copy_from_slice(&issuer.to_be_bytes());
        buf[4] = hash_code(hash);
        buf[5..5 + serial.len()].copy_from_slice(serial);
        f(&buf[..5 + serial.len()])
    } else {
        let mut v = Vec::with_capacity(5 + serial.len());
        v.extend_from_slice(&issuer.to_be_bytes());
        v.push(hash_code(hash));
        v.extend_from_slice(serial);
        f(&v)
    }
}

/// The packed key, owned.
pub fn pack(issuer: u32, hash: HashAlgorithm, serial: &[u8]) -> Box<[u8]> {
    with_key(issuer, hash, serial, |k| Box::from(k))
}

fn unpack(key: &[u8]) -> Option<CacheKey> {
    let issuer = u32::from_be_bytes(key.get(..4)?.try_into().ok()?);
    let hash = match key.get(4)? {
        1 => HashAlgorithm::Sha1,
        2 => HashAlgorithm::Sha256,
        _ => return None,
    };
    Some((issuer, hash, Box::from(&key[5..])))
}

impl ResponseCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: DashMap::with_capacity(capacity.min(1 << 20)),
            capacity,
        }
    }

    pub fn get(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8]) -> Option<Ready> {
        with_key(issuer, hash, serial, |k| {
            self.map.get(k).map(|e| e.value().clone())
        })
    }

    /// Inserts or replaces; refuses a new key when full (returns false).
    pub fn put(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8], ready: Ready) -> bool {
        with_key(issuer, hash, serial, |k| {
            if let Some(mut e) = self.map.get_mut(k) {
                *e = ready;
                return true;
            }
            if self.map.len() >= self.capacity {
                return false;
            }
            self.map.insert(Box::from(k), ready);
            true
        })
    }

    pub fn remove(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8]) {
        with_key(issuer, hash, serial, |k| self.map.remove(k));
    }

    /// Drops every response of `issuer` (its signing identity changed).
    pub fn clear_issuer(&self, issuer: u32) {
        let prefix = issuer.to_be_bytes();
        self.map.retain(|k, _| !k.starts_with(&prefix));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys of responses produced before `cutoff`, and the oldest
    /// thisUpdate seen.
    pub fn older_than(&self, cutoff: SystemTime) -> (Vec<CacheKey>, Option<SystemTime>) {
        let mut oldest: Option<SystemTime> = None;
        let mut keys = Vec::new();
        for e in &self.map {
            let t = e.value().this_update();
            oldest = Some(oldest.map_or(t, |o| o.min(t)));
            if t < cutoff {
                keys.extend(unpack(e.key()));
            }
        }
        (keys, oldest)
    }
}

/// A packed key ([`with_key`]'s bytes) held inline: no allocation per
/// entry. Serials longer than [`MAX_SERIAL`] octets (never issued: RFC 5280
/// 4.1.2.2 allows 20) have none and are not cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InlineKey {
    len: u8,
    bytes: [u8; 5 + MAX_SERIAL],
}

impl InlineKey {
    pub fn new(issuer: u32, hash: HashAlgorithm, serial: &[u8]) -> Option<Self> {
        if serial.len() > MAX_SERIAL {
            return None;
        }
        with_key(issuer, hash, serial, |k| {
            let mut bytes = [0u8; 5 + MAX_SERIAL];
            bytes[..k.len()].copy_from_slice(k);
            // At most 26 octets.
            Some(Self {
                len: k.len() as u8,
                bytes,
            })
        })
    }
}

/// One cached value, when it must be read again (seconds on the cache's
/// clock) and when it was last used (the insert count then: a logical
/// clock, so that order holds within a second).
#[derive(Debug)]
struct Slot<V> {
    value: V,
    until: u32,
    used: std::sync::atomic::AtomicU32,
}

type Shard<V> = std::sync::RwLock<std::collections::HashMap<InlineKey, Slot<V>>>;
type Inflight<V> = std::collections::HashMap<InlineKey, Arc<tokio::sync::OnceCell<V>>>;

/// Takes a read's cell out of the in-flight map when its caller is done,
/// or gone (a client that hung up drops the future mid-read): a cell left
/// behind would hand its old value to every later miss of the key.
struct Leaving<'a, V> {
    inflight: &'a std::sync::Mutex<Inflight<V>>,
    key: InlineKey,
    cell: Arc<tokio::sync::OnceCell<V>>,
}

impl<V> Drop for Leaving<'_, V> {
    fn drop(&mut self) {
        let mut inflight = self
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inflight
            .get(&self.key)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cell))
        {
            inflight.remove(&self.key);
        }
    }
}

/// Entries a full shard looks at to choose the one it evicts.
const EVICTION_SAMPLE: usize = 8;
/// Shards at most (a full cache has between half this and this many).
const MAX_SHARDS: usize = 128;

/// A bounded map for table mode's ready responses: sharded, keys inline,
/// values with a deadline, and when a shard is full the least recently
/// used of a few of its entries (expired ones first) makes room. Concurrent
/// misses for one key share one read ([`EvictingCache::get_or_read`]).
///
/// Measured against `moka` (benches/benches/response_cache.rs), it holds a
/// million 770-byte responses in about 0.9 KB each instead of 1.4 KB, the
/// goal of issue 17 being 1.25 times the response plus 100 bytes.
pub struct EvictingCache<V> {
    shards: Box<[Shard<V>]>,
    per_shard: usize,
    started: std::time::Instant,
    start_unix: u64,
    inflight: std::sync::Mutex<Inflight<V>>,
    len: std::sync::atomic::AtomicUsize,
    /// Inserts so far (wraps after 2^32: eviction order is then briefly
    /// off, nothing else).
    ticks: std::sync::atomic::AtomicU32,
}

impl<V> std::fmt::Debug for EvictingCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvictingCache")
            .field("len", &self.len.load(std::sync::atomic::Ordering::Relaxed))
            .field("capacity", &(self.per_shard * self.shards.len()))
            .finish_non_exhaustive()
    }
}

impl<V: Clone> EvictingCache<V> {
    /// Holds at most `capacity` values (rounded up to a whole number of
    /// shards). A shard holds 7/8 of a power of two: hashbrown's largest
    /// load, so a full shard's table has no empty half (a million entries
    /// in 64 shards of 15,625 would sit in tables of 32,768 slots).
    pub fn new(capacity: usize) -> Self {
        let mut slots = 1024usize;
        while capacity.div_ceil(slots / 8 * 7) > MAX_SHARDS {
            slots *= 2;
        }
        let per_shard = (slots / 8 * 7).min(capacity).max(1);
        let shards = capacity.div_ceil(per_shard).max(1);
        let start_unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            shards: (0..shards)
                .map(|_| {
                    // Sized for the bound up front: a full shard never rehashes.
                    std::sync::RwLock::new(std::collections::HashMap::with_capacity(per_shard))
                })
                .collect(),
            per_shard,
            started: std::time::Instant::now(),
            start_unix,
            inflight: std::sync::Mutex::default(),
            len: std::sync::atomic::AtomicUsize::new(0),
            ticks: std::sync::atomic::AtomicU32::new(0),
        }
    }

    fn shard(&self, key: &InlineKey) -> &Shard<V> {
        use std::hash::BuildHasher as _;
        // The shard from a fixed hasher; the maps' own SipHash keys stay
        // random (the keys come from clients).
        let h =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .hash_one(key);
        &self.shards[(h as usize) % self.shards.len()]
    }

    /// Seconds on the cache's clock.
    fn now(&self) -> u32 {
        // A u32 of seconds lasts 136 years.
        self.started.elapsed().as_secs() as u32
    }

    /// `deadline` on the cache's clock (0 if already past).
    pub fn clock_of(&self, deadline: SystemTime) -> u32 {
        let secs = deadline
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        secs.saturating_sub(self.start_unix)
            .min(u64::from(u32::MAX)) as u32
    }

    /// The value under `key`, unless its deadline has passed.
    pub fn get(&self, key: &InlineKey) -> Option<V> {
        let now = self.now();
        let shard = self
            .shard(key)
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = shard.get(key)?;
        if slot.until <= now {
            return None;
        }
        let tick = self.ticks.load(std::sync::atomic::Ordering::Relaxed);
        if slot.used.load(std::sync::atomic::Ordering::Relaxed) != tick {
            slot.used.store(tick, std::sync::atomic::Ordering::Relaxed);
        }
        Some(slot.value.clone())
    }

    /// Keeps `value` under `key` until `until` ([`EvictingCache::clock_of`]),
    /// evicting another value of the shard if it is full.
    pub fn insert(&self, key: InlineKey, value: V, until: u32) {
        use std::sync::atomic::Ordering::Relaxed;
        let now = self.now();
        if until <= now {
            return;
        }
        let mut shard = self
            .shard(&key)
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !shard.contains_key(&key) && shard.len() >= self.per_shard {
            // Expired entries first, then the least recently used of a
            // sample (hash order: unrelated to age or key).
            let victim = shard
                .iter()
                .take(EVICTION_SAMPLE)
                .min_by_key(|(_, s)| (s.until > now, s.used.load(Relaxed)))
                .map(|(k, _)| *k);
            if let Some(victim) = victim {
                shard.remove(&victim);
                self.len.fetch_sub(1, Relaxed);
            }
        }
        let slot = Slot {
            value,
            until,
            used: std::sync::atomic::AtomicU32::new(
                self.ticks.fetch_add(1, Relaxed).wrapping_add(1),
            ),
        };
        if shard.insert(key, slot).is_none() {
            self.len.fetch_add(1, Relaxed);
        }
    }

    pub fn invalidate(&self, key: &InlineKey) {
        let mut shard = self
            .shard(key)
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if shard.remove(key).is_some() {
            self.len.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    pub fn invalidate_all(&self) {
        for shard in &*self.shards {
            let mut shard = shard
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.len
                .fetch_sub(shard.len(), std::sync::atomic::Ordering::Relaxed);
            shard.clear();
        }
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.len.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value under `key`, or the one `read` gives, kept until the
    /// deadline `until` gives for it. Concurrent callers for one key share
    /// one `read`: the others wait for it and take its value; if it fails,
    /// its caller gets the error and the next waiter reads.
    pub async fn get_or_read<E: Clone>(
        &self,
        key: InlineKey,
        read: impl std::future::Future<Output = Result<V, E>>,
        until: impl Fn(&V) -> u32,
    ) -> Result<V, E> {
        if let Some(v) = self.get(&key) {
            return Ok(v);
        }
        let cell = Arc::clone(
            self.inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key)
                .or_default(),
        );
        let leaving = Leaving {
            inflight: &self.inflight,
            key,
            cell: Arc::clone(&cell),
        };
        let result = cell
            .get_or_try_init(|| async {
                // Another caller may have filled the cache meanwhile.
                if let Some(v) = self.get(&key) {
                    return Ok(v);
                }
                let v = read.await?;
                self.insert(key, v.clone(), until(&v));
                Ok(v)
            })
            .await
            .cloned();
        drop(leaving);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ready(at: u64) -> Ready {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(at);
        Ready::new(vec![0x30, 0x00], t, t + Duration::from_secs(60))
    }

    #[test]
    fn keys_separate_issuer_hash_and_serial_and_capacity_holds() {
        let cache = ResponseCache::new(3);
        assert!(cache.put(0, HashAlgorithm::Sha1, &[1], ready(10)));
        assert!(cache.put(1, HashAlgorithm::Sha1, &[1], ready(20)));
        assert!(cache.put(0, HashAlgorithm::Sha256, &[1], ready(30)));
        assert!(!cache.put(0, HashAlgorithm::Sha1, &[2], ready(40)), "full");
        assert!(
            cache.put(0, HashAlgorithm::Sha1, &[1], ready(50)),
            "replace when full"
        );
        assert_eq!(cache.len(), 3);
        let t = |r: Ready| {
            r.this_update()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(t(cache.get(0, HashAlgorithm::Sha1, &[1]).unwrap()), 50);
        assert_eq!(t(cache.get(1, HashAlgorithm::Sha1, &[1]).unwrap()), 20);
        assert!(cache.get(0, HashAlgorithm::Sha1, &[1, 0]).is_none());
        let long = [7u8; 30];
        assert!(cache.get(0, HashAlgorithm::Sha1, &long).is_none());
        let (old, oldest) = cache.older_than(SystemTime::UNIX_EPOCH + Duration::from_secs(35));
        assert_eq!(old.len(), 2);
        assert!(old.contains(&(1, HashAlgorithm::Sha1, Box::from(&[1u8][..]))));
        assert_eq!(
            oldest,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(20))
        );
        cache.remove(1, HashAlgorithm::Sha1, &[1]);
        assert_eq!(cache.len(), 2);
    }

    fn key(n: u64) -> InlineKey {
        InlineKey::new(0, HashAlgorithm::Sha256, &n.to_be_bytes()).unwrap()
    }

    #[test]
    fn evicting_cache_stays_within_its_bound_and_keeps_what_is_used() {
        let cache: EvictingCache<u64> = EvictingCache::new(256);
        let far = cache.clock_of(SystemTime::now() + Duration::from_secs(3600));
        let hot = key(u64::MAX);
        cache.insert(hot, 7, far);
        for n in 0..10_000 {
            cache.insert(key(n), n, far);
            // The hot key is read all along.
            assert_eq!(cache.get(&hot), Some(7), "evicted after {n} inserts");
        }
        assert!(cache.len() <= 256, "{} entries", cache.len());
        // A million fits 70 shards of 14,336 (16,384-slot tables).
        let big: EvictingCache<u64> = EvictingCache::new(1_000_000);
        assert_eq!((big.shards.len(), big.per_shard), (70, 14_336));
        assert_eq!(cache.get(&key(9_999)), Some(9_999));
        assert!(InlineKey::new(0, HashAlgorithm::Sha256, &[1; MAX_SERIAL + 1]).is_none());
    }

    #[test]
    fn evicting_cache_values_end_at_their_deadline() {
        let cache: EvictingCache<u64> = EvictingCache::new(100);
        let past = cache.clock_of(SystemTime::now());
        cache.insert(key(1), 1, past);
        assert_eq!(cache.get(&key(1)), None, "a value past its deadline");
        let soon = cache.clock_of(SystemTime::now() + Duration::from_secs(2));
        cache.insert(key(2), 2, soon);
        assert_eq!(cache.get(&key(2)), Some(2));
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(cache.get(&key(2)), None);
        cache.insert(key(3), 3, soon + 100);
        cache.invalidate(&key(3));
        assert_eq!(cache.get(&key(3)), None);
        assert_eq!(cache.len(), 1, "only the expired value is left");
        cache.invalidate_all();
        assert!(cache.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn evicting_cache_misses_for_one_key_share_one_read() {
        let cache: Arc<EvictingCache<u64>> = Arc::new(EvictingCache::new(100));
        let reads = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let far = cache.clock_of(SystemTime::now() + Duration::from_secs(3600));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cache, reads) = (Arc::clone(&cache), Arc::clone(&reads));
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_read(
                        key(5),
                        async {
                            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Ok::<u64, ()>(55)
                        },
                        |_| far,
                    )
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(55));
        }
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        // A failed read is not kept: the next call reads again.
        let r = cache
            .get_or_read(key(6), async { Err::<u64, &str>("down") }, |_| far)
            .await;
        assert_eq!(r, Err("down"));
        let r = cache
            .get_or_read(key(6), async { Ok::<u64, &str>(66) }, |_| far)
            .await;
        assert_eq!(r, Ok(66));
        // A caller dropped mid-read (a client gone) leaves no cell behind:
        // the next miss reads again rather than taking an old value.
        let slow = cache.get_or_read(
            key(7),
            async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok::<u64, ()>(70)
            },
            |_| far,
        );
        assert!(tokio::time::timeout(Duration::from_millis(50), slow)
            .await
            .is_err());
        assert!(cache.inflight.lock().unwrap().is_empty());
        cache.invalidate(&key(5));
        let r = cache
            .get_or_read(key(5), async { Ok::<u64, ()>(56) }, |_| far)
            .await;
        assert_eq!(r, Ok(56), "read again, not the first read's value");
    }
}
