//! SIGHUP: re-read the config file. Everything takes effect at once, the watcher's settings
//! included (it is reconfigured in place); only the paths the daemon is built around need a
//! restart, and the log and `status` (`restart_needed`) say so.

use crate::config::{self, Config};
use crate::context::Context;

/// Keys read once at start (a key and everything under it).
pub const RESTART_ONLY: [&str; 4] = ["state_dir", "api.socket", "api.tcp", "agent.memory_dir"];

/// Re-read the config file; keep the old config if the new one is invalid.
pub fn reload(ctx: &Context) {
    let old = ctx.config();
    let Some(path) = old.source.clone() else {
        tracing::warn!("reload requested but the config has no file to re-read");
        return;
    };
    match Config::load(&path) {
        Err(e) => tracing::error!("config reload rejected, keeping the old config: {e}"),
        Ok(new) => {
            let changes = config::diff(&old, &new);
            if changes.is_empty() {
                tracing::info!("config reloaded: nothing changed");
                return;
            }
            let restart: Vec<String> = changes
                .iter()
                .filter(|c| RESTART_ONLY.iter().any(|k| c.starts_with(&format!("{k}:")) || c.starts_with(&format!("{k}."))))
                .map(|c| c.split(':').next().unwrap_or(c).to_string())
                .collect();
            if !restart.is_empty() {
                tracing::warn!(keys = %restart.join(", "), "these changes take effect only after a restart; keeping the running values");
            }
            let mut merged = new;
            merged.state_dir = old.state_dir.clone();
            merged.api.socket = old.api.socket.clone();
            merged.api.tcp = old.api.tcp.clone();
            merged.agent.memory_dir = old.agent.memory_dir.clone();
            tracing::info!(changes = %changes.join("; "), "config reloaded");
            ctx.set_restart_needed(restart);
            ctx.set_config(merged);
        }
    }
}
