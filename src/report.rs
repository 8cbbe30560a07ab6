//! What a dream did, change by change, with the reason and the evidence.

use crate::store::Warning;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Dedupe,
    Conflict,
    StalePointer,
    RelativeDate,
    Insight,
    Index,
    /// A change made by an engine that does not explain itself (a diff-derived change).
    Edit,
}

/// Where a change's evidence came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Entries involved, as `file:line`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<String>,
    /// Session ids that support the change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Stable: the same input gives the same id.
    pub id: String,
    pub kind: ChangeKind,
    pub file: String,
    /// Other files involved (e.g. the file that keeps the surviving duplicate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_files: Vec<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub provenance: Provenance,
}

impl Change {
    pub fn new(kind: ChangeKind, file: &str, before: Option<String>, after: Option<String>, reason: String) -> Change {
        let id = change_id(kind, file, before.as_deref(), after.as_deref());
        Change { id, kind, file: file.to_string(), related_files: Vec::new(), before, after, reason, provenance: Provenance::default() }
    }
}

/// `c-` + 10 hex digits of a hash over what the change is.
pub fn change_id(kind: ChangeKind, file: &str, before: Option<&str>, after: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(format!("{kind:?}").as_bytes());
    for part in [Some(file), before, after] {
        h.update([0u8]);
        h.update(part.unwrap_or("\u{0}none").as_bytes());
    }
    format!("c-{}", &hex::encode(h.finalize())[..10])
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub files_before: usize,
    pub files_after: usize,
    pub entries_before: usize,
    pub entries_after: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Approximate tokens (bytes / 4), what a model engine or the agent pays to read it.
    pub tokens_before: u64,
    pub tokens_after: u64,
}

/// A conflict the engine found but could not order, left for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub kind: String,
    pub message: String,
    #[serde(default)]
    pub entries: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub engine: String,
    pub changes: Vec<Change>,
    pub totals: Totals,
    #[serde(default)]
    pub flags: Vec<Flag>,
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// Sessions read, and transcript lines skipped as malformed.
    #[serde(default)]
    pub sessions_read: usize,
    #[serde(default)]
    pub skipped_lines: usize,
}

pub fn approx_tokens(bytes: u64) -> u64 {
    bytes.div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_ids_are_stable_and_distinct() {
        let a = change_id(ChangeKind::Dedupe, "a.md", Some("x"), None);
        assert_eq!(a, change_id(ChangeKind::Dedupe, "a.md", Some("x"), None));
        assert_ne!(a, change_id(ChangeKind::Dedupe, "b.md", Some("x"), None));
        assert_ne!(a, change_id(ChangeKind::Conflict, "a.md", Some("x"), None));
        assert_ne!(change_id(ChangeKind::Edit, "a", Some(""), None), change_id(ChangeKind::Edit, "a", None, Some("")));
        assert!(a.starts_with("c-") && a.len() == 12);
    }
}
