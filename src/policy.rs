//! Policy: may a candidate replace the live store without a person looking at it?
//!
//! Pure functions over parsed stores. Each check reports pass/fail with a reason; the
//! candidate is applied only when all pass and `auto_apply` is on, otherwise it is held.

use crate::config::Config;
use crate::memory::{self, ParsedFile};
use crate::report::Report;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub reason: String,
    /// Entries or values the reason refers to (e.g. the pinned entries lost).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: bool,
    pub checks: Vec<Check>,
}

impl Verdict {
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
    pub fn summary(&self) -> String {
        let failed: Vec<_> = self.failures().map(|c| format!("{}: {}", c.name, c.reason)).collect();
        if failed.is_empty() {
            "all checks passed".into()
        } else {
            failed.join("; ")
        }
    }
}

/// What the checks look at.
pub struct PolicyInput<'a> {
    pub config: &'a Config,
    pub live: &'a [ParsedFile],
    pub candidate: &'a [ParsedFile],
    /// Bytes of the agent's files (see [`agent_bytes`]).
    pub live_bytes: u64,
    pub candidate_bytes: u64,
    pub report: &'a Report,
    pub base_hash: &'a str,
    /// Hash of the live store as it is now.
    pub current_hash: &'a str,
}

pub fn evaluate(input: &PolicyInput) -> Verdict {
    let checks = vec![
        check_unchanged(input.base_hash, input.current_hash),
        check_reduction(input.live_bytes, input.candidate_bytes, input.config.policy.min_reduction, input.config.policy.max_reduction),
        check_pinned(input.live, input.candidate),
        check_entry_loss(input.live, input.candidate, input.report, input.config.max_entry_loss()),
        check_secrets(input.live, input.candidate, &input.config.policy.secret_patterns),
    ];
    Verdict { passed: checks.iter().all(|c| c.passed), checks }
}

fn check(name: &str, passed: bool, reason: String, details: Vec<String>) -> Check {
    Check { name: name.into(), passed, reason, details }
}

pub fn check_unchanged(base_hash: &str, current_hash: &str) -> Check {
    if base_hash == current_hash {
        check("live_unchanged", true, "the live store is as it was when the dream began".into(), vec![])
    } else {
        check("live_unchanged", false, "the live store changed since the dream began".into(), vec![])
    }
}

/// Bytes of the agent's own files: dreamd-managed files (the regenerated insights) are
/// derived, not memory, and would otherwise count as growth the agent did not cause.
pub fn agent_bytes(files: &[ParsedFile], store: &crate::store::Store) -> u64 {
    files.iter().filter(|f| !f.is_managed()).filter_map(|f| store.files.get(&f.path)).map(|f| f.bytes.len() as u64).sum()
}

pub fn check_reduction(before: u64, after: u64, min: f64, max: f64) -> Check {
    if before == 0 {
        return check("reduction", false, "the live store is empty; nothing to reduce".into(), vec![]);
    }
    let r = (before as f64 - after as f64) / before as f64;
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let figures = format!("{before} → {after} bytes ({} reduction)", pct(r));
    if r < min {
        check("reduction", false, format!("{figures} is below the minimum {}", pct(min)), vec![])
    } else if r > max {
        check("reduction", false, format!("{figures} is above the maximum {}: suspect, not a win", pct(max)), vec![])
    } else {
        check("reduction", true, format!("{figures} within {}–{}", pct(min), pct(max)), vec![])
    }
}

/// Every pinned entry of the live store must appear verbatim somewhere in the candidate.
pub fn check_pinned(live: &[ParsedFile], candidate: &[ParsedFile]) -> Check {
    let present: HashSet<&str> = memory::entries(candidate).map(|(_, b)| b.text()).collect();
    let pinned: Vec<_> = memory::entries(live).filter(|(_, b)| b.pinned).collect();
    let lost: Vec<String> =
        pinned.iter().filter(|(_, b)| !present.contains(b.text())).map(|(f, b)| format!("{}:{}: {}", f.path, b.line, b.text())).collect();
    if lost.is_empty() {
        check("pinned_kept", true, format!("all {} pinned entries kept verbatim", pinned.len()), vec![])
    } else {
        check("pinned_kept", false, format!("{} of {} pinned entries missing or altered", lost.len(), pinned.len()), lost)
    }
}

/// Entries that vanish with nothing to show for them (see `loss::classify`): no kept or
/// merged counterpart in the candidate, no conflict or justified removal in the report.
pub fn check_entry_loss(live: &[ParsedFile], candidate: &[ParsedFile], report: &Report, max_loss: f64) -> Check {
    let loss = crate::loss::classify(live, candidate, report);
    let frac = loss.fraction_dropped();
    let reason = format!(
        "{} of {} entries dropped without explanation ({:.1}%, limit {:.1}%); {} kept, {} merged, {} superseded, {} removed with a reason",
        loss.dropped.len(),
        loss.entries,
        frac * 100.0,
        max_loss * 100.0,
        loss.kept,
        loss.merged,
        loss.superseded,
        loss.removed
    );
    let details = loss.dropped.iter().map(|e| format!("{}:{}: {}", e.file, e.line, e.text)).collect();
    check("entry_loss", frac <= max_loss, reason, details)
}

/// A candidate must not introduce a secret that the live store did not already contain.
pub fn check_secrets(live: &[ParsedFile], candidate: &[ParsedFile], extra: &[String]) -> Check {
    let extra: Vec<Regex> = extra.iter().filter_map(|p| Regex::new(p).ok()).collect();
    let find = |files: &[ParsedFile]| -> HashSet<String> {
        let mut out = HashSet::new();
        for (_, b) in memory::entries(files) {
            for m in crate::secrets::find(&b.raw) {
                out.insert(b.raw[m.start..m.end].to_string());
            }
            for r in &extra {
                for m in r.find_iter(&b.raw) {
                    out.insert(m.as_str().to_string());
                }
            }
        }
        out
    };
    let before = find(live);
    let mut new: Vec<String> = find(candidate).into_iter().filter(|s| !before.contains(s)).map(|s| crate::secrets::describe(&s)).collect();
    new.sort();
    if new.is_empty() {
        check("no_new_secrets", true, "the candidate introduces no secret".into(), vec![])
    } else {
        check("no_new_secrets", false, format!("the candidate writes {} secret-looking value(s)", new.len()), new)
    }
}

#[cfg(test)]
mod tests;
