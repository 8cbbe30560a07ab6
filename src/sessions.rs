//! Session transcripts: discovery and tolerant parsing of Claude Code's JSONL.

use crate::config::Layout;
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// A transcript line longer than this is skipped (and counted) without being held in memory:
/// real records are far smaller, and one runaway line must not cost the daemon gigabytes.
pub const MAX_LINE_BYTES: usize = 16 << 20;

mod ledger;
pub use ledger::{baseline, count_sessions, stat_sessions, Seen, SessionCounts, SessionLedger, SessionStat};

/// One session transcript file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFile {
    pub id: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub mtime: Option<DateTime<Utc>>,
    /// Subagent transcripts that belong to this session.
    pub subagents: Vec<PathBuf>,
}

/// Find session transcripts. Claude Code: `ID.jsonl` anywhere under `dir` except inside a
/// `subagents/` folder (those belong to their parent `ID/`). Generic: files matching `glob`.
pub fn discover(dir: &Path, layout: Layout, glob: &str) -> Result<Vec<SessionFile>> {
    let matcher = globset::Glob::new(glob)?.compile_matcher();
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    let mut subagent_files = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            tracing::warn!(dir = %d.display(), "cannot list sessions directory; skipping it");
            continue;
        };
        for entry in rd.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(path);
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let rel = path.strip_prefix(dir).unwrap_or(&path);
            let is_subagent = rel.components().any(|c| c.as_os_str() == "subagents");
            let wanted = match layout {
                Layout::ClaudeCode => path.extension().is_some_and(|e| e == "jsonl"),
                Layout::Generic => matcher.is_match(rel),
            };
            if !wanted {
                continue;
            }
            if layout == Layout::ClaudeCode && is_subagent {
                subagent_files.push(path);
                continue;
            }
            let meta = entry.metadata().ok();
            let id = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            out.push(SessionFile {
                id,
                bytes: meta.as_ref().map_or(0, |m| m.len()),
                mtime: meta.and_then(|m| m.modified().ok()).map(DateTime::<Utc>::from),
                path,
                subagents: Vec::new(),
            });
        }
    }
    for sub in subagent_files {
        // .../<session-id>/subagents/agent-x.jsonl
        let parent_id = sub.parent().and_then(Path::parent).and_then(Path::file_name).map(|s| s.to_string_lossy().to_string());
        if let Some(s) = out.iter_mut().find(|s| Some(&s.id) == parent_id.as_ref()) {
            s.subagents.push(sub);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    for s in &mut out {
        s.subagents.sort();
    }
    Ok(out)
}

/// The parts of a transcript record that dreams use; everything else is ignored.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Record {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(rename = "sessionId", default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub message: Option<Message>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Message {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub content: serde_json::Value,
}

impl Record {
    /// Drop what no reader of a record looks at: the content of a tool result that is not an
    /// error (a file read, a command's output), most of a coding agent's transcript. A dream
    /// reads every transcript at once; an error's text stays (insights count errors).
    fn prune(&mut self) {
        let Some(serde_json::Value::Array(items)) = self.message.as_mut().map(|m| &mut m.content) else { return };
        for item in items.iter_mut().filter_map(serde_json::Value::as_object_mut) {
            let is_result = item.get("type").and_then(serde_json::Value::as_str) == Some("tool_result");
            if is_result && item.get("is_error") != Some(&serde_json::Value::Bool(true)) {
                item.remove("content");
            }
        }
    }
}

/// A parsed transcript: the records that parsed, and how many lines did not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    pub id: String,
    pub records: Vec<Record>,
    pub skipped_lines: usize,
    /// Of the skipped lines, those longer than [`MAX_LINE_BYTES`].
    pub oversized_lines: usize,
    pub mtime: Option<DateTime<Utc>>,
    /// The files read (the session, then its subagents), for engines that get copies.
    pub sources: Vec<PathBuf>,
}

impl Transcript {
    pub fn first_timestamp(&self) -> Option<DateTime<Utc>> {
        self.records.iter().filter_map(|r| r.timestamp).min()
    }
    pub fn last_timestamp(&self) -> Option<DateTime<Utc>> {
        self.records.iter().filter_map(|r| r.timestamp).max().or(self.mtime)
    }
}

