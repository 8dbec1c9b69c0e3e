//! The event shapes gcorr reads and their one normalised form, [`ParsedEvent`].
//!
//! Pure: bytes of one record in, a normalised event (or the reason it is not one) out.
//! Only the fields the timeline needs are decoded; everything else is skipped without
//! allocating. Shapes recognised (see the reference's section 1):
//! 1. the EventBridge envelope of a `v2.detail.events.conversation.{id}.<kind>` topic;
//! 2. the envelope of a conversation-object topic (`v2.routing.queues.{id}.conversations*`,
//!    `v2.users.{id}.conversations*`), whose conversation id is `eventBody.id`;
//! 3. the flat `{"event_id","conversationId","channel","type","timestamp","data"}` shape;
//! 4. envelopes of any other topic: not conversation events, skipped without error.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::ids::Atom;
use crate::{time, vocab};

pub mod lag;
mod walk;

/// One conversation event, normalised, owning nothing of the record it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedEvent {
    pub id: Atom,
    pub conversation: Atom,
    /// Epoch milliseconds.
    pub time: i64,
    pub kind: Atom,
    pub media: Option<Atom>,
    pub participant: Option<Atom>,
    pub session: Option<Atom>,
    pub direction: Option<Atom>,
    pub queue: Option<Atom>,
    pub user: Option<Atom>,
    pub disconnect: Option<Atom>,
    pub wrapup: Option<Atom>,
    /// When EventBridge put the event on the bus (the envelope's `time`), epoch milliseconds;
    /// `None` in the flat shape.
    pub delivered: Option<i64>,
    /// An `acd.end` whose `acdOutcome` is `ABANDON`.
    pub abandoned: bool,
    /// A 128-bit digest of the whole `detail` (or flat record), for `--dedup content`.
    pub content: Option<u128>,
}

/// What one record turned out to be.
#[derive(Debug, PartialEq, Eq)]
// Events are the common case; boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    Event(ParsedEvent),
    NotConversation,
}

/// Reads one record. `digest` asks for [`ParsedEvent::content`].
pub fn parse_record(bytes: &[u8], digest: bool) -> Result<Parsed, String> {
    if digest {
        let rec: Record<&RawValue> = serde_json::from_slice(bytes).map_err(json_error)?;
        let content = rec.detail.map(|raw| digest128(raw.get().as_bytes()));
        let detail = match rec.detail {
            Some(raw) => Some(serde_json::from_str::<Detail>(raw.get()).map_err(json_error)?),
            None => None,
        };
        let content = content.or_else(|| Some(digest128(bytes)));
        normalise(&mut rec.with_detail(detail), content)
    } else if let Some(rec) = walk::record(bytes, &mut Record::default()) {
        // Filled in place and read by reference: the record is large, and moving it costs.
        normalise(rec, None)
    } else if memchr::memchr2_iter(b'{', b'[', bytes).count() < SHALLOW {
        // At most SHALLOW containers, so at most that deep: safe for sonic-rs, whose skipping
        // recurses without a depth limit.
        let mut rec: Record<Detail> = sonic_rs::from_slice(bytes).map_err(sonic_error)?;
        normalise(&mut rec, None)
    } else {
        // serde_json skips or refuses deep nesting without exhausting the stack.
        let mut rec: Record<Detail> = serde_json::from_slice(bytes).map_err(json_error)?;
        normalise(&mut rec, None)
    }
}

/// Records with fewer containers than this take the fast parser (real events have ~10).
const SHALLOW: usize = 100;

fn json_error(e: serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Eof => format!("truncated JSON ({e})"),
        _ => format!("invalid JSON: {e}"),
    }
}

fn sonic_error(e: sonic_rs::Error) -> String {
    // sonic-rs appends the record and a caret on further lines: keep the first, which says
    // what and where, and never echo record bytes.
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default().trim_end();
    if e.is_eof() {
        format!("truncated JSON ({first})")
    } else {
        format!("invalid JSON: {first}")
    }
}

fn digest128(bytes: &[u8]) -> u128 {
    let half = |seed: u64| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0x9e37_79b9)) << 64) | u128::from(half(0x85eb_ca6b))
}

