//! `dreamd status` for a person: grouped (agent, triggers, gate, jobs, quota and budget,
//! health), one line per fact, long values cut to fit. `--json` prints the API's JSON.

use super::render::{field, short_time, table};
use serde_json::Value;

const LABEL: usize = 12;
/// Longest error text shown in the health table; the JSON has it whole.
const MAX_ERROR: usize = 60;

/// A value as display text, control and invisible characters escaped (names and messages in
/// the status can come from a config, a memory file or an error a file caused).
fn text(v: &Value, ptr: &str) -> Option<String> {
    match v.pointer(ptr)? {
        Value::Null => None,
        Value::String(s) => Some(field(s)),
        other => Some(field(&other.to_string())),
    }
}

fn num(v: &Value, ptr: &str) -> Option<f64> {
    v.pointer(ptr).and_then(Value::as_f64)
}

fn time(v: &Value, ptr: &str) -> Option<String> {
    text(v, ptr).map(|t| short_time(&t))
}

fn usd(x: f64) -> String {
    format!("${x:.2}")
}

/// Cut to `max` characters (never inside a character), marking the cut.
pub fn cut(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max.saturating_sub(1)).collect::<String>())
    }
}

struct Out(String);

impl Out {
    fn heading(&mut self, title: &str) {
        if !self.0.is_empty() {
            self.0.push('\n');
        }
        self.0.push_str(title);
        self.0.push('\n');
    }
    fn line(&mut self, label: &str, value: impl AsRef<str>) {
        self.0.push_str(&format!("{label:<LABEL$} {}\n", value.as_ref()));
    }
}

fn limit(v: &Value, ptr: &str) -> String {
    text(v, ptr).map_or("no limit".into(), |l| format!("of {l}"))
}

