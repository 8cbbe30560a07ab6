//! The properties the `cargo fuzz` targets (`fuzz/`) check, here so that they compile and run
//! with every `cargo test` (the fuzz crate is a workspace of its own and would rot unseen).

use super::quality::{dream, removals};
use crate::config::Layout;
use crate::engine::builtin::text::{features, Vocab};
use crate::memory::{normalize, parse_file, parse_store, PinRules};
use crate::store::{MemoryFile, Store};

/// Memory parsing and the tokenizer on arbitrary bytes: no panic, and a parsed file renders
/// back to the very same bytes.
pub fn parse_memory(data: &[u8]) {
    let file = MemoryFile { bytes: data.to_vec(), mtime: None };
    for (path, layout) in [("MEMORY.md", Layout::ClaudeCode), ("notes.md", Layout::Generic)] {
        let parsed = parse_file(path, &file, layout, &PinRules::default());
        if let Some(text) = parsed.render() {
            assert_eq!(text.as_bytes(), data, "render is the inverse of parsing");
        }
        let mut vocab = Vocab::default();
        for b in parsed.blocks() {
            let f = features(b.text(), &mut vocab);
            assert!(f.subject_end <= f.tokens.len());
            let _ = normalize(b.text());
        }
    }
}

const NAMES: &[&str] = &["MEMORY.md", "a.md", "notes.md", "日本.md"];

/// The built-in engine on an arbitrary store: no panic, the same input gives the same bytes,
/// pinned entries stay, the verifier accounts for every removal, and a second dream removes
/// nothing more. `data`: up to four files split at 0xFF (never inside UTF-8 text); each part's
/// first byte picks an mtime day (or none).
pub fn consolidate(data: &[u8]) {
    let mut store = Store::default();
    for (i, part) in data.split(|&b| b == 0xff).take(NAMES.len()).enumerate() {
        let (day, bytes) = part.split_first().map_or((0, part), |(d, rest)| (*d, rest));
        let mtime = (day % 32 != 0)
            .then(|| chrono::DateTime::parse_from_rfc3339(&format!("2026-05-{:02}T09:00:00Z", 1 + day % 28)).ok())
            .flatten()
            .map(Into::into);
        store.files.insert(NAMES[i].to_string(), MemoryFile { bytes: bytes.to_vec(), mtime });
    }
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z").expect("a constant date").into();
    let (a, ra) = dream(&store, Vec::new(), now);
    let (b, rb) = dream(&store, Vec::new(), now);
    assert_eq!(a, b, "deterministic");
    assert_eq!(ra, rb);
    let (files, _) = parse_store(&store, Layout::ClaudeCode, &PinRules::default());
    for f in &files {
        for blk in f.blocks().iter().filter(|b| b.pinned) {
            let out = a.files.get(&f.path).and_then(|x| x.text()).unwrap_or("");
            assert!(out.contains(blk.text()), "pinned entry lost");
        }
    }
    let lost = crate::verify::lost(&store, &a, &ra);
    assert!(lost.is_empty(), "removed without a reason the verifier accepts: {lost:?}");
    let (_, again) = dream(&a, Vec::new(), now);
    assert_eq!(removals(&again), 0, "a second dream removed more");
}

#[cfg(test)]
mod tests {
    /// The fuzzers' checks on what they found before, and on a few thousand pseudo-random
    /// inputs built from memory-shaped pieces (the fuzzers themselves run as `docs/fuzzing.md` says).
    #[test]
    fn the_fuzz_properties_hold_on_known_and_pseudo_random_inputs() {
        let found: &[&[u8]] = &[
            b"_\n- e\r\n\r\ne",
            b"- \xc3\xbcber alles\n",
            b"- a\n\xff\x05- a\n",
            b"\xff\xff\xff",
            // NULs inside a code span of a real CLAUDE.md (`cargo fuzz`, 2026-11-26).
            include_bytes!("fuzz_found/nul_in_code_span"),
            // A link target changed in a table-of-contents line (`cargo fuzz`, 2026-11-26).
            include_bytes!("fuzz_found/link_target_changed"),
            // The same line in MEMORY.md (a stale pointer) and in a notes file (a date-only
            // duplicate): the verifier took one claim for the other (`cargo fuzz`, 2026-11-26).
            include_bytes!("fuzz_found/same_line_two_fates"),
        ];
        for data in found {
            super::parse_memory(data);
            super::consolidate(data);
        }
        let pieces: &[&[u8]] = &[
            b"- ",
            b"\n",
            b"\r\n",
            b"\xff",
            b"port 8080",
            b"port 9090",
            b"billing ",
            b"(2026-05-02) ",
            b"<!-- pinned -->",
            b"# H\n",
            b"---\nmodified: 2026-05-01\n---\n",
            b"\xe2\x9c\x85",
            b"\xcc\x81",
            b"`x`",
            b"[a](a.md)",
            b"\0",
            b" ",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..1500 {
            let mut data = Vec::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                data.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            super::parse_memory(&data);
            super::consolidate(&data);
        }
    }
}
