//! Validation time: signed seconds since the Unix epoch, the one DER time
//! parser for certificates, CRLs and OCSP, and RFC 3339 text.

use std::fmt;

/// A point in time, in whole seconds since 1970-01-01T00:00:00Z (UTC),
/// negative before it.
///
/// X.509 times have one-second resolution (RFC 5280 4.1.2.5), so seconds are
/// all validation needs. Signed, because certificates may carry any time
/// from year 1 (GeneralizedTime) or 1950 (UTCTime) on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The current system time.
    pub fn now() -> Self {
        Self::from_system(std::time::SystemTime::now())
    }

    /// Converts a system time (whole seconds, towards the past).
    pub fn from_system(t: std::time::SystemTime) -> Self {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Self(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Err(e) => {
                let d = e.duration();
                let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                Self(-whole - i64::from(d.subsec_nanos() > 0))
            }
        }
    }

    /// Seconds since the epoch, for clocks and databases that count from
    /// it; times before 1970 clamp to 0.
    pub fn unsigned_secs(self) -> u64 {
        u64::try_from(self.0).unwrap_or(0)
    }

    /// Whole seconds from `earlier` to this time; 0 when `earlier` is later.
    pub fn seconds_since(self, earlier: Self) -> u64 {
        u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0)
    }

    /// This time plus `secs` seconds, saturating.
    #[must_use]
    pub fn plus(self, secs: u64) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)),
        )
    }

    /// Converts an X.509 `Time` (UTCTime or GeneralizedTime) decoded by
    /// the `der` crate (which only represents years from 1970).
    pub fn from_x509(t: &x509_cert::time::Time) -> Self {
        Self(i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
    }

    /// RFC 5280 4.1.2.5 `Time ::= CHOICE { utcTime UTCTime, generalTime
    /// GeneralizedTime }` in DER, from its tag and content octets: the one
    /// time parser of certificates, CRLs and OCSP.
    ///
    /// - UTCTime (tag 0x17) is `YYMMDDHHMMSSZ`; YY from 50 to 99 means
    ///   19YY, from 00 to 49 20YY (4.1.2.5.1).
    /// - GeneralizedTime (tag 0x18) is `YYYYMMDDHHMMSSZ`, no fraction
    ///   (4.1.2.5.2), from year 0001 to 9999.
    pub fn from_der_time(tag: u8, v: &[u8]) -> Result<Self, der::Error> {
        use der::Tag;
        fn two(hi: u8, lo: u8) -> Option<i64> {
            (hi.is_ascii_digit() && lo.is_ascii_digit())
                .then(|| i64::from(hi - b'0') * 10 + i64::from(lo - b'0'))
        }
        let (err_tag, fields) = match (tag, v) {
            (0x17, [y1, y2, m @ .., b'Z']) if v.len() == 13 => (
                Tag::UtcTime,
                two(*y1, *y2)
                    .map(|y| if y >= 50 { 1900 + y } else { 2000 + y })
                    .zip(Some(m)),
            ),
            (0x18, [y1, y2, y3, y4, m @ .., b'Z']) if v.len() == 15 => (
                Tag::GeneralizedTime,
                two(*y1, *y2)
                    .zip(two(*y3, *y4))
                    .map(|(a, b)| a * 100 + b)
                    .zip(Some(m)),
            ),
            (0x17, _) => return Err(Tag::UtcTime.value_error()),
            (0x18, _) => return Err(Tag::GeneralizedTime.value_error()),
            (t, _) => return Err(Tag::try_from(t)?.unexpected_error(None)),
        };
        let bad = || err_tag.value_error();
        let (year, rest) = fields.ok_or_else(bad)?;
        let [mo1, mo2, d1, d2, h1, h2, mi1, mi2, s1, s2] = rest else {
            return Err(bad());
        };
        let field = |a: &u8, b: &u8| two(*a, *b).ok_or_else(bad);
        let (month, day) = (field(mo1, mo2)?, field(d1, d2)?);
        let (hour, minute, second) = (field(h1, h2)?, field(mi1, mi2)?, field(s1, s2)?);
        if year < 1
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(bad());
        }
        Ok(Self(
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second,
        ))
    }

    /// Parses an RFC 3339 timestamp such as `2024-01-01T00:00:00Z` or
    /// `2024-01-01T00:00:00+02:00` (fractional seconds are truncated).
    pub fn parse_rfc3339(s: &str) -> Result<Self, InvalidTime> {
        let err = || InvalidTime(s.to_owned());
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return Err(err());
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, InvalidTime> {
            let part = s.get(r).ok_or_else(err)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse::<i64>().map_err(|_| err())
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut rest = &s[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            rest = &frac[digits..];
        }
        let offset: i64 = match rest {
            "Z" | "z" => 0,
            _ => {
                let rb = rest.as_bytes();
                if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                    return Err(err());
                }
                let oh: i64 = rest[1..3].parse().map_err(|_| err())?;
                let om: i64 = rest[4..6].parse().map_err(|_| err())?;
                if oh > 23 || om > 59 {
                    return Err(err());
                }
                let o = oh * 3600 + om * 60;
                if rb[0] == b'-' {
                    -o
                } else {
                    o
                }
            }
        };
        if !(1..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 60
        {
            return Err(err());
        }
        let days = days_from_civil(year, month, day);
        let local = days * 86_400 + hour * 3600 + min * 60 + sec.min(59);
        Ok(Self(local - offset))
    }
}

