//! Files the verifier cannot read entry by entry stay exactly as they are, and no agent file
//! becomes dreamd's.
//!
//! A file that does not parse (not Markdown, not UTF-8, broken frontmatter) has no entries to
//! account for, so any change to it is a change nobody can check. A file that gains
//! `managed-by: dreamd` would have its entries treated as derived, and removable, next time.

use super::{quote, Check, Parsed};

pub fn check(p: &Parsed) -> Check {
    let mut details = Vec::new();
    for f in &p.live {
        let before = &p.live_store.files[f.path].bytes;
        let after = p.candidate_store.files.get(f.path);
        if let Some(reason) = &f.opaque {
            match after {
                None => {
                    details.push(format!("{}: removed — a file dreamd does not parse ({reason}) must stay as it is", quote(f.path, 120)))
                }
                Some(a) if &a.bytes != before => {
                    details.push(format!("{}: changed — a file dreamd does not parse ({reason}) must stay as it is", quote(f.path, 120)))
                }
                Some(_) => {}
            }
            continue;
        }
        // Both lists are in path order, one entry per path.
        let taken = p.candidate.binary_search_by(|c| c.path.cmp(f.path)).is_ok_and(|i| p.candidate[i].managed);
        if !f.managed && taken {
            details.push(format!(
                "{}: the agent's file was marked `managed-by: dreamd`; its entries would become removable",
                quote(f.path, 120)
            ));
        }
    }
    if details.is_empty() {
        Check::new("agent_files_intact", true, "files dreamd does not parse are unchanged; no agent file was taken over".into(), vec![])
    } else {
        Check::new("agent_files_intact", false, format!("{} file(s) changed that the verifier cannot check", details.len()), details)
    }
}
