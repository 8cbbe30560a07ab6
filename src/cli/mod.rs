//! Command line: `run` starts the daemon; the other verbs talk to it over its socket, except
//! `check-config`, `consolidate`, `completions` and `man`, which work alone.

pub mod args;
pub mod client;
pub mod docs;
pub mod exit;
mod figures;
pub mod render;
mod status;
mod wait;

pub use args::{Cli, Command, LayoutArg, LogFormat, Target};

use crate::config::{Config, Layout};
use anyhow::{Context, Result};
use client::{ApiError, Client};
use hyper::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Where a config is looked for when none is given, in order.
fn default_config_paths() -> Vec<PathBuf> {
    vec![PathBuf::from("dreamd.yaml"), PathBuf::from("/etc/dreamd/dreamd.yaml")]
}

/// The config named on the command line, by `$DREAMD_CONFIG`, or the first that exists of
/// `./dreamd.yaml` and `/etc/dreamd/dreamd.yaml`; when none does, say where we looked.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("DREAMD_CONFIG").filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => {
                let candidates = default_config_paths();
                match candidates.iter().find(|p| p.exists()) {
                    Some(p) => p.clone(),
                    None => {
                        let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "?".into());
                        anyhow::bail!(
                            "no config file found; looked for ./dreamd.yaml (in {cwd}) and /etc/dreamd/dreamd.yaml, and \
                             $DREAMD_CONFIG is not set; pass --config FILE or set DREAMD_CONFIG"
                        );
                    }
                }
            }
        },
    };
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

/// One line of `consolidate`'s report, safe for a terminal.
fn line(text: &str) -> String {
    render::field(text)
}

