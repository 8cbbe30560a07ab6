//! Near-duplicates: the same fact restated with filler, emphasis, reordered clauses or a
//! trailing remark, within a file or across files.
//!
//! Candidates come from MinHash/LSH; each is verified precisely: one entry's content words
//! must be a subset of the other's, the extra words must not state a value (number, version,
//! date, identifier, name, code) nor negate or hedge anything the two share, and reordering
//! is only accepted clause by clause. Sigils are part of words, so `sessionId?` is not
//! `sessionId`.
//!
//! Which copy stays: the newer wording when the order is sure (`order.rs`), whether it is the
//! longer or the shorter one; otherwise the fuller one, in the file that is least a pile of
//! restatements. An order that is only guessed picks nothing. A copy never goes for one with
//! an older date of its own, or none: the newest date stays.

use super::entries::{difference, is_subset, EntryTable};
use super::order;
use super::text::{is_negation, Features};
use super::Workspace;
use crate::engine::{Canceled, CancellationToken};
use crate::report::{Change, ChangeKind};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DupHow {
    /// Same words in the same order: filler, emphasis, formatting.
    Same,
    /// Same clauses in another order.
    Reordered,
    /// The kept copy adds a remark that states no new value.
    Remark,
}

impl DupHow {
    fn describe(self) -> &'static str {
        match self {
            DupHow::Same => "same fact with filler or emphasis",
            DupHow::Reordered => "same fact with its clauses reordered",
            DupHow::Remark => "same fact with a remark more or less",
        }
    }
}

/// Whether `keep` says everything `drop` says, so `drop` can go. Precision first.
pub fn covers(keep: &Features, drop: &Features) -> Option<DupHow> {
    let (k, d) = (&keep.set, &drop.set);
    if d.len() < 2 || !is_subset(d, k) {
        return None;
    }
    // A hedged claim never absorbs a plain one, nor the other way round.
    if keep.hedge.is_some() != drop.hedge.is_some() {
        return None;
    }
    if let (Some(a), Some(b)) = (keep.date, drop.date) {
        // Two journal lines on different days are two events, not one fact said twice
        // (the same line on two days is a date-only duplicate, merged in `dedupe.rs`).
        if a != b && (keep.date_leading || drop.date_leading) && keep.tokens != drop.tokens {
            return None;
        }
    }
    if d.len() == k.len() {
        let same_order = keep.tokens.iter().map(|t| t.word).eq(drop.tokens.iter().map(|t| t.word));
        if same_order {
            return Some(DupHow::Same);
        }
        return (keep.clauses() == drop.clauses()).then_some(DupHow::Reordered);
    }
    // A remark must leave the fact the larger part of the entry.
    if d.len() < 3 || d.len() * 3 < k.len() {
        return None;
    }
    let extras = difference(k, d);
    if extras.iter().any(|&w| keep.is_value(w)) {
        return None;
    }
    // The fact's own words must keep their order, or "tabs over spaces" would pass.
    let kept_order: Vec<u32> = keep.tokens.iter().map(|t| t.word).filter(|w| d.binary_search(w).is_ok()).collect();
    let drop_order: Vec<u32> = drop.tokens.iter().map(|t| t.word).collect();
    if kept_order != drop_order {
        return None;
    }
    // A negation is harmless only in a clause of its own ("Don't forget this").
    for t in keep.tokens.iter().filter(|t| extras.contains(&t.word)) {
        if t.neg {
            let clause_shares = keep.tokens.iter().any(|u| u.clause == t.clause && d.binary_search(&u.word).is_ok());
            if clause_shares {
                return None;
            }
        }
    }
    Some(DupHow::Remark)
}

/// Clusters larger than this are left alone (counted nowhere else; a fact restated verbatim
/// hundreds of times is merged by `dedupe.rs` first).
const MAX_CLUSTER: usize = 256;

