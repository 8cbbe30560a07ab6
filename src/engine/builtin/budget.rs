//! The engine's memory budget (`limits.max_memory_mb`): what a dream of this store would
//! hold at its peak, estimated before it starts, and which files to leave as they are when
//! that is more than the budget.
//!
//! The estimate is linear, calibrated on the consolidate benchmark (generated stores of
//! 1.4 MB to 100 MB, peak RSS 0.52–0.57 KB per line of the files consolidated, measured
//! after the other costs): the store is held twice (the input and the candidate), and every
//! line of a file the engine works on costs up to `PER_LINE` bytes (its block, its packed
//! features, its share of the candidate keys and pairs, and the report's change records,
//! which dominate: ~0.6 KB per change).
//!
//! Over budget, the largest files are left out of the dream, one after another, until the
//! rest fits: nothing in them is read for duplicates, near-duplicates or conflicts, and
//! nothing is removed from them or because of them (what is not examined is never removed).
//! `MEMORY.md` and dreamd-managed files always stay in (index upkeep, insights). The report
//! says which files were left out and why, in a `memory_budget` flag.

use crate::memory::{is_memory_file, INDEX_FILE};
use crate::report::Flag;
use crate::store::Store;
use std::collections::BTreeSet;

/// The process itself, its allocator, the transcripts and the small tables.
const FIXED: u64 = 24 << 20;
/// Peak bytes per line of a file the engine consolidates (measured 520–570, see above).
pub const PER_LINE: u64 = 600;

/// A dream that does not fit its budget: the files it leaves as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub skipped: BTreeSet<String>,
    /// Estimated peaks, in bytes: the whole store, and what is left once the skipped files are.
    pub estimate_all: u64,
    pub estimate_kept: u64,
    pub budget: u64,
    pub skipped_bytes: u64,
    pub total_bytes: u64,
}

impl Plan {
    /// The report's account of what was left out and why.
    pub fn flag(&self) -> Flag {
        let mb = |b: u64| b as f64 / (1 << 20) as f64;
        let message = format!(
            "memory budget: a dream of the whole store would hold about {:.0} MB at its peak, over limits.max_memory_mb ({:.0} MB), \
             so the {} largest files ({:.1} of {:.1} MB) were left as they are: no duplicate, near-duplicate or conflict search in \
             them, nothing removed from them or because of them; raise the limit to consolidate them",
            mb(self.estimate_all),
            mb(self.budget),
            self.skipped.len(),
            self.skipped_bytes as f64 / 1e6,
            self.total_bytes as f64 / 1e6,
        );
        Flag { kind: "memory_budget".into(), message, entries: self.skipped.iter().cloned().collect() }
    }
}

fn lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// A file that may be dreamd's (`managed-by` in its frontmatter, however written): it always
/// stays in, so the insights file is never mistaken for the agent's.
fn looks_managed(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    head.starts_with(b"---") && head.windows(10).any(|w| w.eq_ignore_ascii_case(b"managed-by"))
}

/// The estimated peak of a dream of `store`, in bytes, leaving out `skipped`.
pub fn estimate(store: &Store, skipped: &BTreeSet<String>) -> u64 {
    let total: u64 = store.total_bytes();
    let worked: u64 =
        store.files.iter().filter(|(p, _)| is_memory_file(p) && !skipped.contains(*p)).map(|(_, f)| PER_LINE * lines(&f.bytes)).sum();
    FIXED + 2 * total + worked
}

