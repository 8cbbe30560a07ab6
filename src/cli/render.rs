//! Human-readable output for the CLI (the `--json` flag prints the API's JSON instead).
//!
//! What is shown comes from memory files, transcripts and engines: file names, entry text,
//! reasons, errors. Control characters and invisible formatting in it are shown escaped
//! (`\x1b`, `\n`, `\u{202e}`), so nothing printed can move the cursor, clear or retitle the
//! terminal, write the clipboard (OSC 52), reorder a line (bidi) or fake a line of output.

use crate::untrusted;
use serde_json::Value;

/// `text` safe for a terminal, on one line: every control character escaped, newlines too.
pub fn field(text: &str) -> String {
    untrusted::visible(text, false)
}

/// `text` safe for a terminal, keeping its line breaks and tabs.
pub fn block(text: &str) -> String {
    untrusted::visible(text, true)
}

fn s(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(x)) => field(x),
        Some(other) => field(&other.to_string()),
    }
}

fn short_time(t: &str) -> String {
    // 2026-06-01T10:00:00.123+00:00 → 2026-06-01 10:00:00
    if t.len() >= 19 && t.as_bytes()[10] == b'T' {
        format!("{} {}", &t[..10], &t[11..19])
    } else {
        t.to_string()
    }
}

pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.clone()));
        out.push('\n');
    }
    out
}

fn bytes_change(job: &Value) -> String {
    match (job.pointer("/metrics/bytes_before"), job.pointer("/metrics/bytes_after")) {
        (Some(b), Some(a)) => format!("{b}→{a}"),
        _ => "-".into(),
    }
}

pub fn jobs(v: &Value) -> String {
    let empty = vec![];
    let jobs = v.get("jobs").and_then(Value::as_array).unwrap_or(&empty);
    if jobs.is_empty() {
        return "no jobs yet\n".into();
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                s(j, "/id"),
                s(j, "/status"),
                s(j, "/trigger"),
                s(j, "/engine"),
                short_time(&s(j, "/created_at")),
                bytes_change(j),
                s(j, "/decision"),
            ]
        })
        .collect();
    table(&["ID", "STATUS", "TRIGGER", "ENGINE", "CREATED", "BYTES", "DECISION"], &rows)
}

pub fn job(v: &Value) -> String {
    let j = &v["job"];
    let mut out = String::new();
    for (label, ptr) in [
        ("job", "/id"),
        ("status", "/status"),
        ("trigger", "/trigger"),
        ("engine", "/engine"),
        ("created", "/created_at"),
        ("started", "/started_at"),
        ("finished", "/finished_at"),
        ("decision", "/decision"),
        ("decided by", "/decided_by"),
        ("error", "/error"),
        ("cost (est/actual)", "/estimated_cost_usd"),
        ("generation", "/generation"),
    ] {
        let mut val = s(j, ptr);
        if label.starts_with("cost") {
            val = format!("${} / ${}", val, s(j, "/cost_usd"));
        }
        if val != "-" {
            out.push_str(&format!("{label:<18} {val}\n"));
        }
    }
    if let Some(m) = j.get("metrics").filter(|m| !m.is_null()) {
        out.push_str(&format!(
            "{:<18} {} → {} bytes, {} → {} entries, ~{} → ~{} tokens\n",
            "size",
            s(m, "/bytes_before"),
            s(m, "/bytes_after"),
            s(m, "/entries_before"),
            s(m, "/entries_after"),
            s(m, "/tokens_before"),
            s(m, "/tokens_after")
        ));
    }
    if let Some(checks) = j.pointer("/policy/checks").and_then(Value::as_array) {
        out.push_str("policy:\n");
        for c in checks {
            let mark = if c["passed"].as_bool() == Some(true) { "pass" } else { "FAIL" };
            out.push_str(&format!("  {mark}  {:<16} {}\n", s(c, "/name"), s(c, "/reason")));
            for d in c.get("details").and_then(Value::as_array).into_iter().flatten().take(20) {
                out.push_str(&format!("          - {}\n", field(d.as_str().unwrap_or_default())));
            }
        }
    }
    if let Some(changes) = v.pointer("/report/changes").and_then(Value::as_array) {
        out.push_str(&format!("changes ({}):\n", changes.len()));
        for c in changes {
            out.push_str(&format!("  {}  {:<13} {:<20} {}\n", s(c, "/id"), s(c, "/kind"), s(c, "/file"), s(c, "/reason")));
        }
    }
    out
}

