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
    recent: [Option<(Sym, usize)>; RECENT],
    next: usize,
}

impl<V> Default for SymMap<V> {
    fn default() -> SymMap<V> {
        SymMap { values: Vec::new(), index: BTreeMap::new(), recent: [const { None }; RECENT], next: 0 }
    }
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
        let i = match self.recent.iter().flatten().find(|(k, _)| Arc::ptr_eq(k, key)) {
            Some((_, i)) => *i,
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
        self.recent[self.next] = Some((key.clone(), i));
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
}
