//! National-scale OCSP bench (`benches/scale/run.sh`), loopback only,
//! bounded in time, on the PostgreSQL server the script starts
//! (`SCALE_PG_URL`):
//!
//! 1. loads `SCALE_N` certificate statuses (default 1,000,000; 1% revoked)
//!    straight into the store with COPY, then binds them to the audit log
//!    the way an upgraded store is (`store.baseline`), so the updater's
//!    audit check covers them;
//! 2. a raw SoftHSM `C_Sign` loop (the same key type and thread count),
//!    then the updater signing every response into the table: its rate
//!    against the raw loop (goal >= 80%), and the CPU per response of this
//!    process (updater and SoftHSM) and of PostgreSQL, with the rate that
//!    CPU allows on this machine's cores;
//! 3. `ocsp-responder` (the release binary, table mode, a cache of
//!    `SCALE_CACHE` entries, default min(N, 1M)) from spawn to `/health/ready`
//!    (goal <= 5 s at 10M);
//! 4. requests per second, 16 keep-alive connections, `SCALE_LOAD_SECS`
//!    each: cached-only (1,000 hot serials, warmed) and a bare hyper server
//!    answering the same GETs with a fixed body of the average response
//!    size (goal: cached-only >= 70% of it); live signing, POSTs over the
//!    hot serials each with a fresh nonce (answers checked: nonce echoed,
//!    one in 32 signatures verified), against the raw loop (goal >= 80%);
//!    Zipf over N (s = 1.1; the hot set fits the cache, warmed by one pass
//!    over the draws) and uniform over N (most requests read PostgreSQL);
//!    goals: Zipf >= 90% and uniform >= 25% of cached-only. CPU per request
//!    of the responder, PostgreSQL and the driver for cached-only, live and
//!    uniform (what a table read costs PostgreSQL);
//! 5. responder RSS once its cache holds `min(N, SCALE_CACHE)` entries
//!    against the bytes of those responses (goal <= 1.25x + 100 MB, both in
//!    decimal MB);
//! 6. revocation to visible on two responders: 50 revocations on the
//!    primary, each polled on both until `revoked`; p50/p99 (goal p99
//!    <= 2 s).
//!
//! Figures are printed one line each with their goal and verdict; nothing
//! is asserted on time. CPU comes from `/proc/PID/stat` (utime + stime):
//! PostgreSQL's is its postmaster's and its children's, so a backend that
//! exits during a phase is missed (the pools here keep theirs open).
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::many_single_char_names
)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::cpu::{self, ProcStat, ProcessesCpu};
use benches::load::{bare_server, get_path, successful, NonceSpec, Shape};
use benches::sign::raw_sign_rate;
use bytes::Bytes;
use der::{Decode, Encode};
use hsm::softhsm::SoftHsm;
use hsm::{KeyLabel, KeyType, Pin, PoolConfig, SessionPool, TokenLabel};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1 as client;
use hyper_util::rt::TokioIo;
use ocsp_responder::updater::{Updater, UpdaterSettings};
use ocsp_responder::{IssuerSetup, ResponseSource, Settings};
use pki_core::ocsp::{build_request, HashAlgorithm, IssuerHashes};
use pki_core::testing::{utc, TestCa};
use store::{AuditContext, NewCa, RevocationReason, RevocationRequest, Serial, Store};
use tokio::net::TcpStream;

