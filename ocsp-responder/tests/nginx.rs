//! The nginx example of docs/deploy.md, as written there, in front of two
//! table-mode responders: a GET is fetched once and then served from the
//! proxy's cache (the same bytes as the responders' table), POST goes
//! through, and the cache keeps serving with both responders gone.
//!
//! Needs nginx (`apt-get install -y nginx`; `make test` installs it):
//! fails, never skips, when it is missing.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, get_ocsp, http, is_good, post_ocsp, Fixture};
use ocsp_responder::updater::{Updater, UpdaterSettings};
use ocsp_responder::{IssuerSetup, ResponseSource, Settings};
use pki_core::ocsp::HashAlgorithm;
use tokio::net::TcpListener;

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("nginx not found: apt-get install -y nginx (make test does)"))
}

/// The first ```nginx block of docs/deploy.md.
fn documented_config() -> String {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy.md"))
            .unwrap();
    let start = doc
        .find("```nginx\n")
        .expect("an nginx example in docs/deploy.md")
        + 9;
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_owned()
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_nginx_cache_in_front_of_two_responders() {
    let nginx = nginx_binary();
    let fx = Fixture::new("nginx").await;
    let setup = || {
        vec![IssuerSetup {
            ca_name: fx.ca_name.clone(),
            signer: Arc::new(fx.signer.clone()),
            responder_cert_der: Some(fx.responder_cert.clone()),
        }]
    };
    let settings = Settings {
        source: ResponseSource::Table,
        ..Fixture::settings()
    };
    let issuers = ocsp_responder::resolve_issuers(&fx.store, setup())
        .await
        .unwrap();
    let mut updater = Updater::new(
        fx.store.clone(),
        issuers,
        settings.clone(),
        UpdaterSettings::default(),
    );
    assert!(updater.hold_lease().await.unwrap());
    updater.round().await.unwrap();
    let mut responders = Vec::new();
    for _ in 0..2 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        responders.push(
            ocsp_responder::start_with(fx.store.clone(), setup(), settings.clone(), listener, None)
                .await
                .unwrap(),
        );
    }

    // The documented server block, pointed at this test's responders,
    // port and directories.
    let dir = fx.dir.join("nginx");
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    // nginx workers run as an unprivileged user when started as root.
    Command::new("chmod")
        .args(["-R", "777"])
        .arg(&dir)
        .status()
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = documented_config()
        .replace(
            "/var/cache/nginx/ocsp",
            &dir.join("cache").display().to_string(),
        )
        .replace("10.0.1.11:8080", &responders[0].local_addr().to_string())
        .replace("10.0.1.12:8080", &responders[1].local_addr().to_string())
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    assert!(
        server.contains(&responders[1].local_addr().to_string()),
        "{server}"
    );
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         {server}\n}}\n"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let check = Command::new(&nginx)
        .arg("-t")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _nginx = Nginx(
        Command::new(&nginx)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let proxy = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        eventually(Duration::from_secs(10), || async {
            tokio::net::TcpStream::connect(proxy).await.is_ok()
        })
        .await,
        "nginx not listening"
    );

    let request = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let first = get_ocsp(proxy, &request).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-cache-status"), Some("MISS"));
    assert!(is_good(&first.single_status(&fx)));
    let stored = fx
        .store
        .ocsp_response(
            fx.ca_id,
            store::CertIdHash::Sha1,
            &store::Serial::from_der_content(fx.good.serial()).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.body, stored.response.der, "the table's bytes");
    let second = get_ocsp(proxy, &request).await;
    assert_eq!(second.header("x-cache-status"), Some("HIT"));
    assert_eq!(second.body, first.body);
    // POST is not cached: it reaches a responder each time.
    let post = post_ocsp(proxy, &request).await;
    assert_eq!(post.status, 200);
    assert!(is_good(&post.single_status(&fx)));
    assert_ne!(post.header("x-cache-status"), Some("HIT"));
    // Health goes straight through.
    let ready = http(proxy, "GET", "/health/ready", &[], &[]).await;
    assert_eq!(ready.status, 200);

    // Both responders gone: the proxy still serves what it cached.
    for r in responders {
        r.shutdown().await;
    }
    let cached = get_ocsp(proxy, &request).await;
    assert_eq!(cached.status, 200);
    assert_eq!(cached.body, first.body);
}
