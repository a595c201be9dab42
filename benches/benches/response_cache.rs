//! The two bounded caches a responder can keep ready responses in
//! (issue 17: "measure both"), with the same 26-byte packed keys
//! (issuer, hash, serial) and 1,000,000 entries of ~770-byte responses
//! (what the scale bench's table holds):
//!
//! - `dashmap`: the sharded map of memory mode (`ocsp_responder::cache`),
//!   bounded by refusing new keys when full, no eviction;
//! - `moka`: the bounded cache of table mode (TinyLFU admission, LRU
//!   eviction, per-entry expiry), the sync and the future flavours.
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

fn main() {
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

    // (Memory: the scale bench measures the responder's RSS with a full
    // cache; in one process the second cache reuses the first's freed
    // pages, so RSS here would not compare.)
    println!("dashmap (memory mode)     get {map_get:>12.0} /s");
    println!("moka::sync                get {sync_get:>12.0} /s   insert into a full cache {sync_put:.0} /s");
    println!("moka::future (table mode) get {fut_get:>12.0} /s");
    println!(
        "ratios: moka::future / dashmap get {:.2}x, moka::sync / dashmap {:.2}x",
        fut_get / map_get,
        sync_get / map_get
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
