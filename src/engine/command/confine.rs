//! Writes confined to the work directory, with Landlock (Linux 5.13+).
//!
//! Only write-like rights are restricted (create, write, truncate, remove, rename, link): the
//! engine may read and run what its user can, but it can change nothing outside its work
//! directory, the live store included, even as root (0444 copies do not stop root).

use landlock::{AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, ABI};
use std::path::Path;

/// The newest ABI this code knows; the crate downgrades to what the kernel has.
const TARGET_ABI: ABI = ABI::V5;

/// Landlock's ABI version on this kernel, None when it is missing or disabled.
pub fn kernel_abi() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the version query takes no attribute pointer and returns a number or -1.
    let v = unsafe {
        libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<libc::c_void>(), 0usize, LANDLOCK_CREATE_RULESET_VERSION)
    };
    (v >= 1).then_some(v)
}

/// A ruleset that allows writing beneath `dir` and to `/dev/null` only; apply it in the child
/// with `restrict_self` (no allocation on success, so it is safe between fork and exec).
pub fn writes_only_beneath(dir: &Path) -> anyhow::Result<RulesetCreated> {
    let write = AccessFs::from_write(TARGET_ABI);
    let ruleset = Ruleset::default()
        .handle_access(write)?
        .create()?
        .add_rule(PathBeneath::new(PathFd::new(dir)?, write))?
        .add_rule(PathBeneath::new(PathFd::new("/dev/null")?, AccessFs::from_file(TARGET_ABI) & write))?;
    Ok(ruleset)
}
