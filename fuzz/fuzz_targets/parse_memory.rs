//! Memory parsing and the tokenizer on arbitrary bytes; the properties are
//! `dreamd::corpus::fuzz::parse_memory`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dreamd::corpus::fuzz::parse_memory(data));