/// Returns how many clusters were too large to resolve.
pub fn drop_near_duplicates(
    ws: &mut Workspace,
    table: &EntryTable,
    pairs: &[(u32, u32)],
    cancel: &CancellationToken,
) -> Result<usize, Canceled> {
    let alive = |ws: &Workspace, i: usize| !ws.is_dropped(table.entries[i].fi, table.entries[i].bi);
    let mut uf = UnionFind::new(table.entries.len());
    for (k, &(a, b)) in pairs.iter().enumerate() {
        super::check_every(k, cancel)?;
        let (a, b) = (a as usize, b as usize);
        if !alive(ws, a) || !alive(ws, b) {
            continue;
        }
        let (fa, fb) = (&table.feat(a), &table.feat(b));
        if covers(fa, fb).is_some() || covers(fb, fa).is_some() {
            uf.union(a, b);
        }
    }
    let mut clusters: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..table.entries.len() {
        let r = uf.find(i);
        if r != i || uf.size[r] > 1 {
            clusters.entry(r).or_default().push(i);
        }
    }
    let topics = topic_words(ws, table);
    let skipped = clusters.values().filter(|m| m.len() > MAX_CLUSTER).count();
    let mut groups: Vec<Vec<usize>> = clusters.into_values().filter(|m| m.len() > 1 && m.len() <= MAX_CLUSTER).collect();
    groups.sort_by_key(|m| m[0]);
    let scratch = restatement_share(ws, table, &groups);
    for (k, members) in groups.into_iter().enumerate() {
        super::check_every(k, cancel)?;
        resolve_cluster(ws, table, &topics, &scratch, members);
    }
    Ok(skipped)
}

/// Per file, the share (in thousandths) of its entries that restate an entry of another file.
/// A notes file the agent appends everything to scores high; a topic file scores low, and is
/// the better home for an equally worded fact.
fn restatement_share(ws: &Workspace, table: &EntryTable, groups: &[Vec<usize>]) -> Vec<u32> {
    let mut total = vec![0u32; ws.files.len()];
    let mut restated = vec![0u32; ws.files.len()];
    for e in &table.entries {
        total[e.fi] += 1;
    }
    for g in groups {
        let first = table.entries[g[0]].fi;
        if g.iter().any(|&i| table.entries[i].fi != first) {
            for &i in g {
                restated[table.entries[i].fi] += 1;
            }
        }
    }
    total.iter().zip(&restated).map(|(&t, &r)| (r * 1000).checked_div(t).unwrap_or(0)).collect()
}

/// `x` makes `m` redundant: `x` says all `m` says and `m` is not the newer wording, or `m`
/// says all `x` says plus an older remark that `x`, the surely newer wording, dropped. A
/// pinned entry is never redundant; a pinned one makes an unpinned restatement redundant.
fn dominates(ws: &Workspace, table: &EntryTable, x: usize, m: usize) -> Option<DupHow> {
    let (ex, em) = (&table.entries[x], &table.entries[m]);
    if ws.block(em.fi, em.bi).pinned {
        return None;
    }
    // The newest date of its own survives a merge: without it, a later conflict with this
    // fact could not be ordered (and the verifier holds a dream that drops it).
    if table.feats.date(m) > table.feats.date(x) {
        return None;
    }
    let x_pinned = ws.block(ex.fi, ex.bi).pinned;
    let rel = order::compare(&table.ev(x), &table.ev(m));
    let (fx, fm) = (table.feat(x), table.feat(m));
    if let Some(how) = covers(&fx, &fm) {
        if x_pinned || !rel.surely_older() {
            return Some(how);
        }
    }
    // `m` says all `x` says plus a remark: `x` may still stay if it is surely the newer
    // wording, pinned, or dated where `m` is not (a date orders later conflicts; "(this came up
    // twice)" orders nothing). Only a short closing remark goes that way.
    // (The file's date may make `m` the newer: it is the file's, not the entry's.)
    let dated_over_undated = fx.date.is_some() && fm.date.is_none();
    match covers(&fm, &fx) {
        Some(how)
            if (rel.surely_newer() || (x_pinned || dated_over_undated) && how == DupHow::Remark)
                && drops_only_a_remark(&fm, &fx, &table.vocab) =>
        {
            Some(how)
        }
        _ => None,
    }
}

/// Words of the fuller `full` that the shorter `kept` drops may only be a short remark closing
/// it ("(this came up twice)"): a qualifier inside the sentence ("gather *as much* context *as
/// possible*") is part of what it says, and its loss is no duplicate's. A negation in it
/// ("(no longer true)") is a fact; "Don't forget this!" is emphasis.
fn drops_only_a_remark(full: &Features, kept: &Features, vocab: &super::text::Vocab) -> bool {
    let shared = |t: &&super::text::Token| kept.set.binary_search(&t.word).is_ok();
    let Some(last_shared) = full.tokens.iter().filter(shared).map(|t| t.clause).max() else { return false };
    let extras: Vec<_> = full.tokens.iter().filter(|t| !shared(t)).collect();
    let emphasis = extras.iter().all(|t| matches!(vocab.word(t.word), "don't" | "dont" | "forget" | "remember"));
    extras.len() <= 4 && extras.iter().all(|t| t.clause > last_shared && (!t.neg || emphasis))
}

