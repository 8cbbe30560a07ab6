//! What an entry says, as data: content tokens, the values it states, its subject, its own
//! date, and whether it is stated plainly.
//!
//! Every near-duplicate and conflict decision is made on these features, never on raw text.
//! Tokenising is a hand-written scan (no per-entry regex) because it runs on every entry; it
//! works on chars (`words.rs`), so any Unicode is safe.

use super::lexicon::{self, FILLER_PREFIXES};
pub use super::lexicon::{is_negation, is_single_valued, is_stopword};
use super::words::{clean_word, pieces, strip_emphasis, value_kind, Piece};
pub use super::words::{parse_iso_date, ValueKind};
use chrono::{Datelike, NaiveDate};

/// Interned words: entries hold `u32`s, so a million entries do not hold ten million strings.
/// Each word also has a hash of its text, so MinHash signatures and exact keys depend on what
/// the store says, not on the order words were first seen (a second dream sees the same keys).
///
/// Every word is stored once, in one string: a store of a million distinct subjects costs
/// its words' bytes plus 20 bytes each, not three heap strings each.
#[derive(Default)]
pub struct Vocab {
    text: String,
    /// Where word `i` ends in `text` (it starts where word `i - 1` ends).
    ends: Vec<usize>,
    hashes: Vec<u64>,
    /// Word ids, found by the word's hash and compared by text (two words with the same hash
    /// stay two words).
    ids: hashbrown::HashTable<u32>,
}

impl std::fmt::Debug for Vocab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocab").field("words", &self.ends.len()).finish()
    }
}

impl Vocab {
    pub fn intern(&mut self, w: &str) -> u32 {
        let h = stable_hash(w);
        if let Some(&id) = self.ids.find(h, |&id| self.word(id) == w) {
            return id;
        }
        let id = self.ends.len() as u32;
        self.text.push_str(w);
        self.ends.push(self.text.len());
        self.hashes.push(h);
        let hashes = &self.hashes;
        self.ids.insert_unique(h, id, |&i| hashes[i as usize]);
        id
    }
    pub fn get(&self, w: &str) -> Option<u32> {
        self.ids.find(stable_hash(w), |&id| self.word(id) == w).copied()
    }
    pub fn word(&self, id: u32) -> &str {
        let i = id as usize;
        let Some(&end) = self.ends.get(i) else { return "" };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..end]
    }
    /// The word's content hash (0 for an unknown id).
    pub fn hash(&self, id: u32) -> u64 {
        self.hashes.get(id as usize).copied().unwrap_or(0)
    }
    /// How many distinct words.
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// FNV-1a over the bytes, finished with splitmix64: stable across runs and platforms.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    super::hashing::mix(h)
}

/// One content token of an entry, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token {
    /// Interned lowercased word, surrounding punctuation removed (sigils kept); for a code span,
    /// its whole content.
    pub word: u32,
    pub value: Option<ValueKind>,
    /// Index of the clause (split at `.;,—(` and friends) the token sits in.
    pub clause: u16,
    /// A negation or restriction word ("not", "never", "except").
    pub neg: bool,
    /// One of two or more values listed together ("`a`, `b` and `c`").
    pub list: bool,
    /// Right after a copula ("status is *blue*").
    pub after_copula: bool,
    /// For a path (`src/server/sse.ts`), its file name (`sse.ts`): a moved file keeps it.
    pub file: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    pub tokens: Vec<Token>,
    /// Distinct content words, sorted: the set near-duplicate checks compare.
    pub set: Vec<u32>,
    /// The entry's own date: a leading ISO date, `(2026-06-01)`, `as of 2026-06-01`, `updated 2026-06-01`.
    pub date: Option<NaiveDate>,
    /// The date opens the entry (a journal line: "2026-06-01: deploy failed"), so it names an event.
    pub date_leading: bool,
    /// `tokens[..subject_end]` name what the entry is about (its first words, up to the first
    /// verb of its first clause). A value there is a subject, never a conflicting value.
    pub subject_end: usize,
    /// The entry opens with a verb ("Use pnpm", "Ask Alice before …").
    pub imperative: bool,
    /// Why the claim is not plain: a hedge ("might"), an attribution ("reportedly"), a
    /// proposal, a question, or an explicit past date ("as of 2019").
    pub hedge: Option<String>,
}

