use super::*;
use crate::store::MemoryFile;
use std::process::Command;

fn store(files: &[(&str, &str)]) -> Store {
    let mut s = Store::default();
    for (p, t) in files {
        s.files.insert(p.to_string(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
    }
    s
}

struct Fixture {
    _dir: tempfile::TempDir,
    memory: PathBuf,
    state: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let memory = dir.path().join("memory");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    store(&[("MEMORY.md", "- [a](a.md)\n"), ("a.md", "- one\n- one\n"), ("sub/old.md", "- old\n")]).write_to(&memory).unwrap();
    std::fs::write(memory.join(".consolidate-lock"), "4242").unwrap();
    Fixture { _dir: dir, memory, state }
}

fn candidate() -> Store {
    store(&[("MEMORY.md", "- [a](a.md)\n"), ("a.md", "- one\n"), ("b.md", "- new\n")])
}

fn run(f: &Fixture, mode: ApplyMode) -> Result<Method, ApplyError> {
    let base = Store::read(&f.memory).unwrap().hash();
    let gen = f.state.join("generations/1");
    let journal = f.state.join("apply.journal");
    apply(&Target { memory_dir: &f.memory, generation_dir: &gen, journal_path: &journal, mode }, &candidate(), &base)
}

fn check_applied(f: &Fixture, before_hash: &str) {
    assert_eq!(Store::read(&f.memory).unwrap().hash(), candidate().hash());
    assert_eq!(std::fs::read_to_string(f.memory.join(".consolidate-lock")).unwrap(), "4242", "hidden files stay");
    assert!(!f.memory.join("sub").exists(), "emptied folders go");
    assert_eq!(Store::read(&f.state.join("generations/1")).unwrap().hash(), before_hash, "generation is the replaced store, byte for byte");
    assert!(!f.state.join("apply.journal").exists());
    let leftovers: Vec<_> = std::fs::read_dir(f.memory.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("dreamd-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn swap_replaces_the_store_and_keeps_a_generation() {
    let f = fixture();
    let before = Store::read(&f.memory).unwrap().hash();
    assert_eq!(run(&f, ApplyMode::Swap).unwrap(), Method::Swap);
    check_applied(&f, &before);
}

#[test]
fn journal_replaces_the_store_and_keeps_a_generation() {
    let f = fixture();
    let before = Store::read(&f.memory).unwrap().hash();
    assert_eq!(run(&f, ApplyMode::Journal).unwrap(), Method::Journal);
    check_applied(&f, &before);
    let hidden: Vec<_> = std::fs::read_dir(&f.memory)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".dreamd"))
        .collect();
    assert!(hidden.is_empty(), "staging removed: {hidden:?}");
}

#[test]
fn a_changed_live_store_is_stale_and_untouched() {
    for mode in [ApplyMode::Swap, ApplyMode::Journal] {
        let f = fixture();
        let base = Store::read(&f.memory).unwrap().hash();
        std::fs::write(f.memory.join("a.md"), "- edited by the agent\n").unwrap();
        let edited = Store::read(&f.memory).unwrap();
        let gen = f.state.join("generations/1");
        let journal = f.state.join("apply.journal");
        let r = apply(&Target { memory_dir: &f.memory, generation_dir: &gen, journal_path: &journal, mode }, &candidate(), &base);
        assert!(matches!(r, Err(ApplyError::Stale { .. })), "{mode:?}");
        assert_eq!(Store::read(&f.memory).unwrap(), edited);
    }
}

#[test]
fn crash_mid_journal_apply_rolls_forward() {
    let f = fixture();
    let before = Store::read(&f.memory).unwrap();
    let cand = candidate();
    // Simulate a crash after two of the renames: staging + journal on disk, half moved.
    let staging = f.memory.join(".dreamd-staging-1");
    cand.write_to(&staging).unwrap();
    before.write_to(&f.state.join("generations/1")).unwrap();
    let j = Journal {
        method: Method::Journal,
        memory_dir: f.memory.clone(),
        staging: staging.clone(),
        generation_dir: f.state.join("generations/1"),
        base_hash: before.hash(),
        candidate_hash: cand.hash(),
        replace: cand.files.keys().cloned().collect(),
        delete: vec!["sub/old.md".into()],
    };
    let journal = f.state.join("apply.journal");
    write_journal(&journal, &j).unwrap();
    std::fs::rename(staging.join("a.md"), f.memory.join("a.md")).unwrap();
    let msg = recover(&journal).unwrap().unwrap();
    assert!(msg.contains("finished"), "{msg}");
    check_applied(&f, &before.hash());
    assert_eq!(recover(&journal).unwrap(), None, "nothing left to do");
}

#[test]
fn crash_before_or_after_exchange_recovers() {
    // Before the exchange: the staging copy is the candidate; it is discarded.
    let f = fixture();
    let before = Store::read(&f.memory).unwrap();
    let staging = staging_sibling(&f.memory, "1").unwrap();
    candidate().write_to(&staging).unwrap();
    let j = Journal {
        method: Method::Swap,
        memory_dir: f.memory.clone(),
        staging: staging.clone(),
        generation_dir: f.state.join("generations/1"),
        base_hash: before.hash(),
        candidate_hash: candidate().hash(),
        replace: vec![],
        delete: vec![],
    };
    let journal = f.state.join("apply.journal");
    write_journal(&journal, &j).unwrap();
    assert!(recover(&journal).unwrap().unwrap().contains("had not switched"));
    assert_eq!(Store::read(&f.memory).unwrap(), before);
    assert!(!staging.exists());

    // After the exchange: the staging path holds the old store; it becomes the generation.
    candidate().write_to(&staging).unwrap();
    write_journal(&journal, &j).unwrap();
    exchange(&staging, &f.memory).unwrap();
    assert!(recover(&journal).unwrap().unwrap().contains("finished an interrupted swap"));
    assert_eq!(Store::read(&f.memory).unwrap().hash(), candidate().hash());
    assert_eq!(Store::read(&f.state.join("generations/1")).unwrap().hash(), before.hash());
}

#[test]
fn torn_journal_is_discarded() {
    let d = tempfile::tempdir().unwrap();
    let j = d.path().join("apply.journal");
    std::fs::write(&j, "{\"method\": \"sw").unwrap();
    assert!(recover(&j).unwrap().unwrap().contains("torn"));
    assert!(!j.exists());
}

/// A real mount point, where renaming the directory is impossible. Needs root (CI runs as
/// root); elsewhere the journal path is still covered by the forced-mode tests above.
#[test]
fn auto_mode_on_a_real_mount_point_uses_the_journal() {
    let f = fixture();
    let vol = f.memory.parent().unwrap().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(&vol).status().map(|s| s.success()).unwrap_or(false);
    if !mounted {
        eprintln!("note: cannot mount tmpfs here (not root?); mount-point detection checked on / only");
        assert!(is_mount_point(Path::new("/")));
        return;
    }
    let result = std::panic::catch_unwind(|| {
        assert!(is_mount_point(&vol));
        assert!(!is_mount_point(&f.memory));
        Store::read(&f.memory).unwrap().write_to(&vol).unwrap();
        let before = Store::read(&vol).unwrap().hash();
        let gen = f.state.join("generations/1");
        let journal = f.state.join("apply.journal");
        let t = Target { memory_dir: &vol, generation_dir: &gen, journal_path: &journal, mode: ApplyMode::Auto };
        assert_eq!(apply(&t, &candidate(), &before).unwrap(), Method::Journal);
        assert_eq!(Store::read(&vol).unwrap().hash(), candidate().hash());
        assert_eq!(Store::read(&gen).unwrap().hash(), before);
        // Forcing a swap on a mount point fails cleanly and leaves the store as it was.
        let now = Store::read(&vol).unwrap();
        let t = Target { mode: ApplyMode::Swap, ..t };
        assert!(apply(&t, &store(&[("x.md", "x\n")]), &now.hash()).is_err());
        assert_eq!(Store::read(&vol).unwrap(), now);
    });
    let _ = Command::new("umount").arg(&vol).status();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}
