//! Candidate pairs for near-duplicate and conflict checks without comparing all pairs.
//!
//! MinHash over each entry's content-word set with LSH banding (21 bands × 3 rows: a pair at
//! Jaccard 0.5 collides with probability 0.94, at 0.3 with 0.44, at 0.1 with 0.02), plus
//! exact keys that conflicts need: the entry's word sequence with one slot (outside its
//! subject) wildcarded ("port 8080" / "port 9090", "prefers npm" / "prefers pnpm"), and the
//! sequence with every path reduced to its file name (`src/x.ts` / `packages/a/src/x.ts`).
//! Candidates are only candidates: every pair is verified precisely by the caller.

use super::text::{Features, Token, ValueKind, Vocab};
use std::collections::HashMap;

pub const BANDS: usize = 21;
pub const ROWS: usize = 3;
pub const HASHES: usize = BANDS * ROWS;
/// A bucket this large is a template repeated many times (generated facts, tables), or an
/// attribute with more values than any single-valued one has; pairing it would be quadratic.
/// Such buckets are skipped and counted.
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

/// Candidate pairs `(i, j)` with `i < j`, sorted, over the entries that have features, for
/// callers without a vocabulary at hand (word ids stand in for word hashes; stable within
/// one call).
pub fn candidate_pairs(items: &[(u32, &Features)]) -> (Vec<(u32, u32)>, LshStats) {
    pairs_with(items, &|w| mix(w as u64 ^ 0xa076_1d64_78bd_642f))
}

/// Candidate pairs for the engine: near-duplicate candidates (MinHash bands) and conflict
/// candidates (exact keys: the entry with one slot wildcarded; paths reduced to file names).
/// Keys come from word hashes, so a dream of the dreamed store sees the same candidates.
pub fn candidates(items: &[(u32, &Features)], vocab: &Vocab) -> (Vec<(u32, u32)>, LshStats) {
    pairs_with(items, &|w| vocab.hash(w))
}

/// Memory matters at a million entries: keys are collected into one sorted column of
/// `(key, id)`, not a hash map of vectors.
fn pairs_with(items: &[(u32, &Features)], hash: &dyn Fn(u32) -> u64) -> (Vec<(u32, u32)>, LshStats) {
    let mut pairs = Vec::new();
    // Entries with the very same word sequence pair with the first of them directly (linear),
    // and only that first one gets keys, so a fact restated 500 times is no hot spot. Its
    // pairs are then shared with every copy.
    let mut reps: HashMap<&[Token], u32> = HashMap::with_capacity(items.len());
    let mut copies: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut column: Vec<(u64, u32)> = Vec::with_capacity(items.len() * (BANDS + 3));
    for &(id, f) in items {
        if f.set.is_empty() {
            continue;
        }
        if let Some(&rep) = reps.get(f.tokens.as_slice()) {
            pairs.push((rep.min(id), rep.max(id)));
            copies.entry(rep).or_default().push(id);
            continue;
        }
        reps.insert(f.tokens.as_slice(), id);
        keys(f, hash, |k| column.push((k, id)));
    }
    drop(reps);
    column.sort_unstable();
    let mut stats = LshStats::default();
    let mut rep_pairs = Vec::new();
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
                    rep_pairs.push((a.min(b), a.max(b)));
                }
            }
        }
    }
    rep_pairs.sort_unstable();
    rep_pairs.dedup();
    for (a, b) in rep_pairs {
        let group = |r: u32| std::iter::once(r).chain(copies.get(&r).into_iter().flatten().copied());
        for x in group(a) {
            for y in group(b) {
                pairs.push((x.min(y), x.max(y)));
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    stats.candidates = pairs.len();
    (pairs, stats)
}

/// Longest entry (in tokens) that gets one-slot keys: a paragraph is not a reworded fact.
const MAX_SLOTTED_TOKENS: usize = 64;

/// The bucket keys of an entry: one per band, one per slot a conflict could be in, and one
/// with paths reduced to their file names (files that moved).
fn keys(f: &Features, hash: &dyn Fn(u32) -> u64, mut emit: impl FnMut(u64)) {
    let hashes: Vec<u64> = f.set.iter().map(|&w| hash(w)).collect();
    let sig = signature_of(&hashes);
    for band in 0..BANDS {
        let mut h = mix(band as u64 + 1);
        for r in 0..ROWS {
            h = mix(h ^ sig[band * ROWS + r]);
        }
        emit(h);
    }
    let n = f.tokens.len();
    if !(2..=MAX_SLOTTED_TOKENS).contains(&n) {
        return;
    }
    let words: Vec<u64> = f.tokens.iter().map(|t| hash(t.word)).collect();
    for i in f.subject_end..n {
        let t = &f.tokens[i];
        if t.value == Some(ValueKind::Date) {
            continue;
        }
        let h = words.iter().enumerate().fold(mix(0x736c_6f74 ^ n as u64), |h, (j, &w)| mix(h ^ if j == i { 0x2a } else { w }));
        emit(h);
    }
    if f.tokens.iter().any(|t| t.file.is_some()) {
        let h = f.tokens.iter().zip(&words).fold(mix(0x7061_7468 ^ n as u64), |h, (t, &w)| mix(h ^ t.file.map_or(w, hash)));
        emit(h);
    }
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
