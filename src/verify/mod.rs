//! The verifier: may a candidate replace the live store without a person looking at it?
//!
//! Independent of the engine that made the candidate: every check reads the two stores itself
//! and treats the engine's report as claims to confirm, never as facts. Pure functions over
//! data; one file per check. A candidate is applied only when every check passes (and
//! `auto_apply` is on); otherwise it is held, and each failed check says which lines and why.

pub mod added;
mod dates;
pub mod drift;
pub mod fate;
pub mod files;
pub mod pinned;
pub mod reduction;
mod remark;
pub mod secrets;
pub mod subject;
pub mod words;

use crate::config::Config;
use crate::memory::{parse_store, ParsedFile, PinRules};
use crate::report::Report;
use crate::store::Store;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub reason: String,
    /// Entries, lines or values the reason refers to, each with why (`file:line: text — why`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Check {
    pub fn new(name: &str, passed: bool, reason: String, details: Vec<String>) -> Check {
        Check { name: name.into(), passed, reason, details }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: bool,
    pub checks: Vec<Check>,
}

impl Verdict {
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
    pub fn summary(&self) -> String {
        let failed: Vec<_> = self.failures().map(|c| format!("{}: {}", c.name, c.reason)).collect();
        if failed.is_empty() {
            "all checks passed".into()
        } else {
            failed.join("; ")
        }
    }
}

/// What the verifier looks at: the two stores as bytes, the engine's claims, the hashes.
pub struct Input<'a> {
    pub config: &'a Config,
    pub pins: &'a PinRules,
    /// The store the dream started from.
    pub live: &'a Store,
    pub candidate: &'a Store,
    pub report: &'a Report,
    /// Hash of `live` and of the live directory as it is now.
    pub base_hash: &'a str,
    pub current_hash: &'a str,
}

/// Both stores parsed once, shared by the checks.
pub struct Parsed<'a> {
    pub live_store: &'a Store,
    pub candidate_store: &'a Store,
    pub live: Vec<ParsedFile<'a>>,
    pub candidate: Vec<ParsedFile<'a>>,
}

impl<'a> Parsed<'a> {
    pub fn new(live: &'a Store, candidate: &'a Store, config: &Config, pins: &PinRules) -> Parsed<'a> {
        Parsed {
            live_store: live,
            candidate_store: candidate,
            live: parse_store(live, config.agent.layout, pins).0,
            candidate: parse_store(candidate, config.agent.layout, pins).0,
        }
    }
}

/// The live entries the verifier cannot account for in `candidate`, with default settings
/// (Claude Code layout, no extra pin patterns): for tests and tools that check an engine.
pub fn lost(live: &Store, candidate: &Store, report: &Report) -> Vec<fate::Lost> {
    let pins = PinRules::default();
    let layout = crate::config::Layout::ClaudeCode;
    let parsed = Parsed {
        live_store: live,
        candidate_store: candidate,
        live: parse_store(live, layout, &pins).0,
        candidate: parse_store(candidate, layout, &pins).0,
    };
    fate::classify(&parsed, report).lost
}

/// Every check, in the order a person reads them.
pub fn evaluate(input: &Input) -> Verdict {
    let p = Parsed::new(input.live, input.candidate, input.config, input.pins);
    let policy = &input.config.policy;
    let added = added::Added::between(input.live, input.candidate);
    let live_text = added::LiveText::new(input.live);
    let checks = vec![
        check_unchanged(input.base_hash, input.current_hash),
        reduction::check(
            reduction::agent_bytes(&p.live, p.live_store),
            reduction::agent_bytes(&p.candidate, p.candidate_store),
            policy.min_reduction,
            policy.max_reduction,
        ),
        pinned::check(&p.live, &p.candidate),
        fate::check(&fate::classify(&p, input.report), input.config.max_entry_loss()),
        files::check(&p),
        secrets::check(&added, &live_text, &policy.secret_patterns),
        drift::check(&added, &live_text, &policy.drift),
    ];
    Verdict { passed: checks.iter().all(|c| c.passed), checks }
}

pub fn check_unchanged(base_hash: &str, current_hash: &str) -> Check {
    if base_hash == current_hash {
        Check::new("live_unchanged", true, "the live store is as it was when the dream began".into(), vec![])
    } else {
        Check::new("live_unchanged", false, "the live store changed since the dream began".into(), vec![])
    }
}

/// `text` on one line, cut to `max` characters, secrets redacted: details quote untrusted
/// text, which must neither add lines to what a person reads nor copy a key into the job record.
pub fn quote(text: &str, max: usize) -> String {
    let text = crate::secrets::redact(text);
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("⏎ "),
            // Control and invisible formatting characters (bidi overrides) are shown, not obeyed.
            c if c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}') =>
            {
                out.push_str(&c.escape_default().to_string())
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