/// Run a client verb. `run` is handled by `main`.
pub async fn client_command(cmd: Command) -> Result<()> {
    match cmd {
        Command::Run { .. } => unreachable!("handled by main"),
        Command::CheckConfig { config, offline } => {
            let c = load_config(config.as_deref())?;
            if let Some(problem) = c.memory_dir_problem().filter(|_| !offline) {
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
        Command::Consolidate { memory_dir, sessions, out, layout, keep_history, pinned_patterns, json, max_memory_mb } => {
            let budget = (max_memory_mb > 0).then(|| max_memory_mb.saturating_mul(1 << 20));
            let engine = EngineOptions { layout, keep_history, pins: &pinned_patterns, budget };
            consolidate(&memory_dir, sessions.as_deref(), &out, &engine, json)
        }
        Command::Status(t) => {
            let v = Client::new(&socket_of(&t)?).get("/v1/status").await?;
            print(&t, &v, status::render);
            Ok(())
        }
        Command::Dream { target, force, wait } => dream(&target, force, wait).await,
        Command::Health { target, timeout } => health(&target, timeout.0).await,
        Command::Completions { shell } => {
            docs::completions(shell, &mut std::io::stdout());
            Ok(())
        }
        Command::Man { out: None } => docs::main_page(&mut std::io::stdout()),
        Command::Man { out: Some(dir) } => {
            for page in docs::write_pages(&dir)? {
                println!("{}", page.display());
            }
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
            let color = render::color_wanted();
            print(&target, &v, |v| render::diff(v, color));
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
            let who = std::env::var("USER").unwrap_or_else(|_| "cli".into());
            let body = json!({"generation": generation, "by": format!("cli:{who}")});
            let v = Client::new(&socket_of(&target)?).post("/v1/rollback", &body).await?;
            print(&target, &v, |v| {
                format!(
                    "rollback R{}: {}; the store it replaced is generation {}\n",
                    v["rollback"]["id"],
                    render::rollback_summary(&v["rollback"]),
                    v["saved_as"]
                )
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

/// Ask for a dream. The gate saying "not now" is an answer, not a failure of dreamd: say why,
/// and when `--force` would help, say so. A request folded into the running dream is news.
/// With `--wait`, follow the job (started or folded into) to its outcome.
async fn dream(target: &Target, force: bool, wait: bool) -> Result<()> {
    let client = Client::new(&socket_of(target)?);
    let err = match client.post("/v1/dreams", &json!({"force": force})).await {
        Ok(v) if wait => return wait::follow(&client, target.json, v["job"]["id"].as_i64().unwrap_or(0)).await,
        Ok(v) => {
            print(target, &v, |v| format!("dream requested: job {} ({})\n", v["job"]["id"], v["job"]["status"].as_str().unwrap_or("?")));
            return Ok(());
        }
        Err(e) => e,
    };
    let Some(api) = err.downcast_ref::<ApiError>() else { return Err(err) };
    match api.status {
        StatusCode::CONFLICT => {
            // One dream at a time: this request is served by the one in flight.
            let jobs = client.get("/v1/jobs?limit=20").await?;
            let running = jobs["jobs"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|j| matches!(j["status"].as_str(), Some("queued" | "running" | "staged" | "approved")))
                .cloned();
            if let Some(id) = running.as_ref().and_then(|j| j["id"].as_i64()).filter(|_| wait) {
                if !target.json {
                    eprintln!("a dream is already in progress (job {id}); this request is folded into it");
                }
                return wait::follow(&client, target.json, id).await;
            }
            let v = json!({"folded": true, "job": running, "message": api.message});
            print(target, &v, |v| match v["job"].as_object() {
                Some(j) => format!(
                    "a dream is already in progress (job {}, {}); this request is folded into it\n",
                    j["id"],
                    j["status"].as_str().unwrap_or("?")
                ),
                None => format!("{}\n", render::field(&api.message)),
            });
            Ok(())
        }
        StatusCode::TOO_MANY_REQUESTS => {
            let reason = api.message.strip_prefix("not now: ").unwrap_or(&api.message);
            let waiting = api.message.starts_with("not now: ");
            let mut message = format!("no dream now: {reason}");
            // --force passes a wait (thresholds, interval, quiet period, backoff) but never the
            // agent's lock nor a deny (quota, budget).
            if !force && waiting && !reason.contains(".consolidate-lock") {
                message.push_str(
                    "\nhint: `dreamd dream --force` skips thresholds, min_interval, the quiet period and failure \
                     backoff (never quota, budget, the agent's lock or a running dream)",
                );
            }
            Err(exit::Reported { code: exit::NOT_NOW, message }.into())
        }
        _ => Err(err),
    }
}

/// `GET /v1/health` within `timeout`: 0 when it answers ok, 1 otherwise (never 3/4/5: probes
/// only know healthy or not).
async fn health(target: &Target, timeout: std::time::Duration) -> Result<()> {
    let socket = socket_of(target)?;
    let unhealthy = |why: String| exit::Reported { code: exit::ERROR, message: format!("unhealthy: {why}") };
    let answer = tokio::time::timeout(timeout, Client::new(&socket).get("/v1/health")).await;
    let v = match answer {
        Err(_) => {
            return Err(unhealthy(format!("no answer from {} within {}", socket.display(), crate::config::HumanDuration(timeout))).into())
        }
        Ok(Err(e)) => return Err(unhealthy(format!("{e:#}")).into()),
        Ok(Ok(v)) => v,
    };
    if v["ok"] != true {
        return Err(unhealthy(format!("the daemon at {} reports {v}", socket.display())).into());
    }
    print(target, &v, |v| format!("ok: dreamd {} is serving on {}\n", v["version"].as_str().unwrap_or("?"), socket.display()));
    Ok(())
}

/// approve / discard / cancel: the same call with the caller's name as `by`.
async fn decide(target: &Target, job: i64, verb: &str) -> Result<()> {
    let who = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let v = Client::new(&socket_of(target)?).post(&format!("/v1/jobs/{job}/{verb}"), &json!({"by": format!("cli:{who}")})).await?;
    print(target, &v, |v| format!("job {} {}\n", v["job"]["id"], v["job"]["status"].as_str().unwrap_or("?")));
    Ok(())
}

/// How `dreamd consolidate` runs the built-in engine.
struct EngineOptions<'a> {
    layout: LayoutArg,
    keep_history: bool,
    pins: &'a [String],
    /// Memory budget in bytes.
    budget: Option<u64>,
}

fn consolidate(memory_dir: &Path, sessions: Option<&Path>, out: &Path, engine: &EngineOptions, json_out: bool) -> Result<()> {
    use crate::engine::{builtin, DreamInput};
    let EngineOptions { layout, keep_history, pins, budget } = *engine;
    let layout = match layout {
        LayoutArg::ClaudeCode => Layout::ClaudeCode,
        LayoutArg::Generic => Layout::Generic,
    };
    let store = crate::store::Store::read_within(memory_dir, budget.map(|b| b / 2))
        .map_err(|e| crate::store::TooLarge::explain(e, "--max-memory-mb", "0"))?;
    let transcripts = match sessions {
        Some(dir) => crate::sessions::discover(dir, layout, "**/*.jsonl")?.iter().map(crate::sessions::read_session).collect(),
        None => Vec::new(),
    };
    let pins = crate::memory::PinRules::new(pins).context("invalid --pinned-pattern")?;
    let input = DreamInput { store, transcripts, layout, pins, now: chrono::Utc::now(), keep_history, cancel: Default::default() };
    let (candidate, report) = builtin::consolidate_within(&input, budget)?;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        anyhow::bail!("{} exists and is not empty; choose an empty or new directory", out.display());
    }
    candidate.write_to(out)?;
    // dreamd's figures, as `show` prints them for a job (not the engine's totals).
    let figures = serde_json::to_value(crate::figures::compare(&input.store, &candidate, layout, &input.pins))?;
    if json_out {
        let mut v = serde_json::to_value(&report)?;
        v["figures"] = figures;
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{} changes", report.changes.len());
        print!("{}", figures::lines(&figures, 10));
        for c in &report.changes {
            println!("  {}  {:<13} {:<22} {}", c.id, serde_json::to_value(c.kind)?.as_str().unwrap_or("?"), line(&c.file), line(&c.reason));
        }
        for w in &report.warnings {
            eprintln!("warning: {}: {}", line(&w.file), line(&w.message));
        }
        for f in &report.flags {
            println!("  flag: {}", line(&f.message));
        }
        println!("candidate written to {}", out.display());
    }
    Ok(())
}
