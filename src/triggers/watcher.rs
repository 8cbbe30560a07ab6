//! The watcher as a supervised part: runs `watch::Watcher`, publishes its scans into the
//! context, passes on rescan requests (after an apply swapped the directory), and reconfigures
//! the watcher in place when a reload changed its settings.

use crate::context::{Context, WatcherView};
use crate::supervise::{PartError, PartResult};
use crate::watch::{WatchConfig, WatchHandle, Watcher};
use std::sync::Arc;
use tokio::sync::mpsc;

pub async fn run(ctx: Arc<Context>) -> PartResult {
    let mut config_rx = ctx.subscribe_config();
    let mut cfg = WatchConfig::from_config(&ctx.config());
    let (tx, mut rx) = mpsc::channel(16);
    let handle = Watcher::start(cfg.clone(), tx).await?;
    let result = serve(&ctx, &handle, &mut rx, &mut config_rx, &mut cfg).await;
    handle.shutdown().await;
    ctx.set_watcher(None);
    result
}

async fn serve(
    ctx: &Context,
    handle: &WatchHandle,
    rx: &mut mpsc::Receiver<crate::watch::WatchEvent>,
    config_rx: &mut tokio::sync::watch::Receiver<Arc<crate::config::Config>>,
    cfg: &mut WatchConfig,
) -> PartResult {
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => {
                    ctx.set_watcher(Some(WatcherView { mode: handle.mode(), poll_interval: crate::config::HumanDuration(cfg.poll_interval).to_string() }));
                    ctx.publish_scan(ev.scan);
                }
                None => return Err(PartError::Runtime(anyhow::anyhow!("the file watcher stopped"))),
            },
            rewatch = ctx.rescan_requested() => handle.rescan(rewatch),
            changed = config_rx.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let new = WatchConfig::from_config(&ctx.config());
                if new != *cfg {
                    tracing::info!(
                        watch = if new.force_poll { "poll" } else { "auto" },
                        poll_interval = %humantime_secs(new.poll_interval),
                        sessions_dir = %new.sessions_dir.as_deref().map_or("none".into(), |p| p.display().to_string()),
                        "watcher reconfigured in place"
                    );
                    handle.reconfigure(new.clone());
                    *cfg = new;
                }
            }
            _ = ctx.shutdown.cancelled() => return Ok(()),
        }
    }
}

/// A duration as whole seconds (`30s`), for log fields.
fn humantime_secs(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs())
}
