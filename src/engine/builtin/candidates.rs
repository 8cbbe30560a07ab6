//! Which pairs of entries to verify, found exactly rather than by chance.
//!
//! Verification accepts only two shapes, and each has an exact index:
//! - a restatement (`near::covers`): one entry's words are a subset of the other's, so both
//!   contain the smaller entry's rarest word: every entry is paired with the entries that
//!   contain its rarest word;
//! - a conflict (`conflict::conflict`): the same word sequence but one slot (outside the
//!   subject) or one run of two or three values, or paths moved to another directory: keys
//!   are the sequence with that slot or run wildcarded, and with paths reduced to file names.
//!
//! Keys come from word hashes, so a dream of the dreamed store sees the same keys. Entries
//! with the very same words in the same order share one set of keys (a fact restated 500
//! times is no hot spot) and their pairs are given to every copy. A bucket or posting list
//! larger than `MAX_BUCKET` is skipped and counted (an attribute with more values than any
//! single-valued one has; a word in hundreds of entries): the caller then runs again on its
//! result, where it may be small enough.

use super::lsh::{bucket_pairs, mix, LshStats};
use super::packed::{FeatureStore, PackedToken};
use super::text::{Features, Token, ValueKind, Vocab};
use crate::engine::{Canceled, CancellationToken};
use std::collections::HashMap;

pub const MAX_BUCKET: usize = 256;
/// Longest entry (in tokens) that gets slot keys: a paragraph is not a reworded fact.
const MAX_SLOTTED_TOKENS: usize = 64;
/// Keys sorted at once, at most (16 bytes each): a store with more is keyed in several
/// passes, each over one share of the key space, so a 100 MB store does not hold 11 million
/// keys at once. Every key's bucket lies within one pass, so the pairs are the same.
const KEYS_PER_PASS: usize = 2 << 20;

/// Candidate pairs `(i, j)`, `i < j`, sorted, among the entries of `feats`.
pub fn candidates(feats: &FeatureStore, vocab: &Vocab, cancel: &CancellationToken) -> Result<(Vec<(u32, u32)>, LshStats), Canceled> {
    let mut pairs = Vec::new();
    // Entries with the very same tokens: the first is the representative.
    let mut reps: hashbrown::HashTable<u32> = hashbrown::HashTable::new();
    let mut copies: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut rep_items: Vec<u32> = Vec::new();
    for id in 0..feats.len() {
        super::check_every(id, cancel)?;
        let tokens = feats.packed(id);
        if tokens.is_empty() {
            continue;
        }
        let h = slice_hash(tokens);
        let id = id as u32;
        match reps.find(h, |&r| feats.packed(r as usize) == tokens) {
            Some(&rep) => {
                pairs.push((rep.min(id), rep.max(id)));
                copies.entry(rep).or_default().push(id);
            }
            None => {
                reps.insert_unique(h, id, |&r| slice_hash(feats.packed(r as usize)));
                rep_items.push(id);
            }
        }
    }
    drop(reps);
    let passes = key_passes(feats, vocab, &rep_items, cancel)?;
    let mut rep_pairs = Vec::new();
    let mut stats = LshStats::default();
    for pass in 0..passes {
        let mut column: Vec<(u64, u32)> = Vec::new();
        for (k, &id) in rep_items.iter().enumerate() {
            super::check_every(k, cancel)?;
            slot_keys(&feats.get(id as usize), &|w| vocab.hash(w), |key| {
                if key % passes as u64 == pass as u64 {
                    column.push((key, id))
                }
            });
        }
        let (p, s) = bucket_pairs(column, MAX_BUCKET);
        rep_pairs.extend(p);
        stats.oversized_buckets += s.oversized_buckets;
    }
    let oversized_postings = subset_pairs(feats, &rep_items, &mut rep_pairs);
    stats.oversized_buckets += oversized_postings;
    rep_pairs.sort_unstable();
    rep_pairs.dedup();
    for (k, (a, b)) in rep_pairs.into_iter().enumerate() {
        super::check_every(k, cancel)?;
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
    Ok((pairs, stats))
}

/// Candidates among plain features (the benchmark's comparison with other implementations).
pub fn candidates_of(items: &[Features], vocab: &Vocab, cancel: &CancellationToken) -> Result<(Vec<(u32, u32)>, LshStats), Canceled> {
    let mut feats = FeatureStore::default();
    for f in items {
        feats.push(f);
    }
    candidates(&feats, vocab, cancel)
}

fn slice_hash(tokens: &[PackedToken]) -> u64 {
    use std::hash::{Hash, Hasher};
    struct Mixer(u64);
    impl Hasher for Mixer {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = mix(self.0 ^ u64::from(*b));
            }
        }
        fn write_u8(&mut self, i: u8) {
            self.0 = mix(self.0 ^ u64::from(i));
        }
        fn write_u16(&mut self, i: u16) {
            self.0 = mix(self.0 ^ u64::from(i));
        }
        fn write_u32(&mut self, i: u32) {
            self.0 = mix(self.0 ^ u64::from(i));
        }
        fn write_usize(&mut self, i: usize) {
            self.0 = mix(self.0 ^ i as u64);
        }
    }
    let mut h = Mixer(0x7265_7073);
    tokens.hash(&mut h);
    h.finish()
}

