use super::*;
use crate::config::Layout;
use crate::memory::PinRules;
use crate::report::ChangeKind;

fn input(files: &[(&str, &str)]) -> DreamInput {
    let mut store = Store::default();
    for (p, t) in files {
        store.files.insert(p.to_string(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
    }
    DreamInput {
        store,
        transcripts: vec![],
        layout: Layout::ClaudeCode,
        pins: PinRules::default(),
        now: chrono::DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z").unwrap().into(),
        keep_history: false,
        cancel: Default::default(),
    }
}

fn text(s: &Store, p: &str) -> String {
    String::from_utf8(s.files[p].bytes.clone()).unwrap()
}

#[test]
fn drops_formatting_only_duplicates_across_files() {
    let i = input(&[("a.md", "- Deploys go through **ArgoCD**.\n- other\n"), ("b.md", "* deploys go through argocd\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- Deploys go through **ArgoCD**.\n- other\n");
    assert_eq!(text(&c, "b.md"), "");
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].kind, ChangeKind::Dedupe);
    assert_eq!(r.changes[0].file, "b.md");
    assert_eq!(r.totals.entries_before, 3);
    assert_eq!(r.totals.entries_after, 2);
}

/// An entry with no word the verifier could look for elsewhere (control characters, marks,
/// stopwords) is never removed as a duplicate: nothing could show it is said again (proptest).
#[test]
fn wordless_entries_are_never_dropped_as_duplicates() {
    for store in ["- \u{7}\n- \u{7} [2026-05-01]\n", "- the\n- The\n", "- ***\n- ***.\n"] {
        let i = input(&[("a.md", store)]);
        let (c, r) = consolidate(&i).unwrap();
        assert!(r.changes.iter().all(|c| c.kind != ChangeKind::Dedupe), "{store:?}: {:?}", r.changes);
        assert_eq!(c, i.store, "{store:?}");
    }
}

#[test]
fn different_values_are_not_duplicates() {
    let i = input(&[("a.md", "- billing listens on port 8080\n"), ("b.md", "- billing listens on port 9090\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert!(r.changes.iter().all(|c| c.kind != ChangeKind::Dedupe));
    assert_eq!(c, i.store);
}

#[test]
fn pinned_copy_survives_and_unpinned_copy_goes() {
    let i = input(&[("a.md", "- use pnpm\n"), ("b.md", "- Use pnpm. <!-- pinned -->\n")]);
    let (c, _) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "");
    assert_eq!(text(&c, "b.md"), "- Use pnpm. <!-- pinned -->\n");
    let i = input(&[("a.md", "- x <!-- pinned -->\n- x <!-- pinned -->\n")]);
    assert_eq!(consolidate(&i).unwrap().0, i.store);
}

#[test]
fn stale_index_lines_go() {
    let i = input(&[("MEMORY.md", "- [A](a.md) — a\n- [Gone](gone.md) — g\n"), ("a.md", "- fact\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "MEMORY.md"), "- [A](a.md) — a\n");
    assert_eq!(r.changes[0].kind, ChangeKind::StalePointer);
}

#[test]
fn is_deterministic_and_keeps_opaque_files() {
    let mut i = input(&[("a.md", "- x\n- X.\n"), ("b.md", "---\nbroken: [\n---\n- x\n")]);
    i.store.files.insert("c.md".into(), MemoryFile { bytes: vec![0xff, 0xfe], mtime: None });
    let (c1, r1) = consolidate(&i).unwrap();
    let (c2, r2) = consolidate(&i).unwrap();
    assert_eq!(c1, c2);
    assert_eq!(r1, r2);
    assert_eq!(c1.files["b.md"].bytes, i.store.files["b.md"].bytes);
    assert_eq!(c1.files["c.md"].bytes, vec![0xff, 0xfe]);
    assert_eq!(r1.warnings.len(), 2);
}

fn with_mtime(mut i: DreamInput, path: &str, day: &str) -> DreamInput {
    let t: chrono::DateTime<chrono::Utc> = chrono::DateTime::parse_from_rfc3339(&format!("{day}T09:00:00Z")).unwrap().into();
    i.store.files.get_mut(path).unwrap().mtime = Some(t);
    i
}

#[test]
fn near_duplicates_across_files_keep_the_fuller_copy() {
    let i = input(&[
        ("a.md", "- Note: deploys go through **ArgoCD**.\n- other fact here\n"),
        ("b.md", "- Deploys go through ArgoCD (as discussed in standup)\n"),
        ("c.md", "- Remember that deploys go through ArgoCD 2.9\n"),
    ]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- other fact here\n");
    assert_eq!(text(&c, "b.md"), "- Deploys go through ArgoCD (as discussed in standup)\n");
    assert_eq!(text(&c, "c.md"), "- Remember that deploys go through ArgoCD 2.9\n", "a different value is not a duplicate");
    let d: Vec<_> = r.changes.iter().filter(|c| c.kind == ChangeKind::Dedupe).collect();
    assert_eq!(d.len(), 1);
    assert!(d[0].reason.contains("b.md:1"), "{}", d[0].reason);
    assert_eq!(d[0].provenance.entries, vec!["a.md:1", "b.md:1"]);
}

#[test]
fn near_duplicate_keeps_the_fuller_copy_in_place() {
    // No order between the two files: the fuller wording stays where it is (moving it would
    // give it the other file's position, which is evidence of age).
    let i = input(&[
        ("notes.md", "- Billing deploys go through ArgoCD after review (as agreed)\n"),
        (
            "project_billing.md",
            "---\nname: Billing\ndescription: billing service facts\n---\n- FYI: billing deploys go through ArgoCD after review\n",
        ),
    ]);
    let (c, _) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "notes.md"), "- Billing deploys go through ArgoCD after review (as agreed)\n");
    assert_eq!(text(&c, "project_billing.md"), "---\nname: Billing\ndescription: billing service facts\n---\n");
}

#[test]
fn near_duplicates_keep_the_newer_wording() {
    // Undated, one file: further down is newer, even when it is the shorter wording (the older
    // one's closing remark goes with it).
    let i = input(&[("a.md", "- Run all checks before pushing (this came up twice)\n- Run all checks before pushing\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- Run all checks before pushing\n");
    assert!(r.changes[0].reason.contains("the newer wording"), "{}", r.changes[0].reason);
    // And the longer one when it is the newer.
    let i = input(&[("a.md", "- Run all checks before pushing\n- Run all checks in the given order before pushing\n")]);
    let (c, _) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- Run all checks in the given order before pushing\n");
}

#[test]
fn a_newer_shorter_wording_does_not_drop_a_qualifier() {
    // "in the given order" is part of the older rule, not a remark: the newer wording does not
    // say it, so dropping the older one would lose it (the verifier holds such a dream). Both stay.
    let text_in = "- Run all checks in the given order before pushing\n- Run all checks before pushing\n";
    let i = input(&[("a.md", text_in)]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), text_in, "{:?}", r.changes);
    // Nor a closing remark with a negation in it: that is a fact.
    let text_in = "- Run all checks before pushing (no longer needed)\n- Run all checks before pushing\n";
    let (c, _) = consolidate(&input(&[("a.md", text_in)])).unwrap();
    assert_eq!(text(&c, "a.md"), text_in);
}

#[test]
fn a_copy_with_its_own_date_is_not_dropped_for_one_without() {
    // The date orders later conflicts about this fact; an undated copy (even in a file whose
    // frontmatter is newer) would lose it. The dated copy stays; a closing remark may go.
    let i = input(&[
        ("a.md", "- The filone database runs Postgres 12.8 (as of 2026-06-10)\n"),
        ("b.md", "---\nmodified: 2026-06-20\n---\n- Remember that the filone database runs Postgres 12.8\n- Deploys go through ArgoCD (as discussed in standup)\n"),
        ("c.md", "- [2026-06-01] Deploys go through ArgoCD\n"),
    ]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- The filone database runs Postgres 12.8 (as of 2026-06-10)\n", "{:?}", r.changes);
    assert_eq!(text(&c, "c.md"), "- [2026-06-01] Deploys go through ArgoCD\n");
    assert_eq!(text(&c, "b.md"), "---\nmodified: 2026-06-20\n---\n");
    let live = i.store.clone();
    assert_eq!(crate::verify::lost(&live, &c, &r), vec![]);
}

#[test]
fn pinned_near_duplicates_stay_verbatim() {
    let i = input(&[(
        "a.md",
        "- Note: use pnpm for installs <!-- pinned -->\n- FYI use **pnpm** for installs\n- use pnpm for installs <!-- pinned -->\n",
    )]);
    let (c, _) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- Note: use pnpm for installs <!-- pinned -->\n- use pnpm for installs <!-- pinned -->\n");
}

#[test]
fn conflicts_keep_the_newest_value() {
    let i = input(&[
        ("a.md", "- 2026-05-01: billing listens on port 8080\n- other fact here\n"),
        ("b.md", "- billing listens on port 9090 (as of 2026-06-01)\n"),
    ]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- other fact here\n");
    assert_eq!(text(&c, "b.md"), "- billing listens on port 9090 (as of 2026-06-01)\n");
    let ch = r.changes.iter().find(|c| c.kind == ChangeKind::Conflict).unwrap();
    assert_eq!(ch.before.as_deref(), Some("- 2026-05-01: billing listens on port 8080"));
    assert!(ch.reason.contains("inline date 2026-06-01 vs inline date 2026-05-01"), "{}", ch.reason);
    assert!(ch.reason.contains("port 9090"));
    assert_eq!(ch.related_files, vec!["b.md"]);
}

#[test]
fn conflicts_order_by_frontmatter_and_sessions_not_mtime() {
    // Frontmatter `modified` (or `updated`) dates the file's entries; a newer mtime does not.
    let i = with_mtime(
        input(&[
            ("a.md", "---\nmodified: 2026-06-10T08:00:00Z\n---\n- The user prefers pnpm\n"),
            ("b.md", "---\nupdated: 2026-06-01\n---\n- the user prefers npm\n"),
        ]),
        "b.md",
        "2026-06-20",
    );
    let (c, _) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "b.md"), "---\nupdated: 2026-06-01\n---\n");
    // mtimes alone are a guess: flagged, both kept.
    let i = with_mtime(
        with_mtime(input(&[("a.md", "- The user prefers pnpm\n"), ("b.md", "- the user prefers npm\n")]), "a.md", "2026-06-02"),
        "b.md",
        "2026-06-01",
    );
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(c, i.store);
    assert_eq!(r.flags.len(), 1);
    assert!(r.flags[0].message.contains("only file modification times suggest a.md:1 is newer"), "{}", r.flags[0].message);
    // A session confirming the older-dated value makes it the newer one.
    let mut i = input(&[
        ("a.md", "---\nmodified: 2026-06-02\n---\n- The user prefers pnpm\n"),
        ("b.md", "---\nmodified: 2026-06-01\n---\n- the user prefers npm\n"),
    ]);
    let line = r#"{"type":"user","sessionId":"s9","timestamp":"2026-06-12T10:00:00Z","message":{"role":"user","content":"remember: the user prefers npm now"}}"#;
    i.transcripts = vec![crate::sessions::parse_transcript("s9", line)];
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "---\nmodified: 2026-06-02\n---\n");
    assert_eq!(text(&c, "b.md"), "---\nmodified: 2026-06-01\n---\n- the user prefers npm\n");
    let ch = r.changes.iter().find(|c| c.kind == ChangeKind::Conflict).unwrap();
    assert!(ch.reason.contains("confirmed by a session on 2026-06-12, after 2026-06-02"), "{}", ch.reason);
    assert_eq!(ch.provenance.sessions, vec!["s9"]);
}

#[test]
fn keep_history_moves_old_values_to_superseded() {
    let mut i = input(&[("a.md", "# Billing\n\n- 2026-05-01: billing listens on port 8080\n- 2026-06-01: billing listens on port 9090\n")]);
    i.keep_history = true;
    let (c, _) = consolidate(&i).unwrap();
    assert_eq!(
        text(&c, "a.md"),
        "# Billing\n\n- 2026-06-01: billing listens on port 9090\n\n## Superseded\n\n- 2026-05-01: billing listens on port 8080 (superseded by a.md:4, 2026-06-01)\n"
    );
    // A second dream leaves history alone.
    let mut i2 = i.clone();
    i2.store = c.clone();
    assert_eq!(consolidate(&i2).unwrap().0.files["a.md"].bytes, c.files["a.md"].bytes);
}

#[test]
fn unorderable_conflicts_are_flagged_and_left_alone() {
    let i = input(&[("a.md", "- billing listens on port 8080\n"), ("b.md", "- billing listens on port 9090\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(c, i.store);
    assert_eq!(r.flags.len(), 1);
    assert_eq!(r.flags[0].entries, vec!["a.md:1", "b.md:1"]);
    // Dated against undated, even in one file: either may be the newer.
    let i = input(&[("a.md", "- billing listens on port 9090\n- 2026-06-01: billing listens on port 8080\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(c, i.store);
    assert_eq!(r.flags.len(), 1);
}

#[test]
fn undated_entries_of_one_file_are_ordered_by_position() {
    let i = input(&[("a.md", "- billing listens on port 8080\n- other fact here\n- billing listens on port 9090\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- other fact here\n- billing listens on port 9090\n");
    assert!(r.changes[0].reason.contains("written further down the same file"), "{}", r.changes[0].reason);
}

#[test]
fn relative_dates_use_the_entry_date_only() {
    let i = with_mtime(
        input(&[(
            "a.md",
            "- Deployed billing yesterday\n- 2026-03-10: migrated the DB 2 days ago\n- Yesterday the DB failed over (noted 2026-05-05)\n- pinned yesterday <!-- pinned -->\n",
        )]),
        "a.md",
        "2026-05-01",
    );
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(
        text(&c, "a.md"),
        "- Deployed billing yesterday\n- 2026-03-10: migrated the DB on 2026-03-08\n- On 2026-05-04 the DB failed over (noted 2026-05-05)\n- pinned yesterday <!-- pinned -->\n"
    );
    assert_eq!(r.changes.iter().filter(|c| c.kind == ChangeKind::RelativeDate).count(), 2);
    // A touch changes nothing.
    let touched = with_mtime(i.clone(), "a.md", "2026-09-09");
    assert_eq!(consolidate(&touched).unwrap().0.files["a.md"].bytes, c.files["a.md"].bytes);
}

#[test]
fn index_gains_pointers_and_loses_duplicates() {
    let i = input(&[
        ("MEMORY.md", "# Index\n\n- [A](a.md) — a\n- [A again](a.md) — a\n"),
        ("a.md", "- fact a here\n"),
        ("b.md", "---\nname: Bee facts\ndescription: all about bees\ntype: reference\n---\n- bees buzz loudly\n"),
    ]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "MEMORY.md"), "# Index\n\n- [A](a.md) — a\n- [Bee facts](b.md) — all about bees\n");
    assert_eq!(r.changes.iter().filter(|c| c.kind == ChangeKind::Index).count(), 2);
}

#[test]
fn insights_are_written_indexed_and_replaced() {
    let mut i = input(&[("MEMORY.md", "- [A](a.md) — a\n"), ("a.md", "- billing listens on port 9090\n")]);
    let mk = |id: &str, day: u32| {
        let line = format!(
            r#"{{"type":"assistant","sessionId":"{id}","timestamp":"2026-06-{day:02}T10:00:00Z","message":{{"role":"assistant","content":[{{"type":"text","text":"billing listens on port 9090\n```python\nx=1\n```"}},{{"type":"tool_use","name":"Read","input":{{"file_path":"src/a.py"}}}}]}}}}"#
        );
        crate::sessions::parse_transcript(id, &line)
    };
    i.transcripts = vec![mk("s1", 1), mk("s2", 2)];
    let (c, r) = consolidate(&i).unwrap();
    let ins = text(&c, "insights.md");
    assert!(ins.contains("managed-by: dreamd"));
    assert!(ins.contains("- Code in 2 of 2 sessions (100%) was Python"), "{ins}");
    assert!(ins.contains("Confirmed by 2 sessions: \"billing listens on port 9090\" (`a.md:1`)"), "{ins}");
    assert!(text(&c, "MEMORY.md").contains("- [Insights from sessions](insights.md) — Cross-session patterns"));
    assert!(r.changes.iter().any(|c| c.kind == ChangeKind::Insight && c.provenance.sessions == vec!["s1", "s2"]));
    // The next dream replaces it rather than deduplicating it, and a hand-written insights.md is never overwritten.
    let mut i2 = i.clone();
    i2.store = c.clone();
    let (c2, _) = consolidate(&i2).unwrap();
    assert_eq!(c2.files["insights.md"].bytes, c.files["insights.md"].bytes);
    let mut i3 = i.clone();
    i3.store.files.insert("insights.md".into(), MemoryFile { bytes: b"- my own insights\n".to_vec(), mtime: None });
    let (c3, _) = consolidate(&i3).unwrap();
    assert_eq!(text(&c3, "insights.md"), "- my own insights\n");
    assert!(c3.files.contains_key("dreamd-insights.md"));
}

#[test]
fn report_totals_and_determinism() {
    let i = with_mtime(
        input(&[
            ("MEMORY.md", "- [A](a.md) — a\n- [G](gone.md) — g\n"),
            ("a.md", "- x is one\n- Note: x is one\n- 2026-06-01: seen yesterday\n"),
        ]),
        "a.md",
        "2026-06-10",
    );
    let (c1, r1) = consolidate(&i).unwrap();
    let (c2, r2) = consolidate(&i).unwrap();
    assert_eq!(c1, c2);
    assert_eq!(serde_json::to_string(&r1).unwrap(), serde_json::to_string(&r2).unwrap());
    assert_eq!(r1.totals.entries_before, 5);
    assert_eq!(r1.totals.entries_after, 3);
    assert_eq!(r1.totals.bytes_before, i.store.total_bytes());
    assert_eq!(r1.totals.bytes_after, c1.total_bytes());
    assert!(r1.totals.tokens_after < r1.totals.tokens_before);
    let kinds: std::collections::BTreeSet<_> = r1.changes.iter().map(|c| c.kind).collect();
    assert!(kinds.contains(&ChangeKind::StalePointer) && kinds.contains(&ChangeKind::Dedupe) && kinds.contains(&ChangeKind::RelativeDate));
}

#[test]
fn a_winner_is_never_one_a_survivor_makes_redundant() {
    // Two files of the same date (no order between them): the reordered copy and the newer
    // line of the second file are equal; the remark copy is older than that line. Whatever
    // wins, the remark copy goes too, so a second dream merges nothing.
    let i = input(&[
        ("a.md", "---\nmodified: 2026-06-02\n---\n- The platform group owns it, and the majofi service listens on port 5522\n"),
        (
            "b.md",
            "---\nmodified: 2026-06-02\n---\n- The majofi service listens on port 5522, and the platform group owns it — confirmed again\n- x y z\n- The majofi service listens on port 5522, and the platform group owns it\n",
        ),
    ]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(r.changes.len(), 2, "{:#?}", r.changes);
    let mut again = i.clone();
    again.store = c;
    assert_eq!(consolidate(&again).unwrap().1.changes, vec![]);
}

#[test]
fn dropping_a_block_keeps_the_blank_line_that_separated_its_neighbours() {
    // Without it, "über" would read as the continuation of the bullet above.
    let i = input(&[("MEMORY.md", "- \n- [a](b.md)\n\nüber\n"), ("a.md", "- keep me\n- x one\n\npara\n- x one.\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "MEMORY.md"), "- \n\nüber\n- [a](a.md) — keep me\n");
    assert_eq!(text(&c, "a.md"), "- keep me\n\npara\n- x one.\n");
    assert_eq!(crate::verify::lost(&i.store, &c, &r), vec![]);
}

#[test]
fn a_canceled_dream_stops_in_every_long_loop() {
    let corpus = crate::corpus::generate(&crate::corpus::Spec::with_entries(5, 3000, 0));
    let mut i = input(&[]);
    i.store = corpus.store;
    let cancel = crate::engine::CancellationToken::new();
    i.cancel = cancel.clone();
    let (ws, _) = Workspace::new(&i);
    let table = entries::EntryTable::build(&ws, &cancel).unwrap();
    let (pairs, _) = candidates::candidates(&table.feats, &table.vocab, &cancel).unwrap();
    cancel.cancel();
    // Each pass polls the token inside its loop, not only between passes.
    assert!(entries::EntryTable::build(&ws, &cancel).is_err());
    assert!(candidates::candidates(&table.feats, &table.vocab, &cancel).is_err());
    let (mut ws, _) = Workspace::new(&i);
    assert!(conflict::resolve(&mut ws, &table, &Default::default(), &pairs, &cancel).is_err());
    assert!(dedupe::drop_duplicates(&mut ws, &table, &cancel).is_err());
    assert!(near::drop_near_duplicates(&mut ws, &table, &pairs, &cancel).is_err());
    assert_eq!(consolidate(&i).unwrap_err(), crate::engine::Canceled);
}

#[test]
fn issue_7_findings_at_the_store_level() {
    // Date-only duplicates: one entry, the newest date, the folded date named.
    // (A history reverted and re-applied: the re-applied value is the current one.)
    let i =
        input(&[("a.md", "- [2026-02-02] The user prefers uv\n- [2026-03-01] The user prefers pip\n- [2026-03-04] The user prefers uv\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- [2026-03-04] The user prefers uv\n", "{:#?}", r.changes);
    let i = input(&[("a.md", "- [2026-02-02] Run `make test` before pushing\n- [2026-01-09] Run `make test` before pushing\n- [2026-02-04] Run `make test` before pushing\n")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(text(&c, "a.md"), "- [2026-02-04] Run `make test` before pushing\n");
    assert!(
        r.changes.iter().all(|c| c.reason.contains("newest date 2026-02-04; dates folded into it: 2026-01-09, 2026-02-02")),
        "{:#?}",
        r.changes
    );
    // A sigil is part of a value: neither merged nor superseded.
    let i = input(&[("a.md", "- sessionId: transport session identifier\n- sessionId?: transport session identifier\n")]);
    assert_eq!(consolidate(&i).unwrap().0, i.store);
    // Weak newer claims never remove a plain fact: kept beside it, flagged.
    for weak in
        ["Unverified: the dose is 50 mg", "Someone said the dose is 50 mg", "Proposal: the dose is 50 mg", "As of 2019, the dose is 50 mg"]
    {
        let i = input(&[("a.md", &format!("- [2026-05-01] The dose is 5 mg\n- [2026-06-01] {weak}\n"))]);
        let (c, r) = consolidate(&i).unwrap();
        assert_eq!(c, i.store, "{weak}");
        assert!(r.flags.iter().any(|f| f.kind == "hedged"), "{weak}: {:?}", r.flags);
    }
    // Plain conflicts of plain words, ordered by position in one undated file.
    for (old, new) in [
        ("Atlas status is blue", "Atlas status is green"),
        ("Guest access is enabled", "Guest access is disabled"),
        ("edge-worker runs in the west region", "edge-worker runs in the east region"),
        ("- Requires Python 3.9+.", "- Requires Python 3.10+."),
        ("Checks: `make lint`, `make mypy` and `make test`", "Checks: `make lint`, `make typecheck` and `make test`"),
        ("Install with `pnpm i`", "Install with `pnpm i --frozen-lockfile`"),
    ] {
        let i = input(&[("a.md", &format!("- {}\n- {}\n", old.trim_start_matches("- "), new.trim_start_matches("- ")))]);
        let (c, _) = consolidate(&i).unwrap();
        assert_eq!(text(&c, "a.md"), format!("- {}\n", new.trim_start_matches("- ")), "{old} / {new}");
    }
    // Two subjects sharing a value: both stay.
    let i = input(&[("a.md", "- edge-worker stores its data in ClickHouse 24\n- core-proxy stores its data in ClickHouse 24\n")]);
    assert_eq!(consolidate(&i).unwrap().0, i.store);
}

#[test]
fn mixed_line_endings_keep_entries_apart() {
    // Found by the `consolidate` fuzz target: the kept blank line after a dropped duplicate
    // was `\r\n` after a `\n` line, and the parser did not see it as blank.
    let i = input(&[("MEMORY.md", "_\n- e\r\n\r\ne")]);
    let (c, r) = consolidate(&i).unwrap();
    assert_eq!(crate::verify::lost(&i.store, &c, &r), vec![]);
    let cand = crate::memory::parse_store(&c, Layout::ClaudeCode, &PinRules::default()).0;
    assert_eq!(cand[0].blocks().iter().filter(|b| b.kind.is_entry()).count(), 2, "{:?}", text(&c, "MEMORY.md"));
}
