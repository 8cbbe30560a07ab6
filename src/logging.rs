//! Daemon logs on standard error: dreamd's own events at info, libraries' only from warn up
//! (`RUST_LOG` overrides both), colours only for a person at a terminal.

use crate::cli::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Used when `RUST_LOG` is unset or invalid.
pub const DEFAULT_FILTER: &str = "warn,dreamd=info";

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let ansi = crate::cli::render::color_allowed(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
