//! The real corpora: memories rebuilt from the public histories of `AGENTS.md`/`CLAUDE.md`
//! files (`../shared/corpora/real/`, see its README), with the same scoring as its `score.py`:
//! which entries still current upstream survive (must be all of them), which superseded ones
//! were removed, and the byte reduction.

use crate::store::Store;
use regex::Regex;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// `../shared/corpora/real` next to the repository (as in CI), or `DREAMD_REAL_CORPORA`.
pub fn root() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DREAMD_REAL_CORPORA") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/real");
    p.join("score.py").is_file().then_some(p)
}

/// One store of a variant: `dated/SLUG` or `undated/SLUG`.
#[derive(Debug, Clone)]
pub struct RealStore {
    pub variant: String,
    pub slug: String,
    pub dir: PathBuf,
}

impl RealStore {
    pub fn memory(&self) -> PathBuf {
        self.dir.join("memory")
    }
    pub fn name(&self) -> String {
        format!("{}/{}", self.variant, self.slug)
    }
}

/// Every store under `root`, variants and slugs in name order.
pub fn stores(root: &Path) -> std::io::Result<Vec<RealStore>> {
    let mut out = Vec::new();
    for variant in ["dated", "undated"] {
        let vdir = root.join(variant);
        let mut slugs: Vec<String> = std::fs::read_dir(&vdir)?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("truth.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        slugs.sort();
        out.extend(slugs.into_iter().map(|slug| RealStore { variant: variant.into(), dir: vdir.join(&slug), slug }));
    }
    Ok(out)
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct RealTruth {
    pub current: Vec<String>,
    pub superseded: Vec<String>,
    pub ideal_bytes: u64,
}

pub fn truth(store: &RealStore) -> anyhow::Result<RealTruth> {
    Ok(serde_json::from_slice(&std::fs::read(store.dir.join("truth.json"))?)?)
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RealScore {
    pub current: usize,
    pub superseded: usize,
    pub current_retained: f64,
    pub superseded_removed: f64,
    pub reduction: f64,
    pub ideal_reduction: f64,
    /// The first current entries that went missing.
    pub lost: Vec<String>,
}

static MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*(?:[-*+]|\d+[.)])\s+").expect("static regex"));
static DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[\d{4}-\d{2}-\d{2}\]\s*").expect("static regex"));
static COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<!--.*?-->").expect("static regex"));
static FORMAT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[*_`]").expect("static regex"));

/// `score.py`'s `norm`: marker, date prefix, comments and `*_\`` removed, lowercased, spaces collapsed.
pub fn norm(line: &str) -> String {
    let s = MARKER.replace(line, "");
    let s = DATE.replace(s.trim(), "");
    let s = COMMENT.replace_all(&s, "");
    let s = FORMAT.replace_all(&s, "").to_lowercase();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn lines(store: &Store) -> Vec<String> {
    store
        .files
        .values()
        .flat_map(|f| String::from_utf8_lossy(&f.bytes).lines().filter(|l| !l.trim().is_empty()).map(norm).collect::<Vec<_>>())
        .collect()
}

pub fn score_real(truth: &RealTruth, before: &Store, candidate: &Store) -> RealScore {
    let cand = lines(candidate);
    let set: HashSet<&str> = cand.iter().map(String::as_str).collect();
    let blob = cand.join("\n");
    let lost: Vec<String> = truth.current.iter().filter(|c| !set.contains(c.as_str()) && !blob.contains(c.as_str())).cloned().collect();
    let gone = truth.superseded.iter().filter(|s| !set.contains(s.as_str())).count();
    let (b0, b1) = (before.total_bytes() as f64, candidate.total_bytes() as f64);
    let ratio = |n: usize, d: usize| if d == 0 { 1.0 } else { n as f64 / d as f64 };
    RealScore {
        current: truth.current.len(),
        superseded: truth.superseded.len(),
        current_retained: ratio(truth.current.len() - lost.len(), truth.current.len()),
        superseded_removed: ratio(gone, truth.superseded.len()),
        reduction: if b0 > 0.0 { 1.0 - b1 / b0 } else { 0.0 },
        ideal_reduction: if b0 > 0.0 { 1.0 - truth.ideal_bytes as f64 / b0 } else { 0.0 },
        lost: lost.into_iter().take(10).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_matches_score_py() {
        assert_eq!(norm("- [2026-02-02] Use **`pnpm`**  now <!-- pinned -->"), "use pnpm now");
        assert_eq!(norm("  12. Über_alles"), "überalles");
        assert_eq!(norm("---"), "---");
    }
}
