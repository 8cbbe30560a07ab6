//! Verification, between stage and apply: the one place that asks the engine-independent
//! verifier (`crate::verify`) about a candidate. Pure over its inputs; the caller runs it on the
//! blocking pool.

use crate::config::Config;
use crate::memory::PinRules;
use crate::report::Report;
use crate::store::Store;
use anyhow::Result;

/// The policy's verdict, as the job owner needs it.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Every check passed: may be applied without asking (if `auto_apply` is on).
    pub passed: bool,
    /// The live store is no longer the dream's base: the job is stale.
    pub live_changed: bool,
    /// The verdict as stored with the job.
    pub policy: serde_json::Value,
    /// Why it did not pass, in one line.
    pub summary: String,
    /// One line per check, for the job's log.
    pub lines: Vec<String>,
}

pub fn verify(config: &Config, base: &Store, candidate: &Store, report: &Report, current_hash: &str) -> Result<Verified> {
    let pins = PinRules::new(&config.policy.pinned_patterns)?;
    let base_hash = base.hash();
    let verdict = crate::verify::evaluate(&crate::verify::Input {
        config,
        pins: &pins,
        live: base,
        candidate,
        report,
        base_hash: &base_hash,
        current_hash,
    });
    Ok(Verified {
        passed: verdict.passed,
        live_changed: current_hash != base_hash,
        policy: serde_json::to_value(&verdict)?,
        summary: verdict.summary(),
        lines: verdict.checks.iter().map(|c| format!("{} {}: {}", if c.passed { "pass" } else { "FAIL" }, c.name, c.reason)).collect(),
    })
}
