//! Strict configuration: every bad file is refused with a message that
//! says what is wrong, and the binary refuses to start on it.

mod support;

use std::process::Command;

use support::{config_text, Pki};
use validation_api::Config;

/// Loads and starts a service (CRL files are checked against their
/// signers when the service starts).
fn load(pki: &Pki, text: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    pki.write(dir.path());
    std::fs::write(dir.path().join("foreign.crl"), pki.foreign_root.crl(|_| {})).expect("write");
    let p = dir.path().join("api.toml");
    std::fs::write(&p, text).expect("write");
    let c = Config::load(&p).map_err(|e| e.to_string())?;
    validation_api::Service::new(c.clone()).map_err(|e| e.to_string())?;
    Ok(c)
}

#[test]
fn good_config_loads() {
    let pki = Pki::new(None);
    let c = load(&pki, &config_text("")).unwrap();
    assert_eq!(c.tiers.len(), 3);
    assert_eq!(c.tiers[0].anchors.len(), 1);
    assert_eq!(c.tiers[0].crls.len(), 2);
    assert_eq!(c.auth.clients.len(), 2);
    assert_eq!(c.batch_max, 50);
}

#[test]
fn bad_configs_are_refused_with_a_reason() {
    let pki = Pki::new(None);
    let good = config_text("");
    let cases: Vec<(String, &str)> = vec![
        (config_text("surprise = true"), "unknown field `surprise`"),
        (good.replace("level = \"high\"", "level = \"high\"\ncolour = \"red\""), "unknown field `colour`"),
        (good.replace("root.pem", "nowhere.pem"), "nowhere.pem"),
        (good.replace("name = \"ttp\"", "name = \"cnie\""), "tier \"cnie\" is defined twice"),
        (good.replace("level = \"low\"", "level = \"medium\""), "not an assurance level"),
        (good.replace("\"2.16.504.99.1.1\" = \"high\"", "\"2.16.x\" = \"high\""), "is not an OID"),
        (good.replace("level = \"low\"\nanchors = [\"simple-root.pem\"]", "level = \"low\"\nanchors = [\"simple-root.pem\"]\npolicy_levels = { \"1.2.3\" = \"high\" }"), "above the tier level"),
        (good.replace("name = \"bank\"", "name = \"broker\""), "client \"broker\" is defined twice"),
        (good.replacen("token_sha256 = \"", "token_sha256 = \"zz", 1), "64 hex digits"),
        (good.replace("listen = \"127.0.0.1:0\"", "listen = \"somewhere\""), "invalid socket address"),
        (good.replace("unavailable = \"hard-fail\" }", "unavailable = \"maybe\" }"), "unknown variant"),
        (good.replace("anchors = [\"ttp-root.pem\"]", "anchors = []"), "tier \"ttp\" has no anchors"),
        (good.replace("anchors = [\"ttp-root.pem\"]", "anchors = [\"ca.crl\"]"), "ca.crl"),
        (good.replace("anchors = [\"ttp-root.pem\"]", "anchors = [\"root.pem\"]"), "already in tier"),
        (good.replace("batch_max = 50", "batch_max = 0"), "batch_max"),
        (good.replace("crls = [\"ca.crl\", \"root.crl\"]", "crls = [\"foreign.crl\"]"), "CRL issuer CN=Foreign Root"),
        (good.replace("crls = [\"ca.crl\", \"root.crl\"]", "crls = [\"root.pem\"]"), "root.pem"),
        (good.replace("enabled = false", "enabled = true\nurls = [\"https://x/\"]"), "not an http:// URL"),
        ({
            let start = good.find("[auth]").unwrap();
            let end = good.find("[crl_refresh]").unwrap();
            format!("{}{}", &good[..start], &good[end..])
        }, "allow_anonymous"),
    ];
    for (text, want) in cases {
        let err = load(&pki, &text).expect_err(want);
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
}

#[test]
fn binary_refuses_to_start_on_bad_config() {
    let pki = Pki::new(None);
    let dir = tempfile::tempdir().unwrap();
    pki.write(dir.path());
    let p = dir.path().join("api.toml");
    for (text, want) in [
        (config_text("bogus = 1"), "unknown field `bogus`"),
        (
            config_text("").replace("root.pem", "absent.pem"),
            "absent.pem",
        ),
        (
            config_text("").replace("name = \"ttp\"", "name = \"simple\""),
            "defined twice",
        ),
    ] {
        std::fs::write(&p, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_validation-api"))
            .arg("--config")
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("refusing to start") && err.contains(want),
            "{err}"
        );
    }
    std::fs::write(&p, config_text("")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_validation-api"))
        .args(["--check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The real binary: serves, reloads on SIGHUP (keeping the old config on
/// a bad file), stops on SIGTERM.
#[test]
fn binary_reloads_on_sighup() {
    use std::io::{BufRead, BufReader};
    let pki = Pki::new(None);
    let dir = tempfile::tempdir().unwrap();
    pki.write(dir.path());
    let p = dir.path().join("api.toml");
    // No file watching: only the signal reloads.
    let text = config_text("").replace("watch_seconds = 0.1", "watch_seconds = 0");
    std::fs::write(&p, &text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_validation-api"))
        .arg("--config")
        .arg(&p)
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
                if l.contains(needle) {
                    return l;
                }
            }
        }
        panic!("binary never logged {needle:?}");
    };
    let line = wait_for("listening on ");
    let addr: std::net::SocketAddr = line
        .rsplit("listening on ")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = support::Http::new(addr);
    let generation = || {
        rt.block_on(http.get_json("/v1/tiers", Some(support::TOKEN)))
            .1["generation"]
            .clone()
    };
    assert_eq!(generation(), 1);
    let hup = |pid: u32| {
        assert!(Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success());
    };
    std::fs::write(&p, text.replace("batch_max = 50", "batch_max = 40")).unwrap();
    hup(child.id());
    wait_for("configuration reloaded");
    assert_eq!(generation(), 2);
    std::fs::write(&p, "not = [valid toml").unwrap();
    hup(child.id());
    wait_for("reload rejected");
    assert_eq!(generation(), 2, "old config kept");
    let (st, v) = rt
        .block_on(http.post_json(
            "/v1/validate",
            Some(support::TOKEN),
            &pki.request(&pki.good),
        ))
        .into_status_and_body();
    assert_eq!(st, 200);
    assert_eq!(v["valid"], true);
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

trait StatusBody {
    fn into_status_and_body(self) -> (u16, serde_json::Value);
}

impl StatusBody for (http::StatusCode, http::HeaderMap, serde_json::Value) {
    fn into_status_and_body(self) -> (u16, serde_json::Value) {
        (self.0.as_u16(), self.2)
    }
}
