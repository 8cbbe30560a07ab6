//! The built-in engine on a generated corpus with ground truth meets the quality targets:
//! retention 100%, pinned 100%, residual duplicates < 2%, conflicts > 95%, byte reduction
//! within 5 points of the ideal, relative dates and stale pointers fixed, insight correct.

use dreamd::config::Layout;
use dreamd::corpus::{generate, score, Spec};
use dreamd::engine::{builtin, DreamInput};
use dreamd::memory::PinRules;
use dreamd::verify::{evaluate, fate, Input, Parsed};

#[test]
fn builtin_meets_the_quality_targets_on_a_small_corpus() {
    for seed in [1, 2] {
        let corpus = generate(&Spec::with_entries(seed, 3000, 30));
        let input = DreamInput {
            store: corpus.store.clone(),
            transcripts: corpus.transcripts(),
            layout: Layout::ClaudeCode,
            pins: PinRules::default(),
            now: corpus.now,
            keep_history: false,
            cancel: Default::default(),
        };
        let (candidate, report) = builtin::consolidate(&input).unwrap();
        let s = score(&corpus, &candidate);
        eprintln!("seed {seed}: {s:#?}");
        assert_eq!(s.retention, 1.0, "every current fact is kept");
        assert_eq!(s.pinned_kept, 1.0);
        assert!(s.residual_duplicates < 0.02, "{}", s.residual_duplicates);
        assert!(s.conflicts_resolved > 0.95, "{}", s.conflicts_resolved);
        assert!((s.ideal_byte_reduction - s.byte_reduction).abs() < 0.05, "{} vs ideal {}", s.byte_reduction, s.ideal_byte_reduction);
        assert_eq!(s.stale_pointers_removed, 1.0);
        assert_eq!(s.relative_dates_fixed, 1.0);
        assert!(s.insight_correct);
        // And the verifier accounts for every entry the engine removed.
        let config = dreamd::config::Config::from_yaml("agent:\n  memory_dir: /m\n", std::path::Path::new("/c.yaml")).unwrap();
        let parsed = Parsed::new(&corpus.store, &candidate, &config, &PinRules::default());
        let fates = fate::classify(&parsed, &report);
        assert_eq!(fates.lost, vec![], "verifier");
        let h = corpus.store.hash();
        let pins = PinRules::default();
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
        assert!(verdict.passed, "the engine's own output passes every check: {}", verdict.summary());
    }
}
