//! `MEMORY.md` maintenance (Claude Code layout): one short line per topic file, no pointers
//! to missing files, no topic file left unindexed, and within what the agent loads
//! (the first 200 lines / 25,000 bytes).

use super::Workspace;
use crate::config::Layout;
use crate::memory::{is_memory_file, BlockKind, FileBody, INDEX_FILE};
use crate::report::{Change, ChangeKind, Flag};
use std::collections::BTreeSet;

pub const MAX_LINE_CHARS: usize = 150;
pub const MAX_LINES: usize = 200;
pub const MAX_BYTES: usize = 25_000;

fn target_of(link: &str) -> &str {
    let t = link.split('#').next().unwrap_or(link);
    t.trim_start_matches("./")
}

pub fn drop_stale_pointers(ws: &mut Workspace) {
    if ws.input.layout != Layout::ClaudeCode {
        return;
    }
    let Some(fi) = ws.files.iter().position(|f| f.path == INDEX_FILE) else {
        return;
    };
    for bi in 0..ws.files[fi].blocks().len() {
        let b = ws.block(fi, bi);
        if b.kind != BlockKind::IndexLine || b.pinned {
            continue;
        }
        let Some(target) = b.link.map(target_of) else {
            continue;
        };
        if target.is_empty() || ws.input.store.files.contains_key(target) {
            continue;
        }
        let (text, line) = (b.text().to_string(), b.line);
        let reason = format!("points to {target}, which does not exist in the memory directory");
        if ws.drop_block(fi, bi) {
            let mut c = Change::new(ChangeKind::StalePointer, INDEX_FILE, Some(text), None, reason);
            c.provenance.entries = vec![format!("{INDEX_FILE}:{line}")];
            ws.changes.push(c);
        }
    }
}

