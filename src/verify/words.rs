//! The verifier's own reading of text: an entry's normal form, its words in order, its dates.
//!
//! Deliberately independent of the built-in engine's tokeniser: a verifier that shared the
//! engine's model would share its mistakes. A hand-written scan, because it runs on every entry.

use std::collections::HashMap;
use std::hash::BuildHasher;

/// Openers that add nothing ("Note: X" says X), stripped at the start, repeatedly.
const FILLER: &[&str] = &[
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

/// Words that carry no fact of their own.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "to", "of", "in", "on", "at", "for", "and", "or", "that", "this",
    "it", "its", "with", "as", "by", "we", "our", "us", "so", "which", "also", "always", "just", "really", "very", "all", "there", "here",
    "then", "now", "from", "into", "these", "those", "has", "have", "had", "do", "does", "did", "please",
];

/// Words that flip or restrict a statement: a successor that adds one says something else.
pub const NEGATIONS: &[&str] = &[
    "not",
    "no",
    "never",
    "none",
    "nothing",
    "nor",
    "neither",
    "don't",
    "dont",
    "doesn't",
    "doesnt",
    "didn't",
    "didnt",
    "isn't",
    "isnt",
    "aren't",
    "arent",
    "wasn't",
    "weren't",
    "won't",
    "wont",
    "can't",
    "cant",
    "cannot",
    "shouldn't",
    "shouldnt",
    "mustn't",
    "mustnt",
    "without",
    "except",
    "unless",
    "avoid",
    "instead",
    "only",
    "stop",
    "stopped",
    "deprecated",
    "obsolete",
    "formerly",
    "previously",
    "longer",
];

/// Counts a relative date may use ("two days ago").
pub const NUMBER_WORDS: &[&str] = &["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

/// Phrases that make a date relative; an entry with one may be rewritten with an absolute date.
pub const RELATIVE_MARKERS: &[&str] =
    &["yesterday", "today", "tonight", "tomorrow", " ago", "last week", "last month", "this morning", "this afternoon", "this evening"];

pub fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}
pub fn is_negation(w: &str) -> bool {
    NEGATIONS.contains(&w)
}

/// The list marker at the start of an entry (`- `, `* `, `+ `, `12. `, `3) `), if any.
pub fn strip_list_marker(text: &str) -> &str {
    let t = text.trim_start();
    let mut chars = t.char_indices();
    match chars.next() {
        Some((_, '-' | '*' | '+')) => {
            if let Some((i, c)) = chars.next() {
                if c.is_whitespace() {
                    return t[i..].trim_start();
                }
            }
            t
        }
        Some((_, c)) if c.is_ascii_digit() => {
            let digits = t.bytes().take_while(u8::is_ascii_digit).count();
            let rest = &t[digits..];
            match rest.as_bytes() {
                [b'.' | b')', ws, ..] if ws.is_ascii_whitespace() => rest[1..].trim_start(),
                _ => t,
            }
        }
        _ => t,
    }
}

/// Formatting removed: marker, pin marker, case, emphasis and code marks, whitespace, trailing
/// punctuation. Two entries with one normal form say the same thing.
pub fn normal_form(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normal_chars(text, |c| out.push(c));
    out
}

/// The hash of [`normal_form`] without building it (it runs on every entry of both stores).
pub fn normal_hash(state: &std::collections::hash_map::RandomState, text: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = state.build_hasher();
    let mut buf = [0u8; 256];
    let mut len = 0;
    normal_chars(text, |c| {
        if len + 4 > buf.len() {
            h.write(&buf[..len]);
            len = 0;
        }
        len += c.encode_utf8(&mut buf[len..]).len();
    });
    h.write(&buf[..len]);
    h.finish()
}

/// ASCII characters that are dropped if nothing but more of them follows. A long run is let
/// through early: normal forms stay equal for equal texts, which is all they are for.
struct Pending {
    buf: [u8; 32],
    n: usize,
}

impl Pending {
    fn hold(&mut self, b: u8, emit: &mut impl FnMut(char)) {
        if self.n == self.buf.len() {
            self.flush(emit);
        }
        self.buf[self.n] = b;
        self.n += 1;
    }
    fn flush(&mut self, emit: &mut impl FnMut(char)) {
        self.buf[..self.n].iter().for_each(|&b| emit(b as char));
        self.n = 0;
    }
    fn last(&self) -> Option<u8> {
        self.n.checked_sub(1).map(|i| self.buf[i])
    }
}

