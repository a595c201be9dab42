//! Issue 18 items 1 and 3: the inventory commands (`pki ca`, `pki cert`,
//! `pki audit list|show`) as tables and as JSON, paging through more
//! certificates than a page, and the refusals: no store created behind an
//! officer's back, no schema migrated but by `pki store migrate`, an empty
//! audit log is not a pass, and no change without an actor.

#![allow(clippy::unwrap_used)]

mod officer;

use der::Encode;
use officer::{example, openssl_out, Bed};
use serde_json::Value;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `AB:CD:...` as `openssl x509 -text` prints serials.
fn with_colons(hex: &str) -> String {
    let hex = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex.to_owned()
    };
    hex.as_bytes()
        .chunks(2)
        .map(|p| std::str::from_utf8(p).unwrap())
        .collect::<Vec<_>>()
        .join(":")
        .to_lowercase()
}

#[test]
fn inventory_tables_and_json() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let (amina_pem, amina) = bed.citizen("amina", "Amina Citizen");
    let (_, youssef) = bed.citizen("youssef", "Youssef Citizen");
    let (_, salma) = bed.citizen("salma", "Salma Citizen");
    bed.ok(&[
        "revoke",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &youssef,
        "--reason",
        "keyCompromise",
    ]);
    bed.ok(&[
        "revoke",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &salma,
        "--reason",
        "certificateHold",
    ]);

    // pki ca list
    let out = bed.ok(&["ca", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("KEY LABEL"),
        "{out}"
    );
    assert!(lines[1].starts_with("national-root "), "{out}");
    assert!(
        lines[2].starts_with("cnie-citizen-ca ")
            && lines[2].contains("national-root")
            && lines[2].contains("cnie-citizen-ca-2026"),
        "{out}"
    );
    let cas = json_lines(&bed.ok(&["ca", "list", "--json"]));
    assert_eq!(cas.len(), 2);
    assert_eq!(cas[1]["name"], "cnie-citizen-ca");
    assert_eq!(cas[1]["parent"], "national-root");
    assert_eq!(cas[1]["certificates"]["issued"], 3);

    // pki ca show
    let out = bed.ok(&["ca", "show", "cnie-citizen-ca"]);
    assert!(out.contains("key label     cnie-citizen-ca-2026"), "{out}");
    assert!(
        out.contains("3 issued: 1 good, 1 revoked, 1 on hold"),
        "{out}"
    );
    assert!(
        out.contains("1. cnie-citizen-ca") && out.contains("2. national-root (root)"),
        "{out}"
    );
    assert!(out.contains("CRL number    0"), "{out}");
    let shown: Value =
        serde_json::from_str(&bed.ok(&["ca", "show", "cnie-citizen-ca", "--json"])).unwrap();
    assert_eq!(shown["certificates"]["good"], 1);
    assert_eq!(shown["certificates"]["revoked"], 1);
    assert_eq!(shown["certificates"]["hold"], 1);
    assert_eq!(shown["chain"][1]["name"], "national-root");
    assert!(shown["not_after"].as_str().unwrap().ends_with('Z'));
    let err = bed.fails(&["ca", "show", "no-such-ca"]);
    assert!(err.contains("no CA named \"no-such-ca\""), "{err}");

    // pki ca export: the same bytes as the ceremony wrote, then the chain.
    let pem = bed.ok(&["ca", "export", "cnie-citizen-ca"]);
    assert_eq!(
        pem,
        std::fs::read_to_string(bed.path("cnie-ca.pem")).unwrap()
    );
    let chain = bed.ok(&["ca", "export", "cnie-citizen-ca", "--chain"]);
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(chain.ends_with(&std::fs::read_to_string(bed.path("root.pem")).unwrap()));
    bed.ok(&[
        "ca",
        "export",
        "cnie-citizen-ca",
        "--chain",
        "--out",
        "chain.pem",
    ]);
    assert_eq!(
        std::fs::read_to_string(bed.path("chain.pem")).unwrap(),
        chain
    );
    let err = bed.fails(&["ca", "export", "national-root", "--out", "chain.pem"]);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(
        std::fs::read_to_string(bed.path("chain.pem")).unwrap(),
        chain
    );

    // pki cert list: a table sorted by serial, statuses, filters.
    let out = bed.ok(&["cert", "list", "--ca", "cnie-citizen-ca"]);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert!(out.starts_with("SERIAL"), "{out}");
    assert_eq!(rows.len(), 3, "{out}");
    let mut serials: Vec<String> = rows
        .iter()
        .map(|r| r.split_whitespace().next().unwrap().to_owned())
        .collect();
    let listed = serials.clone();
    serials.sort();
    assert_eq!(listed, serials, "listed in serial order");
    let row_of = |serial: &str| {
        *rows
            .iter()
            .find(|r| r.starts_with(serial))
            .unwrap_or_else(|| panic!("{serial} not in {out}"))
    };
    assert!(row_of(&amina).contains(" good ") && row_of(&amina).contains("CN=Amina Citizen"));
    assert!(row_of(&youssef).contains(" revoked "));
    assert!(row_of(&salma).contains(" hold "));
    let only = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["cert", "list", "--ca", "cnie-citizen-ca", "--json"];
        all.extend_from_slice(args);
        json_lines(&bed.ok(&all))
            .iter()
            .map(|v| v["serial"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(only(&["--status", "good"]), [amina.as_str()]);
    assert_eq!(only(&["--status", "revoked"]), [youssef.as_str()]);
    assert_eq!(only(&["--status", "hold"]), [salma.as_str()]);
    assert_eq!(
        only(&["--subject-contains", "amina citizen"]),
        [amina.as_str()]
    );
    assert_eq!(
        only(&["--subject-contains", "serialNumber=ID-salma"]),
        [salma.as_str()]
    );
    assert_eq!(only(&["--limit", "2"]).len(), 2);
    assert!(only(&["--issued-after", "2999-01-01T00:00:00Z"]).is_empty());
    assert_eq!(only(&["--issued-after", "2000-01-01T00:00:00Z"]).len(), 3);
    let err = bed.fails(&[
        "cert",
        "list",
        "--ca",
        "cnie-citizen-ca",
        "--issued-after",
        "yesterday",
    ]);
    assert!(
        err.contains("--issued-after") && err.contains("RFC 3339"),
        "{err}"
    );
    let rec = json_lines(&bed.ok(&[
        "cert",
        "list",
        "--ca",
        "cnie-citizen-ca",
        "--json",
        "--status",
        "revoked",
    ]));
    assert_eq!(rec[0]["reason"], "keyCompromise");
    assert_eq!(rec[0]["ca"], "cnie-citizen-ca");
    assert!(rec[0]["revoked_at"].as_str().unwrap().ends_with('Z'));
    // The root's certificate and the CNIE CA's are recorded under the root.
    let under_root = json_lines(&bed.ok(&["cert", "list", "--ca", "national-root", "--json"]));
    assert_eq!(under_root.len(), 2);
    let profiles: Vec<&str> = under_root
        .iter()
        .map(|v| v["profile"].as_str().unwrap())
        .collect();
    assert!(profiles.contains(&"root-ca"), "{under_root:?}");

    // pki cert show: by serial with colons, by fingerprint, by file.
    let out = bed.ok(&[
        "cert",
        "show",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &with_colons(&youssef),
    ]);
    assert!(
        out.contains(&format!("certificate {youssef} of CA \"cnie-citizen-ca\"")),
        "{out}"
    );
    assert!(
        out.contains("subject     serialNumber=ID-youssef") || out.contains("CN=Youssef Citizen"),
        "{out}"
    );
    assert!(out.contains("profile     cnie-auth"), "{out}");
    assert!(
        out.contains("status      revoked (keyCompromise) since 20"),
        "{out}"
    );
    assert!(
        out.contains("certificate.issue") && out.contains("certificate.revoke"),
        "{out}"
    );
    let subject = openssl_out(&[
        "x509",
        "-in",
        amina_pem.to_str().unwrap(),
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
    ]);
    let by_file: Value =
        serde_json::from_str(&bed.ok(&["cert", "show", amina_pem.to_str().unwrap(), "--json"]))
            .unwrap();
    assert_eq!(by_file["serial"], amina.as_str());
    assert_eq!(
        by_file["subject"].as_str().unwrap(),
        subject.trim().trim_start_matches("subject=")
    );
    assert_eq!(by_file["status"], "good");
    assert_eq!(by_file["audit"].as_array().unwrap().len(), 1);
    assert_eq!(by_file["audit"][0]["action"], "certificate.issue");
    assert_eq!(by_file["audit"][0]["actor"], "test-officer");
    let fp = by_file["sha256"].as_str().unwrap().to_owned();
    let by_fp: Value =
        serde_json::from_str(&bed.ok(&["cert", "show", "--sha256", &fp.to_uppercase(), "--json"]))
            .unwrap();
    assert_eq!(by_fp["serial"], amina.as_str());
    let held: Value = serde_json::from_str(&bed.ok(&[
        "cert",
        "show",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &salma,
        "--json",
    ]))
    .unwrap();
    assert_eq!(held["status"], "hold");
    assert_eq!(held["reason"], "certificateHold");
    let err = bed.fails(&[
        "cert",
        "show",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        "01:02",
    ]);
    assert!(
        err.contains("no certificate with serial 0102 of CA \"cnie-citizen-ca\""),
        "{err}"
    );
    let err = bed.fails(&["cert", "show", "--sha256", "abcd"]);
    assert!(err.contains("64 hexadecimal digits"), "{err}");
    officer::openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=Stranger",
            "-keyout",
            "stranger.key",
            "-out",
            "stranger.pem",
            "-days",
            "1",
        ],
        bed.dir.path(),
    );
    let err = bed.fails(&["cert", "show", "stranger.pem"]);
    assert!(
        err.contains("no certificate stranger.pem (SHA-256 ")
            && err.contains("is recorded in the store"),
        "{err}"
    );

    // Refusals name the CA and give times in RFC 3339.
    let err = bed.fails(&[
        "revoke",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &youssef,
        "--reason",
        "superseded",
    ]);
    assert!(
        err.contains(&format!(
            "serial {youssef} of CA \"cnie-citizen-ca\" is already revoked (keyCompromise) since 20"
        )) && err.trim_end().ends_with('Z'),
        "{err}"
    );
    let err = bed.fails(&["unhold", "--ca", "cnie-citizen-ca", "--serial", &amina]);
    assert!(
        err.contains(&format!(
            "serial {amina} of CA \"cnie-citizen-ca\" is not on hold"
        )),
        "{err}"
    );

    // pki audit list / show
    let out = bed.ok(&["audit", "list"]);
    assert!(out.starts_with("SEQ"), "{out}");
    // root: ca.create + its certificate; CNIE CA: its certificate + ca.create;
    // 3 citizens, a revocation and a hold.
    assert_eq!(out.lines().count(), 1 + 9, "{out}");
    assert!(
        out.contains("ca.create") && out.contains("ca=national-root"),
        "{out}"
    );
    let revokes =
        json_lines(&bed.ok(&["audit", "list", "--action", "certificate.revoke", "--json"]));
    assert_eq!(revokes.len(), 2);
    assert_eq!(revokes[0]["details"]["serial"], youssef.as_str());
    let certs = json_lines(&bed.ok(&["audit", "list", "--action", "certificate", "--json"]));
    assert_eq!(certs.len(), 7, "{certs:?}");
    assert!(json_lines(&bed.ok(&["audit", "list", "--action", "certif", "--json"])).is_empty());
    assert_eq!(
        json_lines(&bed.ok(&["audit", "list", "--actor", "test-officer", "--json"])).len(),
        9
    );
    assert!(json_lines(&bed.ok(&["audit", "list", "--actor", "mallory", "--json"])).is_empty());
    assert!(
        json_lines(&bed.ok(&["audit", "list", "--since", "2999-01-01T00:00:00Z", "--json"]))
            .is_empty()
    );
    assert_eq!(
        json_lines(&bed.ok(&["audit", "list", "--limit", "3", "--json"])).len(),
        3
    );
    let out = bed.ok(&["audit", "show", "1"]);
    assert!(
        out.contains("action    ca.create") && out.contains("matches the entry's contents"),
        "{out}"
    );
    assert!(out.contains("cas row of CA \"national-root\""), "{out}");
    let one: Value = serde_json::from_str(&bed.ok(&["audit", "show", "8", "--json"])).unwrap();
    assert_eq!(one["action"], "certificate.revoke");
    assert_eq!(one["hash_matches_contents"], true);
    let err = bed.fails(&["audit", "show", "99"]);
    assert!(
        err.contains("the audit log has no entry 99 (it has 9 entries)"),
        "{err}"
    );
}