/// Cut `s` to at most `max` characters, ending in `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// Text from a topic file (its frontmatter, heading or first entry) made fit for one index
/// line: one line, no control or invisible characters, no secrets, and no HTML comment that
/// could pin the pointer or hide text from a person.
fn index_text(text: &str) -> String {
    let flat = crate::untrusted::one_line(text, MAX_LINE_CHARS).replace("<!--", " ").replace("-->", " ");
    flat.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `path` can be written as a Markdown link target as it is (the index parser reads
/// `](target)` up to the first space or parenthesis).
fn linkable(path: &str) -> bool {
    !path.chars().any(|c| c.is_whitespace() || c.is_control() || crate::untrusted::is_invisible_format(c) || "()[]<>`\\".contains(c))
}

/// `- [Title](file.md) — hook`, within the line limit.
pub fn index_line(title: &str, path: &str, hook: &str) -> String {
    let head = format!("- [{}]({path})", index_text(title).replace(['[', ']'], " ").trim());
    let hook = index_text(hook);
    if hook.is_empty() {
        return head;
    }
    let room = MAX_LINE_CHARS.saturating_sub(head.chars().count() + 3);
    if room < 10 {
        return head;
    }
    format!("{head} — {}", truncate(&hook, room))
}

/// Title and hook of a topic file: frontmatter name/description, else first heading/entry.
fn describe(ws: &Workspace, path: &str) -> (String, String) {
    let stem = path.rsplit('/').next().unwrap_or(path).rsplit_once('.').map_or(path, |(s, _)| s).replace(['_', '-'], " ");
    if let Some(text) = ws.managed.get(path) {
        let desc = text.lines().find_map(|l| l.strip_prefix("description: ")).unwrap_or("").to_string();
        let name = text.lines().find_map(|l| l.strip_prefix("name: ")).unwrap_or(&stem).to_string();
        return (name, desc);
    }
    let Some(f) = ws.files.iter().find(|f| f.path == path) else {
        return (stem, String::new());
    };
    // A file left out for the memory budget is not parsed with the rest: read it now, alone.
    let alone;
    let f = match ws.input.store.files.get(path).filter(|_| ws.skipped.contains(path)) {
        Some(file) => {
            alone = crate::memory::parse_file(path, file, ws.input.layout, &ws.input.pins);
            &alone
        }
        None => f,
    };
    let fm = f.frontmatter();
    let name = fm.and_then(|fm| fm.fields.get("name").filter(|v| !v.trim().is_empty()).cloned());
    let desc = fm.and_then(|fm| fm.fields.get("description").filter(|v| !v.trim().is_empty()).cloned());
    let heading = f.blocks().iter().find(|b| b.kind == BlockKind::Heading).map(|b| b.section.unwrap_or_default().to_string());
    let first = f.blocks().iter().find(|b| b.kind.is_entry()).map(|b| super::text::strip_marker(b.text()).to_string());
    (name.or(heading).unwrap_or(stem), desc.or(first).unwrap_or_default())
}

pub fn maintain(ws: &mut Workspace) {
    if ws.input.layout != Layout::ClaudeCode {
        return;
    }
    let mut topics: BTreeSet<String> = ws
        .files
        .iter()
        .filter(|f| f.path != INDEX_FILE && is_memory_file(&f.path) && f.path.to_ascii_lowercase().ends_with(".md"))
        .map(|f| f.path.clone())
        .collect();
    topics.extend(ws.managed.keys().cloned());
    // No index at all: the agent has not set one up; creating it is not a dream's call.
    let Some(fi) = ws.files.iter().position(|f| f.path == INDEX_FILE) else {
        return;
    };
    if matches!(ws.files[fi].body, FileBody::Opaque { .. }) {
        return; // kept byte for byte, already warned about
    }
    let mut indexed: BTreeSet<String> = BTreeSet::new();
    for bi in 0..ws.files[fi].blocks().len() {
        let b = ws.block(fi, bi);
        if b.kind != BlockKind::IndexLine || ws.is_dropped(fi, bi) {
            continue;
        }
        let Some(target) = b.link.map(|l| target_of(l).to_string()) else {
            continue;
        };
        let (text, line, pinned) = (b.text().to_string(), b.line, b.pinned);
        if !indexed.insert(target.clone()) && !pinned {
            if ws.drop_block(fi, bi) {
                let mut c = Change::new(
                    ChangeKind::Index,
                    INDEX_FILE,
                    Some(text),
                    None,
                    format!("a second pointer to {target}; the index keeps one line per topic file"),
                );
                c.provenance.entries = vec![format!("{INDEX_FILE}:{line}")];
                ws.changes.push(c);
            }
            continue;
        }
        if text.chars().count() > MAX_LINE_CHARS && !pinned && !text.contains('\n') {
            let shortened = shorten(&text);
            if shortened != text && ws.rewrite_block(fi, bi, ws.block(fi, bi).raw.replacen(&text, &shortened, 1)) {
                let mut c = Change::new(
                    ChangeKind::Index,
                    INDEX_FILE,
                    Some(text),
                    Some(shortened),
                    format!("index lines stay under {MAX_LINE_CHARS} characters"),
                );
                c.provenance.entries = vec![format!("{INDEX_FILE}:{line}")];
                ws.changes.push(c);
            }
        }
    }
    let missing: Vec<&String> = topics.iter().filter(|p| !indexed.contains(*p)).collect();
    if !missing.is_empty() && ws.ends_in_open_fence(fi) {
        ws.flags.push(Flag {
            kind: "index".into(),
            message: format!("{INDEX_FILE} ends inside an unclosed code block; {} topic file(s) left unindexed", missing.len()),
            entries: vec![INDEX_FILE.to_string()],
        });
        check_limits(ws, fi);
        return;
    }
    for path in missing {
        if !linkable(path) {
            ws.flags.push(Flag {
                kind: "index".into(),
                message: format!(
                    "{} is not indexed, and its name cannot be linked safely; rename it to index it",
                    crate::untrusted::one_line(path, 120)
                ),
                entries: vec![path.clone()],
            });
            continue;
        }
        let (title, hook) = describe(ws, path);
        let line = index_line(&title, path, &hook);
        ws.appends[fi].push_str(&line);
        ws.appends[fi].push('\n');
        let mut c = Change::new(
            ChangeKind::Index,
            INDEX_FILE,
            None,
            Some(line),
            format!("{path} was not indexed; pointer added from its frontmatter"),
        );
        c.provenance.entries = vec![path.clone()];
        c.related_files.push(path.clone());
        ws.changes.push(c);
    }
    check_limits(ws, fi);
}

/// Keep the `- [Title](file)` head and cut the hook.
fn shorten(line: &str) -> String {
    let Some(end) = line.find(')') else {
        return truncate(line, MAX_LINE_CHARS);
    };
    let (head, rest) = line.split_at(end + 1);
    let hook = rest.trim_start_matches([' ', '—', '-', ':', '–']).trim();
    let room = MAX_LINE_CHARS.saturating_sub(head.chars().count() + 3);
    if hook.is_empty() || room < 10 {
        return truncate(line, MAX_LINE_CHARS);
    }
    format!("{head} — {}", truncate(hook, room))
}

fn check_limits(ws: &mut Workspace, fi: usize) {
    let mut text = ws.files[fi].frontmatter().map(|f| f.raw.to_string()).unwrap_or_default();
    for bi in 0..ws.files[fi].blocks().len() {
        text.push_str(ws.current_raw(fi, bi).unwrap_or(""));
    }
    text.push_str(&ws.appends[fi]);
    let (lines, bytes) = (text.lines().count(), text.len());
    if lines > MAX_LINES || bytes > MAX_BYTES {
        ws.flags.push(Flag {
            kind: "index_too_long".into(),
            message: format!("{INDEX_FILE} is {lines} lines / {bytes} bytes; the agent loads only the first {MAX_LINES} lines / {MAX_BYTES} bytes. Merge topic files or move facts out of the index."),
            entries: vec![INDEX_FILE.to_string()],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Red team: a frontmatter name with a newline and a pin marker, a description with bidi
    /// and escape characters, and a file name that breaks a link, all became index text.
    #[test]
    fn index_lines_carry_no_markup_from_the_files_they_point_to() {
        let line = index_line("Evil\n- <!-- pinned --> x", "evil.md", "\u{202e}\u{1b}[2J hook");
        assert_eq!(line, "- [Evil - pinned x](evil.md) — [2J hook");
        assert!(!linkable("a b)(c`x.md") && linkable("project_deploys.md") && linkable("sub/état.md"));
    }

    #[test]
    fn lines_stay_short() {
        let l = index_line("Billing", "project_billing.md", &"very long hook ".repeat(30));
        assert!(l.chars().count() <= MAX_LINE_CHARS, "{l}");
        assert!(l.starts_with("- [Billing](project_billing.md) — very long hook"));
        assert!(l.ends_with('…'));
        assert_eq!(index_line("A", "a.md", ""), "- [A](a.md)");
        let s = shorten(&format!("- [A](a.md) — {}", "x ".repeat(100)));
        assert!(s.chars().count() <= MAX_LINE_CHARS && s.starts_with("- [A](a.md) — x"));
    }
}
