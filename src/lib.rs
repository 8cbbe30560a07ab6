//! dreamd: a sidecar daemon that consolidates ("dreams") an AI agent's memory directory.

pub mod clock;
pub mod config;
pub mod engine;
pub mod gate;
pub mod lock;
pub mod memory;
pub mod report;
pub mod schedule;
pub mod sessions;
pub mod store;
pub mod watch;
