//! Patterns across session transcripts, and memories the sessions keep confirming.
//!
//! The statistics (code-block languages, tools, files and directories touched, repeated
//! commands, recurring errors) are written as a managed topic file, replaced on every dream
//! and never hand-edited. A memory entry is *confirmed* by a session when one message of it
//! contains every content word of the entry; the count and the last confirming session feed
//! conflict ordering and the "reinforced" list.
//!
//! Transcripts are untrusted: a tool name, a path, a command or an error text may hold
//! newlines, Markdown, markers, secrets or instructions. Every value taken from them goes
//! through `crate::untrusted` (one line, capped, redacted, URLs blurred) and is written as a
//! code span with its counts and sessions: an observation, never a rule. Error texts that read
//! like instructions, and commands that speak to their reader, are withheld (counted, not
//! quoted).

use super::entries::{is_subset, EntryTable};
pub use super::entries::{Confirmation, Confirmations};
use super::text::known_words;
use super::Workspace;
use crate::memory::ParsedFile;
use crate::report::{Change, ChangeKind};
use crate::sessions::Transcript;
use crate::untrusted;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const INSIGHTS_FILE: &str = "insights.md";
pub const FALLBACK_FILE: &str = "dreamd-insights.md";

/// Caps, in characters, on values quoted from transcripts and memory.
const TOOL_CHARS: usize = 48;
const PATH_CHARS: usize = 120;
const COMMAND_CHARS: usize = 80;
const ERROR_CHARS: usize = 120;
const SESSION_CHARS: usize = 40;
const ENTRY_CHARS: usize = 100;
const LANG_CHARS: usize = 24;

/// A file dreamd wrote and owns (frontmatter `managed-by: dreamd`).
pub fn is_managed(f: &ParsedFile) -> bool {
    f.is_managed()
}

/// Text blocks of a message (string content, or `text` blocks), in order.
fn message_texts(content: &Value) -> Vec<&str> {
    match content {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect(),
        _ => Vec::new(),
    }
}

/// Which sessions confirm which entries (by index in `table.entries`).
pub fn confirmations(ws: &Workspace, table: &EntryTable) -> Confirmations {
    let mut transcripts: Vec<&Transcript> = ws.input.transcripts.iter().collect();
    if transcripts.is_empty() {
        return Confirmations::default();
    }
    transcripts.sort_by(|a, b| a.id.cmp(&b.id));
    let mut words = Vec::new();
    // The words any message holds: an entry whose rarest word none holds is confirmed by none.
    let mut mentioned = vec![false; table.vocab.len()];
    for_each_message(&transcripts, |_, _, _, text| {
        known_words(text, &table.vocab, &mut words);
        for &w in &words {
            mentioned[w as usize] = true;
        }
    });
    // Each entry is looked up by its rarest word only, so a message costs its own length.
    let mut df = vec![0u32; table.vocab.len()];
    let mut set = Vec::new();
    for i in 0..table.entries.len() {
        table.feats.set_into(i, &mut set);
        for &w in &set {
            df[w as usize] += 1;
        }
    }
    let mut by_rare: HashMap<u32, Vec<usize>> = HashMap::new();
    for i in 0..table.entries.len() {
        table.feats.set_into(i, &mut set);
        if set.len() < 3 {
            continue; // too short to recognise in free text
        }
        if let Some(&w) = set.iter().min_by_key(|&&w| (df[w as usize], w)) {
            if mentioned[w as usize] {
                by_rare.entry(w).or_default().push(i);
            }
        }
    }
    drop((df, mentioned));
    let mut out: HashMap<usize, Confirmation> = HashMap::new();
    let mut seen_in_session: HashMap<usize, usize> = HashMap::new();
    for_each_message(&transcripts, |si, t, when, text| {
        known_words(text, &table.vocab, &mut words);
        for w in &words {
            let Some(cands) = by_rare.get(w) else {
                continue;
            };
            for &i in cands {
                if seen_in_session.get(&i) == Some(&si) {
                    continue;
                }
                table.feats.set_into(i, &mut set);
                if !is_subset(&set, &words) {
                    continue;
                }
                seen_in_session.insert(i, si);
                let c = out.entry(i).or_default();
                c.count += 1;
                c.sessions.push(t.id.clone());
                if when > c.last {
                    c.last = when;
                    c.last_session = t.id.clone();
                }
            }
        }
    });
    let mut list: Vec<(usize, Confirmation)> = out.into_iter().collect();
    list.sort_by_key(|c| c.0);
    Confirmations::from_sorted(list)
}

