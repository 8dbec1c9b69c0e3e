//! JSON output: JSON Lines (one timeline per line) and a single JSON array, and the one
//! encoding of a timeline as JSON that both (and the html report) use.
//!
//! A timeline is written field by field straight into the output buffer: ids, times and
//! vocabulary words are copied as they are (they never need escaping), any other text goes
//! through the JSON serializer when it needs escaping, and so do the API's media sessions and
//! the enrichment.
//! The bytes are those a serde serializer would write for the same fields, in the same order.

use anyhow::Result;

use super::Encoder;
use crate::correlate::{Event, Id};
use crate::intern::{Interner, Sym};
use crate::time::Millis;
use crate::timeline::{Participant, Timeline};

pub struct Lines;

impl Encoder for Lines {
    fn chunk(
        &self,
        _: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for t in timelines {
            timeline(&t, out)?;
            out.push(b'\n');
        }
        Ok(())
    }
}

pub struct Array;

impl Encoder for Array {
    fn header(&self, out: &mut Vec<u8>) -> Result<()> {
        out.push(b'[');
        Ok(())
    }

    fn chunk(
        &self,
        first: bool,
        timelines: &mut dyn Iterator<Item = Timeline<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for (i, t) in timelines.enumerate() {
            out.extend_from_slice(if first && i == 0 { b"\n" } else { b",\n" });
            timeline(&t, out)?;
        }
        Ok(())
    }

    fn footer(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(b"\n]\n");
        Ok(())
    }
}

/// Appends `t` as one compact JSON object.
fn timeline(t: &Timeline, out: &mut Vec<u8>) -> Result<()> {
    let syms = t.syms();
    out.extend_from_slice(b"{\"conversation_id\":");
    sym(out, syms, t.conversation_id())?;
    out.extend_from_slice(b",\"start\":");
    time(out, t.group.start);
    out.extend_from_slice(b",\"end\":");
    time(out, t.group.end);
    out.extend_from_slice(b",\"duration_ms\":");
    out.extend_from_slice(itoa::Buffer::new().format(t.duration_ms()).as_bytes());
    out.extend_from_slice(b",\"media_types\":[");
    for (i, &m) in t.media_types.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        sym(out, syms, m)?;
    }
    out.extend_from_slice(b"],\"handoffs\":[");
    for (i, h) in t.handoffs.iter().enumerate() {
        out.extend_from_slice(if i > 0 { b",{\"from\":" } else { b"{\"from\":" });
        sym(out, syms, h.from)?;
        out.extend_from_slice(b",\"to\":");
        sym(out, syms, h.to)?;
        out.extend_from_slice(b",\"at\":");
        time(out, h.at);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"event_count\":");
    out.extend_from_slice(itoa::Buffer::new().format(t.event_count()).as_bytes());
    out.extend_from_slice(b",\"duplicates_dropped\":");
    out.extend_from_slice(itoa::Buffer::new().format(t.duplicates()).as_bytes());
    out.extend_from_slice(b",\"flags\":[");
    for (i, f) in t.group.flags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        plain(out, f.name());
    }
    out.extend_from_slice(b"],\"participants\":[");
    for (i, p) in t.participants.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        participant(out, p)?;
    }
    out.push(b']');
    if !t.summary {
        out.extend_from_slice(b",\"events\":[");
        for (i, e) in t.events().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            event(t, e, out)?;
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"enrichment\":");
    sonic_rs::to_writer(&mut *out, t.enrichment)?;
    out.push(b'}');
    Ok(())
}

fn participant(out: &mut Vec<u8>, p: &Participant) -> Result<()> {
    out.extend_from_slice(b"{\"participant_id\":");
    text(out, &p.participant_id, |_| ())?;
    for (key, value) in [
        (&b",\"purpose\":"[..], p.purpose),
        (b",\"name\":", p.name),
        (b",\"user_id\":", p.user_id.as_deref()),
        (b",\"queue_id\":", p.queue_id.as_deref()),
    ] {
        out.extend_from_slice(key);
        match value {
            Some(v) => text(out, v, |_| ())?,
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"media_types\":[");
    for (i, m) in p.media_types.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        text(out, m, |_| ())?;
    }
    out.extend_from_slice(b"],\"sessions\":");
    sonic_rs::to_writer(&mut *out, p.sessions)?;
    out.push(b'}');
    Ok(())
}

