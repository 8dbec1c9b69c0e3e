//! The output record: one conversation's timeline, built from its ordered events (pure).
//!
//! A [`Timeline`] borrows the correlated events; it derives the media path, the handoffs and
//! the participants seen in the events, and serialises straight to the output format without
//! materialising owned copies of the events.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::correlate::{Correlation, Event, EventId, Group};
use crate::ids::Uuid;
use crate::input::framing::Pos;
use crate::intern::{Interner, Sym};
use crate::time::Millis;
use crate::vocab;

/// A change of media type along the ordered events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub from: Sym,
    pub to: Sym,
    pub at: i64,
}

/// A participant as the events show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    pub id: Sym,
    pub purpose: Option<&'static str>,
    pub media_types: Vec<Sym>,
    pub user: Option<Sym>,
    pub queue: Option<Sym>,
}

/// What the API added to the timeline.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Enrichment {
    pub status: &'static str,
}

impl Enrichment {
    pub fn skipped() -> Self {
        Enrichment { status: "skipped" }
    }
}

/// One conversation's timeline.
pub struct Timeline<'a> {
    pub correlation: &'a Correlation,
    pub group: &'a Group,
    pub media_types: Vec<Sym>,
    pub handoffs: Vec<Handoff>,
    pub participants: Vec<Participant>,
    pub enrichment: Enrichment,
    /// Serialise without the event list (`--summary`).
    pub summary: bool,
}

impl<'a> Timeline<'a> {
    pub fn build(correlation: &'a Correlation, group: &'a Group, summary: bool) -> Timeline<'a> {
        let mut media_types: Vec<Sym> = Vec::new();
        let mut handoffs = Vec::new();
        let mut participants: Vec<Participant> = Vec::new();
        let mut current: Option<Sym> = None;
        let syms = &correlation.store.syms;
        for e in correlation.events(group) {
            if let Some(m) = e.media {
                if !media_types.contains(&m) {
                    media_types.push(m);
                }
                if let Some(from) = current.filter(|&c| c != m) {
                    handoffs.push(Handoff {
                        from,
                        to: m,
                        at: e.time,
                    });
                }
                current = Some(m);
            }
            if let Some(pid) = e.participant {
                let p = match participants.iter_mut().position(|p| p.id == pid) {
                    Some(i) => &mut participants[i],
                    None => {
                        participants.push(Participant {
                            id: pid,
                            purpose: None,
                            media_types: Vec::new(),
                            user: None,
                            queue: None,
                        });
                        participants.last_mut().expect("just pushed")
                    }
                };
                if let Some(m) = e.media.filter(|m| !p.media_types.contains(m)) {
                    p.media_types.push(m);
                }
                p.purpose = p
                    .purpose
                    .or_else(|| vocab::purpose_of_event(&syms.to_string(e.kind)));
                p.user = p.user.or(e.user);
                p.queue = p.queue.or(e.queue);
            }
        }
        Timeline {
            correlation,
            group,
            media_types,
            handoffs,
            participants,
            enrichment: Enrichment::skipped(),
            summary,
        }
    }

    pub fn syms(&self) -> &'a Interner {
        &self.correlation.store.syms
    }

    pub fn conversation_id(&self) -> Sym {
        self.correlation.conversation(self.group).id
    }

    pub fn events(&self) -> impl ExactSizeIterator<Item = &'a Event> + Clone + 'a {
        self.correlation.events(self.group)
    }

    pub fn event_count(&self) -> usize {
        self.group.range.len()
    }

    pub fn duplicates(&self) -> u32 {
        self.correlation.conversation(self.group).duplicates
    }

    pub fn duration_ms(&self) -> i64 {
        self.group.end - self.group.start
    }

    /// `file:line` or `file@offset`.
    pub fn source(&self, e: &Event) -> String {
        let name = &self.correlation.store.inputs[e.input as usize];
        match e.pos() {
            Pos::Line(l) => format!("{name}:{l}"),
            Pos::Offset(o) => format!("{name}@{o}"),
        }
    }

    pub fn event_id(&self, e: &Event) -> String {
        match e.id {
            EventId::Text(s) => self.syms().to_string(s),
            EventId::Uuid(_) => Uuid(e.id.uuid().expect("uuid")).to_string(),
        }
    }
}

/// A symbol serialised as its text.
struct S<'a>(&'a Interner, Sym);

impl Serialize for S<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.serialize_str(self.0.text(self.1, &mut [0; 36]))
    }
}

struct OptS<'a>(&'a Interner, Option<Sym>);