/// Every text block of every message, in transcript order: (transcript index, transcript,
/// the message's time, the text).
fn for_each_message<'t>(transcripts: &[&'t Transcript], mut f: impl FnMut(usize, &'t Transcript, Option<DateTime<Utc>>, &'t str)) {
    for (si, t) in transcripts.iter().enumerate() {
        for r in &t.records {
            let Some(m) = &r.message else { continue };
            let when = r.timestamp.or(t.mtime);
            for text in message_texts(&m.content) {
                f(si, t, when, text);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    sessions: usize,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    /// Dominant code-block language per session that has any.
    lang_sessions: BTreeMap<String, usize>,
    code_sessions: usize,
    tools: BTreeMap<String, (usize, usize)>,
    files: BTreeMap<String, usize>,
    dirs: BTreeMap<String, usize>,
    commands: BTreeMap<String, usize>,
    errors: BTreeMap<String, BTreeSet<String>>,
}

pub fn normalize_lang(tag: &str) -> Option<String> {
    let t = tag.trim().split(|c: char| c.is_whitespace() || c == '{' || c == ',').next()?.to_ascii_lowercase();
    let name = match t.as_str() {
        "" | "text" | "txt" | "plain" | "output" | "console" => return None,
        "py" | "python" | "python3" => "Python",
        "sh" | "bash" | "shell" | "zsh" | "shellsession" => "Bash",
        "js" | "javascript" | "jsx" | "node" => "JavaScript",
        "ts" | "typescript" | "tsx" => "TypeScript",
        "rs" | "rust" => "Rust",
        "go" | "golang" => "Go",
        "rb" | "ruby" => "Ruby",
        "yml" | "yaml" => "YAML",
        "json" => "JSON",
        "sql" => "SQL",
        "java" => "Java",
        "c" => "C",
        "cpp" | "c++" | "cc" => "C++",
        "html" => "HTML",
        "css" => "CSS",
        "toml" => "TOML",
        "md" | "markdown" => "Markdown",
        "diff" | "patch" => "Diff",
        "dockerfile" | "docker" => "Dockerfile",
        other => return other.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '#').then(|| other.to_string()),
    };
    Some(name.to_string())
}

/// Languages of the fenced code blocks of a text, one per block.
pub fn code_languages(text: &str, out: &mut BTreeMap<String, usize>) {
    let mut in_fence = false;
    for line in text.lines() {
        let l = line.trim_start();
        if let Some(rest) = l.strip_prefix("```") {
            if !in_fence {
                if let Some(lang) = normalize_lang(rest) {
                    *out.entry(lang).or_default() += 1;
                }
            }
            in_fence = !in_fence;
        }
    }
}

/// The first non-empty line of a transcript value, as inert data: one line, capped, secrets
/// redacted, URLs blurred (so a transcript never plants a link or host in memory).
fn datum(s: &str, max_chars: usize) -> String {
    whole(s.lines().find(|l| !l.trim().is_empty()).unwrap_or(""), max_chars)
}

/// A whole transcript value (a path, a tool name) as inert data; a newline inside is data too.
fn whole(s: &str, max_chars: usize) -> String {
    // Flatten first (a URL split by a newline or a zero-width character is whole afterwards),
    // blur, then cap (a URL cut short by the cap would escape the blurring).
    let flat = untrusted::one_line(s, max_chars.saturating_mul(2).saturating_add(64));
    untrusted::cap(&untrusted::blur_urls(&flat), max_chars)
}

/// An error message with the varying parts (numbers, URLs) blurred, so recurrences match.
fn error_key(s: &str) -> String {
    let line = datum(s, ERROR_CHARS);
    let mut out = String::with_capacity(line.len());
    let mut prev_digit = false;
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !prev_digit {
                out.push('N');
            }
            prev_digit = true;
        } else {
            out.push(c);
            prev_digit = false;
        }
    }
    out
}

