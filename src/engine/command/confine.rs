//! What the engine's processes may do, beyond what dreamd's user may.
//!
//! - **Writes** confined to the work directory, with Landlock (Linux 5.13+). Only write-like
//!   rights are restricted (create, write, truncate, remove, rename, link): the engine may
//!   read and run what its user can, but it can change nothing outside its work directory,
//!   the live store included, even as root (0444 copies do not stop root).
//! - **Signals** only within its own sandbox (Landlock ABI 6, Linux 6.12+, where available): it
//!   cannot stop dreamd or the agent.
//! - **No Unix sockets** (seccomp, always): dreamd's API is a Unix socket owned by the same
//!   user, so an engine that could connect to it could approve its own held candidate, roll
//!   the store back or discard a person's pending review. `io_uring` is refused too, since its
//!   operations are not seen by seccomp. The filter is inherited by every process the engine
//!   starts and cannot be lifted, so a process that leaves the group is still bound by it.

use landlock::{AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, Scope, ABI};
use seccompiler::{BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule};
use std::collections::BTreeMap;
use std::path::Path;

/// The newest ABI this code knows; the crate downgrades to what the kernel has.
const TARGET_ABI: ABI = ABI::V6;

/// Landlock's ABI version on this kernel, None when it is missing or disabled.
pub fn kernel_abi() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the version query takes no attribute pointer and returns a number or -1.
    let v = unsafe {
        libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<libc::c_void>(), 0usize, LANDLOCK_CREATE_RULESET_VERSION)
    };
    (v >= 1).then_some(v)
}

/// A ruleset that allows writing beneath `dir` and to `/dev/null` only, and signals only
/// within the sandbox; apply it in the child with `restrict_self` (no allocation on success,
/// so it is safe between fork and exec).
pub fn writes_only_beneath(dir: &Path) -> anyhow::Result<RulesetCreated> {
    let write = AccessFs::from_write(TARGET_ABI);
    let ruleset = Ruleset::default()
        .handle_access(write)?
        .scope(Scope::Signal)?
        .create()?
        .add_rule(PathBeneath::new(PathFd::new(dir)?, write))?
        .add_rule(PathBeneath::new(PathFd::new("/dev/null")?, AccessFs::from_file(TARGET_ABI) & write))?;
    Ok(ruleset)
}

/// The seccomp program: `socket(AF_UNIX, …)` and `io_uring_setup` fail with `EACCES`,
/// everything else is allowed. Built before the fork; installed in the child with
/// [`seccompiler::apply_filter`] (two syscalls, no allocation).
pub fn no_unix_sockets() -> anyhow::Result<BpfProgram> {
    let arch = std::env::consts::ARCH.try_into().map_err(|e| anyhow::anyhow!("seccomp: {e:?}"))?;
    let unix = SeccompRule::new(vec![SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, libc::AF_UNIX as u64)?])?;
    let rules: BTreeMap<i64, Vec<SeccompRule>> = [(libc::SYS_socket, vec![unix]), (libc::SYS_io_uring_setup, vec![])].into_iter().collect();
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EACCES as u32), arch)?;
    Ok(filter.try_into()?)
}
