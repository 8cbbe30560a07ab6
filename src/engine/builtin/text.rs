//! What an entry says, as data: content tokens, the values it states, and its own date.
//!
//! Every near-duplicate and conflict decision is made on these features, never on raw text.
//! Tokenising is a hand-written scan (no per-entry regex) because it runs on every entry.

use chrono::NaiveDate;
use std::collections::HashMap;

/// Interned words: entries hold `u32`s, so a million entries do not hold ten million strings.
#[derive(Debug, Default)]
pub struct Vocab {
    ids: HashMap<String, u32>,
    words: Vec<String>,
}

impl Vocab {
    pub fn intern(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.ids.get(w) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(w.to_string());
        self.ids.insert(w.to_string(), id);
        id
    }
    pub fn get(&self, w: &str) -> Option<u32> {
        self.ids.get(w).copied()
    }
    pub fn word(&self, id: u32) -> &str {
        self.words.get(id as usize).map_or("", String::as_str)
    }
}

/// Openers that add nothing to a fact ("Note: X" says X). Matched case-insensitively at the
/// start of the entry, repeatedly ("FYI: remember that X").
const FILLER_PREFIXES: &[&str] = &[
    "please note that",
    "please note:",
    "keep in mind that",
    "keep in mind:",
    "remember that",
    "remember:",
    "reminder:",
    "note that",
    "note:",
    "nb:",
    "n.b.",
    "fyi:",
    "fyi,",
    "fyi",
    "important:",
    "heads up:",
    "as a reminder,",
    "btw,",
    "btw:",
];

/// Words that carry no fact. Negations are deliberately absent: "use X" ≠ "don't use X".
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "to", "of", "in", "on", "at", "for", "and", "or", "that", "this",
    "it", "its", "with", "as", "by", "we", "our", "us", "so", "which", "also", "always", "just", "really", "very", "all", "there", "here",
    "then", "now", "from", "into", "these", "those", "has", "have", "had", "do", "does", "did",
];

/// Words that flip or restrict a statement; an entry that adds one is not a restatement.
pub const NEGATIONS: &[&str] = &[
    "not",
    "no",
    "never",
    "don't",
    "dont",
    "doesn't",
    "doesnt",
    "isn't",
    "isnt",
    "aren't",
    "won't",
    "cannot",
    "can't",
    "cant",
    "without",
    "avoid",
    "except",
    "unless",
    "instead",
    "only",
    "stop",
    "stopped",
    "nor",
    "neither",
    "didn't",
    "shouldn't",
    "mustn't",
];

/// Verbs after which the next word is the value of a single-valued attribute
/// ("prefers npm" vs "prefers pnpm" is a conflict; "Alice owns billing/payments" is not).
const SINGLE_VALUED: &[&str] = &[
    "prefers",
    "prefer",
    "preferred",
    "uses",
    "use",
    "using",
    "default",
    "defaults",
    "set",
    "runs",
    "run",
    "listens",
    "port",
    "version",
    "pinned",
    "pin",
    "timezone",
    "editor",
    "shell",
    "language",
    "manager",
    "branch",
    "region",
];

pub fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}
pub fn is_negation(w: &str) -> bool {
    NEGATIONS.contains(&w)
}
pub fn is_single_valued(w: &str) -> bool {
    SINGLE_VALUED.contains(&w)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValueKind {
    Number,
    Version,
    Date,
    Ident,
    Name,
}

/// One content token of an entry, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Interned lowercased word, surrounding punctuation removed.
    pub word: u32,
    pub value: Option<ValueKind>,
    /// Index of the clause (split at `.;—(` and friends) the token sits in.
    pub clause: u16,
    /// A negation or restriction word ("not", "never", "except").
    pub neg: bool,
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

pub fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !(b[..4].iter().chain(&b[5..7]).chain(&b[8..10]).all(u8::is_ascii_digit)) {
        return None;
    }
    NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").ok()
}

const CLAUSE_BREAKS: &[char] = &['.', ';', '(', ')', '—', '–', '!', '?', ':', ','];

