//! Duplicate entries: the very same words, up to formatting (case, emphasis, marker,
//! punctuation, filler) and up to the entry's own date, so the same line kept on two days (a
//! history reverted and re-applied) is one entry too.
//!
//! Which copy stays: a pinned one; else the one with the newest date of its own (a dated copy
//! over an undated one: the date is what a later conflict needs to tell which value is newer);
//! else the newest by the file's date, then position within a file, so a re-applied line keeps
//! its place after the value it replaced; else the copy in the file that is least a pile of
//! restatements (a topic file over a notes file), then the first in path order. A copy with a
//! newer date than the one that stays (a pinned one) stays too. Runs after conflicts, on what
//! they left.

use super::entries::EntryTable;
use super::packed::PackedToken;
use super::Workspace;
use crate::engine::{Canceled, CancellationToken};
use crate::memory::normalize;
use crate::report::{Change, ChangeKind};
use chrono::NaiveDate;
use std::cmp::Reverse;
use std::collections::HashMap;

pub fn drop_duplicates(ws: &mut Workspace, table: &EntryTable, cancel: &CancellationToken) -> Result<(), Canceled> {
    let mut groups: HashMap<(&[PackedToken], bool), Vec<usize>> = HashMap::new();
    for (i, e) in table.entries.iter().enumerate() {
        super::check_every(i, cancel)?;
        if table.packed(i).is_empty() || ws.is_dropped(e.fi, e.bi) {
            continue;
        }
        groups.entry((table.packed(i), table.hedged(i))).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() > 1).collect();
    groups.sort_by_key(|g| g[0]);
    let share = restatement_share(ws, table, &groups);
    for (k, members) in groups.into_iter().enumerate() {
        super::check_every(k, cancel)?;
        let key = |i: usize| {
            let e = &table.entries[i];
            (ws.block(e.fi, e.bi).pinned, table.feats.date(i), table.ev(i).stated.map(|s| s.0), Reverse(share[e.fi]), Reverse(e.fi), e.bi)
        };
        let Some(&keeper) = members.iter().max_by_key(|&&i| key(i)) else { continue };
        let dates: Vec<NaiveDate> = members.iter().filter_map(|&i| table.feats.date(i)).collect();
        let keeper_date = table.feats.date(keeper);
        // Never drop the only copy of the newest date (`None` sorts before every date).
        for &m in members.iter().filter(|&&m| m != keeper && table.feats.date(m) <= keeper_date) {
            drop_one(ws, table, m, keeper, &dates);
        }
    }
    Ok(())
}

fn drop_one(ws: &mut Workspace, table: &EntryTable, m: usize, keeper: usize, dates: &[NaiveDate]) {
    let (em, ek) = (&table.entries[m], &table.entries[keeper]);
    let before = ws.current_text(em.fi, em.bi).to_string();
    let kept = ws.current_text(ek.fi, ek.bi).to_string();
    let (file, kept_file) = (ws.files[em.fi].path.clone(), ws.files[ek.fi].path.clone());
    let (loc, kept_loc) = (table.loc(ws, m), table.loc(ws, keeper));
    if !ws.drop_fact(em.fi, em.bi) {
        return; // pinned: stays verbatim
    }
    let reason = match (table.feats.date(m), table.feats.date(keeper)) {
        (Some(d), Some(k)) if d != k => {
            let mut folded: Vec<String> = dates.iter().filter(|&&x| x != k).map(|x| x.to_string()).collect();
            folded.sort();
            folded.dedup();
            format!(
                "date-only duplicate of {kept_loc}, which is kept with the newest date {k}; dates folded into it: {}",
                folded.join(", ")
            )
        }
        _ if before == kept => format!("exact duplicate of {kept_loc}, which is kept"),
        _ if normalize(&before) == normalize(&kept) => format!("same text up to formatting as {kept_loc}, which is kept"),
        _ => format!("same fact with filler or emphasis as {kept_loc}, which is kept"),
    };
    let mut c = Change::new(ChangeKind::Dedupe, &file, Some(before), None, reason);
    c.provenance.entries = vec![loc, kept_loc];
    if kept_file != file {
        c.related_files.push(kept_file);
    }
    ws.changes.push(c);
}

/// Per file, the share (in thousandths) of its entries that are copies of an entry in another
/// file: a notes file the agent appends everything to scores high.
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
