//! A memory store as data: every file of the memory directory, read whole.
//!
//! Dreams work on snapshots, never on the live directory, so a snapshot is a plain value:
//! relative path → bytes (+ mtime). Only regular files with plain (UTF-8, not hidden) names in
//! plain subdirectories are part of the store. Everything else in the memory directory is the
//! agent's business and is never read, copied or replaced: dot-files and hidden directories
//! (the agent's `.consolidate-lock`, `.git/`), symbolic links, FIFOs, sockets, devices and
//! names that are not UTF-8. [`shape`] is the one place that draws this line.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryFile {
    pub bytes: Vec<u8>,
    pub mtime: Option<DateTime<Utc>>,
}

impl MemoryFile {
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Store {
    /// Relative paths with `/` separators, sorted.
    pub files: BTreeMap<String, MemoryFile>,
}

/// Something odd about the input that did not stop the work.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    pub file: String,
    pub message: String,
}

/// The type of a directory entry, without following symbolic links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    Device,
    Unknown,
}

impl From<std::fs::FileType> for Kind {
    fn from(t: std::fs::FileType) -> Kind {
        use std::os::unix::fs::FileTypeExt;
        if t.is_symlink() {
            Kind::Symlink
        } else if t.is_file() {
            Kind::File
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_fifo() {
            Kind::Fifo
        } else if t.is_socket() {
            Kind::Socket
        } else if t.is_block_device() || t.is_char_device() {
            Kind::Device
        } else {
            Kind::Unknown
        }
    }
}

/// Why an entry of the memory directory is not part of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmanaged {
    Symlink,
    Fifo,
    Socket,
    Device,
    Special,
    Hidden,
    NotUtf8,
}

impl Unmanaged {
    pub fn describe(self) -> &'static str {
        match self {
            Unmanaged::Symlink => "a symbolic link",
            Unmanaged::Fifo => "a FIFO",
            Unmanaged::Socket => "a socket",
            Unmanaged::Device => "a device file",
            Unmanaged::Special => "a special file",
            Unmanaged::Hidden => "a hidden entry",
            Unmanaged::NotUtf8 => "an entry whose name is not UTF-8",
        }
    }
}

/// What an entry is to dreamd: a file of the store, a directory that may hold some, or
/// something it leaves alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape<'a> {
    File(&'a str),
    Dir(&'a str),
    Unmanaged(Unmanaged),
}

pub fn shape(name: &OsStr, kind: Kind) -> Shape<'_> {
    let by_kind = match kind {
        Kind::Symlink => Some(Unmanaged::Symlink),
        Kind::Fifo => Some(Unmanaged::Fifo),
        Kind::Socket => Some(Unmanaged::Socket),
        Kind::Device => Some(Unmanaged::Device),
        Kind::Unknown => Some(Unmanaged::Special),
        Kind::File | Kind::Dir => None,
    };
    if let Some(u) = by_kind {
        return Shape::Unmanaged(u);
    }
    let Some(name) = name.to_str() else { return Shape::Unmanaged(Unmanaged::NotUtf8) };
    if name.starts_with('.') {
        return Shape::Unmanaged(Unmanaged::Hidden);
    }
    if kind == Kind::Dir {
        Shape::Dir(name)
    } else {
        Shape::File(name)
    }
}