pub fn render(v: &Value) -> String {
    let mut o = Out(String::new());
    let dash = || "-".to_string();

    // Agent.
    o.line("agent", format!("{} · {} engine", text(v, "/agent").unwrap_or_else(dash), text(v, "/engine").unwrap_or_else(dash)));
    o.line("memory", text(v, "/memory_dir").unwrap_or_else(dash));
    match text(v, "/store/error") {
        Some(e) => o.line("", format!("unreadable: {}", cut(&e, 100))),
        None => o.line(
            "",
            format!(
                "{} files, {} bytes, {} index lines; last write {}",
                text(v, "/store/files").unwrap_or_else(dash),
                text(v, "/store/bytes").unwrap_or_else(dash),
                text(v, "/store/index_lines").unwrap_or_else(dash),
                time(v, "/store/last_write").unwrap_or_else(|| "never".into())
            ),
        ),
    }
    if let Some(socket) = text(v, "/api/socket") {
        let tcp = text(v, "/api/tcp").map(|t| format!(" and tcp {t}")).unwrap_or_default();
        o.line("api", format!("{socket}{tcp}"));
    }

    // Triggers.
    o.heading("TRIGGERS");
    let needs = text(v, "/triggers/min_new_sessions").map_or("off".into(), |n| format!("{n} fire a dream"));
    o.line(
        "sessions",
        format!(
            "{} finished since the last dream ({needs}), {} in progress",
            text(v, "/sessions/new_finished").unwrap_or_else(dash),
            text(v, "/sessions/new_in_progress").unwrap_or_else(dash)
        ),
    );
    if let Some(e) = text(v, "/sessions/error") {
        o.line("", format!("cannot read sessions: {}", cut(&e, 100)));
    }
    o.line(
        "size",
        format!(
            "{} bytes ({}) · {} files ({}) · {} index lines ({})",
            text(v, "/store/bytes").unwrap_or_else(dash),
            limit(v, "/triggers/max_memory_bytes"),
            text(v, "/store/files").unwrap_or_else(dash),
            limit(v, "/triggers/max_memory_files"),
            text(v, "/store/index_lines").unwrap_or_else(dash),
            limit(v, "/triggers/max_index_lines"),
        ),
    );
    o.line(
        "pacing",
        format!(
            "min_interval {} · quiet_period {} · a session is finished after {} idle",
            text(v, "/triggers/min_interval").unwrap_or_else(dash),
            text(v, "/triggers/quiet_period").unwrap_or_else(dash),
            text(v, "/triggers/session_idle").or_else(|| text(v, "/sessions/session_idle")).unwrap_or_else(dash)
        ),
    );
    let tz = text(v, "/schedule/timezone").unwrap_or_else(|| "UTC".into());
    o.line(
        "schedule",
        match text(v, "/schedule/cron") {
            None => "none".to_string(),
            Some(cron) => format!("{cron} ({tz}), next {}", time(v, "/schedule/next_tick").unwrap_or_else(|| "never".into())),
        },
    );
    if let Some(mode) = text(v, "/watcher/mode") {
        let how = if mode == "native" { "filesystem events" } else { "polling" };
        o.line("watcher", format!("{how}, rescans every {}", text(v, "/watcher/poll_interval").unwrap_or_else(dash)));
    }
    o.line(
        "last look",
        match time(v, "/triggering/last_evaluated_at") {
            None => "the trigger loop has not looked yet".to_string(),
            Some(t) => format!(
                "{t} ({}, {} so far): {}",
                text(v, "/triggering/last_trigger/kind").unwrap_or_else(dash),
                text(v, "/triggering/evaluations").unwrap_or_else(dash),
                text(v, "/triggering/last_decision/decision").unwrap_or_else(dash)
            ),
        },
    );

    // The gate's verdict.
    o.heading("GATE");
    o.line(
        "now",
        format!(
            "{}: {}",
            text(v, "/gate/decision/decision").unwrap_or_else(dash),
            cut(&text(v, "/gate/decision/reason/message").unwrap_or_else(dash), 160)
        ),
    );
    if let Some(t) = time(v, "/gate/decision/earliest_next") {
        o.line("not before", t);
    }
    o.line("last dream", time(v, "/gate/last_dream_started").map_or("never".into(), |t| format!("started {t}")));
    let failures = num(v, "/gate/consecutive_failures").unwrap_or(0.0);
    o.line("failures", if failures == 0.0 { "none in a row".into() } else { format!("{failures} in a row (backing off)") });
    o.line("agent lock", lock(v));

    // Jobs.
    o.heading("JOBS");
    o.line(
        "running",
        match v.pointer("/running_job").filter(|j| !j.is_null()) {
            None => "none".to_string(),
            Some(j) => {
                let mut s = format!(
                    "job {} {}",
                    text(j, "/id").unwrap_or_else(dash),
                    text(j, "/phase").or_else(|| text(j, "/status")).unwrap_or_else(dash)
                );
                if let Some(w) = j.get("waiting_for_lock").filter(|w| !w.is_null()) {
                    s.push_str(&format!(
                        ": waiting for the agent's lock ({}) since {}, next try {}",
                        cut(&text(w, "/holder").unwrap_or_else(dash), 40),
                        time(w, "/since").unwrap_or_else(dash),
                        time(w, "/next_attempt_at").unwrap_or_else(dash)
                    ));
                }
                s
            }
        },
    );
    let held: Vec<String> = v.pointer("/held_jobs").and_then(Value::as_array).into_iter().flatten().map(|x| x.to_string()).collect();
    o.line(
        "held",
        if held.is_empty() {
            "none".into()
        } else {
            format!("job {} (dreamd diff ID; dreamd approve ID or dreamd discard ID)", held.join(", "))
        },
    );
    o.line(
        "last job",
        match v.pointer("/last_job").filter(|j| !j.is_null()) {
            None => "none yet".to_string(),
            Some(j) => format!("job {} {}", text(j, "/id").unwrap_or_else(dash), text(j, "/status").unwrap_or_else(dash)),
        },
    );
    if let Some(j) = v.pointer("/last_applied").filter(|j| !j.is_null()) {
        o.line("applied", format!("job {} at {}", text(j, "/id").unwrap_or_else(dash), time(j, "/at").unwrap_or_else(dash)));
    }
    o.line("generations", format!("{} kept for rollback", text(v, "/generations").unwrap_or_else(dash)));

    // Quota and budget.
    o.heading(&format!("QUOTA AND BUDGET ({}, {tz})", text(v, "/quota/day").unwrap_or_else(dash)));
    o.line(
        "jobs",
        format!(
            "{} of {} used today, {} left",
            text(v, "/quota/jobs_used").unwrap_or_else(dash),
            text(v, "/quota/max_jobs_per_day").unwrap_or_else(dash),
            text(v, "/quota/jobs_left").unwrap_or_else(dash)
        ),
    );
    let spent = num(v, "/budget/day_spent_usd").unwrap_or(0.0);
    o.line(
        "today",
        format!(
            "{} of {} spent, {} left",
            usd(spent),
            usd(num(v, "/budget/daily_budget_usd").unwrap_or(0.0)),
            usd(num(v, "/budget/day_left_usd").unwrap_or(0.0))
        ),
    );
    let month = text(v, "/budget/month").unwrap_or_else(dash);
    let month_spent = usd(num(v, "/budget/month_spent_usd").unwrap_or(0.0));
    o.line(
        "month",
        match (num(v, "/budget/monthly_budget_usd"), num(v, "/budget/month_left_usd")) {
            (Some(b), Some(l)) => format!("{month_spent} of {} spent in {month}, {} left", usd(b), usd(l)),
            _ => format!("{month_spent} spent in {month} (no monthly budget)"),
        },
    );
    o.line("next dream", format!("estimated {}", usd(num(v, "/budget/next_job_estimate_usd").unwrap_or(0.0))));

    // Health of the supervised parts.
    o.heading("HEALTH");
    let rows: Vec<Vec<String>> = v
        .pointer("/parts")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, p)| {
            vec![
                name.clone(),
                text(p, "/state").unwrap_or_else(dash),
                time(p, "/since").unwrap_or_else(dash),
                text(p, "/restarts").unwrap_or_else(dash),
                text(p, "/last_error").map_or_else(dash, |e| cut(&e, MAX_ERROR)),
            ]
        })
        .collect();
    o.0.push_str(&table(&["PART", "STATE", "SINCE", "RESTARTS", "LAST ERROR"], &rows));
    let restart: Vec<String> =
        v.pointer("/restart_needed").and_then(Value::as_array).into_iter().flatten().filter_map(|k| k.as_str().map(String::from)).collect();
    if !restart.is_empty() {
        o.0.push_str(&format!("restart dreamd to apply: {}\n", restart.join(", ")));
    }
    o.0
}

