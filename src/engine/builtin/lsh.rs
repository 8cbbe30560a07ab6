//! MinHash over an entry's content-word set with LSH banding (21 bands × 3 rows: a pair at
//! Jaccard 0.5 collides with probability 0.94, at 0.3 with 0.44, at 0.1 with 0.02).
//!
//! The engine does not rely on it: a 6% chance of missing a restatement at Jaccard 0.5 is a
//! duplicate left behind, and a missed pair that a second dream finds breaks the fixed point.
//! Its candidates come from exact indexes instead (`candidates.rs`). This LSH serves the loss
//! guard (does any candidate entry cover a live one?) and the comparison with datasketch.

use super::text::Features;

pub const BANDS: usize = 21;
pub const ROWS: usize = 3;
pub const HASHES: usize = BANDS * ROWS;
/// A bucket this large is a template repeated many times (generated facts, tables), or an
/// attribute with more values than any single-valued one has; pairing it would be quadratic.
/// Such buckets are skipped and counted.
pub const MAX_BUCKET: usize = 64;

pub use super::hashing::mix;

const SEEDS: [u64; HASHES] = {
    let mut s = [0u64; HASHES];
    let mut i = 0;
    let mut x: u64 = 0x5eed;
    while i < HASHES {
        // splitmix64 step, const-evaluated.
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        s[i] = z ^ (z >> 31);
        i += 1;
    }
    s
};

/// The MinHash signature of a set of (interned) words.
pub fn signature(set: &[u32]) -> [u64; HASHES] {
    let hashes: Vec<u64> = set.iter().map(|&w| mix(w as u64 ^ 0xa076_1d64_78bd_642f)).collect();
    signature_of(&hashes)
}

/// The MinHash signature of a set of word hashes.
pub fn signature_of(hashes: &[u64]) -> [u64; HASHES] {
    let mut sig = [u64::MAX; HASHES];
    for &h in hashes {
        for (s, seed) in sig.iter_mut().zip(SEEDS.iter()) {
            let v = mix(h ^ seed);
            if v < *s {
                *s = v;
            }
        }
    }
    sig
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LshStats {
    pub candidates: usize,
    pub oversized_buckets: usize,
}

/// Candidate pairs `(i, j)` with `i < j`, sorted: entries whose MinHash signatures share a
/// band. Word ids stand in for word hashes (stable within one call). Used by the loss guard
/// and by the benchmark that compares this LSH with datasketch's; the engine itself finds its
/// candidates exactly (`candidates.rs`).
pub fn candidate_pairs(items: &[(u32, &Features)]) -> (Vec<(u32, u32)>, LshStats) {
    band_pairs(items, &|w| mix(w as u64 ^ 0xa076_1d64_78bd_642f), MAX_BUCKET)
}

/// The same with content hashes of the words (stable across stores) and a bucket cap of
/// one's choice (`usize::MAX`: none, as datasketch has none).
pub fn band_pairs(items: &[(u32, &Features)], hash: &dyn Fn(u32) -> u64, max_bucket: usize) -> (Vec<(u32, u32)>, LshStats) {
    let mut column: Vec<(u64, u32)> = Vec::with_capacity(items.len() * BANDS);
    for &(id, f) in items {
        if f.set.is_empty() {
            continue;
        }
        let hashes: Vec<u64> = f.set.iter().map(|&w| hash(w)).collect();
        let sig = signature_of(&hashes);
        for band in 0..BANDS {
            let mut h = mix(band as u64 + 1);
            for r in 0..ROWS {
                h = mix(h ^ sig[band * ROWS + r]);
            }
            column.push((h, id));
        }
    }
    bucket_pairs(column, max_bucket)
}

/// Pairs of ids that share a key, from a column of `(key, id)`; buckets larger than `max`
/// are skipped and counted. Memory matters at a million entries: one sorted column, not a
/// hash map of vectors.
pub fn bucket_pairs(mut column: Vec<(u64, u32)>, max: usize) -> (Vec<(u32, u32)>, LshStats) {
    column.sort_unstable();
    let mut stats = LshStats::default();
    let mut pairs = Vec::new();
    for run in column.chunk_by(|a, b| a.0 == b.0) {
        if run.len() < 2 {
            continue;
        }
        if run.len() > max {
            stats.oversized_buckets += 1;
            continue;
        }
        for (x, &(_, a)) in run.iter().enumerate() {
            for &(_, b) in &run[x + 1..] {
                if a != b {
                    pairs.push((a.min(b), a.max(b)));
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    stats.candidates = pairs.len();
    (pairs, stats)
}

/// Estimated Jaccard similarity from two signatures.
pub fn estimate(a: &[u64; HASHES], b: &[u64; HASHES]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / HASHES as f64
}

#[cfg(test)]
mod tests {
    use super::super::text::{features, Vocab};
    use super::*;

    #[test]
    fn similar_sets_collide_and_unrelated_ones_do_not() {
        let mut v = Vocab::default();
        let texts = [
            "Deploys go through ArgoCD after review by the platform team",
            "Note: deploys go through ArgoCD after review by the platform team (as discussed)",
            "The cafeteria closes at noon on Fridays",
            "billing listens on port 8080",
            "billing listens on port 9090",
            "The user prefers npm",
            "The user prefers pnpm",
        ];
        let fs: Vec<_> = texts.iter().map(|t| features(t, &mut v)).collect();
        let items: Vec<_> = fs.iter().enumerate().map(|(i, f)| (i as u32, f)).collect();
        let (pairs, _) = candidate_pairs(&items);
        assert!(pairs.contains(&(0, 1)));
        assert!(pairs.contains(&(3, 4)));
        assert!(pairs.contains(&(5, 6)));
        assert!(!pairs.iter().any(|&(a, b)| a == 2 || b == 2));
        assert!(estimate(&signature(&fs[0].set), &signature(&fs[1].set)) > 0.5);
    }

    #[test]
    fn oversized_buckets_are_skipped() {
        let mut v = Vocab::default();
        let fs: Vec<_> = (0..200).map(|i| features(&format!("service listens on port {} today", 8000 + i), &mut v)).collect();
        let items: Vec<_> = fs.iter().enumerate().map(|(i, f)| (i as u32, f)).collect();
        let (pairs, stats) = candidate_pairs(&items);
        assert!(pairs.len() < 200 * 199 / 4, "a repeated template is not paired all with all: {}", pairs.len());
        assert!(stats.oversized_buckets > 0);
    }
}
