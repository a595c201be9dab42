//! Object identifiers used across the crate, named after their ASN.1 names.

use const_oid::ObjectIdentifier as Oid;

/// Parses a dotted OID (`2.5.29.32.0`) as typed in configs, DNs and
/// requests. const-oid 0.9 gets large arcs wrong both ways: its parser
/// builds each arc with unchecked `u32` arithmetic (an arc past `u32::MAX`
/// panics with overflow checks and wraps to another OID without them), and
/// its encoder writes arcs its own decoder refuses from 2^28 on, so that
/// printing the OID panics. Arcs of 2^28 and more are refused here as
/// `ArcTooBig`, before const-oid sees them.
pub fn parse_dotted(s: &str) -> Result<Oid, const_oid::Error> {
    /// Arcs that fit four base-128 octets, which const-oid reads back.
    const MAX_ARC: u32 = (1 << 28) - 1;
    let too_big = s
        .split(|c: char| !c.is_ascii_digit())
        .any(|digits| !digits.is_empty() && digits.parse::<u32>().map_or(true, |a| a > MAX_ARC));
    if too_big {
        return Err(const_oid::Error::ArcTooBig);
    }
    Oid::new(s)
}

// RFC 5280 4.2.1 certificate extensions (id-ce).
pub const CE_SUBJECT_KEY_IDENTIFIER: Oid = Oid::new_unwrap("2.5.29.14");
pub const CE_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
pub const CE_SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
pub const CE_ISSUER_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.18");
pub const CE_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
pub const CE_CRL_NUMBER: Oid = Oid::new_unwrap("2.5.29.20");
pub const CE_CRL_REASON: Oid = Oid::new_unwrap("2.5.29.21");
pub const CE_INVALIDITY_DATE: Oid = Oid::new_unwrap("2.5.29.24");
pub const CE_DELTA_CRL_INDICATOR: Oid = Oid::new_unwrap("2.5.29.27");
pub const CE_ISSUING_DISTRIBUTION_POINT: Oid = Oid::new_unwrap("2.5.29.28");
pub const CE_CERTIFICATE_ISSUER: Oid = Oid::new_unwrap("2.5.29.29");
pub const CE_NAME_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.30");
pub const CE_CRL_DISTRIBUTION_POINTS: Oid = Oid::new_unwrap("2.5.29.31");
pub const CE_CERTIFICATE_POLICIES: Oid = Oid::new_unwrap("2.5.29.32");
pub const CE_POLICY_MAPPINGS: Oid = Oid::new_unwrap("2.5.29.33");
pub const CE_AUTHORITY_KEY_IDENTIFIER: Oid = Oid::new_unwrap("2.5.29.35");
pub const CE_POLICY_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.36");
pub const CE_EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
pub const CE_FRESHEST_CRL: Oid = Oid::new_unwrap("2.5.29.46");
pub const CE_INHIBIT_ANY_POLICY: Oid = Oid::new_unwrap("2.5.29.54");
pub const ANY_POLICY: Oid = Oid::new_unwrap("2.5.29.32.0");

// RFC 5280 4.2.2 private internet extensions (id-pe).
pub const PE_AUTHORITY_INFO_ACCESS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.1");
pub const PE_QC_STATEMENTS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.3");
pub const PE_SUBJECT_INFO_ACCESS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.11");
/// RFC 6960 4.2.2.2.1 id-pkix-ocsp-nocheck.
pub const PKIX_OCSP_NOCHECK: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.5");
/// RFC 6962 signed certificate timestamp list (never critical in practice).
pub const CT_SCT_LIST: Oid = Oid::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

// RFC 5280 4.2.1.12 extended key usages (id-kp).
pub const KP_ANY: Oid = Oid::new_unwrap("2.5.29.37.0");
pub const KP_SERVER_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.1");
pub const KP_CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");
pub const KP_CODE_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.3");
pub const KP_EMAIL_PROTECTION: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.4");
pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
pub const KP_OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");
/// Adobe Authentic Documents Trust (PDF document signing), 1.2.840.113583.1.1.5.
pub const KP_ADOBE_DOCUMENT_SIGNING: Oid = Oid::new_unwrap("1.2.840.113583.1.1.5");
/// Microsoft document signing, 1.3.6.1.4.1.311.10.3.12.
pub const KP_MS_DOCUMENT_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.10.3.12");
/// id-kp-documentSigning, RFC 9336.
pub const KP_DOCUMENT_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.36");

// Attribute types.
pub const AT_COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
pub const AT_EMAIL_ADDRESS: Oid = Oid::new_unwrap("1.2.840.113549.1.9.1");

// Public key algorithms.
pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
pub const ID_RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
pub const ID_EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
pub const ID_ED25519: Oid = Oid::new_unwrap("1.3.101.112");
pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
pub const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
pub const SECP521R1: Oid = Oid::new_unwrap("1.3.132.0.35");

// Signature algorithms.
pub const SHA1_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
/// id-dsa (RFC 3279 2.3.2) and the DSA signature algorithms (RFC 3279
/// 2.2.2, RFC 5758 3.1).
pub const ID_DSA: Oid = Oid::new_unwrap("1.2.840.10040.4.1");
pub const DSA_WITH_SHA1: Oid = Oid::new_unwrap("1.2.840.10040.4.3");
pub const DSA_WITH_SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.2");
pub const ECDSA_WITH_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
pub const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
pub const ECDSA_WITH_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");

// Digests and MGF (RFC 4055).
pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
pub const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_oids_parse() {
        assert_eq!(parse_dotted("2.5.29.32.0"), Ok(ANY_POLICY));
        assert_eq!(
            parse_dotted("1.2.268435455").map(|o| o.to_string()),
            Ok("1.2.268435455".to_owned())
        );
        assert_eq!(
            parse_dotted("1.2.3").map(|o| o.to_string()),
            Ok("1.2.3".to_owned())
        );
        assert!(parse_dotted("1.2.").is_err());
        assert!(parse_dotted("1.2.x").is_err());
    }

    /// Found by the `ceremony_toml` fuzz target through a DN keyword: an arc
    /// of 2^32 or more overflowed inside const-oid. Arcs from 2^28 on were
    /// written but could not be printed.
    #[test]
    fn an_arc_too_big_for_const_oid_is_refused() {
        for s in ["1.2.4294967296", "1.2.4294967295", "2.5.268435456"] {
            assert_eq!(parse_dotted(s), Err(const_oid::Error::ArcTooBig), "{s}");
        }
        assert_eq!(
            parse_dotted("11111111111111111111111111111111"),
            Err(const_oid::Error::ArcTooBig)
        );
        assert_eq!(
            parse_dotted("1.2.99999999999x"),
            Err(const_oid::Error::ArcTooBig)
        );
    }
}
