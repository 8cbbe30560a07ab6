//! Properties of the built-in consolidator that examples miss.
//!
//! Metamorphic (on stores of the second generator family, never a benchmark seed):
//! renaming every subject consistently changes nothing but the names; shuffling files, or
//! lines whose order is not evidence, changes nothing in which facts survive; adding a fact
//! about an unrelated subject removes nothing; two subjects sharing every value keep all
//! their facts.
//!
//! Property tests over arbitrary Unicode memories (combining marks, RTL, emoji sequences,
//! CJK, control characters, NUL, very long lines): no panic, the same input gives the same
//! bytes, pinned entries are kept, nothing is dropped without a recorded reason, and a
//! second dream removes nothing more.

use dreamd::config::Layout;
use dreamd::corpus::hard::{assert_not_held_out, generate_hard, HardSpec};
use dreamd::corpus::quality::{dream, removals};
use dreamd::corpus::score::fact_states;
use dreamd::corpus::{Corpus, Rng};
use dreamd::memory::{parse_store, PinRules};
use dreamd::store::{MemoryFile, Store};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Modest by default (CI runs every case on 2 cores); `PROPTEST_CASES=5000` for a long run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z").unwrap().into()
}

fn corpus(seed: u64) -> Corpus {
    assert_not_held_out(seed);
    generate_hard(&HardSpec::with_facts(seed, 160))
}

/// Apply `f` to the text of every file.
fn map_text(store: &Store, mut f: impl FnMut(&str) -> String) -> Store {
    let mut out = store.clone();
    for file in out.files.values_mut() {
        if let Some(t) = file.text() {
            file.bytes = f(t).into_bytes();
        }
    }
    out
}

