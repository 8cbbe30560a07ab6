//! The built-in engine on arbitrary stores; the properties are `dreamd::corpus::fuzz::consolidate`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dreamd::corpus::fuzz::consolidate(data));
