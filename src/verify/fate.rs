//! What became of every entry of the live store, decided by the verifier from the two stores.
//!
//! Each live entry is, in this order of proof:
//! - *kept*: its text, up to formatting, is in the candidate (any file);
//! - *removed*: it was derived, not remembered: an entry of a dreamd-managed file, or a
//!   `MEMORY.md` pointer whose target the candidate still points to or no longer has;
//! - *merged*: one candidate entry says everything it says: all its words, in its order, its
//!   dates, and no negation it did not have (a relative date made absolute counts);
//! - *superseded*: the engine's report claims a conflict, and a candidate entry the live store
//!   already held names the same subject (every word but the one value that changed, in order,
//!   no new negation, not older by its date);
//! - otherwise *lost*: unexplained (no claim) or unverified (a claim the stores do not bear out).
//!
//! Near-linear: normal forms are hashed first; only entries without an exact counterpart are
//! tokenised and looked up through an inverted index of the candidate's words (rarest first).

use super::dates::{date_num, dates_agree, fmt_date, has_relative_date, is_relative_rewrite, relative_words, Agree, Dates};
use super::forms::{FormSet, Forms};
use super::remark::{is_emphasis, is_plain_remark, trailing_remark, without_remark};
use super::subject::{self, Shape};
use super::words::{normal_hash, scan_words, Prehashed, Vocab, WordRef};
use super::{quote, Check, Parsed};
use crate::memory::BlockKind;
use crate::report::{ChangeKind, Report};
use serde::{Deserialize, Serialize};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};

/// Candidates examined per entry at most: a bound on the work an adversarial store can cause.
const MAX_PROBES: usize = 20_000;
/// Entries longer than this (in words) are compared only verbatim; real entries are far shorter.
const MAX_WORDS: usize = 256;
/// Words of a live entry a successor may replace: one value, a name with its version, or
/// paths that moved together (`subject.rs` decides which).
const MAX_CHANGED: usize = 8;
/// What reading a word the subject's way costs, in word visits (it allocates, the rest does not).
const SHAPE_COST: u64 = 64;
/// Word visits the comparisons may make in one dream (seconds of work, ten times what the
/// hosted maximum needs): past it, what is left is held for a person rather than compared.
const WORK_BUDGET: u64 = 4_000_000_000;

/// A live entry the verifier cannot account for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lost {
    pub file: String,
    pub line: usize,
    pub text: String,
    /// What the engine claimed about it, if anything.
    pub claim: Option<ChangeKind>,
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FateReport {
    pub entries: usize,
    pub kept: usize,
    pub merged: usize,
    pub superseded: usize,
    pub removed: usize,
    pub lost: Vec<Lost>,
}

impl FateReport {
    pub fn fraction_lost(&self) -> f64 {
        if self.entries == 0 {
            0.0
        } else {
            self.lost.len() as f64 / self.entries as f64
        }
    }
}

/// An entry's words as the checks compare them.
#[derive(Debug, Clone, Default)]
struct Terms {
    /// Content words in order, repeats included.
    seq: Vec<u32>,
    /// The clause of each word of `seq`.
    clause: Vec<u16>,
    /// The distinct words, sorted.
    set: Vec<u32>,
    /// ISO dates as `yyyymmdd` (a month alone as `yyyymm00`).
    dates: Vec<u32>,
    /// Words outside the vocabulary (only for candidate entries: words no lost entry has).
    other: bool,
}

fn terms(text: &str, vocab: &mut Vocab, grow: bool) -> Terms {
    let mut t = Terms::default();
    let mut clause: u16 = 0;
    scan_words(text, |w| match w {
        WordRef::Break => clause = clause.saturating_add(1),
        WordRef::Date(d) => t.dates.push(date_num(d)),
        WordRef::Stop(_) => {}
        WordRef::Content(s) => {
            let id = if grow { Some(vocab.intern(s)) } else { vocab.get(s) };
            match id {
                Some(id) => {
                    t.seq.push(id);
                    t.clause.push(clause);
                }
                None => t.other = true,
            }
        }
    });
    t.set = t.seq.clone();
    t.set.sort_unstable();
    t.set.dedup();
    t
}

