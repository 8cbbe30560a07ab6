//! Pinned, exactly: the pinned blocks of the candidate, counted with their files, their exact
//! text and how they are pinned (inline marker, file frontmatter), equal those of the live store.
//!
//! Nothing pinned may be dropped, altered, moved to another file, unpinned, or duplicated, and
//! nothing may become pinned: a pin is a person's decision, never an engine's.

use super::{quote, Check, Parsed};
use crate::memory::{has_pin_marker, BlockKind, ParsedFile};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pin {
    file: String,
    text: String,
    by_frontmatter: bool,
    by_marker: bool,
}

/// Each pinned block of a store, with the lines it sits on.
#[derive(Debug, Default)]
pub struct Pins(BTreeMap<Pin, Vec<usize>>);

impl Pins {
    pub fn add(&mut self, path: &str, f: &ParsedFile) {
        let by_frontmatter = f.frontmatter().is_some_and(|fm| fm.pinned());
        for b in f.blocks().iter().filter(|b| b.pinned && b.kind != BlockKind::Blank) {
            let pin = Pin { file: path.to_string(), text: b.text().to_string(), by_frontmatter, by_marker: has_pin_marker(b.raw) };
            self.0.entry(pin).or_default().push(b.line);
        }
    }
}

/// For each of `texts`, the candidate files that have a block (of any kind) with that text:
/// one pass over the candidate, made only when a pin is missing.
fn files_with<'a>(p: &Parsed<'a>, texts: &[&str]) -> HashMap<String, HashSet<&'a str>> {
    let mut out: HashMap<String, HashSet<&'a str>> = texts.iter().map(|t| (t.to_string(), HashSet::new())).collect();
    p.each(p.candidate_store, |path, f| {
        for b in f.blocks() {
            if let Some(files) = out.get_mut(b.text()) {
                files.insert(path);
            }
        }
    });
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

pub fn check(p: &Parsed) -> Check {
    let (before, after) = (&p.live_pins.0, &p.candidate_pins.0);
    let total: usize = before.values().map(Vec::len).sum();
    let missing: Vec<&str> =
        before.iter().filter(|(pin, lines)| after.get(*pin).map_or(0, Vec::len) < lines.len()).map(|(pin, _)| pin.text.as_str()).collect();
    let found = if missing.is_empty() { HashMap::new() } else { files_with(p, &missing) };
    let mut details = Vec::new();
    for (pin, lines) in before {
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
        } else if found.get(&pin.text).is_some_and(|files| files.contains(pin.file.as_str())) {
            "no longer pinned".to_string()
        } else if found.get(&pin.text).is_some_and(|files| !files.is_empty()) {
            "moved to another file and no longer pinned".to_string()
        } else {
            "removed or altered".to_string()
        };
        for line in &lines[kept..] {
            details.push(format!("{}:{line}: {} — {why}", quote(&pin.file, 120), quote(&pin.text, 200)));
        }
    }
    for (pin, lines) in after {
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
