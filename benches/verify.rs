//! Verifier benchmark: `cargo bench --bench verify [-- OPTIONS]`.
//!
//! Generates a store (the consolidation benchmark's corpus), lets the built-in engine dream over
//! it, and times the verifier on the result, whole and check by check, in a fresh child process
//! per case (this same binary) so peak memory is the case's own. The engine's time is not counted.
//!
//! Options:
//!   --scales 1           multiples of 20,000 entries (default 1; 0 = none)
//!   --hosted             also the hosted maximum: ~2,000 files, ~100 MB, ~1.4 M entries
//!   --real DIR           instead: the built-in engine and the verifier on every
//!                        DIR/*/*/memory store (e.g. ../shared/corpora/real), holds per check
//!   --staged DIR         instead: the verifier alone (this process, peak RSS at the end) on a
//!                        job's staging directory (`base/`, `candidate/`, `report.json`), as the
//!                        daemon verifies it

use dreamd::config::{Config, Layout};
use dreamd::corpus::{generate, Spec};
use dreamd::engine::{builtin, DreamInput};
use dreamd::memory::PinRules;
use dreamd::report::Report;
use dreamd::store::Store;
use dreamd::verify::{self, added, drift, fate, pinned, secrets, Parsed};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const BASE_ENTRIES: usize = 20_000;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn config(layout: Layout) -> Config {
    let layout = match layout {
        Layout::ClaudeCode => "claude-code",
        Layout::Generic => "generic",
    };
    Config::from_yaml(&format!("agent:\n  memory_dir: /m\n  layout: {layout}\n"), Path::new("/c.yaml")).expect("config")
}

fn dream(store: &Store, transcripts: Vec<dreamd::sessions::Transcript>, now: chrono::DateTime<chrono::Utc>) -> (Store, Report) {
    let input = DreamInput {
        store: store.clone(),
        transcripts,
        layout: Layout::ClaudeCode,
        pins: PinRules::default(),
        now,
        keep_history: false,
        cancel: Default::default(),
    };
    builtin::consolidate(&input).expect("not canceled")
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64())
}

