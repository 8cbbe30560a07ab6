//! Sanity of the configured directories. dreamd replaces `memory_dir` wholesale and keeps
//! private copies in `state_dir`, so a path mistake is not cosmetic: a state directory inside
//! the memory directory gets dreamed over (and swapped into a generation); a memory directory
//! that is `/`, `/etc` or a home directory would be swapped as a whole.
//!
//! Paths are compared as given and with links resolved (for the part that exists), so a link
//! cannot hide an overlap.

use super::Config;
use std::path::{Path, PathBuf};

/// Directories dreamd must never replace or take over.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/run/user",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/usr/sbin",
    "/usr/share",
    "/var",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/tmp",
];

/// Kernel filesystems: nothing below them is a memory.
const PSEUDO_FS: &[&str] = &["/proc", "/sys", "/dev"];

/// A problem with the configured paths: the key to point at and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathProblem {
    pub key: &'static [&'static str],
    pub message: String,
}

const MEMORY_DIR: &[&str] = &["agent", "memory_dir"];
const SESSIONS_DIR: &[&str] = &["agent", "sessions_dir"];
const STATE_DIR: &[&str] = &["state_dir"];
const SOCKET: &[&str] = &["api", "socket"];

/// How the paths relate; the first problem found.
pub fn check(c: &Config) -> Option<PathProblem> {
    let memory = &c.agent.memory_dir;
    let state = &c.state_dir;
    let problem = |key, message: String| Some(PathProblem { key, message });
    if let Some(why) = system_dir(memory) {
        return problem(MEMORY_DIR, format!("agent.memory_dir is {}{why}; expected the agent's own memory directory", memory.display()));
    }
    if let Some(why) = system_dir(state) {
        return problem(STATE_DIR, format!("state_dir is {}{why}; expected a directory of dreamd's own", state.display()));
    }
    if overlaps(state, memory) {
        return problem(
            STATE_DIR,
            format!(
                "state_dir {} is inside agent.memory_dir {} (or is it): dreamd would dream over its own database and \
                 move it into a generation; expected a directory outside the memory directory",
                state.display(),
                memory.display()
            ),
        );
    }
    if overlaps(memory, state) {
        return problem(
            MEMORY_DIR,
            format!("agent.memory_dir {} is inside state_dir {}; expected the two apart", memory.display(), state.display()),
        );
    }
    if let Some(socket) = &c.api.socket {
        if overlaps(socket, memory) {
            return problem(
                SOCKET,
                format!(
                    "api.socket {} is inside agent.memory_dir {}: the agent could reach or replace dreamd's API there, and \
                     dreamd removes the socket path when it stops; expected a path outside the memory directory",
                    socket.display(),
                    memory.display()
                ),
            );
        }
    }
    if let Some(sessions) = &c.agent.sessions_dir {
        if same(sessions, memory) {
            return problem(
                SESSIONS_DIR,
                format!(
                    "agent.sessions_dir and agent.memory_dir are the same directory ({}); expected the transcripts apart from \
                     the memory (Claude Code keeps memory/ inside the folder of transcripts, which is fine)",
                    memory.display()
                ),
            );
        }
        if overlaps(sessions, memory) {
            return problem(
                SESSIONS_DIR,
                format!(
                    "agent.sessions_dir {} is inside agent.memory_dir {}: the transcripts would be dreamed over as memory; \
                     expected them outside (memory/ inside the transcripts folder is fine)",
                    sessions.display(),
                    memory.display()
                ),
            );
        }
    }
    None
}

/// What is wrong with the memory directory as it is on disk now (missing, not a directory).
/// Not fatal at start — a volume may be mounted later — but `check-config` reports it.
pub fn memory_dir_problem(c: &Config) -> Option<PathProblem> {
    let memory = &c.agent.memory_dir;
    let message = match std::fs::metadata(memory) {
        Ok(m) if m.is_dir() => match std::fs::read_dir(memory) {
            Ok(_) => return None,
            Err(e) => format!("agent.memory_dir {} is not readable ({e}); expected a directory dreamd can read", memory.display()),
        },
        Ok(_) => format!("agent.memory_dir {} is not a directory; expected the agent's memory directory", memory.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            format!("agent.memory_dir {} does not exist; create it or correct the path (dreams fail until it exists)", memory.display())
        }
        Err(e) => format!("agent.memory_dir {} is not reachable ({e})", memory.display()),
    };
    Some(PathProblem { key: MEMORY_DIR, message })
}

/// " (a system directory)" and the like when `p` is one dreamd must not take over.
fn system_dir(p: &Path) -> Option<String> {
    let homes = homes();
    for form in forms(p) {
        if PSEUDO_FS.iter().any(|d| form.starts_with(d)) {
            return Some(" (a kernel filesystem)".into());
        }
        if SYSTEM_DIRS.iter().any(|d| form == Path::new(d)) {
            return Some(if form == Path::new("/") { " (the root directory)".into() } else { " (a system directory)".into() });
        }
        if is_home(&form, &homes) {
            return Some(" (a home directory)".into());
        }
    }
    None
}

/// Every user's home, as given and with links resolved: dreamd's own (`$HOME`) and every one
/// in `/etc/passwd` (the daemon may run as root or as another user than the agent's).
fn homes() -> Vec<PathBuf> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let own = std::env::var_os("HOME").map(PathBuf::from);
    own.iter().map(PathBuf::as_path).chain(homes_in(&passwd)).flat_map(forms).collect()
}

/// `form` is a home: one of `homes`, or any folder directly under `/home`.
fn is_home(form: &Path, homes: &[PathBuf]) -> bool {
    form.parent() == Some(Path::new("/home")) || homes.iter().any(|h| h == form)
}

/// The home field of each `/etc/passwd` line; `/` and the conventional non-homes are not homes.
fn homes_in(passwd: &str) -> impl Iterator<Item = &Path> {
    passwd
        .lines()
        .filter_map(|l| l.split(':').nth(5))
        .filter(|h| h.starts_with('/') && !matches!(*h, "/" | "/nonexistent" | "/dev/null"))
        .map(Path::new)
}

/// `inner` is `outer` or below it, as written or with links resolved.
fn overlaps(inner: &Path, outer: &Path) -> bool {
    let outer_forms = forms(outer);
    forms(inner).iter().any(|i| outer_forms.iter().any(|o| i.starts_with(o)))
}

fn same(a: &Path, b: &Path) -> bool {
    let b_forms = forms(b);
    forms(a).iter().any(|x| b_forms.contains(x))
}

/// The path as given and with links resolved for the part of it that exists.
fn forms(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    let mut existing = p;
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut full = real;
            for part in rest.iter().rev() {
                full.push(part);
            }
            if full != p {
                out.push(full);
            }
            break;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod home_tests {
    use super::*;

    #[test]
    fn homes_are_read_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nagent:x:1001:1001::/srv/agent:/bin/sh\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\nbroken line\n";
        let homes: Vec<&Path> = homes_in(passwd).collect();
        assert_eq!(homes, vec![Path::new("/root"), Path::new("/srv/agent")]);
        assert!(is_home(Path::new("/home/alice"), &[]), "a folder directly under /home, whether or not it exists");
        assert!(!is_home(Path::new("/home/alice/.claude/projects/x/memory"), &[]));
    }
}
