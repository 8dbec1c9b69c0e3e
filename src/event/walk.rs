//! The fast path of record parsing: one forward walk that decodes only the fields gcorr reads
//! and skips everything else, building nothing.
//!
//! It handles the common case — the fields gcorr needs are plain strings, numbers or null, with
//! no escapes — and gives up (`None`) on anything else: an escape in a needed string, a field of
//! another type, a repeated key, anything that does not look like JSON. The caller then parses
//! the record with the full deserializer, which handles every case and words the errors, so the
//! walk never decides that a record is invalid. Skipped values are checked for structure only
//! (strings closed, brackets matched); UTF-8 is checked for the whole record, and raw control
//! characters in strings, which JSON forbids, make it give up too (so a record's fate never
//! depends on which path read it). In a plain record (compact ASCII, no escapes: nearly all),
//! every quote is found in one pass first, and a string ends at the next one; in any other,
//! strings are scanned 16 bytes at a time for their end, an escape or a control character at
//! once ([`string_stop`]).

use std::borrow::Cow;

use super::{Body, Detail, Record, Str, When};
use crate::scan::{INDEXED, next_quote, quote_bits, string_stop};

struct Walk<'a, S> {
    b: &'a [u8],
    i: usize,
    /// How a string's end is found.
    stops: S,
}

/// Where a string's plain text stops (see [`string_stop`]). The walk is compiled once for
/// each way, so the common one is a bit look-up inlined where strings are read.
trait Stops {
    fn stop(&self, b: &[u8], from: usize) -> Option<usize>;
}

/// The quotes of a plain record ([`quote_bits`]): each string ends at the next one.
struct Indexed<'q>(&'q [u64]);

impl Stops for Indexed<'_> {
    #[inline(always)]
    fn stop(&self, _: &[u8], from: usize) -> Option<usize> {
        next_quote(self.0, from)
    }
}

/// Any other record: each string is scanned for its end.
struct Scanned;

impl Stops for Scanned {
    #[inline]
    fn stop(&self, b: &[u8], from: usize) -> Option<usize> {
        string_stop(b, from)
    }
}

/// Reads a record into `rec` (empty), or `None` when the full deserializer must decide.
pub(super) fn record<'a, 'r>(
    bytes: &'a [u8],
    rec: &'r mut Record<'a, Detail<'a>>,
) -> Option<&'r mut Record<'a, Detail<'a>>> {
    // Nearly every record is compact ASCII without escapes: its quotes are found in one pass,
    // which also tells that it is UTF-8.
    let mut bits = [0u64; INDEXED / 64];
    let plain = bytes.len() <= INDEXED && quote_bits(bytes, &mut bits);
    if !plain && !bytes.is_ascii() {
        simdutf8::basic::from_utf8(bytes).ok()?;
    }
    if plain {
        walk(bytes, Indexed(&bits[..bytes.len().div_ceil(64)]), rec)
    } else {
        walk(bytes, Scanned, rec)
    }
}

fn walk<'a, 'r, S: Stops>(
    b: &'a [u8],
    stops: S,
    rec: &'r mut Record<'a, Detail<'a>>,
) -> Option<&'r mut Record<'a, Detail<'a>>> {
    let mut w = Walk { b, i: 0, stops };
    let mut seen = 0u32;
    w.object(|w, key| {
        let bit = match key {
            b"id" => w.string().map(|v| rec.id = v).map(|_| 1),
            b"time" => w.string().map(|v| rec.time = v).map(|_| 2),
            b"detail-type" => w.string().map(|v| rec.detail_type = v).map(|_| 4),
            b"detail" => w.detail(rec.detail.insert(Detail::default())).map(|_| 8),
            b"event_id" => w.string().map(|v| rec.event_id = v).map(|_| 16),
            b"conversationId" => w.string().map(|v| rec.conversation_id = v).map(|_| 32),
            b"channel" => w.string().map(|v| rec.channel = v).map(|_| 64),
            b"type" => w.string().map(|v| rec.kind = v).map(|_| 128),
            b"timestamp" => w.when().map(|v| rec.timestamp = v).map(|_| 256),
            b"data" => w.body(rec.data.insert(Body::default())).map(|_| 512),
            _ => w.skip_value().map(|_| 0),
        }?;
        // A repeated key is the deserializer's to report.
        (seen & bit == 0).then(|| seen |= bit)
    })?;
    w.ws();
    (w.i == w.b.len()).then_some(rec)
}