impl fmt::Display for UnixTime {
    /// RFC 3339 in UTC, e.g. `2024-01-01T00:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )
    }
}

/// A timestamp that is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 time: {0:?}")]
pub struct InvalidTime(pub String);

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 (negative before) of a proleptic Gregorian date
/// (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = UnixTime::parse_rfc3339("2024-01-01T00:00:00+00:00").unwrap();
        assert_eq!(t.0, 1_704_067_200);
        assert_eq!(t.to_string(), "2024-01-01T00:00:00Z");
        let t = UnixTime::parse_rfc3339("2024-02-29T12:30:15.123+02:00").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T10:30:15Z");
        assert_eq!(
            UnixTime::parse_rfc3339("1970-01-01T00:00:00Z").unwrap().0,
            0
        );
    }

    fn der_time(tag: u8, text: &str) -> Result<UnixTime, der::Error> {
        UnixTime::from_der_time(tag, text.as_bytes())
    }

    /// RFC 5280 4.1.2.5: UTCTime 50-99 is 1950-1999, GeneralizedTime runs
    /// from year 1; both print back as RFC 3339.
    #[test]
    fn der_times_before_1970() {
        let t = der_time(0x17, "500101000000Z").unwrap();
        assert_eq!(t.to_string(), "1950-01-01T00:00:00Z");
        assert_eq!(t.0, -631_152_000);
        assert_eq!(
            der_time(0x17, "691231235959Z").unwrap(),
            UnixTime(-1),
            "the last second before the epoch"
        );
        assert_eq!(
            der_time(0x17, "491231235959Z").unwrap().to_string(),
            "2049-12-31T23:59:59Z"
        );
        let y1 = der_time(0x18, "00010101000000Z").unwrap();
        assert_eq!(y1.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(UnixTime::parse_rfc3339("0001-01-01T00:00:00Z").unwrap(), y1);
        assert_eq!(
            der_time(0x18, "99991231235959Z").unwrap().to_string(),
            "9999-12-31T23:59:59Z"
        );
        assert!(
            der_time(0x18, "00001231235959Z").is_err(),
            "there is no year 0"
        );
        assert!(
            der_time(0x18, "19000229000000Z").is_err(),
            "1900 is not a leap year"
        );
        assert!(der_time(0x18, "20000229000000Z").is_ok(), "2000 is");
        for bad in [
            "5001010000Z",
            "500101000000",
            "500101000000+0100",
            "5001010000000Z",
        ] {
            assert!(der_time(0x17, bad).is_err(), "{bad}");
        }
        assert!(
            der_time(0x18, "19700101000000.5Z").is_err(),
            "no fraction in DER"
        );
        assert!(der_time(0x04, "500101000000Z").is_err(), "not a time tag");
    }

    /// The parser agrees with the `der` crate wherever that one can
    /// represent the time (1970 on).
    #[test]
    fn der_times_agree_with_der_from_1970() {
        use der::Decode;
        let mut n = 0;
        for year in [
            1969i64, 1970, 1999, 2000, 2024, 2049, 2050, 2100, 2400, 9999,
        ] {
            for month in 0..=13 {
                for day in [0, 1, 28, 29, 30, 31, 32] {
                    for (h, m, sec) in [(0, 0, 0), (23, 59, 59), (24, 0, 0), (0, 60, 0), (0, 0, 60)]
                    {
                        let body = format!("{month:02}{day:02}{h:02}{m:02}{sec:02}Z");
                        let mut forms = vec![(0x18u8, format!("{year:04}{body}"))];
                        if (1950..2050).contains(&year) {
                            forms.push((0x17, format!("{:02}{body}", year % 100)));
                        }
                        for (tag, text) in forms {
                            let mut tlv = vec![tag, u8::try_from(text.len()).unwrap()];
                            tlv.extend_from_slice(text.as_bytes());
                            let ours = der_time(tag, &text);
                            match x509_cert::time::Time::from_der(&tlv) {
                                Ok(t) => {
                                    assert_eq!(ours.unwrap(), UnixTime::from_x509(&t), "{text}");
                                    n += 1;
                                }
                                // `der` stops at 1970; we go on.
                                Err(_) if year == 1969 => {}
                                Err(_) => assert!(ours.is_err(), "{text}"),
                            }
                        }
                    }
                }
            }
        }
        assert!(n > 500);
    }

    #[test]
    fn rfc3339_rejects_garbage() {
        for bad in [
            "",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00+0100",
            "x024-01-01T00:00:00Z",
        ] {
            assert!(UnixTime::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
