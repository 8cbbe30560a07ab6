//! Runs one job: snapshot → engine → stage → policy → apply or hold.

use crate::app::{App, OpError};
use crate::config::Config;
use crate::engine::{DreamInput, Engine};
use crate::job::JobStatus;
use crate::memory::PinRules;
use crate::sessions;
use crate::state::JobUpdate;
use crate::store::Store;
use crate::verify;
use anyhow::{Context, Result};
use std::sync::Arc;

pub async fn run_job(app: Arc<App>, id: i64, engine: Engine) {
    let result = run(&app, id, engine).await;
    app.prune_job_dirs();
    if let Err(e) = result {
        let msg = format!("{e:#}");
        tracing::error!(job = id, error = %msg, "dream failed");
        app.emit(id, "error", &msg);
        let update = JobUpdate { error: Some(msg), finished_at: Some(app.now()), ..Default::default() };
        if let Err(e) = app.state.transition(id, JobStatus::Failed, update) {
            tracing::error!(job = id, error = %e, "cannot mark job failed");
        }
    }
}

async fn run(app: &Arc<App>, id: i64, engine: Engine) -> Result<()> {
    let config = app.config();
    let started = app.now();
    let base = Store::read(&config.agent.memory_dir)?;
    let base_hash = base.hash();
    app.state.transition(
        id,
        JobStatus::Running,
        JobUpdate { started_at: Some(started), base_hash: Some(base_hash.clone()), ..Default::default() },
    )?;
    for (path, f) in &base.files {
        app.emit(id, "read", &format!("memory {path} ({} bytes)", f.bytes.len()));
    }
    let transcripts = read_transcripts(app, id, &config);
    let pins = PinRules::new(&config.policy.pinned_patterns)?;
    let input = DreamInput {
        store: base.clone(),
        transcripts,
        layout: config.agent.layout,
        pins: pins.clone(),
        now: started,
        keep_history: config.engine.keep_history,
        cancel: Default::default(),
    };
    let sink = |kind: &str, msg: String| app.emit(id, kind, &msg);
    let output = tokio::time::timeout(config.limits.job_timeout.0, engine.dream(input, &sink))
        .await
        .map_err(|_| anyhow::anyhow!("the engine did not finish within {}", config.limits.job_timeout))??;
    for w in &output.report.warnings {
        tracing::warn!(job = id, file = %w.file, "{}", w.message);
        app.emit(id, "warning", &format!("{}: {}", w.file, w.message));
    }
    let day = app.quota_day(started);
    let estimate = app.state.job(id)?.estimated_cost_usd;
    app.state.ledger_add(&day, 0, output.cost_usd - estimate)?;

    let dir = app.job_dir(id);
    dir.write(&base, &output.candidate, &output.report).context("cannot stage the candidate")?;
    app.emit(id, "staged", &format!("candidate staged in {}", dir.candidate().display()));
    let metrics = serde_json::to_value(&output.report.totals)?;
    app.state.transition(
        id,
        JobStatus::Staged,
        JobUpdate {
            candidate_hash: Some(output.candidate.hash()),
            metrics: Some(metrics),
            cost_usd: Some(output.cost_usd),
            ..Default::default()
        },
    )?;
    decide(app, id, &config, &base, &output.candidate, &output.report, &pins).await
}

fn read_transcripts(app: &App, id: i64, config: &Config) -> Vec<sessions::Transcript> {
    let Some(dir) = &config.agent.sessions_dir else { return Vec::new() };
    let found = match sessions::discover(dir, config.agent.layout, &config.triggers.session_glob) {
        Ok(f) => f,
        Err(e) => {
            app.emit(id, "warning", &format!("cannot list sessions in {}: {e:#}", dir.display()));
            return Vec::new();
        }
    };
    found
        .iter()
        .map(|s| {
            let t = sessions::read_session(s);
            app.emit(id, "read", &format!("session {} ({} records)", s.id, t.records.len()));
            if t.skipped_lines > 0 {
                app.emit(id, "warning", &format!("session {}: skipped {} malformed line(s)", s.id, t.skipped_lines));
            }
            t
        })
        .collect()
}

/// Policy, then apply (auto) or hold. Also used on restart for jobs staged before a crash.
pub async fn decide(
    app: &Arc<App>,
    id: i64,
    config: &Config,
    base: &Store,
    candidate: &Store,
    report: &crate::report::Report,
    pins: &PinRules,
) -> Result<()> {
    let _live = app.live_lock.lock().await;
    let current_hash = Store::read(&config.agent.memory_dir)?.hash();
    let base_hash = base.hash();
    let verdict = verify::evaluate(&verify::Input {
        config,
        pins,
        live: base,
        candidate,
        report,
        base_hash: &base_hash,
        current_hash: &current_hash,
    });
    let policy_json = serde_json::to_value(&verdict)?;
    for c in &verdict.checks {
        app.emit(id, "policy", &format!("{} {}: {}", if c.passed { "pass" } else { "FAIL" }, c.name, c.reason));
    }
    if current_hash != base_hash {
        app.state.transition(
            id,
            JobStatus::Stale,
            JobUpdate {
                policy: Some(policy_json),
                error: Some("the live store changed since the dream began".into()),
                finished_at: Some(app.now()),
                ..Default::default()
            },
        )?;
        tracing::warn!(job = id, "live store changed during the dream; candidate is stale");
        return Ok(());
    }
    if verdict.passed && config.policy.auto_apply {
        let update = JobUpdate {
            policy: Some(policy_json.clone()),
            decision: Some("auto-applied".into()),
            decided_by: Some("policy".into()),
            decided_at: Some(app.now()),
            ..Default::default()
        };
        let job = app.state.update(id, update)?;
        match app.apply_job(&job) {
            Ok(_) => Ok(()),
            Err(OpError::Conflict(msg)) => {
                app.state.transition(
                    id,
                    JobStatus::Stale,
                    JobUpdate { policy: Some(policy_json), error: Some(msg), finished_at: Some(app.now()), ..Default::default() },
                )?;
                Ok(())
            }
            Err(e) => Err(anyhow::anyhow!(e.to_string())),
        }
    } else {
        let why = if verdict.passed { "auto_apply is off".to_string() } else { verdict.summary() };
        app.state.transition(
            id,
            JobStatus::Held,
            JobUpdate { policy: Some(policy_json), decision: Some(format!("held: {why}")), ..Default::default() },
        )?;
        app.emit(id, "held", &format!("held for approval: {why}"));
        tracing::info!(job = id, reason = %why, "candidate held for approval");
        Ok(())
    }
}
