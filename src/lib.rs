//! dreamd: a sidecar daemon that consolidates ("dreams") an AI agent's memory directory.

pub mod api;
pub mod app;
pub mod apply;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod diff;
pub mod engine;
pub mod gate;
pub mod job;
pub mod lock;
pub mod memory;
pub mod policy;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod sessions;
pub mod signals;
pub mod stage;
pub mod state;
pub mod status;
pub mod store;
pub mod trigger;
pub mod watch;