const PIN: &str = "scale-pin-1234";
const TOKEN: &str = "scale";
const KEY: &str = "ocsp-scale";
const CONNS: usize = 16;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Serial `i` as DER content octets: 0x10 then i, big-endian (positive,
/// unique, in index order).
fn serial(i: u64) -> Vec<u8> {
    let mut s = vec![0x10];
    s.extend_from_slice(&i.to_be_bytes());
    s
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds used over a phase by the processes it runs on.
#[derive(Debug, Clone, Copy)]
struct CpuUse {
    /// This process: the updater and SoftHSM in it, or the load driver.
    bench: f64,
    /// The responder under load (0 when there is none).
    responder: f64,
    /// PostgreSQL's server processes.
    postgres: f64,
    /// Cores the rest of the machine kept busy on average: what the other
    /// processes of a shared machine took from the phase.
    others_cores: f64,
}

impl CpuUse {
    /// The same in microseconds per one of `count` items (`others_cores`
    /// unchanged).
    fn per_item_us(self, count: u64) -> Self {
        let k = 1e6 / count.max(1) as f64;
        Self {
            bench: self.bench * k,
            responder: self.responder * k,
            postgres: self.postgres * k,
            others_cores: self.others_cores,
        }
    }
}

/// Where a phase's CPU accounting starts: CPU used so far by this process,
/// the responder `responder` and the PostgreSQL server whose postmaster is
/// `postmaster` (it and its children; every `postgres` process when it is
/// not known).
struct CpuMark {
    postmaster: Option<u32>,
    responder: Option<u32>,
    at: Instant,
    machine_s: f64,
    bench_s: f64,
    responder_s: f64,
    postgres: ProcessesCpu,
}

impl CpuMark {
    fn now(postmaster: Option<u32>, responder: Option<u32>) -> Self {
        Self {
            postmaster,
            responder,
            at: Instant::now(),
            machine_s: cpu::machine_busy_seconds(),
            bench_s: cpu::process_seconds("self"),
            responder_s: responder.map_or(0.0, |pid| cpu::process_seconds(&pid.to_string())),
            postgres: ProcessesCpu::sample(|p| {
                p.comm.starts_with("postgres")
                    && postmaster.is_none_or(|pm| p.pid == pm || p.ppid == pm)
            }),
        }
    }

    /// CPU used since this mark. A PostgreSQL backend that exited in
    /// between is not counted (the pools here keep theirs open).
    fn used(&self) -> CpuUse {
        let now = Self::now(self.postmaster, self.responder);
        let (bench, responder, postgres) = (
            now.bench_s - self.bench_s,
            now.responder_s - self.responder_s,
            now.postgres.seconds_since(&self.postgres),
        );
        let others = now.machine_s - self.machine_s - bench - responder - postgres;
        CpuUse {
            bench,
            responder,
            postgres,
            others_cores: others.max(0.0) / (now.at - self.at).as_secs_f64().max(1e-9),
        }
    }
}

/// The PostgreSQL server's postmaster: the parent of a backend.
async fn postmaster_pid(pool: &sqlx::PgPool) -> Option<u32> {
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
        .ok()?;
    ProcStat::read(&backend.to_string()).map(|s| s.ppid)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

/// `(goal >= G%): met` for a percentage `pct` that must reach `goal`.
fn at_least(pct: f64, goal: f64) -> String {
    format!("(goal >= {goal:.0}%): {}", verdict(pct >= goal))
}

/// One line of the results: what was measured, the figure with its unit,
/// then how it compares (ratio, goal, verdict) and details.
fn result(what: &str, figure: &str, rest: &str) {
    println!("{what:<36} {figure:>12}   {rest}");
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

struct Responder {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Spawns the release responder on `config` (its `listen` rewritten to a
/// free port); returns it and the time to `/health/ready` 200.
async fn spawn_responder(
    bin: &Path,
    config: &str,
    dir: &Path,
    name: &str,
) -> (Responder, Duration) {
    let port = free_port();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        config.replace("LISTEN", &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let started = Instant::now();
    let child = Command::new(bin)
        .arg("--config")
        .arg(&path)
        .arg("--log-format")
        .arg("json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let r = Responder { child, addr };
    loop {
        if let Some((200, _)) = get(addr, "/health/ready").await {
            return (r, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "responder not ready in 10 min"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn get(addr: SocketAddr, path: &str) -> Option<(u16, Bytes)> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let (mut sender, conn) = client::handshake(TokioIo::new(stream)).await.ok()?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", "scale")
        .body(Empty::<Bytes>::new())
        .ok()?;
    let resp = sender.send_request(req).await.ok()?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    Some((status, body))
}

/// The GET path of the SHA-1 request for serial `i`.
fn path_of(hashes: &IssuerHashes, i: u64) -> String {
    let id = hashes.cert_id(HashAlgorithm::Sha1, &serial(i)).unwrap();
    get_path(&build_request(&[id], None).unwrap())
}

/// The value of the unlabelled sample `name` in the responder's
/// `/metrics` (Prometheus text), if it has one.
async fn metric(addr: SocketAddr, name: &str) -> Option<f64> {
    let (_, body) = get(addr, "/metrics").await?;
    std::str::from_utf8(&body)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// `OCSPResponseStatus` successful and a single response whose certStatus
/// is `revoked` ([1] in the SingleResponse): a cheap look at the bytes.
fn says_revoked(body: &[u8]) -> bool {
    pki_core::ocsp::decode_response(body)
        .ok()
        .and_then(|r| r.basic)
        .is_some_and(|b| {
            matches!(
                b.tbs_response_data.responses[0].cert_status,
                pki_core::ocsp::x509_ocsp::CertStatus::Revoked(_)
            )
        })
}

/// An OCSP answer in a few words: its responseStatus, or the certificate
/// status it gives.
fn describe(body: &[u8]) -> String {
    match pki_core::ocsp::decode_response(body) {
        Err(e) => format!("undecodable ({e})"),
        Ok(r) => match r.basic {
            None => format!("status {:?}", r.status),
            Some(b) => format!("{:?}", b.tbs_response_data.responses[0].cert_status)
                .chars()
                .take(40)
                .collect(),
        },
    }
}

struct Load {
    ok: u64,
    errors: u64,
    /// The first answer that did not count, in a few words (connections
    /// that failed count as errors without one).
    first_error: Option<String>,
    secs: f64,
    p99_ms: f64,
}

/// Time from `started` until a responder signs live (every request of a
/// round of `CONNS` with a nonce answered), at most 15 minutes.
async fn live_available(addr: SocketAddr, live: &Shape, started: Instant) -> Duration {
    loop {
        let probe = drive(addr, live, true, Duration::from_secs(1), CONNS as u64).await;
        if probe.ok == CONNS as u64 || started.elapsed() > Duration::from_secs(900) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `CONNS` keep-alive connections sending `shape`'s requests in turn for
/// `duration`, or until `max` requests were sent. An answer counts when it
/// is a 200 that `shape` accepts (with `ocsp`, a successful OCSP response;
/// without, any body: the bare server).
async fn drive(addr: SocketAddr, shape: &Shape, ocsp: bool, duration: Duration, max: u64) -> Load {
    let started = Instant::now();
    let end = Instant::now() + duration;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONNS {
        let (shape, next) = (shape.clone(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            let mut first_error = None;
            'connect: while Instant::now() < end {
                let Ok(stream) = TcpStream::connect(addr).await else {
                    errors += 1;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let Ok((mut sender, conn)) = client::handshake(TokioIo::new(stream)).await else {
                    errors += 1;
                    continue;
                };
                tokio::spawn(conn);
                while Instant::now() < end {
                    if sender.ready().await.is_err() {
                        continue 'connect;
                    }
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= max {
                        break 'connect;
                    }
                    let (req, nonce) = shape.request(n);
                    let t0 = Instant::now();
                    let Ok(resp) = sender.send_request(req).await else {
                        errors += 1;
                        continue 'connect;
                    };
                    let status = resp.status();
                    let Ok(body) = resp.into_body().collect().await else {
                        errors += 1;
                        continue 'connect;
                    };
                    let took = t0.elapsed();
                    let body = body.to_bytes();
                    if status == 200 && shape.answered(n, &body, nonce.as_ref(), ocsp) {
                        ok += 1;
                        lat.push(took.as_micros() as u32);
                    } else {
                        errors += 1;
                        first_error.get_or_insert_with(|| match (ocsp, successful(&body)) {
                            (false, _) => format!("HTTP {status}, {} bytes", body.len()),
                            (true, true) => {
                                format!("HTTP {status}, nonce or signature wrong")
                            }
                            (true, false) => format!("HTTP {status}, {}", describe(&body)),
                        });
                    }
                }
            }
            (ok, errors, lat, first_error)
        }));
    }
    let (mut ok, mut errors, mut lat, mut first_error) = (0, 0, Vec::new(), None);
    for t in tasks {
        let (o, e, l, f) = t.await.unwrap();
        ok += o;
        errors += e;
        lat.extend(l);
        first_error = first_error.or(f);
    }
    lat.sort_unstable();
    let p99_ms = lat
        .get(lat.len().saturating_sub(1) * 99 / 100)
        .map_or(0.0, |v| f64::from(*v) / 1000.0);
    Load {
        ok,
        errors,
        first_error,
        secs: started.elapsed().as_secs_f64().min(duration.as_secs_f64()),
        p99_ms,
    }
}

impl Load {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.secs
    }
}

/// Zipf(s) ranks over 1..=n by inverse transform on the continuous
/// approximation (good enough for a traffic mix), from a fixed seed.
fn zipf_draws(n: u64, s: f64, count: usize) -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let h = |k: f64| ((k).powf(1.0 - s) - 1.0) / (1.0 - s);
    let hn = h(n as f64 + 0.5);
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let k = (1.0 + u * hn * (1.0 - s)).powf(1.0 / (1.0 - s));
            (k as u64).clamp(1, n) - 1
        })
        .collect()
}

fn uniform_draws(n: u64, count: usize) -> Vec<u64> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        })
        .collect()
}

/// COPY `n` certificates (1% also revoked) of `ca` into the store.
async fn load_statuses(url: &str, ca: i64, n: u64) {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let chunk = 100_000u64;
    let mut i = 0;
    while i < n {
        let to = (i + chunk).min(n);
        let mut certs = String::with_capacity((to - i) as usize * 200);
        let mut revs = String::new();
        for k in i..to {
            let s = hex(&serial(k));
            // The responder path reads statuses only: the certificate's
            // bytes are a marker, its digest unique.
            let digest =
                hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &serial(k)).as_ref());
            let _ = writeln!(
                certs,
                "{ca}\t\\\\x{s}\t\\\\x3000\t{nb}\t{na}\t\\\\x{s}\tscale\t\\\\x{digest}\t{now}",
                nb = now - 86_400,
                na = now + 3 * 365 * 86_400,
            );
            if k % 100 == 7 {
                let _ = writeln!(revs, "{ca}\t\\\\x{s}\t1\t{now}\t\\N\tf\t0");
            }
        }
        let mut copy = c
            .copy_in_raw(
                "COPY certificates (ca_id, serial, subject_der, not_before, not_after, der, \
                 profile, sha256, issued_at) FROM STDIN",
            )
            .await
            .unwrap();
        copy.send(certs.into_bytes()).await.unwrap();
        copy.finish().await.unwrap();
        let mut copy = c
            .copy_in_raw(
                "COPY revocations (ca_id, serial, reason, revoked_at, invalidity_date, \
                 removed_from_hold, change_seq) FROM STDIN",
            )
            .await
            .unwrap();
        copy.send(revs.into_bytes()).await.unwrap();
        copy.finish().await.unwrap();
        i = to;
    }
    // Rows written behind the store's back, as by an older schema: the
    // next Store::open binds them to one `store.baseline` audit entry.
    sqlx::query(
        "INSERT INTO counters (name, value) VALUES ('audit_baseline', 1) \
                 ON CONFLICT (name) DO UPDATE SET value = 1",
    )
    .execute(&mut c)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&mut c).await.unwrap();
}

async fn run() {
    let n = env_u64("SCALE_N", 1_000_000);
    let cache = env_u64("SCALE_CACHE", n.min(1_000_000));
    let Ok(url) = std::env::var("SCALE_PG_URL") else {
        // `cargo bench -p benches` runs every bench: this one needs the
        // server its script starts.
        println!("scale: needs a PostgreSQL server; run benches/scale/run.sh, which starts one");
        return;
    };
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/ocsp-responder");
    assert!(
        bin.is_file(),
        "build the responder first: cargo build --release -p ocsp-responder"
    );
    let dir = tempfile::Builder::new().prefix("scale-").tempdir().unwrap();
    println!("== national-scale OCSP: N = {n} statuses, cache {cache} entries, PostgreSQL {url}");

    // HSM: SoftHSM token and the delegated signer's key.
    let softhsm_dir = dir.path().join("softhsm");
    let softhsm = SoftHsm::open(&softhsm_dir).unwrap();
    let label = TokenLabel::new(TOKEN).unwrap();
    softhsm
        .init_token(
            &label,
            &Pin::new("scale-so-pin").unwrap(),
            &Pin::new(PIN).unwrap(),
        )
        .unwrap();
    let pool = SessionPool::new(
        softhsm.hsm(),
        label,
        Pin::new(PIN).unwrap(),
        PoolConfig {
            size: 2,
            ..PoolConfig::default()
        },
    )
    .unwrap();
    let key = pool
        .generate_key(&KeyLabel::new(KEY).unwrap(), KeyType::EcP256)
        .unwrap();
    let ca = TestCa::root("CN=CNIE Scale CA,O=Royaume du Maroc,C=MA");
    let mut tpl = pki_core::builder::CertificateTemplate::new(
        pki_core::builder::parse_name("CN=OCSP Scale,O=Royaume du Maroc,C=MA").unwrap(),
        key.spki.clone(),
    );
    tpl.issuer = ca.name().clone();
    tpl.serial = vec![0x0f, 0x01];
    tpl.not_before = utc(2020, 1, 1);
    tpl.not_after = utc(2040, 1, 1);
    tpl.key_usage = Some(pki_core::builder::KeyUsageSpec::new(
        x509_cert::ext::pkix::KeyUsages::DigitalSignature,
    ));
    tpl.extended_key_usage = vec![pki_core::oid::KP_OCSP_SIGNING];
    tpl.ocsp_no_check = true;
    tpl.authority_key_id = pki_core::builder::AuthorityKeyId::Explicit(ca.key_id().to_vec());
    let responder_cert = ca.sign_template(&tpl);
    let cert_path = dir.path().join("responder.pem");
    std::fs::write(
        &cert_path,
        pki_core::testing::pem("CERTIFICATE", &responder_cert),
    )
    .unwrap();
    let pin_path = dir.path().join("pin");
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&pin_path)
            .unwrap();
        writeln!(f, "{PIN}").unwrap();
    }

    // 1. Statuses.
    let t = Instant::now();
    let store = Store::open(&url).await.unwrap();
    let cert = x509_cert::Certificate::from_der(ca.cert_der()).unwrap();
    let ca_rec = store
        .insert_ca(
            &NewCa {
                name: "cnie-scale-ca".into(),
                subject_der: cert.tbs_certificate.subject.to_der().unwrap(),
                cert_der: ca.cert_der().to_vec(),
                key_label: "cnie-scale-ca-key".into(),
                parent: None,
                tier: Some("cnie".into()),
            },
            &AuditContext::new("scale-bench"),
        )
        .await
        .unwrap()
        .record;
    store.close().await;
    load_statuses(&url, ca_rec.id.0, n).await;
    let copy_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let store = Store::open(&url).await.unwrap();
    let bind_secs = t.elapsed().as_secs_f64();
    println!("load: COPY {n} statuses {copy_secs:.1} s, audit baseline binding {bind_secs:.1} s");

    // 2. Raw HSM, then the updater; CPU of this process (the raw loop,
    // then the updater and SoftHSM) and of PostgreSQL around each.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let postmaster = postmaster_pid(store.pg_pool().unwrap()).await;
    let raw_secs = Duration::from_secs(5);
    let mark = CpuMark::now(postmaster, None);
    let raw = tokio::task::block_in_place(|| {
        raw_sign_rate(&softhsm, TOKEN, PIN, key.id.as_bytes(), 2, raw_secs)
    });
    let raw_used = mark.used();
    let raw_cpu_us = raw_used.bench * 1e6 / (raw * raw_secs.as_secs_f64()).max(1.0);
    let settings = Settings {
        source: ResponseSource::Table,
        presign_threads: 2,
        ..Settings::default()
    };
    let signer = Arc::new(pool.signer(key.clone()).unwrap());
    let issuers = ocsp_responder::resolve_issuers(
        &store,
        vec![IssuerSetup {
            ca_name: ca_rec.name.clone(),
            signer,
            responder_cert_der: Some(responder_cert.clone()),
        }],
    )
    .await
    .unwrap();
    let mut updater = Updater::new(store.clone(), issuers, settings, UpdaterSettings::default());
    assert!(updater.hold_lease().await.unwrap());
    let t = Instant::now();
    updater.require_vouched().await.unwrap();
    let vouch_secs = t.elapsed().as_secs_f64();
    let mark = CpuMark::now(postmaster, None);
    let t = Instant::now();
    let round = updater.round().await.unwrap();
    let sign_secs = t.elapsed().as_secs_f64();
    let updater_cpu = mark.used().per_item_us(round.total());
    assert_eq!(round.failed, 0);
    let updater_rate = round.total() as f64 / sign_secs;
    updater.release().await;
    let table_bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('ocsp_responses')")
        .fetch_one(store.pg_pool().unwrap())
        .await
        .unwrap();
    let der_bytes: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(length(der)), 0)::bigint FROM ocsp_responses")
            .fetch_one(store.pg_pool().unwrap())
            .await
            .unwrap();
    let avg_der = der_bytes as f64 / round.total().max(1) as f64;

    // 3. Responders.
    let config = format!(
        r#"listen = "LISTEN"
database = "{url}"
[responses]
source = "table"
cache_capacity = {cache}
[changes]
poll_ms = 250
[hsm]
token = "{TOKEN}"
pin_file = "{pin}"
softhsm_dir = "{softhsm}"
sessions = 2
[[issuer]]
ca = "{ca}"
key_label = "{KEY}"
responder_cert = "{cert}"
"#,
        pin = pin_path.display(),
        softhsm = softhsm_dir.display(),
        ca = ca_rec.name,
        cert = cert_path.display(),
    );
    let a_started = Instant::now();
    let (a, ready_a) = spawn_responder(&bin, &config, dir.path(), "a").await;
    let hashes = IssuerHashes::from_certificate_der(ca.cert_der()).unwrap();

    // 4. Load: cached-only against a bare hyper server, live signing
    // against the raw HSM, Zipf, uniform; the CPU of the responder, of
    // PostgreSQL and of this process (the driver) around the phases whose
    // cost per request is printed.
    let hot_serials: Vec<u64> = (0..1000u64).map(|i| i * (n / 1000).max(1)).collect();
    let hot = Shape::Get(Arc::new(
        hot_serials.iter().map(|&i| path_of(&hashes, i)).collect(),
    ));
    // Live: a fresh nonce in every request, so none can come from a cache.
    let live_shape = Shape::PostNonce(Arc::new(NonceSpec {
        issuer: hashes.clone(),
        serials: hot_serials.iter().map(|&i| serial(i)).collect(),
        responder_key: key.spki.subject_public_key.raw_bytes().to_vec(),
    }));
    // Live answers need the audit entries behind the statuses checked,
    // which the responder does in the background after start (the
    // baseline binding all N rows is the long one): until then, tryLater.
    // Measured first, so that the figures below are taken once it is done.
    let live_after = live_available(a.addr, &live_shape, a_started).await;
    drive(a.addr, &hot, true, Duration::from_secs(2), u64::MAX).await;
    let secs = Duration::from_secs(env_u64("SCALE_LOAD_SECS", 10));
    let mark = CpuMark::now(postmaster, Some(a.child.id()));
    let cached = drive(a.addr, &hot, true, secs, u64::MAX).await;
    let cached_cpu = mark.used().per_item_us(cached.ok);
    // The ceiling: the responder's answers are `avg_der` bytes on average.
    // On a runtime of its own with the responder's worker threads (one per
    // CPU, `#[tokio::main]`), as a separate process would be.
    let bare_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("bare-hyper")
        .enable_all()
        .build()
        .unwrap();
    let bare_len = avg_der.round() as usize;
    let bare_addr = bare_rt.spawn(bare_server(bare_len)).await.unwrap();
    let bare = drive(bare_addr, &hot, false, secs, u64::MAX).await;
    bare_rt.shutdown_background();
    let mark = CpuMark::now(postmaster, Some(a.child.id()));
    let live = drive(a.addr, &live_shape, true, secs, u64::MAX).await;
    let live_cpu = mark.used().per_item_us(live.ok);
    let draws = 400_000;
    let zipf = Shape::Get(Arc::new(
        zipf_draws(n, 1.1, draws)
            .into_iter()
            .map(|i| path_of(&hashes, i))
            .collect(),
    ));
    // Steady state: the Zipf mix's hot set read from the table once.
    drive(a.addr, &zipf, true, Duration::from_secs(60), draws as u64).await;
    let zipf_load = drive(a.addr, &zipf, true, secs, u64::MAX).await;
    let uniform = Shape::Get(Arc::new(
        uniform_draws(n, draws)
            .into_iter()
            .map(|i| path_of(&hashes, i))
            .collect(),
    ));
    let reads_before = metric(a.addr, "ocsp_table_reads_total").await;
    let mark = CpuMark::now(postmaster, Some(a.child.id()));
    let uniform_load = drive(a.addr, &uniform, true, secs, u64::MAX).await;
    let uniform_used = mark.used();
    let uniform_cpu = uniform_used.per_item_us(uniform_load.ok);
    // Requests the memory cache missed: each read the table.
    let uniform_reads = metric(a.addr, "ocsp_table_reads_total")
        .await
        .zip(reads_before)
        .map(|(after, before)| (after - before) as u64);

    // 5. RSS with the cache full: every serial once (bounded at 30 min).
    let fill_to = n.min(cache);
    let rss_before = rss_kib(a.child.id());
    let t = Instant::now();
    let all = Shape::Get(Arc::new(
        (0..fill_to).map(|i| path_of(&hashes, i)).collect(),
    ));
    let fill = drive(
        a.addr,
        &all,
        true,
        Duration::from_secs(env_u64("SCALE_FILL_SECS", 1800)),
        fill_to,
    )
    .await;
    let entries = metric(a.addr, "ocsp_cache_entries").await.unwrap_or(0.0);
    let rss = rss_kib(a.child.id());
    let cached_bytes = entries * avg_der;
    println!(
        "cache fill: {} requests in {:.0} s ({:.0}/s), {entries:.0} entries",
        fill.ok,
        t.elapsed().as_secs_f64(),
        fill.rate()
    );

    // 6. Revocation to visible on two responders.
    let b_started = Instant::now();
    let (b, ready_b) = spawn_responder(&bin, &config, dir.path(), "b").await;
    // Steady state: b has checked the audit entries, as a has.
    let live_after_b = live_available(b.addr, &live_shape, b_started).await;
    let mut updater_task = service_kit::Tasks::new(Duration::from_secs(5));
    {
        let issuers = ocsp_responder::resolve_issuers(
            &store,
            vec![IssuerSetup {
                ca_name: ca_rec.name.clone(),
                signer: Arc::new(pool.signer(key.clone()).unwrap()),
                responder_cert_der: Some(responder_cert.clone()),
            }],
        )
        .await
        .unwrap();
        let u = Updater::new(
            store.clone(),
            issuers,
            Settings {
                source: ResponseSource::Table,
                presign_threads: 2,
                ..Settings::default()
            },
            UpdaterSettings {
                idle: Duration::from_millis(100),
                ..UpdaterSettings::default()
            },
        );
        updater_task.spawn(u.run(updater_task.stop_signal()));
    }
    let mut visible = Vec::new();
    for k in 0..50u64 {
        let i = (k * 7_919 + 13) % n;
        if i % 100 == 7 {
            continue;
        }
        let path = path_of(&hashes, i);
        // Cached first on both, as real traffic would have it.
        let _ = get(a.addr, &path).await;
        let _ = get(b.addr, &path).await;
        store
            .revoke(
                &RevocationRequest::new(
                    ca_rec.id,
                    Serial::from_der_content(&serial(i)).unwrap(),
                    RevocationReason::KeyCompromise,
                ),
                &AuditContext::new("scale-bench"),
            )
            .await
            .unwrap();
        let t = Instant::now();
        let mut seen = [false, false];
        // What each responder answered last, for a slow revocation's line.
        let mut last = [String::new(), String::new()];
        while !(seen[0] && seen[1]) && t.elapsed() < Duration::from_secs(30) {
            for ((s, l), r) in seen.iter_mut().zip(&mut last).zip([&a, &b]) {
                if !*s {
                    let answer = get(r.addr, &path).await;
                    *s = answer
                        .as_ref()
                        .is_some_and(|(code, body)| *code == 200 && says_revoked(body));
                    *l = match &answer {
                        None => "no answer".into(),
                        Some((code, body)) => format!("HTTP {code}, {}", describe(body)),
                    };
                }
            }
            if !(seen[0] && seen[1]) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if ms > 2000.0 {
            println!(
                "revocation {k} (serial index {i}): {} after {ms:.0} ms; a: {}, b: {}",
                if seen[0] && seen[1] {
                    "visible"
                } else {
                    "NOT visible"
                },
                if seen[0] { "revoked" } else { &last[0] },
                if seen[1] { "revoked" } else { &last[1] },
            );
        }
        visible.push(if seen[0] && seen[1] {
            ms
        } else {
            f64::INFINITY
        });
    }
    updater_task.shutdown().await;
    visible.sort_by(f64::total_cmp);
    let visible_at = |p: usize| visible[(visible.len() - 1) * p / 100];

    let pct = |x: f64, of: f64| x * 100.0 / of.max(1e-9);
    let rate = |r: f64| format!("{r:.0} /s");
    let us = |v: f64| format!("{v:.0} µs");
    let tail = |l: &Load| {
        format!(
            "p99 {:.2} ms, {} errors{}",
            l.p99_ms,
            l.errors,
            l.first_error
                .as_ref()
                .map_or(String::new(), |e| format!(" (first bad answer: {e})"))
        )
    };
    let others = |c: CpuUse| format!("other processes {:.1} cores", c.others_cores);
    let served = |c: CpuUse| {
        format!(
            "responder {:.0} µs + PostgreSQL {:.0} µs (driver {:.0} µs; {})",
            c.responder,
            c.postgres,
            c.bench,
            others(c)
        )
    };
    println!("\n== results (N = {n}, {cores} CPUs; CPU per successful response, from /proc)");
    let raw_us = 2e6 / raw;
    result(
        "raw SoftHSM C_Sign, 2 threads",
        &rate(raw),
        &others(raw_used),
    );
    result(
        "  CPU per raw signature",
        &us(raw_us),
        &format!("2 cores / raw rate (measured in this process: {raw_cpu_us:.0} µs)"),
    );
    let updater_pct = pct(updater_rate, raw);
    result(
        "updater signing into the table",
        &rate(updater_rate),
        &format!(
            "{updater_pct:.0}% of raw {}; {} responses in {sign_secs:.1} s",
            at_least(updater_pct, 80.0),
            round.total()
        ),
    );
    let updater_us = updater_cpu.bench + updater_cpu.postgres;
    result(
        "  CPU per response",
        &us(updater_us),
        &format!(
            "bench process (updater, SoftHSM) {:.0} µs + PostgreSQL {:.0} µs = {:.1}x a raw signature; {}",
            updater_cpu.bench,
            updater_cpu.postgres,
            updater_us / raw_us,
            others(updater_cpu)
        ),
    );
    let ceiling = cores as f64 * 1e6 / updater_us.max(1e-9);
    result(
        &format!("  CPU-bound ceiling, {cores} CPUs"),
        &rate(ceiling),
        &format!(
            "{:.0}% of raw ({cores} CPUs / CPU per response): 80% of raw {}",
            pct(ceiling, raw),
            if pct(ceiling, raw) >= 80.0 {
                "reachable by CPU"
            } else {
                "NOT reachable on this machine"
            }
        ),
    );
    result(
        "updater audit check of the CA",
        &format!("{vouch_secs:.1} s"),
        "",
    );
    result(
        "response table",
        &format!("{:.1} MB", table_bytes as f64 / 1e6),
        &format!("{avg_der:.0} B per response"),
    );
    result(
        "live signing available after",
        &format!("{:.1} s", live_after.as_secs_f64()),
        &format!(
            "(a), {:.1} s (b), from responder start: the audit entries behind the statuses checked in the background",
            live_after_b.as_secs_f64()
        ),
    );
    result(
        "responder start to ready",
        &format!("{:.2} s", ready_a.as_secs_f64()),
        &format!(
            "(a), {:.2} s (b); goal <= 5 s at 10M{}",
            ready_b.as_secs_f64(),
            if n >= 10_000_000 {
                format!(
                    ": {}",
                    verdict(ready_a.max(ready_b) <= Duration::from_secs(5))
                )
            } else {
                " (N is smaller)".into()
            }
        ),
    );
    result(
        "cached-only (1,000 hot serials)",
        &rate(cached.rate()),
        &tail(&cached),
    );
    result(
        "  CPU per request",
        &us(cached_cpu.responder + cached_cpu.postgres),
        &served(cached_cpu),
    );
    let bare_pct = pct(cached.rate(), bare.rate());
    result(
        &format!("bare hyper, {bare_len}-byte body"),
        &rate(bare.rate()),
        &format!(
            "cached-only / bare hyper = {bare_pct:.0}% {}; {}",
            at_least(bare_pct, 70.0),
            tail(&bare)
        ),
    );
    let live_pct = pct(live.rate(), raw);
    result(
        "live signing, a nonce per request",
        &rate(live.rate()),
        &format!(
            "live signing {:.0}/s = {live_pct:.0}% of raw C_Sign (2 threads) {}; {}",
            live.rate(),
            at_least(live_pct, 80.0),
            tail(&live)
        ),
    );
    result(
        "  CPU per request",
        &us(live_cpu.responder + live_cpu.postgres),
        &format!("{}; raw signature {raw_us:.0} µs", served(live_cpu)),
    );
    for (what, load, goal) in [
        ("Zipf s=1.1 over N", &zipf_load, 90.0),
        ("uniform over N", &uniform_load, 25.0),
    ] {
        let share = pct(load.rate(), cached.rate());
        result(
            what,
            &rate(load.rate()),
            &format!(
                "{share:.0}% of cached-only {}; {}",
                at_least(share, goal),
                tail(load)
            ),
        );
    }
    result(
        "  CPU per request",
        &us(uniform_cpu.responder + uniform_cpu.postgres),
        &format!(
            "{}; {}",
            served(uniform_cpu),
            uniform_reads.map_or("table reads not in /metrics".into(), |r| format!(
                "{r} table reads ({:.0}% of requests), PostgreSQL {:.0} µs per read",
                pct(r as f64, uniform_load.ok as f64),
                uniform_used.postgres * 1e6 / r.max(1) as f64
            ))
        ),
    );
    // RSS and its limit in decimal MB (1e6 bytes) both.
    let rss_mb = rss as f64 * 1024.0 / 1e6;
    let limit_mb = (cached_bytes * 1.25 + 100e6) / 1e6;
    result(
        &format!("responder RSS, {entries:.0} cached"),
        &format!("{rss_mb:.1} MB"),
        &format!(
            "{:.0}% of limit 1.25 x {:.1} MB cached responses + 100 MB = {limit_mb:.1} MB: {} (before fill {:.1} MB)",
            pct(rss_mb, limit_mb),
            cached_bytes / 1e6,
            verdict(rss_mb <= limit_mb),
            rss_before as f64 * 1024.0 / 1e6
        ),
    );
    result(
        "revocation to visible, 2 responders",
        &format!("{:.0} ms", visible_at(99)),
        &format!(
            "p99 (goal <= 2000 ms): {}; p50 {:.0} ms, max {:.0} ms over {}",
            verdict(visible_at(99) <= 2000.0),
            visible_at(50),
            visible[visible.len() - 1],
            visible.len()
        ),
    );
    drop(a);
    drop(b);
    store.close().await;
}
