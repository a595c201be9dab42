//! The two bounded caches a responder can keep ready responses in
//! (issue 17: "measure both"), with the same 26-byte packed keys
//! (issuer, hash, serial) and 1,000,000 entries of ~770-byte responses
//! (what the scale bench's table holds):
//!
//! - `dashmap`: the sharded map of memory mode (`ocsp_responder::cache`),
//!   bounded by refusing new keys when full, no eviction;
//! - `moka`: the bounded cache table mode used first (TinyLFU admission,
//!   LRU eviction, per-entry expiry), the sync and the future flavours;
//! - `EvictingCache` (`ocsp_responder::cache`): what table mode uses now,
//!   sharded, keys inline, sampled-LRU eviction, per-entry deadline.
//!
//! First, on a fresh heap, the memory of a million table-mode entries
//! (`RC_MEMORY=moka` for the moka figure).
//!
//! Lookups of present keys from 2 threads (the responder's two workers),
//! and inserts into a full cache (moka evicts, the map refuses).

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

const ENTRIES: u64 = 1_000_000;

fn key(i: u64) -> Box<[u8]> {
    let mut k = Vec::with_capacity(26);
    k.extend_from_slice(&0u32.to_be_bytes());
    k.push(1);
    k.extend_from_slice(&[0x10; 13]);
    k.extend_from_slice(&i.to_be_bytes());
    k.into_boxed_slice()
}

