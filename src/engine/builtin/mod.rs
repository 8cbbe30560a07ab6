//! The built-in consolidator: deterministic, offline, and explains every change.
//!
//! A pure function from a store snapshot (+ transcripts) to a candidate store and report.
//! Passes run in a fixed order over the parsed store; each pass marks blocks to drop or
//! rewrite (or text to append) and records a `Change` for each:
//!
//! 1. stale index pointers;
//! 2. relative dates → ISO (anchored on the entry's own date);
//! 3. conflicts (subject model, `conflict.rs`; ordering, `order.rs`);
//! 4. duplicates, date-only ones included (`dedupe.rs`);
//! 5. near-duplicates (MinHash/LSH candidates, precise verification);
//! 6. insights from transcripts (+ reinforcement);
//! 7. index maintenance.
//!
//! Conflicts run first, on every entry, so that a removal rests on every copy's evidence, and
//! every decision rests on content and sure order only: dreaming the result again removes
//! nothing more (tested on every corpus).

pub mod budget;
pub mod candidates;
mod conflict;
mod dedupe;
pub mod entries;
mod hashing;
mod index;
mod insights;
pub mod lexicon;
pub mod lsh;
pub mod near;
pub mod order;
pub mod packed;
mod reldate;
pub mod text;
pub mod words;

use super::DreamInput;
use crate::memory::{self, Block, BlockKind, FileBody, ParsedFile};
use crate::report::ChangeKind;
use crate::report::{approx_tokens, Change, Flag, Report, Totals};
use crate::store::{MemoryFile, Store};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The section superseded values move to with `keep_history: true`.
pub const SUPERSEDED: &str = "Superseded";

/// The working state the passes share: parsed files and per-block edits.
pub struct Workspace<'a> {
    pub input: &'a DreamInput,
    pub files: Vec<ParsedFile<'a>>,
    /// `edits[file][block]`: kept as is, dropped, or rewritten (the text in `rewrites`). One
    /// byte a block: most blocks of a big store are never touched.
    edits: Vec<Vec<Edit>>,
    rewrites: HashMap<(usize, usize), String>,
    /// Text appended at the end of a parsed file (superseded values, new index lines).
    pub appends: Vec<String>,
    /// Whole files the engine writes (the managed insights file).
    pub managed: BTreeMap<String, String>,
    pub changes: Changes,
    pub flags: Vec<Flag>,
    /// Files left as they are to keep within the memory budget (`budget.rs`): not parsed,
    /// rendered byte for byte.
    pub skipped: &'a BTreeSet<String>,
}

/// No file left out.
static NONE_SKIPPED: BTreeSet<String> = BTreeSet::new();

/// Why a file left out for the memory budget is not parsed (it is kept byte for byte).
const SKIPPED: &str = "left as it is to keep within the memory budget";

impl<'a> Workspace<'a> {
    pub fn new(input: &'a DreamInput) -> (Workspace<'a>, Vec<crate::store::Warning>) {
        Workspace::leaving_out(input, &NONE_SKIPPED)
    }

    /// The workspace of a dream that leaves `skipped` as they are.
    pub fn leaving_out(input: &'a DreamInput, skipped: &'a BTreeSet<String>) -> (Workspace<'a>, Vec<crate::store::Warning>) {
        let mut warnings = Vec::new();
        let files: Vec<ParsedFile<'a>> = input
            .store
            .files
            .iter()
            .map(|(path, file)| {
                if skipped.contains(path) {
                    return ParsedFile { path: path.clone(), body: FileBody::Opaque { reason: SKIPPED.into() } };
                }
                let parsed = memory::parse_file(path, file, input.layout, &input.pins);
                if let FileBody::Opaque { reason } = &parsed.body {
                    if memory::is_memory_file(path) {
                        warnings.push(crate::store::Warning { file: path.clone(), message: format!("kept unchanged: {reason}") });
                    }
                }
                parsed
            })
            .collect();
        let edits = files.iter().map(|f| vec![Edit::Keep; f.blocks().len()]).collect();
        let appends = vec![String::new(); files.len()];
        let ws = Workspace {
            input,
            files,
            edits,
            rewrites: HashMap::new(),
            appends,
            managed: BTreeMap::new(),
            changes: Changes::default(),
            flags: Vec::new(),
            skipped,
        };
        (ws, warnings)
    }

    pub fn is_dropped(&self, file: usize, block: usize) -> bool {
        self.edits[file][block] == Edit::Drop
    }