impl<'a, S: Stops> Walk<'a, S> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.ws();
        self.b[self.i..].starts_with(word).then(|| self.i += word.len())
    }

    /// A string without escapes, as text.
    fn plain(&mut self) -> Option<&'a str> {
        let bytes = self.plain_bytes()?;
        // SAFETY: `record` checked that the whole record is UTF-8, and these bytes lie between
        // two ASCII quotes, so they start and end on character boundaries: valid UTF-8.
        // (Checking again cost 6% of a whole run.)
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }

    /// A string without escapes or control characters, as bytes (keys: compared, never
    /// converted).
    fn plain_bytes(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let end = self.string_stop(start)?;
        if self.b[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        Some(&self.b[start..end])
    }

    /// Where the string text from `from` stops: see [`string_stop`].
    fn string_stop(&self, from: usize) -> Option<usize> {
        self.stops.stop(self.b, from)
    }

    fn string(&mut self) -> Option<Str<'a>> {
        match self.peek()? {
            b'"' => Some(Str(Some(Cow::Borrowed(self.plain()?)))),
            b'n' => self.literal(b"null").map(|_| Str(None)),
            _ => None,
        }
    }

    fn when(&mut self) -> Option<Option<When<'a>>> {
        match self.peek()? {
            b'"' => Some(Some(When::Iso(Cow::Borrowed(self.plain()?)))),
            b'n' => self.literal(b"null").map(|_| None),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.b.get(self.i) {
                    self.i += 1;
                }
                let digits = &self.b[start..self.i];
                let v = match integer(digits) {
                    Some(n) => n as f64,
                    // SAFETY: `record` checked the record is UTF-8; these are ASCII bytes.
                    None => unsafe { std::str::from_utf8_unchecked(digits) }
                        .parse::<f64>()
                        .ok()?,
                };
                Some(Some(When::Millis(v)))
            }
            _ => None,
        }
    }

    fn detail(&mut self, d: &mut Detail<'a>) -> Option<()> {
        let mut seen = 0u32;
        self.object(|w, key| {
            let bit = match key {
                b"topicName" => w.string().map(|v| d.topic = v).map(|_| 1),
                b"timestamp" => w.when().map(|v| d.timestamp = v).map(|_| 2),
                b"eventBody" => w.body(d.body.insert(Body::default())).map(|_| 4),
                _ => w.skip_value().map(|_| 0),
            }?;
            (seen & bit == 0).then(|| seen |= bit)
        })?;
        Some(())
    }

    fn body(&mut self, b: &mut Body<'a>) -> Option<()> {
        let mut seen = 0u32;
        self.object(|w, key| {
            let field = match key {
                b"eventTime" => {
                    return w
                        .when()
                        .map(|v| b.event_time = v)
                        .and_then(|_| once(&mut seen, 1));
                }
                b"conversationId" => (&mut b.conversation_id, 2),
                b"id" => (&mut b.id, 4),
                b"participantId" => (&mut b.participant_id, 8),
                b"sessionId" => (&mut b.session_id, 16),
                b"mediaType" => (&mut b.media_type, 32),
                b"direction" => (&mut b.direction, 64),
                b"queueId" => (&mut b.queue_id, 128),
                b"userId" => (&mut b.user_id, 256),
                b"disconnectType" => (&mut b.disconnect_type, 512),
                b"wrapupCode" => (&mut b.wrapup_code, 1024),
                b"acdOutcome" => (&mut b.acd_outcome, 2048),
                _ => return w.skip_value(),
            };
            *field.0 = w.string()?;
            once(&mut seen, field.1)
        })?;
        Some(())
    }

    /// `{ "key": value, ... }`, handing each key to `f`, which must consume its value.
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.plain_bytes()?;
            self.eat(b':')?;
            f(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let at = self.string_stop(self.i)?;
            match self.b[at] {
                b'"' => {
                    self.i = at + 1;
                    return Some(());
                }
                // The escaped byte is skipped (a control character there is as wrong as anywhere).
                b'\\' if self.b.get(at + 1).is_some_and(|&c| c >= 0x20) => self.i = at + 2,
                _ => return None,
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => self.skip_container(),
            _ => {
                let start = self.i;
                while let Some(c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }

    /// Skips a whole object or array, iteratively (any depth).
    fn skip_container(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.b.get(self.i)? {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
    }
}

/// Plain decimal digits (epoch milliseconds, the common time) as an integer, without the
/// general number parser; `None` for anything else (signs, fractions, exponents, overflow).
fn integer(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    digits.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

fn once(seen: &mut u32, bit: u32) -> Option<()> {
    (*seen & bit == 0).then(|| *seen |= bit)
}

#[cfg(test)]
mod tests {
    use super::super::{Parsed, normalise, parse_record};
    use super::*;

    /// The deserializer's reading of a record, for comparison.
    fn slow(bytes: &[u8]) -> Result<Parsed, String> {
        let mut rec: Record<Detail> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        normalise(&mut rec, None)
    }

    fn fast(bytes: &[u8]) -> Option<Result<Parsed, String>> {
        record(bytes, &mut Record::default()).map(|r| normalise(r, None))
    }

    #[test]
    fn agrees_with_the_deserializer_on_every_fixture() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let mut walked = 0;
        for file in ["events.ndjson", "messy/flat.ndjson", "messy/bad-lines.ndjson"] {
            let text = std::fs::read(format!("{dir}/{file}")).unwrap();
            for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if let Some(r) = fast(line) {
                    walked += 1;
                    assert_eq!(r, slow(line), "{}", String::from_utf8_lossy(line));
                }
                assert_eq!(parse_record(line, false).is_ok(), slow(line).is_ok());
            }
        }
        assert!(walked > 50, "the fast path took {walked} records");
    }

    #[test]
    fn gives_up_on_what_it_does_not_handle() {
        let hard: [&[u8]; 11] = [
            br#"{"id":"e\u0031","detail":{}}"#,        // an escape in a needed string
            br#"{"event_id":7,"conversationId":"c"}"#, // a number where a string is read
            br#"{"id":"a","id":"b"}"#,                 // a repeated key
            br#"{"id":"a"} x"#,                        // trailing bytes
            br#"{"id":"a","x":"unterminated}"#,
            br#"{"id":"a","x":[1,{"y":"\"}"]"#, // a cut container
            b"{\"id\":\"\xff\"}",               // not UTF-8
            br#"{"id":"a","x":"ends with \"#,
            b"{\"id\":\"a\x00b\"}",            // a raw control character in a string...
            b"{\"id\":\"a\",\"x\":[\"\tb\"]}", // ...skipped or not
            b"{\"id\":\"a\",\n\"x\":\"\x1b[31m\"}", // ...and where whitespace has some too
        ];
        for r in hard {
            assert!(fast(r).is_none(), "{}", String::from_utf8_lossy(r));
        }
    }

    #[test]
    fn skips_anything_nested_and_escaped() {
        let r = br#"{"x":{"a":[1,2,{"b":"}]\"{["}],"c":null},"id":"e1","y":-1.5e3,"z":true,
            "detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","w":[[[]]],
            "eventBody":{"eventTime":1772438400000,"queueId":null,"attributes":{"k":"v\n"}}}}"#;
        let got = fast(r).expect("handled");
        assert_eq!(got, slow(r));
        let Ok(Parsed::Event(e)) = got else { panic!() };
        assert_eq!(e.time, 1_772_438_400_000);
        assert_eq!(e.queue, None);
    }
}
