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
//!    against the raw loop (goal >= 80%);
//! 3. `ocsp-responder` (the release binary, table mode, a cache of
//!    `SCALE_CACHE` entries, default min(N, 1M)) from spawn to `/health/ready`
//!    (goal <= 5 s at 10M);
//! 4. requests per second, 16 keep-alive connections: cached-only (1,000
//!    hot serials, warmed), Zipf over N (s = 1.1; the hot set fits the
//!    cache, warmed by one pass over the draws) and uniform over N (most requests read PostgreSQL); goals:
//!    Zipf >= 90% and uniform >= 25% of cached-only;
//! 5. responder RSS once its cache holds `min(N, SCALE_CACHE)` entries
//!    against the bytes of those responses (goal <= 1.25x + 100 MB);
//! 6. revocation to visible on two responders: 50 revocations on the
//!    primary, each polled on both until `revoked`; p50/p99 (goal p99
//!    <= 2 s).
//!
//! Figures are printed as a table; nothing is asserted on time.
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

use base64::Engine as _;
use bytes::Bytes;
use der::{Decode, Encode};
use hsm::cryptoki::mechanism::Mechanism;
use hsm::cryptoki::object::{Attribute, ObjectClass};
use hsm::cryptoki::session::UserType;
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
    let der = build_request(&[id], None).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!(
        "/{}",
        b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    )
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

fn successful(body: &[u8]) -> bool {
    if body.len() < 8 || body[0] != 0x30 {
        return false;
    }
    let h = if body[1] < 0x80 {
        2
    } else {
        2 + usize::from(body[1] & 0x7f)
    };
    body.get(h..h + 3) == Some(&[0x0a, 0x01, 0x00])
}

struct Load {
    ok: u64,
    errors: u64,
    secs: f64,
    p99_ms: f64,
}

