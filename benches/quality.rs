//! Quality benchmark: `cargo bench --bench quality [-- OPTIONS]`.
//!
//! Per corpus: the first generator family ("classic", seed 42, 20k entries), the second
//! ("hard", held-out seeds only: no test ever runs them), and every real corpus
//! (`../shared/corpora/real`, dated and undated). For each: current facts retained, pinned
//! kept, residual duplicates, conflicts resolved correctly, superseded entries removed,
//! byte reduction vs the ideal, and what a second dream of the result removes.
//!
//! Options:
//!   --hard-seeds N     how many held-out seeds of the hard family (default 5)
//!   --hard-facts N     facts per hard store (default 2000)
//!   --json             one JSON object per corpus instead of the table
//!   --write DIR        also write each real candidate to DIR/<variant>/<slug>/memory
//!                      (for a cross-check with the corpus' own score.py)
//!   --digest           instead: one SHA-256 per corpus of the candidate and the report (JSON),
//!                      to show that a change to the engine leaves its output byte for byte
//!                      the same (run before and after, compare)

use dreamd::corpus::hard::{generate_hard, HardSpec, HELD_OUT_SEEDS};
use dreamd::corpus::quality::{run_generated, run_real, GeneratedRun};
use dreamd::corpus::{generate, real, Spec};
use std::path::PathBuf;

fn pct(x: f64) -> String {
    format!("{x:.3}")
}

fn row(name: &str, r: &GeneratedRun) -> String {
    let s = &r.score;
    format!(
        "| {name} | {} | {} | {} | {} | {} | — | {:.3} / {:.3} | {} |",
        s.facts,
        pct(s.retention),
        pct(s.pinned_kept),
        pct(s.residual_duplicates),
        pct(s.conflicts_resolved),
        s.byte_reduction,
        s.ideal_byte_reduction,
        r.second_pass_removals
    )
}

/// SHA-256 of what a dream of `store` gives: the candidate's paths, bytes and mtimes, and the
/// report as JSON.
fn digest(store: &dreamd::store::Store, transcripts: Vec<dreamd::sessions::Transcript>, now: chrono::DateTime<chrono::Utc>) -> String {
    use sha2::{Digest, Sha256};
    let (candidate, report) = dreamd::corpus::quality::dream(store, transcripts, now);
    let mut h = Sha256::new();
    h.update(candidate.hash());
    for f in candidate.files.values() {
        h.update(format!("{:?}", f.mtime));
    }
    h.update(serde_json::to_vec(&report).unwrap_or_default());
    format!("{:x} ({} changes, {} flags)", h.finalize(), report.changes.len(), report.flags.len())
}

fn digests(hard_seeds: u64) -> anyhow::Result<()> {
    let classic = |entries| generate(&Spec::with_entries(42, entries, 100));
    for (name, c) in [("classic 20k", classic(20_000)), ("classic 80k", classic(80_000))] {
        println!("{name}: {}", digest(&c.store, c.transcripts(), c.now));
    }
    let c = dreamd::corpus::renamed_copies(&Spec::with_entries(7, 3_000, 20), 4);
    println!("renamed copies 4 x 3k: {}", digest(&c.store, c.transcripts(), c.now));
    for seed in (1..4).chain(HELD_OUT_SEEDS.start..HELD_OUT_SEEDS.start + hard_seeds) {
        let c = generate_hard(&HardSpec::with_facts(seed, 2000));
        println!("hard {seed}: {}", digest(&c.store, c.transcripts(), c.now));
    }
    if let Some(root) = real::root() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")?.into();
        for s in real::stores(&root)? {
            let store = dreamd::store::Store::read(&s.memory())?;
            println!("real {}: {}", s.name(), digest(&store, Vec::new(), now));
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let json = args.iter().any(|a| a == "--json");
    let hard_seeds: u64 = value("--hard-seeds").and_then(|v| v.parse().ok()).unwrap_or(5);
    let hard_facts: usize = value("--hard-facts").and_then(|v| v.parse().ok()).unwrap_or(2000);
    let write = value("--write").map(PathBuf::from);
    if args.iter().any(|a| a == "--digest") {
        return digests(hard_seeds);
    }
    println!("| corpus | facts / current | current retained | pinned kept | residual duplicates | conflicts resolved | superseded removed | reduction / ideal | second-pass removals |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let classic = generate(&Spec::with_entries(42, 20_000, 100));
    let (r, _, _) = run_generated(&classic);
    if json {
        println!("{}", serde_json::json!({"corpus": "classic seed 42", "run": r}));
    } else {
        println!("{}", row("generated, classic family (seed 42, 20k entries)", &r));
    }
    let mut hard_total = (0usize, 0usize, 0usize, 0usize);
    for seed in HELD_OUT_SEEDS.start..HELD_OUT_SEEDS.start + hard_seeds {
        let corpus = generate_hard(&HardSpec::with_facts(seed, hard_facts));
        let (r, _, _) = run_generated(&corpus);
        let s = &r.score;
        hard_total.0 += (s.conflicts_resolved * s.conflicts_by_class.values().map(|c| c.1).sum::<usize>() as f64).round() as usize;
        hard_total.1 += s.conflicts_by_class.values().map(|c| c.1).sum::<usize>();
        hard_total.2 += r.second_pass_removals;
        hard_total.3 += usize::from(s.retention < 1.0);
        if json {
            println!("{}", serde_json::json!({"corpus": format!("hard seed {seed}"), "run": r}));
        } else {
            println!("{}", row(&format!("generated, hard family (held-out seed {seed})"), &r));
        }
    }
    let Some(root) = real::root() else {
        println!("(real corpora not found: set DREAMD_REAL_CORPORA or put them at ../shared/corpora/real)");
        return Ok(());
    };
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")?.into();
    let mut overall: std::collections::BTreeMap<String, (usize, usize, usize, usize)> = Default::default();
    for s in real::stores(&root)? {
        let (r, candidate, _) = run_real(&s, now)?;
        if let Some(dir) = &write {
            candidate.write_to(&dir.join(&s.variant).join(&s.slug).join("memory"))?;
        }
        let t = overall.entry(s.variant.clone()).or_default();
        t.0 += (r.score.current_retained * r.score.current as f64).round() as usize;
        t.1 += r.score.current;
        t.2 += (r.score.superseded_removed * r.score.superseded as f64).round() as usize;
        t.3 += r.score.superseded;
        if json {
            println!("{}", serde_json::json!({"corpus": s.name(), "run": r}));
            continue;
        }
        let sc = &r.score;
        println!(
            "| real {} | {} | {} | — | — | — | {} | {:.3} / {:.3} | {} |",
            s.name(),
            sc.current,
            pct(sc.current_retained),
            pct(sc.superseded_removed),
            sc.reduction,
            sc.ideal_reduction,
            r.second_pass_removals
        );
    }
    for (v, t) in overall {
        println!(
            "| real, all {v} | {} | {} | — | — | — | {} | | |",
            t.1,
            pct(t.0 as f64 / t.1.max(1) as f64),
            pct(t.2 as f64 / t.3.max(1) as f64)
        );
    }
    eprintln!(
        "hard family: {} of {} conflicts resolved correctly, {} second-pass removals, {} stores losing a fact",
        hard_total.0, hard_total.1, hard_total.2, hard_total.3
    );
    Ok(())
}