impl Features {
    /// Values in order of appearance, annotation dates excluded.
    pub fn values(&self) -> impl Iterator<Item = (u32, ValueKind)> + '_ {
        self.tokens.iter().filter_map(|t| t.value.map(|k| (t.word, k)))
    }
    pub fn is_value(&self, word: u32) -> bool {
        self.tokens.iter().any(|t| t.word == word && t.value.is_some())
    }
    /// The words of each clause in order, clauses sorted: equal for "X, Y" and "Y, X" but not
    /// for "tabs over spaces" and "spaces over tabs".
    pub fn clauses(&self) -> Vec<Vec<u32>> {
        let mut out: Vec<Vec<u32>> = Vec::new();
        let mut current: Option<u16> = None;
        for t in &self.tokens {
            if current != Some(t.clause) {
                out.push(Vec::new());
                current = Some(t.clause);
            }
            if let Some(last) = out.last_mut() {
                last.push(t.word);
            }
        }
        out.sort();
        out
    }
}

/// Strip list marker, pin marker, filler openers. Returns the remaining text.
pub fn strip_filler(text: &str) -> &str {
    let mut s = strip_marker(text.trim_start());
    loop {
        let t = s.trim_start();
        let mut stripped = false;
        for p in FILLER_PREFIXES {
            if t.len() >= p.len() && t.is_char_boundary(p.len()) && t[..p.len()].eq_ignore_ascii_case(p) {
                let rest = &t[p.len()..];
                // A whole word: "FYIs" or "notes" are not filler.
                if p.ends_with([':', ',', '.']) || rest.is_empty() || rest.starts_with([' ', ':', ',', '\t']) {
                    s = rest.trim_start_matches([':', ',', ' ', '\t', '-']);
                    stripped = true;
                    break;
                }
            }
        }
        if !stripped {
            return t;
        }
    }
}

/// `[2026-05-01] rest`, `2026-05-01: rest`, `2026-05-01 — rest`: the date and the rest.
fn split_leading_date(s: &str) -> Option<(&str, &str)> {
    let t = s.trim_start();
    let (inner, after) = match t.strip_prefix('[') {
        Some(r) => (r.get(..10)?, r.get(10..)?.strip_prefix(']')?),
        None => (t.get(..10)?, t.get(10..)?),
    };
    parse_iso_date(inner)?;
    let rest = after.trim_start_matches([':', ' ', '\t', '—', '–', '-']);
    (rest.len() < after.len() || after.is_empty()).then(|| (&t[..t.len() - after.len()], rest))
}

/// Remove a leading `- `, `* `, `+ `, `1. ` marker (and a checkbox).
pub fn strip_marker(s: &str) -> &str {
    let t = s.trim_start();
    let rest = if let Some(r) = t.strip_prefix(['-', '*', '+']) {
        if r.starts_with([' ', '\t']) {
            r
        } else {
            return t;
        }
    } else {
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && digits < 10 && t[digits..].starts_with(['.', ')']) && t[digits + 1..].starts_with([' ', '\t']) {
            &t[digits + 1..]
        } else {
            return t;
        }
    };
    let rest = rest.trim_start();
    rest.strip_prefix("[ ] ").or_else(|| rest.strip_prefix("[x] ")).unwrap_or(rest)
}

/// The interned ids of the known words of a free text (a transcript message), sorted, distinct.
/// Same word cleaning as `features`; words the vocab does not know cannot confirm anything.
pub fn known_words(text: &str, vocab: &Vocab, out: &mut Vec<u32>) {
    out.clear();
    let mut buf = String::new();
    for raw in text.split_whitespace() {
        let w = raw.trim_matches(|c: char| !c.is_alphanumeric());
        if w.is_empty() || w.len() > 64 {
            continue;
        }
        buf.clear();
        buf.extend(w.chars().filter(|c| !matches!(c, '*' | '`' | '~')).flat_map(char::to_lowercase));
        if let Some(id) = vocab.get(&buf) {
            out.push(id);
        }
    }
    out.sort_unstable();
    out.dedup();
}

const CLAUSE_BREAKS: &[char] = &['.', ';', '(', ')', '—', '–', '!', '?', ':', ','];
const COPULAS: &[&str] = &["is", "are", "was", "were", "be", "=", "equals", "becomes", "->", "→"];

/// The scan state of `features`.
struct Scan<'v> {
    vocab: &'v mut Vocab,
    f: Features,
    clause: u16,
    clause_start: bool,
    /// The previous raw word, cleaned and lowercased (stopwords included).
    prev: String,
    /// The one before it ("as" in "as of 2019").
    prev2: String,
    /// The previous raw word became a token.
    prev_pushed: bool,
    prev_open_paren: bool,
    /// No word seen yet.
    first: bool,
    subject_end: Option<usize>,
    pending_copula: bool,
    /// The last value token, while only list connectors (`,`, "and", "or") followed it.
    list_prev: Option<usize>,
    list_connector: bool,
}