/// The characters of the normal form, in order, one callback each.
fn normal_chars(text: &str, mut emit: impl FnMut(char)) {
    let trailing = |c: char| matches!(c, '.' | '!' | ';' | ',' | ':' | '?' | ' ');
    let mut pending = Pending { buf: [0; 32], n: 0 };
    let mut started = false;
    let mut rest = strip_list_marker(text);
    while !rest.is_empty() {
        if let Some(after) = strip_pin(rest) {
            rest = after;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        rest = &rest[c.len_utf8()..];
        if matches!(c, '*' | '`' | '~') {
            continue;
        }
        if c.is_whitespace() {
            if started && pending.last() != Some(b' ') {
                pending.hold(b' ', &mut emit);
            }
            continue;
        }
        for l in c.to_lowercase() {
            if trailing(l) {
                pending.hold(l as u8, &mut emit);
            } else {
                pending.flush(&mut emit);
                emit(l);
            }
            started = true;
        }
    }
}

/// `rest` after a pin marker at its start (`<!-- pinned -->` in any spacing or case).
fn strip_pin(rest: &str) -> Option<&str> {
    let inner = rest.strip_prefix("<!--")?;
    // A marker is short: look no further (a text of many `<!--` must stay linear).
    let window = &inner[..inner.char_indices().nth(40).map_or(inner.len(), |(i, _)| i)];
    let end = window.find("-->")?;
    (inner[..end].trim().eq_ignore_ascii_case("pinned")).then(|| &inner[end + 3..])
}

/// `text` with its pin markers removed.
pub fn without_pin_markers(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("<!--") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        match strip_pin(&rest[i..]) {
            Some(after) => rest = after,
            None => {
                out.push_str("<!--");
                rest = &rest[i + 4..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The text after list marker and filler openers.
pub fn strip_filler(text: &str) -> &str {
    without_filler(strip_list_marker(text))
}

fn without_filler(mut s: &str) -> &str {
    loop {
        let Some(p) = FILLER.iter().find(|p| s.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p))) else { return s };
        s = s[p.len()..].trim_start();
    }
}

/// A leading date as entries carry it (`[2026-05-01] `, `2026-05-01: `), and the rest.
fn split_leading_date(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('[').unwrap_or(s);
    let date = inner.get(..10).filter(|d| is_iso_date(d))?;
    let after = &inner[date.len()..];
    let after = if s.starts_with('[') { after.strip_prefix(']')? } else { after.strip_prefix(':').unwrap_or(after) };
    after.starts_with(char::is_whitespace).then(|| (&s[..s.len() - after.len()], after.trim_start()))
}

/// [`strip_filler`], also after a leading date: "[2026-06-07] Remember that X" says X that day.
fn strip_filler_dated(text: &str) -> std::borrow::Cow<'_, str> {
    let s = strip_filler(text);
    match split_leading_date(s) {
        Some((date, rest)) if without_filler(rest).len() != rest.len() => format!("{date} {}", without_filler(rest)).into(),
        _ => s.into(),
    }
}

/// One word of a text: lowercased, surrounding punctuation removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    Content(String),
    /// An ISO date, kept apart: when a fact was true is not what it is about.
    Date(String),
}

fn is_inner(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '\'' | '’' | '_' | '-' | '.' | '/' | ':' | '@' | '#' | '+' | '%' | '~' | '=' | '&' | '?')
}

/// Content words and dates of `text` in order (stopwords and filler dropped).
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    scan_words(text, |w| match w {
        WordRef::Content(s) => out.push(Word::Content(s.to_string())),
        WordRef::Date(s) => out.push(Word::Date(s.to_string())),
        WordRef::Stop(_) | WordRef::Break => {}
    });
    out
}

