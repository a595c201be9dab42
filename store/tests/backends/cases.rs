//! The suite itself: each case gets a fresh, empty store.

use std::collections::HashSet;
use std::time::Instant;

use serde_json::json;
use sqlx::Connection as _;
use store::{
    AuditContext, AuditError, AuditRecord, Backend, Ca, CaId, CertStatus, ChainBreak, ChangeKind,
    CrlKind, ImportedRevocation, NewCa, NewCertificate, NewCrl, RevocationQuery, RevocationReason,
    RevocationRequest, Serial, Store, StoreError,
};
use time::OffsetDateTime;

use crate::Ctx;

fn officer() -> AuditContext {
    AuditContext::new("officer:amina")
}

async fn make_ca(store: &Store, name: &str, parent: Option<CaId>) -> Ca {
    let cert = format!("certificate of {name}").into_bytes();
    store
        .insert_ca(
            &NewCa {
                name: name.into(),
                subject_der: format!("subject {name}").into_bytes(),
                cert_der: cert,
                key_label: format!("{name}-key"),
                parent,
                tier: Some("cnie".into()),
            },
            &officer(),
        )
        .await
        .unwrap()
        .record
}

fn new_cert(ca: CaId, serial: &Serial) -> NewCertificate {
    let now = OffsetDateTime::now_utc();
    NewCertificate {
        ca,
        serial: serial.clone(),
        subject_der: b"subject".to_vec(),
        not_before: now,
        not_after: now + time::Duration::days(365),
        der: format!("certificate {ca} {serial}").into_bytes(),
        profile: "cnie-auth".into(),
    }
}

async fn issue(store: &Store, ca: CaId) -> Serial {
    let serial = store.allocate_serial(ca).await.unwrap();
    store
        .record_certificate(&new_cert(ca, &serial), &officer().with_input([7; 32]))
        .await
        .unwrap();
    serial
}

fn revocation(ca: CaId, serial: &Serial, reason: RevocationReason) -> RevocationRequest {
    RevocationRequest::new(ca, serial.clone(), reason)
}

fn audit_record(i: usize) -> AuditRecord {
    AuditRecord {
        actor: format!("writer-{}", i % 2),
        action: "test.append".into(),
        inputs_sha256: vec![store::sha256(&i.to_be_bytes())],
        outputs_sha256: vec![],
        details: json!({ "i": i }),
    }
}