#[derive(serde::Deserialize, Default)]
struct Record<'a, D> {
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    time: Str<'a>,
    #[serde(rename = "detail-type", borrow, default)]
    detail_type: Str<'a>,
    detail: Option<D>,
    // The flat shape.
    #[serde(borrow, default)]
    event_id: Str<'a>,
    #[serde(rename = "conversationId", borrow, default)]
    conversation_id: Str<'a>,
    #[serde(borrow, default)]
    channel: Str<'a>,
    #[serde(rename = "type", borrow, default)]
    kind: Str<'a>,
    #[serde(borrow, default)]
    timestamp: Option<When<'a>>,
    #[serde(borrow, default)]
    data: Option<Body<'a>>,
}

impl<'a, D> Record<'a, D> {
    fn with_detail<E>(self, detail: Option<E>) -> Record<'a, E> {
        Record {
            id: self.id,
            time: self.time,
            detail_type: self.detail_type,
            detail,
            event_id: self.event_id,
            conversation_id: self.conversation_id,
            channel: self.channel,
            kind: self.kind,
            timestamp: self.timestamp,
            data: self.data,
        }
    }
}

#[derive(serde::Deserialize, Default)]
struct Detail<'a> {
    #[serde(rename = "topicName", borrow, default)]
    topic: Str<'a>,
    #[serde(rename = "eventBody", borrow, default)]
    body: Option<Body<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<When<'a>>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(borrow, default)]
    event_time: Option<When<'a>>,
    #[serde(borrow, default)]
    conversation_id: Str<'a>,
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    participant_id: Str<'a>,
    #[serde(borrow, default)]
    session_id: Str<'a>,
    #[serde(borrow, default)]
    media_type: Str<'a>,
    #[serde(borrow, default)]
    direction: Str<'a>,
    #[serde(borrow, default)]
    queue_id: Str<'a>,
    #[serde(borrow, default)]
    user_id: Str<'a>,
    #[serde(borrow, default)]
    disconnect_type: Str<'a>,
    #[serde(borrow, default)]
    wrapup_code: Str<'a>,
    #[serde(borrow, default)]
    acd_outcome: Str<'a>,
}

fn normalise<'a>(rec: &mut Record<'a, Detail<'a>>, content: Option<u128>) -> Result<Parsed, String> {
    let envelope = rec.detail.is_some() || rec.detail_type.0.is_some();
    if envelope {
        normalise_envelope(rec, content)
    } else if rec.event_id.0.is_some() || rec.conversation_id.0.is_some() {
        normalise_flat(rec, content)
    } else {
        Err("not an event: neither an EventBridge envelope nor a flat event".into())
    }
}

fn normalise_envelope<'a>(rec: &mut Record<'a, Detail<'a>>, content: Option<u128>) -> Result<Parsed, String> {
    let Some(detail) = rec.detail.as_mut() else {
        return Err("EventBridge envelope without a detail".into());
    };
    let topic = detail.topic.text().or(rec.detail_type.text());
    let Some(topic) = topic.filter(|t| !t.is_empty()) else {
        return Err("EventBridge envelope without a topicName".into());
    };
    let mut none = Body::default();
    let body = detail.body.as_mut().unwrap_or(&mut none);
    let Some(topic) = Topic::classify(topic) else {
        return Ok(Parsed::NotConversation);
    };
    let conversation = match topic {
        Topic::Detail { conversation, .. } => body
            .conversation_id
            .text()
            .filter(|c| !c.is_empty())
            .or(Some(conversation).filter(|c| !c.is_empty() && *c != "{id}")),
        Topic::Object { .. } => body.id.text().or(body.conversation_id.text()),
    };
    let time = match body.event_time.take() {
        Some(t) => t.millis("eventTime")?,
        None => match (detail.timestamp.take(), rec.time.text()) {
            (Some(t), _) => t.millis("detail.timestamp")?,
            (None, Some(t)) => When::Iso(Cow::Borrowed(t)).millis("time")?,
            (None, None) => return Err("no event time (eventTime, detail.timestamp or time)".into()),
        },
    };
    let (kind, queue, user) = match topic {
        Topic::Detail { kind, .. } => (vocab::event_kind(kind), body.queue_id.id(), body.user_id.id()),
        Topic::Object { owner, id, rest } => {
            let kind = Atom::Text(format!("{owner}.{rest}").into());
            let (q, u) = if owner == "queue" {
                (Some(Atom::id(id)), body.user_id.id())
            } else {
                (body.queue_id.id(), Some(Atom::id(id)))
            };
            (kind, q, u)
        }
    };
    // Optional metadata: an unreadable envelope time costs the lag, not the event.
    let delivered = rec.time.text().and_then(time::parse_rfc3339);
    finish(FinishArgs {
        id: rec.id.text(),
        conversation,
        time,
        delivered,
        kind,
        media: body.media_type.text(),
        body,
        queue,
        user,
        content,
    })
}

