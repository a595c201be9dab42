//! Distinguished names as officers type them, checked against OpenSSL:
//! what we encode from RFC 4514 text or the `/C=MA/...` form, OpenSSL
//! prints back (`-nameopt RFC2253,-esc_msb`) exactly as `format_dn` does.

use std::process::Command;

use pki_core::name::format_dn;
use pki_core::testing::{TestCa, TestCaOptions};
use pki_core::Cert;

fn openssl_subject(pem: &str) -> String {
    let dir = std::env::temp_dir().join(format!("pki-dn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!(
        "{:x}.pem",
        pki_core::cert::sha256(pem.as_bytes())[0]
    ));
    std::fs::write(&path, pem).expect("write");
    let out = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253,-esc_msb",
            "-in",
        ])
        .arg(&path)
        .output()
        .expect("openssl runs (make test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    text.trim_end()
        .strip_prefix("subject=")
        .expect("subject= line")
        .to_owned()
}

#[test]
fn names_round_trip_through_openssl() {
    for (typed, expected) in [
        (
            "CN=Amina El Idrissi,GN=Amina,SN=El Idrissi,serialNumber=IDCMA-AB123456,C=MA",
            "CN=Amina El Idrissi,GN=Amina,SN=El Idrissi,serialNumber=IDCMA-AB123456,C=MA",
        ),
        (
            "/C=MA/O=Banque Populaire/organizationIdentifier=NTRMA-000123/CN=BP Seal",
            "CN=BP Seal,organizationIdentifier=NTRMA-000123,O=Banque Populaire,C=MA",
        ),
        (
            "CN=Ré\\, Ahmed+UID=ahmed,OU=Cachet électronique,O=Agence,L=Rabat,ST=Rabat-Salé-Kénitra,C=MA",
            "UID=ahmed+CN=Ré\\, Ahmed,OU=Cachet électronique,O=Agence,L=Rabat,ST=Rabat-Salé-Kénitra,C=MA",
        ),
        (
            "emailAddress=pki@example.ma,title=Officer,pseudonym=PKI-1,street=1 Avenue Mohammed V,DC=example,DC=ma",
            "emailAddress=pki@example.ma,title=Officer,pseudonym=PKI-1,street=1 Avenue Mohammed V,DC=example,DC=ma",
        ),
    ] {
        let ca = TestCa::root_with(typed, TestCaOptions::default(), |_| {});
        let cert = Cert::from_der(ca.cert_der()).expect("decodes");
        assert_eq!(format_dn(cert.subject()), expected, "{typed}");
        assert_eq!(cert.subject_string(), expected);
        let theirs = openssl_subject(&ca.cert_pem());
        // A multi-valued RDN is a DER SET (sorted): both print it in the
        // reverse of that order, whatever order it was typed in.
        assert_eq!(theirs, expected, "OpenSSL reads {typed:?} as {theirs:?}");
    }
}