fn rate(threads: u64, secs: f64, f: &(dyn Fn(u64) + Sync)) -> f64 {
    let total = AtomicU64::new(0);
    let dur = Duration::from_secs_f64(secs);
    std::thread::scope(|s| {
        for t in 0..threads {
            let total = &total;
            s.spawn(move || {
                let end = Instant::now() + dur;
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                let mut n = 0;
                while Instant::now() < end {
                    for _ in 0..64 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        f(x % ENTRIES);
                    }
                    n += 64;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    total.load(Ordering::Relaxed) as f64 / secs
}

/// This process's resident set, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Memory per cached response in table mode, with the responder's own
/// types (`cache::EvictingCache` of `table::Entry` holding an
/// `issuer::Ready`), measured first, on a fresh heap: RSS growth over
/// 1,000,000 entries of a 770-byte response, against the scale bench's
/// goal (1.25 times the response bytes, plus 100 MB for the million).
/// `RC_MEMORY=moka` measures the same entries in the `moka` cache table
/// mode used before, for comparison (one cache per process: a second one
/// would reuse the first's freed pages).
fn table_entry_bytes() {
    use ocsp_responder::cache::{EvictingCache, InlineKey};
    use ocsp_responder::issuer::Ready;
    use ocsp_responder::table::Entry;
    let now = std::time::SystemTime::now();
    let entry = |i: u64| {
        let mut der = vec![0x30u8; 770];
        der[..8].copy_from_slice(&i.to_be_bytes());
        Entry::new(
            &Ready::new(der, now, now + Duration::from_secs(86_400)),
            i,
            false,
        )
    };
    let before = rss_kib();
    let moka = std::env::var("RC_MEMORY").as_deref() == Ok("moka");
    let kept = if moka {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let cache: moka::future::Cache<Box<[u8]>, Entry> = moka::future::Cache::builder()
            .max_capacity(ENTRIES)
            .time_to_live(Duration::from_secs(3600))
            .build();
        rt.block_on(async {
            for i in 0..ENTRIES {
                cache.insert(key(i), entry(i)).await;
            }
            cache.run_pending_tasks().await;
        });
        let n = cache.entry_count();
        std::mem::forget(cache);
        n
    } else {
        let cache: EvictingCache<Entry> = EvictingCache::new(ENTRIES as usize);
        let until = cache.clock_of(now + Duration::from_secs(3600));
        for i in 0..ENTRIES {
            let k = InlineKey::new(0, pki_core::ocsp::HashAlgorithm::Sha1, &key(i)[5..]).unwrap();
            cache.insert(k, entry(i), until);
        }
        let n = cache.len() as u64;
        std::mem::forget(cache);
        n
    };
    let grown = (rss_kib() - before) as f64 * 1024.0;
    let per = grown / kept as f64;
    let goal = 1.25 * 770.0 + 100.0 * 1024.0 * 1024.0 / ENTRIES as f64;
    println!(
        "table-mode cache ({}): {kept} entries in {:.0} MB, {per:.0} B per 770-byte response \
         ({:.2}x; goal {goal:.0} B = 1.25x + 100 MB per million)",
        if moka {
            "moka, as before"
        } else {
            "EvictingCache"
        },
        grown / 1_048_576.0,
        per / 770.0
    );
}

fn main() {
    table_entry_bytes();
    let value = Arc::new(Bytes::from(vec![0x30u8; 770]));
    let secs = 3.0;
    println!("== response caches, {ENTRIES} entries of 770 B, lookups of present keys");

    let map: dashmap::DashMap<Box<[u8]>, Arc<Bytes>> =
        dashmap::DashMap::with_capacity(ENTRIES as usize);
    for i in 0..ENTRIES {
        map.insert(key(i), Arc::new(Bytes::from(vec![0x30u8; 770])));
    }
    let map_get = rate(2, secs, &|i| {
        let k = key(i);
        std::hint::black_box(map.get(&k).map(|e| Arc::clone(e.value())));
    });
    drop(map);

    let sync: moka::sync::Cache<Box<[u8]>, Arc<Bytes>> = moka::sync::Cache::builder()
        .max_capacity(ENTRIES)
        .time_to_live(Duration::from_secs(3600))
        .build();
    for i in 0..ENTRIES {
        sync.insert(key(i), Arc::new(Bytes::from(vec![0x30u8; 770])));
    }
    sync.run_pending_tasks();
    let sync_get = rate(2, secs, &|i| {
        let k = key(i);
        std::hint::black_box(sync.get(&k));
    });
    let sync_put = rate(2, secs, &|i| {
        sync.insert(key(i + ENTRIES), Arc::clone(&value));
    });
    drop(sync);

    let evicting: ocsp_responder::cache::EvictingCache<Arc<Bytes>> =
        ocsp_responder::cache::EvictingCache::new(ENTRIES as usize);
    let ekey = |i: u64| {
        ocsp_responder::cache::InlineKey::new(0, pki_core::ocsp::HashAlgorithm::Sha1, &key(i)[5..])
            .unwrap()
    };
    let until = evicting.clock_of(std::time::SystemTime::now() + Duration::from_secs(3600));
    for i in 0..ENTRIES {
        evicting.insert(ekey(i), Arc::new(Bytes::from(vec![0x30u8; 770])), until);
    }
    let evicting_get = rate(2, secs, &|i| {
        std::hint::black_box(evicting.get(&ekey(i)));
    });
    let evicting_put = rate(2, secs, &|i| {
        evicting.insert(ekey(i + ENTRIES), Arc::clone(&value), until);
    });
    drop(evicting);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let fut: moka::future::Cache<Box<[u8]>, Arc<Bytes>> = moka::future::Cache::builder()
        .max_capacity(ENTRIES)
        .time_to_live(Duration::from_secs(3600))
        .build();
    rt.block_on(async {
        for i in 0..ENTRIES {
            fut.insert(key(i), Arc::clone(&value)).await;
        }
        fut.run_pending_tasks().await;
    });
    let fut_get = rate(2, secs, &|i| {
        let k = key(i);
        std::hint::black_box(futures_lite_block_on(fut.get(&k)));
    });

    // (Memory: only the first cache built, table mode's, is measured; the
    // later ones reuse its freed pages, so their RSS would not compare.)
    println!("dashmap (memory mode)     get {map_get:>12.0} /s");
    println!("moka::sync                get {sync_get:>12.0} /s   insert into a full cache {sync_put:.0} /s");
    println!("moka::future (table mode before) get {fut_get:>12.0} /s");
    println!(
        "EvictingCache (table mode) get {evicting_get:>12.0} /s   insert into a full cache {evicting_put:.0} /s"
    );
    println!(
        "ratios: moka::future / dashmap get {:.2}x, moka::sync / dashmap {:.2}x, \
         EvictingCache / dashmap {:.2}x",
        fut_get / map_get,
        sync_get / map_get,
        evicting_get / map_get
    );
}

/// Polls a future that never waits (moka's `get` completes at once).
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
