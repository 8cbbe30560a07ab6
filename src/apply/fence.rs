//! The fence: what an apply may touch. Every change in or beside the memory directory goes
//! through [`Dir`] (no link is ever followed); a candidate may not write through or over
//! anything dreamd does not manage ([`check_candidate`]); and what dreamd does not manage is
//! brought from one directory into another whole, never copied ([`gather`]).

pub use super::dir::{errno, kind_of, same_file, Dir, Meta, PRIVATE_DIR};
use crate::store::{self, Kind, Shape, Store};
use rustix::fs::RenameFlags;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

/// `memory_dir` with every symbolic link resolved: a memory directory configured through a
/// link is applied to the directory the link points at, and the link stays. A link the agent
/// could have planted to send dreamd elsewhere is refused ([`store::resolve_trusted`]).
pub fn resolve(memory_dir: &Path) -> io::Result<PathBuf> {
    let real = store::resolve_trusted(memory_dir)
        .map_err(|e| io::Error::new(e.kind(), format!("memory directory {} is not reachable: {e}", memory_dir.display())))?;
    if real.parent().is_none() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("memory directory {} resolves to /", memory_dir.display())));
    }
    Ok(real)
}

/// Refuse a candidate that would write through or over something dreamd does not manage:
/// each of its paths must be plain, and in the live directory each directory on the way must
/// be a real directory (or absent) and the file itself a regular file (or absent).
pub fn check_candidate(live: &Dir, candidate: &Store) -> Result<(), String> {
    for path in candidate.files.keys() {
        let parts: Vec<&str> = path.split('/').collect();
        if parts.iter().any(|p| p.is_empty() || *p == "." || *p == ".." || p.starts_with('.')) {
            return Err(format!("candidate path {path:?} is not a plain relative path"));
        }
        let mut dir = match live.walk(Path::new("")) {
            Ok(d) => d,
            Err(e) => return Err(e.to_string()),
        };
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let here = parts[..=i].join("/");
            let st = match dir.lstat(OsStr::new(part)) {
                Ok(Some(st)) => st,
                Ok(None) => break,
                Err(e) => return Err(e.to_string()),
            };
            let kind = kind_of(&st);
            let what = match store::shape(OsStr::new(part), kind) {
                Shape::Unmanaged(u) => u.describe(),
                Shape::Dir(_) => "a directory",
                Shape::File(_) => "a file",
            };
            match (last, kind) {
                (true, Kind::File) => {}
                (false, Kind::Dir) => {
                    dir = dir.sub(OsStr::new(part)).map_err(|e| e.to_string())?;
                }
                _ => {
                    return Err(format!(
                        "candidate file {path} would replace or write through {here}, which is {what} in the memory directory; \
                         dreamd leaves such entries alone"
                    ))
                }
            }
        }
    }
    Ok(())
}

/// Something left where it could not be brought back (the same name now holds another entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover(pub PathBuf);

/// Bring every unmanaged entry of `from` into `into`, at the same relative path:
/// - `into` already has that very inode (a link made when carrying): drop `from`'s name;
/// - `into` lacks the name: move it there (creating managed directories on the way);
/// - `into` has another entry of that name: leave it in `from` and report it.
///
/// Managed directories of `from` are searched recursively; managed files are not touched.
pub fn gather(from: &Dir, into: &Dir) -> io::Result<Vec<Leftover>> {
    let mut left = Vec::new();
    gather_in(from, from, into, Path::new(""), &mut left)?;
    Ok(left)
}

fn gather_in(from_root: &Dir, from: &Dir, into_root: &Dir, rel: &Path, left: &mut Vec<Leftover>) -> io::Result<()> {
    // A directory `into` lacks on the way gets the mode and owner it had in `from`.
    let fallback = from_root.stat().map(|st| Meta { mtime: None, ..Meta::of(&st) }).unwrap_or(PRIVATE_DIR);
    let meta_for = |p: &Path| dir_meta(&from_root.walk(p)).unwrap_or(fallback);
    for (name, kind) in from.entries()? {
        match store::shape(&name, kind) {
            Shape::File(_) => {}
            Shape::Dir(_) => {
                let sub = from.sub(&name)?;
                let into_has_it = into_root.walk(&rel.join(&name)).is_ok();
                if into_has_it || has_store_files(&sub)? {
                    gather_in(from_root, &sub, into_root, &rel.join(&name), left)?;
                } else {
                    // A folder without store files is the agent's: it goes back whole.
                    let into = into_root.walk_create(rel, &meta_for)?;
                    match from.rename(&name, &into, &name, RenameFlags::NOREPLACE) {
                        Ok(()) => {}
                        Err(e) if errno(&e) == Some(libc::EEXIST) => left.push(Leftover(rel.join(&name))),
                        Err(e) => return Err(e),
                    }
                }
            }
            Shape::Unmanaged(_) => {
                let into = into_root.walk_create(rel, &meta_for)?;
                let Some(ours) = from.lstat(&name)? else { continue };
                match into.lstat(&name)? {
                    Some(theirs) if same_file(&theirs, &ours) => from.unlink(&name)?,
                    Some(_) => left.push(Leftover(rel.join(&name))),
                    None => match from.rename(&name, &into, &name, RenameFlags::NOREPLACE) {
                        Ok(()) => {}
                        Err(e) if errno(&e) == Some(libc::EEXIST) => left.push(Leftover(rel.join(&name))),
                        Err(e) => return Err(e),
                    },
                }
            }
        }
    }
    Ok(())
}

/// Whether any file of the store lies below `dir`.
pub fn has_store_files(dir: &Dir) -> io::Result<bool> {
    for (name, kind) in dir.entries()? {
        match store::shape(&name, kind) {
            Shape::File(_) => return Ok(true),
            Shape::Dir(_) if has_store_files(&dir.sub(&name)?)? => return Ok(true),
            _ => {}
        }
    }
    Ok(false)
}

/// Mode and owner of a directory (not its mtime: a directory's mtime changes with its entries).
pub fn dir_meta(d: &io::Result<Dir>) -> Option<Meta> {
    let st = d.as_ref().ok()?.stat().ok()?;
    Some(Meta { mtime: None, ..Meta::of(&st) })
}
