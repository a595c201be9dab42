//! Soak driver (`make soak`, `benches/soak/run.sh`): OCSP and validation
//! traffic on 127.0.0.1 against a running `ocsp-responder` and
//! `validation-api`, for `--secs` seconds, while certificates are revoked
//! and CRLs republished, and 500 idle connections per service are opened
//! and dropped every minute. Reports RSS at start, after warm-up and at the
//! end, error counts, and how long each revocation took to show in OCSP and
//! in validation. Exits 1 unless there were no errors, no missed
//! revocations and RSS did not grow by more than 5% after warm-up (the low
//! and the high of the first and the last whole idle-wave cycle).
//!
//! Loopback only, bounded in time: every loop stops at the deadline.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use pki_core::ocsp::verify::RequestOptions;
use pki_core::ocsp::{OcspRequest, VerifyOptions};
use pki_core::revocation::RevocationStatus;
use pki_core::{Cert, UnixTime};

struct Args {
    ocsp: SocketAddr,
    api: SocketAddr,
    api_token: String,
    api_pid: u32,
    ocsp_pid: u32,
    dir: PathBuf,
    pki: PathBuf,
    secs: u64,
    revoke_every: u64,
    ocsp_delay: Duration,
    api_delay: Duration,
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn need(name: &str) -> String {
    arg(name).unwrap_or_else(|| {
        eprintln!("soak: missing {name} (see benches/soak/run.sh)");
        std::process::exit(2)
    })
}

fn parse<T: std::str::FromStr>(name: &str) -> T {
    need(name).parse().unwrap_or_else(|_| {
        eprintln!("soak: bad value for {name}");
        std::process::exit(2)
    })
}

/// One keep-alive HTTP/1.1 connection, requests in sequence.
struct Http {
    addr: SocketAddr,
    conn: Option<TcpStream>,
}

impl Http {
    fn new(addr: SocketAddr) -> Self {
        Self { addr, conn: None }
    }

