//! Time, injectable so tests can move it. (Placeholder until the triggers branch lands.)

use chrono::{DateTime, Utc};
use std::sync::Arc;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub fn clock_from_env() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
