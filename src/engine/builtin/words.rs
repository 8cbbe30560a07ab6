//! Character-level pieces of tokenising: code spans, emphasis, punctuation around a word,
//! and what kind of value a word is. Everything here works on `char`s, never byte offsets
//! chosen by hand, so any Unicode input is safe.

use chrono::NaiveDate;
use std::borrow::Cow;

/// A piece of an entry: a code span (kept verbatim, one value) or a run of prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Code(&'a str),
    Prose(&'a str),
}

/// Split text into prose and code spans (`` `x` ``, ``` ``x y`` ```). An unmatched backtick run
/// is formatting, dropped with the prose around it kept.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut prose_start = 0;
    let mut i = 0;
    while let Some(rel) = text[i..].find('`') {
        let open = i + rel;
        let run = text[open..].chars().take_while(|&c| c == '`').count();
        let content_start = open + run;
        match find_closing(&text[content_start..], run) {
            Some((len, close_len)) => {
                if prose_start < open {
                    out.push(Piece::Prose(&text[prose_start..open]));
                }
                out.push(Piece::Code(&text[content_start..content_start + len]));
                i = content_start + len + close_len;
                prose_start = i;
            }
            None => {
                // Not a code span: the backticks are dropped, the text after stays prose.
                if prose_start < open {
                    out.push(Piece::Prose(&text[prose_start..open]));
                }
                i = content_start;
                prose_start = i;
            }
        }
    }
    if prose_start < text.len() {
        out.push(Piece::Prose(&text[prose_start..]));
    }
    out
}

/// Offset and length of the first run of exactly `n` backticks in `s`.
fn find_closing(s: &str, n: usize) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(rel) = s[i..].find('`') {
        let at = i + rel;
        let run = s[at..].chars().take_while(|&c| c == '`').count();
        if run == n {
            return Some((at, run));
        }
        i = at + run;
    }
    None
}

fn is_emphasis(c: char) -> bool {
    matches!(c, '*' | '_' | '~')
}

/// Remove paired emphasis markers (`**x**`, `_x y_`, `~~x~~`) from prose. A marker opens at
/// the start of a word and closes at the end of one; anything else (`snake_case`, `a*`,
/// `~/.config`) is text and stays.
pub fn strip_emphasis(prose: &str) -> Cow<'_, str> {
    if !prose.contains(is_emphasis) {
        return Cow::Borrowed(prose);
    }
    let chars: Vec<char> = prose.chars().collect();
    let mut drop = vec![false; chars.len()];
    let boundary = |c: Option<&char>| c.is_none_or(|c| c.is_whitespace() || (!c.is_alphanumeric() && !is_emphasis(*c)));
    for marker in ["**", "__", "~~", "*", "_"] {
        let m: Vec<char> = marker.chars().collect();
        let k = m.len();
        let at = |drop: &[bool], i: usize| i + k <= chars.len() && chars[i..i + k] == m[..] && !drop[i..i + k].iter().any(|&d| d);
        let mut i = 0;
        while i + k <= chars.len() {
            let opens = at(&drop, i)
                && boundary(if i == 0 { None } else { chars.get(i - 1) })
                && chars.get(i + k).is_some_and(|c| !c.is_whitespace() && !is_emphasis(*c));
            if !opens {
                i += 1;
                continue;
            }
            // The nearest closer: after a non-space, before a word boundary.
            let close = (i + k + 1..=chars.len().saturating_sub(k))
                .find(|&j| at(&drop, j) && !chars[j - 1].is_whitespace() && !is_emphasis(chars[j - 1]) && boundary(chars.get(j + k)));
            match close {
                Some(j) => {
                    drop[i..i + k].iter_mut().for_each(|d| *d = true);
                    drop[j..j + k].iter_mut().for_each(|d| *d = true);
                    i = j + k;
                }
                None => i += 1,
            }
        }
    }
    Cow::Owned(chars.iter().zip(&drop).filter(|(_, &d)| !d).map(|(c, _)| *c).collect())
}

const OPENERS: &[char] = &['"', '\'', '(', '[', '<', '{', '“', '‘', '«', '„'];
const CLOSERS: &[char] = &[')', ']', '>', '}', '"', '\'', ',', '.', ';', ':', '”', '’', '»', '…'];

/// A word without the punctuation around it. Sigils stay with the word: a trailing `?`/`!`
/// on an identifier (`sessionId?`), `+` (`3.9+`), `^`, `*`, `~`.
pub fn clean_word(raw: &str) -> &str {
    let mut w = raw.trim_start_matches(OPENERS);
    loop {
        let before = w.len();
        w = w.trim_end_matches(CLOSERS);
        if let Some(stem) = w.strip_suffix(['?', '!']) {
            let stem = stem.trim_end_matches(['?', '!']);
            // A number or a time of day (`15:00!`) ends a sentence; it has no sigil.
            let number = stem.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | ':'));
            if number || !ident_like(stem) {
                w = stem;
            }
        }
        if w.len() == before {
            return w;
        }
    }
}

