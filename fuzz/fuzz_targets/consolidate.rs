//! The built-in engine on arbitrary stores: no panic, the same input gives the same bytes,
//! pinned entries stay, nothing leaves without a recorded reason, and a second dream removes
//! nothing more.
#![no_main]

use dreamd::config::Layout;
use dreamd::corpus::quality::{dream, removals};
use dreamd::memory::{parse_store, PinRules};
use dreamd::store::{MemoryFile, Store};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &["MEMORY.md", "a.md", "notes.md", "日本.md"];

fuzz_target!(|data: &[u8]| {
    // Up to four files, split at 0xFF (never valid UTF-8, so never inside a file's text);
    // the first byte of each part picks an mtime day (or none).
    let mut store = Store::default();
    for (i, part) in data.split(|&b| b == 0xff).take(NAMES.len()).enumerate() {
        let (day, bytes) = part.split_first().map_or((0, part), |(d, rest)| (*d, rest));
        let mtime = (day % 32 != 0)
            .then(|| chrono::DateTime::parse_from_rfc3339(&format!("2026-05-{:02}T09:00:00Z", 1 + day % 28)).ok())
            .flatten()
            .map(Into::into);
        store.files.insert(NAMES[i].to_string(), MemoryFile { bytes: bytes.to_vec(), mtime });
    }
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z").unwrap().into();
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
    let cand = parse_store(&a, Layout::ClaudeCode, &PinRules::default()).0;
    assert!(dreamd::loss::classify(&files, &cand, &ra).dropped.is_empty(), "dropped without a reason");
    let (_, again) = dream(&a, Vec::new(), now);
    assert_eq!(removals(&again), 0, "a second dream removed more");
});
