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

/// Parses a hyphenated `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` UUID, in any case.
pub fn parse_uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    // The 32 digits as four runs of 8, each decoded at once: 0..8, 9..13 with 14..18,
    // 19..23 with 24..28, and 28..36.
    let word = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")));
    let eight = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let runs = [
        eight(0),
        word(9) | word(14) << 32,
        word(19) | word(24) << 32,
        eight(28),
    ];
    runs.iter()
        .try_fold(0u128, |acc, &run| Some(acc << 32 | u128::from(hex8(run)?)))
}

/// Eight ASCII hex digits (either case, first digit in the low byte) as the number they
/// spell, or `None` if any byte is not a hex digit. All bytes at once, no branch per digit.
fn hex8(x: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    // Below 0x80, adding `0x80 - lo` sets a byte's top bit exactly when it is at least `lo`,
    // and adding `0x7f - hi` leaves it clear exactly when it is at most `hi`: no carries
    // cross bytes.
    let at_least = |v: u64, lo: u64| v + ONES * (0x80 - lo);
    let at_most = |v: u64, hi: u64| !(v + ONES * (0x7f - hi));
    let digit = at_least(x, 0x30) & at_most(x, 0x39);
    let lower = x | (ONES * 0x20);
    let letter = at_least(lower, 0x61) & at_most(lower, 0x66);
    if x & HIGH != 0 || (digit | letter) & HIGH != HIGH {
        return None;
    }
    // '0'..'9' end in their value; 'a'..'f' and 'A'..'F' in 1..6, and have bit 6 set: add 9.
    let n = (x & (ONES * 0x0f)) + ((x >> 6) & ONES) * 9;
    // Pair the nibbles into bytes, the bytes into a word: the first digit is the most
    // significant.
    let pairs = ((n << 4) | (n >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    let word = (quads | (quads >> 16)) as u32;
    Some(word.swap_bytes())
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

/// Text as output shows it, without allocating: borrowed, or a packed UUID spelled into the
/// value itself.
#[derive(Clone, Copy)]
pub enum Text<'a> {
    Borrowed(&'a str),
    Uuid([u8; 36]),
}

impl<'a> Text<'a> {
    pub fn uuid(v: u128) -> Text<'a> {
        let mut buf = [0; 36];
        Uuid(v).encode(&mut buf);
        Text::Uuid(buf)
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            // SAFETY: only `Text::uuid` builds this variant, from `Uuid::encode`'s ASCII.
            Text::Uuid(b) => unsafe { std::str::from_utf8_unchecked(b) },
        }
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Text<'_> {}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
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

    /// The digits one by one, as the standard library reads them.
    fn reference(s: &str) -> Option<u128> {
        let b = s.as_bytes();
        let hyphens = [8, 13, 18, 23];
        if b.len() != 36 || hyphens.iter().any(|&h| b[h] != b'-') {
            return None;
        }
        let digits: String = s
            .char_indices()
            .filter(|(i, _)| !hyphens.contains(i))
            .map(|(_, c)| c)
            .collect();
        digits
            .bytes()
            .all(|c| c.is_ascii_hexdigit())
            .then(|| u128::from_str_radix(&digits, 16).expect("hex"))
    }

    #[test]
    fn every_byte_in_every_place_parses_as_the_reference_reads_it() {
        let base = *b"2f7bf00a-0fc2-4d6a-9b56-92238191433e";
        for at in 0..36 {
            for byte in 0..=255u8 {
                let mut b = base;
                b[at] = byte;
                // Bytes that are not UTF-8 on their own are checked through the digit reader.
                if let Ok(s) = std::str::from_utf8(&b) {
                    assert_eq!(parse_uuid(s), reference(s), "{s:?}");
                }
            }
        }
        for byte in 0..=255u8 {
            let mut run = *b"0123abcd";
            run[5] = byte;
            let want = run.iter().all(u8::is_ascii_hexdigit);
            assert_eq!(hex8(u64::from_le_bytes(run)).is_some(), want, "{byte:#x}");
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = Uuid(u128::from(x) << 64 | u128::from(x.rotate_left(29))).to_string();
            assert_eq!(parse_uuid(&s), reference(&s));
            assert_eq!(parse_uuid(&s.to_uppercase()), reference(&s));
        }
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
