//! Security corpus, filesystem shapes: hostile or unusual entries in and around the memory
//! directory, each put through swap, journal and rollback. dreamd never follows a link when
//! it writes, never writes outside the memory directory, never blocks on a FIFO, and leaves
//! every entry it does not manage exactly as it was. The shapes live in `security/fs/shapes.rs`.

#[path = "security/fs/shapes.rs"]
mod shapes;

use dreamd::apply::{self, ApplyError, Record, Target};
use dreamd::config::{ApplyMode, Config};
use dreamd::state::State;
use dreamd::store::{MemoryFile, Store};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

fn store(files: &[(&str, &[u8])]) -> Store {
    let mut s = Store::default();
    for (p, b) in files {
        s.files.insert(p.to_string(), MemoryFile { bytes: b.to_vec(), mtime: None });
    }
    s
}

struct Lab {
    dir: tempfile::TempDir,
    memory: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let memory = dir.path().join("memory");
        store(&[("MEMORY.md", b"- [a](a.md)\n"), ("a.md", b"- one\n- one\n"), ("sub/old.md", b"- old\n")]).write_to(&memory).unwrap();
        Lab { dir, memory }
    }

    fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    /// Apply `cand` over the live store with generation `gen`.
    fn apply(&self, mode: ApplyMode, cand: &Store, gen: i64) -> Result<apply::Applied, ApplyError> {
        let base = Store::read(&self.memory).unwrap().hash();
        let gen_dir = self.dir.path().join(format!("state/generations/{gen}"));
        let journal = self.dir.path().join("state/apply.journal");
        std::fs::create_dir_all(self.dir.path().join("state")).unwrap();
        let record = Record { generation_id: gen, job_id: None, reason: "test".into(), at: chrono::Utc::now() };
        let t = Target { memory_dir: &self.memory, generation_dir: &gen_dir, journal_path: &journal, mode, record };
        let r = apply::apply(&t, cand, &base);
        if r.is_ok() {
            apply::finish(&journal).unwrap();
        }
        r
    }
}

const MODES: [ApplyMode; 2] = [ApplyMode::Swap, ApplyMode::Journal];

fn candidate() -> Store {
    store(&[
        ("MEMORY.md", b"- [a](a.md)\n- [b](b.md)\n"),
        ("a.md", b"- one\n"),
        ("b.md", b"- new\n"),
        ("topics/keep.md", b"- kept topic\n"),
    ])
}

#[test]
fn every_shape_stays_untouched_across_apply_and_rollback() {
    for mode in MODES {
        let lab = Lab::new();
        let planted = shapes::plant(&lab.memory, &lab.outside());
        let before = Store::read(&lab.memory).unwrap();
        lab.apply(mode, &candidate(), 1).unwrap();
        assert_eq!(Store::read(&lab.memory).unwrap().hash(), candidate().hash(), "{mode:?}");
        planted.assert_intact(&lab.memory, &format!("{mode:?} apply"));
        planted.assert_absent_from(&lab.dir.path().join("state/generations/1"), &format!("{mode:?} generation"));
        let restored = Store::read(&lab.dir.path().join("state/generations/1")).unwrap();
        lab.apply(mode, &restored, 2).unwrap();
        assert_eq!(Store::read(&lab.memory).unwrap().hash(), before.hash(), "{mode:?} rollback");
        planted.assert_intact(&lab.memory, &format!("{mode:?} rollback"));
    }
}

/// Paths a hostile candidate could carry. A `Store` read from disk never has them, but an
/// engine's output is data: the apply checks again.
#[test]
fn hostile_candidate_paths_are_refused_before_anything_changes() {
    for mode in MODES {
        for bad in ["../escape.md", ".git/config", "/abs.md", "a/../b.md", "x/./y.md", ".hidden.md", "a//b.md", ""] {
            let lab = Lab::new();
            std::fs::create_dir(lab.outside()).unwrap();
            let before = Store::read(&lab.memory).unwrap();
            let mut cand = candidate();
            cand.files.insert(bad.into(), MemoryFile { bytes: b"- planted\n".to_vec(), mtime: None });
            let r = lab.apply(mode, &cand, 1);
            assert!(matches!(r, Err(ApplyError::Refused(_))), "{mode:?} {bad:?}: {r:?}");
            assert_eq!(Store::read(&lab.memory).unwrap(), before, "{mode:?} {bad:?}");
            assert!(!lab.dir.path().join("escape.md").exists() && !Path::new("/abs.md").exists(), "{mode:?} {bad:?}");
            assert!(!lab.memory.join(".git").exists() && !lab.memory.join(".hidden.md").exists(), "{mode:?} {bad:?}");
        }
    }
}

