//! What the API says about a conversation, in one shape for both sources.
//!
//! `GET /api/v2/conversations/{id}` tells the media of a participant's communication only by
//! which array holds it (`calls` = voice, `callbacks` = callback, ...); the analytics details
//! give `sessions` with a `mediaType` and `segments`. Both become [`Enriched`]: participants
//! with their media sessions, times as epoch milliseconds, disconnect types in one spelling.
//! Unknown fields are ignored: the API grows constantly.

use serde::{Deserialize, Serialize, Serializer};

use crate::time::{self, Millis};
use crate::vocab;

/// A conversation as the API knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enriched {
    pub participants: Vec<ApiParticipant>,
    /// The names of the wrap-up codes used, `(code, name)`, as far as the API gives them (the
    /// conversations API does; analytics gives codes only).
    pub wrapup_names: Vec<(String, String)>,
}

impl Enriched {
    /// The name of wrap-up code `code`, when the API gave it.
    pub fn wrapup_name(&self, code: &str) -> Option<&str> {
        self.wrapup_names
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, n)| n.as_str())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApiParticipant {
    #[serde(rename = "participant_id")]
    pub id: String,
    pub purpose: Option<String>,
    pub name: Option<String>,
    pub user_id: Option<String>,
    pub queue_id: Option<String>,
    pub sessions: Vec<Session>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Session {
    pub session_id: Option<String>,
    pub media_type: String,
    pub state: Option<String>,
    pub direction: Option<String>,
    #[serde(serialize_with = "opt_time")]
    pub connected: Option<i64>,
    #[serde(serialize_with = "opt_time")]
    pub disconnected: Option<i64>,
    pub disconnect_type: Option<String>,
    pub segments: Vec<Segment>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Segment {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(serialize_with = "opt_time")]
    pub start: Option<i64>,
    #[serde(serialize_with = "opt_time")]
    pub end: Option<i64>,
    pub queue_id: Option<String>,
    pub disconnect_type: Option<String>,
    pub wrapup_code: Option<String>,
}

fn opt_time<S: Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(ms) => s.serialize_str(Millis(*ms).encode(&mut [0; 24])),
        None => s.serialize_none(),
    }
}

fn when(s: &Option<String>) -> Option<i64> {
    s.as_deref().and_then(time::parse_rfc3339)
}

fn disconnect(s: Option<String>) -> Option<String> {
    s.filter(|d| !d.is_empty())
        .map(|d| vocab::disconnect(&d).to_string())
}

fn lower(s: Option<String>) -> Option<String> {
    s.map(|v| v.to_ascii_lowercase())
}

// --- GET /api/v2/conversations/{id} -------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conversation {
    id: Option<String>,
    #[serde(default)]
    participants: Vec<Participant>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Participant {
    id: Option<String>,
    purpose: Option<String>,
    name: Option<String>,
    user_id: Option<String>,
    queue_id: Option<String>,
    wrapup: Option<Wrapup>,
    #[serde(default)]
    calls: Vec<Communication>,
    #[serde(default)]
    callbacks: Vec<Communication>,
    #[serde(default)]
    chats: Vec<Communication>,
    #[serde(default)]
    emails: Vec<Communication>,
    #[serde(default)]
    messages: Vec<Communication>,
    #[serde(default)]
    cobrowsesessions: Vec<Communication>,
    #[serde(default)]
    videos: Vec<Communication>,
    #[serde(default)]
    screenshares: Vec<Communication>,
    #[serde(default)]
    social_expressions: Vec<Communication>,
    #[serde(default)]
    internal_messages: Vec<Communication>,
    #[serde(default)]
    screen_monitorings: Vec<Communication>,
}

#[derive(Deserialize)]
struct Wrapup {
    code: Option<String>,
    name: Option<String>,
}