fn normalise_flat<'a>(rec: &mut Record<'a, Detail<'a>>, content: Option<u128>) -> Result<Parsed, String> {
    let mut none = Body::default();
    let body = rec.data.as_mut().unwrap_or(&mut none);
    let time = match (rec.timestamp.take(), body.event_time.take()) {
        (Some(t), _) => t.millis("timestamp")?,
        (None, Some(t)) => t.millis("data.eventTime")?,
        (None, None) => return Err("no event time (timestamp)".into()),
    };
    let kind = match rec.kind.text() {
        Some(k) if !k.is_empty() => vocab::event_kind(k),
        _ => return Err("missing event type (type)".into()),
    };
    finish(FinishArgs {
        id: rec.event_id.text(),
        conversation: rec.conversation_id.text().or(body.conversation_id.text()),
        time,
        delivered: None,
        kind,
        media: rec.channel.text().or(body.media_type.text()),
        queue: body.queue_id.id(),
        user: body.user_id.id(),
        body,
        content,
    })
}

struct FinishArgs<'r> {
    id: Option<&'r str>,
    conversation: Option<&'r str>,
    time: i64,
    delivered: Option<i64>,
    kind: Atom,
    media: Option<&'r str>,
    body: &'r Body<'r>,
    queue: Option<Atom>,
    user: Option<Atom>,
    content: Option<u128>,
}

fn finish(a: FinishArgs<'_>) -> Result<Parsed, String> {
    let id = a.id.filter(|s| !s.is_empty()).ok_or("missing event id")?;
    let conversation = a
        .conversation
        .filter(|s| !s.is_empty())
        .ok_or("missing conversation id")?;
    let body = a.body;
    let abandoned = body
        .acd_outcome
        .text()
        .is_some_and(|o| o.eq_ignore_ascii_case("abandon"))
        && a.kind.as_text() == Some("acd.end");
    let e = ParsedEvent {
        id: Atom::id(id),
        conversation: Atom::id(conversation),
        time: a.time,
        kind: a.kind,
        media: a.media.filter(|m| !m.is_empty()).map(vocab::media),
        participant: body.participant_id.id(),
        session: body.session_id.id(),
        direction: body.direction.word(vocab::direction),
        queue: a.queue,
        user: a.user,
        disconnect: body.disconnect_type.word(vocab::disconnect),
        wrapup: body.wrapup_code.id(),
        delivered: a.delivered,
        abandoned,
        content: a.content,
    };
    Ok(Parsed::Event(e))
}

/// The topics that belong to a conversation.
enum Topic<'t> {
    /// `v2.detail.events.conversation.{conversation}.{kind}`
    Detail { conversation: &'t str, kind: &'t str },
    /// `v2.routing.queues.{id}.{rest}` / `v2.users.{id}.{rest}` with `rest` = `conversations...`
    Object {
        owner: &'static str,
        id: &'t str,
        rest: &'t str,
    },
}

impl<'t> Topic<'t> {
    fn classify(topic: &'t str) -> Option<Topic<'t>> {
        if let Some(tail) = topic.strip_prefix("v2.detail.events.conversation.") {
            let (conversation, kind) = split_at_dot(tail)?;
            return Some(Topic::Detail { conversation, kind });
        }
        let (owner, tail) = if let Some(t) = topic.strip_prefix("v2.routing.queues.") {
            ("queue", t)
        } else if let Some(t) = topic.strip_prefix("v2.users.") {
            ("user", t)
        } else {
            return None;
        };
        let (id, rest) = split_at_dot(tail)?;
        (rest == "conversations" || rest.starts_with("conversations.")).then_some(Topic::Object {
            owner,
            id,
            rest,
        })
    }
}

/// `s` around its first `.`.
fn split_at_dot(s: &str) -> Option<(&str, &str)> {
    let dot = memchr::memchr(b'.', s.as_bytes())?;
    // An ASCII byte: both sides start and end on character boundaries.
    Some((&s[..dot], &s[dot + 1..]))
}

/// A string field that tolerates other JSON types (they read as absent) so that one odd
/// optional field never costs the whole event. Numbers are kept as their text (some
/// pipelines write numeric ids).
#[derive(Default, Debug)]
struct Str<'a>(Option<Cow<'a, str>>);