fn event(t: &Timeline, e: &Event, out: &mut Vec<u8>) -> Result<()> {
    let syms = t.syms();
    out.extend_from_slice(b"{\"event_id\":");
    id(out, syms, e.id)?;
    out.extend_from_slice(b",\"time\":");
    time(out, e.time);
    out.extend_from_slice(b",\"delivered\":");
    match e.lag.delivered(e.time) {
        Some(d) => time(out, d),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"lag_ms\":");
    match e.lag.ms(e.time) {
        Some(l) => out.extend_from_slice(itoa::Buffer::new().format(l).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"event_type\":");
    sym(out, syms, e.kind)?;
    out.extend_from_slice(b",\"media_type\":");
    opt(out, syms, e.media)?;
    for (key, value) in [
        (&b",\"participant_id\":"[..], e.participant),
        (b",\"session_id\":", e.session),
    ] {
        out.extend_from_slice(key);
        match value {
            Some(v) => id(out, syms, v)?,
            None => out.extend_from_slice(b"null"),
        }
    }
    for (key, value) in [
        (&b",\"direction\":"[..], e.direction),
        (b",\"queue_id\":", e.queue),
        (b",\"user_id\":", e.user),
        (b",\"disconnect_type\":", e.disconnect),
        (b",\"wrapup_code\":", e.wrapup),
    ] {
        out.extend_from_slice(key);
        opt(out, syms, value)?;
    }
    out.extend_from_slice(b",\"source\":");
    let (file, sep, n) = t.origin(e);
    text(out, file, |out| {
        out.push(sep as u8);
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    })?;
    out.push(b'}');
    Ok(())
}

fn sym(out: &mut Vec<u8>, syms: &Interner, s: Sym) -> Result<()> {
    match syms.text_or_uuid(s, &mut [0; 36]) {
        (uuid, true) => {
            plain(out, uuid);
            Ok(())
        }
        (other, false) => text(out, other, |_| ()),
    }
}

fn opt(out: &mut Vec<u8>, syms: &Interner, s: Option<Sym>) -> Result<()> {
    match s {
        Some(s) => sym(out, syms, s),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

fn id(out: &mut Vec<u8>, syms: &Interner, id: Id) -> Result<()> {
    match id {
        Id::Text(s) => sym(out, syms, s),
        Id::Uuid(_) => {
            plain(out, id.text(syms, &mut [0; 36]));
            Ok(())
        }
    }
}

fn time(out: &mut Vec<u8>, ms: i64) {
    plain(out, Millis(ms).encode(&mut [0; 24]));
}

/// A JSON string of `s` followed by what `then` appends (digits and separators only).
fn text(out: &mut Vec<u8>, s: &str, then: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        then(out);
        out.push(b'"');
    } else {
        let mut whole = s.as_bytes().to_vec();
        then(&mut whole);
        let whole = String::from_utf8(whole).expect("text and ASCII digits");
        sonic_rs::to_writer(&mut *out, &whole)?;
    }
    Ok(())
}

/// A string that needs no escaping (ids, times).
fn plain(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::Session;
    use crate::ids::Text;

    #[test]
    fn a_participant_is_the_json_its_fields_make() {
        let sessions = [Session {
            media_type: "voice".into(),
            ..Session::default()
        }];
        let p = Participant {
            participant_id: Text::uuid(0x2f7b_f00a_0fc2_4d6a_9b56_9223_8191_433e),
            purpose: Some("agent"),
            name: Some("Zoë \"Z\" O'Neil\\\n\u{1b}[31m"),
            user_id: None,
            queue_id: Some(Text::Borrowed("q-1")),
            media_types: [Text::Borrowed("voice"), Text::Borrowed("call\tback")]
                .into_iter()
                .collect(),
            sessions: &sessions,
        };
        let mut out = Vec::new();
        participant(&mut out, &p).unwrap();
        let want = serde_json::json!({
            "participant_id": "2f7bf00a-0fc2-4d6a-9b56-92238191433e",
            "purpose": "agent",
            "name": "Zoë \"Z\" O'Neil\\\n\u{1b}[31m",
            "user_id": null,
            "queue_id": "q-1",
            "media_types": ["voice", "call\tback"],
            "sessions": serde_json::to_value(&sessions).unwrap(),
        });
        let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(got, want);
        // Compact, and the fields in their documented order.
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                r#"{"participant_id":"2f7bf00a-0fc2-4d6a-9b56-92238191433e","purpose":"agent","name":"Zo"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#","user_id":null,"queue_id":"q-1","media_types":["voice","call\tback"],"sessions":[{"#
            ),
            "{text}"
        );
    }
}
