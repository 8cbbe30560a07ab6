//! Counts over the job history, for the metrics.

use super::State;
use anyhow::Result;
use std::collections::BTreeMap;

/// Jobs with one status and trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub status: String,
    pub trigger: String,
    pub jobs: u64,
}

impl State {
    pub fn job_counts(&self) -> Result<Vec<JobCount>> {
        let c = self.conn();
        let mut stmt = c.prepare("SELECT status, trigger, COUNT(*) FROM jobs GROUP BY status, trigger ORDER BY status, trigger")?;
        let rows = stmt.query_map([], |r| Ok(JobCount { status: r.get(0)?, trigger: r.get(1)?, jobs: r.get::<_, i64>(2)? as u64 }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Jobs that were held for a person, by the check that failed (`auto_apply_off` when
    /// every check passed). A job held by two checks counts under both.
    pub fn holds_by_check(&self) -> Result<BTreeMap<String, u64>> {
        let c = self.conn();
        let mut stmt =
            c.prepare("SELECT policy FROM jobs WHERE decision LIKE 'held%' OR decision IN ('approved', 'discarded') OR status = 'held'")?;
        let mut out = BTreeMap::new();
        for policy in stmt.query_map([], |r| r.get::<_, Option<String>>(0))? {
            let policy: serde_json::Value = policy?.and_then(|p| serde_json::from_str(&p).ok()).unwrap_or_default();
            let failed: Vec<String> = policy["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["passed"] == false)
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect();
            if failed.is_empty() {
                *out.entry("auto_apply_off".to_string()).or_default() += 1;
            }
            for name in failed {
                *out.entry(name).or_default() += 1;
            }
        }
        Ok(out)
    }
}
