//! Readiness (`/health`, `/health/ready`): whether the answers the tiers
//! promise can be given now. A tier that fails closed (`unavailable =
//! "hard-fail"`) and consults CRLs rejects every certificate of a CA whose
//! CRL is past its nextUpdate or older than the tier's `max_age_seconds`
//! (`revocation_status_unavailable`), so while one of its anchors or
//! configured intermediates holds such a CRL the service is not ready and
//! says which. CRLs considered: those in the CRL cache (from files and
//! downloads) issued by the tier's anchors and configured intermediates,
//! and the tier's CRL files whose issuer has nothing in the cache (an
//! expired file is not loaded, and is still stale).

use pki_core::crl::EntryInfo;
use pki_core::trust::RevocationMethod;
use pki_core::UnixTime;

use crate::config::{TierConfig, Unavailable};

/// Why the service is not ready; empty when it is.
pub fn reasons(tiers: &[TierConfig], cached: &[EntryInfo], now: UnixTime) -> Vec<String> {
    let mut out = Vec::new();
    for tier in tiers {
        let policy = tier.revocation.to_core();
        if tier.revocation.unavailable != Unavailable::HardFail
            || !policy.methods.contains(&RevocationMethod::Crl)
        {
            continue;
        }
        let max_age = tier.revocation.max_age_seconds;
        let ours = |issuer_der: &[u8]| {
            tier.anchors
                .iter()
                .chain(&tier.intermediates)
                .any(|ca| pki_core::name::names_der_equal(ca.subject_der(), issuer_der))
        };
        let mut judged: Vec<&[u8]> = Vec::new();
        for e in cached.iter().filter(|e| ours(&e.key.issuer)) {
            judged.push(&e.key.issuer);
            out.extend(stale(
                &tier.name,
                &e.issuer,
                e.this_update,
                e.next_update,
                max_age,
                now,
            ));
        }
        for f in &tier.crls {
            let held = judged
                .iter()
                .any(|j| pki_core::name::names_der_equal(j, &f.issuer_der));
            if !held {
                out.extend(stale(
                    &tier.name,
                    &f.issuer,
                    f.this_update,
                    f.next_update,
                    max_age,
                    now,
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The reason a CRL of `issuer` makes `tier` fail closed at `now`, if it does.
fn stale(
    tier: &str,
    issuer: &str,
    this_update: UnixTime,
    next_update: Option<UnixTime>,
    max_age: Option<u64>,
    now: UnixTime,
) -> Option<String> {
    // pki-core's CRL window (RFC 5280 6.3.3 (a)): usable up to nextUpdate
    // itself.
    if let Some(next) = next_update.filter(|n| now > *n) {
        return Some(format!(
            "tier {tier:?} (hard-fail): the CRL of {issuer} is past its nextUpdate {next}"
        ));
    }
    let age = now.seconds_since(this_update);
    match max_age {
        Some(max) if age > max => Some(format!(
            "tier {tier:?} (hard-fail): the CRL of {issuer} is {age} s old, over max_age_seconds {max}"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_next_update_or_max_age() {
        let t0 = UnixTime(1_800_000_000);
        let next = Some(t0.plus(3_600));
        assert_eq!(stale("cnie", "CN=CA", t0, next, None, t0.plus(3_600)), None);
        let past = stale("cnie", "CN=CA", t0, next, None, t0.plus(3_601)).unwrap();
        assert!(past.contains("\"cnie\"") && past.contains("CN=CA") && past.contains("nextUpdate"));
        assert_eq!(
            stale("cnie", "CN=CA", t0, next, Some(600), t0.plus(600)),
            None
        );
        let old = stale("cnie", "CN=CA", t0, next, Some(600), t0.plus(601)).unwrap();
        assert!(old.contains("601 s old, over max_age_seconds 600"), "{old}");
        assert_eq!(
            stale("cnie", "CN=CA", t0, None, None, t0.plus(1 << 30)),
            None
        );
    }
}
