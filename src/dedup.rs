//! The set of event ids already kept: which event holds each, in 8 bytes an id.
//!
//! Open addressing with linear probing over slots of one `u64`: the id's 32-bit hash beside the
//! index of the event that holds it (plus one, so 0 is an empty slot). The id itself is read
//! from the event only when two hashes meet, which is rare but for a duplicate, where the
//! event is wanted anyway. The reading thread asks for an id's slot a few events ahead
//! ([`Seen::prefetch`]), so that the look-up finds it in the cache: the table is too large to
//! stay there, and each new id lands in a random place.

/// Kept ids: hash → event index.
#[derive(Debug, Default)]
pub struct Seen {
    slots: Vec<u64>,
    len: usize,
    /// 64 minus log2 of the slot count: the hash's top bits pick the first slot.
    shift: u32,
}

/// Fewest slots once there is one id.
const MIN_SLOTS: usize = 1 << 10;

/// Fibonacci hashing: spreads the 32-bit hash over the 64 bits whose top ones are used.
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Seen {
    fn first(&self, hash: u32) -> usize {
        (spread(hash) >> self.shift) as usize
    }

    /// Asks the memory for the slot where `hash` is looked up first.
    pub fn prefetch(&self, hash: u32) {
        if let Some(slot) = self.slots.get(self.first(hash)) {
            crate::prefetch(slot);
        }
    }

    /// The event kept for an id with this hash for which `is` says yes.
    pub fn find(&self, hash: u32, is: impl Fn(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.first(hash);
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return None;
            }
            let event = (slot as u32).wrapping_sub(1);
            if (slot >> 32) as u32 == hash && is(event) {
                return Some(event);
            }
            i = (i + 1) & mask;
        }
    }

    /// Records that `event` holds an id with this hash (not already in the set).
    pub fn insert(&mut self, hash: u32, event: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place((u64::from(hash) << 32) | u64::from(event + 1));
        self.len += 1;
    }

    fn place(&mut self, slot: u64) {
        let mask = self.slots.len() - 1;
        let mut i = self.first((slot >> 32) as u32);
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }

    /// Doubles the slots (at most half are ever used) and places every id again.
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(MIN_SLOTS);
        // Written with zeros rather than allocated zeroed: fresh zeroed pages are first mapped
        // to the shared zero page by the look-up's read, then copied on the write that
        // follows, two faults a page while the reading thread waits.
        #[allow(clippy::slow_vector_initialization)]
        let mut slots = Vec::with_capacity(n);
        slots.resize(n, 0);
        let old = std::mem::replace(&mut self.slots, slots);
        self.shift = 64 - n.trailing_zeros();
        for slot in old.into_iter().filter(|&s| s != 0) {
            self.place(slot);
        }
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_through_growth_and_collisions() {
        let mut s = Seen::default();
        assert_eq!(s.find(7, |_| true), None);
        // Many events share a few hashes: `is` tells them apart, as the ids would.
        for e in 0..5000u32 {
            s.insert(e % 17, e);
        }
        for e in (0..5000u32).step_by(7) {
            assert_eq!(s.find(e % 17, |x| x == e), Some(e));
        }
        assert_eq!(s.find(3, |x| x == 4), None, "4 has hash 4, not 3");
        assert_eq!(s.find(99, |_| true), None);
        assert!(s.slots.len() >= 10_000);
        s.prefetch(5);
    }
}
