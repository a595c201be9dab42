//! OCSP load bench, loopback only, a few seconds per case, all in one run:
//!
//! (a) our responder serving pre-signed responses, GET and POST;
//! (b) `openssl ocsp -index ... -port ...` answering the same requests from
//!     an equivalent index (same CA, same serials, software responder key);
//! (c) a bare hyper server returning a fixed 500-byte body (the ceiling);
//! (d) live signing with a fresh nonce per request, against a raw SoftHSM
//!     P-256 `C_Sign` loop on the same key type and thread count.
//!
//! The driver is tokio + hyper's HTTP/1.1 client (or, with
//! `OCSP_LOAD_CLIENT=raw`, a minimal HTTP/1.1 client writing and reading
//! the bytes itself, as wrk does), `CONNS` keep-alive connections each
//! sending requests back to back (reconnecting when the server closes, as
//! openssl does after every response), on a runtime of its own. Only
//! successful OCSP responses count; in (d) each response must also contain
//! its request's unique 32-byte nonce, and one in 32 is decoded in full
//! (nonce extension compared) and its signature verified with the
//! responder key. Prints requests/s, p50/p99 latency, CPU used, ratios,
//! and for (d) the CPU per live request against the CPU per raw signature.
//!
//! `cargo bench -p benches --bench ocsp_load` (or `benches/ocsp/run.sh`).
//! `OCSP_LOAD_SECS` (default 6, split over 3 interleaved rounds) and
//! `OCSP_LOAD_CONNS` (default 16) tune it; `OCSP_LOAD_ONLY="(d)"` runs only
//! the cases whose name contains it; `OCSP_LOAD_LIVE` (live permits,
//! default 4), `OCSP_LOAD_SIGNERS` (signer threads, default one per
//! permit), `OCSP_LOAD_RAW_THREADS` (raw loop, default 2),
//! `OCSP_LOAD_SERVER_WORKERS` (responder tokio workers, default 2) and
//! `OCSP_LOAD_CLIENT` (`hyper` or `raw`) are for experiments.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use benches::cpu::{self, ProcStat};
use benches::load::{bare_server, get_path, successful, NonceSpec, Shape};
use benches::sign::raw_sign_rate;
use bytes::Bytes;
use der::{Decode, Encode};
use hsm::softhsm::SoftHsm;
use hsm::{KeyLabel, KeyType, Pin, PoolConfig, SessionPool, TokenLabel};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1 as client;
use hyper_util::rt::TokioIo;
use ocsp_responder::{IssuerSetup, Settings};
use pki_core::ocsp::{build_request, HashAlgorithm, IssuerHashes};
use pki_core::testing::{utc, KeyAlgorithm, SoftwareKey, TestCa};
use store::{AuditContext, NewCa, NewCertificate, RevocationReason, RevocationRequest, Serial};
use tokio::net::{TcpListener, TcpStream};

const PIN: &str = "bench-pin-1234";
const GOOD: usize = 10_000;
const REVOKED: usize = 1_000;
/// Distinct requests cycled through by the driver.
const REQUESTS: usize = 2_000;
/// Interleaved rounds per run.
const ROUNDS: u32 = 3;

fn secs() -> Duration {
    Duration::from_secs(
        std::env::var("OCSP_LOAD_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(6),
    )
}

fn conns() -> usize {
    std::env::var("OCSP_LOAD_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
}

#[derive(Debug, Default, Clone)]
struct Stats {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    /// CPU seconds of the whole process, and of the load driver's threads.
    cpu: f64,
    driver_cpu: f64,
}

/// CPU seconds used so far: by the whole process (threads that have exited
/// included), and by its threads named `load-driver`; from `/proc` (Linux).
fn cpu_seconds() -> (f64, f64) {
    let mut driver = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Some(stat) = std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|s| ProcStat::parse(&s))
            {
                if stat.comm.starts_with("load-driver") {
                    driver += stat.ticks;
                }
            }
        }
    }
    (
        cpu::process_seconds("self"),
        driver as f64 / cpu::clock_ticks(),
    )
}

