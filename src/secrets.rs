//! Secret detection, shared by the verifier (no new secrets in a candidate) and by everything that
//! turns untrusted text (transcripts, engine output) into memory or logs (redaction).
//!
//! One ruleset, one place: callers ask `find` for matches or `redact` for safe text.

use regex::Regex;
use std::sync::LazyLock;

/// One secret-looking value found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMatch {
    /// Which rule matched (stable id, e.g. `github-pat`).
    pub rule: &'static str,
    /// Byte range of the secret in the text searched (always on char boundaries).
    pub start: usize,
    pub end: usize,
}

struct Rule {
    id: &'static str,
    re: Regex,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    [
        ("anthropic-api-key", r"sk-ant-[A-Za-z0-9_\-]{20,}"),
        ("openai-api-key", r"sk-[A-Za-z0-9]{32,}"),
        ("aws-access-key-id", r"AKIA[0-9A-Z]{16}"),
        ("github-token", r"gh[pousr]_[A-Za-z0-9]{36,}"),
        ("slack-token", r"xox[baprs]-[A-Za-z0-9\-]{10,}"),
        ("private-key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
        ("jwt", r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),
    ]
    .into_iter()
    .map(|(id, p)| Rule { id, re: Regex::new(p).expect("static regex") })
    .collect()
});

/// Every secret-looking value in `text`, in order of position.
pub fn find(text: &str) -> Vec<SecretMatch> {
    let mut out: Vec<SecretMatch> =
        RULES.iter().flat_map(|r| r.re.find_iter(text).map(move |m| SecretMatch { rule: r.id, start: m.start(), end: m.end() })).collect();
    out.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    out
}

/// `text` with every secret replaced by `[redacted:RULE]`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in find(text) {
        if m.start < at {
            continue; // overlaps a secret already redacted
        }
        out.push_str(&text[at..m.start]);
        out.push_str("[redacted:");
        out.push_str(m.rule);
        out.push(']');
        at = m.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A short, safe description of a secret for reports: its first characters and length.
pub fn describe(secret: &str) -> String {
    let head: String = secret.chars().take(6).collect();
    format!("{head}… ({} chars)", secret.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_redacts() {
        let t = "key sk-ant-abcdefghijklmnopqrstuvwxyz0123 and ghp_abcdefghijklmnopqrstuvwxyz0123456789AB é";
        let found = find(t);
        assert_eq!(found.iter().map(|m| m.rule).collect::<Vec<_>>(), vec!["anthropic-api-key", "github-token"]);
        assert_eq!(redact(t), "key [redacted:anthropic-api-key] and [redacted:github-token] é");
        assert_eq!(redact("nothing here ✅"), "nothing here ✅");
    }
}
