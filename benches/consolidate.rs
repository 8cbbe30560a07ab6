//! Consolidation benchmark: `cargo bench --bench consolidate [-- OPTIONS]`.
//!
//! Generates stores of 1×, 4×, 16× a 20,000-entry (~2 MB) store with 100 sessions, writes
//! each to a temp dir, and runs each case in a fresh child process (this same binary) that
//! reads the store and transcripts from disk and consolidates them, as `dreamd consolidate`
//! does. The child reports time and peak resident memory (VmHWM from /proc/self/status).
//!
//! Options:
//!   --scales 1,4,16      which multiples of 20,000 entries to run (default 1,4,16; 0 = none)
//!   --hosted             also run the hosted maximum: ~2,000 files, ~100 MB in all
//!   --export DIR         write the 1× corpus, its entry list with ground-truth groups and
//!                        our near-duplicate pairs there (for tools/datasketch_compare.py)
//!   --quality            print the quality score of the 1× run

use dreamd::config::Layout;
use dreamd::corpus::{generate, score, Corpus, Spec};
use dreamd::engine::builtin::near::duplicate_pairs;
use dreamd::engine::{builtin, DreamInput};
use dreamd::memory::PinRules;
use dreamd::sessions::{discover, read_session};
use dreamd::store::Store;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const BASE_ENTRIES: usize = 20_000;
const SESSIONS: usize = 100;

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Child: read the store and sessions from `dir`, consolidate, print one JSON line.
fn child(dir: &Path) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let store = Store::read(&dir.join("memory"))?;
    let transcripts: Vec<_> = discover(&dir.join("sessions"), Layout::ClaudeCode, "**/*.jsonl")?.iter().map(read_session).collect();
    let read_s = t0.elapsed().as_secs_f64();
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z")?.into();
    let input = DreamInput {
        store,
        transcripts,
        layout: Layout::ClaudeCode,
        pins: PinRules::default(),
        now,
        keep_history: false,
        cancel: Default::default(),
    };
    let t1 = Instant::now();
    let (candidate, report) = builtin::consolidate(&input)?;
    let consolidate_s = t1.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "read_s": read_s,
        "consolidate_s": consolidate_s,
        "peak_rss_kb": peak_rss_kb(),
        "entries": report.totals.entries_before,
        "bytes": report.totals.bytes_before,
        "bytes_after": candidate.total_bytes(),
        "changes": report.changes.len(),
    });
    println!("{out}");
    Ok(())
}

fn run_case(label: &str, corpus: &Corpus) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    corpus.write_to(dir.path())?;
    let exe = std::env::current_exe()?;
    let out = Command::new(exe).arg("--child").arg(dir.path()).output()?;
    if !out.status.success() {
        anyhow::bail!("{label}: child failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap_or("{}"))?;
    let secs = v["consolidate_s"].as_f64().unwrap_or(0.0);
    let entries = v["entries"].as_u64().unwrap_or(0);
    let mb = v["bytes"].as_u64().unwrap_or(0) as f64 / 1e6;
    println!(
        "{label:>8} {entries:>9} entries {mb:>8.1} MB  read {:>6.2} s  consolidate {secs:>7.3} s  {:>9.0} entries/s {:>6.1} MB/s  peak RSS {:>6.0} MB  -> {:.1} MB",
        v["read_s"].as_f64().unwrap_or(0.0),
        entries as f64 / secs.max(1e-9),
        mb / secs.max(1e-9),
        v["peak_rss_kb"].as_u64().unwrap_or(0) as f64 / 1024.0,
        v["bytes_after"].as_u64().unwrap_or(0) as f64 / 1e6,
    );
    Ok(v)
}

/// Entries with their ground-truth group, and our verified near-duplicate pairs.
fn export(corpus: &Corpus, dir: &Path) -> anyhow::Result<()> {
    corpus.write_to(dir)?;
    let mut rows = Vec::new();
    for p in &corpus.truth.planted {
        let text = corpus.store.files[&p.file].text().and_then(|t| t.lines().nth(p.line - 1)).unwrap_or("").to_string();
        let group = if p.role == "old_value" { format!("o{}", p.fact) } else { format!("f{}", p.fact) };
        rows.push((group, text));
    }
    let texts: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    // Warm up once, then time the detection alone (features, MinHash/LSH, verification).
    let _ = duplicate_pairs(&texts[..texts.len().min(1000)]);
    let t = Instant::now();
    let pairs = duplicate_pairs(&texts);
    let secs = t.elapsed().as_secs_f64();
    let tsv: String = rows.iter().enumerate().map(|(i, (g, t))| format!("{i}\t{g}\t{}\n", t.replace('\t', " "))).collect();
    std::fs::write(dir.join("entries.tsv"), tsv)?;
    let ptsv: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    std::fs::write(dir.join("rust_pairs.tsv"), ptsv)?;
    std::fs::write(dir.join("rust_timing.json"), serde_json::to_string(&serde_json::json!({"seconds": secs, "entries": rows.len()}))?)?;
    println!("exported {} entries to {}; dreamd near-duplicate detection {:.3} s, {} pairs", rows.len(), dir.display(), secs, pairs.len());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let dir = args.get(i + 1).map(PathBuf::from).ok_or_else(|| anyhow::anyhow!("--child needs a dir"))?;
        return child(&dir);
    }
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let scales: Vec<usize> =
        value("--scales").unwrap_or_else(|| "1,4,16".into()).split(',').filter_map(|s| s.trim().parse().ok()).filter(|&k| k > 0).collect();
    println!("dreamd consolidate benchmark ({} cores available)", std::thread::available_parallelism().map_or(1, |n| n.get()));
    for &k in &scales {
        let corpus = generate(&Spec::with_entries(42, BASE_ENTRIES * k, SESSIONS));
        run_case(&format!("{k}x"), &corpus)?;
        if k == 1 && args.iter().any(|a| a == "--quality") {
            let input = DreamInput {
                store: corpus.store.clone(),
                transcripts: corpus.transcripts(),
                layout: Layout::ClaudeCode,
                pins: PinRules::default(),
                now: corpus.now,
                keep_history: false,
                cancel: Default::default(),
            };
            let (candidate, _) = builtin::consolidate(&input)?;
            println!("quality (1x): {}", serde_json::to_string_pretty(&score(&corpus, &candidate))?);
        }
    }
    if args.iter().any(|a| a == "--hosted") {
        // ~2,000 topic files, ~100 MB in all (the hosted maximum by total size).
        let mut spec = Spec::with_entries(43, 0, SESSIONS);
        spec.facts_per_file = 430;
        spec.facts = 2_000 * spec.facts_per_file;
        let corpus = generate(&spec);
        run_case("hosted", &corpus)?;
    }
    if let Some(dir) = value("--export") {
        let corpus = generate(&Spec::with_entries(42, BASE_ENTRIES, SESSIONS));
        export(&corpus, Path::new(&dir))?;
    }
    Ok(())
}
