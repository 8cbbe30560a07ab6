//! Turning parse errors into `file:line:column: what is wrong, what is expected`, at the line
//! an operator has to fix: the key a bad value belongs to, the second of two duplicate keys,
//! the opening quote a string never closes.

use super::ConfigError;
use serde_path_to_error::Segment;
use std::path::Path;

/// An error about the value of `keys` (`["policy", "min_reduction"]`), located at that key.
pub(super) fn at_key(text: &str, file: &Path, keys: &[&str], message: String) -> ConfigError {
    let (line, column) = locate_key(text, keys).map_or((None, None), |(l, c)| (Some(l), Some(c)));
    ConfigError { file: file.to_path_buf(), line, column, message }
}

/// A YAML syntax error or a value of the wrong shape, with the dotted path serde was at.
pub(super) fn yaml_error(text: &str, file: &Path, e: &serde_path_to_error::Error<serde_yaml::Error>) -> ConfigError {
    let keys: Vec<String> = e
        .path()
        .iter()
        .map_while(|s| match s {
            Segment::Map { key } => Some(key.clone()),
            _ => None,
        })
        .collect();
    let raw = e.inner().to_string();
    let mark = e.inner().location().map(|l| (l.line(), l.column()));
    let located = |(line, column): (usize, usize), message: String| ConfigError {
        file: file.to_path_buf(),
        line: Some(line),
        column: Some(column),
        message,
    };

    // libyaml: "PROBLEM at line L column C, while CONTEXT at line L2 column C2". The context
    // is where the construct that went wrong began (an unclosed quote's opening quote); the
    // problem is where the parser gave up, often the end of the file.
    if let Some((problem, context, at)) = split_context(&raw) {
        let message = if context.contains("quoted scalar") {
            format!("a quoted string starts here and is never closed ({problem} {context})")
        } else {
            format!("{problem}, {context}")
        };
        return located(at, message);
    }

    let message = explain(&strip_path_prefix(strip_mark(&raw), &keys));
    if let Some(name) = duplicate_name(&message) {
        let mut dup_keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        if dup_keys.last() != Some(&name) {
            dup_keys.push(name);
        }
        let dotted = dup_keys.join(".");
        // The first occurrence is fine; the second is the one to remove.
        if let Some(&second) = key_occurrences(text, &dup_keys).get(1) {
            return located(
                second,
                format!("{dotted} appears twice (first on line {}); remove one", key_occurrences(text, &dup_keys)[0].0),
            );
        }
        return ConfigError { file: file.to_path_buf(), line: mark.map(|m| m.0), column: mark.map(|m| m.1), message };
    }
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let dotted = key_refs.join(".");
    let message = if dotted.is_empty() || message.starts_with("unknown field") { message } else { format!("{dotted}: {message}") };
    // yaml_serde marks the value itself when the error arose there (a wrong type), but the
    // enclosing mapping when a value's own parser refused it (a bad duration): trust its mark
    // only on the key's line.
    let at = match (locate_key(text, &key_refs), mark) {
        (Some(key), Some(m)) if m.0 == key.0 => Some(m),
        (key, m) => key.or(m),
    };
    match at {
        Some(at) => located(at, message),
        None => ConfigError { file: file.to_path_buf(), line: None, column: None, message },
    }
}

/// Split libyaml's "problem at line L column C, while context at line L2 column C2".
fn split_context(raw: &str) -> Option<(String, String, (usize, usize))> {
    let (head, context) = raw.split_once(", while ")?;
    let (context, at) = context.rsplit_once(" at line ")?;
    let (line, column) = at.split_once(" column ")?;
    let at = (line.trim().parse().ok()?, column.trim().parse().ok()?);
    let problem = strip_mark(head);
    Some((problem.to_string(), format!("while {context}"), at))
}

/// yaml_serde appends " at line L column C"; the location is reported separately.
fn strip_mark(msg: &str) -> &str {
    msg.find(" at line ").map_or(msg, |i| &msg[..i])
}

/// yaml_serde prefixes the mapping it was in ("triggers: ..."); the full path replaces it.
fn strip_path_prefix(msg: &str, keys: &[String]) -> String {
    for n in (1..=keys.len()).rev() {
        if let Some(rest) = msg.strip_prefix(&format!("{}: ", keys[..n].join("."))) {
            return rest.to_string();
        }
    }
    msg.to_string()
}

fn duplicate_name(msg: &str) -> Option<&str> {
    msg.strip_prefix("duplicate field `")?.split('`').next()
}

/// serde's messages are good but speak Rust; say it the way an operator would.
fn explain(msg: &str) -> String {
    let mut out = msg.to_string();
    for (rust, plain) in [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected u32", "expected a whole number >= 0"),
        ("expected u64", "expected a whole number >= 0"),
        ("expected i64", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
    ] {
        out = out.replace(rust, plain);
    }
    out
}

/// The line and column of a nested key (`["policy", "min_reduction"]`), found by indentation.
/// Good enough for locating errors in hand-written block YAML.
pub fn locate_key(text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    key_occurrences(text, keys).first().copied()
}

/// Every place `keys` is written, in file order (more than one only when a key is duplicated).
fn key_occurrences(text: &str, keys: &[&str]) -> Vec<(usize, usize)> {
    // Significant lines: (1-based line number, indent, text after the indent).
    let lines: Vec<(usize, usize, &str)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let t = l.trim_start_matches(' ');
            (!t.is_empty() && !t.starts_with('#')).then(|| (i + 1, l.len() - t.len(), t))
        })
        .collect();
    let is_key =
        |t: &str, key: &str| [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")].iter().any(|k| t.starts_with(k.as_str()));
    // Blocks to search at this depth, as ranges of `lines`.
    let mut blocks: Vec<std::ops::Range<usize>> = std::iter::once(0..lines.len()).collect();
    for (depth, key) in keys.iter().enumerate() {
        let mut found = Vec::new();
        for block in blocks {
            let Some(child_indent) = lines.get(block.start).map(|l| l.1) else { continue };
            for j in block.clone() {
                let (_, indent, t) = lines[j];
                if indent == child_indent && is_key(t, key) {
                    let end = (j + 1..block.end).find(|&k| lines[k].1 <= child_indent).unwrap_or(block.end);
                    found.push((j, end));
                }
            }
        }
        if depth + 1 == keys.len() {
            return found.into_iter().map(|(j, _)| (lines[j].0, lines[j].1 + 1)).collect();
        }
        blocks = found.into_iter().map(|(j, end)| j + 1..end).filter(|r| !r.is_empty()).collect();
    }
    Vec::new()
}
