//! Genesys vocabularies spelled one way: media types, disconnect types, directions, event kinds.
//!
//! The same concept reaches gcorr in up to three spellings (detail events `CONSULT_TRANSFER`,
//! the conversations API `transfer.consult`, analytics `consultTransfer`). Everything here maps
//! them onto one lower-case snake_case spelling. Known values become [`Atom::Word`] (an index
//! into [`WORDS`], pre-interned, so the hot path neither allocates nor hashes them); unknown
//! values are kept (normalised), never rejected.

use std::ops::Range;

use crate::ids::Atom;

/// Every known word; categories are ranges of it.
pub static WORDS: &[&str] = &[
    // media (0..12)
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
    // directions (12..14)
    "inbound",
    "outbound",
    // disconnect types (14..32)
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
    // detail-event kinds (32..48)
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

const MEDIA: Range<usize> = 0..12;
const DIRECTION: Range<usize> = 12..14;
const DISCONNECT: Range<usize> = 14..32;
const KIND: Range<usize> = 32..48;

/// The text of a word.
pub fn word(i: u16) -> &'static str {
    WORDS[i as usize]
}

/// The word in `range` equal to `raw` ignoring ASCII case.
fn find(range: Range<usize>, raw: &str) -> Option<Atom> {
    // Every word is lower case: lower `raw` once, then compare exactly. Longer than any word,
    // it is none of them.
    let mut buf = [0u8; LONGEST];
    let lower = buf.get_mut(..raw.len())?;
    for (l, c) in lower.iter_mut().zip(raw.bytes()) {
        *l = c.to_ascii_lowercase();
    }
    range
        .into_iter()
        .find(|&i| WORDS[i].as_bytes() == lower)
        .map(|i| Atom::Word(i as u16))
}

/// The length of the longest word.
const LONGEST: usize = 22;

fn known_or_lower(range: Range<usize>, raw: &str) -> Atom {
    find(range, raw).unwrap_or_else(|| Atom::Text(raw.to_ascii_lowercase().into()))
}

/// A media type in lower case (`VOICE` → `voice`).
pub fn media(raw: &str) -> Atom {
    known_or_lower(MEDIA, raw)
}

/// A direction in lower case (`INBOUND` → `inbound`).
pub fn direction(raw: &str) -> Atom {
    known_or_lower(DIRECTION, raw)
}

/// A detail-event kind (`customer.start`), kept as written when Genesys does not document it.
pub fn event_kind(kind: &str) -> Atom {
    KIND.into_iter()
        .find(|&i| WORDS[i] == kind)
        .map_or_else(|| Atom::Text(kind.into()), |i| Atom::Word(i as u16))
}

/// A disconnect type in its one spelling: `CONSULT_TRANSFER`, `transfer.consult` and
/// `consultTransfer` all become `consult_transfer`.
pub fn disconnect(raw: &str) -> Atom {
    // UPPER_SNAKE and plain lower case need no rewriting.
    if let Some(w) = find(DISCONNECT, raw) {
        return w;
    }
    let spelled = disconnect_spelling(raw);
    find(DISCONNECT, &spelled).unwrap_or_else(|| Atom::Text(spelled.into()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(a: Atom) -> String {
        a.to_string()
    }

    #[test]
    fn categories_are_where_the_ranges_say() {
        assert_eq!(WORDS[MEDIA.end - 1], "unknown");
        assert_eq!(WORDS[DIRECTION.start], "inbound");
        assert_eq!(WORDS[DISCONNECT.start], "endpoint");
        assert_eq!(WORDS[DISCONNECT.end - 1], "dnd_transfer");
        assert_eq!(WORDS[KIND.start], "acd.start");
        assert_eq!(KIND.end, WORDS.len());
        // What `find` relies on.
        for w in WORDS {
            assert!(
                w.len() <= LONGEST && !w.bytes().any(|b| b.is_ascii_uppercase()),
                "{w}"
            );
        }
        assert_eq!(WORDS.iter().map(|w| w.len()).max(), Some(LONGEST));
    }

    #[test]
    fn three_spellings_of_one_disconnect() {
        for raw in ["CONSULT_TRANSFER", "transfer.consult", "consultTransfer"] {
            assert!(matches!(disconnect(raw), Atom::Word(_)), "{raw}");
            assert_eq!(text(disconnect(raw)), "consult_transfer", "{raw}");
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
        assert_eq!(disconnect("SOMETHING_NEW"), Atom::from("something_new"));
    }

    #[test]
    fn media_is_lower_case_and_open() {
        assert_eq!(text(media("VOICE")), "voice");
        assert!(matches!(media("InternalMessage"), Atom::Word(_)));
        assert_eq!(media("HOLOGRAM"), Atom::from("hologram"));
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
