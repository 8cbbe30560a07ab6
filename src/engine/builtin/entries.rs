//! The facts of the workspace with their features, computed once and shared by the passes.
//!
//! Compact: an entry is its place (file, block) plus its features packed in flat arrays
//! (`packed.rs`); `feat(i)` and `ev(i)` give them back as values. What an entry's date
//! evidence needs of its file (frontmatter date, mtime) is read once per file.

use super::order::{Evidence, Source};
use super::packed::{FeatureStore, PackedToken};
use super::text::{features, Features, Vocab};
use super::{is_fact, Workspace};
use chrono::NaiveDate;

/// Where an entry is: file and block index in the workspace.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub fi: usize,
    pub bi: usize,
}

#[derive(Debug, Default)]
pub struct EntryTable {
    pub vocab: Vocab,
    pub entries: Vec<Entry>,
    pub feats: FeatureStore,
    /// Per file: its frontmatter date and its mtime's day.
    file_dates: Vec<Option<NaiveDate>>,
    file_mtimes: Vec<Option<NaiveDate>>,
    /// Per entry: the last day a session restated it.
    confirmed: Vec<Option<NaiveDate>>,
}

impl EntryTable {
    /// Features of every live fact (after the relative-date and exact-duplicate passes).
    pub fn build(ws: &Workspace, cancel: &crate::engine::CancellationToken) -> Result<EntryTable, crate::engine::Canceled> {
        let mut t = EntryTable {
            file_dates: (0..ws.files.len()).map(|fi| ws.file_date(fi)).collect(),
            file_mtimes: (0..ws.files.len()).map(|fi| ws.file_mtime(fi)).collect(),
            ..EntryTable::default()
        };
        for fi in 0..ws.files.len() {
            for bi in 0..ws.files[fi].blocks().len() {
                super::check_every(t.entries.len(), cancel)?;
                if is_fact(ws, fi, bi) {
                    let feat = features(ws.current_text(fi, bi), &mut t.vocab);
                    t.feats.push(&feat);
                    t.entries.push(Entry { fi, bi });
                }
            }
        }
        t.confirmed = vec![None; t.entries.len()];
        Ok(t)
    }

    /// Entry `i`'s features.
    pub fn feat(&self, i: usize) -> Features {
        self.feats.get(i)
    }

    /// Entry `i`'s tokens, packed: equal for two entries exactly when their tokens are.
    pub fn packed(&self, i: usize) -> &[PackedToken] {
        self.feats.packed(i)
    }

    /// Entry `i` is not stated plainly (its features have a hedge).
    pub fn hedged(&self, i: usize) -> bool {
        self.feats.hedged(i)
    }

    /// When entry `i` was written, as far as the store tells (see `order.rs`).
    pub fn ev(&self, i: usize) -> Evidence {
        let e = self.entries[i];
        let stated = self.feats.date(i).map(|d| (d, Source::Inline)).or_else(|| self.file_dates[e.fi].map(|d| (d, Source::Frontmatter)));
        Evidence { stated, confirmed: self.confirmed[i], file: e.fi, pos: e.bi, mtime: self.file_mtimes[e.fi] }
    }

    /// The last day a session restated each entry (see `order::compare`).
    pub fn add_confirmations(&mut self, conf: &Confirmations) {
        for (i, c) in conf.iter() {
            self.confirmed[i] = c.last.map(|t| t.date_naive());
        }
    }

    /// `file:line` of an entry, for provenance.
    pub fn loc(&self, ws: &Workspace, i: usize) -> String {
        let e = &self.entries[i];
        format!("{}:{}", ws.files[e.fi].path, ws.block(e.fi, e.bi).line)
    }
}

/// The confirmations of the entries the transcripts confirmed (most are confirmed by none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Confirmations {
    /// By entry index, sorted.
    list: Vec<(usize, Confirmation)>,
}

impl Confirmations {
    pub fn from_sorted(list: Vec<(usize, Confirmation)>) -> Confirmations {
        Confirmations { list }
    }
    /// Entry `i`'s confirmations, if any session confirmed it.
    pub fn get(&self, i: usize) -> Option<&Confirmation> {
        self.list.binary_search_by_key(&i, |c| c.0).ok().map(|k| &self.list[k].1)
    }
    /// Confirmed entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Confirmation)> {
        self.list.iter().map(|(i, c)| (*i, c))
    }
}

/// How often, and when last, the transcripts confirmed an entry (a message holding all its
/// words): reinforcement evidence for ordering conflicts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Confirmation {
    pub count: usize,
    pub last: Option<chrono::DateTime<chrono::Utc>>,
    pub last_session: String,
    pub sessions: Vec<String>,
}

/// Sorted-set helpers over interned words.
pub fn is_subset(small: &[u32], large: &[u32]) -> bool {
    let mut j = 0;
    for &w in small {
        while j < large.len() && large[j] < w {
            j += 1;
        }
        if j == large.len() || large[j] != w {
            return false;
        }
        j += 1;
    }
    true
}

pub fn difference(a: &[u32], b: &[u32]) -> Vec<u32> {
    a.iter().copied().filter(|w| b.binary_search(w).is_err()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_and_difference() {
        assert!(is_subset(&[1, 3], &[1, 2, 3]));
        assert!(!is_subset(&[1, 4], &[1, 2, 3]));
        assert!(is_subset(&[], &[1]));
        assert_eq!(difference(&[1, 2, 3], &[2]), vec![1, 3]);
    }
}
