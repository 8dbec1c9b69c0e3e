//! Landing-place wrappers: what EventBridge targets other than Firehose write around an event.
//!
//! Pure: one framed record in, the events inside it out, each to be read as if it had been on
//! its own line. Recognised:
//! - SQS, as `aws sqs receive-message` prints it: `{"Messages":[{"Body":"<event>"},…]}`;
//! - an SNS notification: `{"Type":"Notification","Message":"<event>"}` (also as an SQS body);
//! - CloudWatch Logs, as `aws logs filter-log-events` / `get-log-events` print it:
//!   `{"events":[{"timestamp":…,"message":"<event>"},…]}`;
//! - CloudWatch Logs subscription deliveries (through Firehose):
//!   `{"messageType":"DATA_MESSAGE","logEvents":[{"id","timestamp","message"},…]}`, where a
//!   `CONTROL_MESSAGE` holds no event;
//! - CloudWatch Logs export lines: `<ISO-8601 timestamp> <event>`.
//!
//! Only a record that is not an event is tried here, so plain events never pay for it.

use std::borrow::Cow;

use serde::Deserialize;

/// An event found inside a wrapper: where in the wrapper (for messages), and its bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Inner {
    pub at: String,
    pub bytes: Vec<u8>,
}

/// How deep wrappers may nest (an SNS notification in an SQS body is two).
const DEPTH: usize = 3;

/// The events inside `record`, or `None` when it is no wrapper. An empty list is a wrapper
/// that holds no event (a CloudWatch Logs `CONTROL_MESSAGE`).
pub fn unwrap(record: &[u8]) -> Option<Vec<Inner>> {
    let mut out = Vec::new();
    expand(record, String::new(), DEPTH, &mut out).then_some(out)
}

/// The event after a log line's leading timestamp (`2026-03-02T08:00:00.000Z {…}`), or the
/// line as it is.
pub fn after_timestamp(line: &[u8]) -> &[u8] {
    let Some(space) = memchr::memchr(b' ', line) else {
        return line;
    };
    let (stamp, rest) = (&line[..space], line[space..].trim_ascii_start());
    let stamp_like = stamp.len() >= 10
        && stamp[..4].iter().all(u8::is_ascii_digit)
        && stamp[4] == b'-'
        && stamp
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'.' | b'T' | b'Z' | b'+'));
    if stamp_like && rest.first() == Some(&b'{') {
        rest
    } else {
        line
    }
}

/// Pushes the events inside `record` (named from `at`); false when it is no wrapper.
fn expand(record: &[u8], at: String, depth: usize, out: &mut Vec<Inner>) -> bool {
    let inner = after_timestamp(record);
    if inner.len() != record.len() {
        out.push(Inner {
            at,
            bytes: inner.to_vec(),
        });
        return true;
    }
    let Ok(shape) = serde_json::from_slice::<Shape>(record) else {
        return false;
    };
    let messages: Vec<(String, Cow<str>)> = if let Some(list) = shape.messages {
        let name = |i| format!("{at}Messages[{i}].Body");
        list.into_iter()
            .enumerate()
            .map(|(i, m)| (name(i), m.body))
            .collect()
    } else if let (Some(kind), Some(message)) = (&shape.kind, shape.message) {
        if kind != "Notification" {
            return false;
        }
        vec![(format!("{at}Message"), message)]
    } else if let Some(list) = shape.events {
        let name = |i| format!("{at}events[{i}].message");
        list.into_iter()
            .enumerate()
            .map(|(i, e)| (name(i), e.message))
            .collect()
    } else if let Some(kind) = shape.message_type {
        match (kind.as_ref(), shape.log_events) {
            ("CONTROL_MESSAGE", _) => Vec::new(),
            ("DATA_MESSAGE", Some(list)) => {
                let name = |i| format!("{at}logEvents[{i}].message");
                list.into_iter()
                    .enumerate()
                    .map(|(i, e)| (name(i), e.message))
                    .collect()
            }
            _ => return false,
        }
    } else {
        return false;
    };
    for (name, message) in messages {
        let bytes = message.trim().as_bytes();
        // A body may itself be a wrapper (SNS delivering to SQS).
        if depth == 0 || !expand(bytes, format!("{name}: "), depth - 1, out) {
            out.push(Inner {
                at: name,
                bytes: bytes.to_vec(),
            });
        }
    }
    true
}

