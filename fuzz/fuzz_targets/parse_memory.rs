//! Memory parsing and the tokenizer on arbitrary bytes: no panic, and a parsed file renders
//! back to the very same bytes.
#![no_main]

use dreamd::config::Layout;
use dreamd::engine::builtin::text::{features, Vocab};
use dreamd::memory::{normalize, parse_file, PinRules};
use dreamd::store::MemoryFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
