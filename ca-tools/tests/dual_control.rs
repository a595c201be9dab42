//! Issue 18 item 4: dual control (M of N). Officers enrolled with an
//! X25519 key or a passphrase, the token PIN split 2-of-3 among them, and a
//! root ceremony that one share cannot unlock, two can, whose audit entries
//! name both officers; a wrong officer's key or passphrase is refused; an
//! officer row edited, deleted or inserted behind the store's back is named
//! by `pki audit verify`.

#![allow(clippy::unwrap_used)]

mod officer;

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::Output;

use officer::{example, Bed};
use serde_json::Value;

/// A bed with officers amina and youssef (X25519 keys) and karim
/// (passphrase), the token PIN split 2-of-3 among them into `shares/`.
struct Officers {
    bed: Bed,
}

const KARIM_PASSPHRASE: &str = "karim's long ceremony passphrase";

fn private(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

impl Officers {
    fn new() -> Self {
        let bed = Bed::new();
        for name in ["amina", "youssef"] {
            let key = format!("{name}.key");
            bed.ok(&["officer", "keygen", "--out", &key]);
            bed.ok(&[
                "officer",
                "add",
                name,
                "--public-key",
                &format!("{key}.pub"),
            ]);
        }
        private(&bed.path("karim.pass"), &format!("{KARIM_PASSPHRASE}\n"));
        bed.ok(&["officer", "add", "karim", "--passphrase-file", "karim.pass"]);
        let out = bed.ok(&[
            "officer",
            "split-pin",
            "--threshold",
            "2",
            "--officers",
            "amina,youssef,karim",
            "--out-dir",
            "shares",
            "--officer-passphrase-file",
            "karim=karim.pass",
        ]);
        assert!(out.contains("2-of-3"), "{out}");
        Self { bed }
    }

    fn share(name: &str) -> String {
        format!("shares/{name}.share")
    }

    /// `pki ARGS` with no single PIN anywhere: only the shares can unlock.
    fn run(&self, args: &[&str]) -> Output {
        self.bed
            .command(args)
            .env_remove("PKI_HSM_PIN")
            .output()
            .unwrap()
    }

    fn root(&self, officer_args: &[&str]) -> Output {
        let file = example("01-national-root.toml");
        let mut args = vec!["ceremony", "root", file.to_str().unwrap()];
        args.extend_from_slice(officer_args);
        self.run(&args)
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every audit entry, as `pki audit list --json` gives them.
fn entries(bed: &Bed) -> Vec<Value> {
    bed.ok(&["audit", "list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn officers_are_listed_with_their_credentials() {
    let o = Officers::new();
    let table = o.bed.ok(&["officer", "list"]);
    assert!(table.contains("NAME"), "{table}");
    assert!(table.contains("3 officer(s)"), "{table}");
    let list: Value = serde_json::from_str(&o.bed.ok(&["officer", "list", "--json"])).unwrap();
    let officers = list["officers"].as_array().unwrap();
    let names: Vec<&str> = officers
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["amina", "karim", "youssef"]);
    assert_eq!(officers[1]["credential_kind"], "argon2id");
    assert_eq!(officers[0]["credential_kind"], "x25519");
    assert_eq!(officers[0]["public_key"].as_str().unwrap().len(), 64);
    // The private key files are the officers' alone; share files too.
    for file in ["amina.key", "shares/amina.share", "shares/karim.share"] {
        let mode = std::fs::metadata(o.bed.path(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    // Enrolment and the split are in the audit log; the PIN is nowhere.
    let actions: Vec<String> = entries(&o.bed)
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "officer.add",
            "officer.add",
            "officer.add",
            "officer.split_pin"
        ]
    );
    for file in [
        "shares/amina.share",
        "shares/karim.share",
        "shares/youssef.share",
    ] {
        let share = std::fs::read_to_string(o.bed.path(file)).unwrap();
        assert!(!share.contains(officer::PIN), "{share}");
    }
    o.bed.ok(&["audit", "verify"]);
}

#[test]
fn two_of_three_ceremony_needs_two_shares_and_names_both_officers() {
    let o = Officers::new();
    let amina_share = Officers::share("amina");
    let karim_share = Officers::share("karim");

    // One share: refused before the HSM is touched, naming who is missing.
    let out = o.root(&[
        "--officer-share",
        &amina_share,
        "--officer-key",
        "amina.key",
    ]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("needs 2 of the officers amina, karim, youssef present, only amina presented a valid share; missing 1 more of: karim, youssef"),
        "{said}"
    );
    assert!(said.contains("the HSM was not touched"), "{said}");
    assert!(!o.bed.path("root.pem").exists());

    // Without shares and without the single PIN: nothing to log in with.
    let out = o.root(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // Two shares, an X25519 officer and a passphrase officer: done.
    let out = o.root(&[
        "--officer-share",
        &amina_share,
        "--officer-key",
        "amina.key",
        "--officer-share",
        &karim_share,
        "--officer-passphrase-file",
        "karim=karim.pass",
    ]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("2-of-3 officers present: amina, karim"),
        "{said}"
    );
    assert!(o.bed.path("root.pem").exists());

    // The ceremony's entries name both officers.
    let entries = entries(&o.bed);
    let ceremony: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "ca.create" || e["action"] == "certificate.issue")
        .collect();
    assert_eq!(ceremony.len(), 2, "{entries:?}");
    for entry in ceremony {
        let extra = &entry["details"]["extra"];
        assert_eq!(extra["pin_mode"], "2-of-3 officers", "{entry}");
        assert_eq!(
            extra["officers"],
            serde_json::json!(["amina", "karim"]),
            "{entry}"
        );
    }
    o.bed.ok(&["audit", "verify"]);

    // The single-PIN mode still works, and says it is the demo's.
    o.bed.ceremony("intermediate", "02-cnie-citizen-ca.toml");
    let last = entries_of(&o.bed, "ca.create").pop().unwrap();
    assert_eq!(last["details"]["extra"]["pin_mode"], "single (demo)");

    // Revoking a CA certificate takes the quorum too.
    let serial = officer::openssl_out(&[
        "x509",
        "-in",
        o.bed.path("cnie-ca.pem").to_str().unwrap(),
        "-noout",
        "-serial",
    ]);
    let serial = serial.trim().trim_start_matches("serial=").to_owned();
    let revoke = |shares: &[&str]| {
        let mut args = vec![
            "revoke",
            "--ca",
            "national-root",
            "--serial",
            &serial,
            "--reason",
            "cessationOfOperation",
        ];
        args.extend_from_slice(shares);
        o.run(&args)
    };
    let out = revoke(&[
        "--officer-share",
        &karim_share,
        "--officer-passphrase-file",
        "karim=karim.pass",
    ]);
    assert!(
        text(&out).contains("missing 1 more of: amina, youssef"),
        "{}",
        text(&out)
    );
    let youssef_share = Officers::share("youssef");
    let out = revoke(&[
        "--officer-share",
        &karim_share,
        "--officer-passphrase-file",
        "karim=karim.pass",
        "--officer-share",
        &youssef_share,
        "--officer-key",
        "youssef.key",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let revoked = entries_of(&o.bed, "certificate.revoke").pop().unwrap();
    assert_eq!(
        revoked["details"]["extra"]["officers"],
        serde_json::json!(["karim", "youssef"])
    );
    assert_eq!(revoked["details"]["extra"]["ca_certificate"], true);
}

fn entries_of(bed: &Bed, action: &str) -> Vec<Value> {
    entries(bed)
        .into_iter()
        .filter(|e| e["action"] == action)
        .collect()
}

#[test]
fn a_wrong_officers_key_or_passphrase_is_refused() {
    let o = Officers::new();
    let (amina, youssef, karim) = (
        Officers::share("amina"),
        Officers::share("youssef"),
        Officers::share("karim"),
    );

    // Amina's share with Youssef's key.
    let out = o.root(&[
        "--officer-share",
        &amina,
        "--officer-key",
        "youssef.key",
        "--officer-share",
        &youssef,
        "--officer-key",
        "youssef.key",
    ]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("the share of officer \"amina\" (shares/amina.share) was not accepted: no --officer-key FILE given matches this officer's enrolled public key"),
        "{said}"
    );

    // Karim's share with a wrong passphrase.
    private(&o.bed.path("wrong.pass"), "not karim's passphrase at all");
    let out = o.root(&[
        "--officer-share",
        &karim,
        "--officer-passphrase-file",
        "karim=wrong.pass",
        "--officer-share",
        &youssef,
        "--officer-key",
        "youssef.key",
    ]);
    let said = text(&out);
    assert!(
        said.contains("the share of officer \"karim\" (shares/karim.share) was not accepted: wrong passphrase"),
        "{said}"
    );

    // Youssef's share file relabelled as Amina's: the sealed header no
    // longer matches, and Amina's key does not open it.
    let forged = std::fs::read_to_string(o.bed.path(&youssef))
        .unwrap()
        .replace("\"officer\": \"youssef\"", "\"officer\": \"amina\"");
    std::fs::write(o.bed.path("forged.share"), forged).unwrap();
    let out = o.root(&[
        "--officer-share",
        "forged.share",
        "--officer-key",
        "amina.key",
        "--officer-share",
        &karim,
        "--officer-passphrase-file",
        "karim=karim.pass",
    ]);
    let said = text(&out);
    assert!(
        said.contains("was not accepted: it does not open with this officer's key or passphrase"),
        "{said}"
    );
    assert!(!o.bed.path("root.pem").exists());
}

/// Runs SQL on the bed's SQLite database, as a tamperer would.
fn tamper(bed: &Bed, sql: &str) -> u64 {
    let db: PathBuf = bed.path("var/pki.db");
    Bed::runtime().block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let n = sqlx::query(sql)
            .execute(&mut c)
            .await
            .unwrap()
            .rows_affected();
        c.close().await.unwrap();
        n
    })
}

#[test]
fn officer_rows_edited_deleted_or_inserted_are_named_by_audit_verify() {
    let o = Officers::new();
    let verify = o.bed.ok(&["audit", "verify"]);
    assert!(verify.contains("rows intact: 3 rows"), "{verify}");

    // Youssef's key swapped for an impostor's.
    let n = tamper(
        &o.bed,
        "UPDATE officers SET credential = (SELECT credential FROM officers WHERE name = 'amina') \
         WHERE name = 'youssef'",
    );
    assert_eq!(n, 1);
    let out = o.bed.fails(&["audit", "verify"]);
    assert!(out.contains("audit log intact"), "{out}");
    assert!(
        out.contains("officers row, officer \"youssef\": credential is "),
        "{out}"
    );
    assert!(out.contains("(audit entry 2)"), "{out}");

    // Deleted.
    tamper(&o.bed, "DELETE FROM officers WHERE name = 'youssef'");
    let out = o.bed.fails(&["audit", "verify"]);
    assert!(
        out.contains("officers row, officer \"youssef\": audit entry 2 wrote this row; it is gone from the table"),
        "{out}"
    );

    // Inserted behind the log's back.
    tamper(
        &o.bed,
        "INSERT INTO officers (name, credential_kind, credential, enrolled_at) \
         SELECT 'mallory', credential_kind, credential, enrolled_at FROM officers WHERE name = 'amina'",
    );
    let out = o.bed.fails(&["audit", "verify"]);
    assert!(
        out.contains("officers row, officer \"mallory\": no audit entry wrote this row"),
        "{out}"
    );
}

/// A CRL outside the schedule: signed with two officers' shares and no
/// single PIN, both its entries (the reservation and the CRL) name them;
/// one share publishes nothing.
#[test]
fn a_crl_outside_the_schedule_names_the_officers() {
    let o = Officers::new();
    o.bed.root_and_cnie();
    let crl = |shares: &[&str]| {
        let mut args = vec![
            "crl",
            "generate",
            "--ca",
            "cnie-citizen-ca",
            "--out",
            "cnie.crl",
        ];
        args.extend_from_slice(shares);
        o.run(&args)
    };
    let (amina, youssef) = (Officers::share("amina"), Officers::share("youssef"));
    let out = crl(&["--officer-share", &amina, "--officer-key", "amina.key"]);
    assert!(
        text(&out).contains("missing 1 more of: karim, youssef"),
        "{}",
        text(&out)
    );
    assert!(!o.bed.path("cnie.crl").exists());
    let out = crl(&[
        "--officer-share",
        &amina,
        "--officer-key",
        "amina.key",
        "--officer-share",
        &youssef,
        "--officer-key",
        "youssef.key",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let crl_entries: Vec<Value> = entries(&o.bed)
        .into_iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("crl."))
        .collect();
    assert_eq!(crl_entries.len(), 2, "{crl_entries:?}");
    for entry in &crl_entries {
        assert_eq!(
            entry["details"]["extra"]["pin_mode"], "2-of-3 officers",
            "{entry}"
        );
        assert_eq!(
            entry["details"]["extra"]["officers"],
            serde_json::json!(["amina", "youssef"]),
            "{entry}"
        );
    }
}

/// With `[hsm] require_officers = true` the single-PIN mode is refused for
/// CA-key operations, before the HSM is touched; shares still work.
#[test]
fn a_token_that_requires_officers_refuses_the_single_pin() {
    let o = Officers::new();
    let config = std::fs::read_to_string(example("pki.toml"))
        .unwrap()
        .replace("[hsm]\n", "[hsm]\nrequire_officers = true\n");
    std::fs::write(o.bed.path("strict.toml"), config).unwrap();
    let file = example("01-national-root.toml");
    let root = file.to_str().unwrap();
    // The single PIN is there, and refused.
    let out = o
        .bed
        .command(&["ceremony", "root", root])
        .env("PKI_CONFIG", o.bed.path("strict.toml"))
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("requires dual control ([hsm] require_officers)")
            && said.contains("the HSM was not touched"),
        "{said}"
    );
    assert!(!o.bed.path("root.pem").exists());
    let (amina, youssef) = (Officers::share("amina"), Officers::share("youssef"));
    let out = o
        .bed
        .command(&[
            "ceremony",
            "root",
            root,
            "--officer-share",
            &amina,
            "--officer-key",
            "amina.key",
            "--officer-share",
            &youssef,
            "--officer-key",
            "youssef.key",
        ])
        .env("PKI_CONFIG", o.bed.path("strict.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}
