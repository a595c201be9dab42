//! `pki issue --batch`: card personalisation (issue 18 item 5). A batch
//! killed halfway and run again issues every line exactly once; bad lines
//! are reported in place without stopping the batch; an edited index is
//! caught.

#![allow(clippy::unwrap_used)]

mod officer;

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use officer::{openssl, Bed};
use sqlx::Connection as _;

const CA: &str = "cnie-citizen-ca";
const PROFILE: &str = "cnie-auth";

/// A P-256 public key (PEM) made by openssl in the bed.
fn public_key(bed: &Bed, name: &str) -> String {
    let key = bed.path(&format!("{name}.key"));
    let public = bed.path(&format!("{name}.pub"));
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            key.to_str().unwrap(),
        ],
        bed.dir.path(),
    );
    openssl(
        &[
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ],
        bed.dir.path(),
    );
    std::fs::read_to_string(public).unwrap()
}

fn request(n: usize, key: &str) -> serde_json::Value {
    serde_json::json!({
        "id": format!("card-{n:05}"),
        "subject": format!("/C=MA/serialNumber=ID-{n:05}/CN=Citizen {n}"),
        "public_key": key,
        "san": [format!("email:citizen{n}@cnie.example.ma")],
    })
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut file = std::fs::File::create(path).unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
}

fn read_output(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count_certificates(bed: &Bed) -> i64 {
    Bed::runtime().block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&bed.store_url)
            .await
            .unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM certificates")
            .fetch_one(&mut c)
            .await
            .unwrap()
    })
}

fn tamper(bed: &Bed, sql: &str) {
    Bed::runtime().block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&bed.store_url)
            .await
            .unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    });
}

/// The subject CN of a PEM certificate.
fn common_name(pem: &str) -> String {
    let der = &pki_core::pem::decode_all(pem.as_bytes(), "CERTIFICATE").unwrap()[0];
    let cert = pki_core::Cert::from_der(der).unwrap();
    cert.subject_string()
}

fn batch_args<'a>(input: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "issue",
        "--ca",
        CA,
        "--profile",
        PROFILE,
        "--batch",
        input,
        "--out",
        out,
    ]
}

