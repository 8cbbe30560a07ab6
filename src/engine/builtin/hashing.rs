//! The one 64-bit mixing function the engine's hashes share (word hashes, MinHash seeds,
//! candidate keys); its own module so that `text` and `lsh` need not import each other.

/// splitmix64's finaliser: a fast, well-mixed 64-bit hash.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
