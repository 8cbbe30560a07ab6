//! Reduction bounds: a dream must be worth applying, and a candidate that deletes most of the
//! store is suspect rather than a win. Counted over the agent's own files only.

use super::Check;
use super::FileInfo;
use crate::store::Store;

/// Bytes of the agent's files: dreamd-managed files (the regenerated insights) are derived, not
/// memory, and would otherwise count as growth the agent did not cause.
pub fn agent_bytes(files: &[FileInfo], store: &Store) -> u64 {
    files.iter().filter(|f| !f.managed).filter_map(|f| store.files.get(f.path)).map(|f| f.bytes.len() as u64).sum()
}

pub fn check(before: u64, after: u64, min: f64, max: f64) -> Check {
    const SCOPE: &str = "bytes of the agent's files; dreamd-managed files such as insights.md are not counted";
    if before == 0 {
        return Check::new("reduction", false, format!("the live store is empty; nothing to reduce ({SCOPE})"), vec![]);
    }
    let r = (before as f64 - after as f64) / before as f64;
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let figures = format!("{before} → {after} bytes ({} reduction; {SCOPE})", pct(r));
    if r < min {
        Check::new("reduction", false, format!("{figures} is below the minimum {}", pct(min)), vec![])
    } else if r > max {
        Check::new("reduction", false, format!("{figures} is above the maximum {}: suspect, not a win", pct(max)), vec![])
    } else {
        Check::new("reduction", true, format!("{figures} within {}–{}", pct(min), pct(max)), vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Layout;
    use crate::memory::PinRules;
    use crate::store::MemoryFile;

    #[test]
    fn bounds() {
        assert!(check(1000, 900, 0.05, 0.8).passed);
        let low = check(1000, 990, 0.05, 0.8);
        assert!(!low.passed && low.reason.contains("below the minimum 5.0%"), "{}", low.reason);
        assert!(low.reason.contains("agent's files"), "the reason says what is counted");
        let high = check(1000, 50, 0.05, 0.8);
        assert!(!high.passed && high.reason.contains("suspect"), "{}", high.reason);
        assert!(!check(0, 0, 0.0, 1.0).passed);
        assert!(!check(100, 120, 0.0, 1.0).passed, "growth is not a reduction");
    }

    #[test]
    fn managed_files_do_not_count() {
        let mut s = Store::default();
        s.files.insert("a.md".into(), MemoryFile { bytes: b"- a\n".to_vec(), mtime: None });
        s.files.insert("insights.md".into(), MemoryFile { bytes: b"---\nmanaged-by: dreamd\n---\n- Python 75%\n".to_vec(), mtime: None });
        let p = crate::verify::Parsed::with(&s, &s, Layout::ClaudeCode, &PinRules::default());
        assert_eq!(agent_bytes(&p.live, &s), 4);
    }
}
