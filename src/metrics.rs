//! What dreamd counts as it goes, for `GET /metrics`: gate decisions, dream durations, refused
//! API requests. Everything that can be read from the state (jobs, holds, quota, generations,
//! part health) is read at scrape time instead (`api/metrics.rs`), so it survives restarts and
//! is never out of step with `status`. Depends on nothing else in the crate.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

pub type Labels = Vec<(&'static str, String)>;
type Seconds = Gauge<f64, AtomicU64>;

fn duration_histogram() -> Histogram {
    // 50 ms … ~50 min: a small store with the built-in engine up to a model engine on a large one.
    Histogram::new(exponential_buckets(0.05, 3.0, 11))
}

pub struct Metrics {
    gate_decisions: Family<Labels, Counter>,
    last_evaluation: Family<Labels, Seconds>,
    dream_duration: Family<Labels, Histogram, fn() -> Histogram>,
    api_refused: Family<Labels, Counter>,
    started_at: Seconds,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            gate_decisions: Family::default(),
            last_evaluation: Family::default(),
            dream_duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            api_refused: Family::default(),
            started_at: Seconds::default(),
        }
    }
}

impl Metrics {
    /// `at`: the daemon's start, seconds since the epoch.
    pub fn new(at: f64) -> Metrics {
        let m = Metrics::default();
        m.started_at.set(at);
        m
    }

    /// The gate answered (`fire`, `wait`, `deny`) for a trigger, with its reason code.
    pub fn gate_decision(&self, trigger: &str, decision: &str, reason: &str, at: f64) {
        self.gate_decisions
            .get_or_create(&vec![("trigger", trigger.to_string()), ("decision", decision.to_string()), ("reason", reason.to_string())])
            .inc();
        self.last_evaluation.get_or_create(&vec![("trigger", trigger.to_string())]).set(at);
    }

    /// A dream (snapshot → engine → stage → verify) ended with `outcome` after `seconds`.
    pub fn dream_finished(&self, outcome: &str, seconds: f64) {
        self.dream_duration.get_or_create(&vec![("outcome", outcome.to_string())]).observe(seconds);
    }

    /// An API request or connection was refused (`peer`, `host`, `origin`, `token`, `connections`).
    pub fn api_refused(&self, why: &str) {
        self.api_refused.get_or_create(&vec![("reason", why.to_string())]).inc();
    }

    /// Add these metrics to a registry being built for a scrape.
    pub fn register(&self, r: &mut Registry) {
        r.register("gate_decisions", "Gate evaluations by trigger, decision and reason code", self.gate_decisions.clone());
        r.register_with_unit(
            "gate_last_evaluation_timestamp",
            "When the gate last evaluated a trigger (seconds since the epoch)",
            Unit::Seconds,
            self.last_evaluation.clone(),
        );
        r.register_with_unit(
            "dream_duration",
            "How long dreams took, from start to a verified candidate, by outcome",
            Unit::Seconds,
            self.dream_duration.clone(),
        );
        r.register("api_refused", "API requests and connections refused, by reason", self.api_refused.clone());
        r.register_with_unit("start_time", "When this daemon started (seconds since the epoch)", Unit::Seconds, self.started_at.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_are_encoded() {
        let m = Metrics::new(100.0);
        m.gate_decision("schedule", "fire", "schedule", 1234.0);
        m.dream_finished("staged", 0.2);
        m.api_refused("token");
        let mut r = Registry::with_prefix("dreamd");
        m.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &r).unwrap();
        assert!(text.contains("dreamd_gate_decisions_total{trigger=\"schedule\",decision=\"fire\",reason=\"schedule\"} 1"), "{text}");
        assert!(text.contains("dreamd_gate_last_evaluation_timestamp_seconds{trigger=\"schedule\"} 1234"), "{text}");
        assert!(text.contains("dreamd_dream_duration_seconds_count{outcome=\"staged\"} 1"), "{text}");
        assert!(text.contains("dreamd_api_refused_total{reason=\"token\"} 1"), "{text}");
        assert!(text.contains("dreamd_start_time_seconds 100"), "{text}");
    }
}
