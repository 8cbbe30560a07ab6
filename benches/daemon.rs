//! What the daemon adds to the engine: `cargo bench --bench daemon [-- --scale K | --hosted |
//! --renamed | --store DIR] [--max-memory-mb N] [--keep-job DIR]`.
//!
//! Generates a store of K × 20,000 entries (K = 8 by default, about 11 MB, with 100 sessions);
//! `--hosted` and `--renamed` are the consolidate benchmark's two 100 MB stores, `--store DIR`
//! a store written by `cargo bench --bench consolidate -- --keep` (copied, never changed);
//! `--max-memory-mb` is the daemon's `limits.max_memory_mb` (default 512; 0: none);
//! `--keep-job DIR` copies the job's staging directory there (for `--bench verify -- --staged`). In one
//! run on the same store and machine:
//! 1. times `dreamd consolidate` (the engine alone, as a process: read, consolidate, write);
//! 2. starts `dreamd run` on a copy and times a dream through the daemon, from
//!    `POST /v1/dreams` to the job settling (applied, with an auto-apply policy);
//! 3. meanwhile asks `GET /v1/health` every 20 ms and reports its latency (p50, p99, max);
//! 4. reports the daemon's peak resident memory (VmHWM, read just before it is stopped).
//!
//! Targets (issue 9): daemon ≤ 2.5 × consolidate; health p99 < 50 ms and max < 500 ms.
//! The job's own log gives the time of each stage (read, engine, stage, verify, apply).

use dreamd::corpus::{generate, renamed_copies, Spec};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dreamd");
const BASE_ENTRIES: usize = 20_000;

fn request(socket: &Path, method: &str, path: &str, body: &str) -> anyhow::Result<(u16, Value)> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// Read the job's event stream until it ends (the job settled); returns the events.
fn follow(socket: &Path, id: i64) -> anyhow::Result<Vec<Value>> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(3600)))?;
    write!(s, "GET /v1/jobs/{id}/events?follow=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut events = Vec::new();
    for line in BufReader::new(s).lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line?.trim()) {
            if v.is_object() {
                events.push(v);
            }
        }
    }
    Ok(events)
}

