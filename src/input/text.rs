//! Text encodings: inputs are UTF-8, or UTF-16 with a byte-order mark (what PowerShell's
//! `Out-File` and `>` write), which is decoded to UTF-8 on the fly. Text that is recognisably
//! in another encoding (UTF-16 without its mark, UTF-32) is refused with one message naming
//! the problem, rather than read as a stream of broken records. Positions in a decoded input
//! (byte offsets) count its UTF-8 form; line numbers are the same in both.

use std::io::{self, BufRead, Read};

/// What the first bytes of a stream say about its encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// UTF-16 with a byte-order mark (two bytes, to skip).
    Utf16 {
        big_endian: bool,
    },
    /// Not readable: what it looks like.
    Unsupported(&'static str),
}

/// Judges the encoding from the start of a stream. JSON begins with ASCII (`{`, `[`,
/// whitespace), so text whose every other byte is NUL is UTF-16 (or UTF-32) without a mark.
pub fn sniff(head: &[u8]) -> Encoding {
    if head.starts_with(&[0xFF, 0xFE, 0, 0]) || head.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return Encoding::Unsupported("UTF-32 text");
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Encoding::Utf16 { big_endian: false };
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Encoding::Utf16 { big_endian: true };
    }
    let sample = &head[..head.len().min(64) & !1];
    if sample.len() >= 4 {
        let zero_at = |parity: usize| {
            sample
                .iter()
                .enumerate()
                .all(|(i, &b)| (b == 0) == (i % 2 == parity))
        };
        if zero_at(1) || zero_at(0) {
            return Encoding::Unsupported("UTF-16 text without a byte-order mark");
        }
    }
    Encoding::Utf8
}

/// The message for an input gcorr cannot decode.
pub fn unsupported(what: &str) -> String {
    format!(
        "{what}: gcorr reads UTF-8, or UTF-16 with a byte-order mark; convert it first \
         (iconv -t UTF-8)"
    )
}

/// Decodes UTF-16 (after its byte-order mark) into UTF-8. Unpaired surrogates and a
/// trailing odd byte become U+FFFD, as a UTF-8 decoder would treat bad bytes.
pub struct Utf16<R> {
    inner: R,
    big_endian: bool,
    /// Decoded bytes not yet handed out: `out[at..]`.
    out: Vec<u8>,
    at: usize,
    /// A high surrogate waiting for its pair.
    high: Option<u16>,
    /// The first byte of a code unit split across reads.
    odd: Option<u8>,
    done: bool,
}

impl<R: BufRead> Utf16<R> {
    pub fn new(inner: R, big_endian: bool) -> Self {
        Utf16 {
            inner,
            big_endian,
            out: Vec::new(),
            at: 0,
            high: None,
            odd: None,
            done: false,
        }
    }

    /// Decodes the next buffer of input into `out`.
    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.at = 0;
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            if self.odd.take().is_some() || self.high.take().is_some() {
                push(&mut self.out, char::REPLACEMENT_CHARACTER);
            }
            self.done = true;
            return Ok(());
        }
        let n = buf.len();
        let mut bytes = buf.iter().copied();
        let mut first = self.odd.take();
        loop {
            let (a, b) = match (first.take(), bytes.next()) {
                (Some(a), Some(b)) => (a, b),
                (None, Some(a)) => match bytes.next() {
                    Some(b) => (a, b),
                    None => {
                        self.odd = Some(a);
                        break;
                    }
                },
                (Some(a), None) => {
                    self.odd = Some(a);
                    break;
                }
                (None, None) => break,
            };
            let unit = if self.big_endian {
                u16::from_be_bytes([a, b])
            } else {
                u16::from_le_bytes([a, b])
            };
            decode_unit(&mut self.out, &mut self.high, unit);
        }
        self.inner.consume(n);
        Ok(())
    }
}

/// Appends one UTF-16 code unit's character to `out`, pairing surrogates through `high`.
fn decode_unit(out: &mut Vec<u8>, high: &mut Option<u16>, unit: u16) {
    match (high.take(), unit) {
        (Some(h), 0xDC00..=0xDFFF) => {
            let c = 0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
            push(out, char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        (h, _) => {
            if h.is_some() {
                push(out, char::REPLACEMENT_CHARACTER);
            }
            match unit {
                0xD800..=0xDBFF => *high = Some(unit),
                0xDC00..=0xDFFF => push(out, char::REPLACEMENT_CHARACTER),
                _ => push(out, char::from_u32(u32::from(unit)).expect("not a surrogate")),
            }
        }
    }
}

fn push(out: &mut Vec<u8>, c: char) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

impl<R: BufRead> Read for Utf16<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        text.encode_utf16()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    }

    /// Decodes `bytes` fed `step` bytes at a time.
    fn decode(bytes: &[u8], big_endian: bool, step: usize) -> String {
        let reader = io::BufReader::with_capacity(step, bytes);
        let mut out = String::new();
        Utf16::new(reader, big_endian).read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn decodes_both_byte_orders_across_any_split() {
        let text = "{\"a\":\"é 😀 \u{FEFF}x\"}\n";
        for be in [false, true] {
            for step in [1, 2, 3, 5, 64] {
                assert_eq!(decode(&utf16(text, be), be, step), text, "be {be}, step {step}");
            }
        }
    }

    #[test]
    fn broken_units_become_replacement_characters() {
        let mut lone = utf16("a", false);
        lone.extend([0x00, 0xD8]); // a high surrogate...
        lone.extend(utf16("b", false)); // ...not followed by a low one
        lone.extend([0x00, 0xDC, b'c']); // a lone low surrogate, then an odd byte
        assert_eq!(decode(&lone, false, 3), "a\u{FFFD}b\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn sniffs_encodings() {
        assert_eq!(sniff(b"{\"a\":1}"), Encoding::Utf8);
        assert_eq!(sniff(b""), Encoding::Utf8);
        assert_eq!(sniff(b"\xFF\xFE{\0"), Encoding::Utf16 { big_endian: false });
        assert_eq!(sniff(b"\xFE\xFF\0{"), Encoding::Utf16 { big_endian: true });
        assert!(matches!(sniff(b"\xFF\xFE\0\0{\0\0\0"), Encoding::Unsupported(_)));
        assert!(matches!(
            sniff(&utf16("{\"id\":1}", false)),
            Encoding::Unsupported(_)
        ));
        assert!(matches!(
            sniff(&utf16("{\"id\":1}", true)),
            Encoding::Unsupported(_)
        ));
        // NUL bytes here and there are bad records, not an encoding.
        assert_eq!(sniff(b"\x00\x01garbage{\"a\":1}"), Encoding::Utf8);
    }
}
