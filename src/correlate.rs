//! Dedup and grouping: the pure heart of gcorr.
//!
//! [`Store::add`] takes events in input order, drops the ones already seen (by event id, and
//! with `--dedup content` by the digest of their `detail`) and keeps the rest in a compact
//! form (80 bytes an event, ids interned, the input, position and abandoned mark packed in one
//! word). [`Store::finish`] groups them by conversation,
//! orders each conversation's events by time (ties keep input order) and orders the
//! conversations by start, then id, so the same input always gives the same output.

use std::ops::Range;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::event::ParsedEvent;
use crate::event::lag::Lag;
use crate::findings::Flags;
use crate::ids::Atom;
use crate::input::framing::Pos;
use crate::intern::{Interner, Sym};

/// An event id: packed UUID, or interned text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventId {
    Uuid([u32; 4]),
    Text(Sym),
}

impl EventId {
    pub fn uuid(self) -> Option<u128> {
        match self {
            EventId::Uuid(w) => Some(w.iter().fold(0u128, |acc, &x| (acc << 32) | u128::from(x))),
            EventId::Text(_) => None,
        }
    }
}

/// A kept event.
#[derive(Clone, Debug)]
pub struct Event {
    pub time: i64,
    /// The input, the position in it, and two marks: see [`Event::pos`].
    place: u64,
    pub id: EventId,
    /// `delivered − time`.
    pub lag: Lag,
    /// Index into [`Store::conversations`].
    pub conversation: u32,
    pub kind: Sym,
    pub media: Option<Sym>,
    pub participant: Option<Sym>,
    pub session: Option<Sym>,
    pub direction: Option<Sym>,
    pub queue: Option<Sym>,
    pub user: Option<Sym>,
    pub disconnect: Option<Sym>,
    pub wrapup: Option<Sym>,
}

// `place`: bit 63 says the position is a byte offset (not a line), bit 62 marks an abandoned
// `acd.end`, bits 38..62 hold the input, bits 0..38 the position (256 Gi lines or bytes of one
// input; larger ones stop there).
const OFFSET_FLAG: u64 = 1 << 63;
const ABANDONED_FLAG: u64 = 1 << 62;
const POS_BITS: u32 = 38;
const POS_MASK: u64 = (1 << POS_BITS) - 1;
const INPUT_MASK: u64 = (1 << (62 - POS_BITS)) - 1;

impl Event {
    pub fn pos(&self) -> Pos {
        let at = self.place & POS_MASK;
        if self.place & OFFSET_FLAG != 0 {
            Pos::Offset(at)
        } else {
            Pos::Line(at)
        }
    }

    /// Index into [`Store::inputs`].
    pub fn input(&self) -> u32 {
        ((self.place >> POS_BITS) & INPUT_MASK) as u32
    }

    /// An `acd.end` whose outcome is `ABANDON`.
    pub fn abandoned(&self) -> bool {
        self.place & ABANDONED_FLAG != 0
    }

    fn place(input: u32, pos: Pos, abandoned: bool) -> u64 {
        let (at, flag) = match pos {
            Pos::Line(l) => (l, 0),
            Pos::Offset(o) => (o, OFFSET_FLAG),
        };
        debug_assert!(u64::from(input) <= INPUT_MASK, "input {input}");
        flag | if abandoned { ABANDONED_FLAG } else { 0 }
            | (u64::from(input) & INPUT_MASK) << POS_BITS
            | at.min(POS_MASK)
    }
}

/// One conversation's running totals.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub id: Sym,
    pub events: u32,
    pub duplicates: u32,
}

/// Whether [`Store::add`] kept an event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Added {
    Kept,
    Duplicate,
}

/// Every kept event, in input order.
#[derive(Default)]
pub struct Store {
    /// Input names, indexed by [`Event::input`].
    pub inputs: Vec<String>,
    pub syms: Interner,
    pub events: Vec<Event>,
    pub conversations: Vec<Conversation>,
    /// Each duplicate dropped: its conversation and the UTC minute of its time (for the
    /// minute series).
    pub duplicate_minutes: Vec<(u32, u32)>,
    conversation_index: FxHashMap<Sym, u32>,
    seen_uuids: FxHashSet<u128>,
    seen_texts: FxHashSet<Sym>,
    seen_content: FxHashSet<u128>,
}

impl Store {
    pub fn new(inputs: Vec<String>) -> Store {
        Store {
            inputs,
            ..Store::default()
        }
    }