/// `CONNS` keep-alive connections sending `paths` round-robin for
/// `duration`, or until `max` requests were sent.
async fn drive(addr: SocketAddr, paths: Arc<Vec<String>>, duration: Duration, max: u64) -> Load {
    let started = Instant::now();
    let end = Instant::now() + duration;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONNS {
        let (paths, next) = (Arc::clone(&paths), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
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
                    let n = n as usize;
                    let req = hyper::Request::get(paths[n % paths.len()].as_str())
                        .header("host", "scale")
                        .body(Empty::<Bytes>::new())
                        .unwrap();
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
                    if status == 200 && successful(&body.to_bytes()) {
                        ok += 1;
                        lat.push(t0.elapsed().as_micros() as u32);
                    } else {
                        errors += 1;
                    }
                }
            }
            (ok, errors, lat)
        }));
    }
    let (mut ok, mut errors, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let (o, e, l) = t.await.unwrap();
        ok += o;
        errors += e;
        lat.extend(l);
    }
    lat.sort_unstable();
    let p99_ms = lat
        .get(lat.len().saturating_sub(1) * 99 / 100)
        .map_or(0.0, |v| f64::from(*v) / 1000.0);
    Load {
        ok,
        errors,
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

fn raw_sign_rate(softhsm: &SoftHsm, key_id: &[u8], threads: usize, duration: Duration) -> f64 {
    let pkcs11 = softhsm.hsm().pkcs11();
    let slot = pkcs11
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| pkcs11.get_token_info(*s).is_ok_and(|t| t.label() == TOKEN))
        .unwrap();
    let total = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let total = &total;
            scope.spawn(move || {
                let session = pkcs11.open_ro_session(slot).unwrap();
                let _ = session.login(
                    UserType::User,
                    Some(&hsm::cryptoki::types::AuthPin::new(PIN.into())),
                );
                let key = session
                    .find_objects(&[
                        Attribute::Class(ObjectClass::PRIVATE_KEY),
                        Attribute::Id(key_id.to_vec()),
                    ])
                    .unwrap()[0];
                let tbs = [0x5au8; 300];
                let end = Instant::now() + duration;
                let mut n = 0;
                while Instant::now() < end {
                    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &tbs);
                    std::hint::black_box(
                        session.sign(&Mechanism::Ecdsa, key, hash.as_ref()).unwrap(),
                    );
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    total.load(Ordering::Relaxed) as f64 / duration.as_secs_f64()
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

    // 2. Raw HSM, then the updater.
    let raw = tokio::task::block_in_place(|| {
        raw_sign_rate(&softhsm, key.id.as_bytes(), 2, Duration::from_secs(5))
    });
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
    let t = Instant::now();
    let round = updater.round().await.unwrap();
    let sign_secs = t.elapsed().as_secs_f64();
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
    let (a, ready_a) = spawn_responder(&bin, &config, dir.path(), "a").await;
    let hashes = IssuerHashes::from_certificate_der(ca.cert_der()).unwrap();

    // 4. Load: cached-only, Zipf, uniform.
    let hot: Arc<Vec<String>> = Arc::new(
        (0..1000u64)
            .map(|i| path_of(&hashes, i * (n / 1000).max(1)))
            .collect(),
    );
    drive(a.addr, Arc::clone(&hot), Duration::from_secs(2), u64::MAX).await;
    let secs = Duration::from_secs(env_u64("SCALE_LOAD_SECS", 10));
    let cached = drive(a.addr, hot, secs, u64::MAX).await;
    let draws = 400_000;
    let zipf: Arc<Vec<String>> = Arc::new(
        zipf_draws(n, 1.1, draws)
            .into_iter()
            .map(|i| path_of(&hashes, i))
            .collect(),
    );
    // Steady state: the Zipf mix's hot set read from the table once.
    drive(
        a.addr,
        Arc::clone(&zipf),
        Duration::from_secs(60),
        draws as u64,
    )
    .await;
    let zipf_load = drive(a.addr, zipf, secs, u64::MAX).await;
    let uniform: Arc<Vec<String>> = Arc::new(
        uniform_draws(n, draws)
            .into_iter()
            .map(|i| path_of(&hashes, i))
            .collect(),
    );
    let uniform_load = drive(a.addr, uniform, secs, u64::MAX).await;

    // 5. RSS with the cache full: every serial once (bounded at 30 min).
    let fill_to = n.min(cache);
    let rss_before = rss_kib(a.child.id());
    let t = Instant::now();
    let all: Arc<Vec<String>> = Arc::new((0..fill_to).map(|i| path_of(&hashes, i)).collect());
    let fill = drive(
        a.addr,
        all,
        Duration::from_secs(env_u64("SCALE_FILL_SECS", 1800)),
        fill_to,
    )
    .await;
    let metrics = String::from_utf8(get(a.addr, "/metrics").await.unwrap().1.to_vec()).unwrap();
    let entries: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ocsp_cache_entries ")?.parse().ok())
        .unwrap_or(0.0);
    let rss = rss_kib(a.child.id());
    let cached_bytes = entries * avg_der;
    println!(
        "cache fill: {} requests in {:.0} s ({:.0}/s), {entries:.0} entries",
        fill.ok,
        t.elapsed().as_secs_f64(),
        fill.rate()
    );

    // 6. Revocation to visible on two responders.
    let (b, ready_b) = spawn_responder(&bin, &config, dir.path(), "b").await;
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
    let pct = |p: usize| visible[(visible.len() - 1) * p / 100];

    println!("\n== results (N = {n})");
    println!("raw SoftHSM C_Sign, 2 threads      {raw:>10.0} /s");
    println!(
        "updater signing into the table     {updater_rate:>10.0} /s   {:.0}% of raw (goal >= 80%)   {} responses in {sign_secs:.1} s",
        updater_rate * 100.0 / raw,
        round.total()
    );
    println!("updater audit check of the CA      {vouch_secs:>10.1} s");
    println!(
        "response table                     {:>10.1} MB  ({avg_der:.0} B per response)",
        table_bytes as f64 / 1e6
    );
    println!(
        "responder start to ready           {:>10.2} s   (a), {:.2} s (b)  (goal <= 5 s at 10M)",
        ready_a.as_secs_f64(),
        ready_b.as_secs_f64()
    );
    println!(
        "cached-only (1,000 hot serials)    {:>10.0} /s   p99 {:.2} ms, {} errors",
        cached.rate(),
        cached.p99_ms,
        cached.errors
    );
    println!(
        "Zipf s=1.1 over N                  {:>10.0} /s   {:.0}% of cached-only (goal >= 90%), p99 {:.2} ms, {} errors",
        zipf_load.rate(),
        zipf_load.rate() * 100.0 / cached.rate(),
        zipf_load.p99_ms,
        zipf_load.errors
    );
    println!(
        "uniform over N                     {:>10.0} /s   {:.0}% of cached-only (goal >= 25%), p99 {:.2} ms, {} errors",
        uniform_load.rate(),
        uniform_load.rate() * 100.0 / cached.rate(),
        uniform_load.p99_ms,
        uniform_load.errors
    );
    println!(
        "responder RSS, {entries:.0} cached         {:>10.1} MB   cached response bytes {:.1} MB; limit 1.25x + 100 MB = {:.1} MB (before fill {:.1} MB)",
        rss as f64 / 1024.0,
        cached_bytes / 1e6,
        (cached_bytes * 1.25 + 100e6) / 1e6,
        rss_before as f64 / 1024.0
    );
    println!(
        "revocation to visible, 2 responders p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {} (goal p99 <= 2000 ms)",
        pct(50),
        pct(99),
        visible[visible.len() - 1],
        visible.len()
    );
    drop(a);
    drop(b);
    store.close().await;
}
