//! Consolidation benchmark: `cargo bench --bench consolidate [-- OPTIONS]`.
//!
//! Generates stores of 1×, 4×, 16× a 20,000-entry (~2 MB) store with 100 sessions, writes
//! each to a temp dir, and runs each case in a fresh child process (this same binary) that
//! reads the store and transcripts from disk and consolidates them, as `dreamd consolidate`
//! does. The child reports time and peak resident memory (VmHWM from /proc/self/status).
//!
//! Options:
//!   --scales 1,4,16      which multiples of 20,000 entries to run (default 1,4,16; 0 = none)
//!   --hosted             also run the two hosted-maximum stores (~100 MB each): "hosted", ~2,000
//!                        generated files; "renamed", 56 copies of a generated 24k-entry store
//!                        with every copy's subjects renamed (issue 9's adversarial store)
//!   --cases a,b          which hosted stores to run (default hosted,renamed)
//!   --cli                also time the `dreamd consolidate` binary on each store (read,
//!                        consolidate, figures, write the candidate), peak RSS from wait4
//!   --keep DIR           write the stores under DIR (kept) instead of a temp dir
//!   --max-memory-mb N    the engine's memory budget, as `dreamd consolidate` takes it
//!                        (default 512; 0: none, every file consolidated)
//!   --export DIR         write two entry sets (generated, real) with dreamd's word sets, the
//!                        exact Jaccard >= 0.5 pairs, dreamd's LSH candidates and verified
//!                        pairs there (for tools/datasketch_compare.py)
//!   --export-real DIR    write every real corpus' entries with dreamd's word sets there
//!   --quality            print the quality score of the 1× run

use dreamd::config::Layout;
use dreamd::corpus::{generate, real, renamed_copies, score, Corpus, Spec};
use dreamd::engine::builtin::lsh::band_pairs;
use dreamd::engine::builtin::near::duplicate_pairs;
use dreamd::engine::builtin::text::{features, Features, Vocab};
use dreamd::engine::{builtin, DreamInput};
use dreamd::memory::{entries, parse_store, PinRules};
use dreamd::sessions::{discover, read_session};
use dreamd::store::Store;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const BASE_ENTRIES: usize = 20_000;
const SESSIONS: usize = 100;
const RENAMED_COPIES: usize = 56;
/// Entries of each copy: 56 copies make ~100 MB, the hosted maximum.
const RENAMED_COPY_ENTRIES: usize = 24_000;

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
fn child(dir: &Path, budget: Option<u64>) -> anyhow::Result<()> {
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
    let (candidate, report) = builtin::consolidate_within(&input, budget)?;
    let consolidate_s = t1.elapsed().as_secs_f64();
    let left_out = report.flags.iter().find(|f| f.kind == "memory_budget").map_or(0, |f| f.entries.len());
    let out = serde_json::json!({
        "read_s": read_s,
        "consolidate_s": consolidate_s,
        "peak_rss_kb": peak_rss_kb(),
        "entries": report.totals.entries_before,
        "bytes": report.totals.bytes_before,
        "bytes_after": candidate.total_bytes(),
        "changes": report.changes.len(),
        "files": report.totals.files_before,
        "left_out": left_out,
    });
    println!("{out}");
    Ok(())
}

/// Run `cmd` to its end; its exit status and peak resident memory in KB (`ru_maxrss` of wait4).
fn run_measured(cmd: &mut Command) -> anyhow::Result<(bool, u64)> {
    let child = cmd.spawn()?;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    anyhow::ensure!(pid > 0, "wait4 failed: {}", std::io::Error::last_os_error());
    Ok((libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, usage.ru_maxrss as u64))
}

