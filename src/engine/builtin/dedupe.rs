//! Duplicate entries: the same text up to formatting (case, whitespace, emphasis, marker,
//! trailing punctuation). The first occurrence (in path order) stays; pinned copies always stay.

use super::{is_fact, Workspace};
use crate::memory::normalize;
use crate::report::{Change, ChangeKind};
use std::collections::HashMap;

pub fn drop_duplicates(ws: &mut Workspace) {
    // normal form → (file, block) of the surviving copy.
    let mut first: HashMap<String, (usize, usize)> = HashMap::new();
    // Pinned entries claim their normal form first, so an unpinned earlier copy yields to them.
    for pass_pinned in [true, false] {
        for fi in 0..ws.files.len() {
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