    pub fn add(&mut self, e: &ParsedEvent, input: u32, pos: Pos) -> Added {
        let id = match &e.id {
            Atom::Uuid(v) => {
                let v = v.get();
                if !self.seen_uuids.insert(v) {
                    return self.duplicate(e);
                }
                EventId::Uuid([(v >> 96) as u32, (v >> 64) as u32, (v >> 32) as u32, v as u32])
            }
            other => {
                let sym = self.syms.sym(other);
                if !self.seen_texts.insert(sym) {
                    return self.duplicate(e);
                }
                EventId::Text(sym)
            }
        };
        if let Some(digest) = e.content {
            if !self.seen_content.insert(digest) {
                return self.duplicate(e);
            }
        }
        let conversation = self.conversation(&e.conversation);
        self.conversations[conversation as usize].events += 1;
        let syms = &mut self.syms;
        let mut opt = |a: &Option<Atom>| a.as_ref().map(|a| syms.sym(a));
        let event = Event {
            time: e.time,
            place: Event::place(input, pos, e.abandoned),
            id,
            lag: Lag::new(e.time, e.delivered),
            conversation,
            media: opt(&e.media),
            participant: opt(&e.participant),
            session: opt(&e.session),
            direction: opt(&e.direction),
            queue: opt(&e.queue),
            user: opt(&e.user),
            disconnect: opt(&e.disconnect),
            wrapup: opt(&e.wrapup),
            kind: syms.sym(&e.kind),
        };
        self.events.push(event);
        Added::Kept
    }

    fn conversation(&mut self, id: &Atom) -> u32 {
        let sym = self.syms.sym(id);
        let next = self.conversations.len() as u32;
        *self.conversation_index.entry(sym).or_insert_with(|| {
            self.conversations.push(Conversation {
                id: sym,
                events: 0,
                duplicates: 0,
            });
            next
        })
    }

    fn duplicate(&mut self, e: &ParsedEvent) -> Added {
        if let Some(sym) = self.syms.get(&e.conversation) {
            if let Some(&c) = self.conversation_index.get(&sym) {
                self.conversations[c as usize].duplicates += 1;
                // Times are at most year 9999: their minute fits 32 bits.
                let minute = e.time.div_euclid(60_000) as u32;
                self.duplicate_minutes.push((c, minute));
            }
        }
        Added::Duplicate
    }

    /// Approximate bytes held per kept event, for `-v`.
    pub fn bytes_per_event(&self) -> f64 {
        let n = self.events.len().max(1) as f64;
        let held = self.events.capacity() * std::mem::size_of::<Event>()
            + self.seen_uuids.capacity() * 17
            + self.seen_texts.capacity() * 5
            + self.seen_content.capacity() * 17
            + self.conversation_index.capacity() * 9
            + self.duplicate_minutes.capacity() * 8
            + self.conversations.capacity() * std::mem::size_of::<Conversation>()
            + self.syms.heap_bytes();
        held as f64 / n
    }

    /// Groups and orders everything kept.
    pub fn finish(mut self) -> Correlation {
        // The dedup sets are done with: give their memory back before grouping.
        self.seen_uuids = FxHashSet::default();
        self.seen_texts = FxHashSet::default();
        self.seen_content = FxHashSet::default();
        self.conversation_index = FxHashMap::default();
        let mut starts = Vec::with_capacity(self.conversations.len() + 1);
        let mut total = 0u32;
        for c in &self.conversations {
            starts.push(total);
            total += c.events;
        }
        starts.push(total);
        // Counting sort by conversation: stable, so each group is in input order.
        let mut fill = starts.clone();
        let mut order = vec![0u32; self.events.len()];
        for (i, e) in self.events.iter().enumerate() {
            let slot = &mut fill[e.conversation as usize];
            order[*slot as usize] = i as u32;
            *slot += 1;
        }
        let events = &self.events;
        let mut groups: Vec<Group> = (0..self.conversations.len())
            .map(|c| {
                let range = starts[c] as usize..starts[c + 1] as usize;
                let slice = &mut order[range.clone()];
                // Stable: events at the same millisecond keep their input order.
                slice.sort_by_key(|&i| events[i as usize].time);
                Group {
                    conversation: c as u32,
                    flags: Flags::default(),
                    start: events[slice[0] as usize].time,
                    end: events[slice[slice.len() - 1] as usize].time,
                    range,
                }
            })
            .collect();
        let (syms, convs) = (&self.syms, &self.conversations);
        groups.sort_by(|a, b| {
            a.start.cmp(&b.start).then_with(|| {
                syms.cmp_text(
                    convs[a.conversation as usize].id,
                    convs[b.conversation as usize].id,
                )
            })
        });
        Correlation {
            store: self,
            order,
            groups,
        }
    }
}

