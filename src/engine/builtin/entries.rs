//! The facts of the workspace with their features, computed once and shared by the passes.

use super::order::{Evidence, Source};
use super::text::{features, Features, Vocab};
use super::{is_fact, Workspace};

#[derive(Debug)]
pub struct Entry {
    pub fi: usize,
    pub bi: usize,
    pub feat: Features,
    /// When it was written, as far as the store tells (see `order.rs`).
    pub ev: Evidence,
}

#[derive(Debug, Default)]
pub struct EntryTable {
    pub vocab: Vocab,
    pub entries: Vec<Entry>,
}

impl EntryTable {
    /// Features of every live fact (after the relative-date and exact-duplicate passes).
    pub fn build(ws: &Workspace, cancel: &crate::engine::CancellationToken) -> Result<EntryTable, crate::engine::Canceled> {
        let mut t = EntryTable::default();
        for fi in 0..ws.files.len() {
            for bi in 0..ws.files[fi].blocks().len() {
                super::check_every(t.entries.len(), cancel)?;
                if is_fact(ws, fi, bi) {
                    let feat = features(ws.current_text(fi, bi), &mut t.vocab);
                    let stated = feat.date.map(|d| (d, Source::Inline)).or_else(|| ws.file_date(fi).map(|d| (d, Source::Frontmatter)));
                    let ev = Evidence { stated, confirmed: None, file: fi, pos: bi, mtime: ws.file_mtime(fi) };
                    t.entries.push(Entry { fi, bi, feat, ev });
                }
            }
        }
        Ok(t)
    }

    /// The last day a session restated each entry (see `order::compare`).
    pub fn add_confirmations(&mut self, conf: &[Confirmation]) {
        for (e, c) in self.entries.iter_mut().zip(conf) {
            e.ev.confirmed = c.last.map(|t| t.date_naive());
        }
    }

    /// `file:line` of an entry, for provenance.
    pub fn loc(&self, ws: &Workspace, i: usize) -> String {
        let e = &self.entries[i];
        format!("{}:{}", ws.files[e.fi].path, ws.block(e.fi, e.bi).line)
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
