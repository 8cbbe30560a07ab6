//! The built-in consolidator: deterministic, offline, and explains every change.
//!
//! A pure function from a store snapshot (+ transcripts) to a candidate store and report.
//! Passes run in a fixed order over the parsed store; each pass marks blocks to drop or
//! rewrite and records a `Change` for each.

mod dedupe;
mod index;

use super::DreamInput;
use crate::memory::{self, Block, FileBody, ParsedFile};
use crate::report::{approx_tokens, Change, Report, Totals};
use crate::store::{MemoryFile, Store};

/// The working state the passes share: parsed files and per-block edits.
pub struct Workspace<'a> {
    pub input: &'a DreamInput,
    pub files: Vec<ParsedFile>,
    /// `edits[file][block]`: None = keep as is, Some(None) = drop, Some(Some(text)) = rewrite.
    pub edits: Vec<Vec<Option<Option<String>>>>,
    pub changes: Vec<Change>,
}

impl<'a> Workspace<'a> {
    pub fn new(input: &'a DreamInput) -> (Workspace<'a>, Vec<crate::store::Warning>) {
        let (files, warnings) = memory::parse_store(&input.store, input.layout, &input.pins);
        let edits = files.iter().map(|f| vec![None; f.blocks().len()]).collect();
        (Workspace { input, files, edits, changes: Vec::new() }, warnings)
    }

    pub fn is_dropped(&self, file: usize, block: usize) -> bool {
        matches!(self.edits[file][block], Some(None))
    }

    /// Drop a block; pinned blocks are never dropped (returns false).
    pub fn drop_block(&mut self, file: usize, block: usize) -> bool {
        if self.files[file].blocks()[block].pinned {
            return false;
        }
        self.edits[file][block] = Some(None);
        true
    }

    pub fn block(&self, file: usize, block: usize) -> &Block {
        &self.files[file].blocks()[block]
    }

    /// Render the candidate store.
    pub fn render(&self) -> Store {
        let mut out = Store::default();
        for (fi, f) in self.files.iter().enumerate() {
            let original = &self.input.store.files[&f.path];
            let bytes = match &f.body {
                FileBody::Opaque { .. } => original.bytes.clone(),
                FileBody::Parsed { frontmatter, blocks } => {
                    let mut s = frontmatter.as_ref().map(|fm| fm.raw.clone()).unwrap_or_default();
                    for (bi, b) in blocks.iter().enumerate() {
                        match &self.edits[fi][bi] {
                            None => s.push_str(&b.raw),
                            Some(Some(text)) => s.push_str(text),
                            Some(None) => {}
                        }
                    }
                    s.into_bytes()
                }
            };
            let mtime = if bytes == original.bytes { original.mtime } else { Some(self.input.now) };
            out.files.insert(f.path.clone(), MemoryFile { bytes, mtime });
        }
        out
    }
}

/// Run every pass and return the candidate and its report.
pub fn consolidate(input: &DreamInput) -> (Store, Report) {
    let (mut ws, warnings) = Workspace::new(input);
    index::drop_stale_pointers(&mut ws);
    dedupe::drop_duplicates(&mut ws);
    let candidate = ws.render();
    let entries_before = memory::entries(&ws.files).count();
    let dropped = ws
        .files
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| f.blocks().iter().enumerate().map(move |(bi, b)| (fi, bi, b)))
        .filter(|(fi, bi, b)| b.kind.is_entry() && ws.is_dropped(*fi, *bi))
        .count();
    let (bb, ba) = (input.store.total_bytes(), candidate.total_bytes());
    let report = Report {
        engine: "builtin".into(),
        changes: ws.changes,
        totals: Totals {
            files_before: input.store.files.len(),
            files_after: candidate.files.len(),
            entries_before,
            entries_after: entries_before - dropped,
            bytes_before: bb,
            bytes_after: ba,
            tokens_before: approx_tokens(bb),
            tokens_after: approx_tokens(ba),
        },
        flags: Vec::new(),
        warnings,
        sessions_read: input.transcripts.len(),
        skipped_lines: input.transcripts.iter().map(|t| t.skipped_lines).sum(),
    };
    (candidate, report)
}

#[cfg(test)]
mod tests;
