//! `GET /metrics` after real dreams, parsed as Prometheus parses it: every family documented
//! and typed, and the values the same as `status` and `show` give for the same moment.

mod common;
use common::*;
use prometheus_parse::{Scrape, Value as Prom};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// (content type, body) of `GET /metrics`.
fn scrape_text(env: &Env) -> (String, String) {
    let mut s = UnixStream::connect(env.socket()).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let ctype = head.lines().find_map(|l| l.strip_prefix("content-type: ")).unwrap_or("").to_string();
    (ctype, body.to_string())
}

/// Parse strictly enough: every sample belongs to a family with HELP and TYPE, every line is
/// understood, names are valid.
fn parse(text: &str) -> Scrape {
    let name_ok = regex::Regex::new(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$").unwrap();
    let mut typed = std::collections::HashMap::new();
    let mut helped = std::collections::HashSet::new();
    let mut samples = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split_whitespace().next().unwrap().to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            let (name, kind) = (it.next().unwrap().to_string(), it.next().unwrap().to_string());
            assert!(["counter", "gauge", "histogram"].contains(&kind.as_str()), "{line}");
            assert!(typed.insert(name, kind).is_none(), "a family typed twice: {line}");
        } else if !line.is_empty() {
            assert!(!line.starts_with('#'), "unexpected comment {line}");
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(name_ok.is_match(name), "bad name in {line}");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
                .unwrap_or(name);
            assert!(typed.contains_key(family) && helped.contains(family), "no HELP/TYPE for {line}");
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value), "bad value in {line}");
            samples += 1;
        }
    }
    assert!(samples > 20, "too few samples:\n{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of `name` with these labels (all of them given).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples.iter().filter(|x| x.metric == name).find(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v))).map(|x| {
        match &x.value {
            Prom::Counter(v) | Prom::Gauge(v) | Prom::Untyped(v) => *v,
            Prom::Histogram(b) => b.last().map_or(0.0, |c| c.count),
            Prom::Summary(_) => f64::NAN,
        }
    })
}

fn at(v: &Value, p: &str) -> f64 {
    v.pointer(p).and_then(Value::as_f64).unwrap_or_else(|| panic!("{p} in {v}"))
}

