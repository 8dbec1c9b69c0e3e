//! Compact identifiers: UUIDs held as `u128`, everything else as text.
//!
//! Genesys ids (conversations, participants, sessions, queues, users) and EventBridge event ids
//! are UUIDs in their hyphenated form. Holding them as 16 bytes instead of a 36-byte string is
//! what keeps the per-event state small. UUIDs are case-insensitive (RFC 9562): `093CFA28-…`
//! and `093cfa28-…` pack to the same value and print back in the canonical lower case, so
//! dedup, grouping, filters, the cache and API requests all see one id. Anything else (no
//! hyphens, braces) stays text, byte for byte.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Hex digit values, either case; 0xff for bytes that are not hex digits.
static HEX_VALUE: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Where the 32 hex digits sit in the 36-byte hyphenated form.
const DIGITS: [usize; 32] = {
    let mut p = [0; 32];
    let (mut i, mut j) = (0, 0);
    while i < 36 {
        if !(i == 8 || i == 13 || i == 18 || i == 23) {
            p[j] = i;
            j += 1;
        }
        i += 1;
    }
    p
};

/// Parses a hyphenated `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` UUID, in any case.
pub fn parse_uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    // Two u64 halves and one OR of all digit values: no branch per digit.
    let (mut hi, mut lo, mut bad) = (0u64, 0u64, 0u8);
    for &p in &DIGITS[..16] {
        let d = HEX_VALUE[b[p] as usize];
        bad |= d;
        hi = (hi << 4) | u64::from(d);
    }
    for &p in &DIGITS[16..] {
        let d = HEX_VALUE[b[p] as usize];
        bad |= d;
        lo = (lo << 4) | u64::from(d);
    }
    (bad & 0xf0 == 0).then_some((u128::from(hi) << 64) | u128::from(lo))
}

/// A packed UUID that displays in canonical form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Uuid(pub u128);

impl Uuid {
    pub fn encode(self, out: &mut [u8; 36]) -> &str {
        // Two hex digits per byte from one table look-up; hyphens at their fixed places.
        static PAIRS: [[u8; 2]; 256] = {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut t = [[0; 2]; 256];
            let mut i = 0;
            while i < 256 {
                t[i] = [HEX[i >> 4], HEX[i & 0xf]];
                i += 1;
            }
            t
        };
        const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
        let bytes = self.0.to_be_bytes();
        for (b, &at) in bytes.iter().zip(&AT) {
            out[at..at + 2].copy_from_slice(&PAIRS[*b as usize]);
        }
        for at in [8, 13, 18, 23] {
            out[at] = b'-';
        }
        // SAFETY: all 36 bytes were just written, as ASCII hex digits and hyphens.
        unsafe { std::str::from_utf8_unchecked(out) }
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; 36]))
    }
}

/// A `u128` stored with 8-byte alignment, so that an [`Atom`] is 24 bytes rather than 32 (and
/// a dedup entry keyed by one, with 8 bytes beside it, 24 rather than 32).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct U128([u64; 2]);

/// Two words, as a `u128` hashes: no length prefix as an array would add.
impl Hash for U128 {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.0[0]);
        h.write_u64(self.0[1]);
    }
}

impl U128 {
    pub fn get(self) -> u128 {
        (u128::from(self.0[0]) << 64) | u128::from(self.0[1])
    }
}

impl From<u128> for U128 {
    fn from(v: u128) -> U128 {
        U128([(v >> 64) as u64, v as u64])
    }
}

/// An id or word as read from one record, before interning: a packed UUID, a word of the
/// static vocabulary (see [`crate::vocab`]), or other text.
#[derive(Clone, Debug, Eq)]
pub enum Atom {
    Uuid(U128),
    Word(u16),
    Text(Box<str>),
}

impl Atom {
    /// An id: packed when it is a hyphenated UUID (so it prints in lower case), kept as text
    /// otherwise.
    pub fn id(s: &str) -> Atom {
        match parse_uuid(s) {
            Some(v) => Atom::Uuid(v.into()),
            None => Atom::Text(s.into()),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Atom::Uuid(_) => None,
            Atom::Word(w) => Some(crate::vocab::word(*w)),
            Atom::Text(s) => Some(s),
        }
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Atom {
        Atom::Text(s.into())
    }
}

/// Text compares equal however it is held (`Word` of "voice" == `Text("voice")`).
impl PartialEq for Atom {
    fn eq(&self, other: &Atom) -> bool {
        match (self, other) {
            (Atom::Uuid(a), Atom::Uuid(b)) => a == b,
            (Atom::Uuid(_), _) | (_, Atom::Uuid(_)) => false,
            _ => self.as_text() == other.as_text(),
        }
    }
}

/// Consistent with `PartialEq`: text hashes the same however it is held.
impl Hash for Atom {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            Atom::Uuid(v) => v.get().hash(h),
            _ => self.as_text().hash(h),
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Uuid(v) => Uuid(v.get()).fmt(f),
            _ => f.write_str(self.as_text().unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uuid_round_trips() {
        let s = "2f7bf00a-0fc2-4d6a-9b56-92238191433e";
        let v = parse_uuid(s).unwrap();
        assert_eq!(Uuid(v).to_string(), s);
        assert_eq!(Uuid(0).to_string(), "00000000-0000-0000-0000-000000000000");
        assert_eq!(
            Uuid(u128::MAX).to_string(),
            "ffffffff-ffff-ffff-ffff-ffffffffffff"
        );
    }

    #[test]
    fn atoms_are_small() {
        assert_eq!(std::mem::size_of::<Atom>(), 24);
        assert_eq!(std::mem::size_of::<Option<Atom>>(), 24);
    }

    #[test]
    fn upper_and_mixed_case_uuids_are_the_same_id() {
        let lower = "2f7bf00a-0fc2-4d6a-9b56-92238191433e";
        for s in [
            lower.to_uppercase(),
            "2F7bf00a-0Fc2-4d6A-9b56-92238191433E".into(),
        ] {
            assert_eq!(parse_uuid(&s), parse_uuid(lower), "{s}");
            assert_eq!(Atom::id(&s), Atom::id(lower));
            assert_eq!(Atom::id(&s).to_string(), lower);
        }
    }

    #[test]
    fn other_spellings_stay_text() {
        for s in [
            "2f7bf00a0fc24d6a9b5692238191433e",
            "{2f7bf00a-0fc2-4d6a-9b56-92238191433e}",
            "2f7bf00a-0fc2-4d6a-9b56-92238191433g",
            "2f7bf00a-0fc2-4d6a-9b56_92238191433e",
            "",
            "evt-1",
        ] {
            assert_eq!(parse_uuid(s), None, "{s}");
            assert_eq!(Atom::id(s), Atom::Text(s.into()));
            assert!(matches!(Atom::id(s), Atom::Text(_)));
        }
    }
}
