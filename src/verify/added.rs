//! What a candidate adds: every line of every file (any name, any encoding, frontmatter and
//! headings included) that the live store does not have, and every new file name. Plus fast
//! "did the live store already say this?" searches over all of its bytes.

use crate::store::Store;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::BuildHasher;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedLine {
    pub file: String,
    /// 1-based.
    pub line: usize,
    pub text: String,
    /// Inside a fenced code block of its file.
    pub in_fence: bool,
}

/// Consecutive added lines of one file with a line of context either side, so a value that
/// spans lines (a private key whose header the live store already had) is seen whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub file: String,
    pub first_line: usize,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Added {
    pub lines: Vec<AddedLine>,
    pub regions: Vec<Region>,
    /// Files the live store did not have.
    pub new_paths: Vec<String>,
}

fn key(line: &str) -> &str {
    line.trim()
}

impl Added {
    pub fn between(live: &Store, candidate: &Store) -> Added {
        let state = RandomState::new();
        let mut known: HashSet<u64, super::words::Prehashed> = HashSet::default();
        let mut out = Added::default();
        // Only files that differ can add anything; the live lines are needed only then.
        let changed: Vec<(&String, &[u8])> = candidate
            .files
            .iter()
            .filter(|(p, f)| live.files.get(*p).is_none_or(|l| l.bytes != f.bytes))
            .map(|(p, f)| (p, f.bytes.as_slice()))
            .collect();
        if changed.is_empty() {
            return out;
        }
        for f in live.files.values() {
            for line in String::from_utf8_lossy(&f.bytes).lines() {
                known.insert(state.hash_one(key(line)));
            }
        }
        for (path, bytes) in changed {
            if !live.files.contains_key(path) {
                out.new_paths.push(path.clone());
            }
            let text = String::from_utf8_lossy(bytes);
            let lines: Vec<&str> = text.lines().collect();
            let mut fence: Option<&str> = None;
            let mut run: Option<(usize, usize)> = None; // [start, end) of added lines
            for (i, line) in lines.iter().enumerate() {
                let t = line.trim_start();
                let opens = ["```", "~~~"].into_iter().find(|f| t.starts_with(f));
                let in_fence = fence.is_some() && opens.is_none_or(|o| Some(o) != fence);
                let is_added = !key(line).is_empty() && !known.contains(&state.hash_one(key(line)));
                if is_added {
                    out.lines.push(AddedLine { file: path.clone(), line: i + 1, text: line.to_string(), in_fence });
                    run = Some(run.map_or((i, i + 1), |(s, _)| (s, i + 1)));
                } else if let Some((s, e)) = run.take() {
                    out.regions.push(region(path, &lines, s, e));
                }
                match (fence, opens) {
                    (None, Some(o)) => fence = Some(o),
                    (Some(f), Some(o)) if f == o => fence = None,
                    _ => {}
                }
            }
            if let Some((s, e)) = run {
                out.regions.push(region(path, &lines, s, e));
            }
        }
        out
    }
}

fn region(path: &str, lines: &[&str], start: usize, end: usize) -> Region {
    let from = start.saturating_sub(1);
    let to = (end + 1).min(lines.len());
    Region { file: path.to_string(), first_line: from + 1, text: lines[from..to].join("\n") }
}

/// Searches over every byte of the live store.
pub struct LiveText<'a> {
    store: &'a Store,
}