/// Links planted under the names dreamd stages at: removed as links, never written through.
#[test]
fn links_at_the_staging_names_are_not_followed() {
    for mode in MODES {
        let lab = Lab::new();
        std::fs::create_dir(lab.outside()).unwrap();
        std::fs::write(lab.outside().join("keep.md"), "outside\n").unwrap();
        std::os::unix::fs::symlink(lab.outside(), lab.dir.path().join(".memory.dreamd-1")).unwrap();
        std::os::unix::fs::symlink(lab.outside(), lab.memory.join(".dreamd-staging-1")).unwrap();
        lab.apply(mode, &candidate(), 1).unwrap();
        assert_eq!(shapes::tree(&lab.outside()), vec![(PathBuf::from("keep.md"), b"outside\n".to_vec())], "{mode:?}");
        assert_eq!(Store::read(&lab.memory).unwrap().hash(), candidate().hash(), "{mode:?}");
    }
}

fn config_for(lab: &Lab) -> (Config, State) {
    let config = Config::from_yaml("agent:\n  memory_dir: ./memory\nstate_dir: ./state\n", &lab.dir.path().join("dreamd.yaml")).unwrap();
    let state = State::open(&config.db_path()).unwrap();
    (config, state)
}

/// Run `f` on another thread; fail (instead of hanging) if it blocks.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30)).expect("blocked")
}

/// The agent's `.consolidate-lock` replaced by a link to a file elsewhere, or by a FIFO. Before:
/// dreamd wrote its PID through the link, and would block forever opening the FIFO.
#[test]
fn a_linked_or_fifo_consolidation_lock_is_never_written_through_or_blocked_on() {
    let lab = Lab::new();
    std::fs::create_dir(lab.outside()).unwrap();
    std::fs::write(lab.outside().join("bashrc"), "export PATH\n").unwrap();
    std::os::unix::fs::symlink(lab.outside().join("bashrc"), lab.memory.join(".consolidate-lock")).unwrap();
    let (config, state) = config_for(&lab);
    let base = Store::read(&lab.memory).unwrap().hash();
    let r = apply::replace_live(&config, &state, chrono::Utc::now(), &candidate(), &base, None, "test");
    assert!(r.is_err(), "{r:?}");
    assert_eq!(std::fs::read_to_string(lab.outside().join("bashrc")).unwrap(), "export PATH\n");
    assert_eq!(Store::read(&lab.memory).unwrap().hash(), base);

    std::fs::remove_file(lab.memory.join(".consolidate-lock")).unwrap();
    let fifo = std::ffi::CString::new(lab.memory.join(".consolidate-lock").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let memory = lab.memory.clone();
    let cand = candidate();
    let base_kept = base.clone();
    let r = within(move || {
        let status = dreamd::lock::inspect(&memory, chrono::Utc::now());
        let r = apply::replace_live(&config, &state, chrono::Utc::now(), &cand, &base, None, "test").map(|_| ());
        (status, r.map_err(|e| e.to_string()))
    });
    assert!(r.1.is_err(), "the lock cannot be taken: {r:?}");
    assert_eq!(Store::read(&lab.memory).unwrap().hash(), base_kept, "nothing applied");
    assert!(std::fs::symlink_metadata(lab.memory.join(".consolidate-lock")).unwrap().file_type().is_fifo(), "the FIFO is left alone");
}

/// Names that are valid but awkward: a newline, spaces, non-ASCII. They are the agent's store
/// and come through byte for byte.
#[test]
fn awkward_but_valid_names_are_applied_byte_for_byte() {
    for mode in MODES {
        let lab = Lab::new();
        let names: [&str; 4] = ["new\nline.md", "with space.md", "ünïcödé/日本語.md", "-dash.md"];
        for n in names {
            let p = lab.memory.join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, format!("- {n}\n")).unwrap();
        }
        let mut cand = Store::read(&lab.memory).unwrap();
        cand.files.get_mut("a.md").unwrap().bytes = b"- one\n".to_vec();
        lab.apply(mode, &cand, 1).unwrap();
        for n in names {
            assert_eq!(std::fs::read_to_string(lab.memory.join(n)).unwrap(), format!("- {n}\n"), "{mode:?} {n:?}");
        }
        assert_eq!(Store::read(&lab.memory).unwrap().hash(), cand.hash(), "{mode:?}");
    }
}
