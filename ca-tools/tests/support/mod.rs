//! A small test CA for the CLI tests: P-256 keys and certificates made with
//! the `openssl` command line (an independent implementation, so the
//! validator is not checked against its own encoder), with extensions given
//! as OpenSSL extension-config lines.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestCa {
    pub dir: tempfile::TempDir,
    serial: std::cell::Cell<u64>,
}

/// A certificate and its private key on disk.
#[derive(Clone)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub name: String,
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n";
pub const LEAF_EXT: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=DNS:citizen.example.ma,email:citizen@example.ma\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n";

impl TestCa {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            serial: std::cell::Cell::new(0x1000),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Issues `subject` (file stem `name`) signed by `issuer` (self-signed
    /// when `None`), valid for `days` days from now, with `ext` extension
    /// lines.
    pub fn issue(
        &self,
        name: &str,
        subject: &str,
        issuer: Option<&Issued>,
        days: u32,
        ext: &str,
    ) -> Issued {
        self.issue_md(name, subject, issuer, days, ext, "-sha256")
    }

    /// As [`TestCa::issue`], with the signature digest given as an openssl flag (`-sha1`, `-sha384`).
    pub fn issue_md(
        &self,
        name: &str,
        subject: &str,
        issuer: Option<&Issued>,
        days: u32,
        ext: &str,
        md: &str,
    ) -> Issued {
        let d = self.dir.path();
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let crt = format!("{name}.pem");
        let extf = format!("{name}.ext");
        std::fs::write(d.join(&extf), format!("[v3]\n{ext}")).expect("write ext");
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-subj",
                subject,
                "-out",
                &csr,
            ],
            d,
        );
        let serial = self.serial.get() + 1;
        self.serial.set(serial);
        let serial = format!("0x{serial:x}");
        let days = days.to_string();
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-days",
            &days,
            "-set_serial",
            &serial,
            "-extfile",
            &extf,
            "-extensions",
            "v3",
            md,
            "-out",
            &crt,
        ];
        let (ic, ik);
        match issuer {
            Some(i) => {
                ic = i.cert.to_string_lossy().into_owned();
                ik = i.key.to_string_lossy().into_owned();
                args.extend(["-CA", &ic, "-CAkey", &ik]);
            }
            None => args.extend(["-signkey", &key]),
        }
        openssl(&args, d);
        Issued {
            cert: d.join(crt),
            key: d.join(key),
            name: name.to_owned(),
        }
    }

    pub fn root(&self, name: &str) -> Issued {
        self.issue(
            name,
            &format!("/C=MA/O=Test PKI/CN={name}"),
            None,
            3650,
            CA_EXT,
        )
    }

    pub fn ca(&self, name: &str, issuer: &Issued, extra: &str) -> Issued {
        self.issue(
            name,
            &format!("/C=MA/O=Test PKI/CN={name}"),
            Some(issuer),
            1825,
            &format!("{CA_EXT}{extra}"),
        )
    }

    pub fn leaf(&self, name: &str, issuer: &Issued, ext: &str) -> Issued {
        self.issue(name, &format!("/C=MA/CN={name}"), Some(issuer), 365, ext)
    }

    /// A CRL from `issuer` revoking `revoked` (with `reason`), using
    /// `openssl ca` with a throwaway index.
    pub fn crl(
        &self,
        name: &str,
        issuer: &Issued,
        revoked: &[(&Issued, &str)],
        crl_ext: &str,
    ) -> PathBuf {
        let d = self.dir.path().join(format!("{name}.db"));
        std::fs::create_dir_all(&d).expect("db dir");
        std::fs::write(d.join("index.txt"), "").expect("index");
        std::fs::write(d.join("crlnumber"), "01\n").expect("crlnumber");
        let conf = format!(
            "[ca]\ndefault_ca=x\n[x]\ndatabase={db}/index.txt\ncrlnumber={db}/crlnumber\ndefault_md=sha256\ndefault_crl_days=7\ncrl_extensions=crlext\n[crlext]\nauthorityKeyIdentifier=keyid:always\n{crl_ext}\n",
            db = d.display()
        );
        let conf_path = d.join("ca.cnf");
        std::fs::write(&conf_path, conf).expect("conf");
        let cert = issuer.cert.to_string_lossy().into_owned();
        let key = issuer.key.to_string_lossy().into_owned();
        let conf_s = conf_path.to_string_lossy().into_owned();
        for (r, reason) in revoked {
            let rc = r.cert.to_string_lossy().into_owned();
            openssl(
                &[
                    "ca",
                    "-config",
                    &conf_s,
                    "-cert",
                    &cert,
                    "-keyfile",
                    &key,
                    "-revoke",
                    &rc,
                    "-crl_reason",
                    reason,
                ],
                &d,
            );
        }
        let out = self.path(&format!("{name}.crl"));
        let out_s = out.to_string_lossy().into_owned();
        openssl(
            &[
                "ca", "-config", &conf_s, "-cert", &cert, "-keyfile", &key, "-gencrl", "-out",
                &out_s,
            ],
            &d,
        );
        out
    }
}
