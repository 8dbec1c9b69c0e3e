//! String interning: each distinct id or word is stored once and named by a 4-byte [`Sym`].
//!
//! Built by every parser thread at once while reading ([`Interning`]: sharded by hash, one
//! lock per shard, so two threads rarely meet), then read without any lock ([`Interner`]).
//! A symbol names its shard and its place there, so which thread interned a value first
//! changes its number but never its text: nothing is ordered or written by number.

use std::hash::BuildHasher;
use std::num::NonZeroU32;
use std::sync::Mutex;

use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::ids::{Atom, Text, U128, Uuid};
use crate::vocab;

/// An interned value. `Option<Sym>` is 4 bytes too.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Sym(NonZeroU32);

const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;

impl Sym {
    fn new(shard: usize, place: usize) -> Sym {
        let v = u32::try_from((place << SHARD_BITS) | shard).expect("fewer than 2^32 values");
        Sym(NonZeroU32::new(v + 1).expect("v + 1 > 0"))
    }

    fn shard(self) -> usize {
        (self.0.get() - 1) as usize & (SHARDS - 1)
    }

    fn place(self) -> usize {
        (self.0.get() - 1) as usize >> SHARD_BITS
    }

    /// A dense number: the symbols of a table are about `0..len`, so tables keyed by symbol
    /// can be vectors.
    pub fn index(self) -> usize {
        (self.0.get() - 1) as usize
    }
}

/// 24 bytes: the UUID is held 8-byte aligned ([`U128`]), as is the key of `uuids`.
#[derive(Debug)]
enum Value {
    Uuid(U128),
    Text(Box<str>),
}

/// One shard's values; symbols in it are `place << SHARD_BITS | shard`.
#[derive(Debug, Default)]
struct Shard {
    uuids: FxHashMap<U128, Sym>,
    texts: FxHashMap<Box<str>, Sym>,
    values: Vec<Value>,
}

impl Shard {
    fn intern(&mut self, index: usize, atom: &Atom) -> Sym {
        let next = Sym::new(index, self.values.len());
        match atom {
            Atom::Uuid(v) => *self.uuids.entry(*v).or_insert_with(|| {
                self.values.push(Value::Uuid(*v));
                next
            }),
            _ => {
                let t = atom.as_text().unwrap_or_default();
                if let Some(&s) = self.texts.get(t) {
                    return s;
                }
                self.texts.insert(t.into(), next);
                self.values.push(Value::Text(t.into()));
                next
            }
        }
    }

    fn get(&self, atom: &Atom) -> Option<Sym> {
        match atom {
            Atom::Uuid(v) => self.uuids.get(v).copied(),
            _ => self.texts.get(atom.as_text().unwrap_or_default()).copied(),
        }
    }

    fn heap_bytes(&self) -> usize {
        let texts: usize = self.texts.keys().map(|k| 2 * k.len()).sum();
        self.uuids.capacity() * 25 + self.texts.capacity() * 25 + self.values.capacity() * 24 + texts
    }
}

/// The shard of an atom: by its hash, which is the same for a word and its text. Bits the
/// shard's own table does not use: it takes the low ones for the bucket and the top seven
/// for its tags, which would all be alike within a shard chosen by either.
fn shard_of(atom: &Atom) -> usize {
    (FxBuildHasher.hash_one(atom) >> 32) as usize & (SHARDS - 1)
}

/// The table being built: interns from any thread. The vocabulary's words are interned up
/// front, so an [`Atom::Word`] finds its symbol without hashing or locking.
#[derive(Debug)]
pub struct Interning {
    shards: Box<[Mutex<Shard>]>,
    words: Vec<Sym>,
}

impl Default for Interning {
    fn default() -> Self {
        let mut shards: Vec<Shard> = (0..SHARDS).map(|_| Shard::default()).collect();
        let words = vocab::WORDS
            .iter()
            .map(|w| {
                let atom = Atom::from(*w);
                let i = shard_of(&atom);
                shards[i].intern(i, &atom)
            })
            .collect();
        Interning {
            shards: shards.into_iter().map(Mutex::new).collect(),
            words,
        }
    }
}

impl Interning {
    /// The symbol of `atom`, interning it if new.
    pub fn sym(&self, atom: &Atom) -> Sym {
        if let Atom::Word(w) = atom {
            return self.words[*w as usize];
        }
        let i = shard_of(atom);
        // A thread that panicked mid-insert left at worst a value without its key: usable.
        let mut shard = self.shards[i].lock().unwrap_or_else(|e| e.into_inner());
        shard.intern(i, atom)
    }

    /// The symbol of `atom` if it was interned.
    pub fn get(&self, atom: &Atom) -> Option<Sym> {
        match atom {
            Atom::Word(w) => Some(self.words[*w as usize]),
            _ => {
                let i = shard_of(atom);
                self.shards[i].lock().unwrap_or_else(|e| e.into_inner()).get(atom)
            }
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).heap_bytes())
            .sum()
    }

    /// The table, read-only from now on.
    pub fn finish(self) -> Interner {
        Interner {
            shards: self
                .shards
                .into_iter()
                .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
                .collect(),
            words: self.words,
        }
    }
}

/// One thread's way into an [`Interning`]: it remembers the UUIDs it interned lately, so the
/// ids that recur through a conversation's events are found without a lock, and in a table
/// small enough to stay in the core's cache.
pub struct Recent<'a> {
    syms: &'a Interning,
    /// Direct-mapped by the UUID's low bits (random in every UUID version).
    slots: Vec<Option<(U128, Sym)>>,
}