impl<'a> LiveText<'a> {
    pub fn new(store: &'a Store) -> LiveText<'a> {
        LiveText { store }
    }

    /// For each needle, whether the live store contains it (ASCII case-insensitively when
    /// `fold_case`). With `whole`, a match must not continue a longer word or host name on
    /// either side (`example.net` is not in `myexample.net`). One pass over the store.
    pub fn contains(&self, needles: &[String], fold_case: bool, whole: bool) -> Vec<bool> {
        let mut found = vec![false; needles.len()];
        let wanted: Vec<usize> = (0..needles.len()).filter(|&i| !needles[i].is_empty()).collect();
        if wanted.is_empty() {
            return found;
        }
        let Ok(ac) = AhoCorasickBuilder::new()
            .ascii_case_insensitive(fold_case)
            .match_kind(MatchKind::Standard)
            .build(wanted.iter().map(|&i| needles[i].as_bytes()))
        else {
            return found;
        };
        for f in self.store.files.values() {
            scan(&ac, &f.bytes, whole, |pat| found[wanted[pat]] = true);
            if found.iter().all(|&b| b) {
                break;
            }
        }
        found
    }

    /// For each needle, how often the live store contains it (ASCII case-insensitively).
    pub fn count(&self, needles: &[String]) -> Vec<usize> {
        let mut counts = vec![0usize; needles.len()];
        let Ok(ac) = AhoCorasickBuilder::new().ascii_case_insensitive(true).build(needles.iter().map(|n| n.as_bytes())) else {
            return counts;
        };
        for f in self.store.files.values() {
            for m in ac.find_overlapping_iter(f.bytes.as_slice()) {
                counts[m.pattern().as_usize()] += 1;
            }
        }
        counts
    }

    /// For each needle (a word), up to `cap` live lines containing it (case-insensitively).
    pub fn lines_with(&self, needles: &[String], cap: usize) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = vec![Vec::new(); needles.len()];
        let wanted: Vec<usize> = (0..needles.len()).filter(|&i| !needles[i].is_empty()).collect();
        if wanted.is_empty() {
            return out;
        }
        let Ok(ac) = AhoCorasickBuilder::new().ascii_case_insensitive(true).build(wanted.iter().map(|&i| needles[i].as_bytes())) else {
            return out;
        };
        for f in self.store.files.values() {
            let bytes = &f.bytes;
            for m in ac.find_overlapping_iter(bytes.as_slice()) {
                let slot = &mut out[wanted[m.pattern().as_usize()]];
                if slot.len() >= cap {
                    continue;
                }
                // Rules are lines of a few hundred bytes; a longer "line" is not looked into
                // (and a huge one-line file must not be rescanned for every match).
                const REACH: usize = 4096;
                let from = m.start().saturating_sub(REACH);
                let to = (m.end() + REACH).min(bytes.len());
                let start = match bytes[from..m.start()].iter().rposition(|&b| b == b'\n') {
                    Some(i) => from + i + 1,
                    None if from == 0 => 0,
                    None => continue,
                };
                let end = match bytes[m.end()..to].iter().position(|&b| b == b'\n') {
                    Some(i) => m.end() + i,
                    None if to == bytes.len() => to,
                    None => continue,
                };
                let line = String::from_utf8_lossy(&bytes[start..end]).into_owned();
                if slot.last() != Some(&line) {
                    slot.push(line);
                }
            }
        }
        out
    }
}

fn scan(ac: &AhoCorasick, hay: &[u8], whole: bool, mut hit: impl FnMut(usize)) {
    let continues = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') || b >= 0x80;
    for m in ac.find_overlapping_iter(hay) {
        if whole {
            let before_ok = m.start() == 0 || !continues(hay[m.start() - 1]);
            // A trailing dot ends a sentence, not a host name.
            let after_ok = m.end() == hay.len()
                || !continues(hay[m.end()])
                || (hay[m.end()] == b'.' && hay.get(m.end() + 1).is_none_or(|&b| !b.is_ascii_alphanumeric()));
            if !(before_ok && after_ok) {
                continue;
            }
        }
        hit(m.pattern().as_usize());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryFile;

    fn store(files: &[(&str, &str)]) -> Store {
        let mut s = Store::default();
        for (p, t) in files {
            s.files.insert(p.to_string(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
        }
        s
    }

    #[test]
    fn added_lines_are_new_anywhere_in_the_store() {
        let live = store(&[("a.md", "- one\n- two\n"), ("b.md", "- three\n")]);
        let cand = store(&[("a.md", "- two\n- three\n  - one\n- four\n```sh\nls\n```\n"), ("c.json", "{\"k\": 1}\n")]);
        let a = Added::between(&live, &cand);
        let got: Vec<(&str, usize, &str, bool)> = a.lines.iter().map(|l| (l.file.as_str(), l.line, l.text.as_str(), l.in_fence)).collect();
        assert_eq!(
            got,
            vec![
                ("a.md", 4, "- four", false),
                ("a.md", 5, "```sh", false),
                ("a.md", 6, "ls", true),
                ("a.md", 7, "```", false),
                ("c.json", 1, "{\"k\": 1}", false)
            ]
        );
        assert_eq!(a.new_paths, vec!["c.json"]);
        assert_eq!(a.regions[0].text, "  - one\n- four\n```sh\nls\n```");
        assert!(Added::between(&live, &live).lines.is_empty());
    }

    #[test]
    fn live_text_searches() {
        let live = store(&[("a.md", "see example.net and Foo.example.org.\n- run `cargo test`\n")]);
        let t = LiveText::new(&live);
        let needles = vec!["example.net".to_string(), "ample.net".into(), "foo.example.org".into(), "evil.net".into()];
        assert_eq!(t.contains(&needles, true, true), vec![true, false, true, false]);
        assert_eq!(t.contains(&needles, true, false), vec![true, true, true, false]);
        assert_eq!(t.lines_with(&["CARGO".into(), String::new()], 5), vec![vec!["- run `cargo test`".to_string()], vec![]]);
        assert_eq!(t.count(&["example".into(), "zzz".into()]), vec![2, 0]);
    }
}
