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

impl Engine {
    pub fn from_config(config: &Config) -> Engine {
        match config.engine.kind {
            EngineKind::Builtin => Engine::Builtin,
            EngineKind::Command => Engine::Command(command::CommandEngine {
                argv: config.engine.command.clone(),
                cost_per_job_usd: config.engine.cost_per_job_usd,
                timeout: config.limits.job_timeout.0,
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Engine::Builtin => "builtin",
            Engine::Command(_) => "command",
        }
    }

    /// Cost estimate before the job runs, checked against the budget.
    pub fn estimate_cost_usd(&self, _store_bytes: u64, _sessions: usize) -> f64 {
        match self {
            Engine::Builtin => 0.0,
            Engine::Command(c) => c.cost_per_job_usd,
        }
    }

    pub async fn dream(&self, input: DreamInput, events: &dyn EventSink) -> Result<DreamOutput> {
        match self {
            Engine::Builtin => {
                // CPU-bound and pure: keep it off the async workers.
                // The job summarises the report's changes in its log (one line, not one per change).
                let (candidate, report) = tokio::task::spawn_blocking(move || builtin::consolidate(&input)).await??;
                Ok(DreamOutput { candidate, report, cost_usd: 0.0 })
            }
            Engine::Command(c) => c.dream(input, events).await,
        }
    }
}
