//! dreamd: a sidecar daemon that consolidates ("dreams") an AI agent's memory directory.
//! `docs/architecture.md` maps the modules.

pub mod allocator;
pub mod api;
pub mod apply;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod corpus;
pub mod daemon;
pub mod diff;
pub mod engine;
pub mod error;
pub mod figures;
pub mod gate;
pub mod job;
pub mod jobs;
pub mod lock;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod reload;
pub mod report;
pub mod schedule;
pub mod secrets;
pub mod sessions;
pub mod signals;
pub mod stage;
pub mod state;
pub mod store;
pub mod supervise;
pub mod systemd;
pub mod triggers;
pub mod untrusted;
pub mod verify;
pub mod watch;
