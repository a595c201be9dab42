//! Shamir's secret sharing over GF(2^8) (Shamir 1979, "How to share a
//! secret"), byte by byte: each byte of the secret is the constant term of
//! its own random polynomial of degree `k - 1`, and share `x` holds the
//! value of every polynomial at `x` (1..=255).
//!
//! The field is GF(2^8) with the AES reduction polynomial
//! x^8 + x^4 + x^3 + x + 1 (0x11B). Multiplication is written without
//! table look-ups or secret-dependent branches.
//!
//! Any `k` shares give the secret back (Lagrange interpolation at 0);
//! `k - 1` shares are, for every possible secret, equally likely, so they
//! tell nothing about it (see the tests). Shares carry no checksum of the
//! secret: integrity comes from the sealing of each share
//! ([`super::seal`]) and, in the end, from the HSM login.

use zeroize::Zeroizing;

/// Product in GF(2^8) mod 0x11B, in constant time.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    for _ in 0..8 {
        p ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1B & carry);
        b >>= 1;
    }
    p
}

/// Inverse in GF(2^8): a^254 (0 for 0, never asked here).
fn inv(a: u8) -> u8 {
    // a^254 = a^(2+4+8+16+32+64+128)
    let mut result = 1u8;
    let mut square = a;
    for _ in 0..7 {
        square = mul(square, square);
        result = mul(result, square);
    }
    result
}

/// Why shares cannot be made or combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShamirError {
    #[error("threshold {k} of {n} shares is impossible: need 1 <= k <= n <= 255")]
    BadThreshold { k: usize, n: usize },
    #[error("share x = {x} given twice")]
    DuplicateX { x: u8 },
    #[error("share x = 0 would be the secret itself")]
    ZeroX,
    #[error("shares differ in length")]
    LengthMismatch,
    #[error("no shares")]
    Empty,
    #[error("the system random generator failed")]
    Random,
}

/// One share: its x (1..=255) and the value of each byte's polynomial.
#[derive(Clone, PartialEq, Eq)]
pub struct Share {
    pub x: u8,
    pub y: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Share(x = {}, <{} bytes redacted>)",
            self.x,
            self.y.len()
        )
    }
}

/// Splits `secret` into `n` shares, any `k` of which give it back; shares
/// have x = 1..=n.
pub fn split(secret: &[u8], k: usize, n: usize) -> Result<Vec<Share>, ShamirError> {
    split_with(secret, k, n, |buf| {
        aws_lc_rs::rand::fill(buf).map_err(|_| ShamirError::Random)
    })
}

/// [`split`] with the coefficients drawn from `random`.
fn split_with(
    secret: &[u8],
    k: usize,
    n: usize,
    mut random: impl FnMut(&mut [u8]) -> Result<(), ShamirError>,
) -> Result<Vec<Share>, ShamirError> {
    if k == 0 || k > n || n > 255 {
        return Err(ShamirError::BadThreshold { k, n });
    }
    // coefficients[j][i]: coefficient of x^(j+1) for byte i.
    let mut coefficients = Zeroizing::new(vec![0u8; (k - 1) * secret.len()]);
    random(&mut coefficients)?;
    Ok((1..=n as u8)
        .map(|x| {
            let y = secret
                .iter()
                .enumerate()
                .map(|(i, &s)| {
                    // Horner, highest coefficient first.
                    let mut acc = 0u8;
                    for j in (0..k - 1).rev() {
                        acc = mul(acc, x) ^ coefficients[j * secret.len() + i];
                    }
                    mul(acc, x) ^ s
                })
                .collect();
            Share {
                x,
                y: Zeroizing::new(y),
            }
        })
        .collect())
}