/// A word of [`scan_words`], borrowed for the length of the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordRef<'a> {
    Content(&'a str),
    /// A stopword: it states nothing, but shows where a subject ends ("X **is** owned by Y").
    Stop(&'a str),
    /// An ISO date (`2026-05-01`) or month (`2026-05`).
    Date(&'a str),
    /// A clause ends here (`,` `;` `(` `—`, or a sentence end): clauses may be reordered,
    /// words within one may not.
    Break,
}

/// [`words`] without an allocation per word: one reused buffer, a callback per word.
pub fn scan_words(text: &str, mut f: impl FnMut(WordRef)) {
    scan_words_raw(text, |w, _| f(w));
}

/// A word as written (case and inner punctuation kept: `Emeka`, `server/`).
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    pub text: &'a str,
    /// Inside a code span (`` `make test` ``): a name or a command, never a verb of the sentence.
    pub code: bool,
}

impl Raw<'_> {
    /// For a [`WordRef::Break`]: the clause before it ended with a colon (`KEY: description`).
    pub fn after_colon(&self) -> bool {
        self.text == ":"
    }
}

/// [`scan_words`], with each word as written, for the checks that look at a word's shape.
pub fn scan_words_raw(text: &str, mut f: impl FnMut(WordRef, Raw)) {
    let unpinned = without_pin_markers(text);
    let body = strip_filler_dated(&unpinned);
    let body = body.as_ref();
    let mut buf = String::new();
    // A clause ends before the next word: `Some(":")` after a colon (a key ends there), else `Some("")`.
    let mut pending_break: Option<&'static str> = None;
    let mut start: Option<usize> = None;
    let mut code = false;
    let colon_or_other = |raw: &str| if raw.ends_with(':') { ":" } else { "" };
    let mut emit = |raw: &str, code: bool, pending_break: &mut Option<&'static str>| {
        let w = raw.trim_matches(|c: char| !c.is_alphanumeric());
        if w.is_empty() {
            // Punctuation alone after code or emphasis: "… `make test`. Don't forget this!"
            if raw.ends_with(['.', '?', ':']) {
                *pending_break = Some(colon_or_other(raw));
            }
            return;
        }
        if let Some(cause) = pending_break.take() {
            f(WordRef::Break, Raw { text: cause, code });
        }
        if raw.ends_with(['.', '!', '?', ':']) {
            *pending_break = Some(colon_or_other(raw));
        }
        if is_iso_date(w) || is_iso_month(w) {
            f(WordRef::Date(w), Raw { text: raw, code });
            return;
        }
        buf.clear();
        for c in w.chars() {
            if c.is_ascii() {
                buf.push(c.to_ascii_lowercase());
            } else if c == '’' {
                buf.push('\'');
            } else {
                buf.extend(c.to_lowercase());
            }
        }
        if is_stopword(&buf) {
            f(WordRef::Stop(&buf), Raw { text: raw, code });
        } else {
            f(WordRef::Content(&buf), Raw { text: raw, code });
        }
    };
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_inner(c) {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            for run in date_prefixed(&body[s..i]) {
                emit(run, code, &mut pending_break);
            }
        }
        code ^= c == '`';
        // "Don't forget this! Use …": `!` is not part of a word.
        let ends_sentence = c == '!' && chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        if ends_sentence || matches!(c, ',' | ';' | '(' | ')' | '[' | ']' | '—' | '–') {
            pending_break = Some("");
        }
    }
    if let Some(s) = start {
        for run in date_prefixed(&body[s..]) {
            emit(run, code, &mut pending_break);
        }
    }
}

/// A run of word characters split after each leading `2026-05-02:`, as an entry's date reads
/// even without a space after it ("2026-05-02:yesterday").
fn date_prefixed(run: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(run);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.get(..11) {
            Some(head) if r.len() > 11 && head.ends_with(':') && is_iso_date(&head[..10]) => {
                rest = Some(&r[11..]);
                Some(head)
            }
            _ => rest.take(),
        }
    })
}

/// `2026-05`: a month, as a relative date made absolute may say ("in 2026-05").
pub fn is_iso_month(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || c.is_ascii_digit())
        && (1..=12).contains(&((b[5] - b'0') * 10 + (b[6] - b'0')))
}

pub fn is_iso_date(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&((b[5] - b'0') * 10 + (b[6] - b'0')))
        && (1..=31).contains(&((b[8] - b'0') * 10 + (b[9] - b'0')))
}

/// Keys that are already keyed hashes need no second hashing.
#[derive(Default, Clone, Copy)]
pub struct Prehashed;

#[derive(Default)]
pub struct PrehashedHasher(u64);

impl std::hash::BuildHasher for Prehashed {
    type Hasher = PrehashedHasher;
    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are used; fold anything else in rather than fail.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Interned words: a million entries hold `u32`s, not ten million strings.
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
    pub fn len(&self) -> usize {
        self.words.len()
    }
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(t: &str) -> Vec<String> {
        words(t)
            .into_iter()
            .filter_map(|w| match w {
                Word::Content(s) => Some(s),
                Word::Date(_) => None,
            })
            .collect()
    }

