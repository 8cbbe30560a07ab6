use super::*;
use std::time::Duration;

struct Dirs {
    _root: tempfile::TempDir,
    memory: PathBuf,
    sessions: PathBuf,
}

fn dirs_with_memory() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    let memory = root.path().join("memory");
    let sessions = root.path().join("sessions");
    std::fs::create_dir_all(&memory).unwrap();
    std::fs::create_dir_all(&sessions).unwrap();
    std::fs::write(memory.join("MEMORY.md"), "- [a](a.md)\n- [b](b.md)\n").unwrap();
    std::fs::write(memory.join("a.md"), "a\n").unwrap();
    Dirs { _root: root, memory, sessions }
}

fn config(d: &Dirs, force_poll: bool) -> WatchConfig {
    WatchConfig {
        memory_dir: d.memory.clone(),
        sessions_dir: Some(d.sessions.clone()),
        layout: Layout::ClaudeCode,
        session_glob: "**/*.jsonl".into(),
        poll_interval: Duration::from_millis(200),
        // Long: events in these tests must come from the watcher, not the safety net.
        rescan_interval: Duration::from_secs(3600),
        debounce: Duration::from_millis(200),
        force_poll,
    }
}

async fn next(rx: &mut mpsc::Receiver<WatchEvent>, within: Duration) -> Option<WatchEvent> {
    tokio::time::timeout(within, rx.recv()).await.ok().flatten()
}

/// Wait for an event whose scan satisfies `pred` (earlier events may be partial writes).
async fn until(rx: &mut mpsc::Receiver<WatchEvent>, pred: impl Fn(&WatchEvent) -> bool) -> WatchEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next(rx, left).await {
            Some(e) if pred(&e) => return e,
            Some(_) => continue,
            None => panic!("no matching watch event within 8 s"),
        }
    }
}

#[test]
fn scan_memory_counts_and_hashes_like_the_store() {
    let d = dirs_with_memory();
    std::fs::write(d.memory.join(".consolidate-lock"), "123").unwrap();
    std::fs::create_dir_all(d.memory.join("sub")).unwrap();
    std::fs::write(d.memory.join("sub/c.md"), "ccc").unwrap();
    let m = scan_memory(&d.memory);
    assert_eq!(m.files, 3);
    assert_eq!(m.bytes, 24 + 2 + 3);
    assert_eq!(m.index_lines, 2);
    assert_eq!(m.index_bytes, 24);
    assert!(m.newest_mtime.is_some());
    assert_eq!(m.hash, crate::store::Store::read(&d.memory).unwrap().hash());
    assert_eq!(m.error, None);
    assert_eq!(m.stats().index_lines, 2);

    let missing = scan_memory(&d.memory.join("nope"));
    assert!(missing.error.is_some());
    assert_eq!(missing.files, 0);
}

#[test]
fn scan_includes_sessions_without_subagents_as_sessions() {
    let d = dirs_with_memory();
    std::fs::write(d.sessions.join("s1.jsonl"), "{}\n").unwrap();
    std::fs::create_dir_all(d.sessions.join("s1/subagents")).unwrap();
    std::fs::write(d.sessions.join("s1/subagents/agent-1.jsonl"), "{}\n").unwrap();
    let s = scan(&config(&d, false));
    assert_eq!(s.sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec!["s1"]);
    assert_eq!(s.sessions[0].bytes, 6);
    assert!(s.same_as(&scan(&config(&d, false))));
}

fn event(kind: EventKind, path: &Path) -> notify_debouncer_full::DebouncedEvent {
    notify_debouncer_full::DebouncedEvent::new(notify::Event::new(kind).add_path(path.to_path_buf()), std::time::Instant::now())
}

#[test]
fn reads_and_dot_files_are_not_changes() {
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
    let md = Path::new("/m/b.md");
    // Our own scan opens and reads every file: that must not cause another scan.
    assert!(!relevant(&event(EventKind::Access(AccessKind::Open(AccessMode::Read)), md)));
    assert!(!relevant(&event(EventKind::Access(AccessKind::Close(AccessMode::Read)), md)));
    // Neither does the agent's lock file.
    assert!(!relevant(&event(EventKind::Modify(ModifyKind::Any), Path::new("/m/.consolidate-lock"))));
    // Writes are.
    assert!(relevant(&event(EventKind::Access(AccessKind::Close(AccessMode::Write)), md)));
    assert!(relevant(&event(EventKind::Create(CreateKind::File), md)));
    assert!(relevant(&event(EventKind::Modify(ModifyKind::Any), md)));
}

#[tokio::test]
async fn native_events_trigger_a_fresh_scan() {
    let d = dirs_with_memory();
    let (tx, mut rx) = mpsc::channel(16);
    let h = Watcher::start(config(&d, false), tx).await.unwrap();
    let start = next(&mut rx, Duration::from_secs(5)).await.expect("start scan");
    assert_eq!(start.cause, ScanCause::Start);
    assert_eq!(start.scan.memory.files, 2);
    assert_eq!(h.mode(), WatchMode::Native);

    std::fs::write(d.memory.join("b.md"), "bbbb\n").unwrap();
    let e = until(&mut rx, |e| e.scan.memory.files == 3).await;
    assert_eq!(e.cause, ScanCause::Event);
    assert!(e.changed);

    std::fs::write(d.sessions.join("abc.jsonl"), "{}\n").unwrap();
    let e = until(&mut rx, |e| e.scan.sessions.len() == 1).await;
    assert_eq!(e.scan.sessions[0].id, "abc");
    h.shutdown().await;
}

