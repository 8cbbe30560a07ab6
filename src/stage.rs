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

    /// Write base, candidate and report. Written to a temp name and renamed, so a crash never
    /// leaves a job directory that looks complete but is not.
    pub fn write(&self, base: &Store, candidate: &Store, report: &Report) -> Result<()> {
        let tmp = self.0.with_extension("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        if let Some(jobs) = self.0.parent() {
            store::create_private_dir(jobs)?;
        }
        store::create_private_dir(&tmp)?;
        base.write_private(&tmp.join("base"))?;
        candidate.write_private(&tmp.join("candidate"))?;
        store::write_file_mode(&tmp.join("report.json"), &serde_json::to_vec_pretty(report)?, 0o600)?;
        if self.0.exists() {
            std::fs::remove_dir_all(&self.0)?;
        }
        std::fs::rename(&tmp, &self.0).with_context(|| format!("cannot stage job into {}", self.0.display()))?;
        Ok(())
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