impl Str<'_> {
    fn text(&self) -> Option<&str> {
        self.0.as_deref()
    }
    fn id(&self) -> Option<Atom> {
        self.word(Atom::id)
    }
    fn word(&self, f: fn(&str) -> Atom) -> Option<Atom> {
        self.text().filter(|s| !s.is_empty()).map(f)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Str(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Str(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An event time as written: epoch milliseconds, or an ISO-8601 string.
#[derive(Debug)]
enum When<'a> {
    Millis(f64),
    Iso(Cow<'a, str>),
    Other,
}

impl When<'_> {
    fn millis(self, field: &str) -> Result<i64, String> {
        match self {
            When::Millis(v) if !v.is_finite() => Err(format!("{field} is a number out of range")),
            When::Millis(v) => time::from_epoch_ms_f64(v)
                .ok_or_else(|| format!("{field} {v} is not a time in epoch milliseconds (0..=year 9999)")),
            When::Iso(s) => time::parse_rfc3339(&s).ok_or_else(|| {
                let shown: String = s.chars().take(40).collect();
                format!("{field} {shown:?} is not an ISO-8601 time")
            }),
            When::Other => Err(format!("{field} is neither a number nor a string")),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for When<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = When<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a time")
            }
            fn visit_u64<E>(self, v: u64) -> Result<When<'de>, E> {
                Ok(When::Millis(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<When<'de>, E> {
                Ok(When::Millis(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<When<'de>, E> {
                Ok(When::Millis(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<When<'de>, E> {
                Ok(When::Iso(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<When<'de>, E> {
                Ok(When::Iso(Cow::Owned(v.to_owned())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<When<'de>, E> {
                Ok(When::Other)
            }
            fn visit_unit<E>(self) -> Result<When<'de>, E> {
                Ok(When::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<When<'de>, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(When::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<When<'de>, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(When::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = format!("{}/fixtures/samples/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn event(bytes: &[u8]) -> ParsedEvent {
        match parse_record(bytes, false) {
            Ok(Parsed::Event(e)) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn real_customer_start_sample() {
        let e = event(&sample("eventbridge-customer-start-chat.json"));
        assert_eq!(e.id.to_string(), "adbcfa5b-0116-4baa-b66b-a3f5902e95bf");
        assert_eq!(e.conversation.to_string(), "2f7bf00a-0fc2-4d6a-9b56-92238191433e");
        assert_eq!(e.time, 1_649_237_444_949);
        assert_eq!(e.kind, Atom::from("customer.start"));
        assert_eq!(e.media, Some(Atom::from("chat")));
        assert_eq!(e.direction, Some(Atom::from("inbound")));
        assert_eq!(
            e.session.unwrap().to_string(),
            "c03d300e-fa79-4353-9695-b97a71322785"
        );
    }

    #[test]
    fn audit_sample_is_not_a_conversation_event() {
        let r = parse_record(&sample("eventbridge-audit-oauthclient-delete.json"), false);
        assert_eq!(r, Ok(Parsed::NotConversation));
    }

    #[test]
    fn time_falls_back_to_detail_timestamp_then_envelope_time() {
        let a = br#"{"id":"e1","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{"conversationId":"c1"},"timestamp":"2022-04-06T09:30:45.013Z"},"time":"2022-04-06T09:30:46Z"}"#;
        assert_eq!(event(a).time, 1_649_237_445_013);
        let b = br#"{"id":"e1","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{}},"time":"2022-04-06T09:30:46Z"}"#;
        let e = event(b);
        assert_eq!(e.time, 1_649_237_446_000);
        assert_eq!(e.conversation, Atom::Text("c1".into()), "id from the topic");
    }

    #[test]
    fn bad_times_are_errors_not_guesses() {
        let r = br#"{"id":"e1","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{"eventTime":1e300}}}"#;
        assert!(parse_record(r, false).unwrap_err().contains("eventTime"));
        let r = br#"{"id":"e1","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{"eventTime":-1e400}}}"#;
        assert_eq!(
            parse_record(r, false).unwrap_err(),
            "eventTime is a number out of range"
        );
        let r = br#"{"id":"e1","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{"eventTime":"soon"}}}"#;
        assert!(parse_record(r, false).unwrap_err().contains("ISO-8601"));
        let r = br#"{"id":"e1","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{}}}"#;
        assert!(parse_record(r, false).unwrap_err().contains("no event time"));
    }

    #[test]
    fn object_topics_take_the_conversation_from_the_body_id() {
        let r = br#"{"id":"e9","detail":{"topicName":"v2.routing.queues.q1.conversations.calls","eventBody":{"id":"c7","participants":[{"calls":[{}]}]},"timestamp":"2022-04-06T09:30:45.013Z"}}"#;
        let e = event(r);
        assert_eq!(e.conversation, Atom::Text("c7".into()));
        assert_eq!(e.queue, Some(Atom::Text("q1".into())));
        assert_eq!(e.kind.to_string(), "queue.conversations.calls");
        let r = br#"{"id":"e9","detail":{"topicName":"v2.users.u1.presence","eventBody":{}}}"#;
        assert_eq!(parse_record(r, false), Ok(Parsed::NotConversation));
    }

    #[test]
    fn flat_shape() {
        let r = br#"{"event_id":17,"conversationId":"c1","channel":"VOICE","type":"user.end","timestamp":"2026-03-02T08:00:00.5Z","data":{"participantId":"p1","disconnectType":"transfer.consult","queueId":null,"userId":5}}"#;
        let e = event(r);
        assert_eq!(e.id, Atom::Text("17".into()));
        assert_eq!(e.time, 1_772_438_400_500);
        assert_eq!(e.media, Some(Atom::from("voice")));
        assert_eq!(e.disconnect, Some(Atom::from("consult_transfer")));
        assert_eq!(e.queue, None);
        assert_eq!(e.user, Some(Atom::Text("5".into())));
    }

    #[test]
    fn missing_ids_are_named() {
        let r = br#"{"id":"e1","detail":{"topicName":"v2.detail.events.conversation.{id}.acd.start","eventBody":{"eventTime":1}}}"#;
        assert_eq!(parse_record(r, false).unwrap_err(), "missing conversation id");
        let r = br#"{"detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{"eventTime":1}}}"#;
        assert_eq!(parse_record(r, false).unwrap_err(), "missing event id");
        assert!(parse_record(b"[1,2]", false).is_err());
        assert!(
            parse_record(br#"{"a":1}"#, false)
                .unwrap_err()
                .contains("not an event")
        );
        assert!(
            parse_record(br#"{"id":"x","#, false)
                .unwrap_err()
                .contains("truncated")
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for field in ["foo", "detail"] {
            let deep = format!(
                "{{\"id\":\"x\",\"{field}\":{}{}}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            );
            // An error (the shape is wrong), not a stack overflow.
            assert!(parse_record(deep.as_bytes(), false).is_err());
        }
        // Many containers side by side are fine.
        let wide = format!(
            "{{\"event_id\":\"e\",\"conversationId\":\"c\",\"type\":\"t\",\"timestamp\":1,\"x\":[{}[]]}}",
            "[],".repeat(500)
        );
        assert!(parse_record(wide.as_bytes(), false).is_ok());
    }

    #[test]
    fn every_path_refuses_raw_control_characters() {
        let ok = br#"{"id":"e1","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{"eventTime":5,"ani":"@"}}}"#;
        let ok = String::from_utf8_lossy(ok);
        for bad in ["a\u{0}b", "a\tb", "\u{1b}[31m"] {
            let raw = ok.replace('@', bad);
            // The same record with an escape in a string gcorr reads takes the slow path.
            let escaped = raw.replace("\"e1\"", "\"\\u0065\"");
            for r in [&raw, &escaped] {
                for digest in [false, true] {
                    let e = parse_record(r.as_bytes(), digest).unwrap_err();
                    assert!(e.to_lowercase().contains("control character"), "{e}: {r:?}");
                }
            }
        }
    }

    #[test]
    fn content_digest_ignores_the_envelope() {
        let a = br#"{"id":"e1","time":"2022-04-06T09:30:45Z","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{"eventTime":5}}}"#;
        let b = br#"{"id":"e2","time":"2022-04-09T00:00:00Z","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{"eventTime":5}}}"#;
        let c = br#"{"id":"e3","time":"2022-04-09T00:00:00Z","detail":{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{"eventTime":6}}}"#;
        let d = |r: &[u8]| event_digest(r);
        assert_eq!(d(a), d(b));
        assert_ne!(d(a), d(c));
    }

    fn event_digest(r: &[u8]) -> u128 {
        match parse_record(r, true) {
            Ok(Parsed::Event(e)) => e.content.unwrap(),
            other => panic!("{other:?}"),
        }
    }
}
