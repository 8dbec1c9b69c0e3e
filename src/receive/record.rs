//! What a delivery becomes on disk: the lines of the spool. An EventBridge body is one event;
//! a Firehose body is `{"requestId","timestamp","records":[{"data":"<base64>"}]}`, each
//! record one event or several (concatenated or one per line, split with the same framing
//! `correlate` reads). Each event is checked to be a JSON object and written as one line,
//! minified when it spanned several. Pure: bytes in, lines out.

use base64::Engine;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::input::framing::Framer;

/// A body or record that is not a JSON object.
#[derive(Debug, PartialEq, Eq)]
pub struct NotJson;

/// Appends `event` to `out` as one line (with its newline). Whitespace around it is dropped;
/// an event spanning lines is minified.
pub fn push_event(event: &[u8], out: &mut Vec<u8>) -> Result<(), NotJson> {
    let event = event.trim_ascii();
    if event.first() != Some(&b'{') || serde_json::from_slice::<IgnoredAny>(event).is_err() {
        return Err(NotJson);
    }
    if memchr::memchr2(b'\n', b'\r', event).is_some() {
        minify(event, out);
    } else {
        out.extend_from_slice(event);
    }
    out.push(b'\n');
    Ok(())
}

/// Copies valid JSON without the whitespace outside strings (raw line breaks are never inside
/// a JSON string, so the result is one line and means exactly the same: numbers and strings
/// are untouched).
fn minify(json: &[u8], out: &mut Vec<u8>) {
    let (mut in_str, mut escaped) = (false, false);
    for &b in json {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else if b == b'"' {
            in_str = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        out.push(b);
    }
}

/// Why a `Content-Encoding: gzip` body could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum Inflate {
    TooLarge,
    Corrupt,
}

/// Decompresses a gzip'd body (Firehose sends one when its `ContentEncoding` is `GZIP`),
/// stopping as soon as it would exceed `limit` bytes: a small bomb cannot take the memory.
pub fn gunzip(body: &[u8], limit: u64) -> Result<Vec<u8>, Inflate> {
    use std::io::Read;
    let mut out = Vec::with_capacity(body.len() * 4);
    flate2::read::MultiGzDecoder::new(body)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|_| Inflate::Corrupt)?;
    if out.len() as u64 > limit {
        return Err(Inflate::TooLarge);
    }
    Ok(out)
}

/// A Firehose HTTP-endpoint delivery.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    request_id: String,
    records: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    data: String,
}

/// A Firehose delivery taken apart.
#[derive(Debug, Default)]
pub struct Unpacked {
    pub request_id: String,
    /// The events, one per line.
    pub lines: Vec<u8>,
    pub events: usize,
    pub records: usize,
    /// Records (decoded when they were base64) holding something that is not a JSON object;
    /// the events found beside it in the same record are in `lines` all the same.
    pub bad_records: Vec<Vec<u8>>,
}

/// Takes a Firehose body apart; `Err` with a message when it is not a Firehose delivery.
pub fn unpack_firehose(body: &[u8]) -> Result<Unpacked, String> {
    let delivery: Delivery =
        serde_json::from_slice(body).map_err(|e| format!("not a Firehose delivery request: {e}"))?;
    let mut out = Unpacked {
        request_id: delivery.request_id,
        records: delivery.records.len(),
        ..Unpacked::default()
    };
    for record in delivery.records {
        match base64::engine::general_purpose::STANDARD.decode(record.data.as_bytes()) {
            Ok(data) => {
                let (events, clean) = push_events(&data, &mut out.lines);
                out.events += events;
                if !clean {
                    out.bad_records.push(data);
                }
            }
            Err(_) => out.bad_records.push(record.data.into_bytes()),
        }
    }
    Ok(out)
}