/// SHA-256 of one file's bytes, hex.
pub fn file_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Store {
    /// Read every file of the store under `dir`, recursively. `dir` itself may be a symbolic
    /// link (a memory directory configured through one); nothing below it is followed.
    pub fn read(dir: &Path) -> Result<Store> {
        Store::read_within(dir, None)
    }

    /// [`Store::read`] of at most `max_bytes` of file content: a dream holds the store in
    /// memory (twice), so a store past its memory budget is refused with a clear error before
    /// it is read whole, rather than killed by the sidecar's memory limit mid-dream.
    pub fn read_within(dir: &Path, max_bytes: Option<u64>) -> Result<Store> {
        let dir = &resolve_trusted(dir).with_context(|| format!("memory directory {} is not readable", dir.display()))?;
        let meta = std::fs::metadata(dir).with_context(|| format!("memory directory {} is not readable", dir.display()))?;
        if !meta.is_dir() {
            anyhow::bail!("memory directory {} is not a directory", dir.display());
        }
        let mut store = Store::default();
        let root = open_dir_below(None, dir).with_context(|| format!("cannot list {}", dir.display()))?;
        read_tree(&root, dir, "", &mut store, &mut Cap(max_bytes.unwrap_or(u64::MAX)))?;
        Ok(store)
    }

    /// Content hash of the whole store: paths and bytes, not mtimes.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        for (path, file) in &self.files {
            h.update((path.len() as u64).to_le_bytes());
            h.update(path.as_bytes());
            h.update((file.bytes.len() as u64).to_le_bytes());
            h.update(&file.bytes);
        }
        hex::encode(h.finalize())
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|f| f.bytes.len() as u64).sum()
    }

    /// Same paths and bytes (mtimes aside).
    pub fn same_content(&self, other: &Store) -> bool {
        self.files.len() == other.files.len()
            && self.files.iter().zip(&other.files).all(|((pa, fa), (pb, fb))| pa == pb && fa.bytes == fb.bytes)
    }

    /// Write the store into `dir` (which must not exist yet or be empty), fsyncing each
    /// file and directory so a crash leaves either nothing or a complete copy.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        self.write_with(dir, None)
    }

    /// [`Store::write_to`] for dreamd's own copies (job copies, generations): directories
    /// 0700 and files 0600 whatever the umask, because they hold the agent's memory.
    pub fn write_private(&self, dir: &Path) -> Result<()> {
        self.write_with(dir, Some((0o700, 0o600)))
    }

    fn write_with(&self, dir: &Path, private: Option<(u32, u32)>) -> Result<()> {
        let make_dir = |d: &Path| -> Result<()> {
            match private {
                Some(_) => create_private_dir(d),
                None => std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display())),
            }
        };
        make_dir(dir)?;
        for (rel, file) in &self.files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                make_dir(parent)?;
            }
            match private {
                Some((_, mode)) => write_file_mode(&path, &file.bytes, mode)?,
                None => write_file_synced(&path, &file.bytes)?,
            }
            if let Some(mtime) = file.mtime {
                // Keep mtimes: they date entries for the consolidator and for the agent.
                let f = std::fs::File::options().write(true).custom_flags(libc::O_NOFOLLOW).open(&path)?;
                let _ = f.set_modified(mtime.into());
            }
        }
        sync_tree_dirs(dir)?;
        Ok(())
    }
}

/// Most symbolic links followed on the way to a directory (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// `path` with every symbolic link resolved, like `canonicalize`, following a link only when
/// whoever made it could have made its target themselves: the link belongs to dreamd's user,
/// to root, or to the owner of what it points at.
///
/// Whoever can write the directory that holds the memory directory (the agent, in Claude
/// Code's layout) can swap it for a link between two dreams. Followed blindly, a link to
/// `/etc` or `/root/.ssh` would have dreamd copy that directory into its job copies and the
/// engine's input, and apply a candidate there. Such a link is refused with what it is.
pub fn resolve_trusted(path: &Path) -> std::io::Result<PathBuf> {
    use std::collections::VecDeque;
    use std::os::unix::fs::MetadataExt;
    use std::path::Component;
    let start = std::path::absolute(path)?;
    let mut todo: VecDeque<std::ffi::OsString> = VecDeque::new();
    let mut real = PathBuf::from("/");
    let push_front = |todo: &mut VecDeque<std::ffi::OsString>, p: &Path| {
        for c in p.components().rev() {
            match c {
                Component::Normal(n) => todo.push_front(n.to_os_string()),
                Component::ParentDir => todo.push_front("..".into()),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
    };
    push_front(&mut todo, &start);
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            real.pop();
            continue;
        }
        let next = real.join(&part);
        let meta = std::fs::symlink_metadata(&next)?;
        if !meta.file_type().is_symlink() {
            real = next;
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target_owner = std::fs::metadata(&next)?.uid();
        if meta.uid() != me && meta.uid() != 0 && meta.uid() != target_owner {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} is a symbolic link made by uid {} to {}, which belongs to uid {}; dreamd follows a link only when it \
                     belongs to dreamd's user, to root or to the owner of its target (it could send dreamd elsewhere)",
                    next.display(),
                    meta.uid(),
                    std::fs::canonicalize(&next).unwrap_or_default().display(),
                    target_owner
                ),
            ));
        }
        let target = std::fs::read_link(&next)?;
        if target.is_absolute() {
            real = PathBuf::from("/");
        }
        push_front(&mut todo, &target);
    }
    Ok(real)
}

