//! Which of two entries is newer, and how sure that is.
//!
//! The evidence, strongest first:
//! 1. the entry's own date (`- [2026-05-01] …`, `(as of 2026-05-01)`, `(noted …)`);
//! 2. its file's frontmatter date (`modified:`, as Claude Code writes it, or `updated:`);
//! 3. within one file, position: an undated entry further down was written later;
//! 4. file mtimes, only between two undated entries of different files, and only as a guess
//!    (a `cp` or `touch` changes them): a guess flags, it never removes.
//!
//! A dated entry and an undated one are never ordered: either may be the newer. A session
//! that restated an entry later than the other entry's date makes it the newer one.

use chrono::NaiveDate;
use std::cmp::Ordering;

/// Where an entry's date comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Inline,
    Frontmatter,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::Inline => "inline date",
            Source::Frontmatter => "frontmatter date",
        }
    }
}

/// What is known about when an entry was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    pub stated: Option<(NaiveDate, Source)>,
    /// The last day a session transcript restated the entry.
    pub confirmed: Option<NaiveDate>,
    pub file: usize,
    /// Block index within the file.
    pub pos: usize,
    pub mtime: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Defensible: a removal may rest on it. `Greater` = the first entry is newer.
    Sure(Ordering),
    /// Only file mtimes say so: enough to name the likely newer side in a flag, never to remove.
    Guess(Ordering),
    Unknown,
}

impl Order {
    /// The first entry is surely newer.
    pub fn surely_newer(self) -> bool {
        self == Order::Sure(Ordering::Greater)
    }
    pub fn surely_older(self) -> bool {
        self == Order::Sure(Ordering::Less)
    }
}

pub fn compare(a: &Evidence, b: &Evidence) -> Order {
    if let (Some(x), Some(y)) = (latest(a), latest(b)) {
        if x != y && (a.confirmed == Some(x) || b.confirmed == Some(y)) {
            return Order::Sure(x.cmp(&y));
        }
    }
    let by_position = || if a.pos == b.pos { Order::Unknown } else { Order::Sure(a.pos.cmp(&b.pos)) };
    match (a.stated, b.stated) {
        (Some((da, _)), Some((db, _))) if da != db => Order::Sure(da.cmp(&db)),
        // Same day: later in the same file is later.
        (Some(_), Some(_)) if a.file == b.file => by_position(),
        (Some(_), Some(_)) => Order::Unknown,
        (None, None) if a.file == b.file => by_position(),
        (None, None) => match (a.mtime, b.mtime) {
            (Some(x), Some(y)) if x != y => Order::Guess(x.cmp(&y)),
            _ => Order::Unknown,
        },
        // Dated against undated: either may be the newer.
        _ => Order::Unknown,
    }
}

/// The latest date known for an entry: its own, or a session's that restated it.
fn latest(e: &Evidence) -> Option<NaiveDate> {
    e.stated.map(|s| s.0).max(e.confirmed)
}

/// How the order was decided, for a change's reason: "inline date 2026-06-01 vs inline date 2026-05-01".
pub fn explain(newer: &Evidence, older: &Evidence) -> String {
    if let Some(c) = newer.confirmed.filter(|&c| Some(c) == latest(newer) && latest(older).is_some_and(|o| o < c)) {
        return format!("confirmed by a session on {c}, after {}", latest(older).map(|d| d.to_string()).unwrap_or_default());
    }
    match (newer.stated, older.stated) {
        (Some((dn, sn)), Some((dold, so))) if dn != dold => format!("{} {dn} vs {} {dold}", sn.describe(), so.describe()),
        _ if newer.file == older.file => "written further down the same file".to_string(),
        _ => "file modification times".to_string(),
    }
}

/// The date to show for an entry, if any.
pub fn date_of(e: &Evidence) -> Option<NaiveDate> {
    latest(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn ev(stated: Option<&str>, file: usize, pos: usize, mtime: Option<&str>) -> Evidence {
        Evidence { stated: stated.map(|s| (d(s), Source::Inline)), confirmed: None, file, pos, mtime: mtime.map(d) }
    }

    #[test]
    fn dates_then_position_then_mtime_as_a_guess() {
        use Ordering::*;
        assert_eq!(compare(&ev(Some("2026-06-01"), 0, 1, None), &ev(Some("2026-05-01"), 1, 9, None)), Order::Sure(Greater));
        assert_eq!(compare(&ev(Some("2026-06-01"), 0, 1, None), &ev(Some("2026-06-01"), 0, 9, None)), Order::Sure(Less));
        assert_eq!(compare(&ev(Some("2026-06-01"), 0, 1, None), &ev(Some("2026-06-01"), 1, 9, None)), Order::Unknown);
        assert_eq!(compare(&ev(None, 0, 3, None), &ev(None, 0, 2, None)), Order::Sure(Greater));
        assert_eq!(compare(&ev(None, 0, 3, Some("2026-01-01")), &ev(None, 1, 2, Some("2026-02-01"))), Order::Guess(Less));
        assert_eq!(compare(&ev(None, 0, 3, Some("2026-01-01")), &ev(None, 1, 2, Some("2026-01-01"))), Order::Unknown);
    }

    #[test]
    fn a_later_session_makes_an_entry_newer_but_keeps_position_evidence() {
        let confirmed = |mut e: Evidence, day: &str| {
            e.confirmed = Some(d(day));
            e
        };
        let (a, b) = (ev(Some("2026-06-02"), 0, 1, None), ev(Some("2026-06-01"), 1, 1, None));
        assert_eq!(compare(&confirmed(b, "2026-06-12"), &a), Order::Sure(Ordering::Greater));
        // Undated, one file: a confirmation of the upper one does not outweigh position.
        let (up, down) = (ev(None, 0, 1, None), ev(None, 0, 2, None));
        assert_eq!(compare(&confirmed(up, "2026-06-12"), &down), Order::Sure(Ordering::Less));
    }

    #[test]
    fn undated_never_beats_dated_even_with_a_newer_mtime() {
        assert_eq!(compare(&ev(None, 0, 9, Some("2030-01-01")), &ev(Some("2026-05-01"), 1, 1, None)), Order::Unknown);
        assert_eq!(compare(&ev(None, 0, 9, Some("2030-01-01")), &ev(Some("2026-05-01"), 0, 1, None)), Order::Unknown);
    }
}
