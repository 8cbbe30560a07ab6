//! What a dream did, change by change, with the reason and the evidence.
//!
//! `Change`, `Provenance`, `Flag` are also the external engines' protocol (see `protocol` and
//! `docs/engine-protocol.md`): their doc comments end up in the published JSON Schema.

pub mod protocol;

use crate::store::Warning;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What kind of change this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// An entry removed because another entry says the same (name it in `successor`).
    Dedupe,
    /// An entry removed or rewritten because a newer entry contradicts it (name it in `successor`).
    Conflict,
    /// An index line removed because the file it points to does not exist.
    StalePointer,
    /// A relative date ("yesterday") rewritten as an absolute one.
    RelativeDate,
    /// A file of observations derived from session transcripts.
    Insight,
    /// An index (`MEMORY.md`) line added or updated.
    Index,
    /// Any other change. dreamd also records a file an engine changed without a report as one.
    Edit,
}

/// Where a change's evidence came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Provenance {
    /// Entries involved, as `file:line`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<String>,
    /// Session ids that support the change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<String>,
}

/// The entry that takes over from a removed or rewritten one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Successor {
    /// The candidate file that holds it (relative path, `/` separators).
    pub file: String,
    /// Its text as it stands in the candidate.
    pub text: String,
}

/// One change a dream made, explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Change {
    /// Stable: the same input gives the same id. Assigned by dreamd; an external engine may
    /// omit it (a value it gives is replaced).
    #[serde(default)]
    pub id: String,
    pub kind: ChangeKind,
    /// The file changed (relative path in the store, `/` separators).
    pub file: String,
    /// Other files involved (e.g. the file that keeps the surviving duplicate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_files: Vec<String>,
    /// The text before the change (null: added).
    #[serde(default)]
    pub before: Option<String>,
    /// The text after the change (null: removed).
    #[serde(default)]
    pub after: Option<String>,
    /// For a removal or rewrite that another entry makes redundant (`dedupe`, `conflict`):
    /// the entry that replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<Successor>,
    /// Why, in a sentence a person reviewing the dream understands.
    pub reason: String,
    #[serde(default)]
    pub provenance: Provenance,
}

impl Change {
    pub fn new(kind: ChangeKind, file: &str, before: Option<String>, after: Option<String>, reason: String) -> Change {
        let id = change_id(kind, file, before.as_deref(), after.as_deref());
        Change {
            id,
            kind,
            file: file.to_string(),
            related_files: Vec::new(),
            before,
            after,
            successor: None,
            reason,
            provenance: Provenance::default(),
        }
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Flag {
    /// A short category, e.g. `conflict`.
    pub kind: String,
    pub message: String,
    /// Entries involved, as `file:line`.
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