/// A directory opened by descriptor: `name` below `parent` (one component), or the path
/// itself. Never through a symbolic link, so a folder swapped for a link while the store is
/// read can not take the reading elsewhere.
fn open_dir_below(parent: Option<&OwnedFd>, name: &Path) -> std::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(match parent {
        Some(p) => rfs::openat(p, name, flags, Mode::empty())?,
        None => rfs::open(name, flags, Mode::empty())?,
    })
}

/// Every file of the store below the open directory `dir` (at `abs`, `rel` from the root),
/// each directory and file opened from its parent's descriptor without following links.
/// Bytes a read may still take.
struct Cap(u64);

/// The store is larger than [`Store::read_within`] allows.
#[derive(Debug)]
pub struct TooLarge {
    pub max_bytes: u64,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the memory store holds more than {} MB of files", self.max_bytes / 1_000_000)
    }
}

impl std::error::Error for TooLarge {}

impl TooLarge {
    /// `e` with the setting that decides the cap named (`limits.max_memory_mb`, or the CLI's
    /// `--max-memory-mb`) and how to lift it; any other error as it is.
    pub fn explain(e: anyhow::Error, setting: &str, no_limit: &str) -> anyhow::Error {
        match e.downcast_ref::<TooLarge>() {
            Some(t) => anyhow::anyhow!(
                "{t}: a dream holds the store twice, so a store may take at most half of {setting}; \
                 raise it ({no_limit} for no limit) to dream this store"
            ),
            None => e,
        }
    }
}

fn read_tree(dir: &OwnedFd, abs: &Path, rel: &str, store: &mut Store, cap: &mut Cap) -> Result<()> {
    let mut entries = Vec::new();
    for entry in rfs::Dir::read_from(dir).with_context(|| format!("cannot list {}", abs.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", abs.display()))?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes()).to_os_string();
        if name == "." || name == ".." {
            continue;
        }
        let kind = match entry.file_type() {
            rfs::FileType::Unknown => match rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => kind_of_mode(st.st_mode),
                Err(_) => continue,
            },
            t => kind_of_mode(t.as_raw_mode()),
        };
        entries.push((name, kind));
    }
    for (name, kind) in entries {
        let path = abs.join(&name);
        match shape(&name, kind) {
            Shape::Dir(n) => {
                let sub = open_dir_below(Some(dir), Path::new(n)).with_context(|| format!("cannot list {}", path.display()))?;
                let sub_rel = if rel.is_empty() { n.to_string() } else { format!("{rel}/{n}") };
                read_tree(&sub, &path, &sub_rel, store, cap)?;
            }
            Shape::File(n) => {
                let file = match read_regular(dir, n, cap.0) {
                    Ok(Some(file)) => file,
                    Ok(None) => return Err(TooLarge { max_bytes: store.total_bytes() + cap.0 }.into()),
                    Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
                };
                cap.0 -= file.bytes.len() as u64;
                let file_rel = if rel.is_empty() { n.to_string() } else { format!("{rel}/{n}") };
                store.files.insert(file_rel, file);
            }
            Shape::Unmanaged(Unmanaged::NotUtf8) => {
                tracing::debug!(dir = %abs.display(), "leaving alone an entry whose name is not UTF-8");
            }
            Shape::Unmanaged(_) => {}
        }
    }
    Ok(())
}

fn kind_of_mode(mode: u32) -> Kind {
    match rfs::FileType::from_raw_mode(mode) {
        rfs::FileType::RegularFile => Kind::File,
        rfs::FileType::Directory => Kind::Dir,
        rfs::FileType::Symlink => Kind::Symlink,
        rfs::FileType::Fifo => Kind::Fifo,
        rfs::FileType::Socket => Kind::Socket,
        rfs::FileType::CharacterDevice | rfs::FileType::BlockDevice => Kind::Device,
        _ => Kind::Unknown,
    }
}

/// Read the regular file `name` of `dir` without following a symbolic link or blocking on a
/// FIFO that took its place since it was listed.
/// The file's bytes and mtime, or `None` when it holds more than `max` bytes (checked before
/// reading and while reading, as the file may grow meanwhile).
fn read_regular(dir: &OwnedFd, name: &str, max: u64) -> std::io::Result<Option<MemoryFile>> {
    use std::io::Read;
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let f = std::fs::File::from(rfs::openat(dir, name, flags, Mode::empty())?);
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file any more"));
    }
    if meta.len() > max {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Ok(None);
    }
    Ok(Some(MemoryFile { bytes, mtime: meta.modified().ok().map(DateTime::<Utc>::from) }))
}

