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
    }
}

fn text(s: &Store, p: &str) -> String {
    String::from_utf8(s.files[p].bytes.clone()).unwrap()
}

#[test]
fn drops_formatting_only_duplicates_across_files() {
    let i = input(&[("a.md", "- Deploys go through **ArgoCD**.\n- other\n"), ("b.md", "* deploys go through argocd\n")]);
    let (c, r) = consolidate(&i);
    assert_eq!(text(&c, "a.md"), "- Deploys go through **ArgoCD**.\n- other\n");
    assert_eq!(text(&c, "b.md"), "");
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].kind, ChangeKind::Dedupe);
    assert_eq!(r.changes[0].file, "b.md");
    assert_eq!(r.totals.entries_before, 3);
    assert_eq!(r.totals.entries_after, 2);
}

#[test]
fn different_values_are_not_duplicates() {
    let i = input(&[("a.md", "- billing listens on port 8080\n- billing listens on port 9090\n")]);
    let (c, r) = consolidate(&i);
    assert!(r.changes.iter().all(|c| c.kind != ChangeKind::Dedupe));
    assert_eq!(c, i.store);
}

#[test]
fn pinned_copy_survives_and_unpinned_copy_goes() {
    let i = input(&[("a.md", "- use pnpm\n"), ("b.md", "- Use pnpm. <!-- pinned -->\n")]);
    let (c, _) = consolidate(&i);
    assert_eq!(text(&c, "a.md"), "");
    assert_eq!(text(&c, "b.md"), "- Use pnpm. <!-- pinned -->\n");
    let i = input(&[("a.md", "- x <!-- pinned -->\n- x <!-- pinned -->\n")]);
    assert_eq!(consolidate(&i).0, i.store);
}

#[test]
fn stale_index_lines_go() {
    let i = input(&[("MEMORY.md", "- [A](a.md) — a\n- [Gone](gone.md) — g\n"), ("a.md", "- fact\n")]);
    let (c, r) = consolidate(&i);
    assert_eq!(text(&c, "MEMORY.md"), "- [A](a.md) — a\n");
    assert_eq!(r.changes[0].kind, ChangeKind::StalePointer);
}

#[test]
fn is_deterministic_and_keeps_opaque_files() {
    let mut i = input(&[("a.md", "- x\n- X.\n"), ("b.md", "---\nbroken: [\n---\n- x\n")]);
    i.store.files.insert("c.md".into(), MemoryFile { bytes: vec![0xff, 0xfe], mtime: None });
    let (c1, r1) = consolidate(&i);
    let (c2, r2) = consolidate(&i);
    assert_eq!(c1, c2);
    assert_eq!(r1, r2);
    assert_eq!(c1.files["b.md"].bytes, i.store.files["b.md"].bytes);
    assert_eq!(c1.files["c.md"].bytes, vec![0xff, 0xfe]);
    assert_eq!(r1.warnings.len(), 2);
}
