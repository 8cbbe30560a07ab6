//! The schedule as a supervised part: runs `schedule::Scheduler` for `triggers.schedule` and
//! turns its ticks into the context's pending tick. Restarted with a new schedule when a
//! reload changed it.

use crate::config::Config;
use crate::context::Context;
use crate::schedule::{next_fire, CronSchedule, Scheduler};
use crate::supervise::{PartError, PartResult};
use std::sync::Arc;
use tokio::sync::mpsc;

fn key(c: &Config) -> Option<String> {
    c.triggers.schedule.as_ref().map(|s| format!("{s}@{}", c.triggers.timezone))
}

pub async fn run(ctx: Arc<Context>) -> PartResult {
    let mut config_rx = ctx.subscribe_config();
    loop {
        let config = ctx.config();
        let current = key(&config);
        let (tx, mut ticks) = mpsc::channel::<()>(1);
        let mut scheduler = start(&ctx, &config, tx).await?;
        let result = loop {
            tokio::select! {
                tick = ticks.recv(), if scheduler.is_some() => match tick {
                    Some(()) => {
                        tracing::info!("schedule tick");
                        ctx.schedule_tick();
                    }
                    None => {
                        let schedule = config.triggers.schedule.as_deref().and_then(|s| CronSchedule::parse(s).ok());
                        if schedule.is_some_and(|s| next_fire(&s, config.triggers.tz(), ctx.now()).is_none()) {
                            // Logged by the scheduler; idle until the schedule changes.
                            scheduler = None;
                        } else {
                            break Err(PartError::Runtime(anyhow::anyhow!("the scheduler stopped")));
                        }
                    }
                },
                changed = config_rx.changed() => {
                    if changed.is_err() || key(&ctx.config()) != current {
                        break Ok(());
                    }
                }
                _ = ctx.shutdown.cancelled() => break Ok(()),
            }
        };
        if let Some(s) = scheduler {
            s.shutdown().await;
        }
        if result.is_err() || ctx.shutdown.is_cancelled() {
            return result;
        }
    }
}

/// None when no schedule is configured (or it is invalid, which config validation prevents).
async fn start(ctx: &Context, config: &Config, ticks: mpsc::Sender<()>) -> Result<Option<Scheduler>, PartError> {
    let Some(expr) = config.triggers.schedule.as_ref() else { return Ok(None) };
    let tz = config.triggers.tz();
    let schedule = match CronSchedule::parse(expr) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "invalid schedule; no scheduled dreams");
            return Ok(None);
        }
    };
    let s = Scheduler::start(schedule, tz, ctx.clock.clone(), ticks).await.map_err(|e| PartError::Runtime(e.into()))?;
    tracing::info!(schedule = %expr, timezone = %tz, next = %s.next_tick().map_or_else(|| "never".to_string(), |t| t.to_rfc3339()), "schedule armed");
    Ok(Some(s))
}
