//! Scoring a candidate store against a corpus's ground truth.

use super::Corpus;
use crate::config::Layout;
use crate::memory::{parse_store, BlockKind, PinRules, INDEX_FILE};
use crate::store::Store;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    pub facts: usize,
    pub entries_before: usize,
    /// Current facts still present (subject and current value in one entry).
    pub retention: f64,
    pub pinned_kept: f64,
    /// Copies of a fact beyond the first that survived, over restatements planted.
    pub residual_duplicates: f64,
    /// Facts with a planted older value whose older value is gone and current value stays.
    pub conflicts_resolved: f64,
    pub stale_pointers_removed: f64,
    pub relative_dates_fixed: f64,
    pub insight_correct: bool,
    /// (before − after) / before, the managed insights file left out of "after".
    pub byte_reduction: f64,
    /// The same for the ideal store built from the ground truth.
    pub ideal_byte_reduction: f64,
    /// Per way an older value was planted: (resolved correctly, planted).
    pub conflicts_by_class: BTreeMap<String, (usize, usize)>,
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| c.is_whitespace() || c == '/')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        1.0
    } else {
        n as f64 / d as f64
    }
}

fn contains_all(set: &HashSet<String>, words: &[String]) -> bool {
    !words.is_empty() && words.iter().all(|w| set.contains(w))
}

/// What became of each fact: is its current value still there, and its older value?
/// (Metamorphic tests compare these between a store and a transformed copy of it.)
pub fn fact_states(corpus: &Corpus, candidate: &Store) -> Vec<(bool, bool)> {
    let texts: Vec<String> = parse_store(candidate, Layout::ClaudeCode, &PinRules::default())
        .0
        .iter()
        .filter(|f| f.path != INDEX_FILE && !f.path.contains("insights"))
        .flat_map(|f| f.blocks().iter().filter(|b| b.kind.is_entry()).map(|b| b.text().to_string()).collect::<Vec<_>>())
        .collect();
    let sets: Vec<HashSet<String>> = texts.iter().map(|t| words(t).collect()).collect();
    corpus
        .truth
        .facts
        .iter()
        .map(|f| {
            let subject: Vec<String> = words(&f.subject).collect();
            let value: Vec<String> = words(&f.value).collect();
            let old: Vec<String> = f.old_value.as_deref().map(|o| words(o).collect()).unwrap_or_default();
            let about = sets.iter().filter(|w| contains_all(w, &subject) && f.probe.iter().all(|p| w.contains(p)));
            let (mut current, mut stale) = (false, false);
            for w in about {
                current |= contains_all(w, &value);
                stale |= contains_all(w, &old) && !contains_all(w, &value);
            }
            (current, stale)
        })
        .collect()
}

