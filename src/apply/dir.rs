//! A directory file descriptor and the operations dreamd makes through it: each path is one
//! component below an open directory, opened with `O_NOFOLLOW`, so a symbolic link planted
//! where a directory or a file is expected makes the operation fail instead of redirecting it.
//! Renames use `renameat2` (`RENAME_EXCHANGE`, `RENAME_NOREPLACE`).

use crate::store::{self, Kind};
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, RenameFlags, Stat};
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// Mode for directories dreamd makes for itself.
pub const PRIVATE_DIR: Meta = Meta { mode: 0o700, owner: None, mtime: None };

/// An open directory. Paths are kept for messages only; every operation uses the descriptor.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Mode, owner and mtime a file or directory should end up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub mode: u32,
    /// (uid, gid) to give it; `None` leaves dreamd's own.
    pub owner: Option<(u32, u32)>,
    pub mtime: Option<SystemTime>,
}

impl Meta {
    pub fn of(st: &Stat) -> Meta {
        Meta { mode: st.st_mode & 0o7777, owner: Some((st.st_uid, st.st_gid)), mtime: Some(mtime_of(st)) }
    }
}

pub fn mtime_of(st: &Stat) -> SystemTime {
    let secs = st.st_mtime;
    let nanos = st.st_mtime_nsec as u32;
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + std::time::Duration::new(secs as u64, nanos)
    } else {
        SystemTime::UNIX_EPOCH - std::time::Duration::from_secs(secs.unsigned_abs()) + std::time::Duration::from_nanos(nanos.into())
    }
}

pub fn kind_of(st: &Stat) -> Kind {
    match rfs::FileType::from_raw_mode(st.st_mode) {
        rfs::FileType::RegularFile => Kind::File,
        rfs::FileType::Directory => Kind::Dir,
        rfs::FileType::Symlink => Kind::Symlink,
        rfs::FileType::Fifo => Kind::Fifo,
        rfs::FileType::Socket => Kind::Socket,
        rfs::FileType::CharacterDevice | rfs::FileType::BlockDevice => Kind::Device,
        _ => Kind::Unknown,
    }
}

/// Same inode on the same device.
pub fn same_file(a: &Stat, b: &Stat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

fn nofollow(e: rustix::io::Errno, path: &Path) -> io::Error {
    // ELOOP/ENOTDIR from O_NOFOLLOW|O_DIRECTORY mean "a link or a file sits here".
    match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => {
            ctx(e, format!("{} is not a plain directory (a symbolic link or a file); dreamd does not go through it", path.display()))
        }
        _ => ctx(e, path.display().to_string()),
    }
}

impl Dir {
    /// Open `path`. Its last component must be a directory, not a link to one: callers
    /// resolve a configured memory directory first ([`resolve`]).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = rfs::open(path, DIR_FLAGS, Mode::empty()).map_err(|e| nofollow(e, path))?;
        Ok(Dir { fd, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }

    /// A subdirectory, one component, not through a link.
    pub fn sub(&self, name: &OsStr) -> io::Result<Dir> {
        let path = self.join(name);
        let fd = rfs::openat(&self.fd, name, DIR_FLAGS, Mode::empty()).map_err(|e| nofollow(e, &path))?;
        Ok(Dir { fd, path })
    }

    /// A directory below this one, component by component, none of them a link.
    pub fn walk(&self, rel: &Path) -> io::Result<Dir> {
        let mut cur = self.sub(OsStr::new("."))?;
        cur.path = self.path.clone();
        for c in rel.components() {
            match c {
                Component::Normal(n) => cur = cur.sub(n)?,
                Component::CurDir => {}
                _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a plain relative path", rel.display()))),
            }
        }
        Ok(cur)
    }

    /// Like [`Dir::walk`], creating missing directories with `meta_for(relative path)`.
    pub fn walk_create(&self, rel: &Path, meta_for: &dyn Fn(&Path) -> Meta) -> io::Result<Dir> {
        let mut cur = self.walk(Path::new(""))?;
        let mut so_far = PathBuf::new();
        for c in rel.components() {
            let Component::Normal(n) = c else {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a plain relative path", rel.display())));
            };
            so_far.push(n);
            cur = match cur.sub(n) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => cur.mkdir(n, meta_for(&so_far))?,
                Err(e) => return Err(e),
            };
        }
        Ok(cur)
    }

    pub fn stat(&self) -> io::Result<Stat> {
        Ok(rfs::fstat(&self.fd)?)
    }

