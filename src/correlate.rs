//! Dedup, grouping and selection: the pure heart of gcorr.
//!
//! [`Store::add`] takes events in input order, drops the ones already seen (by event id, and
//! with `--dedup content` by the digest of their `detail`) and keeps the rest in a compact
//! form (112 bytes an event: its own ids packed, the shared ones interned, the input,
//! position and abandoned mark packed in one word). For each kept id it remembers which event
//! holds it (8 bytes), so that an id seen again with other content is told apart from a
//! re-delivery (a *conflicting* duplicate, judged on every field a timeline shows), and every
//! duplicate is counted in the timeline of the event kept for its id — the conversation the id was first seen in — so
//! the timelines' duplicates add up to the run's. [`Store::finish`] groups the events by
//! conversation, orders each conversation's events by time (ties keep input order) and orders
//! the conversations by start, then id, so the same input always gives the same output.
//! [`Correlation::select`] then keeps the conversations the time and media filters select,
//! judged on whole timelines.

use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::Arc;

use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::dedup::Seen;
use crate::event::ParsedEvent;
use crate::event::lag::Lag;
use crate::findings::Flags;
use crate::ids::{Atom, Text, U128, Uuid};
use crate::input::framing::Pos;
use crate::intern::{Interner, Interning, Recent, Sym};

/// Which events and conversations to keep.
///
/// `--conversation` (and with `--clip` the time window) is decided per event while reading
/// ([`Filter::keeps`]); the time window and `--media` select whole conversations after
/// grouping ([`Correlation::select`]), since what a conversation did is only known from all
/// of its events.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Keep only the events inside the time window rather than whole conversations.
    pub clip: bool,
    pub conversations: Vec<Atom>,
    pub media: Vec<Atom>,
    /// `--flag`: conversations with any of these flags (none: all).
    pub flags: Flags,
}

impl Filter {
    /// Whether an event is read at all.
    pub fn keeps(&self, e: &ParsedEvent) -> bool {
        (self.conversations.is_empty() || self.conversations.contains(&e.conversation))
            && (!self.clip || self.in_window(e.time))
    }

    fn in_window(&self, time: i64) -> bool {
        self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time < u)
    }

    /// Whether some conversations may be left out after grouping.
    fn selects(&self) -> bool {
        !self.media.is_empty()
            || !self.flags.is_empty()
            || (!self.clip && (self.since.is_some() || self.until.is_some()))
    }
}

/// An id held in the event itself: a packed UUID, or interned text. For the ids nearly
/// every event has its own of (event, participant, session): interning those would cost a
/// table entry each, larger than the id, and a look-up on every read.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Id {
    Uuid([u32; 4]),
    Text(Sym),
}

impl Id {
    fn new(atom: &Atom, syms: &mut Recent) -> Id {
        match atom {
            Atom::Uuid(v) => {
                let v = v.get();
                Id::Uuid([(v >> 96) as u32, (v >> 64) as u32, (v >> 32) as u32, v as u32])
            }
            other => Id::Text(syms.sym(other)),
        }
    }

    pub fn uuid(self) -> Option<u128> {
        match self {
            Id::Uuid(w) => Some(w.iter().fold(0u128, |acc, &x| (acc << 32) | u128::from(x))),
            Id::Text(_) => None,
        }
    }

    /// The id as text, written into `buf` when it is a packed UUID.
    pub fn text<'a>(self, syms: &'a Interner, buf: &'a mut [u8; 36]) -> &'a str {
        match self {
            Id::Text(s) => syms.text(s, buf),
            Id::Uuid(_) => Uuid(self.uuid().expect("a uuid")).encode(buf),
        }
    }

    /// The id as text, borrowed or spelled, to keep.
    pub fn spell(self, syms: &Interner) -> Text<'_> {
        match self {
            Id::Text(s) => syms.spell(s),
            Id::Uuid(_) => Text::uuid(self.uuid().expect("a uuid")),
        }
    }

    pub fn to_string(self, syms: &Interner) -> String {
        self.text(syms, &mut [0; 36]).to_owned()
    }
}

/// A kept event.
#[derive(Clone, Debug)]
pub struct Event {
    pub time: i64,
    /// The input, the position in it, and two marks: see [`Event::pos`].
    place: u64,
    pub id: Id,
    /// `delivered − time`.
    pub lag: Lag,
    /// Index into [`Store::conversations`].
    pub conversation: u32,
    pub kind: Sym,
    pub media: Option<Sym>,
    pub participant: Option<Id>,
    pub session: Option<Id>,
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

/// What [`Store::add`] did with an event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Added {
    Kept,
    /// A re-delivery of a kept event: same id, same content.
    Duplicate,
    /// The id of a kept event with other content; the kept one is at `input`, `pos`.
    Conflicting {
        input: u32,
        pos: Pos,
    },
}

