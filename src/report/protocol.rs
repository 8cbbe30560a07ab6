//! The report an external engine may write beside its candidate (`DREAMD_REPORT_FILE`).
//!
//! Same `Change`/`Flag` types as the built-in engine's report, plus what the engine spent.
//! Parsing is strict about what matters and loud about the rest: a file over the size cap, bad
//! JSON, a wrong type, an unknown `kind`, a path outside the store or a negative cost fail the
//! job with a clear error; a field dreamd does not know is ignored and listed as a warning (so a
//! typo like `sucessor` is seen, and a newer engine still works with an older dreamd).
//! `docs/engine-report.schema.json` is generated from these types (see the test below).

use super::{approx_tokens, change_id, Change, Flag, Report, Totals};
use crate::store::{Store, Warning};
use crate::untrusted;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// The protocol version this dreamd speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Where the committed schema lives, relative to the repository root.
pub const SCHEMA_PATH: &str = "docs/engine-report.schema.json";

/// What an external engine reports about its candidate. Every field is optional; an engine
/// that writes no report at all gets one derived from the diff (which explains no removal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "dreamd engine report")]
pub struct EngineReport {
    /// Protocol version; 1.
    #[serde(default = "default_version")]
    pub version: u32,
    /// Every change the engine made, explained. A removal the report does not explain is held
    /// for a person by the verifier.
    #[serde(default)]
    pub changes: Vec<Change>,
    /// Things the engine noticed but did not resolve, for a person.
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// What this job cost, in USD (model calls etc.); recorded as the job's actual cost.
    /// Absent: the configured price is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub cost_usd: Option<f64>,
}

fn default_version() -> u32 {
    PROTOCOL_VERSION
}

/// A report that parsed, with the fields dreamd ignored (as JSON paths).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReport {
    pub report: EngineReport,
    pub unknown_fields: Vec<String>,
}

/// Why a report was refused; the message names the place and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the engine's report.json is invalid: {0}")]
pub struct ReportError(pub String);

fn invalid(msg: impl Into<String>) -> ReportError {
    ReportError(msg.into())
}

/// The JSON Schema of [`EngineReport`], as committed under `docs/`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(EngineReport);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Read and parse `path`, refusing more than `max_bytes`. A missing file is `Ok(None)`.
pub fn read(path: &Path, max_bytes: u64) -> Result<Option<ParsedReport>, ReportError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(invalid(format!("cannot read it: {e}"))),
    };
    if !meta.file_type().is_file() {
        return Err(invalid("it is not a regular file (a symlink or a directory)"));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(|e| invalid(format!("cannot read it: {e}")))?;
    parse(&bytes, max_bytes).map(Some)
}

/// Parse report bytes (see the module doc for what is refused and what is only reported).
pub fn parse(bytes: &[u8], max_bytes: u64) -> Result<ParsedReport, ReportError> {
    if bytes.len() as u64 > max_bytes {
        return Err(invalid(format!("it is larger than the limit of {max_bytes} bytes")));
    }
    let mut unknown_fields = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let report: EngineReport = serde_ignored::deserialize(&mut de, |path| unknown_fields.push(path.to_string()))
        .and_then(|r| de.end().map(|()| r))
        .map_err(|e| invalid(e.to_string()))?;
    if report.version != PROTOCOL_VERSION {
        return Err(invalid(format!("version {} is not supported, expected {PROTOCOL_VERSION}", report.version)));
    }
    if let Some(c) = report.cost_usd {
        if !c.is_finite() || c < 0.0 {
            return Err(invalid(format!("cost_usd is {c}, expected an amount >= 0")));
        }
    }
    Ok(ParsedReport { report, unknown_fields })
}

/// A relative store path: no root, no `..`, no empty or `.` component, no control character.
fn is_store_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.chars().any(|c| c.is_control() || c == '\\')
        && p.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Check the report against the stores it describes and turn it into dreamd's report: paths
/// must name files of the base or the candidate (a successor, of the candidate), every change
/// needs a reason; ids are assigned by dreamd; one-line fields are made inert (they reach logs
/// and terminals); unknown fields become warnings.
pub fn into_report(parsed: ParsedReport, base: &Store, candidate: &Store, engine: &str) -> Result<(Report, Option<f64>), ReportError> {
    let ParsedReport { report, unknown_fields } = parsed;
    let cost = report.cost_usd;
    let known = |p: &str| base.files.contains_key(p) || candidate.files.contains_key(p);
    let mut changes = report.changes;
    for (i, c) in changes.iter_mut().enumerate() {
        let at = format!("changes[{i}]");
        for p in std::iter::once(&c.file).chain(c.related_files.iter()) {
            if !is_store_path(p) || !known(p) {
                return Err(invalid(format!("{at} names {p:?}, which is not a file of the store or of the candidate")));
            }
        }
        if let Some(s) = &c.successor {
            if !is_store_path(&s.file) || !candidate.files.contains_key(&s.file) {
                return Err(invalid(format!("{at}.successor names {:?}, which is not a file of the candidate", s.file)));
            }
        }
        if c.before.is_none() && c.after.is_none() {
            return Err(invalid(format!("{at} has neither before nor after")));
        }
        c.reason = untrusted::one_line(&c.reason, 500);
        if c.reason.is_empty() {
            return Err(invalid(format!("{at} has no reason; every change must say why")));
        }
        for s in c.provenance.entries.iter_mut().chain(c.provenance.sessions.iter_mut()) {
            *s = untrusted::one_line(s, 200);
        }
    }
    assign_ids(&mut changes);
    let mut flags = report.flags;
    for f in &mut flags {
        f.kind = untrusted::one_line(&f.kind, 40);
        f.message = untrusted::one_line(&f.message, 500);
        for e in &mut f.entries {
            *e = untrusted::one_line(e, 200);
        }
    }
    let warnings = unknown_fields
        .iter()
        .map(|p| Warning { file: "report.json".into(), message: format!("unknown field {} ignored", untrusted::one_line(p, 200)) })
        .collect();
    let report = Report { engine: engine.to_string(), changes, flags, warnings, totals: totals(base, candidate), ..Default::default() };
    Ok((report, cost))
}

/// Store sizes before and after (entries are counted by the caller, who knows the layout).
pub fn totals(before: &Store, after: &Store) -> Totals {
    let (b, a) = (before.total_bytes(), after.total_bytes());
    Totals {
        files_before: before.files.len(),
        files_after: after.files.len(),
        bytes_before: b,
        bytes_after: a,
        tokens_before: approx_tokens(b),
        tokens_after: approx_tokens(a),
        ..Default::default()
    }
}

/// dreamd's ids for an engine's changes: the stable hash, numbered when two are the same edit.
pub fn assign_ids(changes: &mut [Change]) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for c in changes {
        let id = change_id(c.kind, &c.file, c.before.as_deref(), c.after.as_deref());
        let n = seen.entry(id.clone()).or_insert(0);
        *n += 1;
        c.id = if *n > 1 { format!("{id}-{n}") } else { id };
    }
}

#[cfg(test)]
mod tests;