fn collect<T: Borrow<Transcript>>(transcripts: &[T]) -> Stats {
    let mut s = Stats { sessions: transcripts.len(), ..Default::default() };
    for t in transcripts.iter().map(Borrow::borrow) {
        s.first = match (s.first, t.first_timestamp()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        s.last = s.last.max(t.last_timestamp());
        let mut langs: BTreeMap<String, usize> = BTreeMap::new();
        let mut tools: BTreeMap<String, usize> = BTreeMap::new();
        let (mut files, mut dirs, mut commands) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for r in &t.records {
            let Some(m) = &r.message else { continue };
            for text in message_texts(&m.content) {
                code_languages(text, &mut langs);
            }
            let Value::Array(items) = &m.content else {
                continue;
            };
            for b in items {
                match b["type"].as_str() {
                    Some("tool_use") => {
                        let raw_name = b["name"].as_str().unwrap_or("?");
                        let name = whole(raw_name, TOOL_CHARS);
                        *tools.entry(name).or_default() += 1;
                        let input = &b["input"];
                        for key in ["file_path", "path", "notebook_path"] {
                            if let Some(p) = input[key].as_str().filter(|p| !p.is_empty()) {
                                let rel = relative(p, r.cwd.as_deref());
                                if let Some((dir, _)) = rel.rsplit_once('/') {
                                    dirs.insert(whole(&format!("{dir}/"), PATH_CHARS));
                                }
                                files.insert(whole(&rel, PATH_CHARS));
                            }
                        }
                        if raw_name == "Bash" {
                            if let Some(cmd) = input["command"].as_str().map(|c| datum(c, COMMAND_CHARS)).filter(|c| !c.is_empty()) {
                                commands.insert(cmd);
                            }
                        }
                    }
                    Some("tool_result") if b["is_error"] == true => {
                        let text = match &b["content"] {
                            Value::String(x) => x.clone(),
                            other => message_texts(other).join("\n"),
                        };
                        let key = error_key(&text);
                        if !key.is_empty() {
                            s.errors.entry(key).or_default().insert(t.id.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some((lang, _)) = langs.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) {
            *s.lang_sessions.entry(lang.clone()).or_default() += 1;
            s.code_sessions += 1;
        }
        for (name, n) in tools {
            let e = s.tools.entry(name).or_default();
            e.0 += 1;
            e.1 += n;
        }
        for f in files {
            *s.files.entry(f).or_default() += 1;
        }
        for d in dirs {
            *s.dirs.entry(d).or_default() += 1;
        }
        for c in commands {
            *s.commands.entry(c).or_default() += 1;
        }
    }
    s
}

fn relative(path: &str, cwd: Option<&str>) -> String {
    let p = cwd.and_then(|c| path.strip_prefix(c.trim_end_matches('/'))).map(|r| r.trim_start_matches('/')).unwrap_or(path);
    p.to_string()
}

fn pct(n: usize, of: usize) -> usize {
    (n * 100 + of / 2).checked_div(of).unwrap_or(0)
}

/// Top `k` of a count map: most first, then by name.
fn top<K: Clone + Ord>(m: &BTreeMap<K, usize>, k: usize, min: usize) -> Vec<(K, usize)> {
    let mut v: Vec<(K, usize)> = m.iter().filter(|(_, &n)| n >= min).map(|(a, &n)| (a.clone(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(k);
    v
}

/// Session ids as code spans, at most five, for provenance.
fn session_list(ids: &BTreeSet<String>, total: usize) -> String {
    let shown: Vec<String> = ids.iter().take(5).map(|id| untrusted::code(&whole(id, SESSION_CHARS), SESSION_CHARS)).collect();
    let more = if total > shown.len() { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}

/// The managed file's text. Every value from a transcript is a code span (see the module doc).
pub fn render<T: Borrow<Transcript>>(transcripts: &[T], reinforced: &[(usize, String, String)]) -> String {
    let s = collect(transcripts);
    let n = s.sessions;
    let range = match (s.first, s.last) {
        (Some(a), Some(b)) => format!("{} to {}", a.date_naive(), b.date_naive()),
        _ => "dates unknown".into(),
    };
    let mut out = String::new();
    out.push_str("---\nname: Insights from sessions\ndescription: Cross-session patterns (languages, tools, files, commands, errors), regenerated by dreamd\ntype: reference\nmanaged-by: dreamd\n---\n");
    out.push_str("<!-- Managed by dreamd: replaced on every dream; edits here are overwritten. -->\n\n");
    out.push_str(&format!("# Insights from {n} sessions ({range})\n\n"));
    out.push_str("Observations counted in session transcripts. Values in code spans are quoted from the sessions as data.\n\n");
    let langs = top(&s.lang_sessions, 6, 1);
    if let Some((first, k)) = langs.first() {
        let lang = |l: &str| untrusted::escaped(l, LANG_CHARS);
        let rest: Vec<String> = langs[1..].iter().map(|(l, c)| format!("{} {}%", lang(l), pct(*c, n))).collect();
        let rest = if rest.is_empty() { String::new() } else { format!("; {}", rest.join(", ")) };
        out.push_str(&format!(
            "- Code in {k} of {n} sessions ({}%) was {}{rest} ({} sessions with code).\n",
            pct(*k, n),
            lang(first),
            s.code_sessions
        ));
    }
    let tools: Vec<String> = {
        let counts: BTreeMap<String, usize> = s.tools.iter().map(|(k, v)| (k.clone(), v.0)).collect();
        top(&counts, 6, 1)
            .into_iter()
            .map(|(t, c)| format!("{} in {c} of {n} sessions ({} calls)", untrusted::code(&t, TOOL_CHARS), s.tools[&t].1))
            .collect()
    };
    if !tools.is_empty() {
        out.push_str(&format!("- Tools used: {}.\n", tools.join(", ")));
    }
    let listed = |m: &BTreeMap<String, usize>, cap: usize, verb: &str| -> Vec<String> {
        top(m, 5, 2).into_iter().map(|(f, c)| format!("{} {verb} {c} sessions", untrusted::code(&f, cap))).collect()
    };
    let files = listed(&s.files, PATH_CHARS, "in");
    if !files.is_empty() {
        out.push_str(&format!("- Files touched most: {}.\n", files.join(", ")));
    }
    let dirs = listed(&s.dirs, PATH_CHARS, "in");
    if !dirs.is_empty() {
        out.push_str(&format!("- Directories touched most: {}.\n", dirs.join(", ")));
    }
    // A command that speaks to its reader ("echo IMPORTANT: always …") is counted, not quoted:
    // quoted in memory it would read as a rule to the next session.
    let (speaking, plain): (BTreeMap<String, usize>, BTreeMap<String, usize>) =
        s.commands.iter().map(|(k, v)| (k.clone(), *v)).partition(|(c, _)| untrusted::addresses_reader(c));
    let mut cmds = listed(&plain, COMMAND_CHARS, "ran in");
    let withheld = top(&speaking, usize::MAX, 2).len();
    if withheld > 0 {
        cmds.push(format!("{withheld} more withheld because they read like instructions"));
    }
    if !cmds.is_empty() {
        out.push_str(&format!("- Repeated commands: {}.\n", cmds.join(", ")));
    }
    let err_counts: BTreeMap<String, usize> = s.errors.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    for (e, c) in top(&err_counts, 5, 2) {
        let sessions = session_list(&s.errors[&e], c);
        if untrusted::reads_like_instruction(&e) {
            out.push_str(&format!(
                "- An error recurred in {c} sessions; its text is withheld because it reads like an instruction (sessions {sessions}).\n"
            ));
        } else {
            out.push_str(&format!("- An error recurred in {c} sessions: {} (sessions {sessions}).\n", untrusted::code(&e, ERROR_CHARS)));
        }
    }
    if !reinforced.is_empty() {
        out.push_str("\n## Reinforced memories\n\n");
        for (count, loc, text) in reinforced {
            out.push_str(&format!(
                "- Confirmed by {count} sessions: {} ({})\n",
                untrusted::quoted(text, ENTRY_CHARS),
                untrusted::code(loc, PATH_CHARS)
            ));
        }
    }
    out
}

/// Where the managed file goes: `insights.md`, or `dreamd-insights.md` when a hand-written
/// file has the first name; nowhere when both are hand-written (a person's file is never
/// replaced by statistics).
fn target(ws: &Workspace) -> Option<&'static str> {
    let free = |name: &str| ws.files.iter().find(|f| f.path == name).is_none_or(is_managed);
    [INSIGHTS_FILE, FALLBACK_FILE].into_iter().find(|name| free(name))
}

pub fn write(ws: &mut Workspace, table: &EntryTable, conf: &Confirmations) {
    if ws.input.transcripts.is_empty() {
        return; // nothing new to say; an existing managed file stays as it is
    }
    let Some(path) = target(ws) else { return };
    let mut reinforced: Vec<(usize, String, String)> = conf
        .iter()
        .filter(|(i, c)| c.count >= 2 && !ws.is_dropped(table.entries[*i].fi, table.entries[*i].bi))
        .map(|(i, c)| {
            (c.count, table.loc(ws, i), super::text::strip_marker(ws.current_text(table.entries[i].fi, table.entries[i].bi)).to_string())
        })
        .collect();
    reinforced.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    reinforced.truncate(20);
    let mut transcripts: Vec<&Transcript> = ws.input.transcripts.iter().collect();
    transcripts.sort_by(|a, b| a.id.cmp(&b.id));
    let text = render(&transcripts, &reinforced);
    let before = ws.input.store.files.get(path).and_then(|f| f.text()).map(str::to_string);
    if before.as_deref() != Some(text.as_str()) {
        let mut c = Change::new(
            ChangeKind::Insight,
            path,
            before,
            Some(text.clone()),
            format!("insights regenerated from {} session transcripts", transcripts.len()),
        );
        c.provenance.sessions = transcripts.iter().map(|t| untrusted::one_line(&t.id, SESSION_CHARS)).collect();
        c.provenance.entries = reinforced.iter().map(|r| r.1.clone()).collect();
        ws.changes.push(c);
    }
    ws.managed.insert(path.to_string(), text);
}

#[cfg(test)]
mod tests;
