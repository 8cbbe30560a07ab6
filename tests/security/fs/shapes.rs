//! Filesystem shapes dreamd does not manage, planted in a memory directory, and the check that
//! each is still there, untouched, after an apply or a rollback: same type, same inode, same
//! bytes or link target; the socket still accepts connections. Shared by the fence, crash and
//! security tests (`#[path]`-included).
#![allow(dead_code)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// What a shape is, to check it later.
#[derive(Debug)]
enum Expect {
    File(Vec<u8>),
    Dir,
    Link(PathBuf),
    Fifo,
    Socket,
    Device,
}

#[derive(Debug)]
struct Entry {
    what: &'static str,
    rel: PathBuf,
    ino: u64,
    expect: Expect,
}

/// The planted shapes. Keeps the socket's listener alive.
pub struct Planted {
    entries: Vec<Entry>,
    _listener: UnixListener,
    pub outside: PathBuf,
    outside_before: Vec<(PathBuf, Vec<u8>)>,
    /// Why some shapes were left out here (e.g. device files need root).
    pub skipped: Vec<String>,
}

fn non_utf8(prefix: &[u8], suffix: &[u8]) -> PathBuf {
    let mut v = prefix.to_vec();
    v.push(0xff);
    v.extend_from_slice(suffix);
    PathBuf::from(OsString::from_vec(v))
}

/// Plant every shape in `memory`; `outside` (created) is where links point, and must stay as it is.
pub fn plant(memory: &Path, outside: &Path) -> Planted {
    std::fs::create_dir_all(outside).unwrap();
    std::fs::write(outside.join("secret.md"), "- a file outside the memory directory\n").unwrap();
    std::fs::write(memory.join(".agent-state"), "dot-file of the agent\n").unwrap();
    std::fs::create_dir_all(memory.join(".git/objects/ab")).unwrap();
    std::fs::write(memory.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(memory.join(".git/objects/ab/cdef"), [0u8, 1, 2, 3]).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.md"), memory.join("outside-link.md")).unwrap();
    std::os::unix::fs::symlink(outside, memory.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink("./nowhere", memory.join("dangling")).unwrap();
    let fifo = std::ffi::CString::new(memory.join("pipe").into_os_string().into_vec()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let listener = UnixListener::bind(memory.join("agent.sock")).unwrap();
    std::fs::write(memory.join(non_utf8(b"caf", b".md")), "- not a UTF-8 name\n").unwrap();
    std::fs::create_dir(memory.join(non_utf8(b"d", b""))).unwrap();
    std::fs::write(memory.join(non_utf8(b"d", b"")).join("note.md"), "- inside a non-UTF-8 folder\n").unwrap();
    std::fs::create_dir_all(memory.join("topics")).unwrap();
    std::fs::write(memory.join("topics/keep.md"), "---\nname: keep\n---\n- a topic in a subfolder\n").unwrap();
    std::fs::write(memory.join("topics/.draft.md"), "- the agent's hidden draft\n").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.md"), memory.join("topics/link.md")).unwrap();
    std::fs::create_dir(memory.join("archive")).unwrap();
    let mut skipped = Vec::new();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut entries_rel: Vec<(&'static str, PathBuf)> = vec![
        ("dot-file", ".agent-state".into()),
        ("hidden directory", ".git".into()),
        ("file in a hidden directory", ".git/objects/ab/cdef".into()),
        ("link to a file outside", "outside-link.md".into()),
        ("link to a directory outside", "linked-dir".into()),
        ("dangling link", "dangling".into()),
        ("FIFO", "pipe".into()),
        ("socket", "agent.sock".into()),
        ("non-UTF-8 file name", non_utf8(b"caf", b".md")),
        ("non-UTF-8 directory name", non_utf8(b"d", b"")),
        ("file in a non-UTF-8 directory", non_utf8(b"d", b"").join("note.md")),
        ("hidden file in a subfolder", "topics/.draft.md".into()),
        ("link in a subfolder", "topics/link.md".into()),
        ("empty folder", "archive".into()),
    ];
    if root {
        let dev = std::ffi::CString::new(memory.join("nulldev").into_os_string().into_vec()).unwrap();
        // SAFETY: a valid path; creates a character device like /dev/null (1, 3).
        let rc = unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) };
        if rc == 0 {
            entries_rel.push(("device file", "nulldev".into()));
        } else {
            skipped.push(format!("device file: mknod failed ({})", std::io::Error::last_os_error()));
        }
    } else {
        skipped.push("device file: needs root to mknod".into());
    }
    let entries = entries_rel
        .into_iter()
        .map(|(what, rel)| {
            let p = memory.join(&rel);
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            use std::os::unix::fs::FileTypeExt;
            let expect = if ft.is_symlink() {
                Expect::Link(std::fs::read_link(&p).unwrap())
            } else if ft.is_dir() {
                Expect::Dir
            } else if ft.is_fifo() {
                Expect::Fifo
            } else if ft.is_socket() {
                Expect::Socket
            } else if ft.is_char_device() {
                Expect::Device
            } else {
                Expect::File(std::fs::read(&p).unwrap())
            };
            Entry { what, rel, ino: m.ino(), expect }
        })
        .collect();
    for s in &skipped {
        eprintln!("SKIPPED shape: {s}");
    }
    Planted { entries, _listener: listener, outside: outside.to_path_buf(), outside_before: tree(outside), skipped }
}

/// Every file under `dir` with its bytes (links not followed), sorted.
pub fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(root, &p, out);
            } else if t.is_file() {
                out.push((p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

impl Planted {
    /// Each shape is in `memory`, the very same inode, unchanged; nothing outside changed.
    pub fn assert_intact(&self, memory: &Path, when: &str) {
        for e in &self.entries {
            let p = memory.join(&e.rel);
            let m = std::fs::symlink_metadata(&p).unwrap_or_else(|err| panic!("{when}: {} ({}) is gone: {err}", e.what, e.rel.display()));
            assert_eq!(m.ino(), e.ino, "{when}: {} ({}) is another inode", e.what, e.rel.display());
            use std::os::unix::fs::FileTypeExt;
            let ft = m.file_type();
            match &e.expect {
                Expect::File(bytes) => assert_eq!(&std::fs::read(&p).unwrap(), bytes, "{when}: {}", e.what),
                Expect::Dir => assert!(ft.is_dir(), "{when}: {}", e.what),
                Expect::Link(t) => assert_eq!(&std::fs::read_link(&p).unwrap(), t, "{when}: {}", e.what),
                Expect::Fifo => assert!(ft.is_fifo(), "{when}: {}", e.what),
                Expect::Device => assert!(ft.is_char_device(), "{when}: {}", e.what),
                Expect::Socket => {
                    assert!(ft.is_socket(), "{when}: {}", e.what);
                    UnixStream::connect(&p).unwrap_or_else(|err| panic!("{when}: the agent's socket no longer answers: {err}"));
                }
            }
        }
        assert_eq!(tree(&self.outside), self.outside_before, "{when}: something was written outside the memory directory");
    }

    /// None of the shapes ended up in `dir` (a generation holds the replaced store only).
    pub fn assert_absent_from(&self, dir: &Path, when: &str) {
        for e in &self.entries {
            assert!(
                std::fs::symlink_metadata(dir.join(&e.rel)).is_err(),
                "{when}: {} ({}) was copied into {}",
                e.what,
                e.rel.display(),
                dir.display()
            );
        }
    }
}
