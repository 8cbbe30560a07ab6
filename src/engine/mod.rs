//! Engines turn a snapshot of the store (plus transcripts) into a candidate store and a report.

pub mod builtin;
pub mod command;

use crate::config::{Config, EngineKind, Layout};
use crate::memory::PinRules;
use crate::report::Report;
use crate::sessions::Transcript;
use crate::store::Store;
use anyhow::Result;
use chrono::{DateTime, Utc};
pub use tokio_util::sync::CancellationToken;

/// Everything an engine may look at. The live store itself is out of reach.
#[derive(Debug, Clone)]
pub struct DreamInput {
    pub store: Store,
    pub transcripts: Vec<Transcript>,
    pub layout: Layout,
    pub pins: PinRules,
    pub now: DateTime<Utc>,
    pub keep_history: bool,
    /// Cooperative cancellation: engines check it inside their loops and stop with `Canceled`.
    pub cancel: CancellationToken,
}

/// The job was canceled (or timed out) while the engine ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the dream was canceled")]
pub struct Canceled;

#[derive(Debug, Clone)]
pub struct DreamOutput {
    pub candidate: Store,
    pub report: Report,
    /// What the job actually cost, in USD.
    pub cost_usd: f64,
}

/// What a running dream reads and writes, for the live log.
pub trait EventSink: Send + Sync {
    fn emit(&self, kind: &str, message: String);
}

impl<F: Fn(&str, String) + Send + Sync> EventSink for F {
    fn emit(&self, kind: &str, message: String) {
        self(kind, message)
    }
}

#[derive(Debug, Clone)]
pub enum Engine {
    Builtin,
    Command(command::CommandEngine),
}

/// What a job costs: a flat price plus one per MB (10^6 bytes) of store and one per session
/// transcript the engine is given.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    pub per_job_usd: f64,
    pub per_mb_usd: f64,
    pub per_session_usd: f64,
}

impl Price {
    pub fn of(&self, store_bytes: u64, sessions: usize) -> f64 {
        self.per_job_usd + self.per_mb_usd * store_bytes as f64 / 1e6 + self.per_session_usd * sessions as f64
    }
}

impl Engine {
    pub fn from_config(config: &Config) -> Engine {
        let e = &config.engine;
        match e.kind {
            EngineKind::Builtin => Engine::Builtin,
            EngineKind::Command => Engine::Command(command::CommandEngine {
                argv: e.command.clone(),
                price: Price { per_job_usd: e.cost_per_job_usd, per_mb_usd: e.cost_per_mb_usd, per_session_usd: e.cost_per_session_usd },
                timeout: config.limits.job_timeout.0,
                limits: command::Limits {
                    max_output_bytes: e.max_output_bytes,
                    max_output_files: e.max_output_files,
                    max_log_lines: e.max_log_lines,
                },
                pass_env: e.pass_env.clone(),
                confine_writes: e.confine_writes,
                work_parent: Some(config.state_dir.join("engine")),
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Engine::Builtin => "builtin",
            Engine::Command(_) => "command",
        }
    }

    /// Cost estimate before the job runs, checked against the budget: from the store's size
    /// and the number of session transcripts the engine will be given.
    pub fn estimate_cost_usd(&self, store_bytes: u64, sessions: usize) -> f64 {
        match self {
            Engine::Builtin => 0.0,
            Engine::Command(c) => c.price.of(store_bytes, sessions),
        }
    }

    /// Run the engine. `DreamOutput::cost_usd` is what the job really cost: 0 for the built-in
    /// engine; for a command, the `cost_usd` of its report, else its price for what it was given.
    pub async fn dream(&self, input: DreamInput, events: &dyn EventSink) -> Result<DreamOutput> {
        self.dream_within(input, events, None).await
    }

    /// [`Engine::dream`] within a memory budget in bytes (`limits.max_memory_mb`), which the
    /// built-in engine keeps to (`builtin::budget`); a command engine is a process of its own.
    pub async fn dream_within(&self, input: DreamInput, events: &dyn EventSink, budget: Option<u64>) -> Result<DreamOutput> {
        match self {
            Engine::Builtin => {
                // CPU-bound and pure: keep it off the async workers.
                // The job summarises the report's changes in its log (one line, not one per change).
                let (candidate, report) = tokio::task::spawn_blocking(move || builtin::consolidate_within(&input, budget)).await??;
                Ok(DreamOutput { candidate, report, cost_usd: 0.0 })
            }
            Engine::Command(c) => c.dream(input, events).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_uses_store_size_and_sessions() {
        let mut config: Config = serde_yaml::from_str("agent: {memory_dir: /m}\nengine: {kind: command, command: [x]}").unwrap();
        assert_eq!(Engine::from_config(&config).estimate_cost_usd(5_000_000, 7), 0.0);
        config.engine.cost_per_job_usd = 0.5;
        config.engine.cost_per_mb_usd = 0.1;
        config.engine.cost_per_session_usd = 0.02;
        let e = Engine::from_config(&config);
        assert!((e.estimate_cost_usd(5_000_000, 7) - (0.5 + 0.5 + 0.14)).abs() < 1e-9);
        assert!((e.estimate_cost_usd(0, 0) - 0.5).abs() < 1e-9);
        config.engine.kind = EngineKind::Builtin;
        assert_eq!(Engine::from_config(&config).estimate_cost_usd(5_000_000, 7), 0.0);
    }
}