/// An event interned on a parser thread, ready for [`Store::add_interned`]: the event as the
/// store keeps it, but for its conversation's index, which the store gives in input order.
pub struct Incoming {
    event: Event,
    conversation: Sym,
    /// The hash of the event's id, worked out on the parser's thread.
    hash: u32,
    /// Boxed: only `--dedup content` has one, and every event crosses a channel.
    content: Option<Box<u128>>,
}

impl Incoming {
    pub fn pos(&self) -> Pos {
        self.event.pos()
    }

    pub fn new(e: &ParsedEvent, syms: &mut Recent, input: u32, pos: Pos) -> Incoming {
        let id = Id::new(&e.id, syms);
        let participant = e.participant.as_ref().map(|a| Id::new(a, syms));
        let session = e.session.as_ref().map(|a| Id::new(a, syms));
        let kind = syms.sym(&e.kind);
        let conversation = syms.sym(&e.conversation);
        let mut opt = |a: &Option<Atom>| a.as_ref().map(|a| syms.sym(a));
        Incoming {
            event: Event {
                time: e.time,
                place: Event::place(input, pos, e.abandoned),
                id,
                lag: Lag::new(e.time, e.delivered),
                conversation: 0,
                kind,
                media: opt(&e.media),
                participant,
                session,
                direction: opt(&e.direction),
                queue: opt(&e.queue),
                user: opt(&e.user),
                disconnect: opt(&e.disconnect),
                wrapup: opt(&e.wrapup),
            },
            conversation,
            hash: id_hash(&id),
            content: e.content.map(Box::new),
        }
    }
}

/// An id's hash, as [`Seen`] keeps it.
fn id_hash(id: &Id) -> u32 {
    FxBuildHasher.hash_one(id) as u32
}

/// Duplicates dropped from one input and counted in one conversation.
#[derive(Clone, Copy, Debug, Default)]
struct Dropped {
    duplicates: u32,
    conflicting: u32,
}

/// Per input, what [`Correlation::select`] left out: kept events and duplicates of the
/// conversations not selected, which count as filtered out instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unselected {
    pub kept: u64,
    pub duplicates: u64,
    pub conflicting: u64,
}

/// Every kept event, in input order.
#[derive(Default)]
pub struct Store {
    /// Input names, indexed by [`Event::input`].
    pub inputs: Vec<String>,
    /// Shared with the parser threads while reading ([`Store::interning`]).
    syms: Arc<Interning>,
    pub events: Vec<Event>,
    pub conversations: Vec<Conversation>,
    /// Each duplicate dropped: the conversation it is counted in and the UTC minute of the
    /// event kept for its id (for the minute series).
    pub duplicate_minutes: Vec<(u32, u32)>,
    /// By [`Sym::index`]: the conversation's index in `conversations`, plus one (0: none).
    conversation_index: Vec<u32>,
    /// The event kept for each id.
    seen: Seen,
    /// `--dedup content`: other ids that stand for a kept event.
    aliases: FxHashMap<Id, u32>,
    /// `--dedup content`: detail digest → the event kept with it.
    seen_content: FxHashMap<U128, u32>,
    /// By (conversation, input); only pairs with duplicates have an entry.
    dropped: FxHashMap<(u32, u32), Dropped>,
}

impl Store {
    pub fn new(inputs: Vec<String>) -> Store {
        Store {
            inputs,
            ..Store::default()
        }
    }

    /// Adds an event read in input order (interned here: see [`Incoming`] for the parsers' way).
    pub fn add(&mut self, e: &ParsedEvent, input: u32, pos: Pos) -> Added {
        let incoming = Incoming::new(e, &mut Recent::new(&self.syms, 0), input, pos);
        self.add_interned(incoming)
    }

