//! Conversation flags: a sorted set from a fixed vocabulary, set from a conversation's
//! ordered events with one pass and no allocation per event.

use rustc_hash::FxHashMap;

use super::Thresholds;
use crate::correlate::{Correlation, Event, Group, Id};
use crate::intern::{Interner, Sym};

/// One flag. Declared in name order, so a set iterates sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flag {
    /// An `acd.end` with `acdOutcome` `ABANDON`.
    Abandoned,
    /// At least one duplicate dropped.
    Duplicates,
    /// A disconnect of type `error` or `transport_failure`.
    ErrorDisconnect,
    /// Two consecutive events further apart than `--gap`.
    Gap,
    /// An event delivered later than `--late-threshold` after its time.
    LateDelivery,
    /// More than one media type.
    MultiMedia,
    /// A participant's `<kind>.start` without the matching `<kind>.end`.
    NoEnd,
    /// A disconnect that is a transfer of any kind.
    Transferred,
}

impl Flag {
    pub const ALL: [Flag; 8] = [
        Flag::Abandoned,
        Flag::Duplicates,
        Flag::ErrorDisconnect,
        Flag::Gap,
        Flag::LateDelivery,
        Flag::MultiMedia,
        Flag::NoEnd,
        Flag::Transferred,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Flag::Abandoned => "abandoned",
            Flag::Duplicates => "duplicates",
            Flag::ErrorDisconnect => "error_disconnect",
            Flag::Gap => "gap",
            Flag::LateDelivery => "late_delivery",
            Flag::MultiMedia => "multi_media",
            Flag::NoEnd => "no_end",
            Flag::Transferred => "transferred",
        }
    }

    pub fn parse(name: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.name() == name.trim())
    }

    /// Every name, for usage errors and help.
    pub fn vocabulary() -> String {
        Flag::ALL.map(Flag::name).join(", ")
    }
}

/// A set of flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    pub fn with(self, f: Flag) -> Flags {
        Flags(self.0 | 1 << f as u8)
    }

    pub fn has(self, f: Flag) -> bool {
        self.0 & 1 << f as u8 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    /// In name order.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |&f| self.has(f))
    }

    /// The names joined by `sep` (`no_end|transferred`).
    pub fn joined(self, sep: &str) -> String {
        self.iter().map(Flag::name).collect::<Vec<_>>().join(sep)
    }
}

impl FromIterator<Flag> for Flags {
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Flags {
        iter.into_iter().fold(Flags::default(), Flags::with)
    }
}