    /// Drop an entry as a duplicate or a superseded fact: not a pinned one, and not one with no
    /// word an independent check could look for elsewhere (`verify::words`: only marks,
    /// symbols, control characters or stopwords), since nothing could show it is said again.
    pub fn drop_fact(&mut self, file: usize, block: usize) -> bool {
        use crate::verify::words::{scan_words, WordRef};
        let mut checkable = false;
        scan_words(self.files[file].blocks()[block].text(), |w| checkable |= matches!(w, WordRef::Content(_)));
        checkable && self.drop_block(file, block)
    }

    /// Drop a block; pinned blocks are never dropped (returns false).
    pub fn drop_block(&mut self, file: usize, block: usize) -> bool {
        if self.files[file].blocks()[block].pinned {
            return false;
        }
        self.edits[file][block] = Edit::Drop;
        self.rewrites.remove(&(file, block));
        true
    }

    /// Rewrite a block's raw text; pinned blocks are never altered (returns false).
    pub fn rewrite_block(&mut self, file: usize, block: usize, raw: String) -> bool {
        if self.files[file].blocks()[block].pinned {
            return false;
        }
        self.edits[file][block] = Edit::Rewrite;
        self.rewrites.insert((file, block), raw);
        true
    }

    pub fn block(&self, file: usize, block: usize) -> &Block<'a> {
        &self.files[file].blocks()[block]
    }

    /// The block's raw text as the candidate will have it (None when dropped).
    pub fn current_raw(&self, file: usize, block: usize) -> Option<&str> {
        match self.edits[file][block] {
            Edit::Keep => Some(self.block(file, block).raw),
            Edit::Rewrite => self.rewrites.get(&(file, block)).map(String::as_str),
            Edit::Drop => None,
        }
    }

    /// The block's current text without trailing blank lines ("" when dropped).
    pub fn current_text(&self, file: usize, block: usize) -> &str {
        self.current_raw(file, block).unwrap_or("").trim_end_matches(['\n', '\r', ' ', '\t'])
    }

    /// Render the candidate store.
    pub fn render(&self) -> Store {
        let mut out = Store::default();
        for (fi, f) in self.files.iter().enumerate() {
            let original = &self.input.store.files[&f.path];
            let bytes = match &f.body {
                FileBody::Opaque { .. } => original.bytes.clone(),
                FileBody::Parsed { frontmatter, .. } => {
                    let mut s = frontmatter.as_ref().map(|fm| fm.raw.to_string()).unwrap_or_default();
                    self.render_blocks(fi, &mut s, |_, _| {});
                    if !self.appends[fi].is_empty() {
                        if !s.is_empty() && !s.ends_with('\n') {
                            s.push('\n');
                        }
                        s.push_str(&self.appends[fi]);
                    }
                    // Grown piece by piece: without this, a 100 MB candidate holds a fifth more.
                    s.shrink_to_fit();
                    s.into_bytes()
                }
            };
            let mtime = if bytes == original.bytes { original.mtime } else { Some(self.input.now) };
            out.files.insert(f.path.clone(), MemoryFile { bytes, mtime });
        }
        for (path, text) in &self.managed {
            let unchanged = self.input.store.files.get(path).is_some_and(|f| f.bytes == text.as_bytes());
            let mtime = if unchanged { self.input.store.files[path].mtime } else { Some(self.input.now) };
            out.files.insert(path.clone(), MemoryFile { bytes: text.clone().into_bytes(), mtime });
        }
        out
    }

    /// The file ends inside a code block that never closes: text appended to it would land
    /// in that block, so nothing is appended.
    pub fn ends_in_open_fence(&self, fi: usize) -> bool {
        let Some(last) = self.files[fi].blocks().last().filter(|b| b.kind == BlockKind::Code) else {
            return false;
        };
        let mut lines = last.raw.lines();
        let fence: String = lines.next().map(|l| l.trim_start().chars().take(3).collect()).unwrap_or_default();
        !lines.any(|l| l.trim_start().starts_with(fence.as_str()))
    }

    /// The file's blocks as the candidate has them, appended to `out` (which holds what comes
    /// before them); `at(line, block)` is told the candidate line where each kept block starts.
    /// A dropped block's trailing blank line stays when it is all that separated its
    /// neighbours: otherwise the next paragraph would read as the previous entry's tail.
    fn render_blocks(&self, fi: usize, out: &mut String, mut at: impl FnMut(usize, usize)) {
        let mut line = 1 + out.matches('\n').count();
        for (bi, b) in self.files[fi].blocks().iter().enumerate() {
            let piece = match self.current_raw(fi, bi) {
                Some(text) => text,
                None => {
                    let tail = &b.raw[b.text().len()..];
                    let blank = tail.find('\n').map_or("", |i| &tail[i + 1..]);
                    let separated = out.is_empty() || out.ends_with("\n\n") || out.ends_with("\n\r\n");
                    if blank.contains('\n') && !separated {
                        out.push_str(blank);
                        line += blank.matches('\n').count();
                    }
                    continue;
                }
            };
            at(line, bi);
            out.push_str(piece);
            line += piece.matches('\n').count();
        }
    }

    /// Where each kept block's first line lands in the candidate: file → candidate line → line
    /// in this round's input.
    pub fn line_map(&self) -> LineMap {
        let mut map = LineMap::new();
        for (fi, f) in self.files.iter().enumerate() {
            let FileBody::Parsed { frontmatter, blocks } = &f.body else { continue };
            let mut text = frontmatter.as_ref().map(|fm| fm.raw.to_string()).unwrap_or_default();
            let lines = map.entry(f.path.clone()).or_default();
            self.render_blocks(fi, &mut text, |line, bi| {
                lines.insert(line, blocks[bi].line);
            });
        }
        map
    }

    /// The file's own date: frontmatter `modified` (Claude Code writes it) or `updated`.
    pub fn file_date(&self, file: usize) -> Option<NaiveDate> {
        let fm = self.files[file].frontmatter()?;
        ["modified", "updated"].iter().find_map(|k| fm.fields.get(*k).and_then(|v| text::parse_iso_date(v.trim())))
    }

    pub fn file_mtime(&self, file: usize) -> Option<NaiveDate> {
        self.input.store.files.get(&self.files[file].path).and_then(|f| f.mtime).map(|t| t.date_naive())
    }
}

