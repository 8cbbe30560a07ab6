//! The real binary on text dreamd did not write: the memories rebuilt from public
//! `AGENTS.md`/`CLAUDE.md` histories in `../shared/corpora/real` (CI has them at the same
//! path). Every store, dated and undated: no current entry lost, a second dream of the
//! result removes nothing, and some superseded entries do go.
//!
//! This is the stop hook's check (`dreamd consolidate DIR --out OUT --json`, then the
//! corpus' scorer), run in-process on the same output files.

use dreamd::corpus::real::{self, RealStore};
use dreamd::report::{ChangeKind, Report};
use dreamd::store::Store;
use std::path::Path;
use std::process::Command;

fn consolidate(dir: &Path, out: &Path) -> Report {
    let o = Command::new(env!("CARGO_BIN_EXE_dreamd")).arg("consolidate").arg(dir).arg("--out").arg(out).arg("--json").output().unwrap();
    assert!(o.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn removals(r: &Report) -> Vec<String> {
    r.changes
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::Dedupe | ChangeKind::Conflict) && c.after.is_none())
        .map(|c| format!("{}: {} ({})", c.file, c.before.as_deref().unwrap_or(""), c.reason))
        .collect()
}

fn stores() -> Vec<RealStore> {
    let root = real::root().expect("the real corpora are expected at ../shared/corpora/real (or DREAMD_REAL_CORPORA)");
    let stores = real::stores(&root).unwrap();
    assert!(stores.len() >= 2, "no stores under {}", root.display());
    stores
}

#[test]
fn no_current_entry_is_lost_and_a_second_dream_removes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut totals: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for s in stores() {
        let out = tmp.path().join(&s.variant).join(&s.slug).join("memory");
        let report = consolidate(&s.memory(), &out);
        let truth = real::truth(&s).unwrap();
        let score = real::score_real(&truth, &Store::read(&s.memory()).unwrap(), &Store::read(&out).unwrap());
        eprintln!("{}: {score:?}, {} removed", s.name(), removals(&report).len());
        assert_eq!(score.current_retained, 1.0, "{}: current entries lost: {:#?}", s.name(), score.lost);
        // The fixed point: dreaming the dreamed store changes nothing more.
        let again = consolidate(&out, &tmp.path().join("again").join(&s.variant).join(&s.slug));
        assert_eq!(removals(&again), Vec::<String>::new(), "{}: a second dream removed more", s.name());
        let t = totals.entry(s.variant.clone()).or_default();
        t.0 += (score.superseded_removed * score.superseded as f64).round() as usize;
        t.1 += score.superseded;
    }
    // Precision first, but not a dream that does nothing: at least a tenth of what upstream
    // superseded goes, in both variants (dates only help; position within a file orders the rest).
    for (variant, (removed, superseded)) in totals {
        let share = removed as f64 / superseded as f64;
        assert!(share >= 0.10, "{variant}: only {removed} of {superseded} superseded entries removed");
    }
}

#[test]
fn a_copy_or_touch_of_the_files_changes_nothing() {
    // After `cp`, every file has the same fresh mtime; after `touch`, one file looks newest.
    // Neither is evidence of which entry is newer, so the candidate is the same.
    for s in stores().into_iter().filter(|s| s.variant == "undated") {
        let store = Store::read(&s.memory()).unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").unwrap().into();
        let (base, _) = dreamd::corpus::quality::dream(&store, Vec::new(), now);
        let mut copied = store.clone();
        let mut touched = store.clone();
        for f in copied.files.values_mut() {
            f.mtime = Some(now);
        }
        if let Some(f) = touched.files.values_mut().next() {
            f.mtime = Some(now);
        }
        for (what, variant) in [("cp", copied), ("touch", touched)] {
            let (c, _) = dreamd::corpus::quality::dream(&variant, Vec::new(), now);
            let bytes = |s: &Store| s.files.iter().map(|(p, f)| (p.clone(), f.bytes.clone())).collect::<Vec<_>>();
            assert_eq!(bytes(&c), bytes(&base), "{}: after {what}", s.name());
        }
    }
}

/// The engine-independent verifier confirms every removal the built-in engine makes on text
/// neither of them was written against: every check passes but, where the engine saves little,
/// `reduction` (`policy.min_reduction`), which is listed.
#[test]
fn the_verifier_confirms_every_removal_on_every_real_store() {
    use dreamd::memory::PinRules;
    use dreamd::verify::{evaluate, Input};
    let tmp = tempfile::tempdir().unwrap();
    let config = dreamd::config::Config::from_yaml("agent:\n  memory_dir: /m\n", Path::new("/c.yaml")).unwrap();
    let pins = PinRules::default();
    let mut below_min_reduction = Vec::new();
    for s in stores() {
        let out = tmp.path().join(&s.variant).join(&s.slug).join("memory");
        let report = consolidate(&s.memory(), &out);
        let (live, candidate) = (Store::read(&s.memory()).unwrap(), Store::read(&out).unwrap());
        let h = live.hash();
        let input =
            Input { config: &config, pins: &pins, live: &live, candidate: &candidate, report: &report, base_hash: &h, current_hash: &h };
        let verdict = evaluate(&input);
        for c in verdict.failures() {
            if c.name == "reduction" {
                below_min_reduction.push(format!("{}: {}", s.name(), c.reason));
                continue;
            }
            panic!("{}: {} failed: {}\n{}", s.name(), c.name, c.reason, c.details.join("\n"));
        }
    }
    eprintln!("held only by reduction: {below_min_reduction:#?}");
}