    #[test]
    fn normal_forms_ignore_formatting_only() {
        assert_eq!(normal_form("- The **build** uses  `cargo`."), normal_form("* the build uses cargo"));
        assert_eq!(normal_form("1. Deploy on Fridays!"), normal_form("- deploy on fridays"));
        assert_eq!(normal_form("- keep <!-- pinned -->"), normal_form("- keep"));
        assert_ne!(normal_form("- port 8080"), normal_form("- port 9090"));
        assert_ne!(normal_form("- a_b"), normal_form("- ab"));
        assert_eq!(normal_form("- Ünïcödé ✅ text"), "ünïcödé ✅ text");
        assert_eq!(normal_form("  -   a  b ,. ! "), "a b");
        assert_eq!(normal_form("- a. b."), "a. b");
        let state = std::collections::hash_map::RandomState::new();
        for (a, b) in [("- The **build** uses  `cargo`.", "* the build uses cargo"), ("- x <!-- pinned -->", "- x")] {
            assert_eq!(normal_hash(&state, a), normal_hash(&state, b));
        }
        assert_ne!(normal_hash(&state, "- port 8080"), normal_hash(&state, "- port 9090"));
        let long = "é".repeat(300);
        assert_ne!(normal_hash(&state, &long), normal_hash(&state, &format!("{long}x")));
        let many = "<!--".repeat(20_000);
        assert_eq!(normal_form(&many).len(), many.len());
    }

    #[test]
    fn words_keep_identifiers_whole() {
        assert_eq!(contents("- Note: deploys go through **ArgoCD**"), vec!["deploys", "go", "through", "argocd"]);
        assert_eq!(
            contents("Fetch https://updates.example.net/agent.sh, see src/main.rs:12 and v1.2.3."),
            vec!["fetch", "https://updates.example.net/agent.sh", "see", "src/main.rs:12", "v1.2.3"]
        );
        assert_eq!(contents("Don’t use `npm`"), vec!["don't", "use", "npm"]);
        let w = words("- [2026-05-01] billing listens on port 8080");
        assert_eq!(w[0], Word::Date("2026-05-01".into()));
        assert_eq!(contents("- ✅ Ünïcode — ok"), vec!["ünïcode", "ok"]);
        assert_eq!(contents("- keep this <!-- pinned -->"), vec!["keep"]);
        assert_eq!(contents("- İstanbul note: x"), vec!["i̇stanbul", "note", "x"]);
        assert_eq!(contents("- [2026-06-07] Remember that Guest access is disabled"), vec!["guest", "access", "disabled"]);
        assert_eq!(contents("- 2026-06-07: Note: deploys go through ArgoCD"), vec!["deploys", "go", "through", "argocd"]);
        assert_eq!(words("- [2026-06-07] FYI: x")[0], Word::Date("2026-06-07".into()));
        assert_eq!(
            words("- 2026-05-02:2026-05-03:yesterday"),
            vec![Word::Date("2026-05-02".into()), Word::Date("2026-05-03".into()), Word::Content("yesterday".into())]
        );
        let mut clauses = vec![vec![]];
        scan_words("A b, and c d. E (f) g", |w| match w {
            WordRef::Break => clauses.push(vec![]),
            WordRef::Content(s) => clauses.last_mut().unwrap().push(s.to_string()),
            WordRef::Date(_) | WordRef::Stop(_) => {}
        });
        assert_eq!(clauses, vec![vec!["b"], vec!["c", "d"], vec!["e"], vec!["f"], vec!["g"]]);
    }

    #[test]
    fn dates_are_checked() {
        assert!(is_iso_date("2026-06-01"));
        assert!(!is_iso_date("2026-13-01"));
        assert!(!is_iso_date("2026-06-1x"));
        assert!(!is_iso_date("1234567890"));
    }

    #[test]
    fn list_markers() {
        assert_eq!(strip_list_marker("- a"), "a");
        assert_eq!(strip_list_marker("12. a"), "a");
        assert_eq!(strip_list_marker("-a"), "-a");
        assert_eq!(strip_list_marker("2026-01-01 a"), "2026-01-01 a");
    }
}
