//! Duplicate entries: the same text up to formatting (case, whitespace, emphasis, marker,
//! trailing punctuation). Pinned copies always stay; otherwise the copy in the file that is
//! least a pile of restatements stays (a topic file over a scratch "notes" file), then the
//! first in path order.

use super::{is_fact, Workspace};
use crate::memory::normalize;
use crate::report::{Change, ChangeKind};
use std::collections::HashMap;

pub fn drop_duplicates(ws: &mut Workspace) {
    let order = files_by_restatement_share(ws);
    // normal form → (file, block) of the surviving copy.
    let mut first: HashMap<String, (usize, usize)> = HashMap::new();
    // Pinned entries claim their normal form first, so an unpinned earlier copy yields to them.
    for pass_pinned in [true, false] {
        for &fi in &order {
            for bi in 0..ws.files[fi].blocks().len() {
                let b = ws.block(fi, bi);
                if !is_fact(ws, fi, bi) || b.pinned != pass_pinned {
                    continue;
                }
                let key = normalize(ws.current_text(fi, bi));
                if key.is_empty() {
                    continue;
                }
                match first.get(&key) {
                    None => {
                        first.insert(key, (fi, bi));
                    }
                    Some(&(kf, kb)) if !b.pinned => {
                        let before = ws.current_text(fi, bi).to_string();
                        let (file, line) = (ws.files[fi].path.clone(), b.line);
                        let kept_file = ws.files[kf].path.clone();
                        let kept_line = ws.block(kf, kb).line;
                        if ws.drop_block(fi, bi) {
                            let exact = ws.current_text(kf, kb) == before;
                            let how = if exact { "exact duplicate" } else { "same text up to formatting" };
                            let mut c = Change::new(
                                ChangeKind::Dedupe,
                                &file,
                                Some(before),
                                None,
                                format!("{how} of {kept_file}:{kept_line}, which is kept"),
                            );
                            c.provenance.entries = vec![format!("{file}:{line}"), format!("{kept_file}:{kept_line}")];
                            if kept_file != file {
                                c.related_files.push(kept_file);
                            }
                            ws.changes.push(c);
                        }
                    }
                    Some(_) => {} // a pinned duplicate of a pinned entry: both stay verbatim
                }
            }
        }
    }
}

/// File indexes, the file with the smallest share of entries also found in another file first
/// (ties in path order).
fn files_by_restatement_share(ws: &Workspace) -> Vec<usize> {
    let mut files_of: HashMap<String, Vec<usize>> = HashMap::new();
    let mut keys: Vec<Vec<String>> = vec![Vec::new(); ws.files.len()];
    for (fi, k) in keys.iter_mut().enumerate() {
        for bi in 0..ws.files[fi].blocks().len() {
            if is_fact(ws, fi, bi) {
                // Filler-free, so "Note: X" in a notes file counts as a restatement of X.
                let key = normalize(super::text::strip_filler(ws.current_text(fi, bi)));
                files_of.entry(key.clone()).or_default().push(fi);
                k.push(key);
            }
        }
    }
    let share = |fi: usize| -> u64 {
        let k = &keys[fi];
        if k.is_empty() {
            return 0;
        }
        let restated = k.iter().filter(|key| files_of[*key].iter().any(|&other| other != fi)).count();
        (restated * 1000 / k.len()) as u64
    };
    let mut order: Vec<usize> = (0..ws.files.len()).collect();
    order.sort_by_key(|&fi| (share(fi), fi));
    order
}
