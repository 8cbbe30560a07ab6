use super::*;
use crate::config::Layout;
use crate::memory::{parse_store, PinRules};
use crate::report::{Change, ChangeKind};
use crate::store::{MemoryFile, Store};

fn parsed(files: &[(&str, &str)]) -> Vec<ParsedFile> {
    let mut s = Store::default();
    for (p, t) in files {
        s.files.insert(p.to_string(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
    }
    parse_store(&s, Layout::ClaudeCode, &PinRules::default()).0
}

#[test]
fn reduction_bounds() {
    assert!(check_reduction(1000, 900, 0.05, 0.8).passed);
    let low = check_reduction(1000, 990, 0.05, 0.8);
    assert!(!low.passed && low.reason.contains("below the minimum 5.0%"), "{}", low.reason);
    let high = check_reduction(1000, 50, 0.05, 0.8);
    assert!(!high.passed && high.reason.contains("suspect"), "{}", high.reason);
    assert!(!check_reduction(0, 0, 0.0, 1.0).passed);
    assert!(!check_reduction(100, 120, 0.0, 1.0).passed, "growth is not a reduction");
}

#[test]
fn pinned_entries_must_survive_verbatim() {
    let live = parsed(&[("a.md", "- keep <!-- pinned -->\n- other\n")]);
    assert!(check_pinned(&live, &parsed(&[("b.md", "- keep <!-- pinned -->\n")])).passed);
    let c = check_pinned(&live, &parsed(&[("a.md", "- other\n")]));
    assert!(!c.passed);
    assert_eq!(c.details, vec!["a.md:1: - keep <!-- pinned -->"]);
    let altered = check_pinned(&live, &parsed(&[("a.md", "- KEEP <!-- pinned -->\n")]));
    assert!(!altered.passed, "altered is not kept");
}

#[test]
fn unexplained_drops_count_as_loss() {
    let live = parsed(&[("a.md", "- one\n- two\n- three\n- four\n")]);
    let cand = parsed(&[("a.md", "- one\n- two\n")]);
    let mut report = Report::default();
    let c = check_entry_loss(&live, &cand, &report, 0.0);
    assert!(!c.passed);
    assert_eq!(c.details.len(), 2);
    assert!(check_entry_loss(&live, &cand, &report, 0.5).passed);
    report.changes.push(Change::new(ChangeKind::Dedupe, "a.md", Some("- three".into()), None, "dup".into()));
    report.changes.push(Change::new(ChangeKind::Dedupe, "a.md", Some("- Four.".into()), None, "dup".into()));
    assert!(check_entry_loss(&live, &cand, &report, 0.0).passed);
}

#[test]
fn new_secrets_fail_old_ones_do_not() {
    let key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123";
    let live = parsed(&[("a.md", "- nothing here\n")]);
    let cand = parsed(&[("a.md", &format!("- key is {key}\n"))]);
    let c = check_secrets(&live, &cand, &[]);
    assert!(!c.passed);
    assert!(!c.details[0].contains(key), "secrets are redacted in reports");
    assert!(check_secrets(&cand, &cand, &[]).passed);
    let custom = check_secrets(&live, &parsed(&[("a.md", "- token ACME-1234\n")]), &["ACME-\\d+".into()]);
    assert!(!custom.passed);
}

#[test]
fn verdict_combines_checks() {
    let config = Config::from_yaml("agent:\n  memory_dir: /m\n", std::path::Path::new("/c.yaml")).unwrap();
    let live = parsed(&[("a.md", "- a\n- a\n- b\n")]);
    let cand = parsed(&[("a.md", "- a\n- b\n")]);
    let mut report = Report::default();
    report.changes.push(Change::new(ChangeKind::Dedupe, "a.md", Some("- a".into()), None, "dup".into()));
    let input = PolicyInput {
        config: &config,
        live: &live,
        candidate: &cand,
        live_bytes: 12,
        candidate_bytes: 8,
        report: &report,
        base_hash: "h",
        current_hash: "h",
    };
    let v = evaluate(&input);
    assert!(v.passed, "{}", v.summary());
    let v = evaluate(&PolicyInput { current_hash: "other", ..input });
    assert!(!v.passed);
    assert!(v.summary().contains("live_unchanged"));
}

#[test]
fn managed_files_do_not_count_towards_reduction() {
    let mut s = Store::default();
    s.files.insert("a.md".into(), MemoryFile { bytes: b"- a\n".to_vec(), mtime: None });
    s.files.insert("insights.md".into(), MemoryFile { bytes: b"---\nmanaged-by: dreamd\n---\n- Python 75%\n".to_vec(), mtime: None });
    let files = parse_store(&s, Layout::ClaudeCode, &PinRules::default()).0;
    assert_eq!(agent_bytes(&files, &s), 4);
}
