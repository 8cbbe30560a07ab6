//! One dream and a second dream of its result, on a generated or a real corpus: what the
//! quality test and the benchmark measure.

use super::real::{self, RealScore, RealStore};
use super::{score, Corpus, Score};
use crate::config::Layout;
use crate::engine::{builtin, DreamInput};
use crate::memory::PinRules;
use crate::report::{ChangeKind, Report};
use crate::sessions::Transcript;
use crate::store::Store;
use chrono::{DateTime, Utc};

/// The built-in engine on a store, as `dreamd consolidate` runs it.
pub fn dream(store: &Store, transcripts: Vec<Transcript>, now: DateTime<Utc>) -> (Store, Report) {
    let input = DreamInput {
        store: store.clone(),
        transcripts,
        layout: Layout::ClaudeCode,
        pins: PinRules::default(),
        now,
        keep_history: false,
        cancel: Default::default(),
    };
    // No token is ever canceled here.
    builtin::consolidate(&input).unwrap_or_else(|_| (store.clone(), Report::default()))
}

/// Entries a report removes (duplicates and superseded values; rewrites are not removals).
pub fn removals(report: &Report) -> usize {
    report.changes.iter().filter(|c| matches!(c.kind, ChangeKind::Dedupe | ChangeKind::Conflict) && c.after.is_none()).count()
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct GeneratedRun {
    pub score: Score,
    pub removed: usize,
    /// What a dream of the dreamed store removed (must be 0).
    pub second_pass_removals: usize,
    pub flags: usize,
}

pub fn run_generated(corpus: &Corpus) -> (GeneratedRun, Store, Report) {
    let (candidate, report) = dream(&corpus.store, corpus.transcripts(), corpus.now);
    let (_, second) = dream(&candidate, corpus.transcripts(), corpus.now);
    let run = GeneratedRun {
        score: score(corpus, &candidate),
        removed: removals(&report),
        second_pass_removals: removals(&second),
        flags: report.flags.len(),
    };
    (run, candidate, report)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RealRun {
    pub store: String,
    pub score: RealScore,
    pub removed: usize,
    pub second_pass_removals: usize,
    pub flags: usize,
}

pub fn run_real(s: &RealStore, now: DateTime<Utc>) -> anyhow::Result<(RealRun, Store, Report)> {
    let truth = real::truth(s)?;
    let store = Store::read(&s.memory())?;
    let (candidate, report) = dream(&store, Vec::new(), now);
    let (_, second) = dream(&candidate, Vec::new(), now);
    let run = RealRun {
        store: s.name(),
        score: real::score_real(&truth, &store, &candidate),
        removed: removals(&report),
        second_pass_removals: removals(&second),
        flags: report.flags.len(),
    };
    Ok((run, candidate, report))
}