/// Replace whole names, longest first (a subject may contain another: `edge-api-kalo`).
fn rename(text: &str, names: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = names.iter().collect();
    sorted.sort_by_key(|(from, _)| std::cmp::Reverse(from.chars().count()));
    let mut out = text.to_string();
    for (i, (from, _)) in sorted.iter().enumerate() {
        for variant in [from.clone(), from.to_lowercase(), capitalize(from)] {
            out = out.replace(
                &variant,
                &format!(
                    "\u{E000}{i}\u{E001}{}",
                    if variant == *from {
                        ""
                    } else if variant == from.to_lowercase() {
                        "l"
                    } else {
                        "c"
                    }
                ),
            );
        }
    }
    for (i, (from, to)) in sorted.iter().enumerate() {
        let _ = from;
        out = out.replace(&format!("\u{E000}{i}\u{E001}l"), &to.to_lowercase());
        out = out.replace(&format!("\u{E000}{i}\u{E001}c"), &capitalize(to));
        out = out.replace(&format!("\u{E000}{i}\u{E001}"), to);
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn bytes(s: &Store) -> BTreeMap<String, Vec<u8>> {
    s.files.iter().map(|(p, f)| (p.clone(), f.bytes.clone())).collect()
}

#[test]
fn renaming_every_subject_changes_nothing_but_the_names() {
    for seed in [21, 22] {
        let c = corpus(seed);
        let mut subjects: Vec<String> = c.truth.facts.iter().map(|f| f.subject.clone()).collect();
        subjects.sort();
        subjects.dedup();
        // Same shape: an identifier stays one, a name stays a name.
        let names: Vec<(String, String)> = subjects.iter().map(|s| (s.clone(), format!("{s}zu"))).collect();
        let renamed = map_text(&c.store, |t| rename(t, &names));
        assert_ne!(bytes(&renamed), bytes(&c.store));
        let (a, ra) = dream(&c.store, Vec::new(), now());
        let (b, rb) = dream(&renamed, Vec::new(), now());
        assert_eq!(bytes(&map_text(&a, |t| rename(t, &names))), bytes(&b), "seed {seed}");
        assert_eq!(ra.changes.len(), rb.changes.len());
        assert!(removals(&ra) > 10);
    }
}

#[test]
fn shuffling_files_changes_nothing_in_which_facts_survive() {
    for seed in [23, 24] {
        let c = corpus(seed);
        let (a, ra) = dream(&c.store, Vec::new(), now());
        // Reverse the path order: each topic file gets the name of its mirror image.
        let names: Vec<String> = c.store.files.keys().filter(|p| *p != "MEMORY.md").cloned().collect();
        let mirror: Vec<(String, String)> = names.iter().zip(names.iter().rev()).map(|(a, b)| (a.clone(), format!("x{b}"))).collect();
        let mut shuffled = Store::default();
        for (p, f) in &c.store.files {
            let to = mirror.iter().find(|(from, _)| from == p).map_or(p.clone(), |(_, to)| to.clone());
            let text = f.text().unwrap().to_string();
            let text = if p == "MEMORY.md" { rename(&text, &mirror) } else { text };
            shuffled.files.insert(to, MemoryFile { bytes: text.into_bytes(), mtime: f.mtime });
        }
        let (b, rb) = dream(&shuffled, Vec::new(), now());
        assert_eq!(fact_states(&c, &a), fact_states(&c, &b), "seed {seed}");
        assert_eq!(removals(&ra), removals(&rb));
    }
}

/// Whether a line carries its own date (`- [2026-05-01] …`): its position is no evidence.
fn dated(line: &str) -> bool {
    line.trim_start_matches("- ").starts_with('[') && line.get(3..13).is_some_and(|d| d.as_bytes()[4] == b'-')
}

#[test]
fn shuffling_lines_whose_order_is_no_evidence_changes_nothing_in_which_facts_survive() {
    for seed in [25, 26, 27] {
        let c = corpus(seed);
        let mut rng = Rng::new(seed);
        let shuffled = map_text(&c.store, |t| {
            let lines: Vec<&str> = t.lines().collect();
            let body_start = lines.iter().position(|l| l.starts_with("- ")).unwrap_or(lines.len());
            let (head, body) = lines.split_at(body_start);
            // Dated lines go anywhere; undated ones keep their order among themselves.
            let (mut d, u): (Vec<&str>, Vec<&str>) = body.iter().partition(|l| dated(l));
            for i in (1..d.len()).rev() {
                d.swap(i, rng.below(i + 1));
            }
            let mut out: Vec<&str> = head.to_vec();
            let (mut di, mut ui) = (0, 0);
            while di < d.len() || ui < u.len() {
                if ui == u.len() || di < d.len() && rng.chance(0.5) {
                    out.push(d[di]);
                    di += 1;
                } else {
                    out.push(u[ui]);
                    ui += 1;
                }
            }
            out.join("\n") + "\n"
        });
        assert_ne!(bytes(&shuffled), bytes(&c.store));
        let (a, ra) = dream(&c.store, Vec::new(), now());
        let (b, rb) = dream(&shuffled, Vec::new(), now());
        assert_eq!(fact_states(&c, &a), fact_states(&c, &b), "seed {seed}");
        assert_eq!(removals(&ra), removals(&rb), "seed {seed}");
    }
}

#[test]
fn a_fact_about_an_unrelated_subject_removes_nothing() {
    for seed in [28, 29] {
        let c = corpus(seed);
        let (a, ra) = dream(&c.store, Vec::new(), now());
        // It shares every value the store uses most: a port, an owner, a region.
        let extra =
            "- Zz-unrelated-svc listens on port 8080\n- Zz-unrelated-svc is owned by Dana\n- Zz-unrelated-svc runs in the east region\n";
        for target in c.store.files.keys().filter(|p| *p != "MEMORY.md").take(3) {
            let mut more = c.store.clone();
            let f = more.files.get_mut(target).unwrap();
            f.bytes.extend_from_slice(extra.as_bytes());
            let (b, rb) = dream(&more, Vec::new(), now());
            assert_eq!(fact_states(&c, &a), fact_states(&c, &b), "seed {seed}, added to {target}");
            assert_eq!(removals(&ra), removals(&rb), "seed {seed}, added to {target}");
            assert!(b.files[target].text().unwrap().contains("Zz-unrelated-svc is owned by Dana"));
        }
    }
}

const TEMPLATES: &[(&str, &[&str])] = &[
    ("{s} stores its data in {v}", &["ClickHouse 24", "Postgres 16"]),
    ("{s} is owned by {v}", &["Dana", "Zoë", "Łukasz"]),
    ("{s} listens on port {v}", &["8080", "443"]),
    ("{s} runs in the {v} region", &["east", "west"]),
    ("The {s} status is {v}", &["blue", "green"]),
    ("Guest access to {s} is {v}", &["enabled", "disabled"]),
    ("{s} requires Python {v}", &["3.9+", "3.12+"]),
    ("CI for {s} runs `make lint`, `make {v}` and `make test`", &["mypy", "typecheck"]),
    ("{s} reads its settings from `{v}`", &["config.js", "config.mjs"]),
    ("Install {s} dependencies with `{v}`", &["pnpm i", "pnpm i --frozen-lockfile"]),
    ("Ask {v} before changing the {s} schema", &["Dana", "Emeka"]),
];
const SUBJECTS: &[&str] = &[
    "edge-worker",
    "core-proxy",
    "Atlas",
    "Vega",
    "über-cache",
    "日本-api",
    "svc-a",
    "svc-b",
    "Éclair",
    "Ñandú",
    "Server 42",
    "Server 7",
    "API v2",
    "API v3",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(96), .. ProptestConfig::default() })]

    /// Two subjects with the very same facts: nothing conflicts, nothing is a duplicate.
    #[test]
    fn two_subjects_sharing_every_value_keep_all_their_facts(
        pair in (0..SUBJECTS.len(), 1..SUBJECTS.len()),
        picks in proptest::collection::vec((0..TEMPLATES.len(), 0..4usize), 1..6),
        layout in proptest::collection::vec((0..3usize, proptest::option::of(1..28u32)), 12),
        modified in proptest::collection::vec(proptest::option::of(1..28u32), 3),
    ) {
        let (a, b) = (SUBJECTS[pair.0], SUBJECTS[(pair.0 + pair.1) % SUBJECTS.len()]);
        let mut picks = picks;
        picks.sort();
        picks.dedup_by_key(|p| p.0);
        let mut files: Vec<String> = (0..3)
            .map(|i| match modified[i] {
                Some(d) => format!("---\nname: f{i}\nmodified: 2026-05-{d:02}\n---\n"),
                None => String::new(),
            })
            .collect();
        let mut k = 0;
        for &(t, v) in &picks {
            let (text, values) = TEMPLATES[t];
            for s in [a, b] {
                let line = capitalize(&text.replace("{s}", s).replace("{v}", values[v % values.len()]));
                let (file, day) = layout[k % layout.len()];
                k += 1;
                let line = match day { Some(d) => format!("- [2026-04-{d:02}] {line}\n"), None => format!("- {line}\n") };
                files[file].push_str(&line);
            }
        }
        let mut store = Store::default();
        for (i, t) in files.iter().enumerate() {
            store.files.insert(format!("f{i}.md"), MemoryFile { bytes: t.clone().into_bytes(), mtime: None });
        }
        let (out, report) = dream(&store, Vec::new(), now());
        prop_assert_eq!(removals(&report), 0, "{:#?}\n{:#?}", files, report.changes);
        prop_assert_eq!(bytes(&out), bytes(&store));
    }

    /// Any store of the second family (never a benchmark seed), small: no fact lost, and a
    /// second dream removes nothing.
    #[test]
    fn generated_stores_keep_every_fact_and_reach_a_fixed_point(seed in 0u64..9_000, facts in 8usize..80) {
        let c = generate_hard(&HardSpec::with_facts(seed, facts));
        let (a, _) = dream(&c.store, Vec::new(), now());
        let s = dreamd::corpus::score(&c, &a);
        prop_assert_eq!(s.retention, 1.0, "seed {} facts {}", seed, facts);
        let (_, again) = dream(&a, Vec::new(), now());
        prop_assert_eq!(removals(&again), 0);
    }
}