/// The changes of a round. A big store's report holds hundreds of thousands: each is stored
/// with its strings cut to their length (a `format!` or a first `push` reserves more).
#[derive(Debug, Default)]
pub struct Changes(Vec<Change>);

impl Changes {
    pub fn push(&mut self, mut c: Change) {
        for s in [&mut c.id, &mut c.file, &mut c.reason].into_iter().chain(c.before.as_mut()).chain(c.after.as_mut()) {
            s.shrink_to_fit();
        }
        for list in [&mut c.related_files, &mut c.provenance.entries, &mut c.provenance.sessions] {
            list.shrink_to_fit();
            list.iter_mut().for_each(String::shrink_to_fit);
        }
        self.0.push(c);
    }
}

impl std::ops::Deref for Changes {
    type Target = Vec<Change>;
    fn deref(&self) -> &Vec<Change> {
        &self.0
    }
}

impl std::ops::DerefMut for Changes {
    fn deref_mut(&mut self) -> &mut Vec<Change> {
        &mut self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    Keep,
    Drop,
    Rewrite,
}

/// Whether a block is a fact the dedupe/conflict passes may consider.
pub fn is_fact(ws: &Workspace, fi: usize, bi: usize) -> bool {
    let b = ws.block(fi, bi);
    matches!(b.kind, BlockKind::Bullet | BlockKind::Paragraph)
        && !ws.is_dropped(fi, bi)
        && b.section != Some(SUPERSEDED)
        && !insights::is_managed(&ws.files[fi])
        && !has_control_characters(ws.current_text(fi, bi))
}

/// Control characters (a NUL, a bell) inside an entry: where a word ends is then anybody's
/// guess, so such an entry is kept as it is and never compared (fuzzing found the engine and
/// the verifier reading `d\0\0ev.ts` differently).
fn has_control_characters(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// file → line in a round's candidate → line in that round's input.
pub type LineMap = HashMap<String, HashMap<usize, usize>>;

/// Rounds at most: a second round runs only when the first skipped an oversized bucket or
/// cluster and removed something (a smaller bucket may now pair what it skipped).
const MAX_ROUNDS: usize = 4;

/// Run every pass and return the candidate and its report. When a round skipped work for
/// size and changed the store, the passes run again on its result, so that dreaming the
/// candidate again removes nothing more.
pub fn consolidate(input: &DreamInput) -> Result<(Store, Report), super::Canceled> {
    consolidate_within(input, None)
}

/// [`consolidate`] within a memory budget in bytes (`limits.max_memory_mb`): when the
/// estimated peak of a dream of the whole store is over it, the largest files are left as they
/// are and the report says so (`budget.rs`).
pub fn consolidate_within(input: &DreamInput, budget: Option<u64>) -> Result<(Store, Report), super::Canceled> {
    let plan = budget::plan(&input.store, budget);
    let skipped = plan.as_ref().map_or(&NONE_SKIPPED, |p| &p.skipped);
    let first = round(input, skipped)?;
    let (mut candidate, mut report, mut revisit) = (first.candidate, first.report, first.revisit);
    // Candidate line → original line, composed over rounds.
    let mut to_original = first.lines;
    for _ in 1..MAX_ROUNDS {
        if !revisit {
            break;
        }
        // The candidate moves into the next round's input (no copy of either store).
        let next = DreamInput {
            store: candidate,
            transcripts: input.transcripts.clone(),
            layout: input.layout,
            pins: input.pins.clone(),
            now: input.now,
            keep_history: input.keep_history,
            cancel: input.cancel.clone(),
        };
        let r = round(&next, skipped)?;
        candidate = next.store;
        if r.report.changes.iter().all(|c| c.kind == ChangeKind::Insight) {
            break;
        }
        let remap = |s: &str| remap_locations(s, &to_original);
        for mut c in r.report.changes.into_iter().filter(|c| c.kind != ChangeKind::Insight) {
            c.reason = remap(&c.reason);
            c.provenance.entries = c.provenance.entries.iter().map(|e| remap(e)).collect();
            report.changes.push(c);
        }
        report.flags = r.report.flags;
        for f in &mut report.flags {
            f.message = remap(&f.message);
            f.entries = f.entries.iter().map(|e| remap(e)).collect();
        }
        let t = &mut report.totals;
        (t.files_after, t.entries_after, t.bytes_after, t.tokens_after) =
            (r.report.totals.files_after, r.report.totals.entries_after, r.report.totals.bytes_after, r.report.totals.tokens_after);
        to_original = compose(&r.lines, &to_original);
        candidate = r.candidate;
        revisit = r.revisit;
    }
    report.changes.sort_by(|a, b| a.file.cmp(&b.file));
    make_ids_unique(&mut report.changes);
    if let Some(p) = &plan {
        report.flags.push(p.flag());
    }
    Ok((candidate, report))
}

struct Round {
    candidate: Store,
    report: Report,
    lines: LineMap,
    revisit: bool,
}

fn round(input: &DreamInput, skipped: &BTreeSet<String>) -> Result<Round, super::Canceled> {
    let cancel = &input.cancel;
    let checkpoint = || if cancel.is_cancelled() { Err(super::Canceled) } else { Ok(()) };
    let (mut ws, warnings) = Workspace::leaving_out(input, skipped);
    index::drop_stale_pointers(&mut ws);
    reldate::absolutize(&mut ws);
    checkpoint()?;
    let mut table = entries::EntryTable::build(&ws, cancel)?;
    let confirmations = insights::confirmations(&ws, &table);
    table.add_confirmations(&confirmations);
    let (pairs, stats) = candidates::candidates(&table.feats, &table.vocab, cancel)?;
    checkpoint()?;
    conflict::resolve(&mut ws, &table, &confirmations, &pairs, cancel)?;
    dedupe::drop_duplicates(&mut ws, &table, cancel)?;
    let skipped_clusters = near::drop_near_duplicates(&mut ws, &table, &pairs, cancel)?;
    checkpoint()?;
    insights::write(&mut ws, &table, &confirmations);
    drop((table, confirmations, pairs));
    index::maintain(&mut ws);
    let removed = ws.changes.iter().any(|c| matches!(c.kind, ChangeKind::Dedupe | ChangeKind::Conflict));
    let revisit = removed && (stats.oversized_buckets > 0 || skipped_clusters > 0);
    let candidate = ws.render();
    // Lines are mapped back only for a round that another round follows.
    let lines = if revisit { ws.line_map() } else { LineMap::new() };
    let report = report(input, &mut ws, &candidate, warnings);
    Ok(Round { candidate, report, lines, revisit })
}

/// `file:line` locations of a later round, rewritten to lines of the original store.
fn remap_locations(s: &str, map: &LineMap) -> String {
    static LOC: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"([^\s:\x22'(),]+):(\d+)").expect("static regex"));
    LOC.replace_all(s, |c: &regex::Captures| {
        let file = &c[1];
        let mapped = c[2].parse::<usize>().ok().and_then(|l| map.get(file).and_then(|m| m.get(&l)));
        match mapped {
            Some(orig) => format!("{file}:{orig}"),
            None => c[0].to_string(),
        }
    })
    .into_owned()
}