    /// The entry `name` itself (a link is not followed); `None` when absent.
    pub fn lstat(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(ctx(e, self.join(name).display().to_string())),
        }
    }

    /// Names and kinds of the entries, sorted by name.
    pub fn entries(&self) -> io::Result<Vec<(OsString, Kind)>> {
        let mut out = Vec::new();
        let mut dir = rfs::Dir::read_from(&self.fd)?;
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let kind = match entry.file_type() {
                rfs::FileType::Unknown => match self.lstat(name)? {
                    Some(st) => kind_of(&st),
                    None => continue,
                },
                t => kind_of_type(t),
            };
            out.push((name.to_os_string(), kind));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The bytes of the regular file `name`; `None` when absent. A link, FIFO or anything else
    /// there is an error, never followed or blocked on.
    pub fn read(&self, name: &OsStr) -> io::Result<Option<Vec<u8>>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = match rfs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(ctx(e, self.join(name).display().to_string())),
        };
        let mut f = std::fs::File::from(fd);
        if !f.metadata()?.is_file() {
            return Err(io::Error::other(format!("{} is not a regular file", self.join(name).display())));
        }
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    /// SHA-256 of the regular file `name`, `None` when absent.
    pub fn hash(&self, name: &OsStr) -> io::Result<Option<String>> {
        Ok(self.read(name)?.map(|b| store::file_hash(&b)))
    }

    /// Create `name` (it must not exist), write, set owner, mode and mtime, sync.
    pub fn create(&self, name: &OsStr, bytes: &[u8], meta: &Meta) -> io::Result<()> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rfs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o600))
            .map_err(|e| ctx(e, format!("cannot create {}", self.join(name).display())))?;
        set_owner(&fd, meta);
        rfs::fchmod(&fd, Mode::from_raw_mode(meta.mode))?;
        let mut f = std::fs::File::from(fd);
        f.write_all(bytes).map_err(|e| ctx(e, format!("cannot write {}", self.join(name).display())))?;
        if let Some(t) = meta.mtime {
            f.set_modified(t)?;
        }
        f.sync_all()
    }

    /// Make the subdirectory `name` with `meta` (mode, owner) and open it.
    pub fn mkdir(&self, name: &OsStr, meta: Meta) -> io::Result<Dir> {
        rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o700))
            .map_err(|e| ctx(e, format!("cannot create {}", self.join(name).display())))?;
        let d = self.sub(name)?;
        d.set_meta(&meta)?;
        Ok(d)
    }

    /// Give this directory `meta`'s owner (when allowed) and mode.
    pub fn set_meta(&self, meta: &Meta) -> io::Result<()> {
        set_owner(&self.fd, meta);
        rfs::fchmod(&self.fd, Mode::from_raw_mode(meta.mode))?;
        Ok(())
    }

    pub fn rename(&self, name: &OsStr, to: &Dir, to_name: &OsStr, flags: RenameFlags) -> io::Result<()> {
        rfs::renameat_with(&self.fd, name, &to.fd, to_name, flags)
            .map_err(|e| ctx(e, format!("cannot move {} to {}", self.join(name).display(), to.join(to_name).display())))
    }

    /// Atomically exchange `name` here with `other_name` in `other`.
    pub fn exchange(&self, name: &OsStr, other: &Dir, other_name: &OsStr) -> io::Result<()> {
        self.rename(name, other, other_name, RenameFlags::EXCHANGE)
    }

    /// A second name for the same inode (a link is linked, not its target).
    pub fn link(&self, name: &OsStr, to: &Dir, to_name: &OsStr) -> io::Result<()> {
        rfs::linkat(&self.fd, name, &to.fd, to_name, AtFlags::empty())
            .map_err(|e| ctx(e, format!("cannot link {} as {}", self.join(name).display(), to.join(to_name).display())))
    }

    pub fn unlink(&self, name: &OsStr) -> io::Result<()> {
        rfs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(|e| ctx(e, format!("cannot remove {}", self.join(name).display())))
    }

    pub fn rmdir(&self, name: &OsStr) -> io::Result<()> {
        rfs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR).map_err(|e| ctx(e, format!("cannot remove {}", self.join(name).display())))
    }

    /// Remove `name` and everything below it, following no link. Absent is fine.
    pub fn remove_tree(&self, name: &OsStr) -> io::Result<()> {
        let Some(st) = self.lstat(name)? else { return Ok(()) };
        if kind_of(&st) == Kind::Dir {
            let sub = self.sub(name)?;
            for (child, _) in sub.entries()? {
                sub.remove_tree(&child)?;
            }
            self.rmdir(name)
        } else {
            self.unlink(name)
        }
    }

    /// Set the mode of the regular file `name`, not through a link.
    pub fn chmod(&self, name: &OsStr, mode: u32) -> io::Result<()> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = rfs::openat(&self.fd, name, flags, Mode::empty()).map_err(|e| ctx(e, self.join(name).display().to_string()))?;
        rfs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| ctx(e, format!("cannot set the mode of {}", self.join(name).display())))
    }

    pub fn sync(&self) -> io::Result<()> {
        Ok(rfs::fsync(&self.fd)?)
    }
}

fn kind_of_type(t: rfs::FileType) -> Kind {
    match t {
        rfs::FileType::RegularFile => Kind::File,
        rfs::FileType::Directory => Kind::Dir,
        rfs::FileType::Symlink => Kind::Symlink,
        rfs::FileType::Fifo => Kind::Fifo,
        rfs::FileType::Socket => Kind::Socket,
        rfs::FileType::CharacterDevice | rfs::FileType::BlockDevice => Kind::Device,
        _ => Kind::Unknown,
    }
}

/// Keep the agent's ownership when dreamd runs as root; as anyone else chown fails and the
/// files are ours, which is what the agent's were.
fn set_owner(fd: &OwnedFd, meta: &Meta) {
    if let Some((uid, gid)) = meta.owner {
        let _ = rfs::fchown(fd, Some(rfs::Uid::from_raw(uid)), Some(rfs::Gid::from_raw(gid)));
    }
}

/// An OS error with what was being done, keeping the error itself as the source so its
/// errno stays visible to [`errno`] and to `anyhow` chains.
#[derive(Debug)]
struct At {
    msg: String,
    source: io::Error,
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.msg, self.source)
    }
}

impl std::error::Error for At {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn ctx(e: impl Into<io::Error>, msg: String) -> io::Error {
    let source = e.into();
    io::Error::new(source.kind(), At { msg, source })
}

/// The errno behind an error from this module.
pub fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| e.get_ref()?.downcast_ref::<At>()?.source.raw_os_error())
}
