//! `MEMORY.md` maintenance: pointers to topic files that do not exist are dropped.

use super::Workspace;
use crate::config::Layout;
use crate::memory::{BlockKind, INDEX_FILE};
use crate::report::{Change, ChangeKind};

pub fn drop_stale_pointers(ws: &mut Workspace) {
    if ws.input.layout != Layout::ClaudeCode {
        return;
    }
    let Some(fi) = ws.files.iter().position(|f| f.path == INDEX_FILE) else { return };
    for bi in 0..ws.files[fi].blocks().len() {
        let b = ws.block(fi, bi);
        if b.kind != BlockKind::IndexLine || b.pinned {
            continue;
        }
        let Some(target) = b.link.as_deref() else { continue };
        let target = target.split('#').next().unwrap_or(target).trim_start_matches("./");
        if target.is_empty() || ws.input.store.files.contains_key(target) {
            continue;
        }
        let (text, line) = (b.text().to_string(), b.line);
        let reason = format!("points to {target}, which does not exist in the memory directory");
        if ws.drop_block(fi, bi) {
            let mut c = Change::new(ChangeKind::StalePointer, INDEX_FILE, Some(text), None, reason);
            c.provenance.entries = vec![format!("{INDEX_FILE}:{line}")];
            ws.changes.push(c);
        }
    }
}
