//! dreamd: a sidecar daemon that consolidates ("dreams") an AI agent's memory directory.

pub mod config;
pub mod memory;
pub mod schedule;
pub mod store;
pub mod engine;
pub mod report;
pub mod sessions;
pub mod job;
pub mod state;
pub mod diff;
pub mod policy;
pub mod apply;
pub mod clock;
pub mod stage;
pub mod app;
pub mod runner;
pub mod api;
pub mod status;
pub mod daemon;
pub mod cli;
pub mod signals;
