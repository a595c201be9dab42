//! The compact index of a CRL's revokedCertificates: serial number (and
//! certificate-issuer group, for indirect CRLs) -> reason, revocation date,
//! invalidity date, with O(1) lookup.
//!
//! Layout, per revoked entry: 16 bytes of [`Packed`], the serial's content
//! octets in one shared arena, and two to four `u32` slots of an
//! open-addressing table kept at most half full. No per-entry heap
//! allocation. Invalidity dates, which few entries carry, live in a side
//! map.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use crate::revocation::RevocationReason;
use crate::time::UnixTime;

/// One revoked certificate entry, as the CRL states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedEntry {
    pub reason: RevocationReason,
    pub revoked_at: UnixTime,
    pub invalidity_date: Option<UnixTime>,
}

#[derive(Debug, Clone, Copy)]
struct Packed {
    revoked_at: u64,
    serial_start: u32,
    /// Certificate-issuer group (0 = the CRL issuer; RFC 5280 5.3.3).
    group: u16,
    serial_len: u8,
    reason: u8,
}

const EMPTY: u32 = u32::MAX;

/// Why an entry could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// The same (issuer group, serial) is listed twice.
    Duplicate,
    /// More entries or serial bytes than the index addresses (never reached
    /// under `MAX_CRL_SIZE`).
    Full,
}

/// Serial number -> entry, built once, then read-only.
#[derive(Debug)]
pub(crate) struct SerialIndex {
    serials: Vec<u8>,
    entries: Vec<Packed>,
    invalidity: HashMap<u32, UnixTime>,
    table: Vec<u32>,
    hasher: RandomState,
}

impl Default for SerialIndex {
    fn default() -> Self {
        Self::with_capacity(0, 0)
    }
}

impl SerialIndex {
    /// An index sized for about `entries` entries and `serial_bytes` bytes
    /// of serials.
    pub(crate) fn with_capacity(entries: usize, serial_bytes: usize) -> Self {
        Self {
            serials: Vec::with_capacity(serial_bytes),
            entries: Vec::with_capacity(entries),
            invalidity: HashMap::new(),
            table: Vec::new(),
            hasher: RandomState::new(),
        }
    }

    fn hash(&self, group: u16, serial: &[u8]) -> usize {
        // SipHash with a per-index random key: a CRL crafted to collide
        // cannot make lookups linear. Truncation to usize is intended.
        #[allow(clippy::cast_possible_truncation)]
        let h = self.hasher.hash_one((group, serial)) as usize;
        h
    }

    fn serial_of(&self, e: &Packed) -> &[u8] {
        let start = e.serial_start as usize;
        &self.serials[start..start + usize::from(e.serial_len)]
    }

    /// Appends an entry; [`SerialIndex::finish`] builds the table.
    pub(crate) fn push(
        &mut self,
        group: u16,
        serial: &[u8],
        entry: RevokedEntry,
    ) -> Result<(), InsertError> {
        let serial_start = u32::try_from(self.serials.len()).map_err(|_| InsertError::Full)?;
        let serial_len = u8::try_from(serial.len()).map_err(|_| InsertError::Full)?;
        let ix = u32::try_from(self.entries.len()).map_err(|_| InsertError::Full)?;
        if ix == EMPTY {
            return Err(InsertError::Full);
        }
        self.serials.extend_from_slice(serial);
        self.entries.push(Packed {
            revoked_at: entry.revoked_at.0,
            serial_start,
            group,
            serial_len,
            reason: entry.reason.code(),
        });
        if let Some(d) = entry.invalidity_date {
            self.invalidity.insert(ix, d);
        }
        Ok(())
    }

    /// Builds the hash table; fails on a duplicate (group, serial).
    pub(crate) fn finish(&mut self) -> Result<(), InsertError> {
        self.entries.shrink_to_fit();
        self.serials.shrink_to_fit();
        let slots = (self.entries.len() * 2).next_power_of_two().max(8);
        self.table = vec![EMPTY; slots];
        let mask = slots - 1;
        for i in 0..self.entries.len() {
            let e = self.entries[i];
            let serial = self.serial_of(&e);
            let mut pos = self.hash(e.group, serial) & mask;
            loop {
                let slot = self.table[pos];
                if slot == EMPTY {
                    // i < EMPTY was checked in push.
                    self.table[pos] = u32::try_from(i).map_err(|_| InsertError::Full)?;
                    break;
                }
                let other = self.entries[slot as usize];
                if other.group == e.group && self.serial_of(&other) == serial {
                    return Err(InsertError::Duplicate);
                }
                pos = (pos + 1) & mask;
            }
        }
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry for `serial` in issuer group `group`.
    pub(crate) fn get(&self, group: u16, serial: &[u8]) -> Option<RevokedEntry> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut pos = self.hash(group, serial) & mask;
        loop {
            let slot = self.table[pos];
            if slot == EMPTY {
                return None;
            }
            let e = &self.entries[slot as usize];
            if e.group == group && self.serial_of(e) == serial {
                return Some(RevokedEntry {
                    // Codes were produced by RevocationReason::code.
                    reason: RevocationReason::from_code(e.reason)
                        .unwrap_or(RevocationReason::Unspecified),
                    revoked_at: UnixTime(e.revoked_at),
                    invalidity_date: self.invalidity.get(&slot).copied(),
                });
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Heap bytes held by the index (for capacity planning and the bench).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.serials.capacity()
            + self.entries.capacity() * std::mem::size_of::<Packed>()
            + self.table.capacity() * std::mem::size_of::<u32>()
            + self.invalidity.capacity() * (std::mem::size_of::<(u32, UnixTime)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t: u64) -> RevokedEntry {
        RevokedEntry {
            reason: RevocationReason::KeyCompromise,
            revoked_at: UnixTime(t),
            invalidity_date: (t % 2 == 0).then_some(UnixTime(t - 1)),
        }
    }

    #[test]
    fn finds_every_entry_and_nothing_else() {
        let mut ix = SerialIndex::default();
        for i in 1..5000u64 {
            ix.push(u16::from(i % 3 == 0), &i.to_be_bytes(), entry(i))
                .unwrap();
        }
        ix.finish().unwrap();
        assert_eq!(ix.len(), 4999);
        for i in 1..5000u64 {
            let g = u16::from(i % 3 == 0);
            assert_eq!(ix.get(g, &i.to_be_bytes()), Some(entry(i)));
            assert_eq!(ix.get(1 - g, &i.to_be_bytes()), None);
        }
        assert_eq!(ix.get(0, &9999u64.to_be_bytes()), None);
        assert!(std::mem::size_of::<Packed>() <= 16);
    }

    #[test]
    fn duplicates_are_refused() {
        let mut ix = SerialIndex::default();
        ix.push(0, &[1, 2], entry(1)).unwrap();
        ix.push(1, &[1, 2], entry(1)).unwrap();
        ix.push(0, &[1, 2], entry(2)).unwrap();
        assert_eq!(ix.finish(), Err(InsertError::Duplicate));
    }

    #[test]
    fn empty_index_answers_none() {
        let mut ix = SerialIndex::default();
        assert_eq!(ix.get(0, &[1]), None);
        ix.finish().unwrap();
        assert_eq!(ix.get(0, &[1]), None);
    }
}