/// `dreamd consolidate` on the store in `dir`, as a user runs it. Started from a fresh small
/// process (`--cli-child`): a child spawned by this one, which holds the generated store,
/// would count this process's pages in its peak until it execs.
fn run_cli(label: &str, dir: &Path, max_memory_mb: u64) -> anyhow::Result<()> {
    let out = Command::new(std::env::current_exe()?).arg("--cli-child").arg(dir).arg(max_memory_mb.to_string()).output()?;
    anyhow::ensure!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    println!(
        "{label:>8} dreamd consolidate (read, consolidate, figures, write)  {:>7.2} s  peak RSS {:>6.0} MB",
        v["secs"].as_f64().unwrap_or(0.0),
        v["peak_kb"].as_f64().unwrap_or(0.0) / 1024.0
    );
    Ok(())
}

fn cli_child(dir: &Path, max_memory_mb: &str) -> anyhow::Result<()> {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let t = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dreamd"));
    cmd.arg("consolidate").arg(dir.join("memory")).arg("--sessions").arg(dir.join("sessions")).arg("--out").arg(&out);
    cmd.arg("--max-memory-mb").arg(max_memory_mb);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let (ok, peak_kb) = run_measured(&mut cmd)?;
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&out);
    anyhow::ensure!(ok, "dreamd consolidate failed");
    println!("{}", serde_json::json!({"secs": secs, "peak_kb": peak_kb}));
    Ok(())
}

