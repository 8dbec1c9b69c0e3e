//! String interning: each distinct id or word is stored once and named by a 4-byte [`Sym`].

use std::num::NonZeroU32;

use rustc_hash::FxHashMap;

use crate::ids::{Atom, Uuid};

/// An interned value. `Option<Sym>` is 4 bytes too.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Sym(NonZeroU32);

impl Sym {
    pub fn index(self) -> usize {
        self.0.get() as usize - 1
    }
}

#[derive(Debug)]
enum Value {
    Uuid(u128),
    Text(Box<str>),
}

/// The table of interned values.
#[derive(Default, Debug)]
pub struct Interner {
    uuids: FxHashMap<u128, Sym>,
    texts: FxHashMap<Box<str>, Sym>,
    values: Vec<Value>,
}

impl Interner {
    /// The symbol of `atom`, and whether it was new.
    pub fn intern(&mut self, atom: &Atom) -> (Sym, bool) {
        let next = Sym(NonZeroU32::new(self.values.len() as u32 + 1).expect("fewer than 2^32 values"));
        match atom {
            Atom::Uuid(v) => {
                if let Some(s) = self.uuids.get(v) {
                    return (*s, false);
                }
                self.uuids.insert(*v, next);
                self.values.push(Value::Uuid(*v));
            }
            Atom::Static(t) => return self.intern_text(t, next),
            Atom::Text(t) => return self.intern_text(t, next),
        }
        (next, true)
    }

    fn intern_text(&mut self, t: &str, next: Sym) -> (Sym, bool) {
        if let Some(s) = self.texts.get(t) {
            return (*s, false);
        }
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
            Atom::Static(t) => self.texts.get(*t).copied(),
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
            Value::Uuid(v) => Uuid(*v).encode(buf),
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
            (Value::Uuid(x), Value::Uuid(y)) => x.cmp(y),
            _ => self.text(a, &mut [0; 36]).cmp(self.text(b, &mut [0; 36])),
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        let texts: usize = self.texts.keys().map(|k| 2 * k.len()).sum();
        self.uuids.capacity() * 33 + self.texts.capacity() * 25 + self.values.capacity() * 32 + texts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_prints_back() {
        let mut i = Interner::default();
        let u = Atom::id("2f7bf00a-0fc2-4d6a-9b56-92238191433e");
        let (a, new_a) = i.intern(&u);
        let (b, new_b) = i.intern(&u);
        assert!(new_a && !new_b);
        assert_eq!(a, b);
        let (c, _) = i.intern(&Atom::Static("voice"));
        assert_eq!(i.intern(&Atom::Text("voice".into())), (c, false));
        assert_eq!(i.to_string(a), "2f7bf00a-0fc2-4d6a-9b56-92238191433e");
        assert_eq!(i.to_string(c), "voice");
        assert_eq!(i.cmp_text(a, c), std::cmp::Ordering::Less);
        assert_eq!(i.get(&Atom::Text("nope".into())), None);
    }
}