/// Relative paths of the store's files under `dir`, sorted.
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let abs = dir.join(&rel_dir);
        let entries = std::fs::read_dir(&abs).with_context(|| format!("cannot list {}", abs.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            match shape(&name, entry.file_type()?.into()) {
                Shape::Dir(n) => stack.push(rel_dir.join(n)),
                Shape::File(n) => out.push(rel_dir.join(n).to_string_lossy().replace('\\', "/")),
                Shape::Unmanaged(Unmanaged::NotUtf8) => {
                    tracing::debug!(dir = %abs.display(), "leaving alone an entry whose name is not UTF-8");
                }
                Shape::Unmanaged(_) => {}
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    f.sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
    Ok(())
}

/// Create or truncate `path` (never through a symbolic link) with exactly `mode`, write and sync.
pub fn write_file_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // The umask may have taken bits away, or the file existed with others.
    f.set_permissions(std::fs::Permissions::from_mode(mode)).with_context(|| format!("cannot set the mode of {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    f.sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
    Ok(())
}

/// Create `dir` (and missing parents) readable by its owner only, whatever the umask; an
/// existing `dir` is made 0700 too.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A state directory configured through a symbolic link is fine; its target is what counts.
    let meta = std::fs::metadata(dir).with_context(|| format!("cannot inspect {}", dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    if meta.permissions().mode() & 0o7777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
    }
    Ok(())
}

/// The state directory: created 0700. An existing one is made 0700 when it is clearly
/// dreamd's (empty, or holding its database); otherwise a warning says others can read it,
/// rather than changing the mode of a directory dreamd may share with something else.
pub fn prepare_state_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return create_private_dir(dir);
    }
    let ours = dir.join("dreamd.db").exists() || std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
    if ours {
        return create_private_dir(dir);
    }
    let mode = std::fs::metadata(dir).with_context(|| format!("cannot inspect {}", dir.display()))?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o7777), "state_dir is readable by others; it will hold copies of the agent's memory");
    }
    Ok(())
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync directory {}", dir.display()))
}

