//! Compact identifiers: canonical lower-case UUIDs held as `u128`, everything else as text.
//!
//! Genesys ids (conversations, participants, sessions, queues, users) and EventBridge event ids
//! are UUIDs in their canonical hyphenated lower-case form. Holding them as 16 bytes instead of a
//! 36-byte string is what keeps the per-event state small. Only the exact canonical spelling is
//! packed, so every id prints back byte for byte as it was read.

use std::fmt;

/// Parses a canonical `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` lower-case UUID.
pub fn parse_uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | d as u128;
    }
    Some(v)
}

/// A packed UUID that displays in canonical form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Uuid(pub u128);

impl Uuid {
    pub fn encode(self, out: &mut [u8; 36]) -> &str {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut j = 0;
        for i in 0..32 {
            if matches!(i, 8 | 12 | 16 | 20) {
                out[j] = b'-';
                j += 1;
            }
            out[j] = HEX[((self.0 >> (124 - 4 * i)) & 0xf) as usize];
            j += 1;
        }
        // Only ASCII hex digits and hyphens were written.
        std::str::from_utf8(out).expect("ascii")
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; 36]))
    }
}

/// An id or word as read from one record, before interning: a packed UUID, one of the
/// vocabulary's static spellings, or other text.
#[derive(Clone, Debug, Eq)]
pub enum Atom {
    Uuid(u128),
    Static(&'static str),
    Text(Box<str>),
}

impl Atom {
    /// An id: packed when it is a canonical UUID, kept as text otherwise.
    pub fn id(s: &str) -> Atom {
        match parse_uuid(s) {
            Some(v) => Atom::Uuid(v),
            None => Atom::Text(s.into()),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Atom::Uuid(_) => None,
            Atom::Static(s) => Some(s),
            Atom::Text(s) => Some(s),
        }
    }
}

/// Text compares equal however it is held (`Static("voice") == Text("voice")`).
impl PartialEq for Atom {
    fn eq(&self, other: &Atom) -> bool {
        match (self, other) {
            (Atom::Uuid(a), Atom::Uuid(b)) => a == b,
            (Atom::Uuid(_), _) | (_, Atom::Uuid(_)) => false,
            _ => self.as_text() == other.as_text(),
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Uuid(v) => Uuid(*v).fmt(f),
            Atom::Static(s) => f.write_str(s),
            Atom::Text(s) => f.write_str(s),
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
    fn non_canonical_spellings_stay_text() {
        for s in [
            "2F7BF00A-0FC2-4D6A-9B56-92238191433E",
            "2f7bf00a0fc24d6a9b5692238191433e",
            "{2f7bf00a-0fc2-4d6a-9b56-92238191433e}",
            "2f7bf00a-0fc2-4d6a-9b56-92238191433g",
            "2f7bf00a-0fc2-4d6a-9b56_92238191433e",
            "",
            "evt-1",
        ] {
            assert_eq!(parse_uuid(s), None, "{s}");
            assert_eq!(Atom::id(s), Atom::Text(s.into()));
        }
    }
}