/// A `/proc/PID/status` figure in kB (0 if unreadable).
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let scale: usize = value("--scale").and_then(|v| v.parse().ok()).unwrap_or(8);
    let max_memory_mb: u64 = value("--max-memory-mb").and_then(|v| v.parse().ok()).unwrap_or(dreamd::config::DEFAULT_MAX_MEMORY_MB);
    let dir = tempfile::tempdir()?;
    if let Some(src) = value("--store") {
        let ok = Command::new("cp").arg("-a").arg(format!("{src}/memory")).arg(format!("{src}/sessions")).arg(dir.path()).status()?;
        anyhow::ensure!(ok.success(), "cannot copy {src}");
    } else {
        let corpus = if args.iter().any(|a| a == "--hosted") {
            let mut spec = Spec::with_entries(43, 0, 100);
            spec.facts_per_file = 430;
            spec.facts = 2_000 * spec.facts_per_file;
            generate(&spec)
        } else if args.iter().any(|a| a == "--renamed") {
            renamed_copies(&Spec::with_entries(42, 24_000, 100), 56)
        } else {
            generate(&Spec::with_entries(42, BASE_ENTRIES * scale, 100))
        };
        corpus.write_to(dir.path())?;
    }
    let memory = dir.path().join("memory");
    let sessions = dir.path().join("sessions");
    let store = dreamd::store::Store::read(&memory)?;
    let mb = store.total_bytes() as f64 / 1e6;
    let sessions_n = std::fs::read_dir(&sessions)?.count();
    println!("daemon overhead benchmark: {mb:.1} MB, {} files, {sessions_n} sessions, max_memory_mb {max_memory_mb}", store.files.len());
    drop(store);

    // 1. The engine alone.
    let t = Instant::now();
    let out = Command::new(BIN)
        .arg("consolidate")
        .arg(&memory)
        .arg("--sessions")
        .arg(&sessions)
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--max-memory-mb")
        .arg(max_memory_mb.to_string())
        .output()?;
    let _ = std::fs::remove_dir_all(dir.path().join("out"));
    anyhow::ensure!(out.status.success(), "consolidate failed: {}", String::from_utf8_lossy(&out.stderr));
    let consolidate_s = t.elapsed().as_secs_f64();

    // 2. The same dream through the daemon.
    let config = dir.path().join("dreamd.yaml");
    std::fs::write(
        &config,
        format!(
            "agent:\n  layout: claude-code\n  memory_dir: ./memory\n  sessions_dir: ./sessions\nstate_dir: ./state\n\
         triggers:\n  min_new_sessions: null\n  max_index_lines: null\n\
         policy:\n  min_reduction: 0.0\n  max_reduction: 1.0\n  max_entry_loss: 1.0\n\
         limits:\n  max_memory_mb: {}\n",
            if max_memory_mb == 0 { "null".to_string() } else { max_memory_mb.to_string() }
        ),
    )?;
    let socket = dir.path().join("state/dreamd.sock");
    let mut daemon = Command::new(BIN).arg("run").arg("--config").arg(&config).stderr(Stdio::null()).spawn()?;
    let ready = Instant::now();
    while !request(&socket, "GET", "/v1/health", "").is_ok_and(|r| r.0 == 200) {
        anyhow::ensure!(ready.elapsed() < Duration::from_secs(60), "the daemon did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (socket, stop, pid) = (socket.clone(), stop.clone(), daemon.id());
        std::thread::spawn(move || {
            // Latencies, and the daemon's resident memory at each probe (to tell the stages apart).
            let (mut lat, mut rss) = (Vec::new(), Vec::new());
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                if request(&socket, "GET", "/v1/health", "").is_ok_and(|r| r.0 == 200) {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                rss.push((chrono::Utc::now(), status_kb(pid, "VmRSS:")));
                std::thread::sleep(Duration::from_millis(20));
            }
            (lat, rss)
        })
    };
    let t = Instant::now();
    let (status, v) = request(&socket, "POST", "/v1/dreams", "{\"force\": true}")?;
    anyhow::ensure!(status == 202, "dream refused: {v}");
    let id = v["job"]["id"].as_i64().unwrap_or(0);
    let events = follow(&socket, id)?;
    let daemon_s = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let (mut lat, rss) = prober.join().map_err(|_| anyhow::anyhow!("prober panicked"))?;
    let peak = || status_kb(daemon.id(), "VmHWM:");
    let peak_kb = peak();
    // Showing the job sends its report (tens of MB on a 100 MB store): measured apart.
    let (_, job) = request(&socket, "GET", &format!("/v1/jobs/{id}"), "")?;
    let show_peak_kb = peak();
    if let Some(keep) = value("--keep-job") {
        let ok = Command::new("cp").arg("-a").arg(dir.path().join(format!("state/jobs/{id}"))).arg(&keep).status()?;
        anyhow::ensure!(ok.success(), "cannot copy the job's staging directory to {keep}");
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    daemon.wait()?;

    lat.sort_by(f64::total_cmp);
    let at = |e: &Value| chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap_or("")).ok();
    let when = |kind: &str| events.iter().filter(|e| e["kind"] == kind).filter_map(at).next_back();
    // The engine's own time inside the daemon: from the last input read to its summary.
    let engine_s = match (when("read"), when("write")) {
        (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => f64::NAN,
    };
    println!("  dreamd consolidate        {consolidate_s:>7.2} s");
    println!("  dream through the daemon  {daemon_s:>7.2} s  ({:.2}x consolidate; job {})", daemon_s / consolidate_s, job["job"]["status"]);
    println!("  of which the engine       {engine_s:>7.2} s  (daemon = {:.2}x the engine alone)", daemon_s / engine_s);
    println!(
        "  the daemon's peak RSS     {:>7.0} MB  ({:.0} MB once GET /v1/jobs/{id} sent the report)",
        peak_kb as f64 / 1024.0,
        show_peak_kb as f64 / 1024.0
    );
    // Sampled every 20 ms, so a lower bound: the engine's stage, then staging and verification.
    if let Some(staged) = when("staged") {
        let max = |engine: bool| rss.iter().filter(|(t, _)| (*t < staged) == engine).map(|r| r.1).max().unwrap_or(0) as f64 / 1024.0;
        println!("  largest RSS sampled       {:>7.0} MB while the engine ran, {:.0} MB from staging on", max(true), max(false));
    }
    println!(
        "  GET /v1/health meanwhile  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} requests)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0),
        lat.len()
    );
    // Where the time went, from the job's log.
    if let Some(first) = events.first().and_then(at) {
        println!("  job log ({} events):", events.len());
        for e in &events {
            if let Some(t) = at(e) {
                let msg: String = e["message"].as_str().unwrap_or("").chars().take(90).collect();
                println!("    +{:>6.2} s  {:<8} {msg}", (t - first).num_milliseconds() as f64 / 1000.0, e["kind"].as_str().unwrap_or(""));
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({"mb": mb, "consolidate_s": consolidate_s, "daemon_s": daemon_s, "engine_s": engine_s, "ratio": daemon_s / consolidate_s,
            "health_p50_ms": percentile(&lat, 0.5), "health_p99_ms": percentile(&lat, 0.99), "health_max_ms": lat.last(),
            "job_status": job["job"]["status"], "daemon_peak_rss_kb": peak_kb, "show_peak_rss_kb": show_peak_kb})
    );
    Ok(())
}
