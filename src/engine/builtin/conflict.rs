//! Conflicts: the same subject, the same attribute, a different value.
//!
//! Two entries conflict only when their word sequences align token for token and differ in
//! one value slot (or one short run of value tokens, or a set of paths that moved together),
//! that slot lies outside the subject (the words before the first verb, see `text.rs`), and
//! the slot is single-valued by one of these rules:
//! - a number or version (`port 8080`/`9090`, `Python 3.9+`/`3.10+`);
//! - a renamed identifier (`eslint.config.js`/`.mjs`, `sessionId`/`sessionId?`) or a moved path
//!   (`src/types.ts`/`packages/core/src/types.ts`);
//! - one element of a listed set (`` `make lint`, `make mypy` `` → `` `make typecheck` ``);
//! - a name or identifier right after a single-valued cue (`owned by`, `region`, `every`), or a
//!   person asked in an imperative ("Ask Alice before …");
//! - plain words that exclude each other (`enabled`/`disabled`, `west`/`east`, `blue`/`green`),
//!   a value after an attribute noun and a copula ("status is …"), or the last word after a
//!   single-valued verb ("prefers npm"/"pnpm").
//!
//! So "edge-worker stores its data in ClickHouse 24" and "core-proxy stores …" are two facts
//! (the difference is the subject), and "Alice owns billing"/"payments" are two facts too.
//!
//! An entry is superseded when a conflicting entry is surely newer (`order.rs`) and stated
//! plainly. A newer claim that is hedged, attributed, proposed or past-dated, an order that is
//! only guessed, or no order at all: both stay and a flag says why.

use super::entries::EntryTable;
use super::insights::Confirmations;
use super::lexicon;
use super::order::{self, Order};
use super::text::{Features, Token, ValueKind, Vocab};
use super::{Workspace, SUPERSEDED};
use crate::engine::{Canceled, CancellationToken};
use crate::memory::BlockKind;
use crate::report::{Change, ChangeKind, Flag};
use std::collections::BTreeMap;

/// What differs between two conflicting entries ("8080 vs 9090"), or None when they do not
/// conflict.
pub fn conflict(a: &Features, b: &Features, vocab: &Vocab) -> Option<String> {
    let n = a.tokens.len();
    if n != b.tokens.len() || n < 2 || a.imperative != b.imperative {
        return None;
    }
    let diff: Vec<usize> = (0..n).filter(|&i| a.tokens[i].word != b.tokens[i].word).collect();
    let (&first, &last) = (diff.first()?, diff.last()?);
    // The rest must be the same sentence: same clause breaks, same negations.
    let breaks = |f: &Features, i: usize| i > 0 && f.tokens[i].clause != f.tokens[i - 1].clause;
    if (0..n).any(|i| breaks(a, i) != breaks(b, i) || a.tokens[i].neg != b.tokens[i].neg) {
        return None;
    }
    if first < a.subject_end.max(b.subject_end) {
        return None; // a different subject: two facts
    }
    let what = |i: usize| format!("{} vs {}", vocab.word(a.tokens[i].word), vocab.word(b.tokens[i].word));
    let contiguous = last - first + 1 == diff.len();
    if contiguous && diff.len() <= 3 {
        let values = diff.iter().all(|&i| a.tokens[i].value.is_some() && b.tokens[i].value.is_some());
        let dated = diff.iter().any(|&i| a.tokens[i].value == Some(ValueKind::Date) || b.tokens[i].value == Some(ValueKind::Date));
        if dated || (diff.len() > 1 && !values) {
            return None;
        }
        if slot_conflicts(a, b, first, vocab) || diff.len() > 1 && diff.iter().all(|&i| moved(&a.tokens[i], &b.tokens[i])) {
            return Some(diff.iter().map(|&i| what(i)).collect::<Vec<_>>().join(", "));
        }
        return None;
    }
    // Several files that moved together: `(src/server/sse.ts, src/client/sse.ts)`.
    if diff.iter().all(|&i| moved(&a.tokens[i], &b.tokens[i])) {
        return Some(diff.iter().map(|&i| what(i)).collect::<Vec<_>>().join(", "));
    }
    None
}

