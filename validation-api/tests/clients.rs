//! The integrators' clients of `examples/clients/` against the real
//! server: the Python one (`validate.py`, standard library only) and the
//! Rust one (`cargo run -p validation-api --example validate-client`)
//! print the verdict and exit 0 for a valid chain, 1 for a revoked
//! certificate, 2 for a refused request (wrong token), over HTTP and
//! HTTPS (the server's certificate checked against `--ca-file`).
//!
//! The Rust client is this package's example: `cargo test` and `cargo
//! nextest run` of the workspace build it; run alone, this test builds it
//! when it is missing or older than its source.
#![allow(clippy::unwrap_used)]

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Pki, Server, TOKEN};

const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/clients");

/// `target/<profile>/examples/validate-client`, built when missing or
/// older than its source.
fn rust_client() -> PathBuf {
    // This test runs as target/<profile>/deps/clients-<hash>.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let client = profile_dir.join("examples").join("validate-client");
    let source = Path::new(CLIENTS).join("validate.rs");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&client) < modified(&source) {
        let profile = profile_dir.file_name().unwrap().to_str().unwrap();
        let mut build = Command::new(env!("CARGO"));
        build.args([
            "build",
            "-p",
            "validation-api",
            "--example",
            "validate-client",
        ]);
        if profile != "debug" {
            build.args(["--profile", profile]);
        }
        let o = build.output().unwrap();
        assert!(
            o.status.success(),
            "cargo build --example validate-client:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    client
}

/// Files the clients read: the token (mode 600), the leaves as PEM and
/// the CA as DER, so both encodings are sent.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(pki: &Pki, token: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(dir.path().join("good.pem"), pki.good.cert_pem()).unwrap();
        std::fs::write(dir.path().join("revoked.pem"), pki.revoked.cert_pem()).unwrap();
        std::fs::write(dir.path().join("ca.der"), pki.ca.cert_der()).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
}

/// The same API over HTTPS, its certificate for `localhost` issued by a
/// root in `root_pem`.
struct TlsServer {
    running: validation_api::Running,
    root_pem: String,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    async fn start(pki: &Pki) -> Self {
        let root = pki_core::testing::TestCa::root("CN=API Server Root,C=MA");
        let server = root.leaf("CN=localhost", |t| {
            t.subject_alt_names = vec![pki_core::builder::GeneralNameSpec::dns("localhost")];
            t.extended_key_usage = vec![pki_core::oid::KP_SERVER_AUTH];
        });
        let dir = tempfile::tempdir().unwrap();
        pki.write(dir.path());
        std::fs::write(dir.path().join("server.pem"), server.cert_pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), server.key().pkcs8_pem()).unwrap();
        let root_pem = dir.path().join("server-root.pem");
        std::fs::write(&root_pem, root.cert_pem()).unwrap();
        let text = support::config_text("").replace(
            "[crl_refresh]",
            "[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\n[crl_refresh]",
        );
        let path = dir.path().join("api.toml");
        std::fs::write(&path, text).unwrap();
        let config = validation_api::Config::load(&path).unwrap();
        Self {
            running: validation_api::start_from_config(config).await.unwrap(),
            root_pem: root_pem.to_str().unwrap().to_owned(),
            _dir: dir,
        }
    }
}

/// The client's arguments for `leaf`, through the CNIE CA, at level high.
fn arguments(server: &Server, files: &Files, leaf: &str) -> Vec<String> {
    [
        "--url",
        &format!("http://{}", server.addr),
        "--token-file",
        &files.path("token"),
        "--leaf",
        &files.path(leaf),
        "--intermediate",
        &files.path("ca.der"),
        "--level",
        "high",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `client` (a command without the arguments) for each case and
/// checks the status and what it prints.
async fn check_client(name: &str, client: impl Fn() -> Command) {
    let pki = Pki::new(None);
    let server = Server::start(&pki, &support::config_text("")).await;
    let files = Files::new(&pki, TOKEN);
    let wrong = Files::new(&pki, "not-the-token");
    let run = |files: &Files, leaf: &str| {
        let args = arguments(&server, files, leaf);
        let mut cmd = client();
        cmd.args(&args);
        tokio::task::block_in_place(|| cmd.output())
            .unwrap_or_else(|e| panic!("cannot run the {name} client: {e}"))
    };

    let o = run(&files, "good.pem");
    assert_eq!(o.status.code(), Some(0), "{name}: {o:?}");
    let out = stdout(&o);
    assert!(
        out.starts_with("valid: tier cnie, level high\n"),
        "{name}: {out}"
    );
    assert!(
        out.contains("path: CN=Amina Good,C=MA <- CN=Test CNIE CA"),
        "{name}: {out}"
    );

    let o = run(&files, "revoked.pem");
    assert_eq!(o.status.code(), Some(1), "{name}: {o:?}");
    assert!(
        stdout(&o).starts_with("not valid: revoked: certificate 0 was revoked"),
        "{name}: {}",
        stdout(&o)
    );

    let o = run(&wrong, "good.pem");
    assert_eq!(o.status.code(), Some(2), "{name}: {o:?}");
    assert_eq!(
        stdout(&o),
        "refused: HTTP 401: unauthorized: missing or unknown bearer token\n",
        "{name}"
    );

    // Over HTTPS, the server's certificate checked against --ca-file.
    let tls = TlsServer::start(&pki).await;
    let mut args = arguments(&server, &files, "good.pem");
    args[1] = format!("https://localhost:{}", tls.running.local_addr().port());
    args.extend(["--ca-file".to_owned(), tls.root_pem.clone()]);
    let o = tokio::task::block_in_place(|| client().args(&args).output()).unwrap();
    assert_eq!(o.status.code(), Some(0), "{name}: {o:?}");
    assert!(stdout(&o).starts_with("valid: tier cnie, level high\n"));
    // ... and refused when it chains to no CA of --ca-file.
    let last = args.len() - 1;
    args[last] = files.path("good.pem");
    let o = tokio::task::block_in_place(|| client().args(&args).output()).unwrap();
    assert_eq!(o.status.code(), Some(2), "{name}: {o:?}");
    assert!(stdout(&o).is_empty(), "{name}: {o:?}");

    // The server saw the three requests the clients made.
    let (_, metrics) = server.client.get("/metrics", None).await;
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    assert_eq!(
        support::metric(
            &metrics,
            "validation_api_requests_total{route=\"/v1/validate\",status=\"200\"}"
        ),
        2,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    check_client("Python", || {
        let mut c = Command::new(&python);
        c.arg(Path::new(CLIENTS).join("validate.py"));
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_example() {
    let exe = tokio::task::block_in_place(rust_client);
    check_client("Rust", || Command::new(&exe)).await;
}