impl Serialize for OptS<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        match self.1 {
            Some(sym) => S(self.0, sym).serialize(s),
            None => s.serialize_none(),
        }
    }
}

struct Syms<'a>(&'a Interner, &'a [Sym]);

impl Serialize for Syms<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_seq(self.1.iter().map(|&x| S(self.0, x)))
    }
}

struct Time(i64);

impl Serialize for Time {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.serialize_str(Millis(self.0).encode(&mut [0; 24]))
    }
}

impl Serialize for Timeline<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let syms = self.syms();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("conversation_id", &S(syms, self.conversation_id()))?;
        m.serialize_entry("start", &Time(self.group.start))?;
        m.serialize_entry("end", &Time(self.group.end))?;
        m.serialize_entry("duration_ms", &self.duration_ms())?;
        m.serialize_entry("media_types", &Syms(syms, &self.media_types))?;
        m.serialize_entry("handoffs", &Handoffs(syms, &self.handoffs))?;
        m.serialize_entry("event_count", &self.event_count())?;
        m.serialize_entry("duplicates_dropped", &self.duplicates())?;
        m.serialize_entry("participants", &Participants(syms, &self.participants))?;
        if !self.summary {
            m.serialize_entry("events", &Events(self))?;
        }
        m.serialize_entry("enrichment", &self.enrichment)?;
        m.end()
    }
}

struct Handoffs<'a>(&'a Interner, &'a [Handoff]);

impl Serialize for Handoffs<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let mut seq = s.serialize_seq(Some(self.1.len()))?;
        for h in self.1 {
            seq.serialize_element(&HandoffSer(self.0, h))?;
        }
        seq.end()
    }
}

struct HandoffSer<'a>(&'a Interner, &'a Handoff);

impl Serialize for HandoffSer<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("from", &S(self.0, self.1.from))?;
        m.serialize_entry("to", &S(self.0, self.1.to))?;
        m.serialize_entry("at", &Time(self.1.at))?;
        m.end()
    }
}

struct Participants<'a>(&'a Interner, &'a [Participant]);

impl Serialize for Participants<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let mut seq = s.serialize_seq(Some(self.1.len()))?;
        for p in self.1 {
            seq.serialize_element(&ParticipantSer(self.0, p))?;
        }
        seq.end()
    }
}

struct ParticipantSer<'a>(&'a Interner, &'a Participant);

impl Serialize for ParticipantSer<'_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let (syms, p) = (self.0, self.1);
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("participant_id", &S(syms, p.id))?;
        m.serialize_entry("purpose", &p.purpose)?;
        m.serialize_entry("media_types", &Syms(syms, &p.media_types))?;
        m.serialize_entry("user_id", &OptS(syms, p.user))?;
        m.serialize_entry("queue_id", &OptS(syms, p.queue))?;
        m.end()
    }
}

struct Events<'t, 'a>(&'t Timeline<'a>);

impl Serialize for Events<'_, '_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let t = self.0;
        let mut seq = s.serialize_seq(Some(t.event_count()))?;
        for e in t.events() {
            seq.serialize_element(&EventSer(t, e))?;
        }
        seq.end()
    }
}

struct EventSer<'t, 'a>(&'t Timeline<'a>, &'a Event);

impl Serialize for EventSer<'_, '_> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        let (t, e) = (self.0, self.1);
        let syms = t.syms();
        let mut m = s.serialize_map(Some(12))?;
        match e.id {
            EventId::Text(sym) => m.serialize_entry("event_id", &S(syms, sym))?,
            EventId::Uuid(_) => {
                let mut buf = [0; 36];
                m.serialize_entry("event_id", Uuid(e.id.uuid().expect("uuid")).encode(&mut buf))?
            }
        }
        m.serialize_entry("time", &Time(e.time))?;
        m.serialize_entry("event_type", &S(syms, e.kind))?;
        m.serialize_entry("media_type", &OptS(syms, e.media))?;
        m.serialize_entry("participant_id", &OptS(syms, e.participant))?;
        m.serialize_entry("session_id", &OptS(syms, e.session))?;
        m.serialize_entry("direction", &OptS(syms, e.direction))?;
        m.serialize_entry("queue_id", &OptS(syms, e.queue))?;
        m.serialize_entry("user_id", &OptS(syms, e.user))?;
        m.serialize_entry("disconnect_type", &OptS(syms, e.disconnect))?;
        m.serialize_entry("wrapup_code", &OptS(syms, e.wrapup))?;
        m.serialize_entry("source", &t.source(e))?;
        m.end()
    }
}