#[test]
fn metrics_after_a_dream_agree_with_status_and_show() {
    let env = Env::quickstart("");
    let d = env.start();
    let id = d.dream();
    let job = d.wait_settled(id);
    assert_eq!(job["status"], "applied", "{job}");
    // The store figures come from the watcher's scan: wait for the one of the applied store.
    let applied_hash = dreamd::store::Store::read(&env.memory()).unwrap().hash();
    d.wait_scan(|s| s.memory.hash == applied_hash);
    let status = d.status();
    let (ctype, text) = scrape_text(&env);
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    let s = parse(&text);

    let v = |name: &str, labels: &[(&str, &str)]| value(&s, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"));
    assert_eq!(v("dreamd_jobs", &[("status", "applied"), ("trigger", "manual-force")]), 1.0);
    assert_eq!(v("dreamd_dream_duration_seconds", &[("outcome", "staged")]), 1.0, "one dream observed");
    assert!(v("dreamd_dream_duration_seconds_sum", &[("outcome", "staged")]) > 0.0);
    assert!(v("dreamd_gate_decisions_total", &[("trigger", "manual-force"), ("decision", "fire"), ("reason", "forced")]) >= 1.0);
    assert!(value(&s, "dreamd_gate_last_evaluation_timestamp_seconds", &[("trigger", "manual-force")]).is_some());

    // The figures of `show`, the memory one being the reduction check's.
    let m = &job["metrics"];
    for (scope, stage, key) in [
        ("memory", "before", "memory_bytes_before"),
        ("memory", "after", "memory_bytes_after"),
        ("all", "before", "bytes_before"),
        ("all", "after", "bytes_after"),
    ] {
        assert_eq!(v("dreamd_last_dream_bytes", &[("scope", scope), ("stage", stage)]), at(m, &format!("/{key}")), "{scope} {stage}");
    }
    assert_eq!(v("dreamd_last_dream_entries", &[("stage", "before")]), at(m, "/entries_before"));
    let reduction = 1.0 - at(m, "/memory_bytes_after") / at(m, "/memory_bytes_before");
    assert!((v("dreamd_last_dream_reduction_ratio", &[]) - reduction).abs() < 1e-9);
    assert_eq!(v("dreamd_last_dream_job", &[]), id as f64);

    // Quota, budget, store and generations: as `status` says.
    assert_eq!(v("dreamd_quota_jobs_used", &[]), at(&status, "/quota/jobs_used"));
    assert_eq!(v("dreamd_quota_jobs_left", &[]), at(&status, "/quota/jobs_left"));
    assert_eq!(v("dreamd_budget_left_usd", &[("period", "day")]), at(&status, "/budget/day_left_usd"));
    assert_eq!(v("dreamd_budget_spent_usd", &[("period", "month")]), at(&status, "/budget/month_spent_usd"));
    assert_eq!(v("dreamd_store_bytes", &[]), at(&status, "/store/bytes"));
    assert_eq!(v("dreamd_generations", &[]), at(&status, "/generations"));
    assert_eq!(v("dreamd_apply_mode", &[("configured", "auto"), ("effective", "swap")]), 1.0);
    for part in ["api", "job_owner", "scheduler", "triggers", "watcher"] {
        assert_eq!(v("dreamd_part_up", &[("part", part)]), 1.0, "{part}");
        assert_eq!(v("dreamd_part_restarts_total", &[("part", part)]), 0.0, "{part}");
    }
    assert_eq!(v("dreamd_build_info", &[("version", env!("CARGO_PKG_VERSION")), ("agent", "test"), ("engine", "builtin")]), 1.0);
    assert_eq!(value(&s, "dreamd_holds_total", &[]), None, "nothing was held");
}

#[test]
fn holds_are_counted_by_the_check_that_held_them() {
    // Nothing is believable as a reduction: every dream is held by the reduction check.
    let env = Env::quickstart("policy:\n  max_reduction: 0.01\n  min_reduction: 0.0\n");
    let d = env.start();
    let id = d.dream();
    let job = d.wait_job(id, |j| j["status"] == "held");
    assert!(job["decision"].as_str().unwrap().contains("reduction"), "{job}");
    let s = parse(&scrape_text(&env).1);
    assert_eq!(value(&s, "dreamd_holds_total", &[("check", "reduction")]), Some(1.0));
    assert_eq!(value(&s, "dreamd_jobs", &[("status", "held"), ("trigger", "manual-force")]), Some(1.0));
    // Approved, it still counts as held once.
    d.post(&format!("/v1/jobs/{id}/approve"), serde_json::json!({})).unwrap();
    d.wait_settled(id);
    let s = parse(&scrape_text(&env).1);
    assert_eq!(value(&s, "dreamd_holds_total", &[("check", "reduction")]), Some(1.0));
}

#[test]
fn a_refused_dream_counts_as_a_gate_decision_with_its_reason() {
    let env = Env::quickstart("limits:\n  max_jobs_per_day: 0\n");
    let d = env.start();
    let e = d.post("/v1/dreams", serde_json::json!({"force": true})).unwrap_err();
    assert_eq!(e.status.as_u16(), 429);
    let s = parse(&scrape_text(&env).1);
    assert_eq!(
        value(&s, "dreamd_gate_decisions_total", &[("trigger", "manual-force"), ("decision", "deny"), ("reason", "daily_quota")]),
        Some(1.0)
    );
    assert_eq!(value(&s, "dreamd_quota_jobs_left", &[]), Some(0.0));
}

#[test]
fn the_example_alert_rules_name_metrics_that_exist() {
    let env = Env::quickstart("triggers:\n  min_new_sessions: null\n  max_index_lines: null\n  schedule: \"0 3 * * *\"\n");
    let d = env.start();
    let id = d.dream();
    d.wait_settled(id);
    // A scheduled tick, as the scheduler gives one: the gate evaluates it.
    d.ctx.schedule_tick();
    d.wait_evaluation(|r| r.last_trigger == Some(dreamd::gate::Trigger::Schedule));
    let (_, text) = scrape_text(&env);
    let s = parse(&text);
    assert!(value(&s, "dreamd_gate_last_evaluation_timestamp_seconds", &[("trigger", "schedule")]).is_some(), "{text}");
    assert!(value(&s, "dreamd_schedule_next_tick_timestamp_seconds", &[]).is_some(), "{text}");

    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/alerts.md")).unwrap();
    let names: std::collections::BTreeSet<&str> =
        regex::Regex::new(r"\bdreamd_[a-z_]+").unwrap().find_iter(&doc).map(|m| m.as_str()).filter(|n| !n.ends_with('_')).collect();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        assert!(s.samples.iter().any(|x| x.metric == name), "docs/alerts.md uses {name}, which /metrics does not export");
    }
}