/// Whether slot `i` (the first differing token) holds a single value of one attribute.
fn slot_conflicts(a: &Features, b: &Features, i: usize, vocab: &Vocab) -> bool {
    let (ta, tb) = (&a.tokens[i], &b.tokens[i]);
    let (x, y) = (vocab.word(ta.word), vocab.word(tb.word));
    let prev = i.checked_sub(1).map(|p| &a.tokens[p]).filter(|p| p.clause == ta.clause).map(|p| vocab.word(p.word));
    let cue = prev.is_some_and(lexicon::is_single_valued_cue);
    let plain = |t: &Token| matches!(t.value, None | Some(ValueKind::Name));
    match (ta.value, tb.value) {
        // A quantity or a version ends its clause, or comes with a unit ("3 replicas"); one
        // followed by a noun is part of a name ("the Cluster 3 schema"), not a value.
        (Some(ka), Some(kb)) if ka.numeric() && kb.numeric() => quantity(a, i, vocab),
        (Some(_), Some(_)) if rename(x, y) || moved(ta, tb) || ta.list && tb.list => true,
        // "Ask Alice before …": the person right after an imperative's verb, before a
        // subordinator, is its one value ("Install Zéphyr dependencies" names what it is about,
        // and so does a name further on, "… the Quasar schema").
        (Some(ValueKind::Name), Some(ValueKind::Name)) if a.imperative && i == a.subject_end + 1 && object_ends(a, i, vocab) => true,
        (Some(ValueKind::Name), Some(ValueKind::Name)) if cue || lexicon::exclusive(x, y) => true,
        (Some(ValueKind::Ident | ValueKind::Code | ValueKind::Name), Some(ValueKind::Ident | ValueKind::Code | ValueKind::Name)) => cue,
        _ if plain(ta) && plain(tb) => {
            let last = i + 1 == a.tokens.len();
            lexicon::exclusive(x, y)
                || last && prev.is_some_and(lexicon::is_single_valued) && plain(ta) && plain(tb)
                || ta.after_copula && tb.after_copula && prev.is_some_and(lexicon::is_attribute_noun)
        }
        _ => false,
    }
}

fn quantity(f: &Features, i: usize, vocab: &Vocab) -> bool {
    match f.tokens.get(i + 1).filter(|n| n.clause == f.tokens[i].clause) {
        None => true,
        Some(next) => next.value.is_some_and(ValueKind::numeric) || lexicon::UNITS.contains(&vocab.word(next.word)),
    }
}

/// The token after slot `i` ends the imperative's object: nothing, another clause, or a
/// subordinator ("Ask Alice *before* …").
fn object_ends(f: &Features, i: usize, vocab: &Vocab) -> bool {
    match f.tokens.get(i + 1) {
        None => true,
        Some(next) => next.clause != f.tokens[i].clause || lexicon::SUBORDINATORS.contains(&vocab.word(next.word)),
    }
}

/// A file that moved: two paths with the same file name.
fn moved(a: &Token, b: &Token) -> bool {
    a.file.is_some() && a.file == b.file && a.word != b.word
}

/// Whether `y` is `x` renamed: the same up to sigils (`sessionId`/`sessionId?`), the same
/// command with options added, the same file with another extension, or up to three characters inserted or deleted inside an
/// identifier of five or more (`eslint.config.js`/`.mjs`, `agents.md`/`agent.md`). Not a
/// substitution (`masuka`/`dapuka`), not an enumerator (`svc-a`/`svc-b`, `node-1`/`node-2`).
pub fn rename(x: &str, y: &str) -> bool {
    if x == y {
        return false;
    }
    let bare = |s: &str| s.trim_end_matches(['?', '!', '*', '~', '^', '+']).trim_start_matches(['^', '~']).to_string();
    if !bare(x).is_empty() && bare(x) == bare(y) {
        return true;
    }
    if flags_added(x, y) || flags_added(y, x) || extension_changed(x, y) {
        return true;
    }
    let (xc, yc): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
    if xc.len().min(yc.len()) < 5 {
        return false;
    }
    let p = xc.iter().zip(&yc).take_while(|(a, b)| a == b).count();
    let room = xc.len().min(yc.len()) - p;
    let s = xc.iter().rev().zip(yc.iter().rev()).take(room).take_while(|(a, b)| a == b).count();
    let (dx, dy) = (&xc[p..xc.len() - s], &yc[p..yc.len() - s]);
    // Only an insertion or a deletion: a substitution makes another name (`masuka`/`dapuka`).
    if !dx.is_empty() && !dy.is_empty() || dx.len().max(dy.len()) > 3 || dx.iter().chain(dy).all(char::is_ascii_digit) {
        return false;
    }
    // An edit that replaces a short last segment is an enumerator, not a rename.
    let segment = |c: &[char]| c.iter().rev().take_while(|ch| !matches!(ch, '-' | '_' | '.' | '/' | ':')).count();
    !(s == 0 && segment(&xc) <= 2 && segment(&yc) <= 2)
}