/// More certificates than a page (1,000): listed whole, in order, each
/// once, and filters and limits that cross page boundaries.
#[test]
fn cert_list_pages_through_the_store() {
    const N: usize = 2_500;
    let bed = Bed::new();
    let rt = Bed::runtime();
    let mut expected: Vec<String> = rt.block_on(async {
        let store = store::Store::open_existing(&bed.store_url).await.unwrap();
        let subject = pki_core::builder::parse_name("CN=Paging CA,C=MA").unwrap();
        let ca = store
            .insert_ca(
                &store::NewCa {
                    name: "paging-ca".into(),
                    subject_der: subject.to_der().unwrap(),
                    cert_der: vec![0x30, 0],
                    key_label: "paging-ca-key".into(),
                    parent: None,
                    tier: None,
                },
                &store::AuditContext::new("test"),
            )
            .await
            .unwrap()
            .record
            .id;
        let now = time::OffsetDateTime::now_utc();
        let mut tx = store.begin().await.unwrap();
        let mut serials = Vec::new();
        for i in 0..N {
            let serial = tx.allocate_serial(ca).await.unwrap();
            let name = pki_core::builder::parse_name(&format!("CN=Citizen {i:05},C=MA")).unwrap();
            tx.record_certificate(
                &store::NewCertificate {
                    ca,
                    serial: serial.clone(),
                    subject_der: name.to_der().unwrap(),
                    not_before: now,
                    not_after: now + time::Duration::days(365),
                    der: format!("certificate {i}").into_bytes(),
                    profile: "cnie-auth".into(),
                },
                &store::AuditContext::new("test"),
            )
            .await
            .unwrap();
            serials.push(serial.to_hex());
        }
        tx.commit().await.unwrap();
        store.close().await;
        serials
    });
    expected.sort();

    let listed = json_lines(&bed.ok(&["cert", "list", "--ca", "paging-ca", "--json"]));
    let serials: Vec<String> = listed
        .iter()
        .map(|v| v["serial"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(serials.len(), N);
    assert_eq!(serials, expected, "every serial once, in order");

    let table = bed.ok(&["cert", "list", "--ca", "paging-ca"]);
    assert_eq!(table.lines().count(), N + 1);

    // A limit past the first page, and one inside it.
    let some = json_lines(&bed.ok(&[
        "cert",
        "list",
        "--ca",
        "paging-ca",
        "--json",
        "--limit",
        "1500",
    ]));
    assert_eq!(some.len(), 1500);
    assert_eq!(some[1499]["serial"].as_str().unwrap(), expected[1499]);
    // Subject filters, applied to every page: all of them, then 02000..02499.
    let matched = json_lines(&bed.ok(&[
        "cert",
        "list",
        "--ca",
        "paging-ca",
        "--json",
        "--subject-contains",
        "citizen 0",
    ]));
    assert_eq!(matched.len(), N);
    let few = json_lines(&bed.ok(&[
        "cert",
        "list",
        "--ca",
        "paging-ca",
        "--json",
        "--subject-contains",
        "Citizen 02",
    ]));
    assert_eq!(few.len(), 500);
    let few_limited = json_lines(&bed.ok(&[
        "cert",
        "list",
        "--ca",
        "paging-ca",
        "--json",
        "--subject-contains",
        "Citizen 02",
        "--limit",
        "7",
    ]));
    assert_eq!(few_limited.len(), 7);
    assert!(few_limited
        .iter()
        .all(|v| v["subject"].as_str().unwrap().contains("Citizen 02")));
    // Good certificates only: the same 2,500.
    assert_eq!(
        json_lines(&bed.ok(&[
            "cert",
            "list",
            "--ca",
            "paging-ca",
            "--json",
            "--status",
            "good"
        ]))
        .len(),
        N
    );
    // The audit log pages too: 1 CA + N certificates.
    assert_eq!(
        json_lines(&bed.ok(&["audit", "list", "--json"])).len(),
        N + 1
    );
    assert_eq!(
        json_lines(&bed.ok(&[
            "audit",
            "list",
            "--json",
            "--action",
            "certificate.issue",
            "--limit",
            "1200"
        ]))
        .len(),
        1200
    );
}

/// `pki ARGS` in `dir` with the given store URL and no actor unless given.
fn pki_at(dir: &std::path::Path, url: &str, actor: Option<&str>, args: &[&str]) -> (i32, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pki"));
    command
        .args(args)
        .current_dir(dir)
        .env("PKI_STORE_URL", url)
        .env_remove("PKI_ACTOR")
        .env_remove("PKI_CONFIG");
    if let Some(actor) = actor {
        command.env("PKI_ACTOR", actor);
    }
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Item 3: a mistyped store is an error, not a new database; `pki store
/// init` creates one (and needs an actor), once.
#[test]
fn no_store_is_created_behind_the_officers_back() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/vra/pki.db", dir.path().display());
    for args in [
        &["audit", "verify"][..],
        &["ca", "list"],
        &["cert", "list", "--ca", "x"],
        &["audit", "list"],
    ] {
        let (code, text) = pki_at(dir.path(), &url, Some("officer"), args);
        assert_eq!(code, 1, "{args:?}: {text}");
        assert!(
            text.contains(&format!("no store at {url}"))
                && text.contains(&format!("pki store init {url}")),
            "{args:?}: {text}"
        );
    }
    assert!(!dir.path().join("vra").exists(), "nothing was created");

    let (code, text) = pki_at(dir.path(), &url, None, &["store", "init"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("pass --actor NAME or set PKI_ACTOR"),
        "{text}"
    );
    assert!(!dir.path().join("vra").exists());

    let (code, text) = pki_at(
        dir.path(),
        "sqlite://elsewhere.db",
        Some("officer"),
        &["store", "init", &url],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("created the store at") && text.contains("audit entry 1"),
        "{text}"
    );
    assert!(dir.path().join("vra/pki.db").exists());
    assert!(
        !dir.path().join("elsewhere.db").exists(),
        "the argument wins"
    );
    let (code, text) = pki_at(dir.path(), &url, Some("officer"), &["store", "init"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("refusing to initialise") && text.contains("already a PKI store"),
        "{text}"
    );
    let (code, text) = pki_at(dir.path(), &url, None, &["audit", "verify"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("audit log intact: 1 entries"), "{text}");
    let (code, text) = pki_at(dir.path(), &url, None, &["audit", "list", "--json"]);
    assert_eq!(code, 0, "{text}");
    let entries = json_lines(&text);
    assert_eq!(entries[0]["action"], "store.init");
    assert_eq!(entries[0]["actor"], "officer");
    let (code, text) = pki_at(
        dir.path(),
        &url,
        Some("officer"),
        &["--actor", "second", "store", "migrate"],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("is up to date"), "{text}");

    // A file that is not a store is not made into one.
    std::fs::write(dir.path().join("notes.db"), b"").unwrap();
    let other = format!("sqlite://{}/notes.db", dir.path().display());
    let (code, text) = pki_at(dir.path(), &other, Some("officer"), &["ca", "list"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("is not a PKI store") && text.contains("pki store init"),
        "{text}"
    );
    let (code, text) = pki_at(dir.path(), &other, Some("officer"), &["store", "migrate"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("is not a PKI store"), "{text}");
}

/// Item 3: an empty audit log is said so, with exit status 1.
#[test]
fn audit_verify_on_an_empty_log_fails() {
    let bed = Bed::new();
    let out = bed.fails(&["audit", "verify"]);
    assert!(
        out.contains("audit log EMPTY") && out.contains("nothing to verify"),
        "{out}"
    );
}

/// Item 3: a schema older than the binary is refused, naming `pki store
/// migrate`, which brings it up to date and records that it did.
#[test]
fn an_older_schema_is_refused_until_migrated() {
    let dir = tempfile::tempdir().unwrap();
    // The store as an older pki left it: every migration but the last.
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/migrations");
    let mut files: Vec<_> = std::fs::read_dir(&migrations)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let old = dir.path().join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    for f in &files[..files.len() - 1] {
        std::fs::copy(f, old.join(f.file_name().unwrap())).unwrap();
    }
    let version = |p: &std::path::PathBuf| -> i64 {
        let name = p.file_name().unwrap().to_str().unwrap();
        name.split('_').next().unwrap().parse().unwrap()
    };
    let (have, need) = (
        version(&files[files.len() - 2]),
        version(&files[files.len() - 1]),
    );
    let url = format!("sqlite://{}/pki.db", dir.path().display());
    Bed::runtime().block_on(async {
        use sqlx::Connection;
        let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let mut c = sqlx::SqliteConnection::connect_with(&opts.create_if_missing(true))
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(old.as_path())
            .await
            .unwrap()
            .run(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });

    let expected = format!(
        "the store at {url} has schema migration {have}, this pki needs {need}: back the \
         database up, then run `pki store migrate {url}`"
    );
    for args in [
        &["ca", "list"][..],
        &["audit", "verify"],
        &[
            "revoke",
            "--ca",
            "x",
            "--serial",
            "01",
            "--reason",
            "superseded",
        ],
    ] {
        let (code, text) = pki_at(dir.path(), &url, Some("officer"), args);
        assert_eq!(code, 1, "{args:?}: {text}");
        assert!(text.contains(&expected), "{args:?}: {text}");
    }
    let (code, text) = pki_at(dir.path(), &url, None, &["store", "migrate"]);
    assert_eq!(code, 1);
    assert!(text.contains("PKI_ACTOR"), "{text}");
    let (code, text) = pki_at(
        dir.path(),
        &url,
        Some("officer"),
        &["store", "migrate", &url],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "from schema migration {have} to {need} (1 applied)"
        )),
        "{text}"
    );
    let (code, text) = pki_at(dir.path(), &url, None, &["audit", "list", "--json"]);
    assert_eq!(code, 0, "{text}");
    let entries = json_lines(&text);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["action"], "store.migrate");
    assert_eq!(entries[0]["details"]["to"], need);
    let (code, text) = pki_at(dir.path(), &url, None, &["audit", "verify"]);
    assert_eq!(code, 0, "{text}");
}

/// Item 3: every command that changes state needs an actor, asked before
/// anything is generated or written; reading and dry runs do not.
#[test]
fn state_changes_need_an_actor() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let (_, amina) = bed.citizen("amina", "Amina Citizen");
    let csr = bed.csr("nobody", "/C=MA/CN=Nobody");
    let csr = csr.to_str().unwrap();
    let root = example("01-national-root.toml");
    let ocsp = example("05-ocsp-cnie-citizen-ca.toml");
    let refused: [&[&str]; 5] = [
        &[
            "revoke",
            "--ca",
            "cnie-citizen-ca",
            "--serial",
            &amina,
            "--reason",
            "superseded",
        ],
        &[
            "issue",
            "--ca",
            "cnie-citizen-ca",
            "--profile",
            "cnie-auth",
            "--csr",
            csr,
            "--out",
            "n.pem",
        ],
        &[
            "crl",
            "generate",
            "--ca",
            "cnie-citizen-ca",
            "--out",
            "n.crl",
        ],
        &["ceremony", "ocsp-signer", ocsp.to_str().unwrap()],
        &["unhold", "--ca", "cnie-citizen-ca", "--serial", &amina],
    ];
    for args in refused {
        let out = bed.command(args).env_remove("PKI_ACTOR").output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert!(
            text.contains("pass --actor NAME or set PKI_ACTOR"),
            "{args:?}: {text}"
        );
    }
    // An empty actor is no actor.
    let out = bed
        .command(&[
            "revoke",
            "--ca",
            "cnie-citizen-ca",
            "--serial",
            &amina,
            "--reason",
            "superseded",
        ])
        .env("PKI_ACTOR", " ")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!bed.path("n.pem").exists() && !bed.path("n.crl").exists());
    assert!(
        !bed.path("ocsp-cnie-ca.pem").exists(),
        "no key generated, no file"
    );
    // Nothing was recorded: 4 entries for the 2 CAs, 1 for Amina.
    assert!(bed.ok(&["audit", "verify"]).contains("intact: 5 entries"));
    // Reading and dry runs need no actor; --actor works as well as the
    // variable.
    for args in [
        &["ca", "list"][..],
        &["cert", "list", "--ca", "cnie-citizen-ca"],
        &["audit", "verify"],
    ] {
        let out = bed.command(args).env_remove("PKI_ACTOR").output().unwrap();
        assert!(out.status.success(), "{args:?}");
    }
    let out = bed
        .command(&["ceremony", "root", root.to_str().unwrap(), "--dry-run"])
        .env_remove("PKI_ACTOR")
        .output()
        .unwrap();
    // (The root exists: the dry run's pre-flight refuses it, not the actor.)
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("PKI_ACTOR"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bed
        .command(&[
            "--actor",
            "officer-b",
            "revoke",
            "--ca",
            "cnie-citizen-ca",
            "--serial",
            &amina,
            "--reason",
            "superseded",
        ])
        .env_remove("PKI_ACTOR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = json_lines(&bed.ok(&["audit", "list", "--json", "--action", "certificate.revoke"]));
    assert_eq!(last[0]["actor"], "officer-b");
}