/// The words of one entry as the comparisons read them: a candidate entry of the index, or a
/// live entry's [`Terms`].
#[derive(Clone, Copy)]
struct View<'a> {
    seq: &'a [u32],
    clause: &'a [u16],
    dates: &'a [u32],
    /// Words outside the vocabulary.
    other: bool,
}

impl Terms {
    fn view(&self) -> View<'_> {
        View { seq: &self.seq, clause: &self.clause, dates: &self.dates, other: self.other }
    }
}

/// The candidate's entries as flat arrays plus an inverted index (word → entries).
struct Index {
    seq: Vec<u32>,
    clause: Vec<u16>,
    seq_at: Vec<usize>,
    dates: Vec<u32>,
    dates_at: Vec<usize>,
    other: Vec<bool>,
    postings: Vec<u32>,
    postings_at: Vec<usize>,
}

impl Index {
    /// `texts`: the candidate's entries, in order.
    fn build(texts: &[&str], vocab: &mut Vocab) -> Index {
        let mut ix = Index {
            seq: Vec::new(),
            clause: Vec::new(),
            seq_at: vec![0],
            dates: Vec::new(),
            dates_at: vec![0],
            other: Vec::new(),
            postings: Vec::new(),
            postings_at: Vec::new(),
        };
        for text in texts {
            // Straight into the flat arrays: a million entries, no allocation each.
            let (mut clause, mut other) = (0u16, false);
            scan_words(text, |w| match w {
                WordRef::Break => clause = clause.saturating_add(1),
                WordRef::Date(d) => ix.dates.push(date_num(d)),
                WordRef::Stop(_) => {}
                WordRef::Content(s) => match vocab.get(s) {
                    Some(id) => {
                        ix.seq.push(id);
                        ix.clause.push(clause);
                    }
                    None => other = true,
                },
            });
            ix.seq_at.push(ix.seq.len());
            ix.dates_at.push(ix.dates.len());
            ix.other.push(other);
        }
        // Postings name each entry once per word, however often it repeats the word.
        let first = |ix: &Index, e: usize, i: usize| !ix.seq[ix.seq_at[e]..i].contains(&ix.seq[i]);
        let comparable = |ix: &Index, e: usize| ix.seq_at[e + 1] - ix.seq_at[e] <= MAX_WORDS;
        let mut counts = vec![0usize; vocab.len() + 1];
        for e in (0..ix.other.len()).filter(|&e| comparable(&ix, e)) {
            for i in ix.seq_at[e]..ix.seq_at[e + 1] {
                if first(&ix, e, i) {
                    counts[ix.seq[i] as usize + 1] += 1;
                }
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        ix.postings_at = counts.clone();
        ix.postings = vec![0; counts[counts.len() - 1]];
        for e in 0..ix.other.len() {
            if !comparable(&ix, e) {
                continue;
            }
            for i in ix.seq_at[e]..ix.seq_at[e + 1] {
                if first(&ix, e, i) {
                    let w = ix.seq[i] as usize;
                    ix.postings[counts[w]] = e as u32;
                    counts[w] += 1;
                }
            }
        }
        ix
    }
    fn view(&self, e: usize) -> View<'_> {
        View { seq: self.seq(e), clause: self.clause(e), dates: self.dates(e), other: self.other[e] }
    }
    fn seq(&self, e: usize) -> &[u32] {
        &self.seq[self.seq_at[e]..self.seq_at[e + 1]]
    }
    fn clause(&self, e: usize) -> &[u16] {
        &self.clause[self.seq_at[e]..self.seq_at[e + 1]]
    }
    fn dates(&self, e: usize) -> &[u32] {
        &self.dates[self.dates_at[e]..self.dates_at[e + 1]]
    }
    fn posting(&self, w: u32) -> &[u32] {
        let w = w as usize;
        if w + 1 >= self.postings_at.len() {
            return &[];
        }
        &self.postings[self.postings_at[w]..self.postings_at[w + 1]]
    }
    /// `t`'s words, rarest in the candidate first.
    fn by_rarity(&self, t: &Terms) -> Vec<u32> {
        let mut ws = t.set.clone();
        ws.sort_by_key(|&w| self.posting(w).len());
        ws
    }

    /// Entries that contain the rarest word of `t` and its next two (checked in the entry, never
    /// by walking a common word's long posting list), lazily, at most `MAX_PROBES`.
    fn containing_all<'a>(&'a self, t: &Terms) -> impl Iterator<Item = usize> + 'a {
        let ws = self.by_rarity(t);
        let first = ws.first().map_or(&[][..], |&w| self.posting(w));
        let others: Vec<u32> = ws.iter().skip(1).take(2).copied().collect();
        first.iter().take(MAX_PROBES).map(|&c| c as usize).filter(move |&c| others.iter().all(|w| self.seq(c).contains(w)))
    }

    /// Entries that contain all words of `t` but at most one, lazily: such an entry has the
    /// rarest word, or else the second and third rarest. `limit` bounds the entries looked at
    /// (a common second word can have a long posting list).
    fn containing_all_but_one<'a>(&'a self, t: &Terms, limit: usize) -> impl Iterator<Item = usize> + 'a {
        let ws = self.by_rarity(t);
        let p1 = ws.first().map_or(&[][..], |&w| self.posting(w));
        let p2 = ws.get(1).map_or(&[][..], |&w| self.posting(w));
        let (w1, w3) = (ws.first().copied(), ws.get(2).copied());
        let without_first = p2.iter().take(limit).map(|&c| c as usize).filter(move |&c| {
            let seq = self.seq(c);
            w1.is_none_or(|w| !seq.contains(&w)) && w3.is_none_or(|w| seq.contains(&w))
        });
        p1.iter().take(limit).map(|&c| c as usize).chain(without_first)
    }
}