/// Colours for standard output: only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string (no-color.org).
pub fn color_wanted() -> bool {
    use std::io::IsTerminal;
    color_allowed(std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

pub fn color_allowed(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// `line` (without its newline) wrapped in `style` when colouring.
fn paint(line: &str, style: anstyle::Style, color: bool) -> String {
    if color {
        format!("{}{line}{}", style.render(), style.render_reset())
    } else {
        line.to_string()
    }
}

pub fn diff(v: &Value, color: bool) -> String {
    use anstyle::{AnsiColor, Style};
    let red = AnsiColor::Red.on_default();
    let mut out = String::new();
    if let Some(dropped) = v.get("dropped").and_then(Value::as_array).filter(|d| !d.is_empty()) {
        let title = format!("DROPPED WITHOUT EXPLANATION ({}):", dropped.len());
        out.push_str(&paint(&title, red.bold(), color));
        out.push('\n');
        for d in dropped {
            out.push_str(&paint(&format!("  - {}", field(d.as_str().unwrap_or_default())), red, color));
            out.push('\n');
        }
        out.push('\n');
    }
    let files = v.get("files").and_then(Value::as_array).cloned().unwrap_or_default();
    if files.is_empty() {
        out.push_str("no differences\n");
    }
    for f in files {
        let text = f.pointer("/diff").and_then(Value::as_str).unwrap_or_default();
        for line in text.split_inclusive('\n') {
            let (body, newline) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
            let body = &block(body);
            let style = if body.starts_with("+++") || body.starts_with("---") {
                Style::new().bold()
            } else if body.starts_with('+') {
                AnsiColor::Green.on_default()
            } else if body.starts_with('-') {
                red
            } else if body.starts_with("@@") {
                AnsiColor::Cyan.on_default()
            } else {
                Style::new()
            };
            out.push_str(&paint(body, style, color && style != Style::new()));
            out.push_str(newline);
        }
    }
    out
}

pub fn generations(v: &Value) -> String {
    let empty = vec![];
    let gens = v.get("generations").and_then(Value::as_array).unwrap_or(&empty);
    if gens.is_empty() {
        return "no generations yet (one is kept each time a store is replaced)\n".into();
    }
    let rows: Vec<Vec<String>> = gens
        .iter()
        .map(|g| vec![s(g, "/id"), short_time(&s(g, "/created_at")), s(g, "/job_id"), s(g, "/reason"), s(g, "/bytes"), s(g, "/files")])
        .collect();
    table(&["GEN", "CREATED", "JOB", "REASON", "BYTES", "FILES"], &rows)
}

/// Flatten a JSON object into `key: value` lines, nested keys dotted.
pub fn key_values(v: &Value) -> String {
    fn walk(prefix: &str, v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let k = field(k);
                    let p = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                    walk(&p, x, out);
                }
            }
            Value::Null => out.push_str(&format!("{prefix:<28} -\n")),
            Value::String(x) => out.push_str(&format!("{prefix:<28} {}\n", field(x))),
            other => out.push_str(&format!("{prefix:<28} {}\n", field(&other.to_string()))),
        }
    }
    let mut out = String::new();
    walk("", v, &mut out);
    out
}

pub fn event(e: &Value) -> String {
    format!("{}  #{:<5} {:<8} {}", short_time(&s(e, "/at")), s(e, "/id"), s(e, "/kind"), s(e, "/message"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::untrusted::is_invisible_format;
    use serde_json::json;

    #[test]
    fn tables_align() {
        let t = table(&["A", "LONGER"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    LONGER\nxxx  y\n");
    }

    #[test]
    fn diff_lists_dropped_first() {
        let out = diff(&json!({"dropped": ["a.md:1: - x"], "files": [{"diff": "--- a/a.md\n"}]}), false);
        assert!(out.starts_with("DROPPED WITHOUT EXPLANATION (1):\n  - a.md:1: - x\n"));
        assert!(out.ends_with("--- a/a.md\n"));
    }

    #[test]
    fn diff_is_coloured_only_when_asked() {
        let v = json!({"files": [{"diff": "--- a/a.md\n+++ b/a.md\n@@ -1 +1 @@\n-old\n+new\n same\n"}]});
        let plain = diff(&v, false);
        assert!(!plain.contains('\x1b'), "{plain:?}");
        let coloured = diff(&v, true);
        assert!(coloured.contains("\x1b[31m-old\x1b[0m\n"), "{coloured:?}");
        assert!(coloured.contains("\x1b[32m+new\x1b[0m\n"), "{coloured:?}");
        assert!(coloured.contains("\x1b[36m@@ -1 +1 @@\x1b[0m\n"), "{coloured:?}");
        assert!(coloured.contains("\n same\n"), "context lines stay plain: {coloured:?}");
        // Stripping the escapes gives back the plain diff, byte for byte.
        let stripped = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap().replace_all(&coloured, "");
        assert_eq!(stripped, plain);
    }

    /// Red team: an engine's output file named `ESC]0;TITLE BEL ESC[2J x.md`, a memory line
    /// with an OSC 52 clipboard write, a reason with a bidi override: `show` and `diff`
    /// printed them raw, and the operator's terminal obeyed.
    #[test]
    fn nothing_shown_can_drive_the_terminal() {
        let name = "\u{1b}]0;TITLE\u{7}\u{1b}[2Jx.md\nfake line";
        let job_json = json!({
            "job": {"id": 1, "status": "held", "error": "bad \u{1b}[31m", "policy": {"checks": [
                {"name": "entry_loss", "passed": false, "reason": "r\u{202e}tl", "details": [format!("{name}:1: - x")]}
            ]}},
            "report": {"changes": [{"id": "c-1", "kind": "edit", "file": name, "reason": "added\rover"}]}
        });
        let diff_json =
            json!({"dropped": [name], "files": [{"diff": format!("--- a/{}\n+\u{1b}]52;c;ZXZpbA==\u{7}x\n\tindented\n", field(name))}]});
        let outputs = [
            job(&job_json),
            diff(&diff_json, false),
            diff(&diff_json, true),
            jobs(&json!({"jobs": [{"id": 1, "status": "held", "decision": name}]})),
            key_values(&json!({name: name})),
            event(&json!({"id": 1, "kind": "stdout", "message": name})),
        ];
        let colours = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
        for out in outputs.iter() {
            let stripped = colours.replace_all(out, "");
            assert!(!stripped.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || is_invisible_format(c)), "{out:?}");
            assert!(!out.contains("\nfake line"), "{out:?}");
        }
        assert!(diff(&diff_json, false).contains("\n\tindented\n"), "tabs in a diff stay");
    }

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        use std::ffi::OsStr;
        assert!(color_allowed(true, None));
        assert!(color_allowed(true, Some(OsStr::new(""))), "an empty NO_COLOR does not count");
        assert!(!color_allowed(true, Some(OsStr::new("1"))));
        assert!(!color_allowed(false, None));
    }
}
