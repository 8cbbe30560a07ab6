//! Cron schedules: 5-field (minute precision) or 6-field (seconds) expressions, evaluated
//! in an IANA time zone with well-defined behaviour across DST changes.
//!
//! tokio-cron-scheduler evaluates a cron expression in a *fixed* UTC offset, so a local
//! schedule drifts by an hour after each DST change. We therefore compute fire instants
//! ourselves ([`next_fire`], pure) and only use tokio-cron-scheduler to wake us at those
//! UTC instants, as one-shot jobs re-armed after each fire ([`Scheduler`], in `runner`).
//!
//! ## DST rule (documented contract)
//! A schedule is a set of local wall-clock times. Each matching wall-clock time fires
//! **once**:
//! - it exists once: at that instant;
//! - it exists twice (fall-back overlap, e.g. 02:30 on the last Sunday of October in
//!   Europe/Berlin): at its **first** occurrence only;
//! - it does not exist (spring-forward gap, e.g. 02:30 on the last Sunday of March in
//!   Europe/Berlin): at the first instant after the gap (03:00 local), like Vixie cron.
//!   Several skipped times (`*/15` inside the gap) collapse into that one fire.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::fmt;

mod runner;
pub use runner::{Scheduler, SchedulerError, SchedulerState};

#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// Normalised to 6 fields (seconds first), as tokio-cron-scheduler wants.
    pub six_field: String,
    cron: croner::Cron,
}

impl CronSchedule {
    pub fn parse(expr: &str) -> Result<CronSchedule, ScheduleError> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let six_field = match fields.len() {
            5 => format!("0 {}", fields.join(" ")),
            6 => fields.join(" "),
            n => {
                return Err(ScheduleError(format!(
                    "{expr:?} has {n} fields, expected 5 (minute hour day month weekday) or 6 (with seconds first)"
                )))
            }
        };
        let cron = parse_six(&six_field).map_err(|_| ScheduleError(explain_invalid(expr, &six_field)))?;
        Ok(CronSchedule { six_field, cron })
    }

    /// The next wall-clock time strictly after `t` that matches, ignoring time zones.
    fn next_naive(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        // Evaluating in UTC makes croner match on plain wall-clock fields with no DST logic.
        self.cron.find_next_occurrence(&Utc.from_utc_datetime(&t), false).ok().map(|d| d.naive_utc())
    }
}

fn parse_six(six_field: &str) -> Result<croner::Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder().seconds(croner::parser::Seconds::Required).build().parse(six_field)
}

/// Which field is wrong, in our words: each field is tried alone (the others `*`) so the
/// message names it and its range instead of passing on the library's text.
fn explain_invalid(expr: &str, six_field: &str) -> String {
    const FIELDS: [(&str, &str); 6] = [
        ("second", "0-59"),
        ("minute", "0-59"),
        ("hour", "0-23"),
        ("day of month", "1-31"),
        ("month", "1-12 or JAN-DEC"),
        ("day of week", "0-7 or SUN-SAT"),
    ];
    let fields: Vec<&str> = six_field.split(' ').collect();
    // A 5-field expression got "0" seconds prepended; number fields as the operator wrote them.
    let offset = if expr.split_whitespace().count() == 5 { 1 } else { 0 };
    for (i, value) in fields.iter().enumerate() {
        let mut probe = ["*"; 6];
        probe[i] = value;
        if parse_six(&probe.join(" ")).is_err() {
            let (name, range) = FIELDS[i];
            return format!(
                "{expr:?} is not a valid cron expression: field {} ({name}) is {value:?}, expected {range}, a range (1-5), a list (1,15), a step (*/10) or *",
                i + 1 - offset
            );
        }
    }
    format!("{expr:?} is not a valid cron expression, expected 5 fields like \"0 3 * * *\" (minute hour day-of-month month day-of-week)")
}

#[derive(Debug, Clone)]
pub struct ScheduleError(pub String);

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScheduleError {}

/// The instant a local wall-clock time happens in `tz`: itself, its first occurrence if
/// ambiguous, or the first instant after the gap if it does not exist.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => gap_end(tz, local),
    }
}

/// The first instant whose local time is after `local` (which lies in a gap). Local time is
/// monotonic around a gap, so a binary search over UTC seconds finds the transition. UTC
/// offsets lie within [-12h, +14h], which bounds the search window.
fn gap_end(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let as_utc = local.and_utc().timestamp();
    let (mut lo, mut hi) = (as_utc - 15 * 3600, as_utc + 13 * 3600);
    let local_of = |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0).map(|u| u.with_timezone(&tz).naive_local());
    // Invariant: local_of(lo) <= local < local_of(hi).
    if local_of(lo)? > local || local_of(hi)? <= local {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_of(mid)? <= local {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::<Utc>::from_timestamp(hi, 0)
}

/// The first fire instant of `schedule` in `tz` strictly after `after` (see the module
/// docs for the DST rule). None if the expression never matches again.
pub fn next_fire(schedule: &CronSchedule, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Start the wall-clock search early enough that a candidate whose local time is before
    // `after`'s local time but which resolves after it (the repeated hour of a fall-back)
    // is not missed: back off by the largest offset increase seen around `after`.
    let offset_secs = |t: DateTime<Utc>| {
        use chrono::Offset;
        t.with_timezone(&tz).offset().fix().local_minus_utc() as i64
    };
    let here = offset_secs(after);
    let slack = [-1i64, 1, 2, 3]
        .iter()
        .filter_map(|d| after.checked_add_signed(chrono::Duration::days(*d)))
        .map(offset_secs)
        .map(|o| o - here)
        .max()
        .unwrap_or(0)
        .max(0);
    let mut cursor = after.with_timezone(&tz).naive_local() - chrono::Duration::seconds(slack + 1);
    // Bounded: even every-second schedules skip at most `slack` seconds of candidates.
    for _ in 0..200_000 {
        let n = schedule.next_naive(cursor)?;
        if let Some(t) = resolve_local(tz, n) {
            if t > after {
                return Some(t);
            }
        }
        cursor = n;
    }
    None
}

#[cfg(test)]
mod tests;
