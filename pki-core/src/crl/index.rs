//! The compact index of a CRL's revokedCertificates: serial number (and
//! certificate-issuer group, for indirect CRLs) -> reason, revocation date,
//! invalidity date, with O(1) lookup.
//!
//! Layout: every entry is one record in a single byte arena,
//! `[serial length][serial][reason][group: u16 LE][revocationDate: u64 LE]`
//! (12 bytes plus the serial, 28 for the usual 16-octet serial), and the
//! open-addressing table (kept at most half full) holds `u32` slots with
//! the record's offset in the low 26 bits and 6 bits of the hash above it.
//! A hit touches one slot and one record; most misses only the slot. No
//! per-entry heap allocation. Invalidity dates, which few entries carry,
//! live in a side map.

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

/// Offsets fit 26 bits: the arena is smaller than the CRL's entries, and a
/// CRL is at most `MAX_CRL_SIZE` (64 MiB = 2^26) bytes.
const OFFSET_BITS: u32 = 26;
const OFFSET_MASK: u32 = (1 << OFFSET_BITS) - 1;
const EMPTY: u32 = u32::MAX;
/// Record bytes besides the serial.
const RECORD_FIXED: usize = 1 + 1 + 2 + 8;

/// Why an entry could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// The same (issuer group, serial) is listed twice.
    Duplicate,
    /// More bytes than 26-bit offsets address (never reached under
    /// `MAX_CRL_SIZE`).
    Full,
}

struct Record<'a> {
    serial: &'a [u8],
    reason: u8,
    group: u16,
    revoked_at: i64,
}

/// Serial number -> entry, built once, then read-only.
#[derive(Debug)]
pub(crate) struct SerialIndex {
    records: Vec<u8>,
    count: usize,
    invalidity: HashMap<u32, UnixTime>,
    table: Vec<u32>,
    hasher: RandomState,
}

impl Default for SerialIndex {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl SerialIndex {
    /// An index with room for about `record_bytes` bytes of records.
    pub(crate) fn with_capacity(record_bytes: usize) -> Self {
        Self {
            records: Vec::with_capacity(record_bytes),
            count: 0,
            invalidity: HashMap::new(),
            table: Vec::new(),
            hasher: RandomState::new(),
        }
    }

    /// SipHash with a per-index random key, so a CRL crafted to collide
    /// cannot make lookups linear. Truncation to usize is intended.
    #[allow(clippy::cast_possible_truncation)]
    fn hash(&self, group: u16, serial: &[u8]) -> (usize, u32) {
        let h = self.hasher.hash_one((group, serial));
        (h as usize, ((h >> 58) as u32) << OFFSET_BITS)
    }

    fn record(&self, offset: u32) -> Record<'_> {
        // Offsets come from `push`, which wrote a whole record there.
        let r = &self.records[offset as usize..];
        let len = usize::from(r[0]);
        let rest = &r[1 + len..RECORD_FIXED + len];
        Record {
            serial: &r[1..=len],
            reason: rest[0],
            group: u16::from_le_bytes([rest[1], rest[2]]),
            revoked_at: i64::from_le_bytes([
                rest[3], rest[4], rest[5], rest[6], rest[7], rest[8], rest[9], rest[10],
            ]),
        }
    }

    /// Appends an entry; [`SerialIndex::finish`] builds the table.
    pub(crate) fn push(
        &mut self,
        group: u16,
        serial: &[u8],
        entry: RevokedEntry,
    ) -> Result<(), InsertError> {
        let offset = u32::try_from(self.records.len()).map_err(|_| InsertError::Full)?;
        let len = u8::try_from(serial.len()).map_err(|_| InsertError::Full)?;
        if offset >= OFFSET_MASK
            || self.records.len() + RECORD_FIXED + serial.len() > OFFSET_MASK as usize
        {
            return Err(InsertError::Full);
        }
        self.records.push(len);
        self.records.extend_from_slice(serial);
        self.records.push(entry.reason.code());
        self.records.extend_from_slice(&group.to_le_bytes());
        self.records
            .extend_from_slice(&entry.revoked_at.0.to_le_bytes());
        if let Some(d) = entry.invalidity_date {
            self.invalidity.insert(offset, d);
        }
        self.count += 1;
        Ok(())
    }

    /// Builds the hash table; fails on a duplicate (group, serial).
    pub(crate) fn finish(&mut self) -> Result<(), InsertError> {
        self.records.shrink_to_fit();
        let slots = (self.count * 2).next_power_of_two().max(8);
        let mut table = vec![EMPTY; slots];
        let mask = slots - 1;
        let mut offset = 0usize;
        while offset < self.records.len() {
            let off = u32::try_from(offset).map_err(|_| InsertError::Full)?;
            let r = self.record(off);
            let next = offset + RECORD_FIXED + r.serial.len();
            let (h, tag) = self.hash(r.group, r.serial);
            let mut pos = h & mask;
            loop {
                let slot = table[pos];
                if slot == EMPTY {
                    table[pos] = tag | off;
                    break;
                }
                if slot & !OFFSET_MASK == tag {
                    let other = self.record(slot & OFFSET_MASK);
                    if other.group == r.group && other.serial == r.serial {
                        return Err(InsertError::Duplicate);
                    }
                }
                pos = (pos + 1) & mask;
            }
            offset = next;
        }
        self.table = table;
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// The entry for `serial` in issuer group `group`.
    pub(crate) fn get(&self, group: u16, serial: &[u8]) -> Option<RevokedEntry> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let (h, tag) = self.hash(group, serial);
        let mut pos = h & mask;
        loop {
            let slot = self.table[pos];
            if slot == EMPTY {
                return None;
            }
            if slot & !OFFSET_MASK == tag {
                let off = slot & OFFSET_MASK;
                let r = self.record(off);
                if r.group == group && r.serial == serial {
                    return Some(RevokedEntry {
                        // Codes were written by RevocationReason::code.
                        reason: RevocationReason::from_code(r.reason)
                            .unwrap_or(RevocationReason::Unspecified),
                        revoked_at: UnixTime(r.revoked_at),
                        invalidity_date: self.invalidity.get(&off).copied(),
                    });
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Heap bytes held by the index (for capacity planning and the bench).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.records.capacity()
            + self.table.capacity() * std::mem::size_of::<u32>()
            + self.invalidity.capacity() * (std::mem::size_of::<(u32, UnixTime)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t: i64) -> RevokedEntry {
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
            ix.push(u16::from(i % 3 == 0), &i.to_be_bytes(), entry(i as i64))
                .unwrap();
        }
        ix.finish().unwrap();
        assert_eq!(ix.len(), 4999);
        for i in 1..5000u64 {
            let g = u16::from(i % 3 == 0);
            assert_eq!(ix.get(g, &i.to_be_bytes()), Some(entry(i as i64)));
            assert_eq!(ix.get(1 - g, &i.to_be_bytes()), None);
        }
        assert_eq!(ix.get(0, &9999u64.to_be_bytes()), None);
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
