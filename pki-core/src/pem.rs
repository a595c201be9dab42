//! PEM (RFC 7468) or DER input.

use crate::Error;

/// Largest PEM/DER input accepted in one call (a bundle of certificates or
/// one CRL). Large CRLs are DER and go through the CRL loader directly.
pub const MAX_INPUT_SIZE: usize = 64 * 1024 * 1024;

/// Returns the DER of every `label` block when `input` is PEM, or `input`
/// itself when it is DER (starts with a SEQUENCE tag).
pub fn decode_all(input: &[u8], label: &str) -> Result<Vec<Vec<u8>>, Error> {
    if input.len() > MAX_INPUT_SIZE {
        return Err(Error::TooLarge {
            what: "input",
            size: input.len(),
            limit: MAX_INPUT_SIZE,
        });
    }
    if input.first() == Some(&0x30) {
        return Ok(vec![input.to_vec()]);
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| Error::BadPem("neither DER nor UTF-8 PEM".into()))?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start..];
        let Some(stop) = after.find(&end) else {
            return Err(Error::BadPem(format!("{begin} without {end}")));
        };
        let block = &after[..stop + end.len()];
        let (found, der) =
            der::pem::decode_vec(block.as_bytes()).map_err(|e| Error::BadPem(e.to_string()))?;
        if found != label {
            return Err(Error::BadPem(format!("expected {label}, found {found}")));
        }
        out.push(der);
        rest = &after[stop + end.len()..];
    }
    if out.is_empty() {
        return Err(Error::BadPem(format!("no {begin} block found")));
    }
    Ok(out)
}

/// Encodes DER as one PEM block.
pub fn encode(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap_or_default()
}
