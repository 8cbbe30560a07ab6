//! The security corpus (`tests/security/*.yaml`) through the real verifier: every secret kind is
//! caught wherever a candidate writes it, near misses are not, every injection-style addition
//! is held with the kinds of drift it carries, and observations and rewordings are not.

use dreamd::config::Config;
use dreamd::memory::PinRules;
use dreamd::store::{MemoryFile, Store};
use dreamd::verify::{evaluate, Check, Input, Verdict};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct Case {
    kind: String,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    file: Option<String>,
    text: String,
    #[serde(default)]
    live: Option<String>,
    #[serde(default)]
    drift: Vec<String>,
    #[serde(default)]
    pinned: bool,
}

fn load(name: &str) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/security").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const NOTES: &str = "- deploys go through ArgoCD\n- the billing service listens on port 8080\n- Alice owns the billing service\n- run the full test suite before a release\n";

fn live_store(extra: Option<&str>) -> Store {
    let mut s = Store::default();
    let notes = format!("{NOTES}{}", extra.map(|e| format!("{e}\n")).unwrap_or_default());
    s.files.insert("MEMORY.md".into(), MemoryFile { bytes: b"- [Notes](notes.md) - notes\n".to_vec(), mtime: None });
    s.files.insert("notes.md".into(), MemoryFile { bytes: notes.into_bytes(), mtime: None });
    s
}

/// `live` with `text` appended to `file` (created when new).
fn with_addition(live: &Store, file: &str, text: &str) -> Store {
    let mut c = live.clone();
    let entry = c.files.entry(file.to_string()).or_insert(MemoryFile { bytes: Vec::new(), mtime: None });
    entry.bytes.extend_from_slice(text.as_bytes());
    entry.bytes.push(b'\n');
    c
}

fn verify(live: &Store, candidate: &Store) -> Verdict {
    let config = Config::from_yaml("agent:\n  memory_dir: /m\n", Path::new("/c.yaml")).unwrap();
    let h = live.hash();
    let report = dreamd::engine::command::diff_report(live, candidate);
    evaluate(&Input { config: &config, pins: &PinRules::default(), live, candidate, report: &report, base_hash: &h, current_hash: &h })
}

fn check<'a>(v: &'a Verdict, name: &str) -> &'a Check {
    v.checks.iter().find(|c| c.name == name).unwrap()
}

#[test]
fn every_secret_kind_is_caught_wherever_it_is_written() {
    let cases = load("secrets.yaml");
    let kinds: BTreeSet<&str> = cases.iter().map(|c| c.kind.as_str()).collect();
    let rules: BTreeSet<&str> = cases.iter().filter_map(|c| c.rule.as_deref()).collect();
    assert!(kinds.len() >= 30 && rules.len() >= 30, "{} kinds, {} rules", kinds.len(), rules.len());
    let untested: Vec<&str> = dreamd::secrets::rule_ids().into_iter().filter(|r| !rules.contains(r)).collect();
    assert!(untested.is_empty(), "every rule has a case in secrets.yaml: {untested:?}");
    let live = live_store(None);
    let mut missed = Vec::new();
    for c in &cases {
        let rule = c.rule.as_deref().expect("a secret case names its rule");
        let file = c.file.as_deref().unwrap_or("notes.md");
        let found: Vec<&str> = dreamd::secrets::find(&c.text).iter().chain(&dreamd::secrets::find(file)).map(|m| m.rule).collect();
        let candidate = with_addition(&live, file, &c.text);
        let v = verify(&live, &candidate);
        let secrets = check(&v, "no_new_secrets");
        if !found.contains(&rule) || secrets.passed || !secrets.details.iter().any(|d| d.contains(rule)) {
            missed.push(format!("{}: rule {rule}, found {found:?}, check {secrets:?}", c.kind));
        }
        // What the live store already held is not new.
        let held = with_addition(&live, file, &c.text);
        assert!(check(&verify(&held, &held), "no_new_secrets").passed, "{}", c.kind);
    }
    assert!(missed.is_empty(), "missed:\n{}", missed.join("\n"));
}

#[test]
fn near_misses_are_not_secrets() {
    let live = live_store(None);
    let mut flagged = Vec::new();
    for c in load("not-secrets.yaml") {
        let found = dreamd::secrets::find(&c.text);
        let v = verify(&live, &with_addition(&live, "notes.md", &c.text));
        if !found.is_empty() || !check(&v, "no_new_secrets").passed {
            flagged.push(format!("{}: {found:?}", c.kind));
        }
    }
    assert!(flagged.is_empty(), "flagged:\n{}", flagged.join("\n"));
}

#[test]
fn injections_are_held_with_what_they_add() {
    let live = live_store(None);
    let mut missed = Vec::new();
    for c in load("injections.yaml") {
        let file = c.file.as_deref().unwrap_or("notes.md");
        let v = verify(&live, &with_addition(&live, file, &c.text));
        let drift = check(&v, "instruction_drift");
        let text = drift.details.join("\n");
        for kind in &c.drift {
            let label = match kind.as_str() {
                "imperative" => "new instruction",
                "url" => "new URL",
                "host" => "new host",
                "command" => "new shell command",
                other => panic!("unknown drift kind {other}"),
            };
            if !text.contains(label) {
                missed.push(format!("{}: no {kind} in {text:?}", c.kind));
            }
        }
        if drift.passed || v.passed {
            missed.push(format!("{}: not held", c.kind));
        }
        if c.pinned && check(&v, "pinned_kept").passed {
            missed.push(format!("{}: the new pin passed", c.kind));
        }
    }
    assert!(missed.is_empty(), "missed:\n{}", missed.join("\n"));
}

#[test]
fn observations_and_rewordings_are_not_drift() {
    let mut flagged = Vec::new();
    for c in load("not-drift.yaml") {
        let live = live_store(c.live.as_deref());
        let v = verify(&live, &with_addition(&live, c.file.as_deref().unwrap_or("notes.md"), &c.text));
        let drift = check(&v, "instruction_drift");
        if !drift.passed || !drift.details.is_empty() {
            flagged.push(format!("{}: {:?}", c.kind, drift.details));
        }
    }
    assert!(flagged.is_empty(), "flagged:\n{}", flagged.join("\n"));
}
