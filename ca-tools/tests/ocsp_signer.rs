//! The OCSP signer's life: the URL `pki issue` writes into certificates is
//! answered by the responder as written, and `pki ceremony ocsp-signer
//! --renew` issues the successor certificate on the same or a new key.
#![allow(clippy::unwrap_used)]

mod officer;

use std::path::{Path, PathBuf};
use std::process::Command;

use officer::{example, openssl_out, Bed};
use pki_core::Cert;

fn cert(path: &Path) -> Cert {
    let pem = std::fs::read(path).unwrap();
    let der = pki_core::pem::decode_all(&pem, "CERTIFICATE")
        .unwrap()
        .remove(0);
    Cert::from_der(&der).unwrap()
}

/// `openssl ARGS` in `dir`: (success, stdout + stderr).
fn openssl_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Issue 20 item 2: the AIA OCSP URL of a certificate from `pki issue`,
/// queried exactly as written (POST by `openssl ocsp -url`, and the RFC
/// 5019 GET under the same URL), reaches a responder configured with that
/// issuer's `path`. The host of the URL is the test's responder, reached
/// as an HTTP proxy, so the request line carries the URL itself.
#[test]
fn the_aia_ocsp_url_of_an_issued_certificate_is_answered_as_written() {
    let bed = Bed::new();
    bed.root_and_cnie();
    bed.ceremony("ocsp-signer", "05-ocsp-cnie-citizen-ca.toml");
    let (amina, _) = bed.citizen("amina", "Amina Citizen");
    let url = openssl_out(&[
        "x509",
        "-in",
        amina.to_str().unwrap(),
        "-noout",
        "-ocsp_uri",
    ]);
    let url = url.trim().to_owned();
    assert_eq!(url, "http://ocsp.pki.example.ma/cnie-citizen-ca");
    let path = &url[url["http://".len()..].find('/').unwrap() + "http://".len()..];

    std::fs::write(bed.path("pin"), officer::PIN).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(bed.path("pin"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::write(
        bed.path("ocsp.toml"),
        format!(
            r#"listen = "127.0.0.1:0"
database = "{store}"
[hsm]
token = "{token}"
pin_file = "pin"
[[issuer]]
ca = "cnie-citizen-ca"
key_label = "ocsp-cnie-citizen-ca-2026-01"
responder_cert = "ocsp-cnie-ca.pem"
path = "{path}"
"#,
            store = bed.store_url,
            token = bed.token,
        ),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ocsp_responder::Config::load(&bed.path("ocsp.toml")).unwrap();
    let running = rt
        .block_on(ocsp_responder::start_from_config(&config))
        .unwrap();
    let proxy = format!("127.0.0.1:{}", running.local_addr().port());
    let dir = bed.dir.path();

    // POST, as openssl sends it, to the URL as written.
    let (ok, text) = openssl_in(
        dir,
        &[
            "ocsp",
            "-issuer",
            "cnie-ca.pem",
            "-cert",
            "amina.pem",
            "-url",
            &url,
            "-proxy",
            &proxy,
            "-CAfile",
            "root.pem",
            "-verify_other",
            "cnie-ca.pem",
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains("amina.pem: good"), "{text}");

    // GET: the request base64 under the URL's path (RFC 5019 5).
    let (ok, text) = openssl_in(
        dir,
        &[
            "ocsp",
            "-issuer",
            "cnie-ca.pem",
            "-cert",
            "amina.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    );
    assert!(ok, "{text}");
    let (ok, b64) = openssl_in(dir, &["base64", "-A", "-in", "req.der"]);
    assert!(ok, "{b64}");
    let b64 = b64
        .trim()
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let get_url = format!("{url}/{b64}");
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--proxy", &format!("http://{proxy}"), "-o"])
        .arg(bed.path("resp.der"))
        .arg(&get_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GET {get_url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, text) = openssl_in(
        dir,
        &[
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "cnie-ca.pem",
            "-cert",
            "amina.pem",
            "-no_nonce",
            "-CAfile",
            "root.pem",
            "-verify_other",
            "cnie-ca.pem",
        ],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("Response verify OK") && text.contains("amina.pem: good"),
        "{text}"
    );

    // Under a path no issuer has, the GET is taken for base64 under the
    // root path and answered malformedRequest (what every GET to a
    // certificate's URL got before issuers had paths).
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--proxy"])
        .arg(format!("http://{proxy}"))
        .arg(format!("http://ocsp.pki.example.ma/organisations-ca/{b64}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    // OCSPResponse { responseStatus malformedRequest (1) }
    assert_eq!(out.stdout, [0x30, 0x03, 0x0a, 0x01, 0x01]);
    rt.block_on(running.shutdown());
}

fn kept_copies(bed: &Bed) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(bed.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("ocsp-cnie-ca.pem.")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn renew_issues_the_successor_on_the_same_or_a_new_key() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let file = example("05-ocsp-cnie-citizen-ca.toml");
    let file = file.to_str().unwrap();

    // Nothing to renew yet.
    let err = bed.fails(&["ceremony", "ocsp-signer", "--renew", file]);
    assert!(err.contains("cannot renew ocsp-cnie-ca.pem"), "{err}");

    bed.ceremony("ocsp-signer", "05-ocsp-cnie-citizen-ca.toml");
    let output = bed.path("ocsp-cnie-ca.pem");
    let first = cert(&output);
    let first_pem = std::fs::read(&output).unwrap();
    // Without --renew the file is never overwritten.
    let err = bed.fails(&["ceremony", "ocsp-signer", file]);
    assert!(err.contains("already exists"), "{err}");

    // Same key: the ceremony file's label is the certificate's key.
    let out = bed.ok(&["ceremony", "ocsp-signer", "--renew", file]);
    assert!(out.contains("on the same key"), "{out}");
    assert!(out.contains("already on the token"), "{out}");
    let second = cert(&output);
    assert_ne!(first.serial(), second.serial());
    assert_eq!(first.spki_der(), second.spki_der());
    assert!(second.not_after() >= first.not_after());
    let kept = kept_copies(&bed);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), first_pem);

    // A new key: a label not on the token yet.
    let renewed = bed.path("renew-new-key.toml");
    std::fs::write(
        &renewed,
        std::fs::read_to_string(file).unwrap().replace(
            "ocsp-cnie-citizen-ca-2026-01",
            "ocsp-cnie-citizen-ca-2026-02",
        ),
    )
    .unwrap();
    let out = bed.ok(&[
        "ceremony",
        "ocsp-signer",
        "--renew",
        renewed.to_str().unwrap(),
    ]);
    assert!(out.contains("on a new key"), "{out}");
    assert!(
        out.contains("generated P-256 key \"ocsp-cnie-citizen-ca-2026-02\""),
        "{out}"
    );
    let third = cert(&output);
    assert_ne!(third.spki_der(), second.spki_der());
    assert_eq!(third.issuer_der(), first.issuer_der());
    assert_eq!(kept_copies(&bed).len(), 2);

    // A label on the token that is not the certificate's key is refused:
    // renewing would silently change the key.
    let out = bed.fails(&["ceremony", "ocsp-signer", "--renew", file]);
    assert!(out.contains("is not this certificate's key"), "{out}");

    // Each renewal is recorded and the audit log holds.
    let out = bed.ok(&["audit", "verify"]);
    assert!(out.contains("audit log intact"), "{out}");
}
