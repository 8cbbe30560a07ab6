//! Mode, owner and mtime of what an apply writes into the memory directory: a file that
//! exists keeps its mode and owner (0600 stays 0600, the agent keeps owning its files when
//! dreamd runs as root), an unchanged file keeps its mtime too, and a new file looks like
//! most of its neighbours.

use super::fence::{self, Dir, Meta};
use crate::store::{Kind, MemoryFile, Store};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io;
use std::path::Path;

/// Mode, owner and mtime of a file the apply writes: a file that exists keeps its mode and
/// owner, and its mtime too when its bytes do not change; a new file gets `default`.
pub(super) fn file_meta(live: &Dir, path: &Path, current: &Store, file: &MemoryFile, default: &Meta) -> Meta {
    let (dir, leaf) = split(path);
    let existing = live.walk(dir).ok().and_then(|d| d.lstat(leaf).ok().flatten()).filter(|st| fence::kind_of(st) == Kind::File);
    let candidate_mtime = file.mtime.map(std::time::SystemTime::from);
    match existing {
        Some(st) => {
            let unchanged = current.files.get(path.to_str().unwrap_or_default()).is_some_and(|c| c.bytes == file.bytes);
            let m = Meta::of(&st);
            Meta { mtime: if unchanged { m.mtime } else { candidate_mtime }, ..m }
        }
        None => Meta { mtime: candidate_mtime, ..*default },
    }
}

/// For new files: the mode most of the live files have (the most private on a tie), the
/// owner of the memory directory.
pub(super) fn new_file_meta(live: &Dir, current: &Store) -> io::Result<Meta> {
    let root = live.stat()?;
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for path in current.files.keys() {
        let (dir, leaf) = split(Path::new(path));
        if let Some(st) = live.walk(dir).ok().and_then(|d| d.lstat(leaf).ok().flatten()) {
            *counts.entry(st.st_mode & 0o7777).or_default() += 1;
        }
    }
    let mode = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(m, _)| *m).unwrap_or(root.st_mode & 0o666);
    Ok(Meta { mode, owner: Some((root.st_uid, root.st_gid)), mtime: None })
}

/// Parent directory and file name of a relative path.
pub(super) fn split(p: &Path) -> (&Path, &OsStr) {
    (p.parent().unwrap_or(Path::new("")), p.file_name().unwrap_or_default())
}
