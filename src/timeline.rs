//! The output record: one conversation's timeline, built from its ordered events (pure).
//!
//! A [`Timeline`] borrows the correlated events; it derives the media path, the handoffs and
//! the participants seen in the events, merges in what the API said about the conversation,
//! and serialises straight to the output format without materialising copies of the events.

use smallvec::SmallVec;

use crate::api::Outcome;
use crate::api::model::Session;
use crate::correlate::{Correlation, Event, Group, Id};
use crate::ids::Text;
use crate::input::framing::Pos;
use crate::intern::{Interner, Sym};
use crate::vocab;

/// A change of media type along the ordered events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub from: Sym,
    pub to: Sym,
    pub at: i64,
}

/// A participant: as the events show it, merged with what the API says when it answered.
/// Every text is borrowed from the run or spelled in place: building one allocates nothing
/// but a long media list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant<'a> {
    pub participant_id: Text<'a>,
    pub purpose: Option<&'a str>,
    pub name: Option<&'a str>,
    pub user_id: Option<Text<'a>>,
    pub queue_id: Option<Text<'a>>,
    pub media_types: SmallVec<[Text<'a>; 2]>,
    /// The API's media sessions (empty without enrichment).
    pub sessions: &'a [Session],
}

/// A participant as the events show it.
struct Seen {
    id: Id,
    purpose: Option<&'static str>,
    media_types: SmallVec<[Sym; 2]>,
    user: Option<Sym>,
    queue: Option<Sym>,
}

/// One conversation's timeline.
pub struct Timeline<'a> {
    pub correlation: &'a Correlation,
    pub group: &'a Group,
    pub media_types: Vec<Sym>,
    pub handoffs: Vec<Handoff>,
    pub participants: Vec<Participant<'a>>,
    pub enrichment: &'a Outcome,
    /// Serialise without the event list (`--summary`).
    pub summary: bool,
}

impl<'a> Timeline<'a> {
    pub fn build(
        correlation: &'a Correlation,
        group: &'a Group,
        enrichment: &'a Outcome,
        summary: bool,
    ) -> Timeline<'a> {
        let mut media_types: Vec<Sym> = Vec::new();
        let mut handoffs = Vec::new();
        let mut seen: Vec<Seen> = Vec::new();
        let mut current: Option<Sym> = None;
        let syms = &correlation.syms;
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
                let p = match seen.iter().position(|p| p.id == pid) {
                    Some(i) => &mut seen[i],
                    None => {
                        seen.push(Seen {
                            id: pid,
                            purpose: None,
                            media_types: SmallVec::new(),
                            user: None,
                            queue: None,
                        });
                        seen.last_mut().expect("just pushed")
                    }
                };
                if let Some(m) = e.media.filter(|m| !p.media_types.contains(m)) {
                    p.media_types.push(m);
                }
                p.purpose = p
                    .purpose
                    .or_else(|| vocab::purpose_of_event(syms.text(e.kind, &mut [0; 36])));
                p.user = p.user.or(e.user);
                p.queue = p.queue.or(e.queue);
            }
        }
        let participants = merge(syms, seen, enrichment);
        Timeline {
            correlation,
            group,
            media_types,
            handoffs,
            participants,
            enrichment,
            summary,
        }
    }

    pub fn syms(&self) -> &'a Interner {
        &self.correlation.syms
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

    /// Where `e` was read, in parts: the input's name, `:` and a line or `@` and an offset.
    pub fn origin(&self, e: &Event) -> (&'a str, char, u64) {
        let file = &self.correlation.store.inputs[e.input() as usize];
        match e.pos() {
            Pos::Line(l) => (file, ':', l),
            Pos::Offset(o) => (file, '@', o),
        }
    }
}

/// The API's participants (in its order) with what the events add, then those only the
/// events know.
fn merge<'a>(syms: &'a Interner, mut seen: Vec<Seen>, enrichment: &'a Outcome) -> Vec<Participant<'a>> {
    let spell = |s: Option<Sym>| s.map(|s| syms.spell(s));
    let mut out = Vec::with_capacity(seen.len());
    for api in enrichment.data.iter().flat_map(|d| &d.participants) {
        let from_events = seen
            .iter()
            .position(|p| *p.id.spell(syms) == *api.id)
            .map(|i| seen.remove(i));
        let ev = from_events.as_ref();
        let mut media_types: SmallVec<[Text; 2]> = ev
            .iter()
            .flat_map(|p| &p.media_types)
            .map(|&m| syms.spell(m))
            .collect();
        for s in &api.sessions {
            if !s.media_type.is_empty() && !media_types.iter().any(|m| **m == *s.media_type) {
                media_types.push(Text::Borrowed(&s.media_type));
            }
        }
        out.push(Participant {
            participant_id: Text::Borrowed(&api.id),
            purpose: api.purpose.as_deref().or_else(|| ev.and_then(|p| p.purpose)),
            name: api.name.as_deref(),
            user_id: api
                .user_id
                .as_deref()
                .map(Text::Borrowed)
                .or_else(|| spell(ev.and_then(|p| p.user))),
            queue_id: api
                .queue_id
                .as_deref()
                .map(Text::Borrowed)
                .or_else(|| spell(ev.and_then(|p| p.queue))),
            media_types,
            sessions: &api.sessions,
        });
    }
    out.extend(seen.into_iter().map(|p| Participant {
        participant_id: p.id.spell(syms),
        purpose: p.purpose,
        name: None,
        user_id: spell(p.user),
        queue_id: spell(p.queue),
        media_types: p.media_types.iter().map(|&m| syms.spell(m)).collect(),
        sessions: &[],
    }));
    out
}