/// The same file converted: `config.js` → `config.ts` (same stem, another short extension).
fn extension_changed(x: &str, y: &str) -> bool {
    fn split(s: &str) -> Option<(&str, &str)> {
        s.rsplit_once('.').filter(|(stem, ext)| !stem.is_empty() && (1..=4).contains(&ext.len()) && ext.chars().all(char::is_alphabetic))
    }
    matches!((split(x), split(y)), (Some((a, e)), Some((b, f))) if a == b && e != f)
}

/// The same command with options added: `pnpm i` → `pnpm i --frozen-lockfile`.
fn flags_added(short: &str, long: &str) -> bool {
    let (s, l): (Vec<&str>, Vec<&str>) = (short.split_whitespace().collect(), long.split_whitespace().collect());
    s.len() >= 2 && l.len() > s.len() && l.starts_with(&s) && l[s.len()..].iter().all(|w| w.starts_with('-') && w.len() > 1)
}

/// A conflict the engine could not or would not act on.
struct Held {
    a: usize,
    b: usize,
    kind: &'static str,
    message: String,
}

/// Find conflicts among the candidate pairs and drop every entry a plainly stated, surely
/// newer entry contradicts. Returns which entries were superseded.
pub fn resolve(
    ws: &mut Workspace,
    table: &EntryTable,
    conf: &Confirmations,
    pairs: &[(u32, u32)],
    cancel: &CancellationToken,
) -> Result<Vec<bool>, Canceled> {
    let n = table.entries.len();
    // Superseded entry → the newer one and what differs; few entries of a store are.
    let mut newer_of: BTreeMap<usize, (usize, String)> = BTreeMap::new();
    let mut held: Vec<Held> = Vec::new();
    for (k, &(a, b)) in pairs.iter().enumerate() {
        super::check_every(k, cancel)?;
        let (a, b) = (a as usize, b as usize);
        let Some(what) = conflict(&table.feat(a), &table.feat(b), &table.vocab) else { continue };
        let (newer, older) = match order::compare(&table.ev(a), &table.ev(b)) {
            Order::Sure(std::cmp::Ordering::Greater) => (a, b),
            Order::Sure(std::cmp::Ordering::Less) => (b, a),
            Order::Guess(o) => {
                let likely = if o == std::cmp::Ordering::Greater { a } else { b };
                let message = format!(
                    "{what}: only file modification times suggest {} is newer, and a copy or touch changes those; both kept",
                    table.loc(ws, likely)
                );
                held.push(Held { a, b, kind: "conflict", message });
                continue;
            }
            _ => {
                let message = format!("{what}: cannot tell which is newer (no dates, or a dated and an undated entry); both kept");
                held.push(Held { a, b, kind: "conflict", message });
                continue;
            }
        };
        let (fo, bo) = (table.entries[older].fi, table.entries[older].bi);
        if let Some(cue) = &table.feat(newer).hedge {
            let message = format!(
                "{what}: the newer {} is not stated plainly (\"{cue}\"), so it does not replace {}; both kept",
                table.loc(ws, newer),
                table.loc(ws, older)
            );
            held.push(Held { a: older, b: newer, kind: "hedged", message });
        } else if ws.block(fo, bo).pinned {
            let message = format!(
                "{what}: the pinned entry {} is contradicted by the newer {}; pinned entries are never changed",
                table.loc(ws, older),
                table.loc(ws, newer)
            );
            held.push(Held { a: older, b: newer, kind: "conflict", message });
        } else {
            newer_of.entry(older).or_insert((newer, what));
        }
    }
    restatements_of_superseded(ws, table, pairs, &mut newer_of);
    let mut superseded = vec![false; n];
    for (older, (newer, what)) in newer_of {
        superseded[older] = supersede(ws, table, conf, older, newer, &what);
    }
    for h in held {
        // Only about entries that stay: a flag on a removed entry helps no one.
        if !superseded[h.a] && !superseded[h.b] {
            let entries = vec![table.loc(ws, h.a), table.loc(ws, h.b)];
            ws.flags.push(Flag { kind: h.kind.into(), message: h.message, entries });
        }
    }
    Ok(superseded)
}

