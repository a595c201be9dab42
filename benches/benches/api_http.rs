//! End-to-end HTTP throughput of `POST /v1/validate` against a bare hyper
//! ceiling, with a small tokio load driver, everything on 127.0.0.1.
//!
//! - `bare`: a hyper http1 server answering every request with a fixed
//!   745-byte body (the ARCHITECTURE.md ceiling).
//! - `cached`: validation-api, the same P-256 chain every time (answered
//!   from the result cache).
//! - `fresh`: validation-api with the result cache off, cycling through
//!   2,000 distinct leaves: every request decodes and verifies the leaf
//!   signature (the intermediate's edge is cached).
//!
//! The driver keeps `CONNS` keep-alive connections busy for `DURATION`
//! per case; cases alternate over `ROUNDS` rounds; server and driver share
//! the machine's cores (two tokio runtimes of 2 workers each).
//!
//! `cargo bench -p benches --bench api_http`
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::{generate, more_leaves, KeyType};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const CONNS: usize = 32;
const DURATION: Duration = Duration::from_secs(2);
const ROUNDS: usize = 3;

fn b64(d: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(d)
}

async fn bare_server(listener: tokio::net::TcpListener) {
    static BODY: [u8; 745] = [b'x'; 745];
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        tcp.set_nodelay(true).ok();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(&BODY)))
                            .unwrap(),
                    )
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

/// Requests per second with `CONNS` connections for `DURATION`; bodies
/// taken round-robin from `bodies`.
async fn drive(addr: SocketAddr, path: &'static str, bodies: Arc<Vec<Bytes>>) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + DURATION;
    let mut tasks = Vec::new();
    for _ in 0..CONNS {
        let (done, next, bodies) = (done.clone(), next.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .unwrap();
            tokio::spawn(conn);
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize % bodies.len();
                let req = Request::post(path)
                    .header("host", "127.0.0.1")
                    .header("content-type", "application/json")
                    .body(Full::new(bodies[i].clone()))
                    .unwrap();
                let resp = send.send_request(req).await.unwrap();
                assert!(resp.status().is_success(), "{}", resp.status());
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                assert!(!body.is_empty());
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn start_api(
    root: &[u8],
    results: usize,
    rt: &tokio::runtime::Runtime,
) -> (tempfile::TempDir, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.der"), root).unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\n[auth]\nallow_anonymous = true\nanonymous_max_concurrent = 1024\n[cache]\nresults = {results}\n[crl_refresh]\nenabled = false\n[[tiers]]\nname = \"cnie\"\nlevel = \"high\"\nanchors = [\"root.der\"]\nrevocation = {{ methods = [], unavailable = \"soft-fail\" }}\n"
    );
    let cfg =
        validation_api::Config::from_toml(&text, &dir.path().join("x.toml"), dir.path()).unwrap();
    let svc = Arc::new(validation_api::Service::new(cfg).unwrap());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(validation_api::http::serve(
        listener,
        svc,
        std::future::pending(),
    ));
    (dir, addr)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let chain = generate(KeyType::P256, 1);
    let leaves = more_leaves(&chain, 2_000);
    let ica = b64(&chain.intermediate);
    let body = |leaf: &[u8]| {
        Bytes::from(
            serde_json::to_vec(&serde_json::json!({"leaf": b64(leaf), "intermediates": [ica]}))
                .unwrap(),
        )
    };
    let cached_bodies = Arc::new(vec![body(&chain.leaves[0])]);
    let fresh_bodies = Arc::new(leaves.iter().map(|l| body(l)).collect::<Vec<_>>());

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let driver_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bare = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let bare_addr = bare.local_addr().unwrap();
    server_rt.spawn(bare_server(bare));
    let (_d1, cached_addr) = start_api(&chain.root, 100_000, &server_rt);
    let (_d2, fresh_addr) = start_api(&chain.root, 0, &server_rt);

    let mut rows: Vec<(&str, Vec<f64>)> =
        vec![("bare", vec![]), ("cached", vec![]), ("fresh", vec![])];
    for _ in 0..ROUNDS {
        rows[0]
            .1
            .push(driver_rt.block_on(drive(bare_addr, "/", cached_bodies.clone())));
        rows[1].1.push(driver_rt.block_on(drive(
            cached_addr,
            "/v1/validate",
            cached_bodies.clone(),
        )));
        rows[2]
            .1
            .push(driver_rt.block_on(drive(fresh_addr, "/v1/validate", fresh_bodies.clone())));
    }
    println!("\n== HTTP /v1/validate on 127.0.0.1, {CONNS} keep-alive connections, {DURATION:?} per case, {ROUNDS} alternating rounds");
    let ratios: Vec<Vec<f64>> = (1..3)
        .map(|r| (0..ROUNDS).map(|x| rows[r].1[x] / rows[0].1[x]).collect())
        .collect();
    for (name, v) in &rows {
        println!(
            "{name:<8} {:>10.0} req/s (rounds: {v:.0?})",
            median(&mut v.clone())
        );
    }
    println!(
        "cached / bare  {:.0}%  (goal >= 50%)",
        100.0 * median(&mut ratios[0].clone())
    );
    println!(
        "fresh / bare   {:.0}%",
        100.0 * median(&mut ratios[1].clone())
    );
}