    /// Adds an event interned by [`Incoming::new`], in input order.
    pub fn add_interned(&mut self, incoming: Incoming) -> Added {
        let Incoming {
            mut event,
            conversation,
            hash,
            content,
        } = incoming;
        let index = self.events.len() as u32;
        let events = &self.events;
        let first = self
            .seen
            .find(hash, |kept| events[kept as usize].id == event.id)
            .or_else(|| self.aliases.get(&event.id).copied());
        if let Some(first) = first {
            return self.duplicate(first, &event, conversation);
        }
        if let Some(digest) = content.map(|d| *d) {
            if let Some(&kept) = self.seen_content.get(&U128::from(digest)) {
                // The same detail under a new id: the new id now stands for the event kept,
                // so a re-delivery of it counts there too.
                self.aliases.insert(event.id, kept);
                return self.duplicate(kept, &event, conversation);
            }
            self.seen_content.insert(U128::from(digest), index);
        }
        self.seen.insert(hash, index);
        event.conversation = self.conversation(conversation);
        self.conversations[event.conversation as usize].events += 1;
        self.events.push(event);
        Added::Kept
    }

    fn conversation(&mut self, sym: Sym) -> u32 {
        let at = sym.index();
        if at >= self.conversation_index.len() {
            let len = (at + 1).next_power_of_two().max(1024);
            self.conversation_index.resize(len, 0);
        }
        match self.conversation_index[at] {
            0 => {
                let next = self.conversations.len() as u32;
                self.conversations.push(Conversation {
                    id: sym,
                    events: 0,
                    duplicates: 0,
                });
                self.conversation_index[at] = next + 1;
                next
            }
            known => known - 1,
        }
    }

    /// Counts a duplicate of the kept event `first` in that event's conversation: a conflict
    /// when `e` (of `conversation`) differs from it in anything a timeline shows but its
    /// delivery (a re-delivery is delivered again, later).
    fn duplicate(&mut self, first: u32, e: &Event, conversation: Sym) -> Added {
        let kept = &self.events[first as usize];
        let same = self.conversations[kept.conversation as usize].id == conversation
            && (kept.time, kept.abandoned(), kept.kind, kept.media)
                == (e.time, e.abandoned(), e.kind, e.media)
            && (kept.participant, kept.session, kept.direction) == (e.participant, e.session, e.direction)
            && (kept.queue, kept.user, kept.disconnect, kept.wrapup)
                == (e.queue, e.user, e.disconnect, e.wrapup);
        let input = e.input();
        self.conversations[kept.conversation as usize].duplicates += 1;
        // Times are at most year 9999: their minute fits 32 bits.
        let minute = kept.time.div_euclid(60_000) as u32;
        self.duplicate_minutes.push((kept.conversation, minute));
        let d = self.dropped.entry((kept.conversation, input)).or_default();
        d.duplicates += 1;
        if same {
            Added::Duplicate
        } else {
            d.conflicting += 1;
            Added::Conflicting {
                input: kept.input(),
                pos: kept.pos(),
            }
        }
    }

    /// The symbol table, for threads that intern events for [`Store::add_interned`].
    pub fn interning(&self) -> Arc<Interning> {
        self.syms.clone()
    }

    /// Asks the memory for what adding `incoming` will look up: its id's slot and its
    /// conversation's.
    pub fn prefetch(&self, incoming: &Incoming) {
        self.seen.prefetch(incoming.hash);
        if let Some(slot) = self.conversation_index.get(incoming.conversation.index()) {
            crate::prefetch(slot);
        }
    }

    /// Whether any event of this conversation was kept.
    pub fn has_conversation(&self, id: &Atom) -> bool {
        self.syms
            .get(id)
            .and_then(|sym| self.conversation_index.get(sym.index()))
            .is_some_and(|&c| c != 0)
    }

    /// Approximate bytes held per kept event, for `-v`.
    pub fn bytes_per_event(&self) -> f64 {
        let n = self.events.len().max(1) as f64;
        let held = self.events.capacity() * std::mem::size_of::<Event>()
            + self.seen.heap_bytes()
            + self.aliases.capacity() * 25
            + self.seen_content.capacity() * 25
            + self.dropped.capacity() * 17
            + self.conversation_index.capacity() * 4
            + self.duplicate_minutes.capacity() * 8
            + self.conversations.capacity() * std::mem::size_of::<Conversation>()
            + self.syms.heap_bytes();
        held as f64 / n
    }