/// `needle` appears in `hay` in order (other words may sit between).
fn in_order(needle: &[u32], hay: &[u32]) -> bool {
    let mut it = hay.iter();
    needle.iter().all(|w| it.any(|h| h == w))
}

/// Every clause of `l` appears in `seq` with its words in order; the clauses themselves may come
/// in any order ("X, and Y" restates "Y, and X").
fn clauses_in_order(l: &Terms, seq: &[u32]) -> bool {
    let mut i = 0;
    while i < l.seq.len() {
        let k = l.clause[i];
        let end = l.clause[i..].iter().position(|&c| c != k).map_or(l.seq.len(), |n| i + n);
        if !in_order(&l.seq[i..end], seq) {
            return false;
        }
        i = end;
    }
    true
}

/// A negation `c` adds (one `l` does not have) changes what the two say, unless it sits in a
/// clause of its own that shares no word with `l` ("… 138 seconds. Don't forget this!").
fn adds_negation(c: View, l: &Terms, negations: &[u32]) -> bool {
    let (seq, clause) = (c.seq, c.clause);
    let Some(&last) = clause.last() else { return false };
    // Per clause of c: (shares a word with l, has a negation l lacks).
    let mut flags = vec![(false, false); last as usize + 1];
    for (w, &k) in seq.iter().zip(clause) {
        let shared = l.set.binary_search(w).is_ok();
        let f = &mut flags[k as usize];
        f.0 |= shared;
        f.1 |= !shared && negations.binary_search(w).is_ok();
    }
    flags.iter().any(|&(shared, negated)| shared && negated)
}

/// Whether candidate entry `c` says everything `l` says; `c_live`: whether the live store
/// has `c` (asked only when dates are folded into it).
fn covers(c: View, l: &Terms, negations: &[u32], dates: Dates, c_live: &dyn Fn() -> bool) -> bool {
    // Every clause in order implies every word present.
    if !clauses_in_order(l, c.seq) || adds_negation(c, l, negations) {
        return false;
    }
    match dates_agree(&l.dates, c.dates, dates) {
        Agree::Yes => true,
        Agree::Folded => c_live(),
        Agree::No => false,
    }
}