impl<'a> Recent<'a> {
    /// A cache of `slots` entries (a power of two; 0: none).
    pub fn new(syms: &'a Interning, slots: usize) -> Recent<'a> {
        debug_assert!(slots == 0 || slots.is_power_of_two());
        Recent {
            syms,
            slots: vec![None; slots],
        }
    }

    /// Asks the memory for the slot where `atom` will be looked up, to be read a little later.
    pub fn prefetch(&self, atom: &Atom) {
        if let (Atom::Uuid(v), false) = (atom, self.slots.is_empty()) {
            crate::prefetch(&self.slots[v.get() as usize & (self.slots.len() - 1)]);
        }
    }

    pub fn sym(&mut self, atom: &Atom) -> Sym {
        let Atom::Uuid(v) = atom else {
            return self.syms.sym(atom);
        };
        if self.slots.is_empty() {
            return self.syms.sym(atom);
        }
        let mask = self.slots.len() - 1;
        let slot = &mut self.slots[v.get() as usize & mask];
        match *slot {
            Some((k, s)) if k == *v => s,
            _ => {
                let s = self.syms.sym(atom);
                *slot = Some((*v, s));
                s
            }
        }
    }
}

/// The table of interned values, read-only.
#[derive(Debug)]
pub struct Interner {
    shards: Box<[Shard]>,
    words: Vec<Sym>,
}

impl Default for Interner {
    fn default() -> Self {
        Interning::default().finish()
    }
}

impl Interner {
    /// The symbol of `atom` if it was interned.
    pub fn get(&self, atom: &Atom) -> Option<Sym> {
        match atom {
            Atom::Word(w) => Some(self.words[*w as usize]),
            _ => self.shards[shard_of(atom)].get(atom),
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.values.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn value(&self, sym: Sym) -> &Value {
        &self.shards[sym.shard()].values[sym.place()]
    }

    /// The text of `sym`, written into `buf` when it is a packed UUID.
    pub fn text<'a>(&'a self, sym: Sym, buf: &'a mut [u8; 36]) -> &'a str {
        self.text_or_uuid(sym, buf).0
    }

    /// The text of `sym` as [`Interner::text`] gives it, and whether it is a UUID (which
    /// JSON needs no escaping for).
    pub fn text_or_uuid<'a>(&'a self, sym: Sym, buf: &'a mut [u8; 36]) -> (&'a str, bool) {
        match self.value(sym) {
            Value::Uuid(v) => (Uuid(v.get()).encode(buf), true),
            Value::Text(t) => (t, false),
        }
    }

    /// The text of `sym`, borrowed or spelled, to keep.
    pub fn spell(&self, sym: Sym) -> Text<'_> {
        match self.value(sym) {
            Value::Uuid(v) => Text::uuid(v.get()),
            Value::Text(t) => Text::Borrowed(t),
        }
    }

    pub fn to_string(&self, sym: Sym) -> String {
        self.text(sym, &mut [0; 36]).to_owned()
    }

    /// Orders two symbols by their text.
    pub fn cmp_text(&self, a: Sym, b: Sym) -> std::cmp::Ordering {
        match (self.value(a), self.value(b)) {
            // Canonical lower-case hex sorts like the number it spells.
            (Value::Uuid(x), Value::Uuid(y)) => x.get().cmp(&y.get()),
            _ => self.text(a, &mut [0; 36]).cmp(self.text(b, &mut [0; 36])),
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.shards.iter().map(Shard::heap_bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_small() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn interns_once_and_prints_back() {
        let building = Interning::default();
        let u = Atom::id("2f7bf00a-0fc2-4d6a-9b56-92238191433e");
        let a = building.sym(&u);
        assert_eq!(building.sym(&u), a);
        let c = building.sym(&crate::vocab::media("VOICE"));
        assert_eq!(building.sym(&Atom::Text("voice".into())), c);
        let d = building.sym(&Atom::from("not-a-word"));
        let i = building.finish();
        assert_eq!(i.get(&Atom::from("not-a-word")), Some(d));
        assert_eq!(i.get(&u), Some(a));
        assert_eq!(i.to_string(a), "2f7bf00a-0fc2-4d6a-9b56-92238191433e");
        assert_eq!(i.to_string(c), "voice");
        assert_eq!(i.to_string(d), "not-a-word");
        assert_eq!(i.cmp_text(a, c), std::cmp::Ordering::Less);
        assert_eq!(i.get(&Atom::Text("nope".into())), None);
    }

    #[test]
    fn threads_intern_each_value_once() {
        let building = Interning::default();
        let ids: Vec<Atom> = (0..2000)
            .map(|n| Atom::Text(format!("id-{}", n % 500).into()))
            .collect();
        let syms: Vec<Vec<Sym>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| s.spawn(|| ids.iter().map(|a| building.sym(a)).collect::<Vec<_>>()))
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert!(
            syms.windows(2).all(|w| w[0] == w[1]),
            "every thread got the same symbols"
        );
        let i = building.finish();
        let words: std::collections::HashSet<_> = vocab::WORDS.iter().collect();
        assert_eq!(i.len(), 500 + words.len());
        for (a, s) in ids.iter().zip(&syms[0]) {
            assert_eq!(i.to_string(*s), a.to_string());
        }
    }
}
