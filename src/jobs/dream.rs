//! One dream, top-down: snapshot → engine → (unchanged?) → stage → verify. It writes the job's
//! log and its staging directory, never job state: it returns a [`DreamOutcome`] and the owner
//! records it. Blocking steps run on the blocking pool; the engine is stopped cooperatively
//! through the job's cancellation token (cancel, timeout, shutdown).

use super::verify::{self, Verified};
use crate::config::Config;
use crate::context::Context;
use crate::engine::{DreamInput, DreamOutput, Engine};
use crate::memory::PinRules;
use crate::report::Report;
use crate::sessions::{self, Transcript};
use crate::store::Store;
use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a canceled engine may take to notice its token before it is dropped.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Warnings of one kind logged per job before they are summarised.
const MAX_LISTED: usize = 20;

pub enum DreamOutcome {
    /// The candidate is byte-identical to the live store: nothing to stage or apply.
    Unchanged {
        base_hash: String,
        cost_usd: f64,
    },
    Staged(Staged),
    Canceled,
    TimedOut(Duration),
}

pub struct Staged {
    pub base_hash: String,
    pub candidate_hash: String,
    pub metrics: serde_json::Value,
    /// None when resumed from a staging directory (the cost was recorded then).
    pub cost_usd: Option<f64>,
    pub verified: Verified,
    /// The candidate in memory, so an auto-apply need not read it back.
    pub candidate: Option<Arc<Store>>,
    /// Staged before a restart: the job is `staged` already.
    pub resumed: bool,
}

/// Run a dream for job `id` (already `running`).
pub async fn dream(ctx: Arc<Context>, id: i64, engine: Engine, cancel: CancellationToken, started: DateTime<Utc>) -> Result<DreamOutcome> {
    let config = ctx.config();

    // 1. Snapshot: the store and the transcripts, read once; the base is staged at once so
    //    that only the engine's input holds the store in memory while the engine runs.
    let (base, transcripts) = ctx
        .blocking(move |ctx| -> Result<_> {
            let (base, transcripts) = read_inputs(ctx, id)?;
            ctx.job_dir(id).stage_base(&base).context("cannot stage the candidate")?;
            Ok((base, transcripts))
        })
        .await??;
    let base_hash = base.hash();

    // 2. The engine; stopped through the token.
    let input = DreamInput {
        store: base,
        transcripts,
        layout: config.agent.layout,
        pins: PinRules::new(&config.policy.pinned_patterns)?,
        now: started,
        keep_history: config.engine.keep_history,
        cancel: cancel.child_token(),
    };
    let output = match run_engine(&ctx, id, &engine, input, &cancel, &config.limits).await? {
        EngineRun::Done(output) => *output,
        EngineRun::Canceled => return Ok(DreamOutcome::Canceled),
        EngineRun::TimedOut => return Ok(DreamOutcome::TimedOut(config.limits.job_timeout.0)),
    };
    // The engine ran on a blocking thread, whose freed memory stays in that thread's malloc
    // arena; verification allocates on another. Handing it back first keeps the daemon's peak
    // the larger of the two stages, not their sum.
    crate::allocator::release_free_memory();
    // Test seam: a panic "in the engine" (compiled out unless the `test-hooks` feature is on).
    fail::fail_point!("dream::engine");
    summarise_report(&ctx, id, &output.report);

    // 3. Nothing changed: no staging, no apply, no generation.
    let candidate_hash = output.candidate.hash();
    if candidate_hash == base_hash {
        ctx.emit(id, "unchanged", "the candidate is identical to the live store; nothing to apply");
        ctx.job_dir(id).remove();
        return Ok(DreamOutcome::Unchanged { base_hash, cost_usd: output.cost_usd });
    }

    // 4. Stage and 5. verify, together on the blocking pool. The job's figures are dreamd's
    //    own, from the two stores (see `figures`), not the engine's totals.
    let cost_usd = output.cost_usd;
    let candidate = Arc::new(output.candidate);
    let report = output.report;
    let c = candidate.clone();
    let expected = base_hash.clone();
    let (verified, metrics) = ctx
        .blocking(move |ctx| -> Result<(Verified, serde_json::Value)> {
            let dir = ctx.job_dir(id);
            let base = dir.staged_base()?;
            anyhow::ensure!(base.hash() == expected, "the staged base of job {id} changed while the engine ran");
            dir.finish(&base, &c, &report).context("cannot stage the candidate")?;
            ctx.emit(id, "staged", &format!("candidate staged in {}", dir.candidate().display()));
            let config = ctx.config();
            let figures = figures_of(&config, &base, &c)?;
            Ok((verify_staged(ctx, id, &config, &base, &c, &report)?, figures))
        })
        .await??;
    crate::allocator::release_free_memory();
    Ok(DreamOutcome::Staged(Staged {
        base_hash,
        candidate_hash,
        metrics,
        cost_usd: Some(cost_usd),
        verified,
        candidate: Some(candidate),
        resumed: false,
    }))
}