/// Pieces real memories and hostile input contain.
const PIECES: &[&str] = &[
    "über",
    "✅",
    "→",
    "×",
    "“quoted”",
    "‘x’",
    "état",
    "日本語",
    "👩\u{200d}👩\u{200d}👧",
    "e\u{301}\u{301}",
    "שלום עולם",
    "\u{202e}evil",
    "\u{0}",
    "\u{7}",
    "\t",
    "`",
    "``",
    "**",
    "_",
    "~~",
    "sessionId?:",
    "[2026-05-01]",
    "2026-05-02:",
    "(as of 2019)",
    "(noted 2026-05-05)",
    "<!-- pinned -->",
    "yesterday",
    "3 days ago",
    "8080",
    "v1.2.3",
    "3.9+",
    "Postgres 16",
    "is owned by",
    "Dana",
    "runs in the",
    "east",
    "region",
    "not",
    "might",
    "Unconfirmed:",
    "- ",
    "* ",
    "1. ",
    "# ",
    "---",
    "```",
    "[a](b.md)",
    "[x](https://e.x/a)",
    "\r",
    "ﬁ",
    "İ",
    "ß",
    "Σ",
    "\u{feff}",
];

fn text_strategy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(PIECES).prop_map(str::to_string),
        2 => any::<String>(),
        1 => "[a-z]{1,8}",
        1 => (proptest::sample::select(PIECES), 100..3000usize).prop_map(|(p, n)| p.repeat(n)),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.join(" "))
}

