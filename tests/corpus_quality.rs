//! The built-in engine on generated corpora with ground truth.
//!
//! The first family ("classic"): retention 100%, pinned 100%, residual duplicates < 2%,
//! conflicts > 95%, byte reduction within 5 points of the ideal, relative dates and stale
//! pointers fixed, insight correct. The second ("hard": shared values, undated files,
//! non-ASCII, date-only duplicates, rewordings, hedged claims): retention 100%, pinned 100%,
//! conflicts resolved correctly (removed when the order is defensible, both kept otherwise)
//! > 95%. Both: a second dream removes nothing, and the verifier passes the engine's output.
//!
//! Seeds here are never the benchmark's held-out ones (`HELD_OUT_SEEDS`).

use dreamd::corpus::hard::{assert_not_held_out, generate_hard, HardSpec};
use dreamd::corpus::quality::run_generated;
use dreamd::corpus::{generate, Corpus, Spec};
use dreamd::memory::PinRules;
use dreamd::verify::{evaluate, fate, Input, Parsed};

fn common_checks(corpus: &Corpus, label: &str) -> dreamd::corpus::quality::GeneratedRun {
    let (run, candidate, report) = run_generated(corpus);
    eprintln!("{label}: {run:#?}");
    let s = &run.score;
    assert_eq!(s.retention, 1.0, "{label}: every current fact is kept");
    assert_eq!(s.pinned_kept, 1.0, "{label}");
    assert!(s.conflicts_resolved > 0.95, "{label}: {}", s.conflicts_resolved);
    assert_eq!(run.second_pass_removals, 0, "{label}: a second dream removes nothing");
    // The engine-independent verifier accounts for every entry the engine removed, and the
    // engine's own output passes every check.
    let config = dreamd::config::Config::from_yaml("agent:\n  memory_dir: /m\n", std::path::Path::new("/c.yaml")).unwrap();
    let pins = PinRules::default();
    let parsed = Parsed::new(&corpus.store, &candidate, &config, &pins);
    assert_eq!(fate::classify(&parsed, &report).lost, vec![], "{label}: verifier");
    let h = corpus.store.hash();
    let input = Input {
        config: &config,
        pins: &pins,
        live: &corpus.store,
        candidate: &candidate,
        report: &report,
        base_hash: &h,
        current_hash: &h,
    };
    let verdict = evaluate(&input);
    assert!(verdict.passed, "{label}: the engine's own output passes every check: {}", verdict.summary());
    run
}

#[test]
fn classic_family_meets_the_quality_targets() {
    for seed in [1, 2] {
        let corpus = generate(&Spec::with_entries(seed, 3000, 30));
        let run = common_checks(&corpus, &format!("classic seed {seed}"));
        let s = &run.score;
        assert!(s.residual_duplicates < 0.02, "{}", s.residual_duplicates);
        assert!((s.ideal_byte_reduction - s.byte_reduction).abs() < 0.05, "{} vs ideal {}", s.byte_reduction, s.ideal_byte_reduction);
        assert_eq!(s.stale_pointers_removed, 1.0);
        assert_eq!(s.relative_dates_fixed, 1.0);
        assert!(s.insight_correct);
    }
}

#[test]
fn hard_family_keeps_every_fact_and_resolves_only_what_it_can_defend() {
    for seed in [1, 2, 3] {
        assert_not_held_out(seed);
        let corpus = generate_hard(&HardSpec::with_facts(seed, 400));
        let run = common_checks(&corpus, &format!("hard seed {seed}"));
        let s = &run.score;
        // Every class of planted conflict is there, and each is handled right.
        for (class, (ok, n)) in &s.conflicts_by_class {
            assert!(*n > 0 && *ok as f64 >= 0.9 * *n as f64, "seed {seed} {class}: {ok} of {n}");
        }
        assert!(s.residual_duplicates < 0.05, "{}", s.residual_duplicates);
        assert_eq!(s.stale_pointers_removed, 1.0);
        assert_eq!(s.relative_dates_fixed, 1.0);
        assert!(run.flags > 0, "unorderable and hedged conflicts are flagged");
    }
}