impl Stats {
    /// One exchange inside the measured window: a latency when its answer
    /// was right, an error otherwise.
    fn record(&mut self, good: bool, took: Duration) {
        if good {
            self.ok += 1;
            let us = took.as_micros();
            self.latencies_us
                .push(u32::try_from(us).unwrap_or(u32::MAX));
        } else {
            self.errors += 1;
        }
    }

    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// Drives `conns` connections for `duration` after a short warm-up.
async fn drive(addr: SocketAddr, shape: Shape, ocsp: bool, duration: Duration) -> Stats {
    let warmup = Duration::from_millis(500);
    let start = Instant::now() + warmup;
    let end = start + duration;
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conns() {
        let shape = shape.clone();
        let counter = Arc::clone(&counter);
        tasks.push(tokio::spawn(async move {
            if raw_client() {
                return drive_raw(addr, &shape, ocsp, start, end, &counter).await;
            }
            let mut stats = Stats::default();
            'connect: while Instant::now() < end {
                let Ok(stream) = TcpStream::connect(addr).await else {
                    stats.errors += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let Ok((mut sender, conn)) = client::handshake(TokioIo::new(stream)).await else {
                    stats.errors += 1;
                    continue;
                };
                tokio::spawn(conn);
                loop {
                    if Instant::now() >= end {
                        break 'connect;
                    }
                    if sender.ready().await.is_err() {
                        continue 'connect;
                    }
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let (req, nonce) = shape.request(n);
                    let t0 = Instant::now();
                    // A server that stops answering must not hang the run.
                    let limit = end.saturating_duration_since(t0) + Duration::from_secs(2);
                    let exchange = async {
                        let resp = sender.send_request(req).await.ok()?;
                        let close = resp
                            .headers()
                            .get("connection")
                            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                        let status = resp.status();
                        let body = resp.into_body().collect().await.ok()?;
                        Some((close, status, body))
                    };
                    let Ok(Some((close, status, body))) =
                        tokio::time::timeout(limit, exchange).await
                    else {
                        stats.errors += 1;
                        continue 'connect;
                    };
                    let t1 = Instant::now();
                    if t0 >= start && t1 <= end {
                        let good = status == 200
                            && shape.answered(n, &body.to_bytes(), nonce.as_ref(), ocsp);
                        stats.record(good, t1 - t0);
                    }
                    if close {
                        continue 'connect;
                    }
                }
            }
            stats
        }));
    }
    let mut all = Stats {
        elapsed: duration,
        ..Stats::default()
    };
    tokio::time::sleep_until(start.into()).await;
    let (cpu0, driver0) = cpu_seconds();
    tokio::time::sleep_until(end.into()).await;
    let (cpu1, driver1) = cpu_seconds();
    all.cpu = cpu1 - cpu0;
    all.driver_cpu = driver1 - driver0;
    for t in tasks {
        let s = t.await.unwrap();
        all.ok += s.ok;
        all.errors += s.errors;
        all.latencies_us.extend(s.latencies_us);
    }
    all.latencies_us.sort_unstable();
    all
}

/// `OCSP_LOAD_CLIENT=raw`: the driver writes HTTP/1.1 requests and reads
/// responses itself on each connection (as wrk does) instead of going
/// through hyper's client, whose connection task and channels cost the
/// shared cores about twice as much per request.
fn raw_client() -> bool {
    std::env::var("OCSP_LOAD_CLIENT").is_ok_and(|c| c == "raw")
}

/// The request's bytes on the wire (`Full` bodies: one frame, ready).
async fn wire(req: hyper::Request<Full<Bytes>>) -> Vec<u8> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let mut out = Vec::with_capacity(160 + body.len());
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", hyper::http::uri::PathAndQuery::as_str);
    out.extend_from_slice(format!("{} {path} HTTP/1.1\r\n", parts.method).as_bytes());
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if parts.method != hyper::Method::GET || !body.is_empty() {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

/// One response read from `stream`: status, `Connection: close`, body.
/// Only what our servers and openssl send is understood (Content-Length
/// framing); anything else is an error.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u16, bool, Bytes)> {
    use tokio::io::AsyncReadExt as _;
    buf.clear();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 {
            return None;
        }
        buf.reserve(4096);
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut length = None;
    let mut close = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().ok()?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
    }
    let want = head_end + length?;
    while buf.len() < want {
        buf.reserve(want - buf.len());
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
    Some((status, close, Bytes::copy_from_slice(&buf[head_end..want])))
}

/// One connection's loop with the raw client; same counting as the hyper
/// client's.
async fn drive_raw(
    addr: SocketAddr,
    shape: &Shape,
    ocsp: bool,
    start: Instant,
    end: Instant,
    counter: &AtomicU64,
) -> Stats {
    use tokio::io::AsyncWriteExt as _;
    let mut stats = Stats::default();
    let mut buf = Vec::with_capacity(8192);
    'connect: while Instant::now() < end {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            stats.errors += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        loop {
            if Instant::now() >= end {
                break 'connect;
            }
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let (req, nonce) = shape.request(n);
            let bytes = wire(req).await;
            let t0 = Instant::now();
            let limit = end.saturating_duration_since(t0) + Duration::from_secs(2);
            let exchange = async {
                stream.write_all(&bytes).await.ok()?;
                read_response(&mut stream, &mut buf).await
            };
            let Ok(Some((status, close, body))) = tokio::time::timeout(limit, exchange).await
            else {
                stats.errors += 1;
                continue 'connect;
            };
            let t1 = Instant::now();
            if t0 >= start && t1 <= end {
                let good = status == 200 && shape.answered(n, &body, nonce.as_ref(), ocsp);
                stats.record(good, t1 - t0);
            }
            if close {
                continue 'connect;
            }
        }
    }
    stats
}

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        // SIGTERM to the peer's own process group: `-multi` forks children
        // that a SIGKILL of the parent would leave running.
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `openssl ocsp` as a responder over an index with the same statuses.
async fn openssl_peer(
    dir: &Path,
    ca: &TestCa,
    serials: &[(Vec<u8>, bool)],
    multi: Option<u32>,
) -> (Peer, SocketAddr) {
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
    let responder = ca.leaf_with_key("CN=openssl OCSP responder", key.clone(), |tpl| {
        tpl.extended_key_usage = vec![pki_core::oid::KP_OCSP_SIGNING];
        tpl.subject_alt_names.clear();
    });
    std::fs::write(dir.join("peer.pem"), responder.cert_pem()).unwrap();
    std::fs::write(dir.join("peer.key"), key.pkcs8_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
    let mut index = String::new();
    for (serial, revoked) in serials {
        // openssl's index holds the unsigned magnitude, without the sign octet.
        let full = Serial::from_der_content(serial).unwrap().to_hex();
        let hex = full.strip_prefix("00").unwrap_or(&full);
        if *revoked {
            let _ = writeln!(
                index,
                "R\t391231235959Z\t250101000000Z,keyCompromise\t{hex}\tunknown\t/CN=c{hex}"
            );
        } else {
            let _ = writeln!(index, "V\t391231235959Z\t\t{hex}\tunknown\t/CN=c{hex}");
        }
    }
    std::fs::write(dir.join("index.txt"), index).unwrap();
    let port = free_port();
    let mut args: Vec<String> = [
        "ocsp",
        "-index",
        "index.txt",
        "-rsigner",
        "peer.pem",
        "-rkey",
        "peer.key",
        "-CA",
        "ca.pem",
        "-ndays",
        "4",
        "-ignore_err",
        "-port",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(port.to_string());
    if let Some(n) = multi {
        args.extend(["-multi".to_owned(), n.to_string()]);
    }
    let child = Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl on PATH");
    let peer = Peer(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Ready when it answers a real request: a bare connect would be
    // accepted and then block a single-process openssl forever, waiting
    // for a request that never comes.
    let issuer = IssuerHashes::from_certificate_der(ca.cert_der()).unwrap();
    let probe = Bytes::from(
        build_request(
            &[issuer.cert_id(HashAlgorithm::Sha1, &serials[0].0).unwrap()],
            None,
        )
        .unwrap(),
    );
    for _ in 0..100 {
        if answers(addr, probe.clone()).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (peer, addr)
}

/// One POST exchange, bounded in time.
async fn answers(addr: SocketAddr, body: Bytes) -> bool {
    let exchange = async {
        let stream = TcpStream::connect(addr).await.ok()?;
        let (mut sender, conn) = client::handshake(TokioIo::new(stream)).await.ok()?;
        tokio::spawn(conn);
        let req = hyper::Request::post("/")
            .header("host", "127.0.0.1")
            .header("content-type", "application/ocsp-request")
            .body(Full::new(body))
            .ok()?;
        let resp = sender.send_request(req).await.ok()?;
        let body = resp.into_body().collect().await.ok()?.to_bytes();
        Some(successful(&body))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), exchange).await,
        Ok(Some(true))
    )
}

/// Signatures per second through `f` on `threads` threads for `duration`.
fn loop_rate(threads: usize, duration: Duration, f: &(dyn Fn(u64) + Sync)) -> f64 {
    let total = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let total = &total;
            scope.spawn(move || {
                let end = Instant::now() + duration;
                let mut n = 0u64;
                while Instant::now() < end {
                    f((t as u64) << 32 | n);
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    total.load(Ordering::Relaxed) as f64 / duration.as_secs_f64()
}

fn row(name: &str, s: &Stats) {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    println!(
        "| {name:<44} | {:>9.0} | {:>7.3} | {:>7.3} | {:>6} | {:>5.2} | {:>5.2} |",
        s.rate(),
        s.percentile(0.50),
        s.percentile(0.99),
        s.errors,
        s.cpu / secs,
        s.driver_cpu / secs,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is understood.
    // OCSP_LOAD_SERVER_WORKERS: the responder's tokio workers (default 2,
    // one per core as `#[tokio::main]` would start here).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::env::var("OCSP_LOAD_SERVER_WORKERS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(2),
        )
        .enable_all()
        .build()
        .unwrap();
    // The load driver runs on a runtime of its own, as a separate client
    // would: it must not queue behind the server's tasks (nor the HSM
    // signatures the server runs in place on its workers).
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load-driver")
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(client.handle().clone()));
}

async fn run(client: tokio::runtime::Handle) {
    let duration = secs();
    let dir = tempfile::tempdir().unwrap();
    let softhsm = SoftHsm::open(dir.path().join("softhsm")).unwrap();
    let token = "ocsp-bench";
    softhsm
        .init_token(
            &TokenLabel::new(token).unwrap(),
            &Pin::new("bench-so-pin").unwrap(),
            &Pin::new(PIN).unwrap(),
        )
        .unwrap();
    let pool = SessionPool::new(
        softhsm.hsm(),
        TokenLabel::new(token).unwrap(),
        Pin::new(PIN).unwrap(),
        // Two sessions per core, as the responder's default.
        PoolConfig {
            size: 4,
            ..PoolConfig::default()
        },
    )
    .unwrap();
    let key = pool
        .generate_key(&KeyLabel::new("ocsp").unwrap(), KeyType::EcP256)
        .unwrap();
    let signer = pool.signer(key.clone()).unwrap();
    let loop_signer = signer.clone();

    // CA, delegated responder certificate for the HSM key, certificates.
    let ca = TestCa::root("CN=CNIE Bench CA,O=Royaume du Maroc,C=MA");
    let mut tpl = pki_core::builder::CertificateTemplate::new(
        pki_core::builder::parse_name("CN=OCSP Responder Bench,C=MA").unwrap(),
        key.spki.clone(),
    );
    tpl.issuer = ca.name().clone();
    tpl.serial = vec![0x0f, 0x0f];
    tpl.not_before = utc(2020, 1, 1);
    tpl.not_after = utc(2040, 1, 1);
    tpl.extended_key_usage = vec![pki_core::oid::KP_OCSP_SIGNING];
    tpl.authority_key_id = pki_core::builder::AuthorityKeyId::Explicit(ca.key_id().to_vec());
    let responder_cert = ca.sign_template(&tpl);
    let responder_cert_der = responder_cert.clone();

    let store = store::Store::open(&format!("sqlite://{}/pki.db", dir.path().display()))
        .await
        .unwrap();
    let ctx = AuditContext::new("bench");
    let ca_cert = x509_cert::Certificate::from_der(ca.cert_der()).unwrap();
    let ca_id = store
        .insert_ca(
            &NewCa {
                name: "cnie-bench".into(),
                subject_der: ca_cert.tbs_certificate.subject.to_der().unwrap(),
                cert_der: ca.cert_der().to_vec(),
                key_label: "cnie-bench-key".into(),
                parent: None,
                tier: Some("cnie".into()),
            },
            &ctx,
        )
        .await
        .unwrap()
        .record
        .id;
    let leaf_key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
    let mut serials: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut tx = store.begin().await.unwrap();
    let t = |st: SystemTime| {
        time::OffsetDateTime::from_unix_timestamp(
            st.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64,
        )
        .unwrap()
    };
    for i in 0..GOOD + REVOKED {
        let leaf = ca.leaf_with_key(&format!("CN=Citizen {i}"), leaf_key.clone(), |_| {});
        let serial = Serial::from_der_content(leaf.serial()).unwrap();
        tx.record_certificate(
            &NewCertificate {
                ca: ca_id,
                serial: serial.clone(),
                subject_der: Vec::new(),
                not_before: t(utc(2020, 1, 1)),
                not_after: t(utc(2040, 1, 1)),
                der: leaf.cert_der().to_vec(),
                profile: "cnie-auth".into(),
            },
            &ctx,
        )
        .await
        .unwrap();
        let revoked = i >= GOOD;
        if revoked {
            tx.revoke(
                &RevocationRequest::new(ca_id, serial, RevocationReason::KeyCompromise),
                &ctx,
            )
            .await
            .unwrap();
        }
        serials.push((leaf.serial().to_vec(), revoked));
    }
    tx.commit().await.unwrap();

    // Our responder.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // One signature in flight per HSM session (OCSP_LOAD_LIVE, default 4).
    let live_permits = std::env::var("OCSP_LOAD_LIVE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let settings = Settings {
        presign_threads: 2,
        live_concurrency: live_permits,
        live_wait: Duration::from_secs(2),
        // Signer threads (OCSP_LOAD_SIGNERS, default one per permit, as the
        // responder's own default).
        live_threads: std::env::var("OCSP_LOAD_SIGNERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(live_permits),
        ..Settings::default()
    };
    let t0 = Instant::now();
    let running = ocsp_responder::start(
        store.clone(),
        vec![IssuerSetup {
            ca_name: "cnie-bench".into(),
            signer: Arc::new(signer),
            responder_cert_der: Some(responder_cert),
        }],
        settings,
        listener,
    )
    .await
    .unwrap();
    let presign = running.presign_report();
    println!(
        "pre-signed {} responses through SoftHSM in {:.2} s ({:.0}/s)",
        presign.total,
        t0.elapsed().as_secs_f64(),
        presign.total as f64 / presign.elapsed.as_secs_f64()
    );
    let ours = running.local_addr();

    let issuer = IssuerHashes::from_certificate_der(ca.cert_der()).unwrap();
    let step = serials.len() / REQUESTS;
    let picked: Vec<Vec<u8>> = serials
        .iter()
        .step_by(step.max(1))
        .map(|s| s.0.clone())
        .collect();
    let ders: Vec<Vec<u8>> = picked
        .iter()
        .map(|s| build_request(&[issuer.cert_id(HashAlgorithm::Sha1, s).unwrap()], None).unwrap())
        .collect();
    let gets = Shape::Get(Arc::new(ders.iter().map(|d| get_path(d)).collect()));
    let posts = Shape::Post(Arc::new(
        ders.iter().map(|d| Bytes::from(d.clone())).collect(),
    ));
    let nonces = Shape::PostNonce(Arc::new(NonceSpec {
        issuer: issuer.clone(),
        serials: picked.clone(),
        responder_key: key.spki.subject_public_key.raw_bytes().to_vec(),
    }));

    let peer_dir = dir.path().join("peer-1");
    std::fs::create_dir_all(&peer_dir).unwrap();
    let (peer1, peer1_addr) = openssl_peer(&peer_dir, &ca, &serials, None).await;
    let peer_dir = dir.path().join("peer-2");
    std::fs::create_dir_all(&peer_dir).unwrap();
    let (peer2, peer2_addr) = openssl_peer(&peer_dir, &ca, &serials, Some(2)).await;
    let bare = bare_server(500).await;

    println!(
        "\n{} s per case in {ROUNDS} interleaved rounds, {} keep-alive connections, {} distinct requests, loopback, 2 cores shared by driver and server (separate runtimes)\n",
        duration.as_secs(),
        conns(),
        ders.len()
    );
    println!(
        "| case                                         |     req/s | p50 ms  | p99 ms  | errors | cores | drvr  |"
    );
    println!(
        "|----------------------------------------------|-----------|---------|---------|--------|-------|-------|"
    );
    // The machine is shared: cases run interleaved in ROUNDS short rounds
    // and each case's rounds are added up, so background load hits every
    // case alike.
    println!(
        "(cores: CPU used by this process per second of the case, server and driver; drvr: the driver's share)\n"
    );
    let round = duration / ROUNDS;
    let cases: Vec<(&str, SocketAddr, Shape, bool)> = vec![
        ("(a) ours, pre-signed, GET", ours, gets.clone(), true),
        ("(a) ours, pre-signed, POST", ours, posts.clone(), true),
        (
            "(b) openssl ocsp -index, 1 process, POST",
            peer1_addr,
            posts.clone(),
            true,
        ),
        (
            "(b) openssl ocsp -index -multi 2, GET",
            peer2_addr,
            gets.clone(),
            true,
        ),
        (
            "(b) openssl ocsp -index -multi 2, POST",
            peer2_addr,
            posts.clone(),
            true,
        ),
        (
            "(c) bare hyper, fixed 500-byte body",
            bare,
            gets.clone(),
            false,
        ),
        (
            "(d) ours, live signing with nonce, POST",
            ours,
            nonces,
            true,
        ),
    ];
    let mut totals: Vec<Stats> = vec![Stats::default(); cases.len()];
    let only = std::env::var("OCSP_LOAD_ONLY").ok();
    let mut raw_total = 0.0;
    // CPU µs per raw signature, summed over rounds.
    let mut raw_cpu_us = 0.0;
    // OCSP_LOAD_RAW_THREADS: threads of the raw C_Sign loop (default 2).
    let raw_threads = std::env::var("OCSP_LOAD_RAW_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut pool_total = 0.0;
    let mut build_total = 0.0;
    let identity =
        pki_core::ocsp::ResponderIdentity::delegated(&responder_cert_der, &loop_signer).unwrap();
    for _ in 0..ROUNDS {
        for (i, (name, addr, shape, ocsp)) in cases.iter().enumerate() {
            // OCSP_LOAD_ONLY=(d) runs only the cases whose name has it.
            if !only.as_ref().is_none_or(|o| name.contains(o.as_str())) {
                continue;
            }
            let s = client
                .spawn(drive(*addr, shape.clone(), *ocsp, round))
                .await
                .unwrap();
            totals[i].ok += s.ok;
            totals[i].errors += s.errors;
            totals[i].elapsed += s.elapsed;
            totals[i].cpu += s.cpu;
            totals[i].driver_cpu += s.driver_cpu;
            totals[i].latencies_us.extend(s.latencies_us);
        }
        let (cpu0, _) = cpu_seconds();
        let rate = raw_sign_rate(&softhsm, token, PIN, key.id.as_bytes(), raw_threads, round);
        let (cpu1, _) = cpu_seconds();
        raw_total += rate;
        raw_cpu_us += (cpu1 - cpu0) * 1e6 / (rate * round.as_secs_f64()).max(1.0);
        pool_total += loop_rate(2, round, &|_| {
            std::hint::black_box(pki_core::Signer::sign(&loop_signer, &[0x5a; 300]).unwrap());
        });
        build_total += loop_rate(2, round, &|n| {
            let id = issuer
                .cert_id(HashAlgorithm::Sha1, &picked[n as usize % picked.len()])
                .unwrap();
            let single = pki_core::ocsp::SingleStatus {
                cert_id: id,
                status: pki_core::ocsp::CertStatus::Good,
                this_update: SystemTime::now(),
                next_update: Some(SystemTime::now() + Duration::from_secs(60)),
            };
            let mut nonce = [0u8; 32];
            nonce[..8].copy_from_slice(&n.to_be_bytes());
            std::hint::black_box(
                pki_core::ocsp::build_response(
                    &identity,
                    &[single],
                    SystemTime::now(),
                    Some(&nonce),
                    &loop_signer,
                )
                .unwrap(),
            );
        });
    }
    drop(peer1);
    drop(peer2);
    for (t, (name, ..)) in totals.iter_mut().zip(&cases) {
        t.latencies_us.sort_unstable();
        row(name, t);
    }
    let raw = raw_total / f64::from(ROUNDS);
    println!(
        "| {:<44} | {raw:>9.0} |         |         |        |       |       |",
        format!("(d) raw SoftHSM P-256 C_Sign loop, {raw_threads} threads")
    );
    println!(
        "| {:<44} | {:>9.0} |         |         |        |       |       |",
        "    hsm pool HsmSigner::sign loop, 2 threads",
        pool_total / f64::from(ROUNDS)
    );
    println!(
        "| {:<44} | {:>9.0} |         |         |        |       |       |",
        "    build + sign response loop, 2 threads",
        build_total / f64::from(ROUNDS)
    );
    let [a_get, a_post, b1_post, b2_get, b2_post, c, d_live] = &totals[..] else {
        unreachable!("seven cases")
    };
    let b2 = b2_get.rate().max(b2_post.rate()).max(1.0);
    let b1 = b1_post.rate().max(1.0);
    println!("\nratios:");
    println!(
        "  (a) GET / (b) = {:.1}x vs 1 openssl process, {:.1}x vs -multi 2; (a) POST / (b) = {:.1}x, {:.1}x   (goal >= 20x)",
        a_get.rate() / b1,
        a_get.rate() / b2,
        a_post.rate() / b1,
        a_post.rate() / b2,
    );
    println!(
        "  (c) / (b) = {:.1}x vs 1 process, {:.1}x vs -multi 2: the HTTP ceiling itself",
        c.rate() / b1,
        c.rate() / b2
    );
    println!(
        "  (a) GET / (c) = {:.0}%   (a) POST / (c) = {:.0}%   (goal >= 70%)",
        100.0 * a_get.rate() / c.rate(),
        100.0 * a_post.rate() / c.rate()
    );
    println!(
        "  (d) live / raw HSM = {:.0}%   (goal >= 80%)",
        100.0 * d_live.rate() / raw
    );
    // Per request, the CPU the whole exchange costs on this machine, where
    // the driver, the responder and SoftHSM share the same cores.
    let ok = d_live.ok.max(1) as f64;
    let live_us = d_live.cpu * 1e6 / ok;
    let driver_us = d_live.driver_cpu * 1e6 / ok;
    let raw_us = raw_cpu_us / f64::from(ROUNDS);
    if d_live.ok > 0 {
        println!(
            "  (d) CPU per live request {live_us:.0} µs (driver {driver_us:.0} µs, responder + SoftHSM {:.0} µs) vs {raw_us:.0} µs per raw signature",
            live_us - driver_us
        );
        println!(
            "  (d) normalised by CPU: live / raw = {:.0}% with the driver's CPU, {:.0}% without",
            100.0 * raw_us / live_us,
            100.0 * raw_us / (live_us - driver_us).max(1e-9)
        );
    }
    running.shutdown().await;
}
