//! Remarks that close an entry and state nothing ("(this came up twice)", "— confirmed
//! again", "Don't forget this!"): an entry that loses one loses no fact.

/// `(fact, remark)` when the entry ends in a parenthetical or a dash clause.
pub(super) fn trailing_remark(text: &str) -> Option<(&str, &str)> {
    let t = text.trim_end();
    if let Some(inner) = t.strip_suffix(')') {
        let open = inner.rfind(" (")?;
        return Some((&inner[..open], &inner[open + 2..]));
    }
    let dash = [" — ", " – ", " -- "].iter().find_map(|sep| t.rfind(sep).map(|i| (&t[..i], &t[i + sep.len()..])));
    // A closing sentence of its own: "…15.5. Don't forget this!"
    dash.or_else(|| {
        let body = t.trim_end_matches(['.', '!', '?']);
        let i = [". ", "! ", "? "].iter().filter_map(|sep| body.rfind(sep)).max()?;
        Some((&t[..i], &t[i + 2..]))
    })
}

/// `text` without a trailing remark that states nothing (no value, name or negation).
pub(super) fn without_remark(text: &str) -> Option<&str> {
    trailing_remark(text).filter(|(_, r)| is_plain_remark(r) || is_emphasis(r)).map(|(fact, _)| fact)
}

/// Emphasis that states nothing: losing it loses no fact, negation or not.
const EMPHASIS: &[&str] = &[
    "don't forget this",
    "do not forget this",
    "don't forget",
    "do not forget",
    "remember this",
    "keep this in mind",
    "important",
    "very important",
    "this is important",
    "good to know",
    "noted",
];

pub(super) fn is_emphasis(remark: &str) -> bool {
    let r = remark.trim().trim_end_matches(['.', '!', '?']).replace('’', "'").to_lowercase();
    EMPHASIS.contains(&r.as_str())
}

/// A few lower-case words with no digit, identifier, name or negation in them.
pub(super) fn is_plain_remark(remark: &str) -> bool {
    let words: Vec<&str> = remark.split_whitespace().collect();
    !words.is_empty()
        && words.len() <= 6
        && words.iter().enumerate().all(|(i, w)| {
            let core = w.trim_matches(|c: char| !c.is_alphanumeric());
            let lower = core.to_lowercase();
            core.chars().all(|c| c.is_alphabetic() || c == '\'' || c == '’')
                && (i == 0 || !core.chars().any(char::is_uppercase))
                && !super::words::NEGATIONS.contains(&lower.as_str())
        })
}
