//! The features of every entry in a few flat arrays.
//!
//! A `Features` value is four heap allocations and ~20 bytes a token; a 100 MB store has 1.4
//! million entries and 11 million tokens. Here a token is 8 bytes in one shared array, an
//! entry 24 bytes of metadata, and the rare parts (a hedge, a path's file name) sit in side
//! tables. `get` gives back the very `Features` that was stored; `packed` gives an entry's
//! tokens as a slice that is equal for two entries exactly when their tokens are.

use super::text::{Features, Token, ValueKind};
use chrono::NaiveDate;

/// A token in 8 bytes: word, clause, value kind, flags. A token's file name follows from its
/// word and kind (see `text::Scan::push`), so equal packed tokens are equal tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackedToken {
    word: u32,
    clause: u16,
    value: u8,
    flags: u8,
}

const NEG: u8 = 1;
const LIST: u8 = 2;
const AFTER_COPULA: u8 = 4;
const FILE: u8 = 8;

const DATE_LEADING: u8 = 1;
const IMPERATIVE: u8 = 2;
const HEDGED: u8 = 4;

impl PackedToken {
    pub fn word(self) -> u32 {
        self.word
    }
}

fn kind_code(k: Option<ValueKind>) -> u8 {
    match k {
        None => 0,
        Some(ValueKind::Number) => 1,
        Some(ValueKind::Version) => 2,
        Some(ValueKind::Date) => 3,
        Some(ValueKind::Ident) => 4,
        Some(ValueKind::Name) => 5,
        Some(ValueKind::Code) => 6,
    }
}