/// The fields of every wrapper, all optional: which ones are present says which wrapper it is.
#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(rename = "Messages")]
    messages: Option<Vec<SqsMessage<'a>>>,
    #[serde(rename = "Type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "Message", borrow)]
    message: Option<Cow<'a, str>>,
    events: Option<Vec<LogEvent<'a>>>,
    #[serde(rename = "messageType", borrow)]
    message_type: Option<Cow<'a, str>>,
    #[serde(rename = "logEvents")]
    log_events: Option<Vec<LogEvent<'a>>>,
}

#[derive(Deserialize)]
struct SqsMessage<'a> {
    #[serde(rename = "Body", borrow)]
    body: Cow<'a, str>,
}

#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(borrow)]
    message: Cow<'a, str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(record: &str) -> Option<Vec<(String, String)>> {
        unwrap(record.as_bytes()).map(|v| {
            v.into_iter()
                .map(|i| (i.at, String::from_utf8(i.bytes).unwrap()))
                .collect()
        })
    }

    fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn sqs_messages_and_sns_notifications() {
        let sqs = r#"{"Messages":[{"MessageId":"m1","Body":"{\"id\":\"a\"}"},{"MessageId":"m2","Body":"{\"Type\":\"Notification\",\"Message\":\"{\\\"id\\\":\\\"b\\\"}\"}"}]}"#;
        assert_eq!(
            texts(sqs),
            pairs(&[
                ("Messages[0].Body", r#"{"id":"a"}"#),
                ("Messages[1].Body: Message", r#"{"id":"b"}"#)
            ])
        );
        let sns = r#"{"Type":"Notification","MessageId":"x","Message":"{\"id\":\"c\"}"}"#;
        assert_eq!(texts(sns), pairs(&[("Message", r#"{"id":"c"}"#)]));
        assert_eq!(
            texts(r#"{"Type":"SubscriptionConfirmation","Message":"hi"}"#),
            None
        );
    }

    #[test]
    fn cloudwatch_logs_shapes() {
        let api = r#"{"events":[{"timestamp":1,"message":"{\"id\":\"a\"}","ingestionTime":2}],"searchedLogStreams":[]}"#;
        assert_eq!(texts(api), pairs(&[("events[0].message", r#"{"id":"a"}"#)]));
        let data = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logEvents":[{"id":"1","timestamp":1,"message":"{\"id\":\"a\"}"},{"id":"2","timestamp":1,"message":"not json"}]}"#;
        assert_eq!(
            texts(data),
            pairs(&[
                ("logEvents[0].message", r#"{"id":"a"}"#),
                ("logEvents[1].message", "not json")
            ])
        );
        let control = r#"{"messageType":"CONTROL_MESSAGE","logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        assert_eq!(texts(control), Some(vec![]));
        let line = r#"2026-03-02T08:00:00.123Z {"id":"a"}"#;
        assert_eq!(texts(line), pairs(&[("", r#"{"id":"a"}"#)]));
    }

    #[test]
    fn other_records_are_no_wrappers() {
        for r in [
            r#"{"id":"a","detail":{}}"#,
            "not json",
            r#"{"events":[{"no":"message"}]}"#,
            r#"{"messageType":"OTHER"}"#,
            "2026-03-02 plain text",
            "12345 {",
        ] {
            assert_eq!(texts(r), None, "{r}");
        }
        assert_eq!(after_timestamp(b"12345 {}"), b"12345 {}");
    }
}
