//! Crash points between the steps of an apply, for tests. They exist only with the
//! `test-hooks` feature (on under `cargo test` alone); in a release build [`step`] is empty.
//!
//! Configure with `fail::cfg` in-process or `FAILPOINTS=name=action;…` for the binary:
//! - `return(exit)`: end the process on the spot, as a crash would (no unwinding, no cleanup);
//! - `return(wait=DIR)`: rendezvous with a test through two FIFOs the test made: write the
//!   point's name to `DIR/reached`, then wait until the test closes `DIR/go`;
//! - the fail crate's own `panic`, `pause`, `sleep(ms)`, and counts such as `1*off->return(exit)`.

/// Every crash point, in the order an apply meets them (rollback goes through the same).
pub const POINTS: &[&str] = &[
    "apply::swap::staged",
    "apply::swap::journal_written",
    "apply::swap::dirs_moved",
    "apply::swap::exchanged",
    "apply::swap::swept",
    "apply::swap::generation_moved",
    "apply::journal::staged",
    "apply::journal::journal_written",
    "apply::journal::before_op",
    "apply::journal::after_op",
    "apply::journal::ops_done",
    "apply::live::before_commit",
    "apply::live::committed",
];

#[cfg(feature = "test-hooks")]
pub fn step(name: &str) -> anyhow::Result<()> {
    match configured(name) {
        None => Ok(()),
        Some(Some(arg)) if arg == "exit" => {
            // SAFETY: ends the process immediately, like a kill; nothing is touched after.
            unsafe { libc::_exit(86) }
        }
        Some(Some(arg)) if arg.starts_with("wait=") => {
            rendezvous(std::path::Path::new(&arg["wait=".len()..]), name);
            Ok(())
        }
        Some(arg) => Err(anyhow::anyhow!("failpoint {name} returned {arg:?}")),
    }
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn step(_name: &str) -> anyhow::Result<()> {
    Ok(())
}

/// `Some(arg)` when the point's action is `return(arg)`.
#[cfg(feature = "test-hooks")]
fn configured(name: &str) -> Option<Option<String>> {
    fail::fail_point!(name, Some);
    None
}

#[cfg(feature = "test-hooks")]
fn rendezvous(dir: &std::path::Path, name: &str) {
    use std::io::{Read, Write};
    // Opening a FIFO blocks until the other end opens it: no polling on either side.
    if let Ok(mut reached) = std::fs::OpenOptions::new().write(true).open(dir.join("reached")) {
        let _ = reached.write_all(name.as_bytes());
    }
    if let Ok(mut go) = std::fs::File::open(dir.join("go")) {
        let _ = go.read_to_end(&mut Vec::new());
    }
}