pub fn score(corpus: &Corpus, candidate: &Store) -> Score {
    let truth = &corpus.truth;
    // Subject word → the facts about it (one per fact in the first family, several in "hard").
    // A subject of several words ("Cluster 31") is looked up by its first and checked whole.
    let subject_words: Vec<Vec<String>> = truth.facts.iter().map(|f| words(&f.subject).collect()).collect();
    let mut by_subject: HashMap<String, Vec<usize>> = HashMap::new();
    for f in &truth.facts {
        by_subject.entry(subject_words[f.id].first().cloned().unwrap_or_default()).or_default().push(f.id);
    }
    let (files, _) = parse_store(candidate, Layout::ClaudeCode, &PinRules::default());
    // Per fact: the word sets of the candidate entries about it.
    let mut about: Vec<Vec<HashSet<String>>> = vec![Vec::new(); truth.facts.len()];
    let mut texts: Vec<Vec<&str>> = vec![Vec::new(); truth.facts.len()];
    for f in &files {
        if f.path == INDEX_FILE || f.path.contains("insights") {
            continue;
        }
        for b in f.blocks() {
            if !matches!(b.kind, BlockKind::Bullet | BlockKind::Paragraph) || b.section == Some("Superseded") {
                continue;
            }
            let ws: HashSet<String> = words(b.text()).collect();
            let mut ids: Vec<usize> = ws.iter().filter_map(|w| by_subject.get(w.as_str())).flatten().copied().collect();
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                if truth.facts[id].probe.iter().all(|p| ws.contains(p)) && contains_all(&ws, &subject_words[id]) {
                    about[id].push(ws.clone());
                    texts[id].push(b.text());
                }
            }
        }
    }
    let (mut retained, mut extra, mut planted_restatements) = (0, 0, 0);
    let (mut conflicts, mut resolved, mut pinned, mut pinned_kept, mut rel, mut rel_fixed) = (0, 0, 0, 0, 0, 0);
    let mut by_class: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let all_text: String = candidate.files.values().filter_map(|f| f.text()).collect::<Vec<_>>().join("\n");
    for f in &truth.facts {
        let value: Vec<String> = words(&f.value).collect();
        let current = about[f.id].iter().filter(|w| contains_all(w, &value)).count();
        retained += usize::from(current >= 1);
        extra += current.saturating_sub(1);
        planted_restatements += f.restatements.len();
        if let Some(old) = &f.old_value {
            conflicts += 1;
            let old: Vec<String> = words(old).collect();
            let stale = about[f.id].iter().any(|w| contains_all(w, &old) && !contains_all(w, &value));
            // Resolved correctly: the old value gone when the order is defensible, both kept otherwise.
            let ok = current >= 1 && stale != f.resolve_old;
            resolved += usize::from(ok);
            let c = by_class.entry(f.conflict_class.unwrap_or("planted").to_string()).or_default();
            c.0 += usize::from(ok);
            c.1 += 1;
        }
        if f.pinned {
            pinned += 1;
            pinned_kept += usize::from(all_text.contains(&f.line));
        }
        if let Some(d) = &f.absolute_date {
            rel += 1;
            let ok = texts[f.id].iter().any(|t| t.contains(d.as_str()))
                && !texts[f.id].iter().any(|t| t.contains("ago") || t.contains("yesterday"));
            rel_fixed += usize::from(ok);
        }
    }
    let index = candidate.files.get(INDEX_FILE).and_then(|f| f.text()).unwrap_or("");
    let stale_gone = truth.stale_pointers.iter().filter(|s| !index.contains(s.as_str())).count();
    let insights = candidate.files.iter().filter(|(p, _)| p.contains("insights")).filter_map(|(_, f)| f.text()).collect::<String>();
    let insight_correct = insights.contains(&format!(
        "Code in {} of {} sessions ({}%) was {}",
        truth.language_sessions,
        truth.sessions,
        (truth.language_sessions * 100 + truth.sessions / 2) / truth.sessions.max(1),
        truth.dominant_language
    ));
    let before = corpus.store.total_bytes() as f64;
    let managed: u64 = candidate.files.iter().filter(|(p, _)| p.contains("insights")).map(|(_, f)| f.bytes.len() as u64).sum();
    let index_line: u64 = index.lines().filter(|l| l.contains("insights.md)")).map(|l| l.len() as u64 + 1).sum();
    let after = (candidate.total_bytes() - managed - index_line) as f64;
    Score {
        facts: truth.facts.len(),
        entries_before: truth.planted.len(),
        retention: ratio(retained, truth.facts.len()),
        pinned_kept: ratio(pinned_kept, pinned),
        residual_duplicates: if planted_restatements == 0 { 0.0 } else { extra as f64 / planted_restatements as f64 },
        conflicts_resolved: ratio(resolved, conflicts),
        stale_pointers_removed: ratio(stale_gone, truth.stale_pointers.len()),
        relative_dates_fixed: ratio(rel_fixed, rel),
        insight_correct,
        byte_reduction: if before > 0.0 { (before - after) / before } else { 0.0 },
        ideal_byte_reduction: if before > 0.0 { (before - truth.ideal_bytes as f64) / before } else { 0.0 },
        conflicts_by_class: by_class,
    }
}
