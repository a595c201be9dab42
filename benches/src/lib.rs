//! Shared fixtures for the criterion benches and load drivers.
//!
//! Chains are made with the `openssl` command line (P-256 or RSA-2048), so
//! the benches measure pki-core against certificates from an independent
//! encoder.

use std::path::Path;
use std::process::Command;

/// DER certificates of a three-level hierarchy with many leaves.
#[derive(Debug)]
pub struct Chain {
    pub root: Vec<u8>,
    pub intermediate: Vec<u8>,
    pub leaves: Vec<Vec<u8>>,
}

/// Key type of a generated hierarchy.
#[derive(Debug, Clone, Copy)]
pub enum KeyType {
    P256,
    Rsa2048,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const CA_EXT: &str = "[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n";
const LEAF_EXT: &str = "[v3]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=email:citizen@example.ma\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n";

/// Generates root -> intermediate -> `leaves` end entities.
pub fn generate(key: KeyType, leaves: usize) -> Chain {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(d.join("ca.ext"), CA_EXT).expect("write");
    std::fs::write(d.join("leaf.ext"), LEAF_EXT).expect("write");
    let newkey: &[&str] = match key {
        KeyType::P256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        KeyType::Rsa2048 => &["-newkey", "rsa:2048"],
    };
    let req = |name: &str, subj: &str| {
        let mut a = vec!["req", "-new", "-nodes", "-subj", subj];
        a.extend_from_slice(newkey);
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        a.extend(["-keyout", &key, "-out", &csr]);
        openssl(d, &a);
    };
    let sign = |name: &str, issuer: Option<&str>, ext: &str, serial: usize| {
        let csr = format!("{name}.csr");
        let out = format!("{name}.der");
        let serial = format!("0x{:x}", 0x1000 + serial);
        let mut a = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            ext,
            "-extensions",
            "v3",
            "-set_serial",
            &serial,
            "-outform",
            "DER",
            "-out",
            &out,
        ];
        let (ic, ik, own);
        if let Some(i) = issuer {
            ic = format!("{i}.pem");
            ik = format!("{i}.key");
            a.extend(["-CA", &ic, "-CAkey", &ik]);
        } else {
            own = format!("{name}.key");
            a.extend(["-signkey", &own]);
        }
        openssl(d, &a);
        let pem = format!("{name}.pem");
        openssl(d, &["x509", "-inform", "DER", "-in", &out, "-out", &pem]);
        std::fs::read(d.join(&out)).expect("read cert")
    };
    req("root", "/C=MA/O=Bench/CN=Bench Root");
    let root = sign("root", None, "ca.ext", 0);
    req("ica", "/C=MA/O=Bench/CN=Bench CNIE CA");
    let intermediate = sign("ica", Some("root"), "ca.ext", 1);
    let mut out = Vec::with_capacity(leaves);
    for i in 0..leaves {
        let name = format!("leaf{i}");
        req(&name, &format!("/C=MA/CN=Citizen {i}"));
        out.push(sign(&name, Some("ica"), "leaf.ext", 2 + i));
    }
    Chain {
        root,
        intermediate,
        leaves: out,
    }
}