impl Scan<'_> {
    fn break_clause(&mut self) {
        self.clause = self.clause.saturating_add(1);
        self.clause_start = true;
        self.pending_copula = false;
    }

    /// A comma ends a clause but not a list ("`a`, `b`").
    fn break_clause_at(&mut self, raw: &str) {
        let (lp, lc) = (self.list_prev, self.list_connector);
        self.break_clause();
        if raw.ends_with(',') {
            (self.list_prev, self.list_connector) = (lp, lc);
        }
    }

    fn push(&mut self, lower: &str, value: Option<ValueKind>) {
        let id = self.vocab.intern(lower);
        let neg = value.is_none() && is_negation(lower);
        let idx = self.f.tokens.len();
        let mut list = false;
        if value.is_some() {
            if let (Some(p), true) = (self.list_prev, self.list_connector) {
                if let Some(t) = self.f.tokens.get_mut(p) {
                    t.list = true;
                }
                list = true;
            }
            self.list_prev = Some(idx);
            self.list_connector = false;
        } else {
            self.list_prev = None;
        }
        let after_copula = std::mem::take(&mut self.pending_copula);
        let file = match value {
            Some(ValueKind::Ident | ValueKind::Code) if lower.contains('/') && !lower.contains(char::is_whitespace) => {
                let name = lower.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                (name.chars().count() >= 2).then(|| self.vocab.intern(name))
            }
            _ => None,
        };
        self.f.tokens.push(Token { word: id, value, clause: self.clause, neg, list, after_copula, file });
        self.clause_start = false;
    }

    /// The subject ends before the first predicate of the first clause.
    fn note_predicate(&mut self, lower: &str, is_first: bool) {
        // The first clause is the one of the first content word (a leading date is no clause).
        let first_clause = self.f.tokens.first().is_none_or(|t| t.clause == self.clause);
        if !first_clause || self.subject_end.is_some() {
            return;
        }
        if is_first && lexicon::is_imperative(lower) {
            self.f.imperative = true;
            self.subject_end = Some(self.f.tokens.len());
        } else if lexicon::is_predicate(lower) || lower == "=" {
            self.subject_end = Some(self.f.tokens.len());
        }
    }

    /// Hedge words say how sure the claim is, not what it claims: they are noted and left out
    /// of the tokens, so "Unconfirmed: X is owned by Emeka" lines up with "X is owned by Dana".
    /// Returns whether the word was one.
    fn hedge(&mut self, lower: &str) -> bool {
        let pair = lexicon::HEDGE_PAIRS.iter().any(|&(a, b)| a == self.prev && b == lower);
        if !lexicon::is_hedge(lower) && !pair {
            return false;
        }
        if pair && self.f.tokens.last().is_some_and(|t| self.vocab.word(t.word) == self.prev && self.prev_pushed) {
            self.f.tokens.pop();
        }
        if self.f.hedge.is_none() {
            self.f.hedge = Some(if pair { format!("{} {lower}", self.prev) } else { lower.to_string() });
        }
        true
    }

    fn code(&mut self, content: &str) {
        let text: String = content.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return;
        }
        let is_first = std::mem::take(&mut self.first);
        let lower = text.to_lowercase();
        self.note_predicate("", is_first);
        self.push(&lower, Some(ValueKind::Code));
        self.prev2 = std::mem::take(&mut self.prev);
        self.prev = lower;
        self.prev_pushed = true;
        self.prev_open_paren = false;
    }

    fn prose_word(&mut self, raw: &str) {
        if raw == crate::memory::PIN_MARKER || raw == "<!--" || raw == "-->" || raw == "pinned" && self.prev == "<!--" {
            self.prev = raw.to_string();
            return;
        }
        if matches!(raw, "—" | "–" | "-" | "→" | "->" | "=>") && !(self.first && raw == "→") {
            self.break_clause();
            self.list_prev = None;
            if matches!(raw, "→" | "->" | "=>") {
                self.pending_copula = true;
            }
            return;
        }
        if self.first && lexicon::DECORATIONS.contains(&raw) || raw != "→" && lexicon::DECORATIONS.contains(&raw) {
            return; // formatting, like a checkbox (an arrow inside a line reads "becomes")
        }
        let opens_paren = raw.starts_with('(');
        let word = clean_word(raw);
        // A final `?` that is a sigil (`sessionId?`) ends nothing.
        let ends_clause = raw.ends_with(CLAUSE_BREAKS) && (word.is_empty() || !raw.ends_with(word));
        if opens_paren {
            self.break_clause();
        }
        if word.is_empty() {
            if raw.ends_with(',') && self.list_prev.is_some() {
                self.list_connector = true;
            }
            self.prev_open_paren = raw == "(" || opens_paren;
            if ends_clause {
                self.break_clause_at(raw);
            }
            return;
        }
        // A symbol (`✅`, `•`) is a token but does not open the sentence: "✅ Use pnpm" is an imperative.
        let symbol = !word.chars().any(char::is_alphanumeric);
        let was_first = std::mem::take(&mut self.first);
        let is_first = was_first && !symbol;
        if symbol {
            self.first = was_first;
        }
        let lower = word.to_lowercase();
        self.note_predicate(&lower, is_first);
        let pushed_before = self.f.tokens.len();
        let year = self.prev == "of" && self.prev2 == "as" && lower.len() == 4 && lower.chars().all(|c| c.is_ascii_digit());
        if self.hedge(&lower) {
            // "Unconfirmed: use pnpm" still opens with its verb.
            self.first = is_first;
            self.list_prev = None;
        } else if let Some(d) = parse_iso_date(word).filter(|_| word.len() == 10) {
            self.date(word, d, is_first, opens_paren);
            // "[2026-05-01] Use pnpm": the entry still opens with its verb.
            self.first = is_first && self.f.date == Some(d);
        } else if year {
            // "as of 2019" dates the claim (an annotation, like an ISO date).
            self.note_past_year(&lower);
        } else if is_stopword(&lower) && value_kind(word, self.clause_start).is_none() {
            if matches!(lower.as_str(), "and" | "or") && self.list_prev.is_some() {
                self.list_connector = true;
            } else {
                self.list_prev = None;
            }
            if COPULAS.contains(&lower.as_str()) {
                self.pending_copula = true;
            }
            self.clause_start = false;
        } else {
            let kind = value_kind(word, self.clause_start);
            self.push(&lower, kind);
            if raw.ends_with(',') {
                self.list_connector = true;
            }
            if COPULAS.contains(&lower.as_str()) {
                self.pending_copula = true;
            }
        }
        self.prev_open_paren = raw == "(" || opens_paren && word.is_empty();
        self.prev_pushed = self.f.tokens.len() > pushed_before;
        self.prev2 = std::mem::replace(&mut self.prev, lower);
        if ends_clause {
            self.break_clause_at(raw);
        }
    }

    fn date(&mut self, word: &str, d: NaiveDate, is_first: bool, opens_paren: bool) {
        let annotation = is_first
            || self.prev_open_paren
            || opens_paren
            || lexicon::DATE_ANNOTATIONS.iter().any(|w| self.prev.trim_start_matches('(').eq_ignore_ascii_case(w));
        if annotation && self.f.date.is_none() {
            self.f.date = Some(d);
            self.f.date_leading = is_first;
            // "updated" / "noted" words belong to the annotation, not the fact ("of" is a stopword).
            while self.f.tokens.last().is_some_and(|t| lexicon::DATE_ANNOTATIONS.contains(&self.vocab.word(t.word))) {
                self.f.tokens.pop();
            }
        } else if annotation && self.prev == "of" && self.prev2 == "as" && self.f.date.is_some_and(|own| d < own) {
            // Written on one day about an earlier one: an explicitly past-dated claim.
            self.f.hedge.get_or_insert_with(|| format!("as of {d}"));
        } else {
            self.push(&word.to_lowercase(), Some(ValueKind::Date));
        }
    }

    fn note_past_year(&mut self, year: &str) {
        let Ok(y) = year.parse::<i32>() else { return };
        // "as of 2019" in an entry dated later (or undated): a claim about the past.
        if self.f.date.is_none_or(|own| y < own.year()) {
            self.f.hedge.get_or_insert_with(|| format!("as of {y}"));
        }
    }
}