/// Sets every conversation's flags, on `threads` threads (each conversation's flags depend on
/// its events alone).
pub fn flag(c: &mut Correlation, t: &Thresholds, threads: usize) {
    let chunk = c.groups.len().div_ceil(threads.max(1)).max(1);
    let shared: &Correlation = c;
    let flags: Vec<Vec<Flags>> = std::thread::scope(|scope| {
        let workers: Vec<_> = shared
            .groups
            .chunks(chunk)
            .map(|groups| {
                scope.spawn(move || {
                    let mut flagger = Flagger::new(*t);
                    shared
                        .prefetching(groups)
                        .map(|g| flagger.conversation(shared, g))
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("flagging does not panic"))
            .collect()
    });
    for (g, f) in c.groups.iter_mut().zip(flags.into_iter().flatten()) {
        g.flags = f;
    }
}

/// What a kind or disconnect type means to the flags, worked out once per word.
#[derive(Clone, Copy)]
enum Kind {
    /// `<family>.start`, with the family's number.
    Start(u16),
    End(u16),
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Disconnect {
    Error,
    Transfer,
    Other,
}

struct Flagger {
    t: Thresholds,
    kinds: FxHashMap<Sym, Kind>,
    families: Vec<Box<str>>,
    disconnects: FxHashMap<Sym, Disconnect>,
    /// Per (family, participant): a start seen, an end seen. Reused across conversations.
    legs: Vec<(u16, Option<Id>, bool, bool)>,
}

impl Flagger {
    fn new(t: Thresholds) -> Flagger {
        Flagger {
            t,
            kinds: FxHashMap::default(),
            families: Vec::new(),
            disconnects: FxHashMap::default(),
            legs: Vec::new(),
        }
    }

    fn conversation(&mut self, c: &Correlation, g: &Group) -> Flags {
        let syms = &c.syms;
        let mut flags = Flags::default();
        if c.conversation(g).duplicates > 0 {
            flags = flags.with(Flag::Duplicates);
        }
        self.legs.clear();
        let mut media = None;
        let mut previous: Option<i64> = None;
        for e in c.events(g) {
            flags = self.event(syms, e, flags);
            if let Some(m) = e.media {
                match media {
                    None => media = Some(m),
                    Some(first) if first != m => flags = flags.with(Flag::MultiMedia),
                    Some(_) => {}
                }
            }
            if previous.is_some_and(|p| e.time - p > self.t.gap_ms) {
                flags = flags.with(Flag::Gap);
            }
            previous = Some(e.time);
        }
        if self.legs.iter().any(|&(_, _, start, end)| start && !end) {
            flags = flags.with(Flag::NoEnd);
        }
        flags
    }

    fn event(&mut self, syms: &Interner, e: &Event, mut flags: Flags) -> Flags {
        if e.abandoned() {
            flags = flags.with(Flag::Abandoned);
        }
        if e.lag.ms(e.time).is_some_and(|l| l > self.t.late_ms) {
            flags = flags.with(Flag::LateDelivery);
        }
        if let Some(d) = e.disconnect {
            match self.disconnect(syms, d) {
                Disconnect::Error => flags = flags.with(Flag::ErrorDisconnect),
                Disconnect::Transfer => flags = flags.with(Flag::Transferred),
                Disconnect::Other => {}
            }
        }
        let (family, start) = match self.kind(syms, e.kind) {
            Kind::Start(f) => (f, true),
            Kind::End(f) => (f, false),
            Kind::Other => return flags,
        };
        let leg = match self
            .legs
            .iter()
            .position(|l| l.0 == family && l.1 == e.participant)
        {
            Some(i) => &mut self.legs[i],
            None => {
                self.legs.push((family, e.participant, false, false));
                self.legs.last_mut().expect("just pushed")
            }
        };
        if start {
            leg.2 = true;
        } else {
            leg.3 = true;
        }
        flags
    }

    fn kind(&mut self, syms: &Interner, kind: Sym) -> Kind {
        if let Some(&k) = self.kinds.get(&kind) {
            return k;
        }
        let mut buf = [0; 36];
        let text = syms.text(kind, &mut buf);
        let (family, start) = match (text.strip_suffix(".start"), text.strip_suffix(".end")) {
            (Some(f), _) => (f, true),
            (_, Some(f)) => (f, false),
            _ => {
                self.kinds.insert(kind, Kind::Other);
                return Kind::Other;
            }
        };
        let n = match self.families.iter().position(|f| **f == *family) {
            Some(n) => n,
            None => {
                self.families.push(family.into());
                self.families.len() - 1
            }
        } as u16;
        let k = if start { Kind::Start(n) } else { Kind::End(n) };
        self.kinds.insert(kind, k);
        k
    }

    fn disconnect(&mut self, syms: &Interner, d: Sym) -> Disconnect {
        *self.disconnects.entry(d).or_insert_with(|| {
            let mut buf = [0; 36];
            let text = syms.text(d, &mut buf);
            if is_error(text) {
                Disconnect::Error
            } else if text == "transfer" || text.ends_with("_transfer") {
                Disconnect::Transfer
            } else {
                Disconnect::Other
            }
        })
    }
}

/// Whether a normalised disconnect type counts as an error disconnect.
pub(super) fn is_error(text: &str) -> bool {
    text == "error" || text == "transport_failure"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_sorted_and_round_trips() {
        let names = Flag::ALL.map(Flag::name);
        let mut sorted = names;
        sorted.sort();
        assert_eq!(names, sorted);
        for f in Flag::ALL {
            assert_eq!(Flag::parse(f.name()), Some(f));
        }
        assert_eq!(Flag::parse("nope"), None);
        let set: Flags = [Flag::Transferred, Flag::Abandoned].into_iter().collect();
        assert_eq!(set.joined("|"), "abandoned|transferred");
    }
}
