//! Patterns across session transcripts, and memories the sessions keep confirming.
//!
//! The statistics (code-block languages, tools, files and directories touched, repeated
//! commands, recurring errors) are written as a managed topic file, replaced on every dream
//! and never hand-edited. A memory entry is *confirmed* by a session when one message of it
//! contains every content word of the entry; the count and the last confirming session feed
//! conflict ordering and the "reinforced" list.

use super::entries::{is_subset, EntryTable};
use super::text::known_words;
use super::Workspace;
use crate::memory::ParsedFile;
use crate::report::{Change, ChangeKind};
use crate::sessions::Transcript;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const INSIGHTS_FILE: &str = "insights.md";
pub const FALLBACK_FILE: &str = "dreamd-insights.md";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Confirmation {
    pub count: usize,
    pub last: Option<DateTime<Utc>>,
    pub last_session: String,
    pub sessions: Vec<String>,
}

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

/// Which sessions confirm which entries (indexed like `table.entries`).
pub fn confirmations(ws: &Workspace, table: &EntryTable) -> Vec<Confirmation> {
    let mut out = vec![Confirmation::default(); table.entries.len()];
    // Each entry is looked up by its rarest word only, so a message costs its own length.
    let mut df: HashMap<u32, u32> = HashMap::new();
    for e in &table.entries {
        for &w in &e.feat.set {
            *df.entry(w).or_default() += 1;
        }
    }
    let mut by_rare: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, e) in table.entries.iter().enumerate() {
        if e.feat.set.len() < 3 {
            continue; // too short to recognise in free text
        }
        if let Some(&w) = e.feat.set.iter().min_by_key(|&&w| (df.get(&w).copied().unwrap_or(0), w)) {
            by_rare.entry(w).or_default().push(i);
        }
    }
    let mut words = Vec::new();
    let mut seen_in_session: Vec<usize> = vec![usize::MAX; table.entries.len()];
    let mut transcripts: Vec<&Transcript> = ws.input.transcripts.iter().collect();
    transcripts.sort_by(|a, b| a.id.cmp(&b.id));
    for (si, t) in transcripts.iter().enumerate() {
        for r in &t.records {
            let Some(m) = &r.message else { continue };
            let when = r.timestamp.or(t.mtime);
            for text in message_texts(&m.content) {
                known_words(text, &table.vocab, &mut words);
                for w in &words {
                    let Some(cands) = by_rare.get(w) else {
                        continue;
                    };
                    for &i in cands {
                        if seen_in_session[i] == si || !is_subset(&table.entries[i].feat.set, &words) {
                            continue;
                        }
                        seen_in_session[i] = si;
                        let c = &mut out[i];
                        c.count += 1;
                        c.sessions.push(t.id.clone());
                        if when > c.last {
                            c.last = when;
                            c.last_session = t.id.clone();
                        }
                    }
                }
            }
        }
    }
    out
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

fn short(s: &str, n: usize) -> String {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    if line.chars().count() <= n {
        line.to_string()
    } else {
        format!("{}…", line.chars().take(n).collect::<String>())
    }
}