/// A job staged before a restart: verify it again from its staging directory, once the staged
/// stores are proven to be the ones recorded (staging is not flushed file by file).
pub async fn resume(ctx: Arc<Context>, id: i64) -> Result<DreamOutcome> {
    ctx.blocking(move |ctx| -> Result<DreamOutcome> {
        let job = ctx.state.job(id)?;
        let dir = ctx.job_dir(id);
        let (base, candidate, report) = (dir.read_base()?, dir.read_candidate()?, dir.read_report()?);
        let (base_hash, candidate_hash) = (base.hash(), candidate.hash());
        if job.base_hash.as_deref() != Some(base_hash.as_str()) || job.candidate_hash.as_deref() != Some(candidate_hash.as_str()) {
            anyhow::bail!("the staged files of job {id} are not the ones recorded (cut short by a crash?); request a new dream");
        }
        let config = ctx.config();
        let verified = verify_staged(ctx, id, &config, &base, &candidate, &report)?;
        Ok(DreamOutcome::Staged(Staged {
            base_hash,
            candidate_hash,
            metrics: figures_of(&config, &base, &candidate)?,
            cost_usd: None,
            verified,
            candidate: Some(Arc::new(candidate)),
            resumed: true,
        }))
    })
    .await?
}

fn figures_of(config: &Config, base: &Store, candidate: &Store) -> Result<serde_json::Value> {
    let pins = PinRules::new(&config.policy.pinned_patterns)?;
    Ok(serde_json::to_value(crate::figures::compare(base, candidate, config.agent.layout, &pins))?)
}

fn verify_staged(ctx: &Context, id: i64, config: &Config, base: &Store, candidate: &Store, report: &Report) -> Result<Verified> {
    // The live store as it is now, streamed (not held in memory).
    let current_hash = crate::watch::scan_memory(&config.agent.memory_dir).hash;
    fail::fail_point!("dream::verify");
    let verified = verify::verify(config, base, candidate, report, &current_hash)?;
    for line in &verified.lines {
        ctx.emit(id, "policy", line);
    }
    Ok(verified)
}

fn read_inputs(ctx: &Context, id: i64) -> Result<(Store, Vec<Transcript>)> {
    let config = ctx.config();
    let base = Store::read_within(&config.agent.memory_dir, config.limits.max_store_bytes())
        .map_err(|e| crate::store::TooLarge::explain(e, "limits.max_memory_mb", "null"))?;
    ctx.emit(id, "read", &format!("memory: {} files, {} bytes", base.files.len(), base.total_bytes()));
    let transcripts = read_transcripts(ctx, id, &config);
    Ok((base, transcripts))
}

fn read_transcripts(ctx: &Context, id: i64, config: &Config) -> Vec<Transcript> {
    let Some(dir) = &config.agent.sessions_dir else { return Vec::new() };
    let found = match sessions::discover(dir, config.agent.layout, &config.triggers.session_glob) {
        Ok(f) => f,
        Err(e) => {
            ctx.emit(id, "warning", &format!("cannot list sessions in {}: {e:#}", dir.display()));
            return Vec::new();
        }
    };
    let transcripts: Vec<Transcript> = found.iter().map(sessions::read_session).collect();
    let records: usize = transcripts.iter().map(|t| t.records.len()).sum();
    ctx.emit(id, "read", &format!("sessions: {} transcripts, {records} records", transcripts.len()));
    let damaged: Vec<&Transcript> = transcripts.iter().filter(|t| t.skipped_lines > 0).collect();
    for t in damaged.iter().take(MAX_LISTED) {
        ctx.emit(id, "warning", &format!("session {}: skipped {} malformed line(s)", t.id, t.skipped_lines));
    }
    if damaged.len() > MAX_LISTED {
        ctx.emit(id, "warning", &format!("… and {} more sessions with malformed lines", damaged.len() - MAX_LISTED));
    }
    transcripts
}

enum EngineRun {
    Done(Box<DreamOutput>),
    Canceled,
    TimedOut,
}