fn store_strategy() -> impl Strategy<Value = Store> {
    let name = proptest::sample::select(vec!["MEMORY.md", "a.md", "notes.md", "ü.md", "日本.md", "x.txt", "sub/dir.md"]);
    let line = prop_oneof![
        3 => text_strategy().prop_map(|t| format!("- {t}")),
        1 => text_strategy(),
        1 => Just(String::new()),
        1 => text_strategy().prop_map(|t| format!("# {t}")),
    ];
    let file =
        (proptest::option::of(1..28u32), proptest::collection::vec(line, 0..14), proptest::bool::ANY, proptest::option::of(1..28u32))
            .prop_map(|(modified, lines, crlf, mtime)| {
                let fm = modified.map(|d| format!("---\nname: x\nmodified: 2026-05-{d:02}\n---\n")).unwrap_or_default();
                let body = lines.join(if crlf { "\r\n" } else { "\n" });
                let mtime = mtime.map(|d| chrono::DateTime::parse_from_rfc3339(&format!("2026-05-{d:02}T09:00:00Z")).unwrap().into());
                MemoryFile { bytes: format!("{fm}{body}\n").into_bytes(), mtime }
            });
    proptest::collection::btree_map(name, file, 1..5)
        .prop_map(|files| Store { files: files.into_iter().map(|(k, v)| (k.to_string(), v)).collect() })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), .. ProptestConfig::default() })]

    #[test]
    fn any_unicode_memory_is_safe_deterministic_and_a_fixed_point(store in store_strategy()) {
        let (a, ra) = dream(&store, Vec::new(), now());
        let (b, rb) = dream(&store, Vec::new(), now());
        prop_assert_eq!(bytes(&a), bytes(&b));
        prop_assert_eq!(serde_json::to_string(&ra).unwrap(), serde_json::to_string(&rb).unwrap());
        // Pinned entries stay, verbatim.
        let (files, _) = parse_store(&store, Layout::ClaudeCode, &PinRules::default());
        for f in &files {
            for blk in f.blocks().iter().filter(|b| b.pinned) {
                let out = a.files.get(&f.path).and_then(|x| x.text()).unwrap_or("");
                prop_assert!(out.contains(blk.text()), "pinned entry lost from {}: {:?}", f.path, blk.text());
            }
        }
        // Nothing leaves without a recorded reason.
        prop_assert_eq!(dreamd::verify::lost(&store, &a, &ra), vec![]);
        let (_, again) = dream(&a, Vec::new(), now());
        prop_assert_eq!(removals(&again), 0, "{:#?}", again.changes);
    }
}