/// later (round n+1 candidate → round n candidate) then earlier (round n candidate → original).
fn compose(later: &LineMap, earlier: &LineMap) -> LineMap {
    later
        .iter()
        .map(|(file, lines)| {
            let m = lines.iter().filter_map(|(&to, from)| earlier.get(file).and_then(|e| e.get(from)).map(|&o| (to, o))).collect();
            (file.clone(), m)
        })
        .collect()
}

/// Inside long loops: look at the cancellation token every few thousand items, so a cancel
/// stops a big dream within milliseconds at a negligible cost.
pub fn check_every(i: usize, cancel: &crate::engine::CancellationToken) -> Result<(), super::Canceled> {
    if i % 2048 == 0 && cancel.is_cancelled() {
        Err(super::Canceled)
    } else {
        Ok(())
    }
}

/// Two changes can be the same edit of the same text (two identical duplicates in one file):
/// number the repeats (`c-…-2`) so every id names exactly one change, stably.
fn make_ids_unique(changes: &mut [crate::report::Change]) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for c in changes {
        let n = seen.entry(c.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.id = format!("{}-{}", c.id, n);
        }
    }
}

/// The round's report; the workspace's changes and flags move into it.
fn report(input: &DreamInput, ws: &mut Workspace, candidate: &Store, warnings: Vec<crate::store::Warning>) -> Report {
    let count = |path: &str, f: &MemoryFile| {
        memory::parse_file(path, f, input.layout, &input.pins).blocks().iter().filter(|b| b.kind.is_entry()).count()
    };
    // Files left out for the memory budget are counted one at a time (they stay as they are).
    let left_out: usize = ws.skipped.iter().filter_map(|p| input.store.files.get(p).map(|f| count(p, f))).sum();
    let entries_before = memory::entries(&ws.files).count() + left_out;
    // Entries after, without parsing the candidate again: kept blocks, plus what was appended
    // or written whole (parsed on their own, they are small).
    let count_text = |path: &str, text: &str| count(path, &MemoryFile { bytes: text.as_bytes().to_vec(), mtime: None });
    let mut entries_after: usize = left_out + ws.managed.iter().map(|(p, t)| count_text(p, t)).sum::<usize>();
    for (fi, f) in ws.files.iter().enumerate() {
        if ws.managed.contains_key(&f.path) {
            continue;
        }
        entries_after += f.blocks().iter().enumerate().filter(|(bi, b)| b.kind.is_entry() && !ws.is_dropped(fi, *bi)).count();
        if !ws.appends[fi].is_empty() {
            entries_after += count_text(&f.path, &ws.appends[fi]);
        }
    }
    let (bb, ba) = (input.store.total_bytes(), candidate.total_bytes());
    let mut changes = std::mem::take(&mut ws.changes).0;
    // Stable order: by file, then the order the passes produced them.
    changes.sort_by(|a, b| a.file.cmp(&b.file));
    Report {
        engine: "builtin".into(),
        changes,
        totals: Totals {
            files_before: input.store.files.len(),
            files_after: candidate.files.len(),
            entries_before,
            entries_after,
            bytes_before: bb,
            bytes_after: ba,
            tokens_before: approx_tokens(bb),
            tokens_after: approx_tokens(ba),
        },
        flags: std::mem::take(&mut ws.flags),
        warnings,
        sessions_read: input.transcripts.len(),
        skipped_lines: input.transcripts.iter().map(|t| t.skipped_lines).sum(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod id_tests {
    use super::*;
    use crate::report::ChangeKind;

    #[test]
    fn repeated_identical_changes_get_distinct_ids() {
        let c = crate::report::Change::new(ChangeKind::Dedupe, "a.md", Some("- x".into()), None, "dup".into());
        let mut v = vec![c.clone(), c.clone(), c];
        make_ids_unique(&mut v);
        let ids: std::collections::HashSet<_> = v.iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids.len(), 3);
        assert!(v[1].id.ends_with("-2"));
    }
}
