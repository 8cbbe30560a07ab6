//! The job lifecycle as an explicit state machine.
//!
//! ```text
//! queued → running → staged → applied
//!                   ↘ unchanged     ↘ held → approved → applied
//!                                          ↘ discarded
//! queued/running/staged/approved → failed | canceled;  staged/held/approved → stale
//! ```
//!
//! `unchanged`: the engine's candidate is byte-identical to the live store, so there is
//! nothing to stage or apply and no generation is made. `stale` means one thing only: the
//! live store changed since the dream's base. A busy agent lock is not stale: the job stays
//! staged or approved and is retried.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Staged,
    Held,
    Approved,
    Applied,
    Discarded,
    Failed,
    Canceled,
    Stale,
    Unchanged,
}

use JobStatus::*;

impl JobStatus {
    pub const ALL: [JobStatus; 11] = [Queued, Running, Staged, Held, Approved, Applied, Discarded, Failed, Canceled, Stale, Unchanged];

    pub fn as_str(self) -> &'static str {
        match self {
            Queued => "queued",
            Running => "running",
            Staged => "staged",
            Held => "held",
            Approved => "approved",
            Applied => "applied",
            Discarded => "discarded",
            Failed => "failed",
            Canceled => "canceled",
            Stale => "stale",
            Unchanged => "unchanged",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Applied | Discarded | Failed | Canceled | Stale | Unchanged)
    }

    /// A job in one of these states occupies the agent's single flight.
    pub fn is_in_flight(self) -> bool {
        matches!(self, Queued | Running | Staged | Approved)
    }

    pub fn can_become(self, next: JobStatus) -> bool {
        matches!(
            (self, next),
            (Queued, Running | Canceled | Failed)
                | (Running, Staged | Unchanged | Failed | Canceled)
                | (Staged, Applied | Held | Stale | Failed | Canceled)
                | (Held, Approved | Discarded | Stale)
                | (Approved, Applied | Failed | Stale | Canceled)
        )
    }

    pub fn check(self, next: JobStatus) -> Result<(), IllegalTransition> {
        if self.can_become(next) {
            Ok(())
        } else {
            Err(IllegalTransition { from: self, to: next })
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| format!("unknown job status {s:?}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: JobStatus,
    pub to: JobStatus,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = match self.to {
            Approved | Discarded => " (only a held job can be approved or discarded)",
            _ => "",
        };
        let article = if self.from.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        write!(f, "{article} {} job cannot become {}{}", self.from, self.to, hint)
    }
}

impl std::error::Error for IllegalTransition {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_paths_are_legal() {
        for path in [
            &[Queued, Running, Staged, Applied][..],
            &[Queued, Running, Staged, Held, Approved, Applied],
            &[Queued, Running, Staged, Held, Discarded],
            &[Queued, Running, Staged, Stale],
            &[Queued, Running, Failed],
            &[Queued, Running, Unchanged],
            &[Queued, Running, Staged, Canceled],
            &[Queued, Running, Staged, Held, Approved, Canceled],
        ] {
            for w in path.windows(2) {
                assert!(w[0].can_become(w[1]), "{} -> {}", w[0], w[1]);
            }
        }
    }

    #[test]
    fn terminal_states_go_nowhere() {
        for from in JobStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in JobStatus::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn illegal_transitions_explain_themselves() {
        let e = Staged.check(Approved).unwrap_err();
        assert_eq!(e.to_string(), "a staged job cannot become approved (only a held job can be approved or discarded)");
        let e = Applied.check(Approved).unwrap_err();
        assert_eq!(e.to_string(), "an applied job cannot become approved (only a held job can be approved or discarded)");
        assert!(Running.check(Applied).is_err());
        assert!(Held.check(Applied).is_err(), "approval comes first");
        assert!(Held.check(Canceled).is_err(), "a held job is discarded, not canceled");
        assert!(Staged.check(Unchanged).is_err(), "an unchanged candidate is never staged");
    }

    #[test]
    fn status_strings_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
    }
}