/// The engine, under the job's token and the timeout. Both cancel a child token the engine
/// checks inside its loops; an engine that does not stop within [`CANCEL_GRACE`] is dropped
/// (a command engine's process is killed with it).
/// [`CANCEL_GRACE`]: CANCEL_GRACE
async fn run_engine(
    ctx: &Arc<Context>,
    id: i64,
    engine: &Engine,
    input: DreamInput,
    job: &CancellationToken,
    limits: &crate::config::LimitsConfig,
) -> Result<EngineRun> {
    let (timeout, budget) = (limits.job_timeout.0, limits.memory_budget());
    let engine_token = input.cancel.clone();
    let sink = |kind: &str, msg: String| ctx.emit(id, kind, &msg);
    let run = engine.dream_within(input, &sink, budget);
    tokio::pin!(run);
    let timed_out = tokio::select! {
        // An engine that noticed a cancel first says so with an error: it is a cancel.
        r = &mut run => return match r {
            Err(_) if job.is_cancelled() => Ok(EngineRun::Canceled),
            r => r.map(|o| EngineRun::Done(Box::new(o))),
        },
        _ = tokio::time::sleep(timeout) => true,
        _ = job.cancelled() => false,
    };
    engine_token.cancel();
    // Give the engine the chance to notice; its result no longer matters.
    let _ = tokio::time::timeout(CANCEL_GRACE, &mut run).await;
    Ok(if timed_out { EngineRun::TimedOut } else { EngineRun::Canceled })
}

/// One line for all the changes, by kind: a 100 MB store has hundreds of thousands.
fn summarise_report(ctx: &Context, id: i64, report: &Report) {
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for c in &report.changes {
        let kind = serde_json::to_value(c.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        *by_kind.entry(kind).or_default() += 1;
    }
    let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let files: std::collections::BTreeSet<&str> = report.changes.iter().map(|c| c.file.as_str()).collect();
    let summary = if kinds.is_empty() { "no changes".to_string() } else { kinds.join(", ") };
    ctx.emit(id, "write", &format!("{summary} in {} file(s)", files.len()));
    for f in report.flags.iter().filter(|f| f.kind == "memory_budget") {
        tracing::warn!(job = id, "{}", f.message);
        ctx.emit(id, "warning", &f.message);
    }
    for w in report.warnings.iter().take(MAX_LISTED) {
        tracing::warn!(job = id, file = %w.file, "{}", w.message);
        ctx.emit(id, "warning", &format!("{}: {}", w.file, w.message));
    }
    if report.warnings.len() > MAX_LISTED {
        ctx.emit(id, "warning", &format!("… and {} more warnings (see the report)", report.warnings.len() - MAX_LISTED));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::state::State;

    fn context(dir: &std::path::Path) -> Arc<Context> {
        let memory = dir.join("memory");
        std::fs::create_dir_all(&memory).unwrap();
        std::fs::write(memory.join("MEMORY.md"), "- [a](a.md)\n").unwrap();
        std::fs::write(memory.join("a.md"), "- a fact\n- a fact\n").unwrap();
        let yaml = format!("agent:\n  memory_dir: {}\nstate_dir: {}\n", memory.display(), dir.join("state").display());
        let config = Config::from_yaml(&yaml, &dir.join("dreamd.yaml")).unwrap();
        let state = State::open(&dir.join("state/dreamd.db")).unwrap();
        Context::new(config, state, Arc::new(SystemClock), CancellationToken::new())
    }

    #[tokio::test]
    async fn a_canceled_job_stops_the_built_in_engine_and_stages_nothing() {
        let d = tempfile::tempdir().unwrap();
        let ctx = context(d.path());
        let id = ctx.state.insert_job("manual", "builtin", 0.0, ctx.now()).unwrap().id;
        let cancel = CancellationToken::new();
        cancel.cancel();
        let outcome = dream(ctx.clone(), id, Engine::Builtin, cancel, ctx.now()).await.unwrap();
        assert!(matches!(outcome, DreamOutcome::Canceled));
        assert!(!ctx.job_dir(id).path().exists(), "nothing staged");
    }

    #[tokio::test]
    async fn the_built_in_engine_dreams_and_stages_when_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let ctx = context(d.path());
        let id = ctx.state.insert_job("manual", "builtin", 0.0, ctx.now()).unwrap().id;
        let outcome = dream(ctx.clone(), id, Engine::Builtin, CancellationToken::new(), ctx.now()).await.unwrap();
        let DreamOutcome::Staged(s) = outcome else { panic!("expected a staged candidate") };
        assert_ne!(s.base_hash, s.candidate_hash);
        assert!(ctx.job_dir(id).read_candidate().is_ok());
        let kinds: Vec<String> = ctx.state.events(id, 0).unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "write").count(), 1, "changes are summarised in one line: {kinds:?}");
    }
}