/// Whether candidate entry `e` (its text `c_text`) names the same subject as `l` (its shape
/// `l_shape`) with one value changed, and is not the older of the two. `Err` says why a near
/// miss does not qualify (empty: unrelated).
///
/// Counted with repeats first, as a cheap filter: "`server/` - Various server configurations"
/// → "`examples/server/src/` - Various server configurations" changes one word although
/// "server" is still there. What is a subject and what a value is `subject.rs`'s to say.
///
/// `charge` is told the cost of reading the two the subject's way (only near misses get there).
fn supersedes(c: View, l: &Terms, l_shapes: &[Shape], c_text: &str, negations: &[u32], charge: &mut dyn FnMut(u64)) -> Result<(), String> {
    let seq = c.seq;
    // Multiset difference of the two word lists, by merging sorted copies.
    let (mut a, mut b) = (l.seq.clone(), seq.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    let (mut i, mut j, mut missing, mut extra) = (0, 0, Vec::new(), 0usize);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => (i, j) = (i + 1, j + 1),
            (Some(x), Some(y)) if x < y => (missing.push(*x), i += 1).1,
            (Some(x), None) => (missing.push(*x), i += 1).1,
            _ => (extra, j) = (extra + 1, j + 1),
        }
    }
    // One value, a name with its version, or a few paths that moved together.
    if missing.is_empty() || missing.len() > MAX_CHANGED || l.seq.len() < 3 {
        return Err(String::new());
    }
    if missing.iter().any(|w| negations.binary_search(w).is_ok()) || (!c.other && extra == 0) || adds_negation(c, l, negations) {
        return Err(String::new());
    }
    charge(SHAPE_COST * (c.seq.len() + l.seq.len() + 2) as u64);
    // A plain remark on either side ("(this came up twice)", "Don't forget this!") is no value.
    let mut c_shapes = vec![subject::shape(c_text)];
    c_shapes.extend(without_remark(c_text).map(subject::shape));
    let mut first_err = None;
    let same = l_shapes.iter().any(|ls| {
        c_shapes.iter().any(|cs| match subject::one_value_changed(ls, cs) {
            Ok(()) => true,
            Err(why) => {
                first_err.get_or_insert(why);
                false
            }
        })
    });
    if !same {
        return Err(first_err.unwrap_or_default());
    }
    let (old, new) = (l.dates.iter().max(), c.dates.iter().max());
    if let (Some(o), Some(n)) = (old, new) {
        if n < o {
            return Err(format!("the value kept is the older one ({} before {})", fmt_date(*n), fmt_date(*o)));
        }
    }
    Ok(())
}

/// A live entry with no exact counterpart, borrowed from the live store.
struct Pending<'a> {
    file: &'a str,
    line: usize,
    text: &'a str,
    claim: Option<ChangeKind>,
    /// The report's change that makes the claim.
    change: Option<usize>,
}

/// Content words go into `vocab`, in the order [`terms`] would add them.
fn intern_words(text: &str, vocab: &mut Vocab) {
    scan_words(text, |w| {
        if let WordRef::Content(s) = w {
            vocab.intern(s);
        }
    });
}

fn link_target(link: &str) -> &str {
    link.split('#').next().unwrap_or(link).trim_start_matches("./")
}

