//! The engine's private work directory: read-only copies in, an empty output, scratch space.
//!
//! Work directories live in `STATE_DIR/engine/` (one dreamd per state directory, one dream at a
//! time), so one left behind by a daemon that died mid-dream is removed by the next dream.
//!
//! ```text
//! WORK/            cwd and HOME, mode 0700
//!   input/         copy of the store: files 0444, directories 0555
//!   sessions/      copies of the transcripts: ID.jsonl (+ ID/subagents/NAME.jsonl), 0444/0555
//!   output/        empty: the candidate store goes here
//!   report.json    optional, written by the engine
//!   tmp/           TMPDIR
//! ```

use super::super::DreamInput;
use anyhow::{Context, Result};
use std::collections::HashSet;
use std::fs::{self, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub struct WorkDir {
    root: tempfile::TempDir,
    pub input: PathBuf,
    pub sessions: PathBuf,
    pub output: PathBuf,
    pub report: PathBuf,
    pub tmp: PathBuf,
    /// Transcripts copied (those whose files could be read).
    pub sessions_copied: usize,
    /// Work directories of interrupted runs removed before this one was made.
    pub stale_removed: usize,
}

const PREFIX: &str = "dreamd-engine-";

const READ_ONLY_FILE: u32 = 0o444;
const READ_ONLY_DIR: u32 = 0o555;

impl WorkDir {
    /// A fresh work directory in `parent` (created 0700 if missing; the system temp directory
    /// when None), after removing what earlier runs left there.
    pub fn prepare(input: &DreamInput, parent: Option<&Path>) -> Result<WorkDir> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(PREFIX);
        let (root, stale_removed) = match parent {
            Some(parent) => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
                let stale = remove_stale(parent);
                (builder.tempdir_in(parent), stale)
            }
            None => (builder.tempdir(), 0),
        };
        let root = root.context("cannot create a work directory")?;
        let p = root.path();
        let mut w = WorkDir {
            input: p.join("input"),
            sessions: p.join("sessions"),
            output: p.join("output"),
            report: p.join("report.json"),
            tmp: p.join("tmp"),
            root,
            sessions_copied: 0,
            stale_removed,
        };
        for d in [&w.input, &w.sessions, &w.output, &w.tmp] {
            fs::create_dir(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        copy_store(input, &w.input)?;
        w.sessions_copied = copy_sessions(input, &w.sessions)?;
        make_read_only(&w.input)?;
        make_read_only(&w.sessions)?;
        Ok(w)
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Read-only directories (ours, or the engine's) cannot be emptied: open them up first.
        // The TempDir field then removes the tree.
        make_writable(self.root.path());
    }
}

/// A scratch copy: no fsync (it is thrown away), mtimes kept (they date entries).
fn copy_store(input: &DreamInput, dir: &Path) -> Result<()> {
    for (rel, file) in &input.store.files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        write_read_only(&path, &file.bytes, file.mtime.map(Into::into))?;
    }
    Ok(())
}

fn write_read_only(path: &Path, bytes: &[u8], mtime: Option<std::time::SystemTime>) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(READ_ONLY_FILE)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(t) = mtime {
        let _ = f.set_modified(t);
    }
    Ok(())
}

/// A transcript's name in the copy: its file name with anything unusual replaced, unique.
fn safe_name(name: &str, taken: &mut HashSet<String>) -> String {
    let mut s: String =
        name.chars().take(100).map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    let (stem, ext) = match s.rsplit_once('.') {
        Some((a, b)) if !a.is_empty() => (a.to_string(), format!(".{b}")),
        _ => (s.clone(), String::new()),
    };
    let mut candidate = s;
    let mut n = 1;
    while !taken.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{stem}~{n}{ext}");
    }
    candidate
}

/// Copy each transcript's files: the session's own file to `dir/NAME`, its subagents' files
/// to `dir/STEM/subagents/NAME` (Claude Code's layout). Unreadable files are skipped.
fn copy_sessions(input: &DreamInput, dir: &Path) -> Result<usize> {
    let mut taken = HashSet::new();
    let mut copied = 0;
    for t in &input.transcripts {
        let (subagents, main): (Vec<&PathBuf>, Vec<&PathBuf>) =
            t.sources.iter().partition(|p| p.parent().and_then(Path::file_name).is_some_and(|n| n == "subagents"));
        let Some(main) = main.first() else { continue };
        let name = safe_name(&main.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), &mut taken);
        let target = dir.join(&name);
        if copy_read_only(main, &target).is_err() {
            continue;
        }
        copied += 1;
        if subagents.is_empty() {
            continue;
        }
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(a, _)| a);
        let sub_dir = dir.join(stem).join("subagents");
        fs::create_dir_all(&sub_dir).with_context(|| format!("cannot create {}", sub_dir.display()))?;
        let mut sub_taken = HashSet::new();
        for s in subagents {
            let n = safe_name(&s.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), &mut sub_taken);
            let _ = copy_read_only(s, &sub_dir.join(n));
        }
    }
    Ok(copied)
}

fn copy_read_only(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut src = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(from)?;
    let mut dst = OpenOptions::new().write(true).create_new(true).mode(READ_ONLY_FILE).open(to)?;
    std::io::copy(&mut src, &mut dst)?;
    Ok(())
}

/// Directories under `dir` (and `dir`) to 0555, files to 0444.
fn make_read_only(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            make_read_only(&entry.path())?;
        } else if ft.is_file() {
            fs::set_permissions(entry.path(), Permissions::from_mode(READ_ONLY_FILE))?;
        }
    }
    fs::set_permissions(dir, Permissions::from_mode(READ_ONLY_DIR)).with_context(|| format!("cannot protect {}", dir.display()))
}

/// Remove the work directories in `parent` (only ours: named with the prefix, real directories).
fn remove_stale(parent: &Path) -> usize {
    let Ok(entries) = fs::read_dir(parent) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_ours = entry.file_name().to_str().is_some_and(|n| n.starts_with(PREFIX)) && entry.file_type().is_ok_and(|t| t.is_dir());
        if is_ours {
            make_writable(&entry.path());
            removed += usize::from(fs::remove_dir_all(entry.path()).is_ok());
        }
    }
    removed
}

/// Every directory under `dir` owner-writable again (symlinks are not followed).
fn make_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, Permissions::from_mode(0o700));
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            make_writable(&entry.path());
        }
    }
}