/// A restatement of a superseded entry (the same words plus a remark) is as outdated, when
/// the same newer entry is surely newer than it too.
fn restatements_of_superseded(ws: &Workspace, table: &EntryTable, pairs: &[(u32, u32)], newer_of: &mut BTreeMap<usize, (usize, String)>) {
    let mut add: Vec<(usize, (usize, String))> = Vec::new();
    for &(a, b) in pairs {
        for (x, y) in [(a as usize, b as usize), (b as usize, a as usize)] {
            let (Some((newer, what)), None) = (newer_of.get(&y), newer_of.get(&x)) else { continue };
            let ex = &table.entries[x];
            let restates = super::near::covers(&table.feat(x), &table.feat(y)).is_some();
            if restates && order::compare(&table.ev(*newer), &table.ev(x)).surely_newer() && !ws.block(ex.fi, ex.bi).pinned {
                add.push((x, (*newer, what.clone())));
            }
        }
    }
    for (x, v) in add {
        newer_of.entry(x).or_insert(v);
    }
}

fn supersede(ws: &mut Workspace, table: &EntryTable, conf: &Confirmations, older: usize, newer: usize, what: &str) -> bool {
    let (eo, en) = (&table.entries[older], &table.entries[newer]);
    let (ofi, obi) = (eo.fi, eo.bi);
    let before = ws.current_text(ofi, obi).to_string();
    let newer_text = ws.current_text(en.fi, en.bi).to_string();
    let (loc_old, loc_new) = (table.loc(ws, older), table.loc(ws, newer));
    let (file, newer_file) = (ws.files[ofi].path.clone(), ws.files[en.fi].path.clone());
    if ws.input.keep_history && ws.ends_in_open_fence(ofi) {
        // History could not be kept (it would land in the open block): nothing is removed.
        let message =
            format!("{what}: {loc_new} is newer than {loc_old}, but {file} ends inside an unclosed code block, so the older value stays");
        ws.flags.push(Flag { kind: "conflict".into(), message, entries: vec![loc_old, loc_new] });
        return false;
    }
    if !ws.drop_fact(ofi, obi) {
        return false;
    }
    let after = ws.input.keep_history.then(|| {
        let when = order::date_of(&table.ev(newer)).map(|d| format!(", {d}")).unwrap_or_default();
        let line = format!("- {} (superseded by {loc_new}{when})", super::text::strip_marker(&before).replace('\n', " "));
        append_superseded(ws, ofi, &line);
        line
    });
    let reason = format!(
        "conflict ({what}) with {loc_new} \"{}\": kept the newer value ({})",
        super::text::strip_marker(&newer_text),
        order::explain(&table.ev(newer), &table.ev(older))
    );
    let mut c = Change::new(ChangeKind::Conflict, &file, Some(before), after, reason);
    c.provenance.entries = vec![loc_old, loc_new];
    let mut sess: Vec<String> = [older, newer].iter().filter_map(|&i| conf.get(i)).flat_map(|c| c.sessions.iter().cloned()).collect();
    sess.sort();
    sess.dedup();
    c.provenance.sessions = sess;
    if newer_file != file {
        c.related_files.push(newer_file);
    }
    ws.changes.push(c);
    true
}

/// Append a line to the file's `## Superseded` section (created at the end if needed).
fn append_superseded(ws: &mut Workspace, fi: usize, line: &str) {
    let last_heading = ws.files[fi].blocks().iter().rev().find(|b| b.kind == BlockKind::Heading);
    let has_section = last_heading.is_some_and(|h| h.section == Some(SUPERSEDED)) || ws.appends[fi].contains("## Superseded\n");
    if !has_section {
        ws.appends[fi].push_str(&format!("\n## {SUPERSEDED}\n\n"));
    }
    ws.appends[fi].push_str(line);
    ws.appends[fi].push('\n');
}

#[cfg(test)]
mod tests;