fn kind_of(code: u8) -> Option<ValueKind> {
    match code {
        1 => Some(ValueKind::Number),
        2 => Some(ValueKind::Version),
        3 => Some(ValueKind::Date),
        4 => Some(ValueKind::Ident),
        5 => Some(ValueKind::Name),
        6 => Some(ValueKind::Code),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    start: usize,
    len: u32,
    subject_end: u32,
    date: Option<NaiveDate>,
    flags: u8,
}

#[derive(Debug, Default)]
pub struct FeatureStore {
    tokens: Vec<PackedToken>,
    meta: Vec<Meta>,
    /// (index in `tokens`, file-name word) of the tokens that are paths, in order.
    files: Vec<(usize, u32)>,
    /// (entry, hedge) of the entries that are not stated plainly, in order.
    hedges: Vec<(u32, Box<str>)>,
}

impl FeatureStore {
    pub fn push(&mut self, f: &Features) {
        let i = self.meta.len() as u32;
        let start = self.tokens.len();
        for t in &f.tokens {
            let mut flags = 0;
            for (on, bit) in [(t.neg, NEG), (t.list, LIST), (t.after_copula, AFTER_COPULA), (t.file.is_some(), FILE)] {
                if on {
                    flags |= bit;
                }
            }
            if let Some(file) = t.file {
                self.files.push((self.tokens.len(), file));
            }
            self.tokens.push(PackedToken { word: t.word, clause: t.clause, value: kind_code(t.value), flags });
        }
        let mut flags = 0;
        for (on, bit) in [(f.date_leading, DATE_LEADING), (f.imperative, IMPERATIVE), (f.hedge.is_some(), HEDGED)] {
            if on {
                flags |= bit;
            }
        }
        if let Some(h) = &f.hedge {
            self.hedges.push((i, h.as_str().into()));
        }
        // An entry of more than 4 billion tokens cannot be held in memory: the lengths fit.
        let len = u32::try_from(f.tokens.len()).unwrap_or(u32::MAX);
        let subject_end = u32::try_from(f.subject_end).unwrap_or(u32::MAX);
        self.meta.push(Meta { start, len, subject_end, date: f.date, flags });
    }

    pub fn len(&self) -> usize {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Entry `i`'s tokens, packed: equal slices are equal token sequences.
    pub fn packed(&self, i: usize) -> &[PackedToken] {
        let m = &self.meta[i];
        &self.tokens[m.start..m.start + m.len as usize]
    }

    pub fn hedged(&self, i: usize) -> bool {
        self.meta[i].flags & HEDGED != 0
    }

    pub fn date(&self, i: usize) -> Option<NaiveDate> {
        self.meta[i].date
    }

    /// Entry `i`'s distinct words, sorted (its `Features::set`), into `out`.
    pub fn set_into(&self, i: usize, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.packed(i).iter().map(|t| t.word));
        out.sort_unstable();
        out.dedup();
    }

    /// Entry `i`'s features, as they were pushed.
    pub fn get(&self, i: usize) -> Features {
        let m = self.meta[i];
        let tokens: Vec<Token> = self
            .packed(i)
            .iter()
            .enumerate()
            .map(|(k, t)| Token {
                word: t.word,
                value: kind_of(t.value),
                clause: t.clause,
                neg: t.flags & NEG != 0,
                list: t.flags & LIST != 0,
                after_copula: t.flags & AFTER_COPULA != 0,
                file: (t.flags & FILE != 0).then(|| self.file_of(m.start + k)).flatten(),
            })
            .collect();
        let mut set = Vec::with_capacity(tokens.len());
        self.set_into(i, &mut set);
        let hedge = (m.flags & HEDGED != 0)
            .then(|| self.hedges.binary_search_by_key(&(i as u32), |h| h.0).ok().map(|k| self.hedges[k].1.to_string()))
            .flatten();
        Features {
            tokens,
            set,
            date: m.date,
            date_leading: m.flags & DATE_LEADING != 0,
            subject_end: m.subject_end as usize,
            imperative: m.flags & IMPERATIVE != 0,
            hedge,
        }
    }

    fn file_of(&self, token: usize) -> Option<u32> {
        self.files.binary_search_by_key(&token, |f| f.0).ok().map(|k| self.files[k].1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::{features, Vocab};
    use super::*;

    #[test]
    fn features_come_back_as_they_went_in() {
        let mut vocab = Vocab::default();
        let texts = [
            "- [2026-05-01] Atlas status is blue",
            "- Unconfirmed: edge-worker is owned by Emeka",
            "- SSE (src/server/sse.ts, src/client/sse.ts) - legacy",
            "Checks: `make lint`, `make mypy` and `make test`",
            "Use pnpm for installs",
            "Don't use pnpm. Ever!",
            "",
            "- 日本語 🙂 état",
        ];
        let mut store = FeatureStore::default();
        let feats: Vec<Features> = texts.iter().map(|t| features(t, &mut vocab)).collect();
        for f in &feats {
            store.push(f);
        }
        assert_eq!(store.len(), feats.len());
        for (i, f) in feats.iter().enumerate() {
            assert_eq!(&store.get(i), f, "{}", texts[i]);
            assert_eq!(store.hedged(i), f.hedge.is_some());
            assert_eq!(store.date(i), f.date);
        }
        let again = features(texts[2], &mut vocab);
        store.push(&again);
        assert_eq!(store.packed(2), store.packed(texts.len()), "equal tokens, equal packed slices");
        assert_ne!(store.packed(0), store.packed(1));
    }

    proptest::proptest! {
        /// Any text: its features come back exactly, and two entries' packed tokens are equal
        /// exactly when their tokens are (the exact-duplicate key relies on it).
        #[test]
        fn packing_loses_nothing(a in "\\PC{0,80}", b in "(- )?(`[a-z/.]{1,12}` |[A-Za-z0-9é日?!.,:()\\[\\]-]{1,10} ){0,12}") {
            let mut vocab = Vocab::default();
            let (fa, fb) = (features(&a, &mut vocab), features(&b, &mut vocab));
            let mut store = FeatureStore::default();
            store.push(&fa);
            store.push(&fb);
            proptest::prop_assert_eq!(&store.get(0), &fa);
            proptest::prop_assert_eq!(&store.get(1), &fb);
            proptest::prop_assert_eq!(store.packed(0) == store.packed(1), fa.tokens == fb.tokens);
        }
    }
}