/// One conversation's place in [`Correlation::order`].
#[derive(Clone, Debug)]
pub struct Group {
    pub conversation: u32,
    /// Set by [`crate::findings::flag`].
    pub flags: Flags,
    pub start: i64,
    pub end: i64,
    pub range: Range<usize>,
}

/// Everything kept, grouped and ordered.
pub struct Correlation {
    pub store: Store,
    /// Event indices, grouped by conversation, each group in time order.
    pub order: Vec<u32>,
    /// Conversations in output order.
    pub groups: Vec<Group>,
}

impl Correlation {
    pub fn events(&self, g: &Group) -> impl ExactSizeIterator<Item = &Event> + Clone {
        self.order[g.range.clone()]
            .iter()
            .map(|&i| &self.store.events[i as usize])
    }

    pub fn conversation(&self, g: &Group) -> &Conversation {
        &self.store.conversations[g.conversation as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn ev(id: &str, conv: &str, time: i64) -> ParsedEvent {
        ParsedEvent {
            id: Atom::id(id),
            conversation: Atom::id(conv),
            time,
            kind: Atom::from("acd.start"),
            media: None,
            participant: None,
            session: None,
            direction: None,
            queue: None,
            user: None,
            disconnect: None,
            wrapup: None,
            delivered: None,
            abandoned: false,
            content: None,
        }
    }

    fn timelines(c: &Correlation) -> Vec<(String, Vec<String>)> {
        c.groups
            .iter()
            .map(|g| {
                let conv = c.store.syms.to_string(c.conversation(g).id);
                let ids = c
                    .events(g)
                    .map(|e| match e.id {
                        EventId::Text(s) => c.store.syms.to_string(s),
                        EventId::Uuid(_) => crate::ids::Uuid(e.id.uuid().unwrap()).to_string(),
                    })
                    .collect();
                (conv, ids)
            })
            .collect()
    }

    #[test]
    fn size_of_a_kept_event() {
        assert_eq!(std::mem::size_of::<Event>(), 80);
        assert_eq!(std::mem::size_of::<Option<Sym>>(), 4);
    }

    #[test]
    fn dedups_groups_and_orders() {
        let mut s = Store::default();
        let input = [
            ev("e3", "b", 30),
            ev("e1", "a", 20),
            ev("e2", "a", 10),
            ev("e1", "a", 20),
            ev("e4", "a", 20),
            ev("e5", "c", 10),
        ];
        let added: Vec<Added> = input.iter().map(|e| s.add(e, 0, Pos::Line(1))).collect();
        assert_eq!(added[3], Added::Duplicate);
        let c = s.finish();
        assert_eq!(
            timelines(&c),
            [
                ("a".into(), vec!["e2".into(), "e1".into(), "e4".into()]),
                ("c".into(), vec!["e5".into()]),
                ("b".into(), vec!["e3".into()]),
            ]
        );
        assert_eq!(c.conversation(&c.groups[0]).duplicates, 1);
    }

    #[test]
    fn uuid_ids_round_trip() {
        let id = "2f7bf00a-0fc2-4d6a-9b56-92238191433e";
        let mut s = Store::default();
        s.add(&ev(id, "a", 1), 0, Pos::Offset(7));
        assert_eq!(s.add(&ev(id, "a", 1), 0, Pos::Offset(9)), Added::Duplicate);
        let c = s.finish();
        assert_eq!(timelines(&c)[0].1, [id]);
        assert_eq!(c.store.events[0].pos(), Pos::Offset(7));
    }

    #[test]
    fn input_position_and_mark_share_a_word() {
        let mut s = Store::default();
        let mut e = ev("e1", "a", 1);
        e.abandoned = true;
        s.add(&e, 70_000, Pos::Line((1 << 38) - 1));
        s.add(&ev("e2", "a", 1), 3, Pos::Offset(12));
        let [a, b] = &s.events[..] else { panic!() };
        assert_eq!(
            (a.input(), a.pos(), a.abandoned()),
            (70_000, Pos::Line((1 << 38) - 1), true)
        );
        assert_eq!((b.input(), b.pos(), b.abandoned()), (3, Pos::Offset(12), false));
    }

    #[test]
    fn content_dedup_catches_new_ids_with_the_same_detail() {
        let mut s = Store::default();
        let mut a = ev("e1", "a", 1);
        a.content = Some(42);
        let mut b = ev("e2", "a", 1);
        b.content = Some(42);
        assert_eq!(s.add(&a, 0, Pos::Line(1)), Added::Kept);
        assert_eq!(s.add(&b, 0, Pos::Line(2)), Added::Duplicate);
    }
}