    /// Groups and orders everything kept.
    pub fn finish(mut self) -> Correlation {
        // The dedup sets are done with: give their memory back before grouping.
        self.seen = Seen::default();
        self.aliases = FxHashMap::default();
        self.seen_content = FxHashMap::default();
        self.conversation_index = Vec::new();
        // Every parser thread is done with the table by now.
        let syms = Arc::try_unwrap(std::mem::take(&mut self.syms))
            .unwrap_or_else(|_| panic!("the symbol table is still shared"))
            .finish();
        let mut starts = Vec::with_capacity(self.conversations.len() + 1);
        let mut total = 0u32;
        for c in &self.conversations {
            starts.push(total);
            total += c.events;
        }
        starts.push(total);
        // Counting sort by conversation: stable, so each group is in input order. Each slot
        // takes the event's time beside its index, read in this one pass over the events in
        // memory order, so that ordering the groups by time jumps around no more.
        let mut fill = starts.clone();
        let mut keyed = vec![(0i64, 0u32); self.events.len()];
        for (i, e) in self.events.iter().enumerate() {
            let slot = &mut fill[e.conversation as usize];
            keyed[*slot as usize] = (e.time, i as u32);
            *slot += 1;
        }
        let mut groups: Vec<Group> = (0..self.conversations.len())
            .map(|c| {
                let range = starts[c] as usize..starts[c + 1] as usize;
                let slice = &mut keyed[range.clone()];
                // Stable: events at the same millisecond keep their input order.
                slice.sort_by_key(|&(time, _)| time);
                Group {
                    conversation: c as u32,
                    flags: Flags::default(),
                    start: slice[0].0,
                    end: slice[slice.len() - 1].0,
                    range,
                }
            })
            .collect();
        let order: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();
        let convs = &self.conversations;
        groups.sort_by(|a, b| {
            a.start.cmp(&b.start).then_with(|| {
                syms.cmp_text(
                    convs[a.conversation as usize].id,
                    convs[b.conversation as usize].id,
                )
            })
        });
        Correlation {
            syms,
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
    /// The symbols of every kept event, read-only.
    pub syms: Interner,
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

    /// Asks the memory for a group's events ahead of reading them: they lie scattered through
    /// the input, and fetched together they arrive in the time of one.
    pub fn prefetch(&self, g: &Group) {
        for &i in &self.order[g.range.clone()] {
            crate::prefetch(&self.store.events[i as usize]);
        }
    }

    /// `groups` in order, each handed out once the next one's events are asked for.
    pub fn prefetching<'g>(&'g self, groups: &'g [Group]) -> impl Iterator<Item = &'g Group> {
        groups.iter().enumerate().map(move |(k, g)| {
            if let Some(next) = groups.get(k + 1) {
                self.prefetch(next);
            }
            g
        })
    }

    pub fn conversation(&self, g: &Group) -> &Conversation {
        &self.store.conversations[g.conversation as usize]
    }

    /// Keeps the conversations with an event in the time window (unless `--clip` already cut
    /// the events to it) and with an event of one of the media, whole. Returns, per input,
    /// what the conversations left out had kept and dropped.
    pub fn select(&mut self, filter: &Filter) -> Vec<Unselected> {
        let mut out = vec![Unselected::default(); self.store.inputs.len()];
        if !filter.selects() {
            return out;
        }
        // A medium never interned is used by no event.
        let media: Vec<Sym> = filter.media.iter().filter_map(|m| self.syms.get(m)).collect();
        let (groups, order, store) = (&mut self.groups, &self.order, &self.store);
        let mut left_out = vec![false; store.conversations.len()];
        groups.retain(|g| {
            let mut events = order[g.range.clone()].iter().map(|&i| &store.events[i as usize]);
            let in_window = filter.clip || events.clone().any(|e| filter.in_window(e.time));
            let used_media =
                filter.media.is_empty() || events.any(|e| e.media.is_some_and(|m| media.contains(&m)));
            let flagged = filter.flags.is_empty() || g.flags.intersects(filter.flags);
            let selected = in_window && used_media && flagged;
            if !selected {
                left_out[g.conversation as usize] = true;
                for &i in &order[g.range.clone()] {
                    let input = store.events[i as usize].input() as usize;
                    out[input].kept += 1;
                }
            }
            selected
        });
        for (&(conversation, input), d) in &store.dropped {
            if left_out[conversation as usize] {
                let u = &mut out[input as usize];
                u.duplicates += u64::from(d.duplicates);
                u.conflicting += u64::from(d.conflicting);
            }
        }
        out
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
                let conv = c.syms.to_string(c.conversation(g).id);
                let ids = c.events(g).map(|e| e.id.to_string(&c.syms)).collect();
                (conv, ids)
            })
            .collect()
    }