fn sync_tree_dirs(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree_dirs(&entry.path())?;
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_skips_hidden_files_and_hash_ignores_mtime() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("MEMORY.md"), "- [a](a.md)\n").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/b.md"), "b\n").unwrap();
        std::fs::write(d.path().join(".consolidate-lock"), "123").unwrap();
        let s = Store::read(d.path()).unwrap();
        assert_eq!(s.files.keys().collect::<Vec<_>>(), vec!["MEMORY.md", "sub/b.md"]);
        let h1 = s.hash();
        let f = std::fs::File::options().write(true).open(d.path().join("sub/b.md")).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(Store::read(d.path()).unwrap().hash(), h1);
        std::fs::write(d.path().join("sub/b.md"), "c\n").unwrap();
        assert_ne!(Store::read(d.path()).unwrap().hash(), h1);
    }

    #[test]
    fn write_to_round_trips() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("x.md"), [0xff, 0xfe, 0x00]).unwrap();
        let s = Store::read(d.path()).unwrap();
        let out = d.path().join("copy");
        s.write_to(&out).unwrap();
        let s2 = Store::read(&out).unwrap();
        assert_eq!(s.hash(), s2.hash());
        assert_eq!(s.files["x.md"].mtime, s2.files["x.md"].mtime);
    }

    #[test]
    fn missing_dir_is_a_clear_error() {
        let e = Store::read(Path::new("/nonexistent/memory")).unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent/memory"));
    }

    #[test]
    fn shape_draws_the_line_between_the_store_and_the_rest() {
        use std::os::unix::ffi::OsStrExt;
        let os = |s: &str| std::ffi::OsStr::new(s).to_os_string();
        assert_eq!(shape(&os("a.md"), Kind::File), Shape::File("a.md"));
        assert_eq!(shape(&os("topics"), Kind::Dir), Shape::Dir("topics"));
        assert_eq!(shape(&os(".git"), Kind::Dir), Shape::Unmanaged(Unmanaged::Hidden));
        assert_eq!(shape(&os(".consolidate-lock"), Kind::File), Shape::Unmanaged(Unmanaged::Hidden));
        assert_eq!(shape(&os("a.md"), Kind::Symlink), Shape::Unmanaged(Unmanaged::Symlink));
        assert_eq!(shape(&os("pipe"), Kind::Fifo), Shape::Unmanaged(Unmanaged::Fifo));
        assert_eq!(shape(&os("s"), Kind::Socket), Shape::Unmanaged(Unmanaged::Socket));
        assert_eq!(shape(&os("null"), Kind::Device), Shape::Unmanaged(Unmanaged::Device));
        assert_eq!(shape(std::ffi::OsStr::from_bytes(b"caf\xe9.md"), Kind::File), Shape::Unmanaged(Unmanaged::NotUtf8));
    }

    #[test]
    fn read_leaves_links_fifos_and_odd_names_out() {
        use std::os::unix::ffi::OsStrExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.md"), "a\n").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("link.md")).unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("etc")).unwrap();
        std::fs::write(d.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.md")), "x").unwrap();
        let fifo = std::ffi::CString::new(d.path().join("pipe.md").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let s = Store::read(d.path()).unwrap();
        assert_eq!(s.files.keys().collect::<Vec<_>>(), vec!["a.md"]);
    }

    #[test]
    fn trusted_resolution_is_canonicalize_for_links_of_our_own() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("a/b");
        std::fs::create_dir_all(&real).unwrap();
        std::os::unix::fs::symlink("a/b", d.path().join("rel")).unwrap();
        std::os::unix::fs::symlink(d.path().join("rel"), d.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("loop", d.path().join("loop")).unwrap();
        for p in ["rel", "abs", "abs/../b", "a/./b/", "rel/../../a/b"] {
            let p = d.path().join(p);
            assert_eq!(resolve_trusted(&p).unwrap(), std::fs::canonicalize(&p).unwrap(), "{}", p.display());
        }
        assert_eq!(resolve_trusted(&d.path().join("loop")).unwrap_err().raw_os_error(), Some(libc::ELOOP));
        assert_eq!(resolve_trusted(&d.path().join("missing")).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }

    /// Red team: a folder of the store swapped for a link (`renameat2` exchange, in a loop)
    /// while the store was read took the reading through it: 9 reads in 100 copied the
    /// link's target (root's files, to an agent that can plant links) into the store.
    #[test]
    fn a_folder_swapped_for_a_link_during_the_read_is_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let memory = d.path().join("memory");
        std::fs::create_dir_all(memory.join("sub")).unwrap();
        for i in 0..100 {
            std::fs::write(memory.join(format!("sub/f{i}.md")), format!("- fact {i}\n")).unwrap();
        }
        let secret = d.path().join("secret");
        std::fs::create_dir(&secret).unwrap();
        std::fs::write(secret.join("id_ed25519"), "PRIVATE KEY").unwrap();
        std::os::unix::fs::symlink(&secret, memory.join("sublink")).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (a, b) = (memory.join("sub"), memory.join("sublink"));
        let leaked = std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = rfs::renameat_with(rfs::CWD, &a, rfs::CWD, &b, rfs::RenameFlags::EXCHANGE);
                }
            });
            let leaked =
                (0..300).filter_map(|_| Store::read(&memory).ok()).filter(|st| st.files.keys().any(|k| k.ends_with("id_ed25519"))).count();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            leaked
        });
        assert_eq!(leaked, 0, "reads went through the swapped-in link");
    }

    #[test]
    fn write_private_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::default();
        s.files.insert("sub/a.md".into(), MemoryFile { bytes: b"a".to_vec(), mtime: None });
        let out = d.path().join("copy");
        s.write_private(&out).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&out), mode(&out.join("sub")), mode(&out.join("sub/a.md"))), (0o700, 0o700, 0o600));
    }

    #[test]
    fn prepare_state_dir_makes_its_own_private_and_leaves_a_shared_one_alone() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let fresh = d.path().join("fresh");
        prepare_state_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        let ours = d.path().join("ours");
        std::fs::create_dir(&ours).unwrap();
        std::fs::set_permissions(&ours, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(ours.join("dreamd.db"), "").unwrap();
        prepare_state_dir(&ours).unwrap();
        assert_eq!(mode(&ours), 0o700, "an older dreamd's state dir is made private");
        let shared = d.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(shared.join("other.txt"), "").unwrap();
        prepare_state_dir(&shared).unwrap();
        assert_eq!(mode(&shared), 0o755, "not dreamd's to change");
    }
}
