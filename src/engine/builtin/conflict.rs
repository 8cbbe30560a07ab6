//! Conflicts: the same statement about the same subject with a different value.
//!
//! Two shapes are recognised, both precisely: (1) the same words with exactly one value slot
//! different ("billing listens on port 8080" / "... 9090"; dates excluded, two dated events are
//! not a conflict), (2) the same words but the last one, right after a single-valued verb
//! ("prefers npm" / "prefers pnpm"). The newer side (inline date, frontmatter `updated`, the
//! last session that confirmed it, file mtime) stays; the older goes, or moves to a
//! `## Superseded` section with `keep_history`. Unorderable conflicts are flagged, untouched.

use super::entries::{difference, EntryTable};
use super::insights::Confirmation;
use super::near::Survivors;
use super::text::{is_single_valued, Features, ValueKind, Vocab};
use super::{Workspace, SUPERSEDED};
use crate::memory::BlockKind;
use crate::report::{Change, ChangeKind, Flag};
use chrono::NaiveDate;

/// What differs between two conflicting entries, for the report.
pub fn conflict(a: &Features, b: &Features, vocab: &Vocab) -> Option<String> {
    let masked = |f: &Features| {
        let mut m: Vec<u32> = f.tokens.iter().filter(|t| t.value.is_none()).map(|t| t.word).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let values = |f: &Features, dates: bool| f.values().filter(|&(_, k)| (k == ValueKind::Date) == dates).collect::<Vec<_>>();
    let (ma, mb) = (masked(a), masked(b));
    // The subject: words both say (including equal values such as a product name).
    let shared = a.set.len() - difference(&a.set, &b.set).len();
    if shared >= 2 && ma == mb {
        let (va, vb) = (values(a, false), values(b, false));
        if va.len() != vb.len() || va.is_empty() || values(a, true) != values(b, true) {
            return None;
        }
        // Values both state cancel out (order-insensitive: clauses may be reordered).
        let (mut ra, mut rb) = (va.clone(), vb.clone());
        ra.retain(|x| match rb.iter().position(|y| y.0 == x.0) {
            Some(p) => {
                rb.remove(p);
                false
            }
            None => true,
        });
        let ([x], [y]) = (&ra[..], &rb[..]) else { return None };
        let numeric = |k| matches!(k, ValueKind::Number | ValueKind::Version);
        if x.1 != y.1 && !(numeric(x.1) && numeric(y.1)) {
            return None;
        }
        return Some(format!("{} vs {}", vocab.word(x.0), vocab.word(y.0)));
    }
    let (da, db) = (difference(&a.set, &b.set), difference(&b.set, &a.set));
    let ([x], [y]) = (&da[..], &db[..]) else {
        return None;
    };
    if a.set.len() < 3 || b.set.len() < 3 || a.is_value(*x) || b.is_value(*y) {
        return None;
    }
    let last_two = |f: &Features| {
        let n = f.tokens.len();
        (n >= 2).then(|| (f.tokens[n - 2].word, f.tokens[n - 1].word))
    };
    let (Some((pa, la)), Some((pb, lb))) = (last_two(a), last_two(b)) else {
        return None;
    };
    if la != *x || lb != *y || pa != pb || !is_single_valued(vocab.word(pa)) {
        return None;
    }
    if a.tokens.iter().chain(&b.tokens).any(|t| t.neg) {
        return None;
    }
    Some(format!("{} {} vs {} {}", vocab.word(pa), vocab.word(*x), vocab.word(pa), vocab.word(*y)))
}

/// The entry's date and where it comes from.
pub fn effective_date(ws: &Workspace, table: &EntryTable, conf: &[Confirmation], i: usize) -> Option<(NaiveDate, String)> {
    let e = &table.entries[i];
    let own = if let Some(d) = e.feat.date {
        Some((d, format!("inline date {d}")))
    } else if let Some(d) = ws.file_updated(e.fi) {
        Some((d, format!("frontmatter updated {d}")))
    } else {
        ws.file_mtime(e.fi).map(|d| (d, format!("file modified {d}")))
    };
    let confirmed = conf
        .get(i)
        .and_then(|c| c.last.map(|t| (t.date_naive(), format!("confirmed by session {} on {}", c.last_session, t.date_naive()))));
    match (own, confirmed) {
        (Some(o), Some(c)) if c.0 > o.0 => Some(c),
        (Some(o), _) => Some(o),
        (None, c) => c,
    }
}

pub fn resolve(ws: &mut Workspace, table: &EntryTable, conf: &[Confirmation], pairs: &[(u32, u32)], surv: &Survivors) {
    let n = table.entries.len();
    // A merged group is as new as its newest copy (the kept wording may have lost the date).
    let mut dates: Vec<Option<(NaiveDate, String)>> = vec![None; n];
    for i in 0..n {
        let k = surv.keeper[i];
        if let Some(d) = effective_date(ws, table, conf, i) {
            if !matches!(&dates[k], Some(cur) if cur.0 >= d.0) {
                dates[k] = Some(d);
            }
        }
    }
    let mut sessions: Vec<Vec<String>> = vec![Vec::new(); n];
    for i in 0..n {
        sessions[surv.keeper[i]].extend(conf.get(i).map(|c| c.sessions.clone()).unwrap_or_default());
    }
    // Conflicts are judged on the original wordings (a restatement with a remark hides the
    // shape) and acted on the surviving ones.
    let mut found: Vec<(usize, usize, String)> = Vec::new();
    for &(a, b) in pairs {
        let (a, b) = (a as usize, b as usize);
        let (ka, kb) = (surv.keeper[a], surv.keeper[b]);
        if ka == kb {
            continue;
        }
        if let Some(what) = conflict(&table.entries[a].feat, &table.entries[b].feat, &table.vocab) {
            found.push((ka.min(kb), ka.max(kb), what));
        }
    }
    found.sort_by_key(|x| (x.0, x.1));
    found.dedup_by(|x, y| (x.0, x.1) == (y.0, y.1));
    let loc_at = |ws: &Workspace, k: usize| {
        let (fi, bi) = surv.at[k];
        format!("{}:{}", ws.files[fi].path, ws.block(fi, bi).line)
    };
    let mut superseded = vec![false; n];
    for (a, b, what) in found {
        let ((fa, ba), (fb, bb)) = (surv.at[a], surv.at[b]);
        if ws.is_dropped(fa, ba) || ws.is_dropped(fb, bb) || superseded[a] || superseded[b] {
            continue;
        }
        let (loc_a, loc_b) = (loc_at(ws, a), loc_at(ws, b));
        let order = match (&dates[a], &dates[b]) {
            (Some(x), Some(y)) if x.0 != y.0 => Some(if x.0 > y.0 { (a, b) } else { (b, a) }),
            _ => None,
        };
        let Some((newer, older)) = order else {
            ws.flags.push(Flag {
                kind: "conflict".into(),
                message: format!("{what}: cannot tell which is newer (no distinct dates); both left as they are"),
                entries: vec![loc_a, loc_b],
            });
            continue;
        };
        let (dn, dold) = (dates[newer].clone().unwrap_or_default(), dates[older].clone().unwrap_or_default());
        let ((ofi, obi), (nfi, nbi)) = (surv.at[older], surv.at[newer]);
        let (loc_old, loc_new) = (loc_at(ws, older), loc_at(ws, newer));
        if ws.block(ofi, obi).pinned {
            ws.flags.push(Flag {
                kind: "conflict".into(),
                message: format!(
                    "{what}: the pinned entry {loc_old} is contradicted by the newer {loc_new}; pinned entries are never changed"
                ),
                entries: vec![loc_old, loc_new],
            });
            continue;
        }
        let before = ws.current_text(ofi, obi).to_string();
        let newer_text = ws.current_text(nfi, nbi).to_string();
        let newer_file = ws.files[nfi].path.clone();
        let file = ws.files[ofi].path.clone();
        ws.drop_block(ofi, obi);
        superseded[older] = true;
        let after = ws.input.keep_history.then(|| {
            let line = format!("- {} (superseded by {loc_new}, {})", super::text::strip_marker(&before).replace('\n', " "), dn.0);
            append_superseded(ws, ofi, &line);
            line
        });
        let reason = format!(
            "conflict ({what}) with {loc_new} \"{}\": kept the newer value ({} vs {})",
            super::text::strip_marker(&newer_text),
            dn.1,
            dold.1
        );
        let mut c = Change::new(ChangeKind::Conflict, &file, Some(before), after, reason);
        c.provenance.entries = vec![loc_old, loc_new];
        let mut sess: Vec<String> = sessions[older].iter().chain(&sessions[newer]).cloned().collect();
        sess.sort();
        sess.dedup();
        c.provenance.sessions = sess;
        if newer_file != file {
            c.related_files.push(newer_file);
        }
        ws.changes.push(c);
    }
}

/// Append a line to the file's `## Superseded` section (created at the end if needed).
fn append_superseded(ws: &mut Workspace, fi: usize, line: &str) {
    let last_heading = ws.files[fi].blocks().iter().rev().find(|b| b.kind == BlockKind::Heading);
    let has_section = last_heading.is_some_and(|h| h.section.as_deref() == Some(SUPERSEDED)) || ws.appends[fi].contains("## Superseded\n");
    if !has_section {
        ws.appends[fi].push_str(&format!("\n## {SUPERSEDED}\n\n"));
    }
    ws.appends[fi].push_str(line);
    ws.appends[fi].push('\n');
}

#[cfg(test)]
mod tests {
    use super::super::text::features;
    use super::*;

    fn check(a: &str, b: &str) -> Option<String> {
        let mut v = Vocab::default();
        let (fa, fb) = (features(a, &mut v), features(b, &mut v));
        conflict(&fa, &fb, &v)
    }

    #[test]
    fn value_and_preference_conflicts_are_found() {
        assert_eq!(check("billing listens on port 8080", "billing listens on port 9090").as_deref(), Some("8080 vs 9090"));
        assert_eq!(
            check("- 2026-05-01: billing listens on port 8080", "- billing listens on port 9090 (as of 2026-06-01)").as_deref(),
            Some("8080 vs 9090")
        );
        assert_eq!(check("The user prefers npm", "the user prefers pnpm").as_deref(), Some("prefers npm vs prefers pnpm"));
        assert!(check("We run Postgres 15.2", "We run Postgres 16.1").is_some());
    }

    #[test]
    fn different_subjects_are_not_conflicts() {
        for (a, b) in [
            ("billing listens on port 8080", "auth listens on port 9090"),
            ("server alpha-1 has 4 GB", "server beta-2 has 8 GB"),
            ("Alice owns billing", "Alice owns payments"),
            ("the frontend team is led by Alice", "the backend team is led by Alice"),
            ("deployed to staging on 2026-06-01", "deployed to staging on 2026-06-03"),
            ("billing listens on port 8080", "billing listens on port 8080"),
            ("the user prefers npm", "the user never prefers pnpm"),
        ] {
            assert_eq!(check(a, b), None, "{a} / {b}");
        }
    }
}