/// Compute the features of an entry's text (markdown included).
pub fn features(text: &str, vocab: &mut Vocab) -> Features {
    let body = strip_filler(text);
    let mut f = Features::default();
    let mut clause: u16 = 0;
    let mut clause_start = true;
    let mut prev_lower: &str = "";
    let mut prev_open_paren = false;
    let mut first = true;
    for raw in body.split_whitespace() {
        let is_first = std::mem::take(&mut first);
        if raw == crate::memory::PIN_MARKER || raw == "<!--" || raw == "-->" || raw == "pinned" && prev_lower == "<!--" {
            prev_lower = raw;
            continue;
        }
        if raw == "—" || raw == "–" || raw == "-" {
            clause += 1;
            clause_start = true;
            continue;
        }
        let opens_paren = raw.starts_with('(');
        // Emphasis and code markers are formatting, not content.
        let cleaned: String = raw.chars().filter(|c| !matches!(c, '*' | '`' | '~')).collect();
        let cleaned = cleaned.trim_start_matches(['_', '"', '\'', '(', '[', '<', '{']);
        let word = cleaned.trim_end_matches(['_', '"', '\'', ')', ']', '>', '}', ',', '.', ';', ':', '!', '?']);
        let ends_clause = raw.ends_with(CLAUSE_BREAKS);
        if opens_paren {
            clause += 1;
        }
        if !word.is_empty() {
            if let Some(d) = parse_iso_date(word).filter(|_| word.len() == 10) {
                let annotation = is_first
                    || prev_open_paren
                    || opens_paren
                    || ["of", "updated", "confirmed", "checked", "verified"]
                        .iter()
                        .any(|w| prev_lower.trim_start_matches('(').eq_ignore_ascii_case(w));
                if annotation && f.date.is_none() {
                    f.date = Some(d);
                    f.date_leading = is_first;
                    // "updated" / "confirmed" words belong to the annotation, not the fact.
                    while f.tokens.last().is_some_and(|t| matches!(vocab.word(t.word), "updated" | "confirmed" | "checked" | "verified")) {
                        f.tokens.pop();
                    }
                } else {
                    let id = vocab.intern(word);
                    f.tokens.push(Token { word: id, value: Some(ValueKind::Date), clause, neg: false });
                }
            } else {
                let lower = word.to_lowercase();
                let kind = value_kind(word, clause_start);
                if !is_stopword(&lower) || kind.is_some() {
                    let id = vocab.intern(&lower);
                    f.tokens.push(Token { word: id, value: kind, clause, neg: is_negation(&lower) });
                }
            }
            clause_start = false;
        }
        prev_open_paren = raw == "(" || opens_paren && word.is_empty();
        prev_lower = raw;
        if ends_clause {
            clause += 1;
            clause_start = true;
        }
    }
    f.set = f.tokens.iter().map(|t| t.word).collect();
    f.set.sort_unstable();
    f.set.dedup();
    f
}

/// Whether a word states a value. Case-insensitive equality is used elsewhere; the case
/// pattern here only decides what counts as a name or identifier.
fn value_kind(word: &str, clause_start: bool) -> Option<ValueKind> {
    let has_digit = word.bytes().any(|b| b.is_ascii_digit());
    if has_digit {
        if parse_iso_date(word).is_some() {
            return Some(ValueKind::Date);
        }
        let w = word.trim_start_matches(['v', 'V']);
        if w.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b',' || b == b'%') {
            return Some(if w.matches('.').count() >= 2 || word.starts_with(['v', 'V']) { ValueKind::Version } else { ValueKind::Number });
        }
        return Some(ValueKind::Ident);
    }
    if word.len() > 1 && word[1..].contains(['.', '/', '_', '@', ':', '=', '-']) && !word.ends_with("n't") {
        return Some(ValueKind::Ident);
    }
    let mut chars = word.chars();
    let first_upper = chars.next().is_some_and(char::is_uppercase);
    let inner_upper = chars.any(char::is_uppercase);
    if inner_upper {
        return Some(ValueKind::Ident);
    }
    if first_upper && !clause_start && word.chars().count() > 1 {
        return Some(ValueKind::Name);
    }
    None
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
    fn negations_are_content() {
        assert!(words("Don't use pnpm").contains(&"don't".to_string()));
    }
}