/// The secret the polynomials through `shares` take at 0. Given at least
/// `k` shares of one split this is the secret; given fewer, or shares of
/// different splits, it is some other value (nothing says which).
pub fn combine(shares: &[Share]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let first = shares.first().ok_or(ShamirError::Empty)?;
    let len = first.y.len();
    for (i, s) in shares.iter().enumerate() {
        if s.x == 0 {
            return Err(ShamirError::ZeroX);
        }
        if s.y.len() != len {
            return Err(ShamirError::LengthMismatch);
        }
        if shares[..i].iter().any(|o| o.x == s.x) {
            return Err(ShamirError::DuplicateX { x: s.x });
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; len]);
    for (i, si) in shares.iter().enumerate() {
        // Lagrange basis at 0: prod over j != i of x_j / (x_j - x_i);
        // subtraction is XOR in GF(2^8).
        let mut basis = 1u8;
        for (j, sj) in shares.iter().enumerate() {
            if i != j {
                basis = mul(basis, mul(sj.x, inv(sj.x ^ si.x)));
            }
        }
        for (out, &y) in secret.iter_mut().zip(si.y.iter()) {
            *out ^= mul(basis, y);
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_laws() {
        for a in 0..=255u8 {
            assert_eq!(mul(a, 1), a);
            assert_eq!(mul(a, 0), 0);
            if a != 0 {
                assert_eq!(mul(a, inv(a)), 1, "{a}");
            }
        }
        // FIPS 197 4.2: {57} x {83} = {c1}.
        assert_eq!(mul(0x57, 0x83), 0xC1);
        assert_eq!(mul(0x57, 0x13), 0xFE);
    }

    #[test]
    fn any_k_of_n_give_the_secret_back() {
        let secret = b"officer-pin-2468";
        for (k, n) in [(1, 1), (1, 3), (2, 3), (3, 5), (5, 5)] {
            let shares = split(secret, k, n).unwrap();
            assert_eq!(shares.len(), n);
            // Every subset of size >= k.
            for mask in 1u32..(1 << n) {
                let subset: Vec<Share> = shares
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, s)| s.clone())
                    .collect();
                if subset.len() >= k {
                    assert_eq!(
                        &combine(&subset).unwrap()[..],
                        secret,
                        "{k}-of-{n} {mask:b}"
                    );
                }
            }
        }
    }

    /// k - 1 shares reveal nothing: for fixed share positions, every value
    /// the k - 1 shares can take is reached by exactly as many choices of
    /// the random coefficients whatever the secret is, so no value of
    /// theirs is more likely under one secret than under another (checked
    /// exhaustively for 2-of-n and 3-of-n on one byte).
    #[test]
    fn k_minus_one_shares_are_independent_of_the_secret() {
        for k in [2usize, 3] {
            let coefficient_space = 256usize.pow(k as u32 - 1);
            let mut reference: Option<Vec<u32>> = None;
            for secret in [0u8, 1, 0x5A, 0xFF] {
                // counts[values of the k-1 shares] over all coefficients.
                let mut counts = vec![0u32; coefficient_space];
                for c in 0..coefficient_space {
                    let bytes: Vec<u8> = (0..k - 1).map(|j| (c >> (8 * j)) as u8).collect();
                    let shares = split_with(&[secret], k, k + 1, |buf| {
                        buf.copy_from_slice(&bytes);
                        Ok(())
                    })
                    .unwrap();
                    let index = shares[..k - 1]
                        .iter()
                        .enumerate()
                        .fold(0usize, |acc, (j, s)| acc | (usize::from(s.y[0]) << (8 * j)));
                    counts[index] += 1;
                }
                // Uniform: each combination of k-1 share values exactly once.
                assert!(counts.iter().all(|&c| c == 1), "k = {k}");
                match &reference {
                    Some(r) => assert_eq!(r, &counts),
                    None => reference = Some(counts),
                }
            }
        }
    }

    #[test]
    fn fewer_than_k_shares_do_not_give_the_secret() {
        let secret = b"a PIN that is long enough to be sure";
        let shares = split(secret, 3, 5).unwrap();
        let two = combine(&shares[..2]).unwrap();
        assert_ne!(&two[..], secret);
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert_eq!(
            split(b"x", 0, 3).unwrap_err(),
            ShamirError::BadThreshold { k: 0, n: 3 }
        );
        assert_eq!(
            split(b"x", 4, 3).unwrap_err(),
            ShamirError::BadThreshold { k: 4, n: 3 }
        );
        let shares = split(b"xy", 2, 3).unwrap();
        assert_eq!(
            combine(&[shares[0].clone(), shares[0].clone()]).unwrap_err(),
            ShamirError::DuplicateX { x: 1 }
        );
        assert_eq!(combine(&[]).unwrap_err(), ShamirError::Empty);
        assert_eq!(
            format!("{:?}", shares[0]),
            "Share(x = 1, <2 bytes redacted>)"
        );
    }
}
