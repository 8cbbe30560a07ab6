//! The figures of one dream, computed by dreamd from the two stores (never taken from an
//! engine's report), so that `show`, `jobs`, `consolidate`, the metrics and the policy checks
//! speak of the same numbers:
//!
//! - `memory_bytes_*`: the agent's own files, dreamd-managed files (`managed-by: dreamd`, the
//!   regenerated `insights.md`) left out. The headline figure, and the one the `reduction`
//!   check compares: derived files are not memory the agent wrote.
//! - `bytes_*`, `files_*`, `tokens_*`: every file of the store, managed ones included: what is
//!   on disk and what an agent loading the whole directory reads.
//! - `entries_*`: entries (list items, paragraphs) of every memory file, managed ones included:
//!   the count the `entry_loss` check starts from.
//!
//! Pure: stores in, figures out.

use crate::config::Layout;
use crate::memory::{parse_file, PinRules};
use crate::report::approx_tokens;
use crate::store::Store;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub memory_bytes_before: u64,
    pub memory_bytes_after: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub files_before: usize,
    pub files_after: usize,
    pub entries_before: usize,
    pub entries_after: usize,
    pub tokens_before: u64,
    pub tokens_after: u64,
    /// dreamd-managed files in either store, left out of `memory_bytes_*`.
    pub managed_files: Vec<String>,
}

impl Figures {
    /// The reduction of the agent's own files, as a fraction of before (0 for an empty store).
    pub fn memory_reduction(&self) -> f64 {
        reduction(self.memory_bytes_before, self.memory_bytes_after)
    }
}

pub fn reduction(before: u64, after: u64) -> f64 {
    if before == 0 {
        0.0
    } else {
        (before as f64 - after as f64) / before as f64
    }
}

/// Per store: the bytes of the files that are not dreamd-managed, the entries, the managed
/// files. One file parsed at a time: a 100 MB store is never held parsed whole.
fn tally(store: &Store, layout: Layout, pins: &PinRules, managed: &mut Vec<String>) -> (u64, usize) {
    let (mut memory_bytes, mut entries) = (0, 0);
    for (path, file) in &store.files {
        let f = parse_file(path, file, layout, pins);
        entries += f.blocks().iter().filter(|b| b.kind.is_entry()).count();
        if f.is_managed() {
            managed.push(path.clone());
        } else {
            memory_bytes += file.bytes.len() as u64;
        }
    }
    (memory_bytes, entries)
}

pub fn compare(before: &Store, after: &Store, layout: Layout, pins: &PinRules) -> Figures {
    let mut managed = Vec::new();
    let (memory_bytes_before, entries_before) = tally(before, layout, pins, &mut managed);
    let (memory_bytes_after, entries_after) = tally(after, layout, pins, &mut managed);
    managed.sort();
    managed.dedup();
    let (bytes_before, bytes_after) = (before.total_bytes(), after.total_bytes());
    Figures {
        memory_bytes_before,
        memory_bytes_after,
        bytes_before,
        bytes_after,
        files_before: before.files.len(),
        files_after: after.files.len(),
        entries_before,
        entries_after,
        tokens_before: approx_tokens(bytes_before),
        tokens_after: approx_tokens(bytes_after),
        managed_files: managed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(files: &[(&str, &str)]) -> Store {
        let d = tempfile::tempdir().unwrap();
        for (p, t) in files {
            std::fs::write(d.path().join(p), t).unwrap();
        }
        Store::read(d.path()).unwrap()
    }

    #[test]
    fn managed_files_count_in_the_totals_not_in_the_memory_figure() {
        let before = store(&[("MEMORY.md", "- [a](a.md)\n"), ("a.md", "- one\n- one\n- two\n")]);
        let insights = "---\nmanaged-by: dreamd\n---\n- seen in sessions\n";
        let after = store(&[("MEMORY.md", "- [a](a.md)\n"), ("a.md", "- one\n- two\n"), ("insights.md", insights)]);
        let f = compare(&before, &after, Layout::ClaudeCode, &PinRules::default());
        assert_eq!(f.managed_files, vec!["insights.md".to_string()]);
        assert_eq!(f.memory_bytes_before, f.bytes_before);
        assert_eq!(f.bytes_after, f.memory_bytes_after + insights.len() as u64);
        assert_eq!((f.files_before, f.files_after), (2, 3));
        assert!(f.memory_reduction() > 0.0);
        assert!(f.bytes_after > f.bytes_before, "the totals grew with the insights file");
        assert_eq!(f.entries_before, 4);
    }
}