/// None when a dream of the whole store fits `budget` bytes (or there is no budget);
/// otherwise which files to leave out, largest first.
pub fn plan(store: &Store, budget: Option<u64>) -> Option<Plan> {
    let budget = budget?;
    let none = BTreeSet::new();
    let estimate_all = estimate(store, &none);
    if estimate_all <= budget {
        return None;
    }
    let mut candidates: Vec<(u64, &String)> = store
        .files
        .iter()
        .filter(|(p, f)| is_memory_file(p) && p.as_str() != INDEX_FILE && !looks_managed(&f.bytes))
        .map(|(p, f)| (lines(&f.bytes), p))
        .collect();
    // Largest first; equal sizes in path order, so the plan is the same every time.
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let mut estimate_kept = estimate_all;
    let mut skipped = BTreeSet::new();
    let mut skipped_bytes = 0;
    for (n, path) in candidates {
        if estimate_kept <= budget {
            break;
        }
        estimate_kept -= PER_LINE * n;
        skipped_bytes += store.files[path].bytes.len() as u64;
        skipped.insert(path.clone());
    }
    // Nothing may be left out (only the index, managed files, files the engine does not
    // read): the dream goes ahead whole.
    if skipped.is_empty() {
        return None;
    }
    Some(Plan { skipped, estimate_all, estimate_kept, budget, skipped_bytes, total_bytes: store.total_bytes() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryFile;

    fn store(files: &[(&str, usize)]) -> Store {
        let mut s = Store::default();
        for (p, lines) in files {
            s.files.insert(p.to_string(), MemoryFile { bytes: "- a fact\n".repeat(*lines).into_bytes(), mtime: None });
        }
        s
    }

    #[test]
    fn a_store_within_the_budget_is_dreamed_whole() {
        let s = store(&[("a.md", 100), ("b.md", 10)]);
        assert_eq!(plan(&s, None), None);
        assert_eq!(plan(&s, Some(estimate(&s, &BTreeSet::new()))), None);
    }

    #[test]
    fn over_budget_the_largest_files_are_left_out_until_the_rest_fits() {
        let s = store(&[("MEMORY.md", 50_000), ("big.md", 40_000), ("mid.md", 20_000), ("small.md", 100), ("data.json", 90_000)]);
        let keep_small = estimate(&s, &["big.md", "mid.md"].iter().map(|p| p.to_string()).collect());
        let p = plan(&s, Some(keep_small)).expect("over budget");
        assert_eq!(p.skipped.iter().map(String::as_str).collect::<Vec<_>>(), vec!["big.md", "mid.md"]);
        assert!(p.estimate_kept <= keep_small && p.estimate_all > keep_small);
        let p = plan(&s, Some(keep_small + PER_LINE * 20_001)).expect("over budget");
        assert_eq!(p.skipped.iter().map(String::as_str).collect::<Vec<_>>(), vec!["big.md"], "no more than needed");
        // Nothing fits: every file that may be left out is, the index never is.
        let p = plan(&s, Some(1)).expect("over budget");
        assert_eq!(p.skipped.iter().map(String::as_str).collect::<Vec<_>>(), vec!["big.md", "mid.md", "small.md"]);
        let flag = p.flag();
        assert_eq!(flag.kind, "memory_budget");
        assert!(flag.message.contains("3 largest files") && flag.message.contains("limits.max_memory_mb"), "{}", flag.message);
    }

    #[test]
    fn managed_files_always_stay_in() {
        let mut s = store(&[("big.md", 40_000)]);
        let managed = format!("---\nname: Insights\nmanaged-by: dreamd\n---\n{}", "- x\n".repeat(50_000));
        s.files.insert("insights.md".into(), MemoryFile { bytes: managed.into_bytes(), mtime: None });
        let p = plan(&s, Some(1)).expect("over budget");
        assert!(!p.skipped.contains("insights.md") && p.skipped.contains("big.md"));
        let only_index = store(&[("MEMORY.md", 10_000), ("data.json", 10_000)]);
        assert_eq!(plan(&only_index, Some(1)), None, "nothing may be left out");
    }

    /// The engine within a budget that the whole store is over: the big file is left as it
    /// is (not even a duplicate of the small file's fact goes), the small file is dreamed as
    /// it would be alone, and the report names what was left out and why.
    #[test]
    fn a_dream_over_budget_leaves_the_largest_files_untouched_and_says_so() {
        use crate::engine::builtin::{consolidate, consolidate_within};
        use crate::engine::DreamInput;
        let mut big =
            String::from("# Big\n\n- Deploys go through ArgoCD\n- deploys go through **ArgoCD**.\n- billing listens on port 8080\n");
        for i in 0..3000 {
            big.push_str(&format!("- service{i} is owned by team{i}\n"));
        }
        let small = "- billing listens on port 8080\n- Billing listens on port 8080.\n- the cache keeps entries for 60 seconds\n";
        let index = "- [Big](big.md) — big\n- [Small](small.md) — small\n- [Gone](gone.md) — deleted\n";
        let mut store = Store::default();
        for (p, t) in [("MEMORY.md", index), ("big.md", big.as_str()), ("small.md", small)] {
            store.files.insert(p.into(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
        }
        let input = DreamInput {
            store,
            transcripts: vec![],
            layout: crate::config::Layout::ClaudeCode,
            pins: crate::memory::PinRules::default(),
            now: chrono::DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z").unwrap().into(),
            keep_history: false,
            cancel: Default::default(),
        };
        let budget = estimate(&input.store, &["big.md".to_string()].into());
        let (whole, whole_report) = consolidate(&input).unwrap();
        assert_ne!(whole.files["big.md"].bytes, input.store.files["big.md"].bytes, "without a budget the big file is dreamed");

        let (c, r) = consolidate_within(&input, Some(budget)).unwrap();
        assert_eq!(c.files["big.md"], input.store.files["big.md"], "left as it is, mtime included");
        let names_big = |ch: &crate::report::Change| {
            ch.file == "big.md"
                || ch.related_files.iter().any(|f| f == "big.md")
                || ch.provenance.entries.iter().any(|e| e.starts_with("big.md"))
        };
        assert!(!r.changes.iter().any(names_big), "{:#?}", r.changes);
        assert_eq!(
            String::from_utf8_lossy(&c.files["small.md"].bytes),
            "- Billing listens on port 8080.\n- the cache keeps entries for 60 seconds\n"
        );
        assert!(r.changes.iter().any(|ch| ch.kind == crate::report::ChangeKind::StalePointer), "index upkeep goes on");
        let flag = r.flags.iter().find(|f| f.kind == "memory_budget").expect("the report says so");
        assert_eq!(flag.entries, vec!["big.md".to_string()]);
        assert!(flag.message.contains("max_memory_mb") && flag.message.contains("left as they are"), "{}", flag.message);
        assert_eq!(r.totals.entries_before, whole_report.totals.entries_before, "left-out entries still counted");
        assert_eq!(r.totals.entries_after, r.totals.entries_before - 2);
        assert!(!whole_report.flags.iter().any(|f| f.kind == "memory_budget"));
        // A budget the whole store fits changes nothing.
        let roomy = estimate(&input.store, &BTreeSet::new());
        let (c2, r2) = consolidate_within(&input, Some(roomy)).unwrap();
        assert!(c2.same_content(&whole) && r2 == whole_report);
    }
}