/// Compute the features of an entry's text (markdown included).
pub fn features(text: &str, vocab: &mut Vocab) -> Features {
    let body = strip_filler(text);
    // "[2026-05-01] FYI: X" says X on that day: filler after a leading date goes too.
    let dated;
    let body = match split_leading_date(body) {
        Some((date, rest)) => {
            dated = format!("{date} {}", strip_filler(rest));
            dated.as_str()
        }
        None => body,
    };
    let mut s = Scan {
        vocab,
        f: Features::default(),
        clause: 0,
        clause_start: true,
        prev: String::new(),
        prev2: String::new(),
        prev_pushed: false,
        prev_open_paren: false,
        first: true,
        subject_end: None,
        pending_copula: false,
        list_prev: None,
        list_connector: false,
    };
    let mut last_raw = "";
    for piece in pieces(body) {
        match piece {
            Piece::Code(c) => s.code(c),
            Piece::Prose(p) => {
                let p = strip_emphasis(p);
                for raw in p.split_whitespace() {
                    // `[text](url)`: the link text and the target are two words.
                    let (a, b) = match raw.find("](") {
                        Some(i) => (&raw[..i + 1], Some(&raw[i + 1..])),
                        None => (raw, None),
                    };
                    s.prose_word(a);
                    if let Some(b) = b {
                        let before = s.f.tokens.len();
                        s.prose_word(b);
                        // An in-page anchor names a heading, i.e. what the entry is about (the
                        // verifier reads it as the subject): a word, never a value a newer
                        // entry may change (cargo fuzz: `(#workflow)` vs `(#workflowles)`).
                        // A path target (`docs/agents.md` → `docs/agent.md`) stays a value.
                        if b.starts_with("(#") {
                            for t in &mut s.f.tokens[before..] {
                                t.value = None;
                            }
                        }
                    }
                }
                if let Some(w) = p.split_whitespace().last() {
                    last_raw = if w.ends_with('?') && !clean_word(w).ends_with('?') { "?" } else { "" };
                }
            }
        }
    }
    if last_raw == "?" && s.f.hedge.is_none() {
        s.f.hedge = Some("a question".into());
    }
    let first_clause = s.f.tokens.first().map_or(0, |t0| s.f.tokens.iter().take_while(|t| t.clause == t0.clause).count());
    s.f.subject_end = s.subject_end.unwrap_or(first_clause).min(s.f.tokens.len());
    let mut f = s.f;
    f.set = f.tokens.iter().map(|t| t.word).collect();
    f.set.sort_unstable();
    f.set.dedup();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(t: &str) -> Vec<String> {
        let mut v = Vocab::default();
        features(t, &mut v).tokens.into_iter().map(|t| v.word(t.word).to_string()).collect()
    }

    fn values(t: &str) -> (Features, Vec<(String, ValueKind)>) {
        let mut v = Vocab::default();
        let f = features(t, &mut v);
        let vals = f.values().map(|(w, k)| (v.word(w).to_string(), k)).collect();
        (f, vals)
    }

    #[test]
    fn filler_emphasis_and_marker_are_not_content() {
        assert_eq!(words("- Note: **Deploys** go through `ArgoCD`."), vec!["deploys", "go", "through", "argocd"]);
        assert_eq!(words("* FYI: remember that deploys go through ArgoCD"), vec!["deploys", "go", "through", "argocd"]);
        assert_eq!(strip_filler("- Notes are kept in Notion"), "Notes are kept in Notion");
    }

    #[test]
    fn values_are_recognised() {
        let (_, v) = values("Billing listens on port 8080 with Postgres 16.2 and node v20, see ops/billing.yaml");
        let has = |w: &str, k| v.contains(&(w.to_string(), k));
        assert!(has("8080", ValueKind::Number));
        assert!(has("16.2", ValueKind::Number));
        assert!(has("v20", ValueKind::Version));
        assert!(has("postgres", ValueKind::Name));
        assert!(has("ops/billing.yaml", ValueKind::Ident));
        assert!(!v.iter().any(|(w, _)| w == "billing"), "sentence-initial capital is not a name");
    }

    #[test]
    fn annotation_dates_date_the_entry_and_are_not_values() {
        let (f, v) = values("- 2026-05-01: billing listens on port 8080");
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2026, 5, 1));
        assert_eq!(v.len(), 1);
        let (f, _) = values("- billing listens on port 9090 (as of 2026-06-01)");
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2026, 6, 1));
        assert_eq!(words("- billing listens on port 9090 (as of 2026-06-01)"), vec!["billing", "listens", "port", "9090"]);
        let (f, v) = values("- shipped v2 on 2026-04-03");
        assert_eq!(f.date, None);
        assert!(v.iter().any(|(_, k)| *k == ValueKind::Date));
    }

    #[test]
    fn sigils_code_spans_and_links_are_values() {
        assert_eq!(words("- `sessionId?`: transport session id"), vec!["sessionid?", "transport", "session", "id"]);
        assert_eq!(words("- sessionId?: transport session id"), vec!["sessionid?", "transport", "session", "id"]);
        assert_eq!(words("- Requires Python 3.9+."), vec!["requires", "python", "3.9+"]);
        // A time of day that ends a sentence with `!` is the same time (the quickstart's freeze).
        assert_eq!(words("- freeze after 15:00!"), words("- freeze after 15:00."));
        assert_eq!(words("Install with `pnpm i --frozen-lockfile`"), vec!["install", "pnpm i --frozen-lockfile"]);
        assert_eq!(words("see [the docs](docs/agents.md)."), vec!["see", "docs", "docs/agents.md"]);
        let (_, v) = values("Checks: `make lint`, `make mypy` and `make test`");
        assert_eq!(v.iter().filter(|(_, k)| *k == ValueKind::Code).count(), 3);
        let mut voc = Vocab::default();
        let f = features("Checks: `make lint`, `make mypy` and `make test`", &mut voc);
        assert!(f.tokens.iter().filter(|t| t.value.is_some()).all(|t| t.list), "{f:?}");
        let f = features("Run `make lint` before pushing", &mut voc);
        assert!(!f.tokens.iter().any(|t| t.list));
    }

    #[test]
    fn subjects_end_at_the_first_verb() {
        let mut v = Vocab::default();
        let subject = |t: &str, v: &mut Vocab| {
            let f = features(t, v);
            f.tokens[..f.subject_end].iter().map(|t| v.word(t.word).to_string()).collect::<Vec<_>>()
        };
        assert_eq!(subject("edge-worker stores its data in ClickHouse 24", &mut v), vec!["edge-worker"]);
        assert_eq!(subject("The billing service listens on port 8080", &mut v), vec!["billing", "service"]);
        assert_eq!(subject("- [2026-05-01] Atlas status is blue", &mut v), vec!["atlas", "status"]);
        assert_eq!(subject("eslint.config.js: ESLint configuration", &mut v), vec!["eslint.config.js"]);
        assert_eq!(subject("Use pnpm for installs", &mut v), Vec::<String>::new());
        assert!(features("Use pnpm for installs", &mut v).imperative);
        assert!(features("[2026-05-01] Ask Alice first", &mut v).imperative);
    }

    #[test]
    fn hedges_are_noted_and_left_out_of_the_tokens() {
        let hedge = |t: &str| features(t, &mut Vocab::default()).hedge;
        assert_eq!(hedge("Unconfirmed: edge-worker is owned by Emeka").as_deref(), Some("unconfirmed"));
        assert_eq!(hedge("Someone said the dose is 50 mg").as_deref(), Some("someone said"));
        assert_eq!(hedge("Is billing on port 8080?").as_deref(), Some("a question"));
        assert_eq!(hedge("- 2026-06-01: as of 2019 the lease ends in 2031").as_deref(), Some("as of 2019"));
        assert_eq!(hedge("- 2026-06-01: the lease ends in 2031").as_deref(), None);
        assert_eq!(hedge("- sessionId? is optional").as_deref(), None);
        assert_eq!(words("Unconfirmed: edge-worker is owned by Emeka"), words("edge-worker is owned by Emeka"));
        assert_eq!(words("Someone said the dose is 50 mg"), words("the dose is 50 mg"));
        assert_eq!(words("As of 2019, the lease ends in 2031"), vec!["lease", "ends", "2031"]);
    }

    #[test]
    fn any_unicode_word_is_safe() {
        for t in [
            "- über alles",
            "- ✅ done",
            "- → next",
            "- × 3",
            "- “quoted” words",
            "- état",
            "- 日本語",
            "- ‘x’",
            "- \u{0}\u{7}x",
            "- é́́ combining",
            "- שלום עולם",
            "- 👩‍👩‍👧 family",
        ] {
            let mut v = Vocab::default();
            let f = features(t, &mut v);
            assert!(!f.tokens.is_empty() || t.contains('\u{0}'), "{t}: {f:?}");
        }
        assert_eq!(words("- über alles"), vec!["über", "alles"]);
        assert_eq!(words("- “État” est là"), vec!["état", "est", "là"]);
    }

    #[test]
    fn negations_are_content() {
        assert!(words("Don't use pnpm").contains(&"don't".to_string()));
    }
}