/// Parse JSONL text. Malformed lines (a partial last line, garbage) are skipped and counted.
pub fn parse_transcript(id: &str, text: &str) -> Transcript {
    let mut t = Transcript { id: id.to_string(), ..Default::default() };
    // Reading from memory cannot fail.
    let _ = parse_lines(text.as_bytes(), &mut t);
    t
}

/// Parse JSONL from a reader into `t`, a line at a time, skipping lines over [`MAX_LINE_BYTES`].
fn parse_lines(reader: impl BufRead, t: &mut Transcript) -> std::io::Result<()> {
    for_each_line(reader, MAX_LINE_BYTES, |line| match line {
        Line::Oversized => {
            t.skipped_lines += 1;
            t.oversized_lines += 1;
        }
        Line::Bytes(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            if text.trim().is_empty() {
                return;
            }
            match serde_json::from_str::<Record>(&text) {
                Ok(mut r) => {
                    r.prune();
                    t.records.push(r)
                }
                Err(_) => t.skipped_lines += 1,
            }
        }
    })
}

enum Line<'a> {
    Bytes(&'a [u8]),
    /// Longer than the cap; its bytes were discarded as they were read.
    Oversized,
}

/// Call `f` for every `\n`-terminated line (and a last unterminated one), never buffering more
/// than `max` bytes of a line.
fn for_each_line(mut reader: impl BufRead, max: usize, mut f: impl FnMut(Line<'_>)) -> std::io::Result<()> {
    let mut line = Vec::new();
    let mut oversized = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let newline = buf.iter().position(|&b| b == b'\n');
        let chunk = &buf[..newline.unwrap_or(buf.len())];
        if !oversized {
            if line.len() + chunk.len() > max {
                oversized = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = chunk.len() + usize::from(newline.is_some());
        reader.consume(used);
        if newline.is_some() {
            f(if oversized { Line::Oversized } else { Line::Bytes(&line) });
            line.clear();
            oversized = false;
        }
    }
    if oversized {
        f(Line::Oversized);
    } else if !line.is_empty() {
        f(Line::Bytes(&line));
    }
    Ok(())
}

/// Read a session and its subagents; an unreadable file becomes an empty transcript with a warning.
pub fn read_session(s: &SessionFile) -> Transcript {
    let mut t = Transcript { id: s.id.clone(), mtime: s.mtime, ..Default::default() };
    for path in std::iter::once(&s.path).chain(s.subagents.iter()) {
        // A transcript swapped for a link since it was found (another user's transcripts, a
        // FIFO) is skipped, not followed or blocked on.
        let open = || {
            use std::os::unix::fs::OpenOptionsExt;
            let f = std::fs::File::options().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?;
            if !f.metadata()?.is_file() {
                return Err(std::io::Error::other("not a regular file"));
            }
            Ok(f)
        };
        let read = open().and_then(|f| parse_lines(std::io::BufReader::with_capacity(1 << 16, f), &mut t));
        match read {
            Ok(()) => t.sources.push(path.clone()),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot read transcript; skipping it"),
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_output_is_not_kept_but_errors_and_everything_else_are() {
        let line = |content: &str| format!(r#"{{"type":"user","sessionId":"s","message":{{"role":"user","content":{content}}}}}"#);
        let text = [
            line(r#"[{"type":"tool_result","tool_use_id":"1","content":"5,000 lines of a file"}]"#),
            line(r#"[{"type":"tool_result","is_error":true,"content":"Error: boom"}]"#),
            line(r#"[{"type":"text","text":"hello"},{"type":"tool_use","name":"Bash","input":{"command":"ls"}}]"#),
            line(r#""a plain message""#),
        ]
        .join("\n");
        let t = parse_transcript("s", &text);
        let content = |i: usize| &t.records[i].message.as_ref().unwrap().content;
        assert_eq!(content(0), &serde_json::json!([{"type": "tool_result", "tool_use_id": "1"}]));
        assert_eq!(content(1)[0]["content"], "Error: boom");
        assert_eq!(content(2)[1]["input"]["command"], "ls");
        assert_eq!(content(3), "a plain message");
    }

    /// Red team: a transcript replaced by a link after discovery was read through the link.
    #[test]
    fn a_transcript_that_became_a_link_or_a_fifo_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("other.jsonl");
        std::fs::write(&other, r#"{"type":"user","message":{"role":"user","content":"someone else's session"}}"#).unwrap();
        let link = d.path().join("s1.jsonl");
        std::os::unix::fs::symlink(&other, &link).unwrap();
        let fifo = d.path().join("s2.jsonl");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for path in [link, fifo] {
            let s = SessionFile { id: "s".into(), bytes: 0, mtime: None, path, subagents: Vec::new() };
            let t = read_session(&s);
            assert!(t.records.is_empty() && t.sources.is_empty(), "{:?}", s.path);
        }
    }

    #[test]
    fn parses_records_and_counts_bad_lines() {
        let text = concat!(
            r#"{"type":"user","sessionId":"s1","timestamp":"2026-06-01T10:00:00Z","message":{"role":"user","content":"hi"}}"#,
            "\n",
            r#"{"type":"assistant","sessionId":"s1","timestamp":"2026-06-01T10:00:05.123Z","message":{"role":"assistant","content":[{"type":"text","text":"yo"}]}}"#,
            "\nnot json\n",
            r#"{"type":"summary","summary":"x"}"#,
            "\n",
            r#"{"type":"user","message":{"role":"us"#,
        );
        let t = parse_transcript("s1", text);
        assert_eq!(t.records.len(), 3);
        assert_eq!(t.skipped_lines, 2);
        assert_eq!(t.first_timestamp().unwrap().to_rfc3339(), "2026-06-01T10:00:00+00:00");
    }

    #[test]
    fn a_huge_line_is_skipped_without_being_buffered() {
        let good = r#"{"type":"user","message":{"role":"user","content":"hi"}}"#;
        let text = format!("{good}\n{{\"type\":\"{}\"}}\n{good}\n{}", "x".repeat(100), "y".repeat(50));
        let mut t = Transcript::default();
        // A tiny reader buffer and cap: the long line arrives in many pieces.
        for_each_line(std::io::BufReader::with_capacity(7, text.as_bytes()), 64, |l| match l {
            Line::Oversized => {
                t.skipped_lines += 1;
                t.oversized_lines += 1;
            }
            Line::Bytes(b) => match serde_json::from_slice::<Record>(b) {
                Ok(r) => t.records.push(r),
                Err(_) => t.skipped_lines += 1,
            },
        })
        .unwrap();
        assert_eq!((t.records.len(), t.skipped_lines, t.oversized_lines), (2, 2, 1), "the unterminated last line is garbage");
    }

    #[test]
    fn hostile_strings_stay_data_in_records() {
        let line = serde_json::json!({"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "tool_use", "name": "Bash\n## x\u{1b}[2J", "input": {"file_path": "a\nb"}}]}});
        let t = parse_transcript("s", &format!("{line}\n\u{2028}\n"));
        assert_eq!((t.records.len(), t.skipped_lines), (1, 0), "a separator-only line is blank");
        let content = &t.records[0].message.as_ref().unwrap().content;
        assert_eq!(content[0]["name"], "Bash\n## x\u{1b}[2J", "parsing keeps the value; rendering neutralises it");
    }

    #[test]
    fn read_session_records_its_sources() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("aaa.jsonl"), "{}\n").unwrap();
        std::fs::create_dir_all(d.path().join("aaa/subagents")).unwrap();
        std::fs::write(d.path().join("aaa/subagents/agent-1.jsonl"), "{}\n").unwrap();
        let s = discover(d.path(), Layout::ClaudeCode, "**/*.jsonl").unwrap();
        let t = read_session(&s[0]);
        assert_eq!(t.sources, vec![d.path().join("aaa.jsonl"), d.path().join("aaa/subagents/agent-1.jsonl")]);
        assert_eq!(t.records.len(), 2);
    }

    #[test]
    fn discovery_attaches_subagents_to_their_session() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("aaa.jsonl"), "{}\n").unwrap();
        std::fs::write(d.path().join("bbb.jsonl"), "{}\n").unwrap();
        std::fs::create_dir_all(d.path().join("aaa/subagents")).unwrap();
        std::fs::write(d.path().join("aaa/subagents/agent-1.jsonl"), "{}\n").unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        let s = discover(d.path(), Layout::ClaudeCode, "**/*.jsonl").unwrap();
        assert_eq!(s.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec!["aaa", "bbb"]);
        assert_eq!(s[0].subagents.len(), 1);
        let g = discover(d.path(), Layout::Generic, "*.txt").unwrap();
        assert_eq!(g.len(), 1);
        assert!(discover(&d.path().join("missing"), Layout::ClaudeCode, "*").unwrap().is_empty());
    }
}