/// Child: one generated case, timed.
fn child(case: &str) -> anyhow::Result<()> {
    let spec = if case == "hosted" {
        let mut spec = Spec::with_entries(43, 0, 100);
        spec.facts_per_file = 430;
        spec.facts = 2_000 * spec.facts_per_file;
        spec
    } else {
        Spec::with_entries(42, BASE_ENTRIES * case.parse::<usize>()?, 100)
    };
    let corpus = generate(&spec);
    let (candidate, report) = dream(&corpus.store, corpus.transcripts(), corpus.now);
    let config = config(Layout::ClaudeCode);
    let pins = PinRules::default();
    let h = corpus.store.hash();
    let input = verify::Input {
        config: &config,
        pins: &pins,
        live: &corpus.store,
        candidate: &candidate,
        report: &report,
        base_hash: &h,
        current_hash: &h,
    };
    let (verdict, total) = time(|| verify::evaluate(&input));
    // The phases again, one by one, to see where the time goes.
    let (parsed, parse_s) = time(|| Parsed::new(&corpus.store, &candidate, &config, &pins));
    let (fates, fate_s) = time(|| fate::classify(&parsed, &report));
    let (_, pinned_s) = time(|| pinned::check(&parsed));
    let (add, added_s) = time(|| added::Added::between(&corpus.store, &candidate));
    let live_text = added::LiveText::new(&corpus.store);
    let (_, secrets_s) = time(|| secrets::findings(&add, &live_text, &[]));
    let (_, drift_s) = time(|| drift::findings(&add.lines, &live_text));
    // The secret rules over every byte of the store, as redaction of untrusted text does.
    let all: String = corpus.store.files.values().map(|f| String::from_utf8_lossy(&f.bytes)).collect();
    let (found, scan_s) = time(|| dreamd::secrets::find(&all).len());
    let out = serde_json::json!({
        "entries": fates.entries, "mb": corpus.store.total_bytes() as f64 / 1e6, "verify_s": total,
        "parse_s": parse_s, "fate_s": fate_s, "pinned_s": pinned_s, "added_s": added_s, "secrets_s": secrets_s, "drift_s": drift_s,
        "added_lines": add.lines.len(), "secrets_scan_mb_s": all.len() as f64 / 1e6 / scan_s.max(1e-9), "secrets_in_store": found, "unresolved": fates.merged + fates.superseded + fates.lost.len(),
        "passed": verdict.passed, "failed": verdict.failures().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "details": verdict.failures().flat_map(|c| c.details.iter().take(5).map(move |d| format!("{}: {d}", c.name))).collect::<Vec<_>>(),
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{out}");
    Ok(())
}

fn run_case(case: &str) -> anyhow::Result<()> {
    let out = Command::new(std::env::current_exe()?).args(["--child", case]).output()?;
    if !out.status.success() {
        anyhow::bail!("{case}: child failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or("{}"))?;
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    println!(
        "{case:>7}: {:>9} entries {:>6.1} MB  verify {:>6.2} s  (parse {:.2}, fates {:.2} for {} not kept verbatim, pinned {:.2}, added lines {:.2}, secrets {:.2}, drift {:.2})  peak RSS {:.0} MB (engine's run included)  passed {} {}; secret rules over the whole store {:.0} MB/s",
        v["entries"], f("mb"), f("verify_s"), f("parse_s"), f("fate_s"), v["unresolved"], f("pinned_s"), f("added_s"), f("secrets_s"), f("drift_s"), f("peak_rss_mb"), v["passed"], v["failed"], f("secrets_scan_mb_s")
    );
    for d in v["details"].as_array().into_iter().flatten() {
        println!("         {}", d.as_str().unwrap_or_default());
    }
    Ok(())
}

/// The built-in engine's output on real stores: how many candidates each check holds.
fn real(dir: &Path) -> anyhow::Result<()> {
    let mut stores: Vec<PathBuf> = Vec::new();
    for variant in std::fs::read_dir(dir)? {
        let variant = variant?.path();
        if !variant.is_dir() {
            continue;
        }
        for slug in std::fs::read_dir(&variant)? {
            let memory = slug?.path().join("memory");
            if memory.is_dir() {
                stores.push(memory);
            }
        }
    }
    stores.sort();
    let mut holds: std::collections::BTreeMap<String, usize> = Default::default();
    for memory in &stores {
        let label = memory.parent().map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string()).unwrap_or_default();
        let store = Store::read(memory)?;
        let layout = if store.files.contains_key("MEMORY.md") { Layout::ClaudeCode } else { Layout::Generic };
        let config = config(layout);
        let pins = PinRules::default();
        // A command engine that silently deletes one entry, for each of the first 60 entries:
        // caught unless another entry says the same (then it is a verified merge).
        let parsed_live = dreamd::memory::parse_store(&store, layout, &pins).0;
        let (mut caught, mut merged, mut tried) = (0, 0, 0);
        for f in &parsed_live {
            for (bi, b) in f.blocks().iter().enumerate().filter(|(_, b)| b.kind.is_entry()) {
                if tried == 60 {
                    break;
                }
                tried += 1;
                let text: String = f.blocks().iter().enumerate().filter(|(i, _)| *i != bi).map(|(_, x)| x.raw).collect();
                let mut cand = store.clone();
                let fm = f.frontmatter().map(|m| m.raw).unwrap_or_default();
                cand.files.insert(f.path.clone(), dreamd::store::MemoryFile { bytes: format!("{fm}{text}").into_bytes(), mtime: None });
                let diff = dreamd::engine::command::diff_report(&store, &cand);
                let fates = fate::classify(&Parsed::new(&store, &cand, &config, &pins), &diff);
                if fates.lost.len() == 1 && fates.lost[0].text == b.text() {
                    caught += 1;
                } else if fates.lost.is_empty() {
                    merged += 1;
                } else {
                    println!("    single deletion of {}:{} judged {:?}", f.path, b.line, fates);
                }
            }
        }
        println!("    silent single deletions: {caught} of {tried} caught, {merged} not losses (an identical or same-saying entry, or another pointer to the same file, remains)");
        let now = chrono::Utc::now();
        let dreamed = std::panic::catch_unwind(|| dream(&store, Vec::new(), now));
        let Ok((candidate, report)) = dreamed else {
            println!("{label}: the built-in engine panicked; no candidate to verify");
            continue;
        };
        let h = store.hash();
        let (v, secs) = time(|| {
            verify::evaluate(&verify::Input {
                config: &config,
                pins: &pins,
                live: &store,
                candidate: &candidate,
                report: &report,
                base_hash: &h,
                current_hash: &h,
            })
        });
        // False positives of the secret rules on real text: every line of the store, as if new.
        let flagged: Vec<String> = store
            .files
            .iter()
            .flat_map(|(path, f)| {
                let text = String::from_utf8_lossy(&f.bytes).into_owned();
                dreamd::secrets::find(&text)
                    .into_iter()
                    .map(move |m| format!("{path}: {} {}", m.rule, dreamd::secrets::describe(&text[m.start..m.end])))
            })
            .collect();
        if !flagged.is_empty() {
            println!("    secret rules flag {} value(s) in the live store itself: {flagged:?}", flagged.len());
        }
        let failed: Vec<&str> = v.failures().map(|c| c.name.as_str()).collect();
        let entries = v.checks.iter().find(|c| c.name == "entry_loss").map(|c| c.reason.clone()).unwrap_or_default();
        println!(
            "{label}: {} in {:.3} s; {entries}",
            if failed.is_empty() { "passes".to_string() } else { format!("HELD by {}", failed.join(", ")) },
            secs
        );
        if let Some(r) = v.failures().find(|c| c.name == "reduction") {
            println!("    reduction: {}", r.reason);
        }
        for c in v.failures() {
            holds.entry(c.name.clone()).and_modify(|n| *n += 1).or_insert(1);
            for d in c.details.iter().take(5) {
                println!("    {}: {d}", c.name);
            }
        }
    }
    println!("holds per check over {} stores: {holds:?}", stores.len());
    Ok(())
}

/// The verifier on a staged job, alone: what it adds to the daemon's peak.
fn staged(dir: &Path) -> anyhow::Result<()> {
    let base = Store::read(&dir.join("base"))?;
    let candidate = Store::read(&dir.join("candidate"))?;
    let report: Report = serde_json::from_slice(&std::fs::read(dir.join("report.json"))?)?;
    let before = peak_rss_mb();
    let config = config(Layout::ClaudeCode);
    let pins = PinRules::default();
    let h = base.hash();
    let input = verify::Input {
        config: &config,
        pins: &pins,
        live: &base,
        candidate: &candidate,
        report: &report,
        base_hash: &h,
        current_hash: &h,
    };
    let (verdict, secs) = time(|| verify::evaluate(&input));
    println!(
        "{}",
        serde_json::json!({"verify_s": secs, "peak_rss_mb": peak_rss_mb(), "peak_before_verify_mb": before, "passed": verdict.passed,
            "changes": report.changes.len()})
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(case) = value("--child") {
        return child(&case);
    }
    if let Some(dir) = value("--real") {
        return real(Path::new(&dir));
    }
    if let Some(dir) = value("--staged") {
        return staged(Path::new(&dir));
    }
    println!("dreamd verifier benchmark ({} cores available)", std::thread::available_parallelism().map_or(1, |n| n.get()));
    for k in value("--scales").unwrap_or_else(|| "1".into()).split(',').filter_map(|s| s.trim().parse::<usize>().ok()).filter(|&k| k > 0) {
        run_case(&k.to_string())?;
    }
    if args.iter().any(|a| a == "--hosted") {
        run_case("hosted")?;
    }
    Ok(())
}