/// Appends the events of one record (one object, or several in any framing) to `out`: how
/// many, and whether everything in it was an event.
fn push_events(data: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
    if push_event(data, out).is_ok() {
        return (1, true);
    }
    let (mut events, mut clean) = (0, true);
    let mut framer = Framer::new(data);
    while let Some(batch) = framer.next_batch() {
        clean &= batch.problems.is_empty();
        for span in &batch.records {
            match push_event(batch.record(span), out) {
                Ok(()) => events += 1,
                Err(NotJson) => clean = false,
            }
        }
    }
    (events, clean && events > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(event: &str) -> Result<String, NotJson> {
        let mut out = Vec::new();
        push_event(event.as_bytes(), &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn an_event_is_one_line() {
        assert_eq!(line(r#" {"id":"a"} "#).unwrap(), "{\"id\":\"a\"}\n");
        assert_eq!(
            line("{\n  \"id\": \"a b\",\r\n  \"n\": [1, 2.50, {\"s\": \"x\\\" y\"}]\n}\n").unwrap(),
            "{\"id\":\"a b\",\"n\":[1,2.50,{\"s\":\"x\\\" y\"}]}\n"
        );
        // Already on one line: kept byte for byte, inner spaces and all.
        assert_eq!(line(r#"{"a": 1}"#).unwrap(), "{\"a\": 1}\n");
    }

    #[test]
    fn anything_but_an_object_is_not_an_event() {
        for bad in ["", "nope", "[1]", "\"s\"", "{\"a\":", "{} {}", "{}x"] {
            assert_eq!(line(bad), Err(NotJson), "{bad:?}");
        }
    }

    fn delivery(records: &[&[u8]]) -> Vec<u8> {
        let records: Vec<_> = records
            .iter()
            .map(|r| serde_json::json!({"data": base64::engine::general_purpose::STANDARD.encode(r)}))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "requestId": "req-1", "timestamp": 1_772_445_600_000_i64, "records": records
        }))
        .unwrap()
    }

    #[test]
    fn firehose_records_in_any_framing() {
        let body = delivery(&[
            b"{\"id\":\"1\"}",
            b"{\"id\":\"2\"}{\"id\":\"3\"}",
            b"{\"id\":\"4\"}\n{\"id\":\"5\"}\n",
            b"{\n \"id\": \"6\"\n}",
        ]);
        let u = unpack_firehose(&body).unwrap();
        assert_eq!(u.request_id, "req-1");
        assert_eq!((u.records, u.events), (4, 6));
        assert!(u.bad_records.is_empty());
        let lines: Vec<&str> = std::str::from_utf8(&u.lines).unwrap().lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[5], "{\"id\":\"6\"}");
    }

    #[test]
    fn a_record_that_is_not_json_is_set_aside() {
        let body = delivery(&[b"{\"id\":\"1\"}", b"not json", b"{\"id\":\"2\"}garbage"]);
        let u = unpack_firehose(&body).unwrap();
        assert_eq!(u.events, 2);
        assert_eq!(
            u.bad_records,
            [b"not json".to_vec(), b"{\"id\":\"2\"}garbage".to_vec()]
        );
        let bad_base64 = br#"{"requestId":"r","timestamp":1,"records":[{"data":"%%%"}]}"#;
        let u = unpack_firehose(bad_base64).unwrap();
        assert_eq!((u.events, u.bad_records.len()), (0, 1));
    }

    #[test]
    fn gzip_bodies_within_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&[b'x'; 1000]).unwrap();
        let body = gz.finish().unwrap();
        assert_eq!(gunzip(&body, 1000).unwrap().len(), 1000);
        assert_eq!(gunzip(&body, 999), Err(Inflate::TooLarge));
        assert_eq!(gunzip(b"\x1f\x8bnot gzip", 1000), Err(Inflate::Corrupt));
    }

    #[test]
    fn a_body_that_is_no_delivery() {
        assert!(unpack_firehose(b"{\"records\":[]}").is_err());
        assert!(unpack_firehose(b"nope").is_err());
    }
}
