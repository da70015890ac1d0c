//! [`Interner`]: one shared [`Sym`] per distinct tenant, class, model or
//! language.
//!
//! Why: a trace of a million requests names a handful of tenants and classes;
//! sharing one `Arc<str>` per value makes a request's strings cost a reference
//! count, not an allocation. A hit looks up by `&str` and allocates nothing.
//!
//! Why a cap: memory must not grow with trace length, and a trace that puts a
//! user id in `tenant` would otherwise grow the table without bound. Past
//! [`MAX_INTERNED`] distinct values, new values get their own `Arc` (correct,
//! just not shared).

use std::collections::BTreeMap;
use windtunnel_core::Sym;

/// Distinct values kept for sharing. Real traces have tens; 4096 short
/// strings are well under a megabyte.
pub(crate) const MAX_INTERNED: usize = 4096;

/// A bounded string interner.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    table: BTreeMap<Box<str>, Sym>,
}

impl Interner {
    /// The shared `Sym` for `s`.
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(sym) = self.table.get(s) {
            return sym.clone();
        }
        let sym = Sym::from(s);
        if self.table.len() < MAX_INTERNED {
            self.table.insert(s.into(), sym.clone());
        }
        sym
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn repeated_values_share_one_allocation() {
        let mut i = Interner::default();
        let a = i.intern("acme");
        let b = i.intern("acme");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*i.intern("other"), "other");
    }

    #[test]
    fn table_stops_growing_at_the_cap() {
        let mut i = Interner::default();
        for n in 0..MAX_INTERNED + 10 {
            i.intern(&n.to_string());
        }
        assert_eq!(i.table.len(), MAX_INTERNED);
        let late = (MAX_INTERNED + 5).to_string();
        assert_eq!(&*i.intern(&late), late);
    }
}
