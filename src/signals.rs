//! SIGTERM and SIGINT cancel the daemon's shutdown token; SIGHUP asks for a config reload.

use futures::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Listen for signals until `shutdown` is cancelled; returns the channel of reload requests.
pub fn listen(shutdown: CancellationToken) -> std::io::Result<mpsc::Receiver<()>> {
    let mut signals = signal_hook_tokio::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    let (reload, reloads) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let sig = tokio::select! {
                s = signals.next() => s,
                _ = shutdown.cancelled() => None,
            };
            match sig {
                None => return,
                Some(SIGHUP) => {
                    tracing::info!("SIGHUP: reloading config");
                    // A reload already pending covers this one too.
                    let _ = reload.try_send(());
                }
                Some(sig) => {
                    tracing::info!(signal = sig, "shutdown requested");
                    crate::systemd::notify_stopping();
                    shutdown.cancel();
                    return;
                }
            }
        }
    });
    Ok(reloads)
}