/// An error message with the varying parts (numbers, quoted names) blurred, so recurrences match.
fn error_key(s: &str) -> String {
    let line = short(s, 100);
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

fn collect(transcripts: &[Transcript]) -> Stats {
    let mut s = Stats { sessions: transcripts.len(), ..Default::default() };
    for t in transcripts {
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
                        let name = b["name"].as_str().unwrap_or("?").to_string();
                        *tools.entry(name.clone()).or_default() += 1;
                        let input = &b["input"];
                        for key in ["file_path", "path", "notebook_path"] {
                            if let Some(p) = input[key].as_str().filter(|p| !p.is_empty()) {
                                let rel = relative(p, r.cwd.as_deref());
                                if let Some((dir, _)) = rel.rsplit_once('/') {
                                    dirs.insert(format!("{dir}/"));
                                }
                                files.insert(rel);
                            }
                        }
                        if name == "Bash" {
                            if let Some(cmd) = input["command"].as_str() {
                                commands.insert(short(cmd, 80));
                            }
                        }
                    }
                    Some("tool_result") if b["is_error"] == true => {
                        let text = match &b["content"] {
                            Value::String(x) => x.clone(),
                            other => message_texts(other).join("\n"),
                        };
                        if !text.trim().is_empty() {
                            s.errors.entry(error_key(&text)).or_default().insert(t.id.clone());
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

/// The managed file's text.
pub fn render(transcripts: &[Transcript], reinforced: &[(usize, String, String)]) -> String {
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
    let langs = top(&s.lang_sessions, 6, 1);
    if let Some((first, k)) = langs.first() {
        let rest: Vec<String> = langs[1..].iter().map(|(l, c)| format!("{l} {}%", pct(*c, n))).collect();
        let rest = if rest.is_empty() { String::new() } else { format!("; {}", rest.join(", ")) };
        out.push_str(&format!(
            "- Code in {k} of {n} sessions ({}%) was {first}{rest} ({} sessions with code).\n",
            pct(*k, n),
            s.code_sessions
        ));
    }
    let tools: Vec<String> = {
        let counts: BTreeMap<String, usize> = s.tools.iter().map(|(k, v)| (k.clone(), v.0)).collect();
        top(&counts, 6, 1).into_iter().map(|(t, c)| format!("{t} in {c} of {n} sessions ({} calls)", s.tools[&t].1)).collect()
    };
    if !tools.is_empty() {
        out.push_str(&format!("- Tools used: {}.\n", tools.join(", ")));
    }
    let files: Vec<String> = top(&s.files, 5, 2).into_iter().map(|(f, c)| format!("{f} in {c} sessions")).collect();
    if !files.is_empty() {
        out.push_str(&format!("- Files touched most: {}.\n", files.join(", ")));
    }
    let dirs: Vec<String> = top(&s.dirs, 5, 2).into_iter().map(|(f, c)| format!("{f} in {c} sessions")).collect();
    if !dirs.is_empty() {
        out.push_str(&format!("- Directories touched most: {}.\n", dirs.join(", ")));
    }
    let cmds: Vec<String> = top(&s.commands, 5, 2).into_iter().map(|(f, c)| format!("`{}` in {c} sessions", f.replace('`', "'"))).collect();
    if !cmds.is_empty() {
        out.push_str(&format!("- Commands run repeatedly: {}.\n", cmds.join(", ")));
    }
    let err_counts: BTreeMap<String, usize> = s.errors.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    for (e, c) in top(&err_counts, 5, 2) {
        let ids: Vec<&str> = s.errors[&e].iter().take(5).map(String::as_str).collect();
        let more = if c > ids.len() { ", …" } else { "" };
        out.push_str(&format!("- Recurring error in {c} sessions: \"{}\" (sessions {}{more}).\n", e.replace('"', "'"), ids.join(", ")));
    }
    if !reinforced.is_empty() {
        out.push_str("\n## Reinforced memories\n\n");
        for (count, loc, text) in reinforced {
            out.push_str(&format!("- Confirmed by {count} sessions: \"{}\" ({loc})\n", short(text, 100).replace('"', "'")));
        }
    }
    out
}

/// Where the managed file goes: `insights.md` unless a hand-written file already has that name.
fn target(ws: &Workspace) -> &'static str {
    match ws.files.iter().find(|f| f.path == INSIGHTS_FILE) {
        Some(f) if !is_managed(f) => FALLBACK_FILE,
        _ => INSIGHTS_FILE,
    }
}

pub fn write(ws: &mut Workspace, table: &EntryTable, conf: &[Confirmation]) {
    if ws.input.transcripts.is_empty() {
        return; // nothing new to say; an existing managed file stays as it is
    }
    let mut reinforced: Vec<(usize, String, String)> = conf
        .iter()
        .enumerate()
        .filter(|(i, c)| c.count >= 2 && !ws.is_dropped(table.entries[*i].fi, table.entries[*i].bi))
        .map(|(i, c)| {
            (c.count, table.loc(ws, i), super::text::strip_marker(ws.current_text(table.entries[i].fi, table.entries[i].bi)).to_string())
        })
        .collect();
    reinforced.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    reinforced.truncate(20);
    let mut transcripts = ws.input.transcripts.clone();
    transcripts.sort_by(|a, b| a.id.cmp(&b.id));
    let text = render(&transcripts, &reinforced);
    let path = target(ws);
    let before = ws.input.store.files.get(path).and_then(|f| f.text()).map(str::to_string);
    if before.as_deref() != Some(text.as_str()) {
        let mut c = Change::new(
            ChangeKind::Insight,
            path,
            before,
            Some(text.clone()),
            format!("insights regenerated from {} session transcripts", transcripts.len()),
        );
        c.provenance.sessions = transcripts.iter().map(|t| t.id.clone()).collect();
        c.provenance.entries = reinforced.iter().map(|r| r.1.clone()).collect();
        ws.changes.push(c);
    }
    ws.managed.insert(path.to_string(), text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::parse_transcript;

    fn session(id: &str, day: u32, lang: &str, cmd: &str, err: bool) -> Transcript {
        let ts = format!("2026-06-{day:02}T10:00:00Z");
        let text = format!("Here:\\n```{lang}\\nx = 1\\n```\\n");
        let mut lines = vec![format!(
            r#"{{"type":"assistant","sessionId":"{id}","timestamp":"{ts}","cwd":"/repo","message":{{"role":"assistant","content":[{{"type":"text","text":"{text}"}},{{"type":"tool_use","name":"Bash","input":{{"command":"{cmd}"}}}},{{"type":"tool_use","name":"Edit","input":{{"file_path":"/repo/src/app.py"}}}}]}}}}"#
        )];
        if err {
            lines.push(format!(r#"{{"type":"user","sessionId":"{id}","timestamp":"{ts}","message":{{"role":"user","content":[{{"type":"tool_result","is_error":true,"content":"ModuleNotFoundError: No module named foo{day}"}}]}}}}"#));
        }
        parse_transcript(id, &lines.join("\n"))
    }

    #[test]
    fn statistics_have_counts_and_percentages() {
        let ts = vec![
            session("s1", 1, "python", "pytest -q", true),
            session("s2", 2, "py", "pytest -q", true),
            session("s3", 3, "go", "go test ./...", false),
            session("s4", 4, "python", "make", false),
        ];
        let text = render(&ts, &[]);
        assert!(text.contains("- Code in 3 of 4 sessions (75%) was Python; Go 25% (4 sessions with code)."), "{text}");
        assert!(text.contains("Bash in 4 of 4 sessions (4 calls)"), "{text}");
        assert!(text.contains("src/app.py in 4 sessions"), "{text}");
        assert!(text.contains("`pytest -q` in 2 sessions"), "{text}");
        assert!(!text.contains("`make`"), "a command run once is not repeated");
        assert!(text.contains("Recurring error in 2 sessions: \"ModuleNotFoundError: No module named fooN\" (sessions s1, s2)"), "{text}");
        assert!(text.contains("(2026-06-01 to 2026-06-04)"));
        assert_eq!(render(&ts, &[]), text, "deterministic");
    }

    #[test]
    fn languages_normalise_and_ignore_plain_fences() {
        let mut m = BTreeMap::new();
        code_languages("```py\na\n```\n```\nplain\n```\n```sh\nls\n```\n```text\nx\n```", &mut m);
        assert_eq!(m.into_iter().collect::<Vec<_>>(), vec![("Bash".to_string(), 1), ("Python".to_string(), 1)]);
    }
}
