//! iPAddress names and constraints (RFC 5280 4.2.1.6, 4.2.1.10).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An iPAddress subtree: "the address followed by a subnet mask", 8 octets
/// for IPv4 and 32 for IPv6 (RFC 5280 4.2.1.10, RFC 4632 CIDR notation).
/// The mask must be a run of one bits followed by zero bits; any other mask
/// or length is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IpConstraint {
    /// The network address, 4 or 16 octets, host bits as encoded.
    address: Vec<u8>,
    /// The prefix length the mask encodes.
    prefix: u32,
}

impl IpConstraint {
    pub(super) fn parse(raw: &[u8]) -> Result<Self, String> {
        if raw.len() != 8 && raw.len() != 32 {
            return Err(format!(
                "iPAddress constraint of {} octets (8 for IPv4 or 32 for IPv6 expected)",
                raw.len()
            ));
        }
        let (address, mask) = raw.split_at(raw.len() / 2);
        let prefix: u32 = mask.iter().map(|b| b.count_ones()).sum();
        let contiguous = mask.iter().enumerate().all(|(i, &b)| {
            let ones_before = (i as u32) * 8;
            let expected_ones = prefix.saturating_sub(ones_before).min(8);
            b == !(0xffu8.checked_shr(expected_ones).unwrap_or(0))
        });
        if !contiguous {
            return Err(format!(
                "iPAddress constraint mask {} is not a prefix",
                super::ip_text(mask)
            ));
        }
        Ok(Self {
            address: address.to_vec(),
            prefix,
        })
    }

    /// Whether `ip` (4 or 16 octets) is in this network. An IPv4 network
    /// never contains an IPv6 address and the other way round.
    pub(super) fn contains(&self, ip: &[u8]) -> bool {
        if ip.len() != self.address.len() {
            return false;
        }
        let mut bits = self.prefix;
        for (a, n) in ip.iter().zip(&self.address) {
            let take = bits.min(8);
            let mask = !(0xffu8.checked_shr(take).unwrap_or(0));
            if a & mask != n & mask {
                return false;
            }
            bits -= take;
            if bits == 0 {
                break;
            }
        }
        true
    }
}

impl fmt::Display for IpConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "iPAddress {}/{}",
            super::ip_text(&self.address),
            self.prefix
        )
    }
}

/// The other spelling of the same address for exclusion checks: the IPv4
/// address inside an IPv4-mapped IPv6 address (RFC 4291 2.5.5.2), or the
/// IPv4-mapped form of an IPv4 address. A connection to `::ffff:127.0.0.1`
/// reaches 127.0.0.1, so excluding one excludes the other.
pub(super) fn alternate_form(ip: &[u8]) -> Option<Vec<u8>> {
    if let Ok(v4) = <[u8; 4]>::try_from(ip) {
        return Some(Ipv4Addr::from(v4).to_ipv6_mapped().octets().to_vec());
    }
    let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(ip).ok()?);
    v6.to_ipv4_mapped().map(|v4| v4.octets().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(addr: [u8; 4], mask: [u8; 4]) -> Vec<u8> {
        [addr, mask].concat()
    }

    #[test]
    fn ipv4_subnet() {
        let c = IpConstraint::parse(&v4([192, 0, 2, 0], [255, 255, 255, 0])).unwrap();
        assert_eq!(c.to_string(), "iPAddress 192.0.2.0/24");
        assert!(c.contains(&[192, 0, 2, 0]));
        assert!(c.contains(&[192, 0, 2, 255]));
        assert!(!c.contains(&[192, 0, 3, 1]));
        assert!(!c.contains(&[193, 0, 2, 1]));
    }

    #[test]
    fn odd_prefixes_and_host_bits() {
        let c = IpConstraint::parse(&v4([10, 128, 0, 0], [255, 192, 0, 0])).unwrap();
        assert_eq!(c.prefix, 10);
        assert!(c.contains(&[10, 191, 255, 255]));
        assert!(!c.contains(&[10, 192, 0, 0]));
        // Host bits in the address are ignored: 192.0.2.7/24 is 192.0.2.0/24.
        let c = IpConstraint::parse(&v4([192, 0, 2, 7], [255, 255, 255, 0])).unwrap();
        assert!(c.contains(&[192, 0, 2, 1]));
    }

    #[test]
    fn zero_and_full_prefixes() {
        let all = IpConstraint::parse(&[0; 8]).unwrap();
        assert!(all.contains(&[8, 8, 8, 8]));
        assert!(!all.contains(&[0; 16]));
        let one = IpConstraint::parse(&v4([127, 0, 0, 1], [255; 4])).unwrap();
        assert!(one.contains(&[127, 0, 0, 1]));
        assert!(!one.contains(&[127, 0, 0, 2]));
    }

    #[test]
    fn ipv6_subnet_and_family_mismatch() {
        let mut raw = vec![0u8; 32];
        raw[15] = 1;
        raw[16..32].fill(0xff);
        let c = IpConstraint::parse(&raw).unwrap();
        assert_eq!(c.to_string(), "iPAddress ::1/128");
        let mut one = [0u8; 16];
        one[15] = 1;
        assert!(c.contains(&one));
        assert!(!c.contains(&[0, 0, 0, 1]));

        let mut net = vec![0x20, 0x01, 0x0d, 0xb8];
        net.resize(16, 0);
        net.extend([0xff; 4]);
        net.resize(32, 0);
        let c = IpConstraint::parse(&net).unwrap();
        assert_eq!(c.to_string(), "iPAddress 2001:db8::/32");
        let mut inside = [0u8; 16];
        inside[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        inside[15] = 9;
        assert!(c.contains(&inside));
        inside[3] = 0xb9;
        assert!(!c.contains(&inside));
    }

    #[test]
    fn malformed_constraints() {
        // Address without a mask (not CIDR form).
        assert!(IpConstraint::parse(&[127, 0, 0, 1]).is_err());
        assert!(IpConstraint::parse(&[0; 16]).is_err());
        assert!(IpConstraint::parse(&[]).is_err());
        assert!(IpConstraint::parse(&[0; 9]).is_err());
        // Masks that are not a prefix.
        assert!(IpConstraint::parse(&v4([192, 0, 2, 0], [255, 0, 255, 0])).is_err());
        assert!(IpConstraint::parse(&v4([192, 0, 2, 0], [0, 255, 255, 255])).is_err());
        assert!(IpConstraint::parse(&v4([192, 0, 2, 0], [255, 255, 254, 1])).is_err());
        assert!(IpConstraint::parse(&v4([192, 0, 2, 0], [255, 253, 0, 0])).is_err());
        let mut raw = vec![0u8; 32];
        raw[16] = 0x7f;
        assert!(IpConstraint::parse(&raw).is_err());
    }

    #[test]
    fn alternate_forms() {
        let mapped = alternate_form(&[127, 0, 0, 1]).unwrap();
        assert_eq!(
            mapped,
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]
        );
        assert_eq!(alternate_form(&mapped).unwrap(), vec![127, 0, 0, 1]);
        let mut loopback6 = [0u8; 16];
        loopback6[15] = 1;
        assert_eq!(alternate_form(&loopback6), None);
        assert_eq!(alternate_form(&[1, 2, 3]), None);
    }
}