/// How many passes the slot keys take (see `KEYS_PER_PASS`); 1 for all but the largest stores,
/// which are counted first.
fn key_passes(feats: &FeatureStore, vocab: &Vocab, reps: &[u32], cancel: &CancellationToken) -> Result<usize, Canceled> {
    let tokens: usize = reps.iter().map(|&id| feats.packed(id as usize).len()).sum();
    // An entry has at most 4 keys per token (a slot, two runs) plus one for its paths.
    if tokens * 4 + reps.len() <= KEYS_PER_PASS {
        return Ok(1);
    }
    let mut keys = 0usize;
    for (k, &id) in reps.iter().enumerate() {
        super::check_every(k, cancel)?;
        slot_keys(&feats.get(id as usize), &|w| vocab.hash(w), |_| keys += 1);
    }
    Ok(keys.div_ceil(KEYS_PER_PASS).max(1))
}

/// Each entry with the entries that contain its rarest word (and are at least as long).
/// Returns how many posting lists were too long to use.
fn subset_pairs(feats: &FeatureStore, items: &[u32], out: &mut Vec<(u32, u32)>) -> usize {
    let mut set = Vec::new();
    let mut df: Vec<u32> = Vec::new();
    let mut sizes: Vec<u32> = Vec::with_capacity(items.len());
    for &id in items {
        feats.set_into(id as usize, &mut set);
        if let Some(&max) = set.last() {
            if df.len() <= max as usize {
                df.resize(max as usize + 1, 0);
            }
        }
        for &w in &set {
            df[w as usize] += 1;
        }
        sizes.push(set.len() as u32);
    }
    let rarest: Vec<Option<u32>> = items
        .iter()
        .map(|&id| {
            feats.set_into(id as usize, &mut set);
            if set.len() < 2 {
                None
            } else {
                set.iter().copied().min_by_key(|&w| (df[w as usize], w))
            }
        })
        .collect();
    drop(df);
    let mut postings: HashMap<u32, Vec<u32>> = rarest.iter().flatten().map(|&w| (w, Vec::new())).collect();
    for (i, &id) in items.iter().enumerate() {
        feats.set_into(id as usize, &mut set);
        for w in &set {
            if let Some(p) = postings.get_mut(w) {
                p.push(i as u32);
            }
        }
    }
    let mut oversized = 0;
    for (i, r) in rarest.iter().enumerate() {
        let Some(p) = r.and_then(|w| postings.get(&w)) else { continue };
        if p.len() > MAX_BUCKET {
            oversized += 1;
            continue;
        }
        let a = items[i];
        for &j in p {
            let b = items[j as usize];
            if a != b && sizes[j as usize] >= sizes[i] {
                out.push((a.min(b), a.max(b)));
            }
        }
    }
    oversized
}

/// The exact conflict keys of an entry: each slot outside the subject wildcarded, each run of
/// two or three values wildcarded, and paths reduced to their file names.
pub fn slot_keys(f: &Features, hash: &dyn Fn(u32) -> u64, mut emit: impl FnMut(u64)) {
    let n = f.tokens.len();
    if !(2..=MAX_SLOTTED_TOKENS).contains(&n) {
        return;
    }
    let words: Vec<u64> = f.tokens.iter().map(|t| hash(t.word)).collect();
    let wildcard = |seed: u64, from: usize, len: usize| {
        words
            .iter()
            .enumerate()
            .fold(mix(seed ^ (n * 4 + len) as u64), |h, (j, &w)| mix(h ^ if (from..from + len).contains(&j) { 0x2a } else { w }))
    };
    let is_value = |t: &Token| t.value.is_some_and(|k| k != ValueKind::Date);
    for i in f.subject_end..n {
        if f.tokens[i].value != Some(ValueKind::Date) {
            emit(wildcard(0x736c_6f74, i, 1));
        }
        // Runs of two or three values changed together: `MySQL 8` → `Postgres 16`.
        for len in 2..=3 {
            if i + len <= n && f.tokens[i..i + len].iter().all(is_value) {
                emit(wildcard(0x7275_6e00, i, len));
            }
        }
    }
    if f.tokens.iter().any(|t| t.file.is_some()) {
        let h = f.tokens.iter().zip(&words).fold(mix(0x7061_7468 ^ n as u64), |h, (t, &w)| mix(h ^ t.file.map_or(w, hash)));
        emit(h);
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::features;
    use super::*;

    fn pairs(texts: &[&str]) -> Vec<(u32, u32)> {
        let mut v = Vocab::default();
        let fs: Vec<_> = texts.iter().map(|t| features(t, &mut v)).collect();
        candidates_of(&fs, &v, &CancellationToken::new()).unwrap().0
    }

    #[test]
    fn restatements_and_conflicts_are_always_candidates() {
        let p = pairs(&[
            "- Report-sync is owned by Emeka",
            "- Report-sync is owned by Emeka — ✅ confirmed again",
            "- edge-worker stores its data in MySQL 8",
            "- edge-worker stores its data in Postgres 16",
            "- SSE (src/server/sse.ts, src/client/sse.ts) - legacy",
            "- SSE (packages/server/src/server/sse.ts, packages/client/src/client/sse.ts) - legacy",
            "- The cafeteria closes at noon",
        ]);
        assert!(p.contains(&(0, 1)) && p.contains(&(2, 3)) && p.contains(&(4, 5)), "{p:?}");
        assert!(!p.iter().any(|&(a, b)| a == 6 || b == 6), "{p:?}");
    }

    #[test]
    fn copies_share_their_pairs_and_are_paired_linearly() {
        let mut texts = vec!["- billing listens on port 9090"];
        texts.extend(std::iter::repeat_n("- billing listens on port 8080", 300));
        let p = pairs(&texts);
        assert!(p.iter().filter(|&&(a, _)| a == 0).count() == 300, "every copy meets the conflicting entry");
        assert!(p.len() < 1000, "{}", p.len());
    }
}
