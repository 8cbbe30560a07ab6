//! Sources → gate → job owner. The watcher and the scheduler publish into the context; the
//! trigger loop looks at the gate whenever something changed and hands a fired decision to
//! the job owner. Each of the three is a supervised part.

pub mod evaluate;
pub mod scheduler;
pub mod watcher;

use crate::context::{Context, TriggerReport};
use crate::gate::{Decision, ReasonCode, Trigger};
use crate::jobs::Jobs;
use crate::supervise::PartResult;
use evaluate::trigger_name;
use std::sync::Arc;
use std::time::Duration;

/// The loop that makes dreamd hands-off.
pub async fn run(ctx: Arc<Context>, jobs: Jobs) -> PartResult {
    let mut scans = ctx.subscribe_scans();
    let mut notices = ctx.notices.subscribe();
    let mut config = ctx.subscribe_config();
    let mut pending_tick = false;
    let mut last_logged: Option<(ReasonCode, bool)> = None;
    loop {
        pending_tick |= ctx.take_schedule_tick();
        let wake_at = match ctx.latest_scan() {
            // Nothing to look at before the watcher's first scan.
            None => None,
            Some(scan) => {
                let trigger = if pending_tick { Trigger::Schedule } else { Trigger::Watch };
                let s = scan.clone();
                match ctx.blocking(move |ctx| evaluate::evaluate(ctx, trigger, &s)).await.and_then(|v| v) {
                    Ok(view) => {
                        publish(&ctx, trigger, &view.decision, &scan);
                        act(&ctx, &jobs, trigger, &view, &scan, &mut pending_tick, &mut last_logged).await
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot evaluate the gate");
                        Some(Duration::from_secs(30))
                    }
                }
            }
        };
        let sleep = async {
            match wake_at {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = scans.changed() => {}
            _ = ctx.schedule_ticked() => {}
            // A job changed status (one ended: the single flight is free again).
            _ = notices.recv() => {}
            _ = config.changed() => {}
            _ = sleep => {}
            _ = ctx.shutdown.cancelled() => return Ok(()),
        }
    }
}

/// Count a gate decision for the metrics (the trigger loop's and a person's requests).
pub fn record_decision(ctx: &Context, trigger: Trigger, decision: &Decision) {
    let kind = match decision {
        Decision::Fire { .. } => "fire",
        Decision::Wait { .. } => "wait",
        Decision::Deny { .. } => "deny",
    };
    let code = serde_json::to_value(decision.reason().code).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let at = ctx.now().timestamp_millis() as f64 / 1000.0;
    ctx.metrics.gate_decision(trigger_name(trigger), kind, &code, at);
}

fn publish(ctx: &Context, trigger: Trigger, decision: &Decision, scan: &crate::watch::Scan) {
    record_decision(ctx, trigger, decision);
    let now = ctx.now();
    ctx.triggering.send_modify(|r: &mut TriggerReport| {
        r.evaluations += 1;
        r.last_evaluated_at = Some(now);
        r.last_trigger = Some(trigger);
        r.last_decision = Some(decision.clone());
        r.scan_hash = Some(scan.memory.hash.clone());
    });
}

/// Act on the gate's answer; returns when to look again by the clock (None: on an event).
async fn act(
    ctx: &Arc<Context>,
    jobs: &Jobs,
    trigger: Trigger,
    view: &evaluate::GateView,
    scan: &crate::watch::Scan,
    pending_tick: &mut bool,
    last_logged: &mut Option<(ReasonCode, bool)>,
) -> Option<Duration> {
    let code = view.decision.reason().code;
    match &view.decision {
        Decision::Fire { reason } => {
            tracing::info!(trigger = trigger_name(trigger), reason = %reason.message, "gate: fire");
            *pending_tick = false;
            *last_logged = None;
            if let Err(e) = jobs.start(trigger_name(trigger), scan.sessions.clone(), view.estimate_usd).await {
                tracing::warn!(error = %e, "could not start the dream");
            }
            None
        }
        Decision::Deny { reason } => {
            if *pending_tick {
                tracing::info!(reason = %reason.message, "gate: schedule tick skipped");
                *pending_tick = false;
            } else if *last_logged != Some((code, true)) && code != ReasonCode::NoNewSessions {
                tracing::info!(trigger = trigger_name(trigger), reason = %reason.message, "gate: deny");
                *last_logged = Some((code, true));
            }
            None
        }
        Decision::Wait { reason, earliest_next } => {
            if *last_logged != Some((code, false)) {
                tracing::debug!(trigger = trigger_name(trigger), reason = %reason.message, "gate: wait");
                *last_logged = Some((code, false));
            }
            // Only timers that can change the answer: a wait that needs an event sleeps.
            if earliest_next.is_none() && !*pending_tick && code != ReasonCode::AgentLock {
                return None;
            }
            // Wake at the earliest instant the gate could say yes, but look at the clock again
            // at least every recheck interval (it can jump).
            let recheck = ctx.clock.recheck_interval();
            let until = earliest_next.map(|t| (t - ctx.now()).to_std().unwrap_or_default()).map_or(recheck, |d| d.min(recheck));
            Some(until.max(Duration::from_millis(20)))
        }
    }
}
