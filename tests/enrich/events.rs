//! EventBridge envelopes for the enrichment tests: the shape of fixtures/events.ndjson (a
//! `v2.detail.events.conversation.{id}.<kind>` detail event in `detail`), written for a list of
//! conversation ids. The events of a generated conversation use the participant, session,
//! user and queue ids of [`fake::model`], so what gcorr reads and what the fake API answers
//! describe the same conversation.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::fake::{self, Model};

/// One detail event.
#[derive(Clone, Debug)]
pub struct Ev {
    pub conversation: String,
    /// `customer.start`, `acd.end`, `user.start`, ...
    pub kind: &'static str,
    pub time_ms: i64,
    pub participant: String,
    pub session: String,
    /// Upper case, as Genesys sends it: VOICE, CHAT, ...
    pub media: String,
    pub user: Option<String>,
    pub queue: Option<String>,
    /// Upper snake, as in detail events: CONSULT_TRANSFER, ...
    pub disconnect: Option<String>,
}

/// The envelope of one event, on one line.
pub fn envelope(ev: &Ev) -> String {
    let id = fake::derive_uuid(&[
        "event",
        &ev.conversation,
        ev.kind,
        &ev.participant,
        &ev.time_ms.to_string(),
    ]);
    let mut body = json!({
        "eventTime": ev.time_ms,
        "conversationId": ev.conversation,
        "participantId": ev.participant,
        "sessionId": ev.session,
        "mediaType": ev.media,
        "provider": "Edge",
        "direction": "INBOUND",
        "ani": "tel:+13125550187",
        "dnis": "tel:+18005550199",
        "divisionId": fake::DIVISION_ID,
    });
    if let Some(u) = &ev.user {
        body["userId"] = json!(u);
    }
    if let Some(q) = &ev.queue {
        body["queueId"] = json!(q);
    }
    if let Some(d) = &ev.disconnect {
        body["disconnectType"] = json!(d);
    }
    let time = fake::iso(ev.time_ms);
    let v = json!({
        "version": "0",
        "id": id,
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{}", ev.kind),
        "source": "aws.partner/genesys.com/cloud/d23b5987-504c-4b3d-a484-bf2e47c76f75/gcorr-it",
        "account": "418295710364",
        "time": format!("{}Z", &time[..19]),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{}.{}", ev.conversation, ev.kind),
            "version": "2",
            "eventBody": body,
            "metadata": {"CorrelationId": fake::derive_uuid(&["trace", &id])},
            "timestamp": time,
        }
    });
    serde_json::to_string(&v).expect("json")
}

/// The detail events a generated conversation would have produced: customer start and end,
/// queue start and end, the first agent's start and end (a consult transfer).
pub fn model_events(m: &Model) -> Vec<Ev> {
    let media = m.media.to_ascii_uppercase();
    let ev = |kind, t, p: usize, user: Option<&String>, queue: bool, disc: Option<String>| Ev {
        conversation: m.id.clone(),
        kind,
        time_ms: t,
        participant: m.participants[p].id.clone(),
        session: m.participants[p].sessions[0].id.clone(),
        media: media.clone(),
        user: user.cloned(),
        queue: queue.then(|| fake::QUEUE_ID.to_string()),
        disconnect: disc,
    };
    let acd = &m.participants[1].sessions[0];
    let agent = &m.participants[2];
    let a = &agent.sessions[0];
    vec![
        ev("customer.start", m.start_ms, 0, None, false, None),
        ev("acd.start", acd.connected_ms, 1, None, true, None),
        ev(
            "acd.end",
            acd.disconnected_ms,
            1,
            None,
            true,
            Some("TRANSFER".into()),
        ),
        ev(
            "user.start",
            a.connected_ms,
            2,
            agent.user_id.as_ref(),
            true,
            None,
        ),
        ev(
            "user.end",
            a.disconnected_ms,
            2,
            agent.user_id.as_ref(),
            true,
            Some(a.disconnect.upper()),
        ),
        ev("customer.end", m.end_ms, 0, None, false, Some("ENDPOINT".into())),
    ]
}

/// Write the events of the generated conversations `ids` (seeded like the fake) to
/// `dir/events.ndjson`, plus `extra` events; return the file.
pub fn write(dir: &Path, seed: u64, ids: &[String], extra: &[Ev]) -> PathBuf {
    let mut out = String::new();
    for id in ids {
        for ev in model_events(&fake::model(seed, id)) {
            out.push_str(&envelope(&ev));
            out.push('\n');
        }
    }
    for ev in extra {
        out.push_str(&envelope(ev));
        out.push('\n');
    }
    let path = dir.join("events.ndjson");
    fs::write(&path, out).expect("write events");
    path
}
