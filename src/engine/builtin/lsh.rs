//! Candidate pairs for near-duplicate and conflict checks without comparing all pairs.
//!
//! MinHash over each entry's content-word set with LSH banding (21 bands × 3 rows: a pair at
//! Jaccard 0.5 collides with probability 0.94, at 0.3 with 0.44, at 0.1 with 0.02), plus two
//! exact keys that conflicts need: the word set with values masked ("port 8080" / "port
//! 9090"), and the word set without its last word ("prefers npm" / "prefers pnpm").
//! Candidates are only candidates: every pair is verified precisely by the caller.

use super::text::{Features, ValueKind};
use std::collections::HashMap;

pub const BANDS: usize = 21;
pub const ROWS: usize = 3;
pub const HASHES: usize = BANDS * ROWS;
/// A bucket this large is a template repeated many times (generated facts, tables); pairing
/// it would be quadratic. Such buckets are skipped and counted.
pub const MAX_BUCKET: usize = 64;

/// splitmix64's finaliser: a fast, well-mixed 64-bit hash.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

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
    let mut sig = [u64::MAX; HASHES];
    for &w in set {
        let h = mix(w as u64 ^ 0xa076_1d64_78bd_642f);
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

/// Number of bucket keys per entry: the bands plus the two exact keys.
const KEYS: usize = BANDS + 2;

/// Candidate pairs `(i, j)` with `i < j`, sorted, over the entries that have features.
///
/// Memory matters at a million entries: each entry keeps only its `KEYS` bucket keys (not its
/// signature), and buckets are found by sorting one key column at a time, not by a hash map
/// of vectors.
pub fn candidate_pairs(items: &[(u32, &Features)]) -> (Vec<(u32, u32)>, LshStats) {
    let mut pairs = Vec::new();
    // Entries with the very same word set pair with the first of them directly (linear), and
    // only that first one goes into the buckets, so a fact restated 500 times is no hot spot.
    let mut reps: HashMap<&[u32], u32> = HashMap::with_capacity(items.len());
    let mut keyed: Vec<(u32, [u64; KEYS])> = Vec::with_capacity(items.len());
    for &(id, f) in items {
        if f.set.is_empty() {
            continue;
        }
        if let Some(&rep) = reps.get(f.set.as_slice()) {
            pairs.push((rep.min(id), rep.max(id)));
            continue;
        }
        reps.insert(f.set.as_slice(), id);
        keyed.push((id, keys(f)));
    }
    drop(reps);
    let mut stats = LshStats::default();
    let mut column: Vec<(u64, u32)> = Vec::with_capacity(keyed.len());
    for k in 0..KEYS {
        column.clear();
        column.extend(keyed.iter().filter(|(_, ks)| ks[k] != 0).map(|(id, ks)| (ks[k], *id)));
        column.sort_unstable();
        for run in column.chunk_by(|a, b| a.0 == b.0) {
            if run.len() < 2 {
                continue;
            }
            if run.len() > MAX_BUCKET {
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
    }
    pairs.sort_unstable();
    pairs.dedup();
    stats.candidates = pairs.len();
    (pairs, stats)
}

/// The bucket keys of an entry (0 = no key): one per band, then the two exact keys.
fn keys(f: &Features) -> [u64; KEYS] {
    let mut out = [0u64; KEYS];
    let sig = signature(&f.set);
    for (band, slot) in out.iter_mut().enumerate().take(BANDS) {
        let mut h = mix(band as u64 + 1);
        for r in 0..ROWS {
            h = mix(h ^ sig[band * ROWS + r]);
        }
        *slot = h | 1;
    }
    // Numbers and versions masked: "port 8080" / "port 9090" collide exactly. Names and
    // identifiers stay: they are usually the subject, and masking them makes hot buckets.
    let mut masked: Vec<u64> = f
        .tokens
        .iter()
        .filter(|t| !matches!(t.value, Some(ValueKind::Number | ValueKind::Version | ValueKind::Date)))
        .map(|t| t.word as u64)
        .collect();
    if masked.len() >= 2 {
        masked.sort_unstable();
        masked.dedup();
        out[BANDS] = mix(fold(&masked) ^ 0x6d61_736b) | 1;
    }
    // Last word dropped: "prefers npm" / "prefers pnpm".
    if let Some(last) = f.tokens.last() {
        let rest: Vec<u64> = f.set.iter().filter(|&&w| w != last.word).map(|&w| w as u64).collect();
        if rest.len() >= 2 {
            out[BANDS + 1] = mix(fold(&rest) ^ 0x6c61_7374) | 1;
        }
    }
    out
}

fn fold(xs: &[u64]) -> u64 {
    xs.iter().fold(0x1234_5678_u64, |h, &x| mix(h ^ x))
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
    fn oversized_buckets_are_skipped_and_identical_sets_pair_linearly() {
        let mut v = Vocab::default();
        let fs: Vec<_> = (0..200).map(|i| features(&format!("service listens on port {} today", 8000 + i), &mut v)).collect();
        let items: Vec<_> = fs.iter().enumerate().map(|(i, f)| (i as u32, f)).collect();
        let (pairs, stats) = candidate_pairs(&items);
        assert!(pairs.len() < 200 * 199 / 4, "a repeated template is not paired all with all: {}", pairs.len());
        assert!(stats.oversized_buckets > 0);
        let fs: Vec<_> = (0..200).map(|_| features("same words every time here", &mut v)).collect();
        let items: Vec<_> = fs.iter().enumerate().map(|(i, f)| (i as u32, f)).collect();
        let (pairs, _) = candidate_pairs(&items);
        assert_eq!(pairs.len(), 199);
        assert!(pairs.iter().all(|&(a, _)| a == 0));
    }
}
