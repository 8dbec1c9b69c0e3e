//! Genesys vocabularies spelled one way: media types, disconnect types, directions, purposes.
//!
//! The same concept reaches gcorr in up to three spellings (detail events `CONSULT_TRANSFER`,
//! the conversations API `transfer.consult`, analytics `consultTransfer`). Everything here maps
//! them onto one lower-case snake_case spelling. Known values come back as `&'static str` so the
//! hot path allocates nothing for them; unknown values are kept (normalised), never rejected.

use crate::ids::Atom;

const MEDIA: &[&str] = &[
    "voice",
    "callback",
    "chat",
    "email",
    "message",
    "cobrowse",
    "video",
    "screenshare",
    "internalmessage",
    "socialexpression",
    "screenmonitoring",
    "unknown",
];

const DISCONNECT: &[&str] = &[
    "endpoint",
    "client",
    "system",
    "transfer",
    "error",
    "peer",
    "other",
    "spam",
    "timeout",
    "transport_failure",
    "conference_transfer",
    "consult_transfer",
    "forward_transfer",
    "no_answer_transfer",
    "not_available_transfer",
    "uncallable",
    "dnd_endpoint",
    "dnd_transfer",
];

const DIRECTION: &[&str] = &["inbound", "outbound"];

/// A media type in lower case (`VOICE` → `voice`).
pub fn media(raw: &str) -> Atom {
    word(&raw.to_ascii_lowercase(), MEDIA)
}

/// A direction in lower case (`INBOUND` → `inbound`).
pub fn direction(raw: &str) -> Atom {
    word(&raw.to_ascii_lowercase(), DIRECTION)
}

/// A disconnect type in its one spelling: `CONSULT_TRANSFER`, `transfer.consult` and
/// `consultTransfer` all become `consult_transfer`.
pub fn disconnect(raw: &str) -> Atom {
    word(&disconnect_spelling(raw), DISCONNECT)
}

fn disconnect_spelling(raw: &str) -> String {
    // camelCase → snake_case; UPPER_SNAKE and dotted forms → lower case.
    let mut snake = String::with_capacity(raw.len() + 4);
    let has_lower = raw.bytes().any(|b| b.is_ascii_lowercase());
    for (i, c) in raw.chars().enumerate() {
        if c.is_ascii_uppercase() && has_lower && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    // The conversations API puts the family first: `transfer.consult`, `transport.failure`.
    match snake.split_once('.') {
        Some(("transfer", kind)) => {
            let kind = match kind {
                "noanswer" => "no_answer",
                "notavailable" => "not_available",
                k => k,
            };
            format!("{kind}_transfer")
        }
        Some(_) => snake.replace('.', "_"),
        None => snake,
    }
}

/// The participant purpose implied by a detail-event kind (`customer.start` → customer).
pub fn purpose_of_event(kind: &str) -> Option<&'static str> {
    let family = kind.split('.').next().unwrap_or(kind);
    match family {
        "customer" => Some("customer"),
        "user" | "acw" | "wrapup" => Some("agent"),
        "acd" => Some("acd"),
        "flow" => Some("ivr"),
        "voicemail" => Some("voicemail"),
        _ => None,
    }
}

fn word(lower: &str, known: &[&'static str]) -> Atom {
    match known.iter().find(|k| **k == lower) {
        Some(k) => Atom::Static(k),
        None => Atom::Text(lower.into()),
    }
}

/// The static spelling of a detail-event kind when it is one Genesys documents.
pub fn event_kind(kind: &str) -> Atom {
    const KINDS: &[&str] = &[
        "acd.start",
        "acd.end",
        "acw",
        "attributes",
        "contact",
        "customer.start",
        "customer.end",
        "flow.start",
        "flow.end",
        "flow.outcome",
        "outbound",
        "user.start",
        "user.end",
        "voicemail.start",
        "voicemail.end",
        "wrapup",
    ];
    match KINDS.iter().find(|k| **k == kind) {
        Some(k) => Atom::Static(k),
        None => Atom::Text(kind.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(a: Atom) -> String {
        a.to_string()
    }

    #[test]
    fn three_spellings_of_one_disconnect() {
        for raw in ["CONSULT_TRANSFER", "transfer.consult", "consultTransfer"] {
            assert_eq!(disconnect(raw), Atom::Static("consult_transfer"), "{raw}");
        }
        assert_eq!(text(disconnect("TRANSPORT_FAILURE")), "transport_failure");
        assert_eq!(text(disconnect("transport.failure")), "transport_failure");
        assert_eq!(text(disconnect("transfer.noanswer")), "no_answer_transfer");
        assert_eq!(
            text(disconnect("transfer.notavailable")),
            "not_available_transfer"
        );
        assert_eq!(text(disconnect("transfer.forward")), "forward_transfer");
        assert_eq!(text(disconnect("endpoint")), "endpoint");
        assert_eq!(text(disconnect("PEER")), "peer");
        assert_eq!(disconnect("SOMETHING_NEW"), Atom::Text("something_new".into()));
    }

    #[test]
    fn media_is_lower_case_and_open() {
        assert_eq!(media("VOICE"), Atom::Static("voice"));
        assert_eq!(media("InternalMessage"), Atom::Static("internalmessage"));
        assert_eq!(media("HOLOGRAM"), Atom::Text("hologram".into()));
    }

    #[test]
    fn purposes_from_kinds() {
        assert_eq!(purpose_of_event("customer.end"), Some("customer"));
        assert_eq!(purpose_of_event("acw"), Some("agent"));
        assert_eq!(purpose_of_event("user.start"), Some("agent"));
        assert_eq!(purpose_of_event("acd.start"), Some("acd"));
        assert_eq!(purpose_of_event("attributes"), None);
    }
}