pub fn classify<'r>(p: &Parsed, report: &'r Report) -> FateReport {
    let state = RandomState::new();
    let hash = |t: &str| normal_hash(&state, t);
    // The candidate's entries in order (an entry's ordinal is its place here and in the index
    // below); normal form → the last entry that has it; the files `MEMORY.md` points to.
    let mut texts: Vec<&str> = Vec::new();
    let mut forms: Vec<(u64, usize)> = Vec::new();
    let mut pointed: HashSet<&str> = HashSet::new();
    p.each(p.candidate_store, |_, f| {
        for b in f.blocks().iter().filter(|b| b.kind.is_entry()) {
            forms.push((hash(b.text()), texts.len()));
            if b.kind == BlockKind::IndexLine {
                pointed.extend(b.link.map(link_target));
            }
            texts.push(b.text());
        }
    });
    let by_form = Forms::new(forms);
    // The engine's claims, by the entry they name. Diff-derived edits explain nothing.
    // Keyed by file and text: the same line in two files may have two fates (a stale pointer
    // in MEMORY.md, a duplicate in a notes file), and one must not explain the other.
    let claim_key =
        |file: &str, text: &str| std::hash::BuildHasher::hash_one(&state, file) ^ hash(text).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut claims: HashMap<u64, usize, Prehashed> = HashMap::default();
    let mut claims_by_text: HashMap<u64, usize, Prehashed> = HashMap::default();
    for (i, c) in report.changes.iter().enumerate().filter(|(_, c)| c.kind != ChangeKind::Edit) {
        if let Some(before) = &c.before {
            claims.entry(claim_key(&c.file, before)).or_insert(i);
            claims_by_text.entry(hash(before)).or_insert(i);
        }
    }
    let place = |loc: &'r String| loc.rsplit_once(':').and_then(|(f, l)| Some((f, l.parse::<usize>().ok()?)));
    // The live entries a claim's provenance names, found during the pass over the live store.
    let mut named: HashMap<(&str, usize), Option<&str>> =
        claims.values().flat_map(|&i| &report.changes[i].provenance.entries).filter_map(|loc| Some((place(loc)?, None))).collect();
    let mut out = FateReport::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut live_forms: Vec<u64> = Vec::new();
    // Ids: negations first, then each pending entry's words in order (see `terms`).
    let mut vocab = Vocab::default();
    let mut negations: Vec<u32> = super::words::NEGATIONS.iter().map(|w| vocab.intern(w)).collect();
    negations.sort_unstable();
    p.each(p.live_store, |path, f| {
        for b in f.blocks().iter().filter(|b| b.kind.is_entry()) {
            out.entries += 1;
            let text = b.text();
            let h = hash(text);
            live_forms.push(h);
            if let Some(slot) = named.get_mut(&(path, b.line)) {
                *slot = Some(text);
            }
            // Derived entries: a dreamd-managed file's, or a pointer still indexed (or to nothing).
            let derived = || {
                f.is_managed()
                    || (b.kind == BlockKind::IndexLine
                        && b.link.map(link_target).is_some_and(|t| pointed.contains(t) || !p.candidate_store.files.contains_key(t)))
            };
            if by_form.contains(h) {
                out.kept += 1;
            } else if derived() {
                out.removed += 1;
            } else {
                let claim = claims.get(&claim_key(path, text)).copied();
                intern_words(text, &mut vocab);
                pending.push(Pending { file: path, line: b.line, text, claim: claim.map(|i| report.changes[i].kind), change: claim });
            }
        }
    });
    if pending.is_empty() {
        return out;
    }
    let live_forms = FormSet::new(live_forms);
    // Up to four other live entries the claim's provenance names (`file:line`).
    let hints_of = |i: usize, file: &str, line: usize| -> Vec<&str> {
        let own = format!("{file}:{line}");
        report.changes[i]
            .provenance
            .entries
            .iter()
            .filter(|loc| **loc != own)
            .filter_map(place)
            .take(4)
            .filter_map(|k| named.get(&k).copied().flatten())
            .collect()
    };
    let ix = Index::build(&texts, &mut vocab);
    let mut work = WORK_BUDGET;
    for e in pending {
        // Built here, not up front: every word is in the vocabulary already, so `grow` changes nothing.
        let l = terms(e.text, &mut vocab, false);
        // A relative date made absolute is checked against the rewrite the report names, word
        // by word: linear, so no length limit.
        let rewrite = e.change.filter(|_| e.claim == Some(ChangeKind::RelativeDate)).and_then(|i| report.changes[i].after.as_deref());
        if rewrite.is_some_and(|after| by_form.contains(hash(after)) && is_relative_rewrite(e.text, after)) {
            out.merged += 1;
            continue;
        }
        if l.set.is_empty() {
            out.lost.push(lost(e, "nothing in it the verifier can look for (no words), and it is gone".into()));
            continue;
        }
        if l.seq.len() > MAX_WORDS {
            let why = format!("too long to compare word by word ({} words), and no exact copy is in the candidate", l.seq.len());
            out.lost.push(lost(e, why));
            continue;
        }
        if work == 0 {
            out.lost.push(lost(e, "not compared: the verifier's work limit for one dream was reached".into()));
            continue;
        }
        // Each comparison scans the candidate entry once per clause of the live one.
        let clauses = l.clause.last().map_or(1, |&k| k as u64 + 1);
        let visit = |c: usize| (clauses + 2) * (ix.seq(c).len() as u64 + 1) + l.seq.len() as u64;
        let mut spend = |cost: u64| work = work.saturating_sub(cost);
        // The candidate entry the claim names (a rewrite's `after`), looked at first.
        let claimed_after = e.change.and_then(|i| report.changes[i].after.as_deref()).and_then(|t| by_form.get(hash(t)));
        let merged_into = |t: &Terms, dates: Dates, spend: &mut dyn FnMut(u64)| {
            // An entry of relative words only ("yesterday") has nothing to look up by.
            let search = (!t.set.is_empty()).then(|| ix.containing_all(t)).into_iter().flatten();
            claimed_after.into_iter().chain(search).any(|c| {
                spend(visit(c));
                covers(ix.view(c), t, &negations, dates, &|| live_forms.contains(hash(texts[c])))
            })
        };
        // Older dates may be folded into a newer copy only when the report says so, by date.
        let folded = match e.claim {
            Some(ChangeKind::Dedupe | ChangeKind::Conflict) => e.change.map(|i| report.changes[i].reason.as_str()),
            _ => None,
        };
        if merged_into(&l, Dates::Kept { folded }, &mut spend) {
            out.merged += 1;
            continue;
        }
        if has_relative_date(e.text) {
            let relative = relative_words(e.text);
            let keep = |i: usize| !relative.get(i).copied().unwrap_or(false);
            let mut stripped = l.clone();
            stripped.seq = l.seq.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, w)| *w).collect();
            stripped.clause = l.clause.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, c)| *c).collect();
            stripped.set = stripped.seq.clone();
            stripped.set.sort_unstable();
            stripped.set.dedup();
            if merged_into(&stripped, Dates::Relative, &mut spend) {
                out.merged += 1;
                continue;
            }
        }
        // A claimed duplicate may lose a plain trailing remark ("— confirmed again"): the fact
        // itself must still be said, and the remark must state no value, name or negation.
        if e.claim == Some(ChangeKind::Dedupe) {
            if let Some((fact, _)) = trailing_remark(e.text).filter(|(_, r)| is_plain_remark(r) || is_emphasis(r)) {
                let f = terms(fact, &mut vocab, false);
                if !f.set.is_empty() && merged_into(&f, Dates::Kept { folded }, &mut spend) {
                    out.merged += 1;
                    continue;
                }
            }
        }
        let mut successor: Option<usize> = None;
        let mut objection: Option<String> = None;
        let mut l_shapes = vec![subject::shape(e.text)];
        l_shapes.extend(without_remark(e.text).map(subject::shape));
        // Where the engine says the newer value is (its provenance) is looked at first, and
        // verified like any other entry; a search follows. Without a claimed conflict the
        // search only serves the explanation, so it is short.
        let mut hinted: Vec<usize> = Vec::new();
        for t in e.change.map(|i| hints_of(i, e.file, e.line)).unwrap_or_default() {
            if let Some(c) = by_form.get(hash(t)) {
                hinted.push(c);
                continue;
            }
            // A newer value the candidate says only within another entry (it was merged into
            // a restatement): the live entry must take over from this one, and the candidate
            // entry must say all the live entry says.
            let tt = terms(t, &mut vocab, false);
            let t_claim =
                claims_by_text.get(&hash(t)).filter(|&&i| matches!(report.changes[i].kind, ChangeKind::Dedupe | ChangeKind::Conflict));
            let t_dates = Dates::Kept { folded: t_claim.map(|&i| report.changes[i].reason.as_str()) };
            let takes_over = match supersedes(tt.view(), &l, &l_shapes, t, &negations, &mut spend) {
                Ok(()) => true,
                Err(why) => {
                    if !why.is_empty() {
                        objection.get_or_insert(why);
                    }
                    false
                }
            };
            for c in ix.containing_all(&tt).take(16) {
                spend(visit(c));
                let c_live = || live_forms.contains(hash(texts[c]));
                if takes_over && successor.is_none() && covers(ix.view(c), &tt, &negations, t_dates, &c_live) {
                    successor = Some(c);
                }
                hinted.push(c);
            }
        }
        let limit = if e.claim == Some(ChangeKind::Conflict) && successor.is_none() { MAX_PROBES } else { 1_000 };
        // A successor names the same subject, so it has every subject word: where several
        // values changed ("MySQL 8" → "ClickHouse 24"), that finds it when the rarest words do not.
        let mut by_subject = Terms { set: l_shapes[0].subject_words().filter_map(|w| vocab.get(w)).collect(), ..Terms::default() };
        by_subject.set.sort_unstable();
        by_subject.set.dedup();
        let by_subject = (!by_subject.set.is_empty()).then(|| ix.containing_all(&by_subject).take(limit)).into_iter().flatten();
        let found = successor.is_some();
        let search = hinted.into_iter().chain(ix.containing_all_but_one(&l, limit)).chain(by_subject);
        for c in search.take_while(|_| !found) {
            spend(visit(c));
            match supersedes(ix.view(c), &l, &l_shapes, texts[c], &negations, &mut spend) {
                // The newer value must be one the memory already held: an engine does not get
                // to replace a fact with a value it made up.
                Ok(()) if !live_forms.contains(hash(texts[c])) => {
                    objection.get_or_insert_with(|| {
                        format!(
                            "the replacing entry \"{}\" is new text from the engine, not something the memory said",
                            quote(texts[c], 80)
                        )
                    });
                }
                Ok(()) => {
                    successor = Some(c);
                    break;
                }
                Err(why) if !why.is_empty() && objection.is_none() => objection = Some(why),
                Err(_) => {}
            }
        }
        match (e.claim, successor) {
            (Some(ChangeKind::Conflict), Some(_)) => out.superseded += 1,
            (Some(ChangeKind::Conflict), None) => {
                let why = match objection {
                    Some(o) => format!("the report says a newer value replaced it, but {o}"),
                    None => {
                        "the report says a newer value replaced it, but no candidate entry names the same subject with one value changed"
                            .into()
                    }
                };
                out.lost.push(lost(e, why));
            }
            (claim, Some(c)) => {
                let what = claim.map_or("does not explain it".to_string(), |k| format!("calls it {}", kind_name(k)));
                let why = format!(
                    "the candidate has \"{}\" (same subject, another value), but the report {what} rather than a conflict",
                    quote(texts[c], 80)
                );
                out.lost.push(lost(e, why));
            }
            (Some(ChangeKind::Dedupe), None) => {
                out.lost.push(lost(e, "the report says it duplicates another entry, but no candidate entry says everything it says".into()))
            }
            (Some(k), None) => {
                let why = format!("the report says {}, which the two stores do not bear out", kind_name(k));
                out.lost.push(lost(e, why));
            }
            (None, None) => out.lost.push(lost(e, "gone: no candidate entry says this, and the report does not explain it".into())),
        }
    }
    out
}