#[tokio::test]
async fn forced_polling_detects_writes() {
    let d = dirs_with_memory();
    let (tx, mut rx) = mpsc::channel(16);
    let h = Watcher::start(config(&d, true), tx).await.unwrap();
    // The start scan comes after the poller took its baseline.
    assert_eq!(next(&mut rx, Duration::from_secs(5)).await.unwrap().cause, ScanCause::Start);
    assert_eq!(h.mode(), WatchMode::Poll);
    std::fs::write(d.sessions.join("p.jsonl"), "{}\n").unwrap();
    let e = until(&mut rx, |e| e.scan.sessions.len() == 1).await;
    assert_eq!(e.cause, ScanCause::Event, "the PollWatcher, not the hour-long safety net");
    h.shutdown().await;
}

#[tokio::test]
async fn reconfigure_switches_to_polling_in_place() {
    let d = dirs_with_memory();
    let (tx, mut rx) = mpsc::channel(16);
    let h = Watcher::start(config(&d, false), tx).await.unwrap();
    next(&mut rx, Duration::from_secs(5)).await.unwrap();
    assert_eq!(h.mode(), WatchMode::Native);
    h.reconfigure(config(&d, true));
    let e = until(&mut rx, |e| e.cause == ScanCause::Requested).await;
    assert_eq!(e.scan.memory.files, 2);
    assert_eq!(h.mode(), WatchMode::Poll);
    std::fs::write(d.sessions.join("q.jsonl"), "{}\n").unwrap();
    let e = until(&mut rx, |e| e.scan.sessions.len() == 1).await;
    assert_eq!(e.cause, ScanCause::Event, "the new poller sees writes");
    h.shutdown().await;
}

#[tokio::test]
async fn rescan_with_rewatch_follows_a_swapped_directory() {
    let d = dirs_with_memory();
    let (tx, mut rx) = mpsc::channel(16);
    let h = Watcher::start(config(&d, false), tx).await.unwrap();
    next(&mut rx, Duration::from_secs(5)).await.unwrap();

    // Swap: the live directory moves away, a new one takes its place.
    let old = d.memory.with_file_name("memory.gen1");
    std::fs::rename(&d.memory, &old).unwrap();
    std::fs::create_dir(&d.memory).unwrap();
    std::fs::write(d.memory.join("MEMORY.md"), "- [x](x.md)\n").unwrap();
    h.rescan(true);
    let e = until(&mut rx, |e| e.cause == ScanCause::Requested).await;
    assert_eq!(e.scan.memory.files, 1);

    // Two writes in a row, each seen by an event: a leftover event of the swap could explain
    // one, not both.
    std::fs::write(d.memory.join("y.md"), "y\n").unwrap();
    let e = until(&mut rx, |e| e.scan.memory.files == 2).await;
    assert_eq!(e.cause, ScanCause::Event, "the new directory is watched");
    std::fs::write(d.memory.join("z.md"), "z\n").unwrap();
    let e = until(&mut rx, |e| e.scan.memory.files == 3).await;
    assert_eq!(e.cause, ScanCause::Event, "the new directory is watched");
    h.shutdown().await;
}

#[tokio::test]
async fn a_directory_that_appears_later_is_watched_after_the_periodic_rescan() {
    let d = dirs_with_memory();
    std::fs::remove_dir_all(&d.sessions).unwrap();
    let mut cfg = config(&d, false);
    cfg.rescan_interval = Duration::from_millis(300);
    let (tx, mut rx) = mpsc::channel(64);
    let h = Watcher::start(cfg, tx).await.unwrap();
    let start = next(&mut rx, Duration::from_secs(5)).await.unwrap();
    assert!(start.scan.sessions.is_empty());
    std::fs::create_dir(&d.sessions).unwrap();
    until(&mut rx, |e| e.cause == ScanCause::Periodic).await;
    std::fs::write(d.sessions.join("late.jsonl"), "{}\n").unwrap();
    let e = until(&mut rx, |e| e.scan.sessions.len() == 1).await;
    assert!(e.changed);
    h.shutdown().await;
}

#[tokio::test]
async fn unchanged_periodic_scans_say_so() {
    let d = dirs_with_memory();
    let mut cfg = config(&d, false);
    cfg.rescan_interval = Duration::from_millis(200);
    let (tx, mut rx) = mpsc::channel(16);
    let h = Watcher::start(cfg, tx).await.unwrap();
    assert!(next(&mut rx, Duration::from_secs(5)).await.unwrap().changed);
    let e = until(&mut rx, |e| e.cause == ScanCause::Periodic).await;
    assert!(!e.changed);
    h.shutdown().await;
}

#[test]
fn limit_errors_are_recognised() {
    assert!(is_limit_error(&notify::Error::new(notify::ErrorKind::MaxFilesWatch)));
    assert!(is_limit_error(&notify::Error::io(std::io::Error::from_raw_os_error(libc::ENOSPC))));
    assert!(is_limit_error(&notify::Error::io(std::io::Error::from_raw_os_error(libc::EMFILE))));
    assert!(!is_limit_error(&notify::Error::path_not_found()));
    assert!(is_missing(&notify::Error::path_not_found()));
}