    #[test]
    fn size_of_a_kept_event() {
        assert_eq!(std::mem::size_of::<Event>(), 112);
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
    fn an_id_with_other_content_is_a_conflict_counted_where_it_was_kept() {
        let mut s = Store::new(vec!["a".into(), "b".into()]);
        let first = ev("e1", "x", 1);
        let again = ev("e1", "x", 1);
        let other = ev("e1", "y", 2);
        assert_eq!(s.add(&first, 0, Pos::Line(3)), Added::Kept);
        assert_eq!(s.add(&again, 1, Pos::Line(1)), Added::Duplicate);
        assert_eq!(
            s.add(&other, 1, Pos::Offset(9)),
            Added::Conflicting {
                input: 0,
                pos: Pos::Line(3)
            }
        );
        assert!(!s.has_conversation(&Atom::from("y")), "y was never kept");
        let c = s.finish();
        assert_eq!(c.groups.len(), 1);
        assert_eq!(c.conversation(&c.groups[0]).duplicates, 2);
    }

    #[test]
    fn selection_keeps_whole_conversations() {
        let mut s = Store::new(vec!["a".into(), "b".into()]);
        let mut voice = ev("e1", "x", 10);
        voice.media = Some(Atom::from("voice"));
        let mut callback = ev("e2", "x", 50);
        callback.media = Some(Atom::from("callback"));
        let mut chat = ev("e3", "y", 20);
        chat.media = Some(Atom::from("chat"));
        s.add(&voice, 0, Pos::Line(1));
        s.add(&callback, 1, Pos::Line(1));
        s.add(&chat, 0, Pos::Line(2));
        s.add(&chat, 1, Pos::Line(2));
        let by_media = Filter {
            media: vec![Atom::from("callback")],
            ..Filter::default()
        };
        let mut c = s.finish();
        let left = c.groups.clone();
        assert_eq!(
            c.select(&by_media),
            [
                Unselected {
                    kept: 1,
                    ..Unselected::default()
                },
                Unselected {
                    duplicates: 1,
                    ..Unselected::default()
                }
            ]
        );
        assert_eq!(timelines(&c), [("x".into(), vec!["e1".into(), "e2".into()])]);
        // A window that only the callback is in keeps x whole; clipped, events are cut while read.
        c.groups = left;
        let window = Filter {
            since: Some(40),
            ..Filter::default()
        };
        c.select(&window);
        assert_eq!(timelines(&c), [("x".into(), vec!["e1".into(), "e2".into()])]);
        assert!(
            window.keeps(&ev("e", "x", 10)),
            "not clipped: every event is read"
        );
        let clipped = Filter { clip: true, ..window };
        assert!(!clipped.keeps(&ev("e", "x", 10)) && clipped.keeps(&ev("e", "x", 40)));
    }

    proptest::proptest! {
        /// However ids, conversations and contents mix, every duplicate is counted in exactly
        /// one timeline, and a conflict is exactly a repeated id whose content differs from
        /// the kept one's.
        #[test]
        fn duplicates_add_up(adds in proptest::collection::vec((0u8..6, 0u8..3, 0u64..3), 0..60)) {
            let mut s = Store::new(vec!["a".into()]);
            let mut kept: std::collections::HashMap<u8, (u8, u64)> = Default::default();
            let (mut dups, mut conflicts) = (0u32, 0);
            for (n, &(id, conv, content)) in adds.iter().enumerate() {
                // What the event says besides its id: its conversation and one of three times.
                let e = ev(&format!("e{id}"), &format!("c{conv}"), content as i64);
                let added = s.add(&e, 0, Pos::Line(n as u64 + 1));
                match kept.get(&id) {
                    None => {
                        proptest::prop_assert_eq!(added, Added::Kept);
                        kept.insert(id, (conv, content));
                    }
                    Some(&first) if first == (conv, content) => {
                        proptest::prop_assert_eq!(added, Added::Duplicate);
                        dups += 1;
                    }
                    Some(_) => {
                        let conflict = matches!(added, Added::Conflicting { .. });
                        proptest::prop_assert!(conflict, "{:?}", added);
                        dups += 1;
                        conflicts += 1;
                    }
                }
            }
            let c = s.finish();
            let per: u32 = c.groups.iter().map(|g| c.conversation(g).duplicates).sum();
            proptest::prop_assert_eq!(per, dups);
            let dropped: u32 = c.store.dropped.values().map(|d| d.conflicting).sum();
            proptest::prop_assert_eq!(dropped, conflicts);
        }
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
