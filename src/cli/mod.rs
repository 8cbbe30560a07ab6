//! Command line: `run` starts the daemon; the other verbs talk to it over its socket, except
//! `check-config` and `consolidate`, which work alone.

pub mod client;
pub mod render;

use crate::config::{Config, Layout};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use client::Client;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(name = "dreamd", version, about = "Consolidates (\"dreams\") an AI agent's memory directory, hands-off.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Config file (default: $DREAMD_CONFIG, ./dreamd.yaml, /etc/dreamd/dreamd.yaml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Daemon socket (overrides the config's api.socket).
    #[arg(long, global = true)]
    pub socket: Option<PathBuf>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground.
    Run {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        log_format: LogFormat,
    },
    /// Validate a config file; exits non-zero with file:line:column on error.
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// What the daemon sees and would do.
    Status(Target),
    /// Ask for a dream now.
    Dream {
        #[command(flatten)]
        target: Target,
        /// Bypass thresholds (never quota or budget).
        #[arg(long)]
        force: bool,
    },
    /// Recent jobs, newest first.
    Jobs {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One job: status, policy checks, changes.
    Show {
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Unified diff of a job's candidate against the store it was made from.
    Diff {
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// What a job read and wrote; --follow streams it live.
    Log {
        job: i64,
        #[command(flatten)]
        target: Target,
        #[arg(long, short)]
        follow: bool,
    },
    /// Apply a held job.
    Approve {
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Stop a queued or running job.
    Cancel {
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Drop a held job.
    Discard {
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Restore a generation (default: the newest one).
    Rollback {
        generation: Option<i64>,
        #[command(flatten)]
        target: Target,
    },
    /// Stores kept for rollback.
    Generations(Target),
    /// Run the built-in engine once, no daemon, no state: write the candidate to --out.
    Consolidate {
        memory_dir: PathBuf,
        #[arg(long)]
        sessions: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "claude-code")]
        layout: LayoutArg,
        /// Keep superseded values under "## Superseded".
        #[arg(long)]
        keep_history: bool,
        /// Regex marking entries as pinned (repeatable).
        #[arg(long = "pinned-pattern")]
        pinned_patterns: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayoutArg {
    ClaudeCode,
    Generic,
}

/// The config file to use when none is given.
pub fn default_config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("DREAMD_CONFIG") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("dreamd.yaml");
    if local.exists() {
        local
    } else {
        PathBuf::from("/etc/dreamd/dreamd.yaml")
    }
}

pub fn load_config(path: Option<&Path>) -> Result<Config> {
    let path = path.map(Path::to_path_buf).unwrap_or_else(default_config_path);
    Config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn socket_of(t: &Target) -> Result<PathBuf> {
    if let Some(s) = &t.socket {
        return Ok(s.clone());
    }
    Ok(load_config(t.config.as_deref())?.socket_path())
}

fn print(t: &Target, v: &Value, human: impl Fn(&Value) -> String) {
    if t.json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        print!("{}", human(v));
    }
}

/// Run a client verb. `run` is handled by `main`.
pub async fn client_command(cmd: Command) -> Result<()> {
    match cmd {
        Command::Run { .. } => unreachable!("handled by main"),
        Command::CheckConfig { config } => {
            let c = load_config(config.as_deref())?;
            if let Some(problem) = c.memory_dir_problem() {
                anyhow::bail!("{problem}");
            }
            println!(
                "{}: ok (agent {}, memory_dir {})",
                c.source.as_deref().unwrap_or(Path::new("?")).display(),
                c.agent.name,
                c.agent.memory_dir.display()
            );
            Ok(())
        }
        Command::Consolidate { memory_dir, sessions, out, layout, keep_history, pinned_patterns, json } => {
            consolidate(&memory_dir, sessions.as_deref(), &out, layout, keep_history, &pinned_patterns, json)
        }
        Command::Status(t) => {
            let v = Client::new(&socket_of(&t)?).get("/v1/status").await?;
            print(&t, &v, render::key_values);
            Ok(())
        }
        Command::Dream { target, force } => {
            let v = Client::new(&socket_of(&target)?).post("/v1/dreams", &json!({"force": force})).await?;
            print(&target, &v, |v| format!("dream requested: job {} ({})\n", v["job"]["id"], v["job"]["status"].as_str().unwrap_or("?")));
            Ok(())
        }
        Command::Jobs { target, limit } => {
            let v = Client::new(&socket_of(&target)?).get(&format!("/v1/jobs?limit={limit}")).await?;
            print(&target, &v, render::jobs);
            Ok(())
        }
        Command::Show { job, target } => {
            let v = Client::new(&socket_of(&target)?).get(&format!("/v1/jobs/{job}")).await?;
            print(&target, &v, render::job);
            Ok(())
        }
        Command::Diff { job, target } => {
            let v = Client::new(&socket_of(&target)?).get(&format!("/v1/jobs/{job}/diff")).await?;
            print(&target, &v, render::diff);
            Ok(())
        }
        Command::Log { job, target, follow } => {
            let client = Client::new(&socket_of(&target)?);
            let json_out = target.json;
            let each = |e: Value| {
                if json_out {
                    println!("{e}");
                } else {
                    println!("{}", render::event(&e));
                }
            };
            if follow {
                client.stream_lines(&format!("/v1/jobs/{job}/events?follow=true"), each).await
            } else {
                let v = client.get(&format!("/v1/jobs/{job}/events")).await?;
                v["events"].as_array().into_iter().flatten().cloned().for_each(each);
                Ok(())
            }
        }
        Command::Approve { job, target } => decide(&target, job, "approve").await,
        Command::Discard { job, target } => decide(&target, job, "discard").await,
        Command::Cancel { job, target } => decide(&target, job, "cancel").await,
        Command::Rollback { generation, target } => {
            let v = Client::new(&socket_of(&target)?).post("/v1/rollback", &json!({"generation": generation})).await?;
            print(&target, &v, |v| {
                format!("restored generation {}; the store it replaced is generation {}\n", v["restored"], v["saved_as"])
            });
            Ok(())
        }
        Command::Generations(t) => {
            let v = Client::new(&socket_of(&t)?).get("/v1/generations").await?;
            print(&t, &v, render::generations);
            Ok(())
        }
    }
}

/// approve / discard / cancel: the same call with the caller's name as `by`.
async fn decide(target: &Target, job: i64, verb: &str) -> Result<()> {
    let who = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let v = Client::new(&socket_of(target)?).post(&format!("/v1/jobs/{job}/{verb}"), &json!({"by": format!("cli:{who}")})).await?;
    print(target, &v, |v| format!("job {} {}\n", v["job"]["id"], v["job"]["status"].as_str().unwrap_or("?")));
    Ok(())
}

fn consolidate(
    memory_dir: &Path,
    sessions: Option<&Path>,
    out: &Path,
    layout: LayoutArg,
    keep_history: bool,
    pins: &[String],
    json_out: bool,
) -> Result<()> {
    use crate::engine::{builtin, DreamInput};
    let layout = match layout {
        LayoutArg::ClaudeCode => Layout::ClaudeCode,
        LayoutArg::Generic => Layout::Generic,
    };
    let store = crate::store::Store::read(memory_dir)?;
    let transcripts = match sessions {
        Some(dir) => crate::sessions::discover(dir, layout, "**/*.jsonl")?.iter().map(crate::sessions::read_session).collect(),
        None => Vec::new(),
    };
    let pins = crate::memory::PinRules::new(pins).context("invalid --pinned-pattern")?;
    let input = DreamInput { store, transcripts, layout, pins, now: chrono::Utc::now(), keep_history, cancel: Default::default() };
    let (candidate, report) = builtin::consolidate(&input)?;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        anyhow::bail!("{} exists and is not empty; choose an empty or new directory", out.display());
    }
    candidate.write_to(out)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let t = &report.totals;
        let pct = if t.bytes_before > 0 { 100.0 * (t.bytes_before as f64 - t.bytes_after as f64) / t.bytes_before as f64 } else { 0.0 };
        println!(
            "{} changes; {} → {} bytes ({pct:.1}% smaller), {} → {} entries, ~{} → ~{} tokens",
            report.changes.len(),
            t.bytes_before,
            t.bytes_after,
            t.entries_before,
            t.entries_after,
            t.tokens_before,
            t.tokens_after
        );
        for c in &report.changes {
            println!("  {}  {:<13} {:<22} {}", c.id, serde_json::to_value(c.kind)?.as_str().unwrap_or("?"), c.file, c.reason);
        }
        for w in &report.warnings {
            eprintln!("warning: {}: {}", w.file, w.message);
        }
        for f in &report.flags {
            println!("  flag: {}", f.message);
        }
        println!("candidate written to {}", out.display());
    }
    Ok(())
}
