//! The API contract: schemathesis (from PyPI, in a venv under `target/`)
//! runs against the real server's `/openapi.json` and must find no 5xx, no
//! answer outside the schema, and no disagreement between what the schema
//! allows and what the server accepts.
//!
//! The fields whose domain no JSON Schema can state (certificates, peer
//! name) are the committed exception list, in `tests/contract/hooks.py`.
//!
//! Needs `python3` with the `venv` module (Debian: `python3-venv`) and
//! access to PyPI (or a mirror set in `PIP_INDEX_URL`) the first time; the
//! venv is reused while it holds the pinned version.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use support::{Pki, Server, TOKEN};

/// The schemathesis release this contract is written against (4.x CLI).
const SCHEMATHESIS: &str = "4.32.5";

/// Test cases per operation and phase: enough to cover every field's
/// boundaries, small enough for about a minute on two cores.
const MAX_EXAMPLES: &str = "200";

/// Fixed, so a failure reproduces with the same command.
const SEED: &str = "20261207";

const INSTALL_HINT: &str = "install Python 3 with its venv module \
     (Debian/Ubuntu: apt-get install python3-venv, which `make deps-test` does)";

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}; {INSTALL_HINT}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `target/tmp/schemathesis-<version>/bin/schemathesis`, making the venv
/// when it is missing or holds another version.
fn schemathesis() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("schemathesis-{SCHEMATHESIS}"));
    let exe = venv.join("bin").join("schemathesis");
    let installed = || {
        Command::new(&exe)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success() && text(&o).contains(SCHEMATHESIS))
    };
    if installed() {
        return exe;
    }
    // A half-made venv (an interrupted install) is made again.
    let _ = std::fs::remove_dir_all(&venv);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let o = run(Command::new(&python).args(["-m", "venv"]).arg(&venv));
    assert!(
        o.status.success(),
        "`{python} -m venv {}` failed; {INSTALL_HINT}\n{}",
        venv.display(),
        text(&o)
    );
    let o = run(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--disable-pip-version-check",
        "--quiet",
        &format!("schemathesis=={SCHEMATHESIS}"),
    ]));
    assert!(
        o.status.success(),
        "pip could not install schemathesis {SCHEMATHESIS} from PyPI \
         (set PIP_INDEX_URL for a mirror)\n{}",
        text(&o)
    );
    assert!(
        installed(),
        "schemathesis {SCHEMATHESIS} not runnable after install"
    );
    exe
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_contract_holds_under_schemathesis() {
    let exe = tokio::task::spawn_blocking(schemathesis)
        .await
        .expect("venv setup");
    let pki = Pki::new(None);
    let server = Server::start(&pki, &support::config_text("")).await;
    let url = format!("http://{}/openapi.json", server.addr);
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract/hooks.py");
    // Reports and caches go to a temp dir, not the source tree.
    let work = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(&exe);
    cmd.current_dir(work.path())
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env("CONTRACT_LEAF", support::b64(pki.good.cert_der()))
        .env("CONTRACT_CA", support::b64(pki.ca.cert_der()))
        .env("CONTRACT_PEER_NAME", "amina@cnie.example.ma")
        .args(["--no-color", "run", &url])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance,\
             positive_data_acceptance,negative_data_rejection,missing_required_header,\
             unsupported_method,allow_header_conformance,ignored_auth",
        ])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--generation-database", "none", "--workers", "2"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--request-timeout", "30"]);
    let started = Instant::now();
    let o = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("schemathesis");
    let report = text(&o);
    println!(
        "schemathesis {SCHEMATHESIS} ran {:.1} s:\n{report}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        o.status.success(),
        "schemathesis found contract violations (exit {:?}); report above",
        o.status.code()
    );
    drop(server);
}