pub async fn open_creates_and_migrates_idempotently(ctx: Ctx) {
    if ctx.backend == Backend::Sqlite {
        let path = ctx.url.trim_start_matches("sqlite://");
        assert!(std::path::Path::new(path).is_file(), "{path} not created");
        let mut c = sqlx::SqliteConnection::connect(&ctx.url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
    let ca = make_ca(&ctx.store, "root", None).await;
    // Opening again re-runs the migrator: nothing to do, data kept.
    let again = ctx.reopen().await;
    assert_eq!(again.ca("root").await.unwrap(), Some(ca));
    assert_eq!(again.backend(), ctx.backend);
    assert!(matches!(
        Store::open("mysql://u:pw@h/db").await,
        Err(StoreError::UnsupportedUrl { url }) if !url.contains("pw")
    ));
}

pub async fn cas_insert_get_list(ctx: Ctx) {
    let s = &ctx.store;
    let root = make_ca(s, "national-root", None).await;
    let cnie = make_ca(s, "cnie-citizen-ca", Some(root.id)).await;
    assert_eq!(cnie.parent, Some(root.id));
    assert_eq!(
        cnie.cert_sha256,
        store::sha256(b"certificate of cnie-citizen-ca")
    );
    assert_eq!(s.ca("cnie-citizen-ca").await.unwrap().as_ref(), Some(&cnie));
    assert_eq!(s.ca_by_id(root.id).await.unwrap().as_ref(), Some(&root));
    assert_eq!(s.ca("nope").await.unwrap(), None);
    assert!(matches!(
        s.require_ca("nope").await,
        Err(StoreError::UnknownCaName { .. })
    ));
    assert_eq!(s.cas().await.unwrap(), vec![root.clone(), cnie]);

    let mut dup = NewCa {
        name: "national-root".into(),
        subject_der: vec![],
        cert_der: b"other".to_vec(),
        key_label: "fresh-label".into(),
        parent: None,
        tier: None,
    };
    assert!(matches!(
        s.insert_ca(&dup, &officer()).await,
        Err(StoreError::CaNameTaken { .. })
    ));
    dup.name = "other".into();
    dup.key_label = "national-root-key".into();
    assert!(matches!(
        s.insert_ca(&dup, &officer()).await,
        Err(StoreError::KeyLabelTaken { .. })
    ));
    dup.key_label = "fresh-label".into();
    dup.parent = Some(CaId(999));
    assert!(matches!(
        s.insert_ca(&dup, &officer()).await,
        Err(StoreError::UnknownCa(CaId(999)))
    ));
    assert_eq!(s.cas().await.unwrap().len(), 2, "failed inserts left rows");
}

pub async fn serials_unique_random_and_reserved(ctx: Ctx) {
    const N: usize = 4000;
    let ca = make_ca(&ctx.store, "ca", None).await.id;
    let other = make_ca(&ctx.store, "other", None).await.id;
    let mut tx = ctx.store.begin().await.unwrap();
    let mut serials = Vec::with_capacity(N);
    for _ in 0..N {
        serials.push(tx.allocate_serial(ca).await.unwrap());
    }
    // Reserved: neither this CA can get them again...
    assert!(!tx.reserve_serial(ca, &serials[0]).await.unwrap());
    // ...while uniqueness is per issuer.
    assert!(tx.reserve_serial(other, &serials[0]).await.unwrap());
    tx.commit().await.unwrap();

    let distinct: HashSet<_> = serials.iter().collect();
    assert_eq!(distinct.len(), N);
    let mut ones = [0usize; 128];
    for s in &serials {
        let b = s.as_bytes();
        assert_eq!(b.len(), 16);
        assert_eq!(b[0] & 0x80, 0, "top bit set: {s}");
        assert_ne!(b[0], 0, "not minimal: {s}");
        for (i, one) in ones.iter_mut().enumerate() {
            *one += usize::from(b[i / 8] >> (7 - i % 8) & 1);
        }
    }
    // 127 random bits: each set about half the time (6 sigma bounds).
    assert_eq!(ones[0], 0);
    for (i, &n) in ones.iter().enumerate().skip(1) {
        assert!((1810..=2190).contains(&n), "bit {i} set {n} times in {N}");
    }
    assert!(matches!(
        ctx.store.allocate_serial(CaId(999)).await,
        Err(StoreError::UnknownCa(_))
    ));
}

pub async fn record_certificate_twice_is_refused(ctx: Ctx) {
    let ca = make_ca(&ctx.store, "ca", None).await.id;
    let serial = issue(&ctx.store, ca).await;
    let found = ctx.store.certificate(ca, &serial).await.unwrap().unwrap();
    assert_eq!(found.profile, "cnie-auth");
    assert_eq!(found.sha256, store::sha256(&found.der));
    let mut again = new_cert(ca, &serial);
    again.der = b"another certificate".to_vec();
    assert!(matches!(
        ctx.store.record_certificate(&again, &officer()).await,
        Err(StoreError::SerialAlreadyIssued { .. })
    ));
    // A serial imported from outside (never allocated here) is recorded and
    // then reserved.
    let imported = Serial::from_hex("0123456789").unwrap();
    ctx.store
        .record_certificate(&new_cert(ca, &imported), &officer())
        .await
        .unwrap();
    let mut tx = ctx.store.begin().await.unwrap();
    assert!(!tx.reserve_serial(ca, &imported).await.unwrap());
}

pub async fn revoke_hold_unhold_status(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let serial = issue(s, ca).await;
    assert_eq!(s.status(ca, &serial).await.unwrap(), CertStatus::Good);

    let mut hold = revocation(ca, &serial, RevocationReason::CertificateHold);
    hold.invalidity_date = Some(hold.revoked_at - time::Duration::hours(2));
    s.revoke(&hold, &officer()).await.unwrap();
    match s.status(ca, &serial).await.unwrap() {
        CertStatus::Revoked {
            reason,
            invalidity_date,
            ..
        } => {
            assert_eq!(reason, RevocationReason::CertificateHold);
            assert!(invalidity_date.is_some());
        }
        other => panic!("expected revoked, got {other:?}"),
    }

    let unheld = s.unhold(ca, &serial, &officer()).await.unwrap().record;
    assert!(unheld.removed_from_hold);
    assert_eq!(s.status(ca, &serial).await.unwrap(), CertStatus::Good);
    assert!(matches!(
        s.unhold(ca, &serial, &officer()).await,
        Err(StoreError::NotOnHold { .. })
    ));

    // Held again, then revoked for good: allowed once.
    s.revoke(
        &revocation(ca, &serial, RevocationReason::CertificateHold),
        &officer(),
    )
    .await
    .unwrap();
    s.revoke(
        &revocation(ca, &serial, RevocationReason::KeyCompromise),
        &officer(),
    )
    .await
    .unwrap();
    assert!(matches!(
        s.status(ca, &serial).await.unwrap(),
        CertStatus::Revoked {
            reason: RevocationReason::KeyCompromise,
            ..
        }
    ));
    assert!(matches!(
        s.unhold(ca, &serial, &officer()).await,
        Err(StoreError::NotOnHold { .. })
    ));
}

pub async fn double_revoke_is_refused(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let serial = issue(s, ca).await;
    let first = s
        .revoke(
            &revocation(ca, &serial, RevocationReason::Superseded),
            &officer(),
        )
        .await
        .unwrap();
    let err = s
        .revoke(
            &revocation(ca, &serial, RevocationReason::KeyCompromise),
            &officer(),
        )
        .await
        .unwrap_err();
    match err {
        StoreError::AlreadyRevoked {
            reason, revoked_at, ..
        } => {
            assert_eq!(reason, RevocationReason::Superseded);
            assert_eq!(revoked_at, first.record.revoked_at);
        }
        other => panic!("expected AlreadyRevoked, got {other:?}"),
    }
    // The refused attempt left no audit entry behind.
    assert_eq!(s.verify_audit().await.unwrap(), first.audit_seq);
}

pub async fn unknown_serial_is_never_good(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let never = Serial::random().unwrap();
    assert_eq!(s.status(ca, &never).await.unwrap(), CertStatus::Unknown);
    // Allocated but not (yet) recorded: still unknown.
    let allocated = s.allocate_serial(ca).await.unwrap();
    assert_eq!(s.status(ca, &allocated).await.unwrap(), CertStatus::Unknown);
    // Issued by another CA: unknown here.
    let other = make_ca(s, "other", None).await.id;
    let elsewhere = issue(s, other).await;
    assert_eq!(s.status(ca, &elsewhere).await.unwrap(), CertStatus::Unknown);
    assert!(matches!(
        s.revoke(
            &revocation(ca, &never, RevocationReason::KeyCompromise),
            &officer()
        )
        .await,
        Err(StoreError::UnknownSerial { .. })
    ));
    assert!(matches!(
        s.revoke(
            &revocation(CaId(999), &never, RevocationReason::KeyCompromise),
            &officer()
        )
        .await,
        Err(StoreError::UnknownCa(_))
    ));
    assert!(s.certificate(ca, &never).await.unwrap().is_none());
}

pub async fn revocation_is_committed_before_returning(ctx: Ctx) {
    let ca = make_ca(&ctx.store, "ca", None).await.id;
    let serial = issue(&ctx.store, ca).await;
    let done = ctx
        .store
        .revoke(
            &revocation(ca, &serial, RevocationReason::KeyCompromise),
            &officer().with_details(json!({ "ticket": "INC-42" })),
        )
        .await
        .unwrap();
    // Another pool (another process, for the database) sees it at once.
    let other = ctx.reopen().await;
    assert!(matches!(
        other.status(ca, &serial).await.unwrap(),
        CertStatus::Revoked { .. }
    ));
    let entries = other.audit_entries(done.audit_seq - 1, 10).await.unwrap();
    let entry = &entries[0];
    assert_eq!(entry.seq, done.audit_seq);
    assert_eq!(entry.action, "certificate.revoke");
    assert_eq!(entry.actor, "officer:amina");
    let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(details["serial"], serial.to_hex());
    assert_eq!(details["reason"], "keyCompromise");
    assert_eq!(details["extra"]["ticket"], "INC-42");
}

pub async fn crl_numbers_monotonic_under_concurrency(ctx: Ctx) {
    const TASKS: usize = 4;
    const EACH: usize = 25;
    let ca = make_ca(&ctx.store, "ca", None).await.id;
    // Half the tasks on a second, independent pool.
    let second = ctx.reopen().await;
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = if t % 2 == 0 {
            ctx.store.clone()
        } else {
            second.clone()
        };
        handles.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(EACH);
            for _ in 0..EACH {
                got.push(
                    store
                        .next_crl_number(ca, CrlKind::Full, &officer())
                        .await
                        .unwrap()
                        .number,
                );
            }
            got
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        let got = h.await.unwrap();
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "not increasing: {got:?}"
        );
        all.extend(got);
    }
    all.sort_unstable();
    let expected: Vec<u64> = (1..=(TASKS * EACH) as u64).collect();
    assert_eq!(all, expected);
}

pub async fn crl_reservation_and_recording(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    assert!(matches!(
        s.next_crl_number(ca, CrlKind::Delta, &officer()).await,
        Err(StoreError::NoBaseCrl { .. })
    ));
    let serial = issue(s, ca).await;
    s.revoke(
        &revocation(ca, &serial, RevocationReason::KeyCompromise),
        &officer(),
    )
    .await
    .unwrap();
    let full = s
        .next_crl_number(ca, CrlKind::Full, &officer())
        .await
        .unwrap();
    assert_eq!(full.number, 1);
    assert_eq!(full.as_of_change, s.latest_change().await.unwrap());
    let now = OffsetDateTime::now_utc();
    let crl = NewCrl {
        ca,
        number: full.number,
        this_update: now,
        next_update: Some(now + time::Duration::days(7)),
        der: b"full crl 1".to_vec(),
    };
    let recorded = s.record_crl(&crl, &officer()).await.unwrap().record;
    assert_eq!(recorded.kind, CrlKind::Full);
    assert!(matches!(
        s.record_crl(&crl, &officer()).await,
        Err(StoreError::CrlAlreadyRecorded { number: 1, .. })
    ));
    assert!(matches!(
        s.record_crl(
            &NewCrl {
                number: 9,
                ..crl.clone()
            },
            &officer()
        )
        .await,
        Err(StoreError::CrlNumberNotReserved { number: 9, .. })
    ));
    assert_eq!(
        s.latest_crl(ca, CrlKind::Full).await.unwrap(),
        Some(recorded)
    );

    let delta = s
        .next_crl_number(ca, CrlKind::Delta, &officer())
        .await
        .unwrap();
    assert_eq!(delta.number, 2);
    let base = delta.base.unwrap();
    assert_eq!((base.number, base.as_of_change), (1, full.as_of_change));
    s.record_crl(
        &NewCrl {
            number: 2,
            der: b"delta 2".to_vec(),
            ..crl
        },
        &officer(),
    )
    .await
    .unwrap();
    let latest_delta = s.latest_crl(ca, CrlKind::Delta).await.unwrap().unwrap();
    assert_eq!(latest_delta.base_number, Some(1));
    // ca.create, certificate.issue, certificate.revoke, then crl.reserve and
    // crl.publish twice (the refused delta reservation wrote nothing).
    assert_eq!(s.verify_audit().await.unwrap(), 7);
}

