//! dreamd: a sidecar daemon that consolidates ("dreams") an AI agent's memory directory.

pub mod config;
pub mod memory;
pub mod schedule;
pub mod store;
pub mod engine;
pub mod report;
pub mod sessions;
pub mod loss;
pub mod corpus;