fn run_case(label: &str, corpus: &Corpus, keep: Option<&Path>, cli: bool, max_memory_mb: u64) -> anyhow::Result<serde_json::Value> {
    let temp = tempfile::tempdir()?;
    let dir = match keep {
        Some(k) => k.join(label),
        None => temp.path().to_path_buf(),
    };
    if !dir.join("memory").exists() {
        corpus.write_to(&dir)?;
    }
    if std::env::var_os("DREAMD_BENCH_WRITE_ONLY").is_some() {
        println!(
            "{label}: {} files, {:.1} MB written to {}",
            corpus.store.files.len(),
            corpus.store.total_bytes() as f64 / 1e6,
            dir.display()
        );
        return Ok(serde_json::Value::Null);
    }
    let dir = dir.as_path();
    let exe = std::env::current_exe()?;
    let out = Command::new(exe).arg("--child").arg(dir).arg("--max-memory-mb").arg(max_memory_mb.to_string()).output()?;
    if !out.status.success() {
        anyhow::bail!("{label}: child failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap_or("{}"))?;
    let secs = v["consolidate_s"].as_f64().unwrap_or(0.0);
    let entries = v["entries"].as_u64().unwrap_or(0);
    let mb = v["bytes"].as_u64().unwrap_or(0) as f64 / 1e6;
    println!(
        "{label:>8} {entries:>9} entries {mb:>8.1} MB  read {:>6.2} s  consolidate {secs:>7.3} s  {:>9.0} entries/s {:>6.1} MB/s  peak RSS {:>6.0} MB  -> {:.1} MB, {} changes, {} of {} files left out (budget {})",
        v["read_s"].as_f64().unwrap_or(0.0),
        entries as f64 / secs.max(1e-9),
        mb / secs.max(1e-9),
        v["peak_rss_kb"].as_u64().unwrap_or(0) as f64 / 1024.0,
        v["bytes_after"].as_u64().unwrap_or(0) as f64 / 1e6,
        v["changes"],
        v["left_out"],
        v["files"],
        if max_memory_mb == 0 { "none".to_string() } else { format!("{max_memory_mb} MiB") },
    );
    if cli {
        run_cli(label, dir, max_memory_mb)?;
    }
    Ok(v)
}

/// Word sets as dreamd tokenizes them, so both sides of the comparison use the same shingles.
fn word_sets(texts: &[&str]) -> (Vec<Features>, Vocab) {
    let mut vocab = Vocab::default();
    let feats = texts.iter().map(|t| features(t, &mut vocab)).collect();
    (feats, vocab)
}

/// Pairs with Jaccard ≥ `t` on the word sets, found exactly (inverted index, no sampling).
fn exact_pairs(feats: &[Features], t: f64) -> Vec<(usize, usize)> {
    let mut postings: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, f) in feats.iter().enumerate() {
        for &w in &f.set {
            postings.entry(w).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    let mut shared: HashMap<usize, u32> = HashMap::new();
    for (i, f) in feats.iter().enumerate() {
        shared.clear();
        for w in &f.set {
            for &j in postings[w].iter().filter(|&&j| j > i) {
                *shared.entry(j).or_default() += 1;
            }
        }
        for (&j, &n) in &shared {
            let union = f.set.len() + feats[j].set.len() - n as usize;
            if union > 0 && n as f64 / union as f64 >= t {
                out.push((i, j));
            }
        }
    }
    out.sort_unstable();
    out
}

/// For `tools/datasketch_compare.py`, two sets of entries: a generated corpus (5,000
/// entries, classic family: templated text, with ground-truth groups) and every entry of the
/// undated real corpora (text nobody here wrote). For each: the entries with dreamd's word
/// sets (the shingles both sides use), the exact Jaccard >= 0.5 pairs, dreamd's MinHash/LSH
/// candidates with the banding datasketch is given (21 bands x 3 rows, no bucket cap, timed
/// warm), and dreamd's verified duplicate pairs (exact candidates + verification, timed warm).
fn export(dir: &Path) -> anyhow::Result<()> {
    let corpus = generate(&Spec::with_entries(42, 5_000, 0));
    let mut rows = Vec::new();
    for p in &corpus.truth.planted {
        let text = corpus.store.files[&p.file].text().and_then(|t| t.lines().nth(p.line - 1)).unwrap_or("").to_string();
        let group = if p.role == "old_value" { format!("o{}", p.fact) } else { format!("f{}", p.fact) };
        rows.push((group, text));
    }
    export_set(&dir.join("generated"), &rows)?;
    let mut rows = Vec::new();
    if let Some(root) = real::root() {
        for s in real::stores(&root)?.into_iter().filter(|s| s.variant == "undated") {
            let store = Store::read(&s.memory())?;
            let (files, _) = parse_store(&store, Layout::ClaudeCode, &PinRules::default());
            rows.extend(entries(&files).map(|(_, b)| (s.slug.clone(), b.text().replace('\n', " "))));
        }
    }
    export_set(&dir.join("real"), &rows)
}

fn export_set(dir: &Path, rows: &[(String, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let texts: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    let (feats, vocab) = word_sets(&texts);
    let items: Vec<(u32, &Features)> = feats.iter().enumerate().map(|(i, f)| (i as u32, f)).collect();
    let hash = |w: u32| vocab.hash(w);
    // Warm up once, then time (both sides are timed warm). No bucket cap: the same
    // candidate definition as datasketch's MinHashLSH.
    let _ = band_pairs(&items, &hash, usize::MAX);
    let t = Instant::now();
    let (lsh, _) = band_pairs(&items, &hash, usize::MAX);
    let lsh_secs = t.elapsed().as_secs_f64();
    let _ = duplicate_pairs(&texts);
    let t = Instant::now();
    let pairs = duplicate_pairs(&texts);
    let secs = t.elapsed().as_secs_f64();
    let exact = exact_pairs(&feats, 0.5);
    let tsv: String = rows
        .iter()
        .zip(&feats)
        .enumerate()
        .map(|(i, ((g, t), f))| {
            let words: Vec<&str> = f.set.iter().map(|&w| vocab.word(w)).collect();
            format!("{i}\t{g}\t{}\t{}\n", t.replace('\t', " "), words.join("\u{1f}"))
        })
        .collect();
    std::fs::write(dir.join("entries.tsv"), tsv)?;
    let write_pairs = |name: &str, ps: &[(usize, usize)]| {
        std::fs::write(dir.join(name), ps.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect::<String>())
    };
    write_pairs("rust_pairs.tsv", &pairs)?;
    write_pairs("rust_lsh_pairs.tsv", &lsh.iter().map(|&(a, b)| (a as usize, b as usize)).collect::<Vec<_>>())?;
    write_pairs("exact_pairs_0.5.tsv", &exact)?;
    let timing = serde_json::json!({"seconds": secs, "lsh_seconds": lsh_secs, "entries": rows.len()});
    std::fs::write(dir.join("rust_timing.json"), serde_json::to_string(&timing)?)?;
    println!(
        "exported {} entries to {}: dreamd LSH (21x3) {:.4} s, {} candidates; duplicate detection {:.4} s, {} pairs; {} exact pairs at Jaccard >= 0.5",
        rows.len(),
        dir.display(),
        lsh_secs,
        lsh.len(),
        secs,
        pairs.len(),
        exact.len()
    );
    Ok(())
}

/// For the end-to-end comparison on the real corpora: every entry of every store with the
/// word set dreamd sees (`DIR/<variant>/<slug>/entries.tsv`: file, line, text, words).
fn export_real(dir: &Path) -> anyhow::Result<()> {
    let root = real::root().ok_or_else(|| anyhow::anyhow!("real corpora not found"))?;
    for s in real::stores(&root)? {
        let store = Store::read(&s.memory())?;
        let (files, _) = parse_store(&store, Layout::ClaudeCode, &PinRules::default());
        let mut vocab = Vocab::default();
        let mut out = String::new();
        for (f, b) in entries(&files) {
            let feat = features(b.text(), &mut vocab);
            let words: Vec<&str> = feat.set.iter().map(|&w| vocab.word(w)).collect();
            out.push_str(&format!("{}\t{}\t{}\t{}\n", f.path, b.line, b.text().replace(['\t', '\n'], " "), words.join("\u{1f}")));
        }
        let d = dir.join(&s.variant).join(&s.slug);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("entries.tsv"), out)?;
    }
    println!("exported the real corpora's entries to {}", dir.display());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let dir = args.get(i + 1).map(PathBuf::from).ok_or_else(|| anyhow::anyhow!("--child needs a dir"))?;
        let mb: u64 = args.iter().position(|a| a == "--max-memory-mb").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(0);
        return child(&dir, (mb > 0).then_some(mb << 20));
    }
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(i) = args.iter().position(|a| a == "--cli-child") {
        let (dir, mb) = (args.get(i + 1), args.get(i + 2));
        return cli_child(Path::new(dir.map_or("", |d| d.as_str())), mb.map_or("0", |m| m.as_str()));
    }
    let scales: Vec<usize> =
        value("--scales").unwrap_or_else(|| "1,4,16".into()).split(',').filter_map(|s| s.trim().parse().ok()).filter(|&k| k > 0).collect();
    let keep = value("--keep").map(PathBuf::from);
    let cli = args.iter().any(|a| a == "--cli");
    let max_memory_mb: u64 = value("--max-memory-mb").and_then(|v| v.parse().ok()).unwrap_or(dreamd::config::DEFAULT_MAX_MEMORY_MB);
    println!("dreamd consolidate benchmark ({} cores available)", std::thread::available_parallelism().map_or(1, |n| n.get()));
    for &k in &scales {
        let corpus = generate(&Spec::with_entries(42, BASE_ENTRIES * k, SESSIONS));
        run_case(&format!("{k}x"), &corpus, keep.as_deref(), cli, max_memory_mb)?;
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
        let cases = value("--cases").unwrap_or_else(|| "hosted,renamed".into());
        if cases.split(',').any(|c| c == "hosted") {
            // ~2,000 topic files, ~100 MB in all (the hosted maximum by total size).
            let mut spec = Spec::with_entries(43, 0, SESSIONS);
            spec.facts_per_file = 430;
            spec.facts = 2_000 * spec.facts_per_file;
            run_case("hosted", &generate(&spec), keep.as_deref(), cli, max_memory_mb)?;
        }
        if cases.split(',').any(|c| c == "renamed") {
            // Issue 9's adversarial store: 56 renamed copies of a 24k-entry store, ~100 MB.
            let corpus = renamed_copies(&Spec::with_entries(42, RENAMED_COPY_ENTRIES, SESSIONS), RENAMED_COPIES);
            run_case("renamed", &corpus, keep.as_deref(), cli, max_memory_mb)?;
        }
    }
    if let Some(dir) = value("--export") {
        export(Path::new(&dir))?;
    }
    if let Some(dir) = value("--export-real") {
        export_real(Path::new(&dir))?;
    }
    Ok(())
}