fn resolve_cluster(ws: &mut Workspace, table: &EntryTable, topics: &[Vec<u32>], scratch: &[u32], mut remaining: Vec<usize>) {
    while remaining.len() > 1 {
        // The winner: a member no other beats. `x` beats `m` when it makes `m` redundant and
        // `m` does not make `x` redundant, or both do (equal wordings of unknown order) and `x`
        // ranks higher. Then no two survivors make each other redundant, and a second dream
        // has nothing left to merge.
        let ranks: Vec<Rank> = remaining.iter().map(|&i| rank(ws, table, topics, scratch, i)).collect();
        let n = remaining.len();
        let dom: Vec<Vec<bool>> =
            (0..n).map(|x| (0..n).map(|m| x != m && dominates(ws, table, remaining[x], remaining[m]).is_some()).collect()).collect();
        let beats = |x: usize, m: usize| dom[x][m] && (!dom[m][x] || ranks[x] > ranks[m]);
        let unbeaten: Vec<usize> = (0..n).filter(|&w| !(0..n).any(|x| beats(x, w))).collect();
        let pool: Vec<usize> = if unbeaten.is_empty() { (0..n).collect() } else { unbeaten };
        let best = pool.iter().copied().max_by(|&a, &b| ranks[a].cmp(&ranks[b])).unwrap_or(0);
        let winner = remaining[best];
        let covered: Vec<(usize, DupHow)> =
            remaining.iter().filter(|&&m| m != winner).filter_map(|&m| dominates(ws, table, winner, m).map(|h| (m, h))).collect();
        remaining.retain(|&m| m != winner && !covered.iter().any(|&(c, _)| c == m));
        let keeper_loc = table.loc(ws, winner);
        let keeper_file = ws.files[table.entries[winner].fi].path.clone();
        for (m, how) in covered {
            let e = &table.entries[m];
            let (fi, bi) = (e.fi, e.bi);
            let before = ws.current_text(fi, bi).to_string();
            let loc = table.loc(ws, m);
            let newer = order::compare(&table.ev(winner), &table.ev(m)).surely_newer();
            if !ws.drop_fact(fi, bi) {
                continue; // pinned or wordless: stays verbatim
            }
            let file = ws.files[fi].path.clone();
            let which = if newer { "the newer wording" } else { "which is kept" };
            let reason = format!("near-duplicate ({}) of {keeper_loc}, {which}", how.describe());
            let mut c = Change::new(ChangeKind::Dedupe, &file, Some(before), None, reason);
            c.provenance.entries = vec![loc, keeper_loc.clone()];
            if keeper_file != file {
                c.related_files.push(keeper_file.clone());
            }
            ws.changes.push(c);
        }
    }
}

type Rank = (bool, usize, usize, std::cmp::Reverse<u32>, std::cmp::Reverse<usize>, std::cmp::Reverse<usize>);

/// Ranking among copies no order tells apart: pinned, most informative, the file whose topic
/// fits the fact, the file that is least a pile of restatements, the cleanest (shortest)
/// wording, first.
fn rank(ws: &Workspace, table: &EntryTable, topics: &[Vec<u32>], scratch: &[u32], i: usize) -> Rank {
    let (e, feat) = (&table.entries[i], table.feat(i));
    let fit = feat.set.iter().filter(|x| topics[e.fi].binary_search(x).is_ok()).count();
    (
        ws.block(e.fi, e.bi).pinned,
        feat.set.len(),
        fit,
        std::cmp::Reverse(scratch[e.fi]),
        std::cmp::Reverse(ws.current_text(e.fi, e.bi).len()),
        std::cmp::Reverse(i),
    )
}

