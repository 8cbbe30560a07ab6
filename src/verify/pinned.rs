//! Pinned, exactly: the pinned blocks of the candidate, counted with their files, their exact
//! text and how they are pinned (inline marker, file frontmatter), equal those of the live store.
//!
//! Nothing pinned may be dropped, altered, moved to another file, unpinned, or duplicated, and
//! nothing may become pinned: a pin is a person's decision, never an engine's.

use super::{quote, Check};
use crate::memory::{has_pin_marker, BlockKind, ParsedFile};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pin {
    file: String,
    text: String,
    by_frontmatter: bool,
    by_marker: bool,
}

/// Each pinned block, with the lines it sits on.
fn pins(files: &[ParsedFile]) -> BTreeMap<Pin, Vec<usize>> {
    let mut out: BTreeMap<Pin, Vec<usize>> = BTreeMap::new();
    for f in files {
        let by_frontmatter = f.frontmatter().is_some_and(|fm| fm.pinned());
        for b in f.blocks().iter().filter(|b| b.pinned && b.kind != BlockKind::Blank) {
            let pin = Pin { file: f.path.clone(), text: b.text().to_string(), by_frontmatter, by_marker: has_pin_marker(b.raw) };
            out.entry(pin).or_default().push(b.line);
        }
    }
    out
}

fn how(p: &Pin) -> &'static str {
    match (p.by_frontmatter, p.by_marker) {
        (true, true) => "pinned by its file's frontmatter and a marker",
        (true, false) => "pinned by its file's frontmatter",
        (false, true) => "pinned by a marker",
        (false, false) => "pinned by a pattern",
    }
}

pub fn check(live: &[ParsedFile], candidate: &[ParsedFile]) -> Check {
    let (before, after) = (pins(live), pins(candidate));
    let total: usize = before.values().map(Vec::len).sum();
    let mut details = Vec::new();
    for (pin, lines) in &before {
        let kept = after.get(pin).map_or(0, Vec::len);
        if kept >= lines.len() {
            continue;
        }
        let elsewhere: Vec<&Pin> = after.keys().filter(|q| q.text == pin.text && *q != pin).collect();
        let why = if kept > 0 {
            format!("{} identical pinned copies, {kept} left", lines.len())
        } else if let Some(q) = elsewhere.iter().find(|q| q.file != pin.file) {
            format!("moved to {}", quote(&q.file, 120))
        } else if let Some(q) = elsewhere.first() {
            format!("{} before, {} now", how(pin), how(q))
        } else if candidate.iter().filter(|f| f.path == pin.file).flat_map(|f| f.blocks()).any(|b| b.text() == pin.text) {
            "no longer pinned".to_string()
        } else if candidate.iter().flat_map(|f| f.blocks()).any(|b| b.text() == pin.text) {
            "moved to another file and no longer pinned".to_string()
        } else {
            "removed or altered".to_string()
        };
        for line in &lines[kept..] {
            details.push(format!("{}:{line}: {} — {why}", quote(&pin.file, 120), quote(&pin.text, 200)));
        }
    }
    for (pin, lines) in &after {
        let had = before.get(pin).map_or(0, Vec::len);
        if lines.len() <= had {
            continue;
        }
        let moved = before.keys().any(|q| q.text == pin.text && q.file != pin.file);
        let why = if moved {
            format!("a pinned entry now also in {} ({})", quote(&pin.file, 120), how(pin))
        } else {
            format!("newly {}: only a person pins", how(pin))
        };
        for line in &lines[had..] {
            details.push(format!("{}:{line}: {} — {why}", quote(&pin.file, 120), quote(&pin.text, 200)));
        }
    }
    if details.is_empty() {
        Check::new("pinned_kept", true, format!("all {total} pinned blocks kept exactly, in their files, pinned as before"), vec![])
    } else {
        let reason = format!("{} pinned block(s) of {total} dropped, altered, moved, unpinned or added", details.len());
        Check::new("pinned_kept", false, reason, details)
    }
}
