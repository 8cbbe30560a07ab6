//! Dates as the verifier weighs them when an entry goes: the newest one must stay, older ones
//! may be folded into a newer copy when the report names them, and a relative date ("3 days
//! ago") may be made absolute, but nothing else about the entry may change with it.

use super::words::{scan_words, WordRef, NUMBER_WORDS, RELATIVE_MARKERS};

/// `yyyymmdd` of an ISO date, `yyyymm00` of a month (`2026-05`).
pub(super) fn date_num(d: &str) -> u32 {
    let n = d.bytes().filter(u8::is_ascii_digit).fold(0u32, |n, b| n * 10 + (b - b'0') as u32);
    if n < 1_000_000 {
        n * 100
    } else {
        n
    }
}

/// How a merge may treat the removed entry's dates.
#[derive(Clone, Copy)]
pub(super) enum Dates<'a> {
    /// Every date of the entry is in its successor, or the report names those folded into a
    /// newer one (`folded`: the change's text, which must name each) that the memory already
    /// held: an engine does not get to re-date a fact with a date it made up.
    Kept { folded: Option<&'a str> },
    /// A relative date made absolute: its dates kept, and one more, no later than the day
    /// after its newest (its anchor: "yesterday" is before the day the entry was written).
    Relative,
}

/// What the dates rule says of a merge.
pub(super) enum Agree {
    Yes,
    /// Only with older dates folded into the successor's newer one.
    Folded,
    No,
}

/// The dates rule of a merge: the newest date survives (a future conflict needs it to tell
/// which value is newer); older ones may be folded into it when the report says which.
pub(super) fn dates_agree(old: &[u32], new: &[u32], how: Dates) -> Agree {
    let missing: Vec<u32> = old.iter().filter(|d| !new.contains(d)).copied().collect();
    let agree = |yes: bool, how: Agree| if yes { how } else { Agree::No };
    match how {
        Dates::Relative => {
            // Counted with repeats: the date a rewrite states may be in the entry already.
            let Some(&anchor) = old.iter().max() else { return Agree::No };
            let count = |ds: &[u32], d: u32| ds.iter().filter(|&&x| x == d).count();
            agree(missing.is_empty() && new.iter().any(|&d| d <= day_after(anchor) && count(new, d) > count(old, d)), Agree::Yes)
        }
        Dates::Kept { .. } if missing.is_empty() => Agree::Yes,
        Dates::Kept { folded: None } => Agree::No,
        Dates::Kept { folded: Some(text) } => {
            let newest_kept = matches!((old.iter().max(), new.iter().max()), (Some(o), Some(n)) if n >= o);
            agree(newest_kept && missing.iter().all(|&d| text.contains(&fmt_date(d))), Agree::Folded)
        }
    }
}

fn day_after(d: u32) -> u32 {
    let date = chrono::NaiveDate::from_ymd_opt((d / 10000) as i32, d / 100 % 100, (d % 100).max(1));
    date.and_then(|x| x.succ_opt()).map_or(d, |x| date_num(&x.to_string()))
}

pub(super) fn fmt_date(d: u32) -> String {
    match d % 100 {
        0 => format!("{:04}-{:02}", d / 10000, d / 100 % 100),
        day => format!("{:04}-{:02}-{:02}", d / 10000, d / 100 % 100, day),
    }
}

/// Which content words of `text` (in [`scan_words`] order) belong to a relative date: the
/// words a rewrite to an absolute date replaces ("3 days ago", "last week", "this morning").
/// Only those: a number elsewhere in the entry is a value, and must stay.
pub(super) fn relative_words(text: &str) -> Vec<bool> {
    let mut words: Vec<(String, Option<String>)> = Vec::new();
    let mut stop: Option<String> = None;
    scan_words(text, |w| match w {
        WordRef::Content(s) => words.push((s.to_string(), stop.take())),
        WordRef::Stop(s) => stop = Some(s.to_string()),
        WordRef::Date(_) | WordRef::Break => stop = None,
    });
    let mut mark = vec![false; words.len()];
    let unit = |w: &str| matches!(w, "day" | "days" | "week" | "weeks" | "month" | "months");
    let count = |w: &str| w.bytes().all(|b| b.is_ascii_digit()) || NUMBER_WORDS.contains(&w);
    for i in 0..words.len() {
        let (w, before) = (words[i].0.as_str(), words[i].1.as_deref());
        let next = words.get(i + 1).map(|n| n.0.as_str());
        match w {
            "yesterday" | "today" | "tonight" | "tomorrow" => mark[i] = true,
            "earlier" if next == Some("today") => mark[i] = true,
            "last" if next.is_some_and(unit) => (mark[i], mark[i + 1]) = (true, true),
            "morning" | "afternoon" | "evening" if before == Some("this") => mark[i] = true,
            // "3 days ago", "two weeks ago", "a day ago": the count is part of it; without one
            // ("some days ago") it is no date a rewrite could state.
            "ago" if i >= 1 && unit(&words[i - 1].0) => {
                if words[i - 1].1.as_deref() == Some("a") {
                    (mark[i - 1], mark[i]) = (true, true);
                } else if i >= 2 && count(&words[i - 2].0) && words[i - 1].1.is_none() {
                    (mark[i - 2], mark[i - 1], mark[i]) = (true, true, true);
                }
            }
            _ => {}
        }
    }
    mark
}

/// Whether `new` is `old` with its relative dates made absolute: the same words, in order, but
/// those of the relative dates, plus only what an absolute date reads with ("the week of …",
/// "the morning of …"); `old`'s dates kept and one more, no later than the day after its own.
pub(super) fn is_relative_rewrite(old: &str, new: &str) -> bool {
    if !has_relative_date(old) {
        return false;
    }
    let scan = |t: &str| {
        let (mut ws, mut ds) = (Vec::new(), Vec::new());
        scan_words(t, |w| match w {
            WordRef::Content(s) => ws.push(s.to_string()),
            WordRef::Date(d) => ds.push(date_num(d)),
            WordRef::Stop(_) | WordRef::Break => {}
        });
        (ws, ds)
    };
    let ((old_words, old_dates), (new_words, new_dates)) = (scan(old), scan(new));
    let relative = relative_words(old);
    let mut kept = old_words.iter().enumerate().filter(|(i, _)| !relative.get(*i).copied().unwrap_or(false)).map(|(_, w)| w).peekable();
    for w in &new_words {
        if kept.peek() == Some(&w) {
            kept.next();
        } else if !matches!(w.as_str(), "week" | "morning" | "afternoon" | "evening") {
            return false;
        }
    }
    kept.peek().is_none() && matches!(dates_agree(&old_dates, &new_dates, Dates::Relative), Agree::Yes)
}

pub(super) fn has_relative_date(text: &str) -> bool {
    let lower = text.to_lowercase();
    RELATIVE_MARKERS.iter().any(|m| lower.contains(m))
}