fn kind_name(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Dedupe => "dedupe",
        ChangeKind::Conflict => "conflict",
        ChangeKind::StalePointer => "stale pointer",
        ChangeKind::RelativeDate => "relative date",
        ChangeKind::Insight => "insight",
        ChangeKind::Index => "index",
        ChangeKind::Edit => "edit",
    }
}

fn lost(e: Pending, why: String) -> Lost {
    Lost { file: e.file.to_string(), line: e.line, text: e.text.to_string(), claim: e.claim, why }
}

/// `entry_loss`: entries lost (unexplained or unverified) may be at most `max_loss` of all.
pub fn check(r: &FateReport, max_loss: f64) -> Check {
    let frac = r.fraction_lost();
    let unverified = r.lost.iter().filter(|l| l.claim.is_some()).count();
    let reason = format!(
        "{} of {} entries would be lost ({:.1}%, limit {:.1}%): {} unexplained, {} whose explanation does not hold; {} kept, {} merged, {} superseded, {} derived entries removed",
        r.lost.len(),
        r.entries,
        frac * 100.0,
        max_loss * 100.0,
        r.lost.len() - unverified,
        unverified,
        r.kept,
        r.merged,
        r.superseded,
        r.removed
    );
    let details = r.lost.iter().map(|l| format!("{}:{}: {} — {}", quote(&l.file, 120), l.line, quote(&l.text, 200), l.why)).collect();
    Check::new("entry_loss", frac <= max_loss, reason, details)
}
