//! Exit codes, one per kind of outcome a script may want to branch on, derived from the API's
//! status codes. Documented in `--help`, the man page and the README from the table below.

use super::client::ApiError;
use hyper::StatusCode;
use std::fmt;
use std::process::ExitCode;

pub const OK: u8 = 0;
pub const ERROR: u8 = 1;
/// clap's own code for a bad command line.
pub const USAGE: u8 = 2;
pub const NOT_NOW: u8 = 3;
pub const NOT_FOUND: u8 = 4;
pub const CONFLICT: u8 = 5;
/// `dream --wait`: the dream ended held for a person.
pub const HELD: u8 = 6;
/// `dream --wait`: the dream did not complete.
pub const NOT_DONE: u8 = 7;

/// (code, meaning): the one table every document is generated from.
pub const EXIT_CODES: [(u8, &str); 8] = [
    (OK, "success; also a dream request folded into the dream already running"),
    (ERROR, "error: invalid config, daemon unreachable or unhealthy, a failed request"),
    (USAGE, "usage: unknown verb or option, bad argument"),
    (NOT_NOW, "refused for now: the gate said wait or deny (thresholds, interval, quota, budget, the agent's lock)"),
    (NOT_FOUND, "no such job or generation"),
    (CONFLICT, "the job's state does not allow it (approve an applied job, cancel a finished one)"),
    (HELD, "dream --wait: the dream was held for review (dreamd diff, then approve or discard)"),
    (NOT_DONE, "dream --wait: the dream failed, was canceled or went stale"),
];

pub const EXIT_CODES_HELP: &str = "Exit status:
  0  success; also a dream request folded into the dream already running
  1  error: invalid config, daemon unreachable or unhealthy, a failed request
  2  usage: unknown verb or option, bad argument
  3  refused for now: the gate said wait or deny (thresholds, interval, quota, budget, the agent's lock)
  4  no such job or generation
  5  the job's state does not allow it (approve an applied job, cancel a finished one)
  6  dream --wait: the dream was held for review (dreamd diff, then approve or discard)
  7  dream --wait: the dream failed, was canceled or went stale";

/// An outcome already explained to the user in full, ending with a given exit code
/// (a refused dream is not an "error:").
#[derive(Debug)]
pub struct Reported {
    pub code: u8,
    pub message: String,
}

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Reported {}

/// The exit code for an API status.
pub fn for_status(status: StatusCode) -> u8 {
    match status {
        StatusCode::TOO_MANY_REQUESTS => NOT_NOW,
        StatusCode::NOT_FOUND => NOT_FOUND,
        StatusCode::CONFLICT => CONFLICT,
        _ => ERROR,
    }
}

/// Print a failed verb's error and choose its exit code.
pub fn fail(e: &anyhow::Error) -> ExitCode {
    // Messages quote file names, engine output and memory text: shown, never obeyed.
    if let Some(r) = e.downcast_ref::<Reported>() {
        eprintln!("{}", super::render::block(&r.to_string()));
        return ExitCode::from(r.code);
    }
    eprintln!("error: {}", super::render::block(&format!("{e:#}")));
    ExitCode::from(e.downcast_ref::<ApiError>().map_or(ERROR, |a| for_status(a.status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_text_is_the_table() {
        let lines: Vec<String> = EXIT_CODES.iter().map(|(c, m)| format!("  {c}  {m}")).collect();
        assert_eq!(EXIT_CODES_HELP, format!("Exit status:\n{}", lines.join("\n")));
    }

    #[test]
    fn api_statuses_map_to_distinct_codes() {
        assert_eq!(for_status(StatusCode::TOO_MANY_REQUESTS), NOT_NOW);
        assert_eq!(for_status(StatusCode::NOT_FOUND), NOT_FOUND);
        assert_eq!(for_status(StatusCode::CONFLICT), CONFLICT);
        assert_eq!(for_status(StatusCode::BAD_REQUEST), ERROR);
        assert_eq!(for_status(StatusCode::INTERNAL_SERVER_ERROR), ERROR);
    }
}
