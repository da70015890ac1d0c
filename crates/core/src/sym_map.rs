//! `SymMap`: values keyed by interned strings (tenants, classes), looked up
//! per request on hot paths.
//!
//! Readers intern repeated strings, so the same tenant is usually the same
//! `Arc`: a handful of recently used keys are compared by pointer first, and
//! only a miss pays for a string comparison in the ordered index. Iteration
//! is in key order, so output built from it is deterministic.

use crate::Sym;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Recently used keys checked by pointer before the index.
const RECENT: usize = 4;

/// A map from interned strings to `V`.
#[derive(Clone, Debug)]
pub struct SymMap<V> {
    values: Vec<V>,
    index: BTreeMap<Box<str>, usize>,
    /// The recent keys' addresses (0: none yet) and their places in
    /// `values`: a lookup compares plain integers, which compiles to a few
    /// instructions where comparing `Option<(Sym, usize)>` took dozens.
    recent: [(usize, usize); RECENT],
    /// The recent keys themselves, held so that an address in `recent` stays
    /// theirs: no other string can be allocated there while it is listed.
    recent_keys: [Option<Sym>; RECENT],
    next: usize,
}

impl<V> Default for SymMap<V> {
    fn default() -> SymMap<V> {
        SymMap {
            values: Vec::new(),
            index: BTreeMap::new(),
            recent: [(0, 0); RECENT],
            recent_keys: [const { None }; RECENT],
            next: 0,
        }
    }
}

/// The address of a key's string: equal for clones of one `Arc`, never 0.
#[inline(always)]
fn address(key: &Sym) -> usize {
    Arc::as_ptr(key).cast::<u8>().addr()
}

impl<V> SymMap<V> {
    /// An empty map.
    pub fn new() -> SymMap<V> {
        SymMap::default()
    }

    /// The value of `key`, inserted with `make` when absent.
    #[inline(always)]
    pub fn get_or_insert_with(&mut self, key: &Sym, make: impl FnOnce() -> V) -> &mut V {
        // The common case inline: a recent key, by pointer.
        let at = address(key);
        let i = match self.recent.iter().find(|(a, _)| *a == at) {
            Some(&(_, i)) => i,
            None => self.slot(key, make),
        };
        &mut self.values[i]
    }

    /// A key that is not among the recent ones.
    #[inline(never)]
    fn slot(&mut self, key: &Sym, make: impl FnOnce() -> V) -> usize {
        let i = match self.index.get(&**key) {
            Some(&i) => i,
            None => {
                self.values.push(make());
                self.index.insert(Box::from(&**key), self.values.len() - 1);
                self.values.len() - 1
            }
        };
        self.recent[self.next] = (address(key), i);
        self.recent_keys[self.next] = Some(key.clone());
        self.next = (self.next + 1) % RECENT;
        i
    }

    /// The value of `key`, by string.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.index.get(key).map(|&i| &self.values[i])
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.index.iter().map(|(k, &i)| (&**k, &self.values[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_an_entry_whatever_their_allocation() {
        let mut m: SymMap<u32> = SymMap::new();
        let a1: Sym = Sym::from("batch");
        let a2: Sym = Sym::from("batch");
        let b: Sym = Sym::from("interactive");
        *m.get_or_insert_with(&a1, || 0) += 1;
        *m.get_or_insert_with(&b, || 0) += 1;
        *m.get_or_insert_with(&a2, || 0) += 1;
        for i in 0..10 {
            *m.get_or_insert_with(&Sym::from(format!("t{i}").as_str()), || 0) += 1;
        }
        *m.get_or_insert_with(&a1, || 0) += 1;
        assert_eq!(m.get("batch"), Some(&3));
        assert_eq!(m.iter().map(|(k, _)| k).take(2).collect::<Vec<_>>(), ["batch", "interactive"]);
        assert_eq!(m.iter().count(), 12);
    }

    #[test]
    fn a_string_freed_and_another_allocated_in_its_place_is_a_new_key() {
        // Each key is dropped right after its lookup, so without the map
        // holding its recent keys the allocator would hand the next string
        // the same address (glibc's does: it reuses the chunk just freed),
        // and the lookup by address would find the old entry.
        // The names are made first, so the key is each round's only allocation.
        let names: Vec<String> = (0..100).map(|i| format!("t{i:02}")).collect();
        let mut m: SymMap<usize> = SymMap::new();
        for (i, name) in names.iter().enumerate() {
            let key = Sym::from(name.as_str());
            assert_eq!(*m.get_or_insert_with(&key, || i), i, "{name}");
        }
        assert_eq!(m.iter().count(), 100);
    }
}
