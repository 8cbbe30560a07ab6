//! Properties over generated stores and texts (any Unicode): what examples miss.

use super::*;
use crate::store::MemoryFile;
use proptest::prelude::*;

fn store(files: &[(String, String)]) -> Store {
    let mut s = Store::default();
    for (p, t) in files {
        s.files.insert(p.clone(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
    }
    s
}

fn verify(live: &Store, candidate: &Store) -> Verdict {
    let config = Config::from_yaml("agent:\n  memory_dir: /m\n", std::path::Path::new("/c.yaml")).unwrap();
    let h = live.hash();
    let report = crate::engine::command::diff_report(live, candidate);
    evaluate(&Input { config: &config, pins: &PinRules::default(), live, candidate, report: &report, base_hash: &h, current_hash: &h })
}

/// Lines of memory text: bullets, headings, markers, frontmatter fences, any characters.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        "- [a-zA-Z0-9 ,.;:()`*_-]{0,60}",
        "- .{0,40}",
        "#{1,3} .{0,20}",
        Just("---".to_string()),
        Just("- keep <!-- pinned -->".to_string()),
        ".{0,30}",
    ]
}

fn file_text() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..12).prop_map(|ls| ls.join("\n"))
}

fn files() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z]{1,6}\\.(md|txt|json)", file_text()), 1..4)
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a longer run.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn a_store_verified_against_itself_loses_and_adds_nothing(fs in files()) {
        let live = store(&fs);
        let v = verify(&live, &live);
        for c in v.checks.iter().filter(|c| c.name != "reduction") {
            prop_assert!(c.passed, "{}: {} {:?}", c.name, c.reason, c.details);
        }
    }

    #[test]
    fn any_candidate_gets_a_verdict_in_single_lines(live in files(), cand in files()) {
        let v = verify(&store(&live), &store(&cand));
        for c in &v.checks {
            prop_assert!(!c.reason.contains('\n'));
            for d in &c.details {
                prop_assert!(!d.chars().any(|ch| ch.is_control()), "{}: {:?}", c.name, d);
            }
        }
    }

    #[test]
    fn dropping_any_unique_fact_is_held(n in 2usize..30, drop in 0usize..30, filler in ".{0,20}") {
        let drop = drop % n;
        let facts: Vec<String> = (0..n).map(|i| format!("- fact{i}q about {filler}")).collect();
        let live = store(&[("a.md".into(), facts.join("\n"))]);
        let kept: Vec<&String> = facts.iter().enumerate().filter(|(i, _)| *i != drop).map(|(_, f)| f).collect();
        let cand = store(&[("a.md".into(), kept.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"))]);
        let v = verify(&live, &cand);
        let loss = v.checks.iter().find(|c| c.name == "entry_loss").unwrap();
        prop_assert!(!loss.passed);
        prop_assert_eq!(loss.details.len(), 1);
        let prefix = format!("a.md:{}:", drop + 1);
        prop_assert!(loss.details[0].starts_with(&prefix), "{:?}", loss.details);
    }

    #[test]
    fn normal_hashes_agree_with_normal_forms(a in ".{0,40}", b in ".{0,40}") {
        let state = std::collections::hash_map::RandomState::new();
        let (fa, fb) = (words::normal_form(&a), words::normal_form(&b));
        prop_assert_eq!(fa == fb, words::normal_hash(&state, &a) == words::normal_hash(&state, &b));
        prop_assert_eq!(words::normal_hash(&state, &a), words::normal_hash(&state, &format!("  {a} \t ")));
    }

    #[test]
    fn quoted_text_is_one_line(t in ".{0,300}") {
        let q = quote(&t, 120);
        prop_assert!(!q.chars().any(|c| c.is_control()), "{:?}", q);
        // 120 characters of the text, each shown as itself or as an escape of at most 10.
        prop_assert!(q.chars().count() <= 120 * 10 + 1);
    }

    #[test]
    fn redacted_text_has_no_secrets_left(t in "(.{0,20}(ghp_[A-Za-z0-9]{36}|AKIA[A-Z0-9]{16}|password=[A-Za-z0-9!]{8,12}|sk_live_[a-z0-9]{24}|postgres://u:[a-z0-9]{6}@h)){0,4}.{0,20}") {
        let r = crate::secrets::redact(&t);
        prop_assert!(crate::secrets::find(&r).is_empty(), "{:?} → {:?}: {:?}", t, r, crate::secrets::find(&r));
    }

    #[test]
    fn added_lines_are_exactly_the_new_ones(old in prop::collection::vec("[a-c ]{0,4}", 0..10), new in prop::collection::vec("[a-c ]{0,4}", 0..10)) {
        let live = store(&[("a.md".into(), old.join("\n"))]);
        let cand = store(&[("a.md".into(), new.join("\n"))]);
        let got: Vec<String> = added::Added::between(&live, &cand).lines.into_iter().map(|l| l.text).collect();
        let known: std::collections::HashSet<&str> = old.iter().map(|l| l.trim()).collect();
        let want: Vec<String> = if live == cand { vec![] } else {
            new.iter().filter(|l| !l.trim().is_empty() && !known.contains(l.trim())).cloned().collect()
        };
        prop_assert_eq!(got, want);
    }
}