pub async fn changes_since_lists_in_order(ctx: Ctx) {
    let s = &ctx.store;
    let mut listener = match s.pg_pool() {
        Some(pool) => {
            let mut l = sqlx::postgres::PgListener::connect_with(pool)
                .await
                .unwrap();
            l.listen(store::CHANGES_CHANNEL).await.unwrap();
            Some(l)
        }
        None => None,
    };
    assert_eq!(s.latest_change().await.unwrap(), 0);
    let ca = make_ca(s, "ca", None).await.id;
    let a = issue(s, ca).await;
    let b = issue(s, ca).await;
    s.revoke(
        &revocation(ca, &a, RevocationReason::CertificateHold),
        &officer(),
    )
    .await
    .unwrap();
    s.unhold(ca, &a, &officer()).await.unwrap();
    let all = s.changes_since(0, 100).await.unwrap();
    let summary: Vec<_> = all
        .iter()
        .map(|c| (c.seq, c.kind, c.serial.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, ChangeKind::Issued, Some(a.clone())),
            (2, ChangeKind::Issued, Some(b.clone())),
            (3, ChangeKind::Revoked, Some(a.clone())),
            (4, ChangeKind::Unheld, Some(a.clone())),
        ]
    );
    let since = s.changes_since(2, 100).await.unwrap();
    assert_eq!(since.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![3, 4]);
    assert_eq!(s.changes_since(2, 1).await.unwrap().len(), 1);
    assert!(s.changes_since(4, 100).await.unwrap().is_empty());
    assert_eq!(s.latest_change().await.unwrap(), 4);

    if let Some(listener) = listener.as_mut() {
        let mut payloads = Vec::new();
        while payloads.len() < 4 {
            let n = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
                .await
                .expect("NOTIFY not delivered")
                .unwrap();
            payloads.push(n.payload().to_owned());
        }
        assert_eq!(payloads, ["1", "2", "3", "4"]);
    }
}

pub async fn revocation_listing_pages_full_and_delta(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let now = OffsetDateTime::now_utc();
    let imported: Vec<_> = (1..=2500u32)
        .map(|i| ImportedRevocation {
            serial: Serial::from_hex(&format!("{:08X}", i * 7919)).unwrap(),
            reason: RevocationReason::Superseded,
            revoked_at: now,
            invalidity_date: None,
        })
        .collect();
    s.import_revocations(ca, &imported, &officer())
        .await
        .unwrap();
    let snapshot = s.latest_change().await.unwrap();
    // Changes after the snapshot: one held + released, one new revocation.
    let held = issue(s, ca).await;
    s.revoke(
        &revocation(ca, &held, RevocationReason::CertificateHold),
        &officer(),
    )
    .await
    .unwrap();
    s.unhold(ca, &held, &officer()).await.unwrap();
    let fresh = issue(s, ca).await;
    s.revoke(
        &revocation(ca, &fresh, RevocationReason::KeyCompromise),
        &officer(),
    )
    .await
    .unwrap();
    let now_seq = s.latest_change().await.unwrap();

    // Full listing as of the snapshot, 1000 a page: the 2500, in serial order.
    let mut q = RevocationQuery::full(ca, snapshot).with_limit(1000);
    let mut listed = Vec::new();
    let mut pages = 0;
    loop {
        let page = s.revocations(&q).await.unwrap();
        pages += 1;
        listed.extend(page.iter().map(|e| e.serial.clone()));
        if !q.advance(&page) {
            break;
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<_> = imported.iter().map(|e| e.serial.clone()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(s.count_revocations(ca, snapshot).await.unwrap(), 2500);

    // Full listing now: the released hold is not listed, the new one is.
    assert_eq!(s.count_revocations(ca, now_seq).await.unwrap(), 2501);
    // Delta since the snapshot: both, the released one flagged.
    let delta = s
        .revocations(&RevocationQuery::delta(ca, snapshot, now_seq))
        .await
        .unwrap();
    assert_eq!(delta.len(), 2);
    let removed: Vec<_> = delta.iter().filter(|e| e.removed_from_hold).collect();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].serial, held);
    assert!(delta
        .iter()
        .any(|e| e.serial == fresh && !e.removed_from_hold));
    // Imported serials are not handed out by allocation.
    let mut tx = s.begin().await.unwrap();
    assert!(!tx.reserve_serial(ca, &imported[0].serial).await.unwrap());
}

pub async fn import_overlap_imports_nothing(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let entry = |hex: &str| ImportedRevocation {
        serial: Serial::from_hex(hex).unwrap(),
        reason: RevocationReason::Unspecified,
        revoked_at: OffsetDateTime::now_utc(),
        invalidity_date: None,
    };
    let dup = [entry("01"), entry("02"), entry("01")];
    assert!(matches!(
        s.import_revocations(ca, &dup, &officer()).await,
        Err(StoreError::ImportOverlap { count: 1, .. })
    ));
    assert_eq!(s.count_revocations(ca, u64::MAX).await.unwrap(), 0);
    assert_eq!(s.verify_audit().await.unwrap(), 1, "only ca.create");
}

pub async fn audit_chain_verifies(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.verify_audit().await.unwrap(), 0);
    let ca = make_ca(s, "ca", None).await.id;
    let serial = issue(s, ca).await;
    s.revoke(
        &revocation(ca, &serial, RevocationReason::KeyCompromise),
        &officer(),
    )
    .await
    .unwrap();
    let custom = s.append_audit(&audit_record(1)).await.unwrap();
    assert_eq!(custom.seq, 4);
    assert_eq!(s.verify_audit().await.unwrap(), 4);

    let entries = s.audit_entries(0, 100).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        [
            "ca.create",
            "certificate.issue",
            "certificate.revoke",
            "test.append"
        ]
    );
    assert_eq!(entries[0].prev_hash, [0; 32]);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert_eq!(entries[3], custom);
    assert_eq!(entries[1].inputs_sha256, vec![[7; 32]]);
    assert_eq!(entries[1].outputs_sha256.len(), 1);
}

