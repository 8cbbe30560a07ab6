//! Staging: each job's candidate store, the base it was made from, and its report, under
//! `state_dir/jobs/JOB/`. Nothing here touches the live store. These are copies of the agent's
//! memory: directories 0700, files 0600, whatever the umask.

use crate::report::Report;
use crate::store::{self, Store};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub struct JobDir(PathBuf);

impl JobDir {
    pub fn new(state_dir: &Path, job_id: i64) -> JobDir {
        JobDir(state_dir.join("jobs").join(job_id.to_string()))
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn candidate(&self) -> PathBuf {
        self.0.join("candidate")
    }
    pub fn base(&self) -> PathBuf {
        self.0.join("base")
    }
    pub fn report_path(&self) -> PathBuf {
        self.0.join("report.json")
    }

    /// Write base, candidate and report in one go (see [`JobDir::stage_base`] and
    /// [`JobDir::finish`]).
    pub fn write(&self, base: &Store, candidate: &Store, report: &Report) -> Result<()> {
        self.stage_base(base)?;
        self.finish(base, candidate, report)
    }

    fn tmp(&self) -> PathBuf {
        self.0.with_extension("tmp")
    }

    /// Stage the base first, so the dream need not keep a copy of it in memory while the
    /// engine runs; [`JobDir::staged_base`] reads it back.
    pub fn stage_base(&self, base: &Store) -> Result<()> {
        let tmp = self.tmp();
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        if let Some(jobs) = self.0.parent() {
            store::create_private_dir(jobs)?;
        }
        store::create_private_dir(&tmp)?;
        write_tree(&tmp.join("base"), base, None)
    }

    pub fn staged_base(&self) -> Result<Store> {
        Store::read(&self.tmp().join("base")).with_context(|| format!("staged base of {} is missing", self.0.display()))
    }

    /// Add the candidate and report to a staged base and put the job directory in place. In
    /// bulk: files the candidate did not change are hard links to the base's, and nothing is
    /// flushed file by file. Staging is a working copy, not the live store: it is written to a
    /// temp name and renamed, and a job resumed after a crash checks the staged stores against
    /// the hashes in its record before trusting them (`jobs::dream::resume`), so a copy the
    /// crash cut short fails that job, nothing else.
    pub fn finish(&self, base: &Store, candidate: &Store, report: &Report) -> Result<()> {
        let tmp = self.tmp();
        write_tree(&tmp.join("candidate"), candidate, Some((base, &tmp.join("base"))))?;
        // Streamed: a 100 MB store's report is tens of MB of JSON, never held as one buffer.
        let file = write_private_file(&tmp.join("report.json"), b"").context("cannot write the report")?;
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer(&mut out, report).context("cannot write the report")?;
        std::io::Write::flush(&mut out).context("cannot write the report")?;
        if self.0.exists() {
            std::fs::remove_dir_all(&self.0)?;
        }
        std::fs::rename(&tmp, &self.0).with_context(|| format!("cannot stage job into {}", self.0.display()))
    }

    pub fn read_candidate(&self) -> Result<Store> {
        Store::read(&self.candidate()).with_context(|| format!("staged candidate of {} is missing", self.0.display()))
    }

    pub fn read_base(&self) -> Result<Store> {
        Store::read(&self.base()).with_context(|| format!("staged base of {} is missing", self.0.display()))
    }

    pub fn read_report(&self) -> Result<Report> {
        let bytes = std::fs::read(self.report_path()).with_context(|| format!("report of {} is missing", self.0.display()))?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_dir_all(self.0.with_extension("tmp"));
    }
}

/// Write `store` under `dir` without flushing each file. A file identical (bytes and mtime)
/// to one of `same_as` is hard-linked to its copy there instead of written again.
fn write_tree(dir: &Path, store: &Store, same_as: Option<(&Store, &Path)>) -> Result<()> {
    store::create_private_dir(dir)?;
    for (rel, file) in &store.files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            store::create_private_dir(parent)?;
        }
        if let Some((other, other_dir)) = same_as {
            if other.files.get(rel) == Some(file) && std::fs::hard_link(other_dir.join(rel), &path).is_ok() {
                continue;
            }
        }
        let f = write_private_file(&path, &file.bytes)?;
        if let Some(mtime) = file.mtime {
            // Keep mtimes: they date entries for the consolidator and for the agent.
            let _ = f.set_modified(mtime.into());
        }
    }
    Ok(())
}

/// A new 0600 file (never through a link), not flushed: staging is a working copy.
fn write_private_file(path: &Path, bytes: &[u8]) -> Result<std::fs::File> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600)).with_context(|| format!("cannot set the mode of {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryFile;
    use std::os::unix::fs::MetadataExt;

    fn store(files: &[(&str, &str)]) -> Store {
        let t = chrono::DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z").unwrap().into();
        Store { files: files.iter().map(|(p, b)| (p.to_string(), MemoryFile { bytes: b.as_bytes().to_vec(), mtime: Some(t) })).collect() }
    }

    #[test]
    fn staging_round_trips_and_links_unchanged_files() {
        let d = tempfile::tempdir().unwrap();
        let dir = JobDir::new(d.path(), 7);
        let base = store(&[("MEMORY.md", "- [a](a.md)\n"), ("a.md", "- a\n- a\n"), ("sub/b.md", "b\n")]);
        let mut candidate = base.clone();
        candidate.files.get_mut("a.md").unwrap().bytes = b"- a\n".to_vec();
        dir.write(&base, &candidate, &Report::default()).unwrap();
        assert_eq!(dir.read_base().unwrap(), base);
        assert_eq!(dir.read_candidate().unwrap(), candidate);
        assert!(dir.read_report().is_ok());
        let ino = |p: &str| std::fs::metadata(p).unwrap().ino();
        let (b, c) = (dir.base(), dir.candidate());
        let (b, c) = (b.to_str().unwrap(), c.to_str().unwrap());
        assert_eq!(ino(&format!("{b}/sub/b.md")), ino(&format!("{c}/sub/b.md")), "unchanged: one copy");
        assert_ne!(ino(&format!("{b}/a.md")), ino(&format!("{c}/a.md")), "changed: its own file");
        assert!(!dir.path().with_extension("tmp").exists());
        // Staging again replaces the old directory whole.
        dir.write(&candidate, &candidate, &Report::default()).unwrap();
        assert_eq!(dir.read_base().unwrap(), candidate);
    }
}