#[test]
fn a_batch_killed_halfway_then_run_again_issues_every_line_exactly_once() {
    const LINES: usize = 10_000;
    let bed = Bed::new();
    bed.root_and_cnie();
    let key = public_key(&bed, "card");
    let lines: Vec<String> = (0..LINES).map(|n| request(n, &key).to_string()).collect();
    let input = bed.path("cards.jsonl");
    write_lines(&input, &lines);
    let before = count_certificates(&bed);
    let (input_s, out1, out2, out3) = (
        input.to_str().unwrap(),
        bed.path("out1.jsonl"),
        bed.path("out2.jsonl"),
        bed.path("out3.jsonl"),
    );

    // First run, killed once some chunks are recorded.
    let mut args = batch_args(input_s, out1.to_str().unwrap());
    args.extend(["--chunk", "200"]);
    let mut child = bed.command(&args).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let n = count_certificates(&bed) - before;
        if n >= (LINES / 3) as i64 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the batch ended before it could be killed ({n} recorded)"
        );
        assert!(Instant::now() < deadline, "the batch made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let recorded = count_certificates(&bed) - before;
    assert!(
        recorded > 0 && recorded < LINES as i64,
        "killed halfway: {recorded} of {LINES} recorded"
    );
    assert!(!out1.exists(), "a killed batch publishes no output");

    // Run again: the rest is issued, what was recorded is given again.
    let run = bed.pki(&batch_args(input_s, out2.to_str().unwrap()));
    let report = String::from_utf8_lossy(&run.stdout).into_owned();
    if !run.status.success() {
        let failed = read_output(&out2)
            .into_iter()
            .find(|l| l["status"] == "failed");
        panic!(
            "the second run failed: {report}{}\nfirst failed line: {failed:?}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    assert!(
        report.contains(&format!(
            "{LINES} line(s), {} issued, {recorded} already issued, 0 failed",
            LINES as i64 - recorded
        )),
        "{report}"
    );
    assert_eq!(count_certificates(&bed) - before, LINES as i64);
    let out = read_output(&out2);
    assert_eq!(out.len(), LINES);
    let mut serials = std::collections::HashSet::new();
    let mut already = 0;
    for (n, line) in out.iter().enumerate() {
        assert_eq!(line["line"], n + 1, "{line}");
        assert_eq!(line["id"], format!("card-{n:05}"));
        match line["status"].as_str().unwrap() {
            "issued" => {}
            "already_issued" => already += 1,
            other => panic!("line {}: {other}: {line}", n + 1),
        }
        assert!(serials.insert(line["serial"].as_str().unwrap().to_owned()));
        if n % 997 == 0 {
            let cn = common_name(line["certificate"].as_str().unwrap());
            assert!(cn.contains(&format!("CN=Citizen {n}")), "{cn}");
        }
    }
    assert_eq!(already, recorded);

    // A third run issues nothing and gives the same certificates.
    let report = bed.ok(&batch_args(input_s, out3.to_str().unwrap()));
    assert!(
        report.contains(&format!("0 issued, {LINES} already issued")),
        "{report}"
    );
    let again = read_output(&out3);
    for (a, b) in out.iter().zip(&again) {
        assert_eq!(a["serial"], b["serial"]);
        assert_eq!(a["certificate"], b["certificate"]);
    }
    assert_eq!(count_certificates(&bed) - before, LINES as i64);
    let verify = bed.ok(&["audit", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
}

#[test]
fn bad_lines_are_reported_in_place_and_the_batch_goes_on() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let key = public_key(&bed, "card");
    // A CSR as base64 DER, and one whose signature was altered.
    let csr = bed.csr("csr-card", "/C=MA/serialNumber=ID-CSR/CN=Csr Citizen");
    let pem = std::fs::read_to_string(&csr).unwrap();
    let der = &pki_core::pem::decode_all(pem.as_bytes(), "CERTIFICATE REQUEST").unwrap()[0];
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut bad_sig = der.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 1;
    let bad_b64 = base64::engine::general_purpose::STANDARD.encode(&bad_sig);
    let lines = vec![
        request(1, &key).to_string(),
        "{not json".to_owned(),
        serde_json::json!({"id": "x", "csr": b64, "colour": "blue"}).to_string(),
        serde_json::json!({"id": "csr", "csr": b64, "san": ["email:csr@cnie.example.ma"]})
            .to_string(),
        String::new(),
        serde_json::json!({"id": "bad-sig", "csr": bad_b64}).to_string(),
        request(1, &key).to_string(),
        serde_json::json!({"id": "no-key", "subject": "/C=MA/CN=Nobody"}).to_string(),
        format!("{{\"id\": \"{}\"}}", "x".repeat(70 * 1024)),
        request(2, &key).to_string(),
    ];
    let input = bed.path("mixed.jsonl");
    write_lines(&input, &lines);
    let out = bed.path("mixed-out.jsonl");
    let text = bed.fails(&batch_args(input.to_str().unwrap(), out.to_str().unwrap()));
    assert!(text.contains("6 of 9 batch line(s) failed"), "{text}");
    let out = read_output(&out);
    let status: Vec<(u64, &str)> = out
        .iter()
        .map(|l| (l["line"].as_u64().unwrap(), l["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        status,
        [
            (1, "issued"),
            (2, "failed"),
            (3, "failed"),
            (4, "issued"),
            (6, "failed"),
            (7, "failed"),
            (8, "failed"),
            (9, "failed"),
            (10, "issued"),
        ]
    );
    let error = |i: usize| out[i]["error"].as_str().unwrap().to_owned();
    assert!(error(1).contains("not a request"), "{}", error(1));
    assert!(error(2).contains("colour"), "{}", error(2));
    assert!(error(4).contains("signature"), "{}", error(4));
    assert!(error(5).contains("same request as line 1"), "{}", error(5));
    assert!(error(6).contains("public_key"), "{}", error(6));
    assert!(error(7).contains("longer than"), "{}", error(7));
    assert_eq!(out[3]["id"], "csr");
    let cn = common_name(out[3]["certificate"].as_str().unwrap());
    assert!(cn.contains("Csr Citizen"), "{cn}");

    // The index points request 2 at request 1's certificate: caught.
    tamper(
        &bed,
        "UPDATE issuance_requests SET serial = (SELECT serial FROM issuance_requests \
         WHERE rowid = (SELECT MIN(rowid) FROM issuance_requests)) \
         WHERE rowid = (SELECT MAX(rowid) FROM issuance_requests)",
    );
    let input = bed.path("again.jsonl");
    write_lines(&input, &[request(2, &key).to_string()]);
    let out = bed.path("again-out.jsonl");
    bed.fails(&batch_args(input.to_str().unwrap(), out.to_str().unwrap()));
    let out = read_output(&out);
    assert!(
        out[0]["error"]
            .as_str()
            .unwrap()
            .contains("the index was edited"),
        "{}",
        out[0]
    );
}
