//! Duplicate entries: the same text up to formatting (case, whitespace, emphasis, marker,
//! trailing punctuation). Pinned copies always stay; otherwise the copy in the file that is
//! least a pile of restatements stays (a topic file over a scratch "notes" file), then the
//! first in path order.

use super::text::{strip_filler, strip_marker};
use super::{is_fact, Workspace};
use crate::memory::normalize;
use crate::report::{Change, ChangeKind};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// A fact block and its normal form.
struct Keyed {
    bi: usize,
    key: String,
}

pub fn drop_duplicates(ws: &mut Workspace) {
    // Each normal form is computed once: this pass sees every entry of the store.
    let keyed: Vec<Vec<Keyed>> = (0..ws.files.len())
        .map(|fi| {
            (0..ws.files[fi].blocks().len())
                .filter(|&bi| is_fact(ws, fi, bi))
                .map(|bi| Keyed { bi, key: normalize(ws.current_text(fi, bi)) })
                .filter(|k| !k.key.is_empty())
                .collect()
        })
        .collect();
    let order = files_by_restatement_share(ws, &keyed);
    // normal form → (file, block) of the surviving copy.
    let mut first: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut drops: Vec<(usize, usize, usize, usize)> = Vec::new();
    // Pinned entries claim their normal form first, so an unpinned earlier copy yields to them.
    for pass_pinned in [true, false] {
        for &fi in &order {
            for k in &keyed[fi] {
                let pinned = ws.block(fi, k.bi).pinned;
                if pinned != pass_pinned {
                    continue;
                }
                match first.get(k.key.as_str()) {
                    None => {
                        first.insert(&k.key, (fi, k.bi));
                    }
                    Some(&(kf, kb)) if !pinned => drops.push((fi, k.bi, kf, kb)),
                    Some(_) => {} // a pinned duplicate of a pinned entry: both stay verbatim
                }
            }
        }
    }
    for (fi, bi, kf, kb) in drops {
        drop_one(ws, fi, bi, kf, kb);
    }
}

fn drop_one(ws: &mut Workspace, fi: usize, bi: usize, kf: usize, kb: usize) {
    let before = ws.current_text(fi, bi).to_string();
    let (file, line) = (ws.files[fi].path.clone(), ws.block(fi, bi).line);
    let kept_file = ws.files[kf].path.clone();
    let kept_line = ws.block(kf, kb).line;
    if ws.drop_block(fi, bi) {
        let exact = ws.current_text(kf, kb) == before;
        let how = if exact { "exact duplicate" } else { "same text up to formatting" };
        let mut c = Change::new(ChangeKind::Dedupe, &file, Some(before), None, format!("{how} of {kept_file}:{kept_line}, which is kept"));
        c.provenance.entries = vec![format!("{file}:{line}"), format!("{kept_file}:{kept_line}")];
        if kept_file != file {
            c.related_files.push(kept_file);
        }
        ws.changes.push(c);
    }
}

/// File indexes, the file with the smallest share of entries also found (up to formatting and
/// filler) in another file first; ties in path order.
fn files_by_restatement_share(ws: &Workspace, keyed: &[Vec<Keyed>]) -> Vec<usize> {
    // Filler-free key hashes, so "Note: X" in a notes file counts as a restatement of X.
    let hashes: Vec<Vec<u64>> = keyed
        .iter()
        .enumerate()
        .map(|(fi, ks)| {
            ks.iter()
                .map(|k| {
                    let text = ws.current_text(fi, k.bi);
                    let body = strip_marker(text);
                    let unfilled = strip_filler(text);
                    if unfilled.len() == body.trim_start().len() {
                        hash(&k.key)
                    } else {
                        hash(&normalize(unfilled))
                    }
                })
                .collect()
        })
        .collect();
    // hash → the one file it was seen in, or usize::MAX once seen in two.
    let mut home: HashMap<u64, usize> = HashMap::new();
    for (fi, hs) in hashes.iter().enumerate() {
        for &h in hs {
            home.entry(h)
                .and_modify(|f| {
                    if *f != fi {
                        *f = usize::MAX
                    }
                })
                .or_insert(fi);
        }
    }
    let share = |fi: usize| -> usize {
        let hs = &hashes[fi];
        let restated = hs.iter().filter(|h| home[*h] == usize::MAX).count();
        (restated * 1000).checked_div(hs.len()).unwrap_or(0)
    };
    let mut order: Vec<usize> = (0..ws.files.len()).collect();
    order.sort_by_cached_key(|&fi| (share(fi), fi));
    order
}

fn hash(s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}
