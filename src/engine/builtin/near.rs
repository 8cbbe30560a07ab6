//! Near-duplicates: the same fact restated with filler, emphasis, reordered clauses or a
//! trailing remark, within a file or across files.
//!
//! Candidates come from MinHash/LSH; each is verified precisely: one entry's content words
//! must be a subset of the other's, the extra words must not state a value (number, version,
//! date, identifier, name) nor negate anything the two share, and reordering is only
//! accepted clause by clause. The most informative copy (then the most recent, then the
//! shortest wording) is kept, in the file whose topic fits the fact best.

use super::entries::{difference, is_subset, EntryTable};
use super::text::{is_negation, Features};
use super::Workspace;
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
            DupHow::Remark => "same fact; the kept copy adds a remark",
        }
    }
}

/// Whether `keep` says everything `drop` says, so `drop` can go. Precision first.
pub fn covers(keep: &Features, drop: &Features) -> Option<DupHow> {
    let (k, d) = (&keep.set, &drop.set);
    if d.len() < 2 || !is_subset(d, k) {
        return None;
    }
    if let (Some(a), Some(b)) = (keep.date, drop.date) {
        // Two journal lines on different days are two events, not one fact said twice.
        if a != b && (keep.date_leading || drop.date_leading) {
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

/// After the pass: which entry's text now carries each entry, and where that text lives.
#[derive(Debug, Clone)]
pub struct Survivors {
    /// `keeper[i]`: the entry whose wording survives for entry `i` (itself if untouched).
    pub keeper: Vec<usize>,
    /// `at[k]`: the block holding entry `k`'s wording (moved winners live in another block).
    pub at: Vec<(usize, usize)>,
}

impl Survivors {
    pub fn identity(table: &EntryTable) -> Survivors {
        Survivors { keeper: (0..table.entries.len()).collect(), at: table.entries.iter().map(|e| (e.fi, e.bi)).collect() }
    }
}

pub fn drop_near_duplicates(ws: &mut Workspace, table: &EntryTable, pairs: &[(u32, u32)]) -> Survivors {
    let mut surv = Survivors::identity(table);
    let mut uf = UnionFind::new(table.entries.len());
    for &(a, b) in pairs {
        let (fa, fb) = (&table.entries[a as usize].feat, &table.entries[b as usize].feat);
        if covers(fa, fb).is_some() || covers(fb, fa).is_some() {
            uf.union(a as usize, b as usize);
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
    let mut groups: Vec<Vec<usize>> = clusters.into_values().filter(|m| m.len() > 1).collect();
    groups.sort_by_key(|m| m[0]);
    let scratch = restatement_share(ws, table, &groups);
    for members in groups {
        resolve_cluster(ws, table, &topics, &scratch, members, &mut surv);
    }
    surv
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

fn resolve_cluster(
    ws: &mut Workspace,
    table: &EntryTable,
    topics: &[Vec<u32>],
    scratch: &[u32],
    mut remaining: Vec<usize>,
    surv: &mut Survivors,
) {
    while remaining.len() > 1 {
        let winner = *remaining.iter().max_by_key(|&&i| rank(ws, table, scratch, i)).unwrap_or(&remaining[0]);
        let wf = &table.entries[winner].feat;
        let mut covered: Vec<(usize, DupHow)> = Vec::new();
        let winner_pinned = ws.block(table.entries[winner].fi, table.entries[winner].bi).pinned;
        for &m in &remaining {
            if m == winner {
                continue;
            }
            let mf = &table.entries[m].feat;
            if let Some(how) = covers(wf, mf) {
                covered.push((m, how));
            } else if winner_pinned && !ws.block(table.entries[m].fi, table.entries[m].bi).pinned && covers(mf, wf) == Some(DupHow::Remark)
            {
                // The pinned copy is authoritative: an unpinned restatement that only adds a
                // remark (no value, no negation) goes too.
                covered.push((m, DupHow::Remark));
            }
        }
        remaining.retain(|&m| m != winner && !covered.iter().any(|&(c, _)| c == m));
        let keeper = place_winner(ws, table, topics, winner, &covered);
        if keeper != winner {
            surv.keeper[keeper] = winner;
            surv.at[winner] = (table.entries[keeper].fi, table.entries[keeper].bi);
        }
        let keeper_loc = table.loc(ws, keeper);
        let keeper_file = ws.files[table.entries[keeper].fi].path.clone();
        for (m, how) in covered {
            if m == keeper {
                continue;
            }
            let e = &table.entries[m];
            let (fi, bi) = (e.fi, e.bi);
            let before = ws.current_text(fi, bi).to_string();
            let loc = table.loc(ws, m);
            if !ws.drop_block(fi, bi) {
                continue; // pinned: stays verbatim
            }
            surv.keeper[m] = winner;
            let file = ws.files[fi].path.clone();
            let mut c = Change::new(
                ChangeKind::Dedupe,
                &file,
                Some(before),
                None,
                format!("near-duplicate ({}) of {keeper_loc}, which is kept", how.describe()),
            );
            c.provenance.entries = vec![loc, keeper_loc.clone()];
            if keeper_file != file {
                c.related_files.push(keeper_file.clone());
            }
            ws.changes.push(c);
        }
    }
}

type Rank = (
    bool,
    usize,
    Option<chrono::NaiveDate>,
    std::cmp::Reverse<u32>,
    std::cmp::Reverse<usize>,
    Option<chrono::NaiveDate>,
    std::cmp::Reverse<usize>,
);

/// Ranking for the copy to keep: pinned, most informative, the entry's own date, the file
/// that is least a pile of restatements, the cleanest (shortest) wording, the file's date,
/// first. A file's date says when anything in it was written, not when this fact was, so it
/// only breaks ties.
fn rank(ws: &Workspace, table: &EntryTable, scratch: &[u32], i: usize) -> Rank {
    let e = &table.entries[i];
    let file_date = ws.file_updated(e.fi).or_else(|| ws.file_mtime(e.fi));
    (
        ws.block(e.fi, e.bi).pinned,
        e.feat.set.len(),
        e.feat.date,
        std::cmp::Reverse(scratch[e.fi]),
        std::cmp::Reverse(ws.current_text(e.fi, e.bi).len()),
        file_date,
        std::cmp::Reverse(i),
    )
}

/// If a dropped copy sits in a file whose topic fits the fact better, the winner's wording
/// moves there (the copy's block is rewritten, the winner's dropped). Returns the keeper.
fn place_winner(ws: &mut Workspace, table: &EntryTable, topics: &[Vec<u32>], winner: usize, covered: &[(usize, DupHow)]) -> usize {
    let w = &table.entries[winner];
    if ws.block(w.fi, w.bi).pinned {
        return winner;
    }
    let fit = |fi: usize| w.feat.set.iter().filter(|x| topics[fi].binary_search(x).is_ok()).count();
    let own = fit(w.fi);
    let best = covered
        .iter()
        .filter(|&&(m, _)| {
            let e = &table.entries[m];
            e.fi != w.fi && !ws.block(e.fi, e.bi).pinned
        })
        .map(|&(m, _)| (fit(table.entries[m].fi), std::cmp::Reverse(m)))
        .max();
    let Some((best_fit, std::cmp::Reverse(target))) = best else {
        return winner;
    };
    if best_fit <= own {
        return winner;
    }
    let t = &table.entries[target];
    let (tfi, tbi) = (t.fi, t.bi);
    let winner_text = ws.current_text(w.fi, w.bi).to_string();
    let target_raw = ws.current_raw(tfi, tbi).unwrap_or("").to_string();
    let target_text = ws.current_text(tfi, tbi).to_string();
    let new_raw = with_marker_and_tail(&target_raw, &winner_text);
    let (winner_loc, target_loc) = (table.loc(ws, winner), table.loc(ws, target));
    let (wfile, tfile) = (ws.files[w.fi].path.clone(), ws.files[tfi].path.clone());
    if !ws.drop_block(w.fi, w.bi) || !ws.rewrite_block(tfi, tbi, new_raw.clone()) {
        ws.edits[w.fi][w.bi] = None;
        return winner;
    }
    let mut c = Change::new(
        ChangeKind::Dedupe,
        &tfile,
        Some(target_text),
        Some(new_raw.trim_end().to_string()),
        format!("restatements merged here: the fuller wording of {winner_loc}, in the file whose topic fits it best"),
    );
    c.provenance.entries = vec![target_loc.clone(), winner_loc.clone()];
    c.related_files.push(wfile.clone());
    ws.changes.push(c);
    let mut c =
        Change::new(ChangeKind::Dedupe, &wfile, Some(winner_text), None, format!("moved to {target_loc}, whose file fits the fact better"));
    c.provenance.entries = vec![winner_loc, target_loc];
    c.related_files.push(tfile);
    ws.changes.push(c);
    target
}

/// `new_text` with the list marker and trailing whitespace of `old_raw`.
fn with_marker_and_tail(old_raw: &str, new_text: &str) -> String {
    let old_trimmed = old_raw.trim_start();
    let indent = &old_raw[..old_raw.len() - old_trimmed.len()];
    let old_marker_len = old_trimmed.len() - super::text::strip_marker(old_trimmed).len();
    let new_body = super::text::strip_marker(new_text);
    let tail_start = old_raw.trim_end_matches(['\n', '\r', ' ', '\t']).len();
    format!("{indent}{}{new_body}{}", &old_trimmed[..old_marker_len], &old_raw[tail_start..])
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
    let items: Vec<(u32, &Features)> = feats.iter().enumerate().map(|(i, f)| (i as u32, f)).collect();
    let (pairs, _) = super::lsh::candidate_pairs(&items);
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
        assert_eq!(check("2026-06-01: deploy failed on staging", "2026-06-03: deploy failed on staging"), None);
    }

    #[test]
    fn marker_and_tail_are_preserved_on_move() {
        assert_eq!(with_marker_and_tail("* old words\n\n", "- New words"), "* New words\n\n");
        assert_eq!(with_marker_and_tail("plain\n", "- New words"), "New words\n");
    }
}