pub async fn audit_concurrent_appends_do_not_fork(ctx: Ctx) {
    let second = ctx.reopen().await;
    let mut handles = Vec::new();
    for (w, store) in [ctx.store.clone(), second, ctx.store.clone()]
        .into_iter()
        .enumerate()
    {
        handles.push(tokio::spawn(async move {
            for i in 0..40 {
                store
                    .append_audit(&audit_record(w * 100 + i))
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(ctx.store.verify_audit().await.unwrap(), 120);
}

async fn five_entries(ctx: &Ctx) {
    for i in 0..5 {
        ctx.store.append_audit(&audit_record(i)).await.unwrap();
    }
    assert_eq!(ctx.store.verify_audit().await.unwrap(), 5);
}

fn expect_broken(result: Result<u64, AuditError>, seq: u64) -> ChainBreak {
    match result {
        Err(AuditError::Broken { seq: at, reason }) => {
            assert_eq!(at, seq, "wrong entry named: {reason}");
            reason
        }
        other => panic!("expected the chain broken at {seq}, got {other:?}"),
    }
}

pub async fn audit_tamper_update_names_entry(ctx: Ctx) {
    five_entries(&ctx).await;
    assert_eq!(
        ctx.tamper("UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 3")
            .await,
        1
    );
    let reason = expect_broken(ctx.store.verify_audit().await, 3);
    assert_eq!(reason, ChainBreak::HashMismatch);
}

pub async fn audit_tamper_delete_middle_names_gap(ctx: Ctx) {
    five_entries(&ctx).await;
    assert_eq!(ctx.tamper("DELETE FROM audit_log WHERE seq = 3").await, 1);
    let reason = expect_broken(ctx.store.verify_audit().await, 3);
    assert_eq!(
        reason,
        ChainBreak::Missing {
            next_found: Some(4)
        }
    );
    // Renumbering the rest to close the gap breaks the links instead.
    ctx.tamper("UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
        .await;
    let reason = expect_broken(ctx.store.verify_audit().await, 3);
    assert_eq!(reason, ChainBreak::PrevHashMismatch);
}

pub async fn audit_tamper_delete_tail_is_detected(ctx: Ctx) {
    five_entries(&ctx).await;
    ctx.tamper("DELETE FROM audit_log WHERE seq = 5").await;
    let reason = expect_broken(ctx.store.verify_audit().await, 5);
    assert_eq!(reason, ChainBreak::Missing { next_found: None });
    // Writing onto a broken head is refused (fail closed).
    assert!(matches!(
        ctx.store.append_audit(&audit_record(9)).await,
        Err(StoreError::AuditHeadMissing { seq: 5 })
    ));
}

pub async fn audit_tamper_reorder_is_detected(ctx: Ctx) {
    five_entries(&ctx).await;
    ctx.tamper("UPDATE audit_log SET seq = 100 WHERE seq = 2")
        .await;
    ctx.tamper("UPDATE audit_log SET seq = 2 WHERE seq = 3")
        .await;
    ctx.tamper("UPDATE audit_log SET seq = 3 WHERE seq = 100")
        .await;
    let reason = expect_broken(ctx.store.verify_audit().await, 2);
    assert_eq!(reason, ChainBreak::PrevHashMismatch);
}

/// An entry past the recorded head (the `audit` counter rewound, or a row
/// slipped in without moving it): the walk names the first such entry,
/// and the replay names the row that entry vouches for.
pub async fn audit_tamper_beyond_head_is_named(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let serial = issue(s, ca).await;
    let revoked = s
        .revoke(
            &revocation(ca, &serial, RevocationReason::KeyCompromise),
            &officer(),
        )
        .await
        .unwrap();
    assert_eq!(revoked.audit_seq, 3);
    assert_eq!(
        ctx.tamper("UPDATE counters SET value = 2 WHERE name = 'audit'")
            .await,
        1
    );
    let reason = expect_broken(s.verify_audit().await, 3);
    assert_eq!(reason, ChainBreak::BeyondHead { head: 2 });
    assert_eq!(reason.to_string(), "entry is beyond the recorded head 2");
    let report = s.verify_ca_state(ca).await.unwrap();
    assert!(
        report.findings.iter().any(|f| f.key == serial.as_bytes()
            && f.problem
                == store::RowProblem::EntryBroken {
                    seq: 3,
                    reason: ChainBreak::BeyondHead { head: 2 }
                }),
        "{:#?}",
        report.findings
    );
}

/// A hash column that is not 32 bytes, or a list of hashes whose length
/// is not a multiple of 32, is named as malformed, not mistaken for an
/// edit (or a crash).
pub async fn audit_tamper_malformed_hashes_are_named(ctx: Ctx) {
    five_entries(&ctx).await;
    let short = blob(ctx.backend, "0102");
    assert_eq!(
        ctx.tamper(&format!(
            "UPDATE audit_log SET hash = {short} WHERE seq = 4"
        ))
        .await,
        1
    );
    let reason = expect_broken(ctx.store.verify_audit().await, 4);
    assert_eq!(reason, ChainBreak::Malformed { column: "hashes" });
    assert_eq!(reason.to_string(), "malformed column hashes");
    // An earlier entry with an input list 33 bytes long is named first.
    let whole = blob(ctx.backend, &"00".repeat(33));
    ctx.tamper(&format!(
        "UPDATE audit_log SET inputs_sha256 = {whole} WHERE seq = 2"
    ))
    .await;
    let reason = expect_broken(ctx.store.verify_audit().await, 2);
    assert_eq!(reason, ChainBreak::Malformed { column: "hashes" });
}

async fn next(listener: &mut store::ChangeListener) -> u64 {
    tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("NOTIFY not delivered within 10 s")
        .unwrap()
}

/// `Store::listen_changes`: on PostgreSQL every committed change, from
/// this store or another process's, is heard in order with its sequence
/// number; a refused (rolled back) write sends nothing. On SQLite there
/// is nothing to listen to (`None`: poll `changes_since`).
pub async fn listen_changes_hears_each_commit(ctx: Ctx) {
    let s = &ctx.store;
    let Some(mut listener) = s.listen_changes().await.unwrap() else {
        assert_eq!(ctx.backend, Backend::Sqlite);
        return;
    };
    assert_eq!(ctx.backend, Backend::Postgres);
    let ca = make_ca(s, "ca", None).await.id;
    let serial = issue(s, ca).await;
    assert_eq!(next(&mut listener).await, 1);
    // Another process writes.
    let other = ctx.reopen().await;
    other
        .revoke(
            &revocation(ca, &serial, RevocationReason::CertificateHold),
            &officer(),
        )
        .await
        .unwrap();
    assert_eq!(next(&mut listener).await, 2);
    other.unhold(ca, &serial, &officer()).await.unwrap();
    assert_eq!(next(&mut listener).await, 3);
    let entry = |hex: &str| ImportedRevocation {
        serial: Serial::from_hex(hex).unwrap(),
        reason: RevocationReason::Unspecified,
        revoked_at: OffsetDateTime::now_utc(),
        invalidity_date: None,
    };
    // Refused: rolled back, no notification.
    assert!(s
        .import_revocations(ca, &[entry("0a"), entry("0a")], &officer())
        .await
        .is_err());
    s.import_revocations(ca, &[entry("0b"), entry("0c")], &officer())
        .await
        .unwrap();
    assert_eq!(next(&mut listener).await, 4);
    assert_eq!(s.latest_change().await.unwrap(), 4);
}

/// Always runs: the bulk path at a size debug builds handle in seconds.
pub async fn bulk_revocations_import_and_list(ctx: Ctx) {
    bulk_import_and_list(ctx, 50_000).await;
}

/// 1,000,000 revocations imported in one transaction and listed back in
/// serial order (size overridable with STORE_BULK_REVOCATIONS).
pub async fn million_revocations_import_and_list(ctx: Ctx) {
    let n = std::env::var("STORE_BULK_REVOCATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    bulk_import_and_list(ctx, n).await;
}

async fn bulk_import_and_list(ctx: Ctx, n: u32) {
    let s = &ctx.store;
    let ca = make_ca(s, "cnie-citizen-ca", None).await.id;
    let now = OffsetDateTime::now_utc();
    let entries: Vec<_> = (0..n)
        .map(|_| ImportedRevocation {
            serial: Serial::random().unwrap(),
            reason: RevocationReason::CessationOfOperation,
            revoked_at: now,
            invalidity_date: None,
        })
        .collect();

    let t = Instant::now();
    let imported = s
        .import_revocations(ca, &entries, &officer())
        .await
        .unwrap();
    let insert = t.elapsed();
    assert_eq!(imported.record, u64::from(n));

    let t = Instant::now();
    let as_of = s.latest_change().await.unwrap();
    let mut q = RevocationQuery::full(ca, as_of);
    let mut count = 0u64;
    let mut last: Option<Serial> = None;
    loop {
        let page = s.revocations(&q).await.unwrap();
        for e in &page {
            assert!(last.as_ref().is_none_or(|l| *l < e.serial), "out of order");
            last = Some(e.serial.clone());
        }
        count += page.len() as u64;
        if !q.advance(&page) {
            break;
        }
    }
    let list = t.elapsed();
    assert_eq!(count, u64::from(n));

    // Every imported row is bound to the import's entry.
    let t = Instant::now();
    let report = s.verify_ca_state(ca).await.unwrap();
    let check = t.elapsed();
    assert!(report.is_intact(), "{:?}", report.findings.first());
    assert_eq!(report.rows, u64::from(n) + 1, "the revocations and the CA");
    eprintln!(
        "{:?}: {n} revocations imported in {insert:.2?}, listed in {list:.2?}, \
         checked against the audit log in {check:.2?}",
        ctx.backend
    );
}

// ---- the audit log vouches for the rows (issue 19 item 3) ----------------

/// A CA with one revoked certificate (keyCompromise, invalidity date), one
/// good certificate and a published full CRL; returns the CA and the
/// revoked serial.
async fn revoked_state(s: &Store) -> (CaId, Serial) {
    let ca = make_ca(s, "cnie-citizen-ca", None).await.id;
    let revoked = issue(s, ca).await;
    issue(s, ca).await;
    let mut req = revocation(ca, &revoked, RevocationReason::KeyCompromise);
    req.invalidity_date = Some(req.revoked_at - time::Duration::days(1));
    s.revoke(&req, &officer()).await.unwrap();
    let r = s
        .next_crl_number(ca, CrlKind::Full, &officer())
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    s.record_crl(
        &NewCrl {
            ca,
            number: r.number,
            this_update: now,
            next_update: Some(now + time::Duration::days(1)),
            der: b"crl".to_vec(),
        },
        &officer(),
    )
    .await
    .unwrap();
    (ca, revoked)
}

/// Both the whole-store replay and the one-CA check name exactly one row,
/// the same one; the chain itself still verifies.
async fn the_one_finding(s: &Store, ca: CaId) -> store::RowFinding {
    let all = s.verify_state().await.unwrap();
    assert_eq!(all.findings.len(), 1, "{:#?}", all.findings);
    let one = s.verify_ca_state(ca).await.unwrap();
    assert_eq!(one.findings, all.findings);
    let err = one.clone().require_intact("CA").unwrap_err();
    assert!(matches!(err, StoreError::Unvouched { .. }));
    assert!(
        err.to_string().contains(&all.findings[0].to_string()),
        "{err}"
    );
    assert!(s.verify_audit().await.is_ok(), "the chain is untouched");
    all.findings.into_iter().next().unwrap()
}

/// SQL for a byte string literal on this backend.
fn blob(backend: Backend, hex: &str) -> String {
    match backend {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

/// Officers belong to no CA: their rows are bound under CA id 0 and
/// replayed once; an officer row edited, deleted or inserted behind the
/// log's back is named.
pub async fn state_officer_rows_are_named(ctx: Ctx) {
    let s = &ctx.store;
    let enrol = |name: &str| store::NewOfficer {
        name: name.into(),
        credential_kind: "x25519".into(),
        credential: vec![7; 32],
    };
    for name in ["amina", "youssef"] {
        s.add_officer(&enrol(name), &officer()).await.unwrap();
    }
    assert!(matches!(
        s.add_officer(&enrol("amina"), &officer()).await,
        Err(StoreError::OfficerTaken { .. })
    ));
    let names: Vec<String> = s
        .officers()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["amina", "youssef"]);
    assert_eq!(
        s.officer("youssef").await.unwrap().unwrap().credential,
        [7; 32]
    );
    let (bound, count) = s.audit_bound_rows(2, 10).await.unwrap();
    assert_eq!(count, 1);
    assert_eq!(bound[0].officer.as_deref(), Some("youssef"));
    let state = s.verify_state().await.unwrap();
    assert!(state.is_intact(), "{:#?}", state.findings);
    assert_eq!(state.rows, 2);

    let findings = |report: store::StateReport| -> Vec<String> {
        report.findings.iter().map(ToString::to_string).collect()
    };
    ctx.tamper("UPDATE officers SET credential_kind = 'argon2id' WHERE name = 'youssef'")
        .await;
    assert_eq!(
        findings(s.verify_state().await.unwrap()),
        [
            "officers row, officer \"youssef\": credential_kind is \"argon2id\", the log says \"x25519\" (audit entry 2)"
        ]
    );
    ctx.tamper("DELETE FROM officers WHERE name = 'youssef'")
        .await;
    ctx.tamper(
        "INSERT INTO officers (name, credential_kind, credential, enrolled_at) \
         SELECT 'mallory', credential_kind, credential, enrolled_at FROM officers \
         WHERE name = 'amina'",
    )
    .await;
    assert_eq!(
        findings(s.verify_state().await.unwrap()),
        [
            "officers row, officer \"mallory\": no audit entry wrote this row",
            "officers row, officer \"youssef\": audit entry 2 wrote this row; it is gone from the table",
        ]
    );
    assert!(s.verify_audit().await.is_ok(), "the chain is untouched");
}

pub async fn state_intact_after_every_kind_of_write(ctx: Ctx) {
    let s = &ctx.store;
    let root = make_ca(s, "root", None).await.id;
    let (ca, _) = revoked_state(s).await;
    // A hold released, a hold turned into a revocation, an import, a
    // delta CRL, a reservation never published, a grouped transaction.
    let held = issue(s, ca).await;
    s.revoke(
        &revocation(ca, &held, RevocationReason::CertificateHold),
        &officer(),
    )
    .await
    .unwrap();
    s.unhold(ca, &held, &officer()).await.unwrap();
    let held_then_revoked = issue(s, ca).await;
    for reason in [
        RevocationReason::CertificateHold,
        RevocationReason::Superseded,
    ] {
        s.revoke(&revocation(ca, &held_then_revoked, reason), &officer())
            .await
            .unwrap();
    }
    let imported: Vec<_> = ["7A01", "7A02", "7A03"]
        .iter()
        .map(|hex| ImportedRevocation {
            serial: Serial::from_hex(hex).unwrap(),
            reason: RevocationReason::AffiliationChanged,
            revoked_at: OffsetDateTime::now_utc(),
            invalidity_date: None,
        })
        .collect();
    s.import_revocations(ca, &imported, &officer())
        .await
        .unwrap();
    s.next_crl_number(ca, CrlKind::Delta, &officer())
        .await
        .unwrap();
    let mut tx = s.begin().await.unwrap();
    let serial = tx.allocate_serial(root).await.unwrap();
    tx.record_certificate(&new_cert(root, &serial), &officer())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    s.verify_audit().await.unwrap();
    let all = s.verify_state().await.unwrap();
    assert!(all.is_intact(), "{:#?}", all.findings);
    // 2 CAs, 5 certificates, 6 revocations (the unheld one stays, 3
    // imported), 2 CRL numbers.
    assert_eq!(all.rows, 2 + 5 + 6 + 2);
    let one = s.verify_ca_state(ca).await.unwrap();
    assert!(one.is_intact(), "{:#?}", one.findings);
    assert_eq!(one.rows, 1 + 4 + 6 + 2);
    assert!(s
        .verify_serial_state(ca, &held_then_revoked)
        .await
        .unwrap()
        .is_intact());
}

pub async fn state_edited_reason_is_named(ctx: Ctx) {
    let (ca, serial) = revoked_state(&ctx.store).await;
    assert_eq!(ctx.tamper("UPDATE revocations SET reason = 0").await, 1);
    let f = the_one_finding(&ctx.store, ca).await;
    assert_eq!(
        (f.table, f.ca, f.key.as_slice()),
        (store::audit::Table::Revocations, ca, serial.as_bytes())
    );
    let store::RowProblem::Differs { fields, .. } = &f.problem else {
        panic!("{f}");
    };
    assert_eq!(fields.len(), 1, "{f}");
    assert_eq!(
        (
            fields[0].field,
            fields[0].found.as_str(),
            fields[0].logged.as_str()
        ),
        ("reason", "unspecified", "keyCompromise")
    );
    let text = f.to_string();
    assert!(
        text.starts_with(&format!(
            "revocations row of CA \"cnie-citizen-ca\" ({ca}), serial {serial}: \
             reason is unspecified, the log says keyCompromise (audit entry "
        )),
        "{text}"
    );
    // The serial's own check sees it too (the responder's change feed).
    assert!(ctx
        .store
        .verify_serial_state(ca, &serial)
        .await
        .unwrap()
        .names(store::audit::Table::Revocations, serial.as_bytes()));
}

pub async fn state_edited_date_is_named(ctx: Ctx) {
    let (ca, serial) = revoked_state(&ctx.store).await;
    assert_eq!(
        ctx.tamper(
            "UPDATE revocations SET revoked_at = revoked_at + 86400, \
             invalidity_date = NULL"
        )
        .await,
        1
    );
    let f = the_one_finding(&ctx.store, ca).await;
    assert_eq!(f.key, serial.as_bytes());
    let store::RowProblem::Differs { fields, .. } = &f.problem else {
        panic!("{f}");
    };
    let names: Vec<_> = fields.iter().map(|d| d.field).collect();
    assert_eq!(names, ["revoked_at", "invalidity_date"], "{f}");
    assert_eq!(fields[1].found, "absent");
    assert!(fields[0].found.ends_with('Z') && fields[0].logged.ends_with('Z'));
}

pub async fn state_deleted_revocation_is_named(ctx: Ctx) {
    let (ca, serial) = revoked_state(&ctx.store).await;
    let entries = ctx.store.audit_entries(0, 100).await.unwrap();
    let revoke_seq = entries
        .iter()
        .find(|e| e.action == "certificate.revoke")
        .unwrap()
        .seq;
    assert_eq!(ctx.tamper("DELETE FROM revocations").await, 1);
    // The certificate now reads as good: exactly what must not be published.
    assert_eq!(
        ctx.store.status(ca, &serial).await.unwrap(),
        CertStatus::Good
    );
    let f = the_one_finding(&ctx.store, ca).await;
    assert_eq!(f.table, store::audit::Table::Revocations);
    assert_eq!(f.key, serial.as_bytes());
    assert_eq!(f.problem, store::RowProblem::Gone { seq: revoke_seq });
    assert!(
        f.to_string().ends_with(&format!(
            "serial {serial}: audit entry {revoke_seq} wrote this row; it is gone from the table"
        )),
        "{f}"
    );
}

pub async fn state_inserted_certificate_is_named(ctx: Ctx) {
    let (ca, _) = revoked_state(&ctx.store).await;
    let sql = format!(
        "INSERT INTO certificates (ca_id, serial, subject_der, not_before, not_after, der, \
         profile, sha256, issued_at) SELECT ca_id, {}, subject_der, not_before, not_after, \
         {}, profile, {}, issued_at FROM certificates WHERE ca_id = {} LIMIT 1",
        blob(ctx.backend, "7F0102"),
        blob(ctx.backend, "3000"),
        blob(ctx.backend, &store_hex(&store::sha256(&[0x30, 0]))),
        ca.0
    );
    assert_eq!(ctx.tamper(&sql).await, 1);
    let f = the_one_finding(&ctx.store, ca).await;
    assert_eq!(f.table, store::audit::Table::Certificates);
    assert_eq!(f.key, [0x7f, 0x01, 0x02]);
    assert_eq!(f.problem, store::RowProblem::NoEntry);
    assert!(
        f.to_string()
            .ends_with("serial 7F0102: no audit entry wrote this row"),
        "{f}"
    );
    // The whole-store replay also reads the DER: a certificate's DER
    // edited without its sha256 (the per-CA check leaves DER alone).
    let edit = format!(
        "UPDATE certificates SET der = {} WHERE serial <> {}",
        blob(ctx.backend, "3000"),
        blob(ctx.backend, "7F0102")
    );
    assert_eq!(ctx.tamper(&edit).await, 2);
    let all = ctx.store.verify_state().await.unwrap();
    let content = store::RowProblem::Content {
        column: "der",
        digest_column: "sha256",
    };
    assert_eq!(
        all.findings.iter().filter(|f| f.problem == content).count(),
        2,
        "{:#?}",
        all.findings
    );
    assert_eq!(
        ctx.store.verify_ca_state(ca).await.unwrap().findings.len(),
        1
    );
}

/// Rows edited together with their recorded images (`audit_rows`): the
/// rows then match the images, not the entries that vouch for them.
pub async fn state_entry_memo_is_refreshed_and_forgets_a_broken_entry(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let now = OffsetDateTime::now_utc();
    let imported: Vec<_> = (1..=3u32)
        .map(|i| ImportedRevocation {
            serial: Serial::from_hex(&format!("7F{i:02X}")).unwrap(),
            reason: RevocationReason::Superseded,
            revoked_at: now,
            invalidity_date: None,
        })
        .collect();
    s.import_revocations(ca, &imported, &officer())
        .await
        .unwrap();
    assert_eq!(
        s.refresh_entry_memo(true).await.unwrap(),
        (0, 0),
        "nothing checked yet"
    );
    // A publishing check remembers the three-row import entry...
    assert!(s
        .verify_serial_state(ca, &imported[0].serial)
        .await
        .unwrap()
        .is_intact());
    assert_eq!(s.refresh_entry_memo(true).await.unwrap(), (1, 0));
    assert_eq!(
        s.refresh_entry_memo(false).await.unwrap(),
        (0, 0),
        "checked just now: not due"
    );
    // ...which a refresh finds broken once one of its bindings is deleted
    // behind the store's back, and forgets: the next check names it.
    let edit = format!(
        "DELETE FROM audit_rows WHERE row_key = {}",
        blob(ctx.backend, "7F02")
    );
    assert_eq!(ctx.tamper(&edit).await, 1);
    assert_eq!(s.refresh_entry_memo(true).await.unwrap(), (1, 1));
    assert_eq!(
        s.refresh_entry_memo(true).await.unwrap(),
        (0, 0),
        "forgotten"
    );
    assert!(!s
        .verify_serial_state(ca, &imported[0].serial)
        .await
        .unwrap()
        .is_intact());
}

pub async fn state_rewritten_image_breaks_the_entry(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "cnie-citizen-ca", None).await.id;
    let serial = issue(s, ca).await;
    let hold = revocation(ca, &serial, RevocationReason::CertificateHold);
    let held = s.revoke(&hold, &officer()).await.unwrap();
    let revoked = s
        .revoke(
            &revocation(ca, &serial, RevocationReason::KeyCompromise),
            &officer(),
        )
        .await
        .unwrap();
    // Back to the held state, as the log recorded it at the hold...
    let back = format!(
        "UPDATE revocations SET reason = 6, revoked_at = {}, invalidity_date = NULL, \
         change_seq = {}",
        hold.revoked_at.unix_timestamp(),
        held.record.change_seq
    );
    assert_eq!(ctx.tamper(&back).await, 1);
    let f = the_one_finding(s, ca).await;
    assert!(
        matches!(&f.problem, store::RowProblem::Differs { seq, .. } if *seq == revoked.audit_seq),
        "{f}"
    );
    // ...and the revocation's recorded image made to match.
    let copy = format!(
        "UPDATE audit_rows SET image = (SELECT image FROM audit_rows WHERE seq = {}) \
         WHERE seq = {}",
        held.audit_seq, revoked.audit_seq
    );
    assert_eq!(ctx.tamper(&copy).await, 1);
    let report = s.verify_ca_state(ca).await.unwrap();
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    assert_eq!(report.findings[0].key, serial.as_bytes());
    let mismatch = ChainBreak::RowsMismatch {
        claimed: 1,
        found: 1,
    };
    assert_eq!(
        report.findings[0].problem,
        store::RowProblem::EntryBroken {
            seq: revoked.audit_seq,
            reason: mismatch.clone()
        }
    );
    assert_eq!(
        expect_broken(s.verify_audit().await, revoked.audit_seq),
        mismatch
    );
    // Deleting that image instead rolls the row back to the hold's image,
    // which its own entry vouches for: only the walk of the whole chain
    // sees the revocation's entry lose its row.
    ctx.tamper(&format!(
        "DELETE FROM audit_rows WHERE seq = {}",
        revoked.audit_seq
    ))
    .await;
    assert!(s.verify_ca_state(ca).await.unwrap().is_intact());
    assert_eq!(
        expect_broken(s.verify_audit().await, revoked.audit_seq),
        ChainBreak::RowsMismatch {
            claimed: 1,
            found: 0
        }
    );
}

/// A bulk import binds each imported row: one deleted among many is named.
pub async fn state_imported_rows_are_named(ctx: Ctx) {
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let imported: Vec<_> = (1..=300u16)
        .map(|i| ImportedRevocation {
            serial: Serial::from_der_content(&[0x10, (i >> 8) as u8, i as u8]).unwrap(),
            reason: RevocationReason::Superseded,
            revoked_at: OffsetDateTime::now_utc(),
            invalidity_date: None,
        })
        .collect();
    let done = s
        .import_revocations(ca, &imported, &officer())
        .await
        .unwrap();
    assert!(s.verify_ca_state(ca).await.unwrap().is_intact());
    let victim = &imported[150].serial;
    let sql = format!(
        "DELETE FROM revocations WHERE serial = {}",
        blob(ctx.backend, &victim.to_hex())
    );
    assert_eq!(ctx.tamper(&sql).await, 1);
    let f = the_one_finding(s, ca).await;
    assert_eq!(f.key, victim.as_bytes());
    assert_eq!(
        f.problem,
        store::RowProblem::Gone {
            seq: done.audit_seq
        }
    );
}

/// A database written before row bindings existed (schema 1): opening it
/// with this version binds every row to one `store.baseline` entry, once.
pub async fn state_baseline_binds_rows_of_an_older_schema(ctx: Ctx) {
    // An entry from before, then back to schema 1 with rows no entry wrote.
    ctx.store.append_audit(&audit_record(0)).await.unwrap();
    ctx.tamper("DROP TABLE audit_rows").await;
    ctx.tamper("DELETE FROM _sqlx_migrations WHERE version = 2")
        .await;
    ctx.tamper(
        "INSERT INTO cas (id, name, subject_der, cert_der, cert_sha256, key_label, \
         created_at) VALUES (1, 'old-ca', X'30', X'30', X'00', 'old-key', 0)"
            .replace("X'30'", &blob(ctx.backend, "30"))
            .replace(
                "X'00'",
                &blob(ctx.backend, &store_hex(&store::sha256(&[0x30]))),
            )
            .as_str(),
    )
    .await;
    let cert = format!(
        "INSERT INTO certificates (ca_id, serial, subject_der, not_before, not_after, der, \
         profile, sha256, issued_at) VALUES (1, {s}, {d}, 0, 1, {d}, 'old', {h}, 0)",
        s = blob(ctx.backend, "0A"),
        d = blob(ctx.backend, "30"),
        h = blob(ctx.backend, &store_hex(&store::sha256(&[0x30]))),
    );
    ctx.tamper(&cert).await;
    let revoked = format!(
        "INSERT INTO revocations (ca_id, serial, reason, revoked_at, removed_from_hold, \
         change_seq) VALUES (1, {}, 1, 100, FALSE, 0)",
        blob(ctx.backend, "0A")
    );
    ctx.tamper(&revoked).await;

    let upgraded = ctx.reopen().await;
    assert_eq!(upgraded.verify_audit().await.unwrap(), 2);
    let baseline = &upgraded.audit_entries(1, 1).await.unwrap()[0];
    assert_eq!(baseline.action, "store.baseline");
    assert!(
        baseline.details.contains(r#""bound_rows":{"count":3"#),
        "{}",
        baseline.details
    );
    let report = upgraded.verify_state().await.unwrap();
    assert!(report.is_intact(), "{:#?}", report.findings);
    assert_eq!(report.rows, 3);
    // Once only.
    assert_eq!(ctx.reopen().await.verify_audit().await.unwrap(), 2);
    // From now on those rows are vouched for like any other.
    ctx.tamper("UPDATE revocations SET reason = 4").await;
    let f = the_one_finding(&upgraded, CaId(1)).await;
    assert!(
        f.to_string()
            .contains("reason is superseded, the log says keyCompromise (audit entry 2)"),
        "{f}"
    );
}

fn store_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02X}").unwrap();
        s
    })
}

fn stored(
    ca: CaId,
    hash: store::CertIdHash,
    serial: &Serial,
    seq: u64,
    at: i64,
    der: &[u8],
) -> store::StoredResponse {
    store::StoredResponse {
        ca,
        hash,
        serial: serial.clone(),
        status: store::ResponseStatus::Good,
        status_seq: seq,
        this_update: OffsetDateTime::from_unix_timestamp(at).unwrap(),
        next_update: OffsetDateTime::from_unix_timestamp(at + 100).unwrap(),
        der: der.to_vec(),
    }
}

pub async fn ocsp_responses_upsert_keeps_the_newest_status(ctx: Ctx) {
    use store::CertIdHash::{Sha1, Sha256};
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let other = make_ca(s, "other", None).await.id;
    let serial = issue(s, ca).await;
    assert_eq!(
        s.ocsp_response(ca, Sha1, &serial)
            .await
            .unwrap()
            .map(|r| r.response),
        None
    );
    let first = stored(ca, Sha1, &serial, 5, 1_000, b"first");
    let sha256 = stored(ca, Sha256, &serial, 5, 1_000, b"sha256");
    let elsewhere = stored(other, Sha1, &serial, 5, 1_000, b"other CA");
    s.put_ocsp_responses(&[first.clone(), sha256.clone(), elsewhere.clone()])
        .await
        .unwrap();
    assert_eq!(
        s.ocsp_response(ca, Sha1, &serial)
            .await
            .unwrap()
            .map(|r| r.response),
        Some(first)
    );
    assert_eq!(
        s.ocsp_response(ca, Sha256, &serial)
            .await
            .unwrap()
            .map(|r| r.response),
        Some(sha256)
    );
    assert_eq!(
        s.ocsp_response(other, Sha1, &serial)
            .await
            .unwrap()
            .map(|r| r.response),
        Some(elsewhere)
    );
    // Re-signed later from the same status: replaces.
    let later = stored(ca, Sha1, &serial, 5, 2_000, b"later");
    s.put_ocsp_responses(std::slice::from_ref(&later))
        .await
        .unwrap();
    assert_eq!(
        s.ocsp_response(ca, Sha1, &serial)
            .await
            .unwrap()
            .map(|r| r.response),
        Some(later.clone())
    );
    // Signed later but from an older status (a slow updater): kept out.
    let stale = stored(ca, Sha1, &serial, 4, 3_000, b"stale status");
    s.put_ocsp_responses(&[stale]).await.unwrap();
    assert_eq!(
        s.ocsp_response(ca, Sha1, &serial)
            .await
            .unwrap()
            .map(|r| r.response),
        Some(later)
    );
    // A newer status wins even with an earlier thisUpdate.
    let mut revoked = stored(ca, Sha1, &serial, 6, 1_500, b"revoked");
    revoked.status = store::ResponseStatus::Revoked;
    s.put_ocsp_responses(std::slice::from_ref(&revoked))
        .await
        .unwrap();
    assert_eq!(
        s.ocsp_response(ca, Sha1, &serial)
            .await
            .unwrap()
            .map(|r| r.response),
        Some(revoked)
    );
    // A response is current until the serial's revocation comes after its
    // status; statuses_of reads many serials at once.
    let read = s.ocsp_response(ca, Sha1, &serial).await.unwrap().unwrap();
    assert!(read.current() && read.revocation_seq.is_none());
    let good = issue(s, ca).await;
    let victim = issue(s, ca).await;
    let before = s.latest_change().await.unwrap();
    s.put_ocsp_responses(&[stored(ca, Sha1, &victim, before, 1_000, b"good")])
        .await
        .unwrap();
    assert!(s
        .ocsp_response(ca, Sha1, &victim)
        .await
        .unwrap()
        .unwrap()
        .current());
    s.revoke(
        &revocation(ca, &victim, RevocationReason::KeyCompromise),
        &officer(),
    )
    .await
    .unwrap();
    let read = s.ocsp_response(ca, Sha1, &victim).await.unwrap().unwrap();
    assert!(
        read.revocation_seq.unwrap() > before && !read.current(),
        "{read:?}"
    );
    let serial = victim;
    let never = Serial::from_hex("7777").unwrap();
    let statuses = s
        .statuses_of(ca, &[good.clone(), serial.clone(), never])
        .await
        .unwrap();
    assert_eq!(statuses[0], CertStatus::Good);
    assert!(matches!(
        statuses[1],
        CertStatus::Revoked {
            reason: RevocationReason::KeyCompromise,
            ..
        }
    ));
    assert_eq!(statuses[2], CertStatus::Unknown);
}

pub async fn ocsp_responses_missing_and_due(ctx: Ctx) {
    use store::CertIdHash::Sha1;
    use store::MissingCursor;
    let s = &ctx.store;
    let ca = make_ca(s, "ca", None).await.id;
    let mut issued = Vec::new();
    for _ in 0..5 {
        issued.push(issue(s, ca).await);
    }
    issued.sort();
    // Two revocations imported without a certificate.
    let imported: Vec<Serial> = ["7F01", "7F02"]
        .iter()
        .map(|h| Serial::from_hex(h).unwrap())
        .collect();
    let entries: Vec<ImportedRevocation> = imported
        .iter()
        .map(|serial| ImportedRevocation {
            serial: serial.clone(),
            reason: RevocationReason::KeyCompromise,
            revoked_at: OffsetDateTime::now_utc(),
            invalidity_date: None,
        })
        .collect();
    s.import_revocations(ca, &entries, &officer())
        .await
        .unwrap();
    // One of the issued already has a response.
    s.put_ocsp_responses(&[stored(ca, Sha1, &issued[1], 1, 1_000, b"r")])
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = Some(MissingCursor::start());
    let mut pages = 0;
    while let Some(from) = cursor {
        let (page, next) = s.serials_without_response(ca, Sha1, from, 2).await.unwrap();
        seen.extend(page);
        cursor = next;
        pages += 1;
        assert!(pages < 20, "the cursor must end");
    }
    let mut want: Vec<Serial> = issued
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, s)| s.clone())
        .collect();
    want.extend(imported.iter().cloned());
    seen.sort();
    want.sort();
    assert_eq!(
        seen, want,
        "certificates and certificate-less revocations without a response"
    );

    // Due: the oldest first, only those before the cutoff.
    let rows: Vec<_> = issued
        .iter()
        .enumerate()
        .map(|(i, serial)| stored(ca, Sha1, serial, 1, 1_000 + i as i64 * 10, b"r"))
        .collect();
    s.put_ocsp_responses(&rows).await.unwrap();
    let cutoff = OffsetDateTime::from_unix_timestamp(1_025).unwrap();
    let (due, next) = s.responses_due(ca, Sha1, cutoff, None, 10).await.unwrap();
    assert_eq!(due, issued[..3].to_vec());
    assert_eq!(next, None, "not a full page");
    let (page, next) = s.responses_due(ca, Sha1, cutoff, None, 2).await.unwrap();
    assert_eq!(page, issued[..2].to_vec());
    let (page, next) = s
        .responses_due(ca, Sha1, cutoff, next.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(
        page,
        issued[2..3].to_vec(),
        "the cursor goes on after the page"
    );
    assert_eq!(next, None);
    // Rows with one thisUpdate are walked in serial order, each once.
    let same: Vec<_> = issued
        .iter()
        .map(|serial| stored(ca, store::CertIdHash::Sha256, serial, 1, 1_000, b"r"))
        .collect();
    s.put_ocsp_responses(&same).await.unwrap();
    let mut walked = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = s
            .responses_due(ca, store::CertIdHash::Sha256, cutoff, cursor.as_ref(), 2)
            .await
            .unwrap();
        walked.extend(page);
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(walked, issued, "issued is in serial order");
    assert_eq!(
        s.oldest_response(ca).await.unwrap(),
        Some(OffsetDateTime::from_unix_timestamp(1_000).unwrap())
    );
}

pub async fn leases_have_one_holder(ctx: Ctx) {
    let s = &ctx.store;
    let now = OffsetDateTime::from_unix_timestamp(10_000).unwrap();
    let ttl = std::time::Duration::from_secs(30);
    assert!(s.try_lease("ocsp-updater", "a", now, ttl).await.unwrap());
    assert!(
        !s.try_lease("ocsp-updater", "b", now, ttl).await.unwrap(),
        "held by a"
    );
    assert!(
        s.try_lease("other", "b", now, ttl).await.unwrap(),
        "leases are by name"
    );
    let later = now + time::Duration::seconds(20);
    assert!(
        s.try_lease("ocsp-updater", "a", later, ttl).await.unwrap(),
        "renewed"
    );
    let expired = later + time::Duration::seconds(31);
    assert!(
        s.try_lease("ocsp-updater", "b", expired, ttl)
            .await
            .unwrap(),
        "taken over"
    );
    assert!(!s
        .try_lease("ocsp-updater", "a", expired, ttl)
        .await
        .unwrap());
    s.release_lease("ocsp-updater", "b").await.unwrap();
    assert!(s
        .try_lease("ocsp-updater", "a", expired, ttl)
        .await
        .unwrap());
}

pub async fn open_read_does_not_migrate(ctx: Ctx) {
    let reader = Store::open_read(&ctx.url).await.unwrap();
    let ca = make_ca(&ctx.store, "root", None).await;
    assert_eq!(reader.ca("root").await.unwrap(), Some(ca));
    assert_eq!(
        reader.replica_lag().await.unwrap(),
        None,
        "a primary has no lag"
    );
    if ctx.backend == Backend::Sqlite {
        let missing = ctx.url.replace(".db", "-missing.db");
        assert!(Store::open_read(&missing).await.is_err());
        let path = missing.trim_start_matches("sqlite://");
        assert!(
            !std::path::Path::new(path).exists(),
            "open_read created {path}"
        );
    }
    // A schema older than the binary is refused, naming the migrations:
    // one lacking migration 3 is at 2, whatever came after.
    let need = ctx.store.schema().await.unwrap().unwrap().embedded;
    assert!(need >= 3);
    assert_eq!(
        ctx.tamper("DELETE FROM _sqlx_migrations WHERE version = 3")
            .await,
        1
    );
    let err = Store::open_read(&ctx.url).await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaBehind { have: 2, need: n } if n == need),
        "{err}"
    );
}
