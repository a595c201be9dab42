//! Certificate serial numbers.

use std::fmt;

use crate::error::{Result, StoreError};

/// RFC 5280 4.1.2.2 `CertificateSerialNumber ::= INTEGER`: the content
/// octets of a positive, minimally encoded DER INTEGER of at most 20 octets.
///
/// Ordering is bytewise, the same order the database uses for keyset paging.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// RFC 5280 4.1.2.2: conforming CAs use at most 20 octets.
    pub const MAX_LEN: usize = 20;
    /// Length of the serials made by [`Serial::random`].
    pub const RANDOM_LEN: usize = 16;

    /// From DER INTEGER content octets. Strict: positive, minimal, 1 to 20
    /// octets.
    pub fn from_der_content(bytes: &[u8]) -> Result<Self> {
        match bytes {
            [] => Err(invalid("empty")),
            _ if bytes.len() > Self::MAX_LEN => Err(invalid("longer than 20 octets")),
            [first, ..] if first & 0x80 != 0 => Err(invalid("negative")),
            [0, second, ..] if second & 0x80 == 0 => Err(invalid("not minimally encoded")),
            [0] => Err(invalid("zero")),
            _ => Ok(Self(bytes.to_vec())),
        }
    }

    /// From the unsigned hexadecimal magnitude, as `openssl x509 -serial`
    /// prints it. `:` separators and a `0x` prefix are accepted; leading
    /// zeros are dropped.
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = text.trim();
        let text = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        let digits: Vec<u8> = text
            .bytes()
            .filter(|b| *b != b':')
            .map(|b| match b {
                b'0'..=b'9' => Ok(b - b'0'),
                b'a'..=b'f' => Ok(b - b'a' + 10),
                b'A'..=b'F' => Ok(b - b'A' + 10),
                _ => Err(invalid("not hexadecimal")),
            })
            .collect::<Result<_>>()?;
        let digits = match digits.iter().position(|d| *d != 0) {
            Some(first) => &digits[first..],
            None => return Err(invalid("zero")),
        };
        let mut magnitude = Vec::with_capacity(digits.len() / 2 + 1);
        if digits.len() % 2 == 1 {
            magnitude.push(digits[0]);
        }
        for pair in digits[digits.len() % 2..].chunks_exact(2) {
            magnitude.push(pair[0] << 4 | pair[1]);
        }
        if magnitude[0] & 0x80 != 0 {
            magnitude.insert(0, 0);
        }
        Self::from_der_content(&magnitude)
    }

    /// A fresh serial: [`Serial::RANDOM_LEN`] octets from the system CSPRNG
    /// with the top bit clear (positive) and a non-zero first octet
    /// (minimal), i.e. more than 126 bits of entropy (CA/B Forum BR 7.1
    /// asks for at least 64).
    pub fn random() -> Result<Self> {
        let mut bytes = [0u8; Self::RANDOM_LEN];
        loop {
            aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::RandomUnavailable)?;
            bytes[0] &= 0x7f;
            // Rejection sampling keeps the distribution uniform over the
            // remaining values; a zero first octet comes up 1 time in 128.
            if bytes[0] != 0 {
                return Ok(Self(bytes.to_vec()));
            }
        }
    }

    /// The DER INTEGER content octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Upper-case hexadecimal of the content octets.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        self.0
            .iter()
            .fold(String::with_capacity(self.0.len() * 2), |mut s, b| {
                // Writing to a String cannot fail.
                let _ = write!(s, "{b:02X}");
                s
            })
    }

    /// From a stored column, which the store itself wrote.
    pub(crate) fn from_stored(bytes: Vec<u8>, table: &'static str) -> Result<Self> {
        Self::from_der_content(&bytes).map_err(|e| match e {
            StoreError::InvalidSerial { reason } => StoreError::MalformedValue {
                table,
                column: "serial",
                reason,
            },
            other => other,
        })?;
        Ok(Self(bytes))
    }
}

fn invalid(reason: &'static str) -> StoreError {
    StoreError::InvalidSerial { reason }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({})", self.to_hex())
    }
}

impl std::str::FromStr for Serial {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_der_content() {
        assert!(Serial::from_der_content(&[0x01]).is_ok());
        assert!(Serial::from_der_content(&[0x00, 0x80]).is_ok());
        for bad in [&[][..], &[0x00], &[0x80], &[0x00, 0x01], &[0x01; 21]] {
            assert!(matches!(
                Serial::from_der_content(bad),
                Err(StoreError::InvalidSerial { .. })
            ));
        }
    }

    #[test]
    fn hex_is_the_unsigned_magnitude() {
        assert_eq!(Serial::from_hex("80").unwrap().as_bytes(), &[0x00, 0x80]);
        assert_eq!(
            Serial::from_hex("0x0001ab").unwrap().as_bytes(),
            &[0x01, 0xab]
        );
        assert_eq!(Serial::from_hex("1:AB").unwrap().as_bytes(), &[0x01, 0xab]);
        assert_eq!(Serial::from_hex("fff").unwrap().as_bytes(), &[0x0f, 0xff]);
        assert!(Serial::from_hex("00").is_err());
        assert!(Serial::from_hex("xyz").is_err());
        let s = Serial::random().unwrap();
        assert_eq!(Serial::from_hex(&s.to_hex()).unwrap(), s);
    }

    #[test]
    fn random_is_positive_minimal_and_full_length() {
        for _ in 0..1000 {
            let s = Serial::random().unwrap();
            assert_eq!(s.as_bytes().len(), Serial::RANDOM_LEN);
            assert!(s.as_bytes()[0] & 0x80 == 0 && s.as_bytes()[0] != 0);
            assert!(Serial::from_der_content(s.as_bytes()).is_ok());
        }
    }
}