/// Looks like an identifier rather than a word of prose: `snake_case`, `camelCase`, a path,
/// a dotted name, digits.
pub fn ident_like(w: &str) -> bool {
    w.contains(['_', '.', '/', '(', ')', '@', '$', ':', '='])
        || w.chars().any(|c| c.is_ascii_digit())
        || w.chars().skip(1).any(char::is_uppercase)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValueKind {
    Number,
    Version,
    Date,
    Ident,
    Name,
    /// A code span: a command, a path, an identifier as the agent wrote it.
    Code,
}

impl ValueKind {
    pub fn numeric(self) -> bool {
        matches!(self, ValueKind::Number | ValueKind::Version)
    }
}

/// A version: `3.9`, `v20`, `3.10+`, `^1.2.3`, `>=3.9`.
pub fn is_version(word: &str) -> bool {
    let v_prefixed = word.starts_with(['v', 'V']) && word.chars().nth(1).is_some_and(|c| c.is_ascii_digit());
    let core = word.trim_start_matches(['v', 'V', '^', '~', '>', '<', '=']).trim_end_matches(['+', '*', 'x']);
    !core.is_empty()
        && core.starts_with(|c: char| c.is_ascii_digit())
        && core.chars().all(|c| c.is_ascii_digit() || c == '.')
        && (core.contains('.') || v_prefixed || core.len() != word.len())
}

/// Whether a word states a value. Case-insensitive equality is used elsewhere; the case
/// pattern here only decides what counts as a name or identifier.
pub fn value_kind(word: &str, clause_start: bool) -> Option<ValueKind> {
    let has_digit = word.chars().any(|c| c.is_ascii_digit());
    if has_digit {
        if parse_iso_date(word).is_some() {
            return Some(ValueKind::Date);
        }
        if is_version(word) {
            let plain_decimal = word.chars().filter(|&c| c == '.').count() == 1 && word.chars().all(|c| c.is_ascii_digit() || c == '.');
            return Some(if plain_decimal { ValueKind::Number } else { ValueKind::Version });
        }
        if word.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '%')) {
            return Some(ValueKind::Number);
        }
        return Some(ValueKind::Ident);
    }
    // Chars, never bytes: a word may start with `ü`, `✅` or `日`.
    let after_first = word.char_indices().nth(1).map_or("", |(i, _)| &word[i..]);
    if after_first.contains(['.', '/', '_', '@', ':', '=', '-', '?', '!', '^', '+', '*', '~', '(']) && !word.ends_with("n't") {
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

/// A leading `YYYY-MM-DD` (the first ten bytes, all checked ASCII before slicing).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_are_pieces() {
        assert_eq!(pieces("run `make lint` now"), vec![Piece::Prose("run "), Piece::Code("make lint"), Piece::Prose(" now")]);
        assert_eq!(pieces("``a ` b`` x"), vec![Piece::Code("a ` b"), Piece::Prose(" x")]);
        assert_eq!(pieces("odd ` tick"), vec![Piece::Prose("odd "), Piece::Prose(" tick")]);
        assert_eq!(pieces("`日本`語"), vec![Piece::Code("日本"), Piece::Prose("語")]);
    }

    #[test]
    fn emphasis_pairs_go_and_sigils_stay() {
        assert_eq!(strip_emphasis("**Deploys** go through _Argo CD_"), "Deploys go through Argo CD");
        assert_eq!(strip_emphasis("**two words** and ~~gone~~"), "two words and gone");
        assert_eq!(strip_emphasis("snake_case and field* and ~/.config"), "snake_case and field* and ~/.config");
        assert_eq!(strip_emphasis("**über** ✅"), "über ✅");
    }

    #[test]
    fn words_lose_punctuation_but_keep_sigils() {
        assert_eq!(clean_word("sessionId?:"), "sessionId?");
        assert_eq!(clean_word("ready?"), "ready");
        assert_eq!(clean_word("(3.9+)."), "3.9+");
        assert_eq!(clean_word("“état”"), "état");
        assert_eq!(clean_word("done!"), "done");
        assert_eq!(clean_word("…"), "");
    }

    #[test]
    fn versions_and_kinds() {
        assert!(is_version("3.9+") && is_version("v20") && is_version("^1.2.3") && is_version(">=3.9") && is_version("3.10"));
        assert!(!is_version("8080") && !is_version("v") && !is_version("x86"));
        assert_eq!(value_kind("3.9+", false), Some(ValueKind::Version));
        assert_eq!(value_kind("16.2", false), Some(ValueKind::Number));
        assert_eq!(value_kind("sessionId?", false), Some(ValueKind::Ident));
        assert_eq!(value_kind("über", false), None);
        assert_eq!(value_kind("Über", false), Some(ValueKind::Name));
        assert_eq!(value_kind("✅done", false), None);
    }
}
