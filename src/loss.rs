//! The loss guard: what became of every entry of the live store in a candidate, whichever
//! engine made it.
//!
//! Each live entry is *kept* (the same text up to formatting, or a near-same restatement, is
//! in the candidate), *merged* (a candidate entry says everything it says, or the report
//! records it as a duplicate), *superseded* (the report records a conflict that replaced it),
//! *removed* (another justified removal the report records: a pointer to a missing file, an
//! index fix, a regenerated managed file) or *dropped*: gone with nothing to show for it.
//! Policy auto-applies only when `fraction_dropped() <= max_entry_loss`.

use crate::engine::builtin::lsh::candidate_pairs;
use crate::engine::builtin::near::covers;
use crate::engine::builtin::text::{features, Features, Vocab};
use crate::memory::{entries, normalize, EntryRef, ParsedFile};
use crate::report::{ChangeKind, Report};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LossReport {
    /// Entries of the live store.
    pub entries: usize,
    pub kept: usize,
    pub merged: usize,
    pub superseded: usize,
    /// Removals the report justifies (stale pointers, index fixes, managed files).
    pub removed: usize,
    /// Entries with no counterpart and no justification, in store order.
    pub dropped: Vec<EntryRef>,
}

impl LossReport {
    pub fn fraction_dropped(&self) -> f64 {
        if self.entries == 0 {
            0.0
        } else {
            self.dropped.len() as f64 / self.entries as f64
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Kept,
    Merged,
    Superseded,
    Removed,
}

/// What the report says happened to entries, keyed by (file, normal form of the text).
struct Justifications<'a> {
    exact: HashMap<(&'a str, String), Fate>,
    /// Changes whose `before` spans several entries (a whole managed file): substring match.
    spans: Vec<(&'a str, &'a str, Fate)>,
}

fn fate_of(kind: ChangeKind, has_after: bool) -> Option<Fate> {
    match kind {
        ChangeKind::Dedupe => Some(Fate::Merged),
        ChangeKind::Conflict => Some(Fate::Superseded),
        ChangeKind::StalePointer | ChangeKind::Index | ChangeKind::Insight => Some(Fate::Removed),
        // A rewrite in place (the date made absolute) keeps the entry.
        ChangeKind::RelativeDate if has_after => Some(Fate::Kept),
        // An unexplained edit justifies nothing.
        ChangeKind::RelativeDate | ChangeKind::Edit => None,
    }
}

impl<'a> Justifications<'a> {
    fn new(report: &'a Report) -> Self {
        let mut j = Justifications { exact: HashMap::new(), spans: Vec::new() };
        for c in &report.changes {
            let (Some(before), Some(fate)) = (c.before.as_deref(), fate_of(c.kind, c.after.is_some())) else { continue };
            if before.trim_end().contains('\n') && c.kind == ChangeKind::Insight {
                j.spans.push((c.file.as_str(), before, fate));
            } else {
                j.exact.entry((c.file.as_str(), normalize(before))).or_insert(fate);
            }
        }
        j
    }

    fn lookup(&self, file: &str, text: &str) -> Option<Fate> {
        if let Some(&f) = self.exact.get(&(file, normalize(text))) {
            return Some(f);
        }
        self.spans.iter().find(|(f, before, _)| *f == file && before.contains(text)).map(|&(_, _, fate)| fate)
    }
}

pub fn classify(live: &[ParsedFile], candidate: &[ParsedFile], report: &Report) -> LossReport {
    let cand_normal: HashSet<String> = entries(candidate).map(|(_, b)| normalize(b.text())).collect();
    let just = Justifications::new(report);
    let mut out = LossReport::default();
    // Entries with no exact counterpart and no justification: checked for near-duplicates.
    let mut unresolved: Vec<EntryRef> = Vec::new();
    for (f, b) in entries(live) {
        out.entries += 1;
        let text = b.text();
        let fate = if cand_normal.contains(&normalize(text)) { Some(Fate::Kept) } else { just.lookup(&f.path, text) };
        match fate {
            Some(Fate::Kept) => out.kept += 1,
            Some(Fate::Merged) => out.merged += 1,
            Some(Fate::Superseded) => out.superseded += 1,
            Some(Fate::Removed) => out.removed += 1,
            None => unresolved.push(EntryRef { file: f.path.clone(), line: b.line, text: text.to_string() }),
        }
    }
    if unresolved.is_empty() {
        return out;
    }
    // Near-same or covered by a candidate entry: MinHash/LSH candidates, precise check.
    let mut vocab = Vocab::default();
    let cand_feats: Vec<Features> = entries(candidate).map(|(_, b)| features(b.text(), &mut vocab)).collect();
    let live_feats: Vec<Features> = unresolved.iter().map(|e| features(&e.text, &mut vocab)).collect();
    let n = cand_feats.len() as u32;
    let items: Vec<(u32, &Features)> = cand_feats
        .iter()
        .enumerate()
        .map(|(i, f)| (i as u32, f))
        .chain(live_feats.iter().enumerate().map(|(i, f)| (n + i as u32, f)))
        .collect();
    let (pairs, _) = candidate_pairs(&items);
    let mut fate: Vec<Option<Fate>> = vec![None; unresolved.len()];
    for (a, b) in pairs {
        // Pairs are (smaller, larger): a candidate entry always comes first.
        if a >= n || b < n {
            continue;
        }
        let (c, l) = (&cand_feats[a as usize], &live_feats[(b - n) as usize]);
        let slot = &mut fate[(b - n) as usize];
        if covers(c, l).is_some() {
            *slot = Some(if c.set == l.set { Fate::Kept } else { Fate::Merged });
        } else if covers(l, c).is_some() && slot.is_none() {
            // The candidate says it with a remark less: near-same text.
            *slot = Some(Fate::Kept);
        }
    }
    for (e, f) in unresolved.into_iter().zip(fate) {
        match f {
            Some(Fate::Kept) => out.kept += 1,
            Some(_) => out.merged += 1,
            None => out.dropped.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Layout;
    use crate::engine::{builtin, DreamInput};
    use crate::memory::{parse_store, PinRules};
    use crate::store::{MemoryFile, Store};

    fn store(files: &[(&str, &str)]) -> Store {
        let mut s = Store::default();
        for (p, t) in files {
            s.files.insert(p.to_string(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
        }
        s
    }

    fn parse(s: &Store) -> Vec<ParsedFile> {
        parse_store(s, Layout::ClaudeCode, &PinRules::default()).0
    }

    const LIVE: &[(&str, &str)] = &[
        ("MEMORY.md", "- [A](a.md) — a\n- [Gone](gone.md) — g\n"),
        ("a.md", "- Note: deploys go through **ArgoCD**\n- deploys go through ArgoCD (as agreed)\n- 2026-05-01: billing listens on port 8080\n- 2026-06-01: billing listens on port 9090\n- the cafeteria closes at noon\n- rotate keys every 90 days\n"),
    ];

    #[test]
    fn the_builtin_engine_loses_nothing() {
        let live = store(LIVE);
        let input = DreamInput {
            store: live.clone(),
            transcripts: vec![],
            layout: Layout::ClaudeCode,
            pins: PinRules::default(),
            now: chrono::Utc::now(),
            keep_history: false,
            cancel: Default::default(),
        };
        let (cand, report) = builtin::consolidate(&input).unwrap();
        let l = classify(&parse(&live), &parse(&cand), &report);
        assert_eq!(l.entries, 8);
        assert_eq!(l.dropped, vec![]);
        assert_eq!((l.kept, l.merged, l.superseded, l.removed), (5, 1, 1, 1));
        assert_eq!(l.fraction_dropped(), 0.0);
    }

    #[test]
    fn a_candidate_that_silently_drops_entries_is_caught() {
        let live = store(LIVE);
        // A "model engine" output: merged the duplicates (fine), rewrote one entry (fine),
        // and silently lost two facts and an old value, with an empty report.
        let cand = store(&[
            ("MEMORY.md", "- [A](a.md) — a\n- [Gone](gone.md) — g\n"),
            ("a.md", "- Deploys go through ArgoCD (as agreed)\n- billing listens on port 9090 (as of 2026-06-01)\n"),
        ]);
        let l = classify(&parse(&live), &parse(&cand), &Report::default());
        let dropped: Vec<&str> = l.dropped.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            dropped,
            vec!["- 2026-05-01: billing listens on port 8080", "- the cafeteria closes at noon", "- rotate keys every 90 days"]
        );
        assert_eq!(l.dropped[0].line, 3);
        assert!((l.fraction_dropped() - 3.0 / 8.0).abs() < 1e-9);
        // An unexplained "edit" change does not justify the loss either.
        let mut r = Report::default();
        r.changes.push(crate::report::Change::new(
            ChangeKind::Edit,
            "a.md",
            Some("- the cafeteria closes at noon".into()),
            None,
            "diff".into(),
        ));
        assert_eq!(classify(&parse(&live), &parse(&cand), &r).dropped.len(), 3);
        // A recorded conflict does.
        r.changes.push(crate::report::Change::new(
            ChangeKind::Conflict,
            "a.md",
            Some("- 2026-05-01: billing listens on port 8080".into()),
            None,
            "older".into(),
        ));
        let l = classify(&parse(&live), &parse(&cand), &r);
        assert_eq!(l.dropped.len(), 2);
        assert_eq!(l.superseded, 1);
        assert!(serde_json::to_string(&l).unwrap().contains("\"dropped\""));
    }

    #[test]
    fn an_empty_live_store_loses_nothing() {
        assert_eq!(classify(&[], &[], &Report::default()).fraction_dropped(), 0.0);
    }
}