/// Per file, the interned words of its name, frontmatter name/description: what it is about.
fn topic_words(ws: &Workspace, table: &EntryTable) -> Vec<Vec<u32>> {
    ws.files
        .iter()
        .map(|f| {
            let mut text = f.path.replace(['_', '-', '.', '/'], " ");
            if let Some(fm) = f.frontmatter() {
                for k in ["name", "description"] {
                    if let Some(v) = fm.fields.get(k) {
                        text.push(' ');
                        text.push_str(v);
                    }
                }
            }
            let mut ids: Vec<u32> = text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .filter_map(|w| table.vocab.get(&w.to_lowercase()))
                .filter(|&id| !is_negation(table.vocab.word(id)))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        })
        .collect()
}

/// The near-duplicate detection alone, on plain texts: verified pairs `(i, j)`, `i < j`.
/// Used by the benchmark to compare with other MinHash/LSH implementations.
pub fn duplicate_pairs(texts: &[&str]) -> Vec<(usize, usize)> {
    let mut vocab = super::text::Vocab::default();
    let feats: Vec<Features> = texts.iter().map(|t| super::text::features(t, &mut vocab)).collect();
    let (pairs, _) = super::candidates::candidates_of(&feats, &vocab, &CancellationToken::new()).unwrap_or_default();
    pairs
        .into_iter()
        .map(|(a, b)| (a as usize, b as usize))
        .filter(|&(a, b)| covers(&feats[a], &feats[b]).is_some() || covers(&feats[b], &feats[a]).is_some())
        .collect()
}

pub struct UnionFind {
    parent: Vec<usize>,
    pub size: Vec<usize>,
}

impl UnionFind {
    pub fn new(n: usize) -> UnionFind {
        UnionFind { parent: (0..n).collect(), size: vec![1; n] }
    }
    pub fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
    pub fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        // The smaller index stays the root, so cluster order is deterministic.
        let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[child] = root;
        self.size[root] += self.size[child];
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::{features, Vocab};
    use super::*;

    fn check(a: &str, b: &str) -> Option<DupHow> {
        let mut v = Vocab::default();
        let (fa, fb) = (features(a, &mut v), features(b, &mut v));
        covers(&fa, &fb).or_else(|| covers(&fb, &fa))
    }

    #[test]
    fn restatements_are_duplicates() {
        assert_eq!(check("- Deploys go through ArgoCD", "- Note: **deploys** go through ArgoCD."), Some(DupHow::Same));
        assert_eq!(check("- Remember that deploys go through ArgoCD", "- FYI: deploys go through _ArgoCD_"), Some(DupHow::Same));
        assert_eq!(
            check("- Tests run in CI, and deploys go through ArgoCD", "- Deploys go through ArgoCD, and tests run in CI"),
            Some(DupHow::Reordered)
        );
        assert_eq!(check("- Deploys go through ArgoCD", "- Deploys go through ArgoCD (as discussed in the standup)"), Some(DupHow::Remark));
        assert_eq!(check("- Deploys go through ArgoCD", "- Deploys go through ArgoCD. Don't forget this!"), Some(DupHow::Remark));
    }

    #[test]
    fn different_values_are_not_duplicates() {
        for (a, b) in [
            ("billing listens on port 8080", "billing listens on port 9090"),
            ("we run Postgres 15", "we run Postgres 16"),
            ("node version is v18.2.0", "node version is v18.3.0"),
            ("release freeze starts 2026-06-01", "release freeze starts 2026-06-08"),
            ("config lives in ops/billing.yaml", "config lives in ops/auth.yaml"),
            ("the frontend team is led by Alice", "the frontend team is led by Bob"),
            ("deploys go through ArgoCD", "deploys go through ArgoCD 2.9"),
            ("deploys go through ArgoCD", "deploys go through ArgoCD except on Fridays"),
        ] {
            assert_eq!(check(a, b), None, "{a} / {b}");
        }
    }

    #[test]
    fn negation_and_order_change_meaning() {
        assert_eq!(check("use pnpm for installs", "don't use pnpm for installs"), None);
        assert_eq!(check("prefers tabs over spaces", "prefers spaces over tabs"), None);
        assert_eq!(check("the frontend team is led by Alice", "the backend team is led by Alice"), None);
        assert_eq!(check("2026-06-01: deploy failed on staging", "2026-06-03: deploy failed again on staging"), None);
        // The very same line on two days is a date-only duplicate (merged, keeping the newest date).
        assert_eq!(check("2026-06-01: deploy failed on staging", "2026-06-03: deploy failed on staging"), Some(DupHow::Same));
    }
}
