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
mod forms;
pub mod pinned;
pub mod reduction;
mod remark;
pub mod secrets;
pub mod subject;
pub mod words;

use crate::config::{Config, Layout};
use crate::memory::{parse_file, FileBody, ParsedFile, PinRules};
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

/// A file of a store as the per-file checks see it.
pub struct FileInfo<'a> {
    pub path: &'a str,
    /// Frontmatter `managed-by: dreamd`.
    pub managed: bool,
    /// Why it could not be parsed (it has no entries).
    pub opaque: Option<String>,
}

/// What the checks share about the two stores. Files are parsed one at a time and dropped
/// ([`Parsed::each`]): a 100 MB store parsed whole is a quarter of a gigabyte of blocks.
pub struct Parsed<'a> {
    pub live_store: &'a Store,
    pub candidate_store: &'a Store,
    /// In path order, as in the stores.
    pub live: Vec<FileInfo<'a>>,
    pub candidate: Vec<FileInfo<'a>>,
    pub live_pins: pinned::Pins,
    pub candidate_pins: pinned::Pins,
    layout: Layout,
    pins: PinRules,
}

impl<'a> Parsed<'a> {
    pub fn new(live: &'a Store, candidate: &'a Store, config: &Config, pins: &PinRules) -> Parsed<'a> {
        Parsed::with(live, candidate, config.agent.layout, pins)
    }

    pub fn with(live: &'a Store, candidate: &'a Store, layout: Layout, pins: &PinRules) -> Parsed<'a> {
        let mut p = Parsed {
            live_store: live,
            candidate_store: candidate,
            live: Vec::new(),
            candidate: Vec::new(),
            live_pins: pinned::Pins::default(),
            candidate_pins: pinned::Pins::default(),
            layout,
            pins: pins.clone(),
        };
        (p.live, p.live_pins) = p.scan(live);
        (p.candidate, p.candidate_pins) = p.scan(candidate);
        p
    }

    fn scan(&self, store: &'a Store) -> (Vec<FileInfo<'a>>, pinned::Pins) {
        let (mut files, mut pins) = (Vec::new(), pinned::Pins::default());
        self.each(store, |path, f| {
            let opaque = match &f.body {
                FileBody::Opaque { reason } => Some(reason.clone()),
                FileBody::Parsed { .. } => None,
            };
            files.push(FileInfo { path, managed: f.is_managed(), opaque });
            pins.add(path, f);
        });
        (files, pins)
    }

    /// Each file of `store` (one of the two), parsed, in path order; only one is held at a time.
    pub fn each(&self, store: &'a Store, mut f: impl FnMut(&'a str, &ParsedFile<'a>)) {
        for (path, file) in &store.files {
            f(path, &parse_file(path, file, self.layout, &self.pins));
        }
    }
}

/// The live entries the verifier cannot account for in `candidate`, with default settings
/// (Claude Code layout, no extra pin patterns): for tests and tools that check an engine.
pub fn lost(live: &Store, candidate: &Store, report: &Report) -> Vec<fate::Lost> {
    let parsed = Parsed::with(live, candidate, crate::config::Layout::ClaudeCode, &PinRules::default());
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
        pinned::check(&p),
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