    /// POST `body`; returns (status, body). Reconnects once if the kept
    /// connection was closed by the server.
    fn post(
        &mut self,
        path: &str,
        ctype: &str,
        auth: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        for attempt in 0..2 {
            if self.conn.is_none() {
                let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                s.set_nodelay(true)?;
                self.conn = Some(s);
            }
            let result = self.exchange(path, ctype, auth, body);
            match result {
                Ok(r) => return Ok(r),
                Err(e) if attempt == 0 => {
                    self.conn = None;
                    let _ = e;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("two attempts")
    }

    fn exchange(
        &mut self,
        path: &str,
        ctype: &str,
        auth: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let s = self.conn.as_mut().ok_or(std::io::ErrorKind::NotConnected)?;
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some(t) = auth {
            let _ = write!(req, "Authorization: Bearer {t}\r\n");
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())?;
        s.write_all(body)?;
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        let header_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or(std::io::ErrorKind::InvalidData)?;
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or(std::io::ErrorKind::InvalidData)?;
        while buf.len() < header_end + len {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        if head.contains("connection: close") {
            self.conn = None;
        }
        Ok((status, buf[header_end..header_end + len].to_vec()))
    }
}

fn load_cert(path: &Path) -> Cert {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Cert::parse_many(&data)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .remove(0)
}

/// VmRSS of a process, in KiB.
/// Seconds from the start to the first idle wave, and between waves.
const fn start_to_wave() -> u64 {
    5
}
const WAVE_EVERY: u64 = 60;

/// Per whole wave cycle that starts after `warmup`: ((responder low,
/// high), (api low, high)) over its samples.
type Cycle = ((u64, u64), (u64, u64));

fn wave_cycles(rss: &[(u64, u64, u64)], warmup: u64, first: u64, every: u64) -> Vec<Cycle> {
    let last_sample = rss.last().map_or(0, |r| r.0);
    let mut out = Vec::new();
    let mut from = first;
    while from < warmup {
        from += every;
    }
    while from + every <= last_sample {
        let inside: Vec<_> = rss
            .iter()
            .filter(|(s, _, _)| *s >= from && *s < from + every)
            .collect();
        if !inside.is_empty() {
            let low_high = |f: fn(&&(u64, u64, u64)) -> u64| {
                let v: Vec<u64> = inside.iter().map(f).collect();
                (
                    v.iter().copied().min().unwrap_or(0),
                    v.iter().copied().max().unwrap_or(0),
                )
            };
            out.push((low_high(|r| r.1), low_high(|r| r.2)));
        }
        from += every;
    }
    out
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

#[derive(Default)]
struct Counters {
    ocsp_ok: AtomicU64,
    ocsp_err: AtomicU64,
    api_ok: AtomicU64,
    api_err: AtomicU64,
    idle_opened: AtomicU64,
}

/// The OCSP status of `cert` as the responder signs it now.
fn ocsp_status(http: &mut Http, cert: &Cert, issuer: &Cert) -> Result<RevocationStatus, String> {
    let req =
        OcspRequest::new(cert, issuer, &RequestOptions::default()).map_err(|e| e.to_string())?;
    let (status, body) = http
        .post("/", "application/ocsp-request", None, req.der())
        .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    let now = UnixTime::now();
    let v = req
        .verify_response(&body, cert, issuer, &VerifyOptions::at(now))
        .map_err(|e| e.to_string())?;
    Ok(v.revocation_status(now))
}

/// The API's verdict on `leaf`: `Ok(None)` valid, `Ok(Some(code))` invalid.
fn api_verdict(
    http: &mut Http,
    token: &str,
    leaf: &Cert,
    ca: &Cert,
) -> Result<Option<String>, String> {
    let b64 = |c: &Cert| base64::engine::general_purpose::STANDARD.encode(c.der());
    let body = format!(
        r#"{{"leaf":"{}","intermediates":["{}"],"purpose":"clientAuth"}}"#,
        b64(leaf),
        b64(ca)
    );
    let (status, body) = http
        .post(
            "/v1/validate",
            "application/json",
            Some(token),
            body.as_bytes(),
        )
        .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(if v["valid"] == true {
        None
    } else {
        Some(v["error"]["code"].as_str().unwrap_or("?").to_owned())
    })
}

fn run_pki(a: &Args, args: &[&str]) -> Result<(), String> {
    let out = Command::new(&a.pki)
        .args(args)
        .output()
        .map_err(|e| format!("pki: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "pki {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Polls `check` until it is true or `limit` passes; the time it took.
fn until(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn main() {
    let a = Arc::new(Args {
        ocsp: parse("--ocsp"),
        api: parse("--api"),
        api_token: need("--api-token"),
        api_pid: parse("--api-pid"),
        ocsp_pid: parse("--ocsp-pid"),
        dir: PathBuf::from(need("--dir")),
        pki: PathBuf::from(need("--pki")),
        secs: parse("--secs"),
        revoke_every: arg("--revoke-every")
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
        ocsp_delay: Duration::from_millis(
            arg("--ocsp-delay-ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(2000),
        ),
        api_delay: Duration::from_millis(
            arg("--api-delay-ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(5000),
        ),
    });
    let ca = Arc::new(load_cert(&a.dir.join("cnie-ca.pem")));
    let good = Arc::new(load_cert(&a.dir.join("citizen-good.pem")));
    let mut victims: Vec<(PathBuf, Cert)> = (1..10_000)
        .map(|i| a.dir.join(format!("soak-victim-{i}.pem")))
        .take_while(|p| p.exists())
        .map(|p| {
            let c = load_cert(&p);
            (p, c)
        })
        .collect();
    victims.reverse();
    let deadline = Instant::now() + Duration::from_secs(a.secs);
    let warmup = Duration::from_secs((a.secs / 5).clamp(10, 60));
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();

    // RSS: (seconds since start, responder KiB, API KiB).
    let start = Instant::now();
    let rss = Arc::new(Mutex::new(vec![(
        0u64,
        rss_kib(a.ocsp_pid),
        rss_kib(a.api_pid),
    )]));

    let mut threads = Vec::new();
    // Traffic: one OCSP and one API client, each about 100 requests/s.
    for kind in ["ocsp", "api"] {
        let (a, ca, good, stop, counters, errors) = (
            a.clone(),
            ca.clone(),
            good.clone(),
            stop.clone(),
            counters.clone(),
            errors.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut http = Http::new(if kind == "ocsp" { a.ocsp } else { a.api });
            while !stop.load(Ordering::Relaxed) {
                let result = if kind == "ocsp" {
                    ocsp_status(&mut http, &good, &ca).and_then(|s| match s {
                        RevocationStatus::Good { .. } => Ok(()),
                        other => Err(format!("good certificate answered {other:?}")),
                    })
                } else {
                    api_verdict(&mut http, &a.api_token, &good, &ca).and_then(|v| match v {
                        None => Ok(()),
                        Some(code) => Err(format!("good certificate invalid: {code}")),
                    })
                };
                let (ok, err) = if kind == "ocsp" {
                    (&counters.ocsp_ok, &counters.ocsp_err)
                } else {
                    (&counters.api_ok, &counters.api_err)
                };
                match result {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        errors
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(format!("{kind}: {e}"));
                        err.fetch_add(1, Ordering::Relaxed)
                    }
                };
                std::thread::sleep(Duration::from_millis(10));
            }
        }));
    }
    // Idle connections: 500 per service every minute, held 3 s, dropped.
    {
        let (a, stop, counters) = (a.clone(), stop.clone(), counters.clone());
        threads.push(std::thread::spawn(move || {
            let mut next = Instant::now() + Duration::from_secs(start_to_wave());
            while !stop.load(Ordering::Relaxed) {
                if Instant::now() >= next {
                    let mut held = Vec::with_capacity(1000);
                    for addr in [a.ocsp, a.api] {
                        for _ in 0..500 {
                            if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                            {
                                held.push(s);
                            }
                        }
                    }
                    counters
                        .idle_opened
                        .fetch_add(held.len() as u64, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_secs(3));
                    drop(held);
                    next += Duration::from_secs(WAVE_EVERY);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }));
    }
    // RSS sampler, every 5 s.
    {
        let (a, stop, rss) = (a.clone(), stop.clone(), rss.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(5));
                rss.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((
                        start.elapsed().as_secs(),
                        rss_kib(a.ocsp_pid),
                        rss_kib(a.api_pid),
                    ));
            }
        }));
    }

    // Revocations on this thread: revoke, wait for OCSP; republish the CRL,
    // SIGHUP the API, wait for validation.
    let mut revocations = Vec::new();
    let mut missed = Vec::new();
    let crl = a.dir.join("cnie-ca.crl");
    let (mut ohttp, mut ahttp) = (Http::new(a.ocsp), Http::new(a.api));
    let mut next = Instant::now() + Duration::from_secs(a.revoke_every.min(a.secs / 2).max(1));
    while Instant::now() < deadline {
        if Instant::now() < next {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        next += Duration::from_secs(a.revoke_every);
        let Some((path, victim)) = victims.pop() else {
            continue;
        };
        let serial = pki_core::cert::hex(victim.serial());
        if let Err(e) = run_pki(
            &a,
            &[
                "revoke",
                "--ca",
                "cnie-citizen-ca",
                "--serial",
                &serial,
                "--reason",
                "keyCompromise",
            ],
        ) {
            errors
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(e);
            continue;
        }
        let o = until(a.ocsp_delay, || {
            matches!(
                ocsp_status(&mut ohttp, &victim, &ca),
                Ok(RevocationStatus::Revoked { .. })
            )
        });
        let published = run_pki(
            &a,
            &[
                "crl",
                "generate",
                "--ca",
                "cnie-citizen-ca",
                "--out",
                crl.to_str().unwrap_or_default(),
            ],
        );
        let _ = Command::new("kill")
            .args(["-HUP", &a.api_pid.to_string()])
            .status();
        let v = published.ok().and_then(|()| {
            until(a.api_delay, || {
                matches!(api_verdict(&mut ahttp, &a.api_token, &victim, &ca), Ok(Some(code)) if code == "revoked")
            })
        });
        if o.is_none() || v.is_none() {
            missed.push(path.display().to_string());
        }
        revocations.push((serial, o, v));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let mut rss = rss
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    rss.push((
        start.elapsed().as_secs(),
        rss_kib(a.ocsp_pid),
        rss_kib(a.api_pid),
    ));

    // Report.
    let c = &counters;
    println!("soak: {} s, warm-up {} s", a.secs, warmup.as_secs());
    println!(
        "requests: ocsp {} ok / {} errors, validate {} ok / {} errors; idle connections opened {}",
        c.ocsp_ok.load(Ordering::Relaxed),
        c.ocsp_err.load(Ordering::Relaxed),
        c.api_ok.load(Ordering::Relaxed),
        c.api_err.load(Ordering::Relaxed),
        c.idle_opened.load(Ordering::Relaxed)
    );
    println!("rss curve (s: responder KiB, api KiB):");
    for (s, o, v) in &rss {
        println!("  {s:>5}: {o:>8} {v:>8}");
    }
    let at = |secs: u64| {
        rss.iter()
            .find(|(s, _, _)| *s >= secs)
            .copied()
            .unwrap_or(rss[rss.len() - 1])
    };
    let (first, warm, last) = (rss[0], at(warmup.as_secs()), rss[rss.len() - 1]);
    let growth = |w: u64, l: u64| {
        if w == 0 {
            0.0
        } else {
            (l as f64 - w as f64) * 100.0 / w as f64
        }
    };
    // RSS rises during each idle wave (1000 connections' buffers) and
    // falls back once the allocator returns them, so two single samples
    // compare a wave with a quiet moment. A leak raises the level the
    // process settles at and the peaks: compare the lowest and the highest
    // sample of the first whole wave cycle after warm-up with those of the
    // last whole cycle. Shorter runs compare the two samples.
    let cycles = wave_cycles(&rss, warmup.as_secs(), start_to_wave(), WAVE_EVERY);
    let (go, ga) = if let (Some(f), Some(l)) = (cycles.first(), cycles.last()) {
        if cycles.len() >= 2 {
            println!(
                "rss per idle-wave cycle (KiB, low..high): responder {}..{} -> {}..{}, api {}..{} -> {}..{}",
                f.0 .0, f.0 .1, l.0 .0, l.0 .1, f.1 .0, f.1 .1, l.1 .0, l.1 .1
            );
            (
                growth(f.0 .0, l.0 .0).max(growth(f.0 .1, l.0 .1)),
                growth(f.1 .0, l.1 .0).max(growth(f.1 .1, l.1 .1)),
            )
        } else {
            (growth(warm.1, last.1), growth(warm.2, last.2))
        }
    } else {
        (growth(warm.1, last.1), growth(warm.2, last.2))
    };
    println!(
        "rss responder: start {} KiB, after warm-up {} KiB, end {} KiB ({go:+.1}% growth after warm-up)",
        first.1, warm.1, last.1
    );
    println!(
        "rss api:       start {} KiB, after warm-up {} KiB, end {} KiB ({ga:+.1}% growth after warm-up)",
        first.2, warm.2, last.2
    );
    println!(
        "revocations: {} (OCSP within {:?}, validation within {:?})",
        revocations.len(),
        a.ocsp_delay,
        a.api_delay
    );
    for (serial, o, v) in &revocations {
        println!("  {serial}: ocsp {o:?}, validation {v:?}");
    }
    let errors = errors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for e in errors.iter().take(20) {
        println!("error: {e}");
    }
    // Flat means no growth beyond 5%: memory handed back is fine.
    let ok = errors.is_empty() && missed.is_empty() && go <= 5.0 && ga <= 5.0;
    println!(
        "soak: {} errors, {} missed revocations, rss after warm-up {go:+.1}% / {ga:+.1}%: {}",
        errors.len(),
        missed.len(),
        if ok { "PASS" } else { "FAIL" }
    );
    std::process::exit(i32::from(!ok));
}

#[cfg(test)]
mod tests {
    use super::wave_cycles;

    #[test]
    fn cycles_start_after_warm_up_and_cover_whole_waves() {
        // Samples every 5 s; a wave at 5, 65, 125 s raises the level.
        let rss: Vec<(u64, u64, u64)> = (0..=26)
            .map(|i| {
                let s = i * 5;
                let wave = (s + 55) % 60 < 20;
                (s, if wave { 24_000 } else { 20_000 } + s, 10_000)
            })
            .collect();
        let cycles = wave_cycles(&rss, 50, 5, 60);
        // [65, 125) is whole and after warm-up; [125, 185) is not whole.
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert_eq!(cycles[0].0 .0, 20_000 + 85);
        assert_eq!(cycles[0].0 .1, 24_000 + 80);
        assert_eq!(cycles[0].1, (10_000, 10_000));
    }
}
