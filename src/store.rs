//! A memory store as data: every file of the memory directory, read whole.
//!
//! Dreams work on snapshots, never on the live directory, so a snapshot is a plain value:
//! relative path → bytes (+ mtime). Dot-files (the agent's `.consolidate-lock`, editor swap
//! files) are not part of the store and are never copied or replaced.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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

impl Store {
    /// Read every regular non-hidden file under `dir`, recursively.
    pub fn read(dir: &Path) -> Result<Store> {
        let meta = std::fs::metadata(dir).with_context(|| format!("memory directory {} is not readable", dir.display()))?;
        if !meta.is_dir() {
            anyhow::bail!("memory directory {} is not a directory", dir.display());
        }
        let mut store = Store::default();
        for rel in list_files(dir)? {
            let path = dir.join(&rel);
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
            store.files.insert(rel, MemoryFile { bytes, mtime });
        }
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

    /// Write the store into `dir` (which must not exist yet or be empty), fsyncing each
    /// file and directory so a crash leaves either nothing or a complete copy.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (rel, file) in &self.files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
            }
            write_file_synced(&path, &file.bytes)?;
            if let Some(mtime) = file.mtime {
                // Keep mtimes: they date entries for the consolidator and for the agent.
                let f = std::fs::File::options().write(true).open(&path)?;
                let _ = f.set_modified(mtime.into());
            }
        }
        sync_tree_dirs(dir)?;
        Ok(())
    }
}

/// Relative paths of the regular, non-hidden files under `dir`, sorted.
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let abs = dir.join(&rel_dir);
        let entries = std::fs::read_dir(&abs).with_context(|| format!("cannot list {}", abs.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                tracing::warn!(dir = %abs.display(), "skipping a file whose name is not UTF-8");
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let rel = rel_dir.join(name);
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(rel);
            } else if ft.is_file() {
                out.push(rel.to_string_lossy().replace('\\', "/"));
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
}