/// The agent's `.consolidate-lock`. The file stays behind with dreamd's pid after a dream (its
/// mtime is the last consolidation): that is not a held lock.
fn lock(v: &Value) -> String {
    let l = v.pointer("/gate/agent_lock").cloned().unwrap_or_default();
    let since = time(&l, "/since");
    match text(&l, "/state").as_deref() {
        Some("held_by_other") => format!(
            "held by pid {} since {}, taken over as stale at {}",
            text(&l, "/pid").unwrap_or_default(),
            since.unwrap_or_default(),
            time(&l, "/stale_at").unwrap_or_default()
        ),
        Some("ours") if v.pointer("/gate/agent_lock_held") == Some(&Value::Bool(true)) => {
            format!("held by dreamd for the running job since {}", since.unwrap_or_default())
        }
        Some("ours") => format!("free (dreamd's last consolidation {})", since.unwrap_or_else(|| "-".into())),
        Some("free") => format!(
            "free ({}, last consolidation {})",
            text(&l, "/why").unwrap_or_default().replace('_', " "),
            since.unwrap_or_else(|| "-".into())
        ),
        _ => "free (no lock file)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "agent": "quickstart", "engine": "builtin", "now": "2026-11-25T22:55:26.666Z", "memory_dir": "/srv/agent/memory",
            "api": {"socket": "/run/dreamd/dreamd.sock", "tcp": null},
            "store": {"readable": true, "error": null, "bytes": 3161, "files": 8, "index_lines": 9, "last_write": "2026-11-25T22:55:26.2Z",
                "thresholds": {"max_index_lines": 200, "max_memory_bytes": null, "max_memory_files": null}},
            "sessions": {"new_finished": 0, "new_in_progress": 0, "min_new_sessions": 3, "session_idle": "5s", "error": null},
            "triggers": {"min_new_sessions": 3, "max_memory_bytes": null, "max_memory_files": null, "max_index_lines": 200,
                "min_interval": "1m", "quiet_period": "3s", "session_idle": "5s", "schedule_requires_new_sessions": true},
            "gate": {"decision": {"decision": "wait", "earliest_next": null, "reason": {"code": "below_thresholds", "message": "no threshold met: 0/3 finished new sessions (0 in progress), 9/200 index lines"}},
                "last_dream_started": "2026-11-25T22:55:26.2Z", "consecutive_failures": 0,
                "agent_lock": {"state": "ours", "since": "2026-11-25T22:55:26.36Z"}, "agent_lock_held": false},
            "triggering": {"last_evaluated_at": "2026-11-25T22:55:26.5Z", "evaluations": 7, "last_trigger": {"kind": "watch"}, "last_decision": {"decision": "wait"}},
            "schedule": {"cron": null, "timezone": "UTC", "next_tick": null},
            "watcher": {"mode": "native", "poll_interval": "5m"},
            "parts": {
                "api": {"state": "running", "restarts": 0, "last_error": null, "last_error_at": null, "since": "2026-11-25T22:55:26.18Z"},
                "watcher": {"state": "restarting", "restarts": 2, "last_error": "inotify: ".to_string() + &"a very long error ".repeat(20), "last_error_at": null, "since": "2026-11-25T22:55:26.18Z"}
            },
            "restart_needed": [], "running_job": null, "held_jobs": [],
            "last_applied": {"id": 1, "at": "2026-11-25T22:55:26.36Z"},
            "last_job": {"id": 1, "status": "applied", "estimated_cost_usd": 0.0, "cost_usd": 0.0},
            "generations": 1,
            "quota": {"day": "2026-11-25", "jobs_used": 1, "jobs_left": 9, "max_jobs_per_day": 10},
            "budget": {"next_job_estimate_usd": 0.0, "day_spent_usd": 0.0, "day_left_usd": 5.0, "daily_budget_usd": 5.0, "month": "2026-11",
                "month_spent_usd": 0.0, "month_left_usd": null, "monthly_budget_usd": null}
        })
    }

    #[test]
    fn status_is_grouped_and_readable() {
        let out = render(&sample());
        let at = |h: &str| out.lines().position(|l| l == h).unwrap_or_else(|| panic!("no heading {h} in\n{out}"));
        let order = ["TRIGGERS", "GATE", "JOBS", "QUOTA AND BUDGET (2026-11-25, UTC)", "HEALTH"].map(at);
        assert!(order.windows(2).all(|w| w[0] < w[1]), "headings out of order:\n{out}");
        for needle in [
            "agent        quickstart · builtin engine",
            "pacing       min_interval 1m · quiet_period 3s · a session is finished after 5s idle",
            "sessions     0 finished since the last dream (3 fire a dream), 0 in progress",
            "now          wait: no threshold met",
            "agent lock   free (dreamd's last consolidation 2026-11-25 22:55:26)",
            "held         none",
            "jobs         1 of 10 used today, 9 left",
            "month        $0.00 spent in 2026-11 (no monthly budget)",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in\n{out}");
        }
        assert!(!out.contains('[') && !out.contains('{'), "no raw JSON:\n{out}");
        assert!(out.lines().all(|l| l.chars().count() <= 120), "a line overflows:\n{out}");
        assert!(out.contains("inotify: a very long error a very long error a very long er…"), "long errors are cut:\n{out}");
    }

    #[test]
    fn a_lock_is_held_only_while_a_job_runs_or_another_process_has_it() {
        let mut v = sample();
        v["gate"]["agent_lock_held"] = json!(true);
        v["running_job"] = json!({"id": 2, "status": "running", "phase": "dreaming"});
        let out = render(&v);
        assert!(out.contains("held by dreamd for the running job"), "{out}");
        assert!(out.contains("running      job 2 dreaming"), "{out}");
        v["gate"]["agent_lock"] =
            json!({"state": "held_by_other", "pid": 42, "since": "2026-11-25T22:00:00Z", "stale_at": "2026-11-25T23:00:00Z"});
        assert!(render(&v).contains("held by pid 42 since 2026-11-25 22:00:00, taken over as stale at 2026-11-25 23:00:00"));
    }

    #[test]
    fn cutting_respects_characters() {
        assert_eq!(cut("héllo wörld", 6), "héllo…");
        assert_eq!(cut("a\nb", 10), "a b");
    }
}
