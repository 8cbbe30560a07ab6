//! Relative dates made absolute: "yesterday" means nothing a week later.
//!
//! The anchor is the entry's own date only (`- [2026-05-05] …`, `(noted 2026-05-05)`). A file's
//! mtime or frontmatter date says when the file last changed, not when this line was written,
//! so anchoring on it would be a guess (and a `touch` would change the answer): an entry
//! without its own date is left alone. Pinned entries are never altered.

use super::text::features;
use super::text::Vocab;
use super::Workspace;
use crate::memory::BlockKind;
use crate::report::{Change, ChangeKind};
use chrono::{Datelike, Duration, NaiveDate};
use regex::{Captures, Regex};
use std::sync::LazyLock;

static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:(since|until|before|after|from|by|as of|on)\s+)?(yesterday|today|tonight|earlier today|this (?:morning|afternoon|evening)|last (?:week|month)|(\d{1,3}|a|one|two|three|four|five|six|seven|eight|nine|ten) (day|week)s? ago)\b",
    )
    .expect("static regex")
});

fn number(word: &str) -> Option<i64> {
    Some(match word.to_ascii_lowercase().as_str() {
        "a" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        n => n.parse().ok()?,
    })
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// Replace every relative date in `text`, anchored at `anchor`. None when there is none.
pub fn rewrite(text: &str, anchor: NaiveDate) -> Option<String> {
    if !RELATIVE.is_match(text) {
        return None;
    }
    let out = RELATIVE.replace_all(text, |c: &Captures| {
        let prep = c.get(1).map(|m| m.as_str());
        let phrase = c[2].to_ascii_lowercase();
        // (preposition to use when the text had none, absolute form)
        let (default_prep, abs) = if phrase == "yesterday" {
            ("on", (anchor - Duration::days(1)).to_string())
        } else if matches!(phrase.as_str(), "today" | "tonight" | "earlier today") {
            ("on", anchor.to_string())
        } else if let Some(part) = phrase.strip_prefix("this ") {
            ("on", format!("the {part} of {anchor}"))
        } else if phrase == "last week" {
            ("in", format!("the week of {}", monday_of(anchor - Duration::days(7))))
        } else if phrase == "last month" {
            let prev = anchor.with_day(1).map_or(anchor, |d| d - Duration::days(1));
            ("in", format!("{:04}-{:02}", prev.year(), prev.month()))
        } else {
            let n = c.get(3).and_then(|m| number(m.as_str())).unwrap_or(1);
            if c.get(4).is_some_and(|m| m.as_str().eq_ignore_ascii_case("week")) {
                ("in", format!("the week of {}", monday_of(anchor - Duration::days(7 * n))))
            } else {
                ("on", (anchor - Duration::days(n)).to_string())
            }
        };
        let p = match prep {
            // "on yesterday" reads "on 2026-06-14"; "since yesterday" keeps "since".
            Some(p) if !p.eq_ignore_ascii_case("on") => p.to_string(),
            _ => default_prep.to_string(),
        };
        let starts_upper = c.get(0).and_then(|m| m.as_str().chars().next()).is_some_and(char::is_uppercase);
        let mut s = format!("{p} {abs}");
        if starts_upper {
            s = capitalize(&s);
        }
        s
    });
    (out != text).then(|| out.into_owned())
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

pub fn absolutize(ws: &mut Workspace) {
    let mut vocab = Vocab::default();
    for fi in 0..ws.files.len() {
        if super::insights::is_managed(&ws.files[fi]) {
            continue;
        }
        for bi in 0..ws.files[fi].blocks().len() {
            let b = ws.block(fi, bi);
            if !matches!(b.kind, BlockKind::Bullet | BlockKind::Paragraph) || b.pinned || ws.is_dropped(fi, bi) {
                continue;
            }
            if !RELATIVE.is_match(b.raw) {
                continue;
            }
            let Some(anchor) = features(b.text(), &mut vocab).date else {
                continue;
            };
            let Some(new_raw) = rewrite(b.raw, anchor) else {
                continue;
            };
            let source = format!("the entry's own date {anchor}");
            let (before, line, file) = (b.text().to_string(), b.line, ws.files[fi].path.clone());
            let after = new_raw.trim_end_matches(['\n', '\r', ' ', '\t']).to_string();
            if ws.rewrite_block(fi, bi, new_raw) {
                let mut c = Change::new(
                    ChangeKind::RelativeDate,
                    &file,
                    Some(before),
                    Some(after),
                    format!("relative date made absolute from {source}"),
                );
                c.provenance.entries = vec![format!("{file}:{line}")];
                ws.changes.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn phrases_become_iso_dates() {
        let a = d("2026-06-15"); // a Monday
        assert_eq!(rewrite("- Deployed billing yesterday", a).unwrap(), "- Deployed billing on 2026-06-14");
        assert_eq!(rewrite("- Yesterday the DB was migrated", a).unwrap(), "- On 2026-06-14 the DB was migrated");
        assert_eq!(rewrite("- flaky since yesterday", a).unwrap(), "- flaky since 2026-06-14");
        assert_eq!(rewrite("- fixed it today", a).unwrap(), "- fixed it on 2026-06-15");
        assert_eq!(rewrite("- rotated keys this morning", a).unwrap(), "- rotated keys on the morning of 2026-06-15");
        assert_eq!(rewrite("- moved to Go last week", a).unwrap(), "- moved to Go in the week of 2026-06-08");
        assert_eq!(rewrite("- outage 3 days ago", a).unwrap(), "- outage on 2026-06-12");
        assert_eq!(rewrite("- outage two days ago", a).unwrap(), "- outage on 2026-06-13");
        assert_eq!(rewrite("- started last month", a).unwrap(), "- started in 2026-05");
        assert_eq!(rewrite("- the todayish thing", a), None);
        assert_eq!(rewrite("- nothing relative", a), None);
    }
}