impl Wrapup {
    /// Notes `(code, name)` in `names` (once), and gives the code.
    fn code(self, names: &mut Vec<(String, String)>) -> Option<String> {
        if let (Some(code), Some(name)) = (&self.code, self.name) {
            if !names.iter().any(|(c, _)| c == code) {
                names.push((code.clone(), name));
            }
        }
        self.code
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Communication {
    id: Option<String>,
    state: Option<String>,
    direction: Option<String>,
    disconnect_type: Option<String>,
    connected_time: Option<String>,
    disconnected_time: Option<String>,
    wrapup: Option<Wrapup>,
    #[serde(default)]
    segments: Vec<ApiSegment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiSegment {
    start_time: Option<String>,
    end_time: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    disconnect_type: Option<String>,
}

/// Reads a `GET /api/v2/conversations/{id}` answer; the id must be the one asked for.
pub fn from_conversation(body: &[u8], expected_id: &str) -> Result<Enriched, String> {
    let c: Conversation =
        serde_json::from_slice(body).map_err(|e| format!("invalid conversation JSON: {e}"))?;
    if c.id.as_deref() != Some(expected_id) {
        return Err(format!(
            "the answer is for conversation {:?}, not {expected_id}",
            c.id.unwrap_or_default()
        ));
    }
    let mut wrapup_names = Vec::new();
    let participants = c
        .participants
        .into_iter()
        .map(|p| {
            let media: [(&str, Vec<Communication>); 11] = [
                ("voice", p.calls),
                ("callback", p.callbacks),
                ("chat", p.chats),
                ("email", p.emails),
                ("message", p.messages),
                ("cobrowse", p.cobrowsesessions),
                ("video", p.videos),
                ("screenshare", p.screenshares),
                ("socialexpression", p.social_expressions),
                ("internalmessage", p.internal_messages),
                ("screenmonitoring", p.screen_monitorings),
            ];
            let wrapup = p.wrapup.and_then(|w| w.code(&mut wrapup_names));
            let sessions = media
                .into_iter()
                .flat_map(|(m, comms)| comms.into_iter().map(move |c| (m, c)))
                .map(|(media_type, c)| session_of(media_type, c, wrapup.clone(), &mut wrapup_names))
                .collect();
            ApiParticipant {
                id: p.id.unwrap_or_default(),
                purpose: lower(p.purpose),
                name: p.name,
                user_id: p.user_id,
                queue_id: p.queue_id,
                sessions,
            }
        })
        .collect();
    Ok(Enriched {
        participants,
        wrapup_names,
    })
}

fn session_of(
    media_type: &str,
    c: Communication,
    participant_wrapup: Option<String>,
    wrapup_names: &mut Vec<(String, String)>,
) -> Session {
    let wrapup = c.wrapup.and_then(|w| w.code(wrapup_names)).or(participant_wrapup);
    let segments = c
        .segments
        .into_iter()
        .map(|s| Segment {
            kind: lower(s.kind),
            start: when(&s.start_time),
            end: when(&s.end_time),
            queue_id: None,
            disconnect_type: disconnect(s.disconnect_type),
            wrapup_code: None,
        })
        .collect();
    Session {
        session_id: c.id,
        media_type: media_type.to_owned(),
        state: lower(c.state),
        direction: lower(c.direction),
        connected: when(&c.connected_time),
        disconnected: when(&c.disconnected_time),
        disconnect_type: disconnect(c.disconnect_type),
        segments: match wrapup {
            Some(code) => with_wrapup(segments, code),
            None => segments,
        },
    }
}

/// The conversations API keeps the wrap-up on the communication: put it on its last segment.
fn with_wrapup(mut segments: Vec<Segment>, code: String) -> Vec<Segment> {
    match segments.last_mut() {
        Some(last) => last.wrapup_code = Some(code),
        None => segments.push(Segment {
            kind: Some("wrapup".into()),
            wrapup_code: Some(code),
            ..Segment::default()
        }),
    }
    segments
}

// --- GET /api/v2/analytics/conversations/details?id=... ------------------------------------

#[derive(Deserialize)]
pub struct AnalyticsAnswer {
    #[serde(default)]
    pub conversations: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsConversation {
    #[serde(default)]
    participants: Vec<AnalyticsParticipant>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsParticipant {
    participant_id: Option<String>,
    participant_name: Option<String>,
    purpose: Option<String>,
    user_id: Option<String>,
    #[serde(default)]
    sessions: Vec<AnalyticsSession>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsSession {
    session_id: Option<String>,
    media_type: Option<String>,
    direction: Option<String>,
    #[serde(default)]
    segments: Vec<AnalyticsSegment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsSegment {
    segment_start: Option<String>,
    segment_end: Option<String>,
    segment_type: Option<String>,
    queue_id: Option<String>,
    disconnect_type: Option<String>,
    wrap_up_code: Option<String>,
}

/// The conversation id of one element of an analytics answer.
pub fn analytics_id(v: &serde_json::Value) -> Option<&str> {
    v.get("conversationId").and_then(|c| c.as_str())
}

/// Reads one conversation of an analytics details answer.
pub fn from_analytics(body: &[u8]) -> Result<Enriched, String> {
    let c: AnalyticsConversation =
        serde_json::from_slice(body).map_err(|e| format!("invalid analytics conversation JSON: {e}"))?;
    let participants = c
        .participants
        .into_iter()
        .map(|p| {
            let sessions: Vec<Session> = p
                .sessions
                .into_iter()
                .map(|s| {
                    let segments: Vec<Segment> = s
                        .segments
                        .into_iter()
                        .map(|g| Segment {
                            kind: lower(g.segment_type),
                            start: when(&g.segment_start),
                            end: when(&g.segment_end),
                            queue_id: g.queue_id,
                            disconnect_type: disconnect(g.disconnect_type),
                            wrapup_code: g.wrap_up_code,
                        })
                        .collect();
                    Session {
                        session_id: s.session_id,
                        media_type: s
                            .media_type
                            .map(|m| vocab::media(&m).to_string())
                            .unwrap_or_default(),
                        state: None,
                        direction: lower(s.direction),
                        // Analytics has no connected/disconnected times: the segments span them.
                        connected: segments.iter().filter_map(|g| g.start).min(),
                        disconnected: segments.iter().filter_map(|g| g.end).max(),
                        disconnect_type: segments.iter().rev().find_map(|g| g.disconnect_type.clone()),
                        segments,
                    }
                })
                .collect();
            let queue_id = sessions
                .iter()
                .flat_map(|s| &s.segments)
                .find_map(|g| g.queue_id.clone());
            ApiParticipant {
                id: p.participant_id.unwrap_or_default(),
                purpose: lower(p.purpose),
                name: p.participant_name,
                user_id: p.user_id,
                queue_id,
                sessions,
            }
        })
        .collect();
    Ok(Enriched {
        participants,
        wrapup_names: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_comes_from_the_array_that_holds_it() {
        let body = br#"{"id":"c1","startTime":"2026-03-02T08:00:00Z","participants":[
            {"id":"p1","purpose":"customer","calls":[{"id":"s1","state":"DISCONNECTED","direction":"inbound",
              "disconnectType":"transfer.consult","connectedTime":"2026-03-02T08:00:01.5Z",
              "disconnectedTime":"2026-03-02T08:03:00Z","segments":[{"startTime":"2026-03-02T08:00:01.5Z","type":"Interact"}]}],
             "callbacks":[{"id":"s2","state":"connected"}], "unknownNewField": {"x":1}},
            {"id":"p2","purpose":"agent","userId":"u1","queueId":"q1","name":"Ann","wrapup":{"code":"w1"},"chats":[{"id":"s3","segments":[]}]}]}"#;
        let e = from_conversation(body, "c1").unwrap();
        let p1 = &e.participants[0];
        assert_eq!(p1.sessions.len(), 2);
        assert_eq!(p1.sessions[0].media_type, "voice");
        assert_eq!(
            p1.sessions[0].disconnect_type.as_deref(),
            Some("consult_transfer")
        );
        assert_eq!(p1.sessions[0].state.as_deref(), Some("disconnected"));
        assert_eq!(p1.sessions[0].connected, Some(1_772_438_401_500));
        assert_eq!(p1.sessions[0].segments[0].kind.as_deref(), Some("interact"));
        assert_eq!(p1.sessions[1].media_type, "callback");
        let p2 = &e.participants[1];
        assert_eq!(p2.sessions[0].media_type, "chat");
        assert_eq!(p2.sessions[0].segments[0].wrapup_code.as_deref(), Some("w1"));
        assert!(
            from_conversation(body, "other")
                .unwrap_err()
                .contains("not other")
        );
    }

    #[test]
    fn the_published_analytics_sample() {
        let path = format!(
            "{}/fixtures/samples/analytics-conversation-details-chat.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read(path).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(analytics_id(&v), Some("1bc96a39-6725-40c4-9345-db72aa67b8c6"));
        let e = from_analytics(&body).unwrap();
        assert_eq!(e.participants.len(), 3);
        let agent = &e.participants[2];
        assert_eq!(agent.purpose.as_deref(), Some("agent"));
        let s = &agent.sessions[0];
        assert_eq!(s.media_type, "chat");
        assert_eq!(s.segments.len(), 2);
        assert_eq!(s.disconnect_type.as_deref(), Some("peer"));
        assert_eq!(
            e.participants[0].queue_id.as_deref(),
            Some("a623d83c-7d2e-4f1a-9b3c-5e6d7f8a9b0c")
        );
    }
}
