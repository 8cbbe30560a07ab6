//! Unified diffs between two stores, file by file.

use crate::store::Store;
use serde::{Deserialize, Serialize};
use similar::TextDiff;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileDiff {
    pub path: String,
    /// `added`, `removed` or `modified`.
    pub status: String,
    pub diff: String,
}

pub fn store_diff(before: &Store, after: &Store) -> Vec<FileDiff> {
    let mut paths: Vec<&String> = before.files.keys().chain(after.files.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut out = Vec::new();
    for path in paths {
        let (a, b) = (before.files.get(path), after.files.get(path));
        let status = match (a, b) {
            (Some(x), Some(y)) if x.bytes == y.bytes => continue,
            (Some(_), Some(_)) => "modified",
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (None, None) => continue,
        };
        // A name with a newline in it would start a line of its own in the diff.
        let shown = crate::untrusted::visible(path, false);
        let diff = match (as_text(a), as_text(b)) {
            (Some(x), Some(y)) => {
                TextDiff::from_lines(x, y).unified_diff().context_radius(3).header(&format!("a/{shown}"), &format!("b/{shown}")).to_string()
            }
            _ => format!("Binary files a/{shown} and b/{shown} differ\n"),
        };
        out.push(FileDiff { path: path.clone(), status: status.into(), diff });
    }
    out
}

/// Text of a file; an absent file is empty; a non-UTF-8 file has none.
fn as_text(f: Option<&crate::store::MemoryFile>) -> Option<&str> {
    match f {
        Some(f) => std::str::from_utf8(&f.bytes).ok(),
        None => Some(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryFile;

    fn store(files: &[(&str, &str)]) -> Store {
        let mut s = Store::default();
        for (p, t) in files {
            s.files.insert(p.to_string(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
        }
        s
    }

    #[test]
    fn per_file_unified_diffs() {
        let a = store(&[("a.md", "x\ny\n"), ("gone.md", "g\n"), ("same.md", "s\n")]);
        let b = store(&[("a.md", "x\n"), ("new.md", "n\n"), ("same.md", "s\n")]);
        let d = store_diff(&a, &b);
        let summary: Vec<_> = d.iter().map(|f| (f.path.as_str(), f.status.as_str())).collect();
        assert_eq!(summary, vec![("a.md", "modified"), ("gone.md", "removed"), ("new.md", "added")]);
        assert!(d[0].diff.contains("--- a/a.md\n+++ b/a.md\n"));
        assert!(d[0].diff.contains("-y\n"));
        // Red team: a file name with a newline wrote a line of its own into the diff.
        let d = store_diff(&store(&[]), &store(&[("x.md\n+++ b/fake.md", "y\n")]));
        assert!(d[0].diff.starts_with("--- a/x.md\\n+++ b/fake.md\n+++ b/x.md\\n+++ b/fake.md\n"), "{}", d[0].diff);
    }
}
