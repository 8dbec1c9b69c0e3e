//! String interning: each distinct id or word is stored once and named by a 4-byte [`Sym`].

use std::num::NonZeroU32;

use rustc_hash::FxHashMap;

use crate::ids::{Atom, U128, Uuid};
use crate::vocab;

/// An interned value. `Option<Sym>` is 4 bytes too.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Sym(NonZeroU32);

impl Sym {
    pub fn index(self) -> usize {
        self.0.get() as usize - 1
    }
}

/// 24 bytes: the UUID is held 8-byte aligned ([`U128`]), as is the key of `uuids`.
#[derive(Debug)]
enum Value {
    Uuid(U128),
    Text(Box<str>),
}

/// The table of interned values. The vocabulary's words are interned up front, so a
/// [`Atom::Word`] finds its symbol without hashing.
#[derive(Debug)]
pub struct Interner {
    uuids: FxHashMap<U128, Sym>,
    texts: FxHashMap<Box<str>, Sym>,
    values: Vec<Value>,
    words: Vec<Sym>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut i = Interner {
            uuids: FxHashMap::default(),
            texts: FxHashMap::default(),
            values: Vec::new(),
            words: Vec::new(),
        };
        i.words = vocab::WORDS.iter().map(|w| i.intern_text(w).0).collect();
        i
    }
}

impl Interner {
    /// The symbol of `atom`, and whether it was new.
    pub fn intern(&mut self, atom: &Atom) -> (Sym, bool) {
        match atom {
            Atom::Uuid(v) => {
                if let Some(s) = self.uuids.get(v) {
                    return (*s, false);
                }
                let next = self.next();
                self.uuids.insert(*v, next);
                self.values.push(Value::Uuid(*v));
                (next, true)
            }
            Atom::Word(w) => (self.words[*w as usize], false),
            Atom::Text(t) => self.intern_text(t),
        }
    }

    fn next(&self) -> Sym {
        Sym(NonZeroU32::new(self.values.len() as u32 + 1).expect("fewer than 2^32 values"))
    }

    fn intern_text(&mut self, t: &str) -> (Sym, bool) {
        if let Some(s) = self.texts.get(t) {
            return (*s, false);
        }
        let next = self.next();
        self.texts.insert(t.into(), next);
        self.values.push(Value::Text(t.into()));
        (next, true)
    }

    pub fn sym(&mut self, atom: &Atom) -> Sym {
        self.intern(atom).0
    }

    /// The symbol of `atom` if it was interned.
    pub fn get(&self, atom: &Atom) -> Option<Sym> {
        match atom {
            Atom::Uuid(v) => self.uuids.get(v).copied(),
            Atom::Word(w) => Some(self.words[*w as usize]),
            Atom::Text(t) => self.texts.get(&**t).copied(),
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The text of `sym`, written into `buf` when it is a packed UUID.
    pub fn text<'a>(&'a self, sym: Sym, buf: &'a mut [u8; 36]) -> &'a str {
        match &self.values[sym.index()] {
            Value::Uuid(v) => Uuid(v.get()).encode(buf),
            Value::Text(t) => t,
        }
    }

    pub fn to_string(&self, sym: Sym) -> String {
        self.text(sym, &mut [0; 36]).to_owned()
    }

    /// Orders two symbols by their text.
    pub fn cmp_text(&self, a: Sym, b: Sym) -> std::cmp::Ordering {
        match (&self.values[a.index()], &self.values[b.index()]) {
            // Canonical lower-case hex sorts like the number it spells.
            (Value::Uuid(x), Value::Uuid(y)) => x.get().cmp(&y.get()),
            _ => self.text(a, &mut [0; 36]).cmp(self.text(b, &mut [0; 36])),
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        let texts: usize = self.texts.keys().map(|k| 2 * k.len()).sum();
        self.uuids.capacity() * 25 + self.texts.capacity() * 25 + self.values.capacity() * 24 + texts
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
        let mut i = Interner::default();
        let u = Atom::id("2f7bf00a-0fc2-4d6a-9b56-92238191433e");
        let (a, new_a) = i.intern(&u);
        let (b, new_b) = i.intern(&u);
        assert!(new_a && !new_b);
        assert_eq!(a, b);
        let (c, _) = i.intern(&crate::vocab::media("VOICE"));
        assert_eq!(i.intern(&Atom::Text("voice".into())), (c, false));
        let (d, new_d) = i.intern(&Atom::from("not-a-word"));
        assert!(new_d);
        assert_eq!(i.get(&Atom::from("not-a-word")), Some(d));
        assert_eq!(i.to_string(a), "2f7bf00a-0fc2-4d6a-9b56-92238191433e");
        assert_eq!(i.to_string(c), "voice");
        assert_eq!(i.cmp_text(a, c), std::cmp::Ordering::Less);
        assert_eq!(i.get(&Atom::Text("nope".into())), None);
    }
}
