//! SIGTERM/SIGINT end the daemon gracefully; SIGHUP asks for a config reload.

use futures::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::future::Future;
use tokio::sync::mpsc;

/// Returns a future that completes on SIGTERM or SIGINT; SIGHUPs are forwarded to `reload`.
pub fn listen(reload: mpsc::Sender<()>) -> std::io::Result<impl Future<Output = ()>> {
    let mut signals = signal_hook_tokio::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    Ok(async move {
        while let Some(sig) = signals.next().await {
            match sig {
                SIGHUP => {
                    tracing::info!("SIGHUP: reloading config");
                    let _ = reload.try_send(());
                }
                _ => {
                    tracing::info!(signal = sig, "shutdown requested");
                    crate::systemd::notify_stopping();
                    return;
                }
            }
        }
    })
}
