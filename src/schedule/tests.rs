use super::*;
use crate::clock::{ManualClock, SystemClock};
use chrono::Duration;
use std::sync::Arc;
use tokio::sync::mpsc;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn tz(name: &str) -> Tz {
    name.parse().unwrap()
}

/// Every fire instant in (from, to].
fn fires(expr: &str, zone: &str, from: &str, to: &str) -> Vec<DateTime<Utc>> {
    let s = CronSchedule::parse(expr).unwrap();
    let (mut at, end) = (t(from), t(to));
    let mut out = Vec::new();
    while let Some(n) = next_fire(&s, tz(zone), at) {
        if n > end {
            break;
        }
        assert!(n > at, "next_fire must move forward: {n} after {at}");
        out.push(n);
        at = n;
    }
    out
}

fn local(ts: &[DateTime<Utc>], zone: &str) -> Vec<String> {
    ts.iter().map(|t| t.with_timezone(&tz(zone)).format("%Y-%m-%d %H:%M:%S %Z").to_string()).collect()
}

#[test]
fn parse_accepts_five_and_six_fields_only() {
    assert_eq!(CronSchedule::parse("0 3 * * *").unwrap().six_field, "0 0 3 * * *");
    assert_eq!(CronSchedule::parse("15 0 3 * * *").unwrap().six_field, "15 0 3 * * *");
    assert!(CronSchedule::parse("3 * * *").is_err());
    assert!(CronSchedule::parse("0 0 0 3 * * *").is_err());
    assert!(CronSchedule::parse("61 3 * * *").is_err());
    assert!(CronSchedule::parse("").is_err());
}

#[test]
fn five_and_six_field_forms_fire_at_the_same_minute_and_the_given_second() {
    let five = fires("30 4 * * *", "UTC", "2026-06-01T00:00:00Z", "2026-06-02T23:59:59Z");
    assert_eq!(five, vec![t("2026-06-01T04:30:00Z"), t("2026-06-02T04:30:00Z")]);
    let six = fires("15 30 4 * * *", "UTC", "2026-06-01T00:00:00Z", "2026-06-01T23:59:59Z");
    assert_eq!(six, vec![t("2026-06-01T04:30:15Z")]);
    let every_20s = fires("*/20 * * * * *", "UTC", "2026-06-01T00:00:00Z", "2026-06-01T00:01:00Z");
    assert_eq!(every_20s.len(), 3);
}

#[test]
fn next_fire_is_strictly_after() {
    let s = CronSchedule::parse("0 3 * * *").unwrap();
    assert_eq!(next_fire(&s, Tz::UTC, t("2026-06-01T03:00:00Z")), Some(t("2026-06-02T03:00:00Z")));
    assert_eq!(next_fire(&s, Tz::UTC, t("2026-06-01T02:59:59Z")), Some(t("2026-06-01T03:00:00Z")));
}

#[test]
fn berlin_three_am_across_both_2026_transitions() {
    // Spring forward: Sun 29 Mar 2026 02:00 CET -> 03:00 CEST. Fall back: Sun 25 Oct 03:00 CEST -> 02:00 CET.
    for (from, to) in [("2026-03-27T00:00:00Z", "2026-03-31T23:00:00Z"), ("2026-10-23T00:00:00Z", "2026-10-27T23:00:00Z")] {
        let f = fires("0 3 * * *", "Europe/Berlin", from, to);
        let l = local(&f, "Europe/Berlin");
        assert_eq!(f.len(), 5, "{l:?}");
        assert!(l.iter().all(|s| s.contains(" 03:00:00 ")), "{l:?}");
        let days: std::collections::BTreeSet<_> = l.iter().map(|s| s[..10].to_string()).collect();
        assert_eq!(days.len(), 5, "one fire per day: {l:?}");
    }
    let spring = fires("0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T12:00:00Z");
    assert_eq!(spring, vec![t("2026-03-29T01:00:00Z")], "03:00 CEST is 01:00 UTC");
    let fall = fires("0 3 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z");
    assert_eq!(fall, vec![t("2026-10-25T02:00:00Z")], "03:00 CET is 02:00 UTC");
}

#[test]
fn nonexistent_two_thirty_fires_once_at_the_end_of_the_gap() {
    let f = fires("30 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", "2026-03-30T23:00:00Z");
    assert_eq!(local(&f, "Europe/Berlin"), vec!["2026-03-28 02:30:00 CET", "2026-03-29 03:00:00 CEST", "2026-03-30 02:30:00 CEST"]);
    // Several skipped times collapse into one fire at 03:00.
    let q = fires("*/15 2 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-29T05:00:00Z");
    assert_eq!(local(&q, "Europe/Berlin"), vec!["2026-03-29 03:00:00 CEST"]);
}

#[test]
fn ambiguous_two_thirty_fires_once_at_its_first_occurrence() {
    let f = fires("30 2 * * *", "Europe/Berlin", "2026-10-24T00:00:00Z", "2026-10-26T23:00:00Z");
    assert_eq!(local(&f, "Europe/Berlin"), vec!["2026-10-24 02:30:00 CEST", "2026-10-25 02:30:00 CEST", "2026-10-26 02:30:00 CET"]);
    // Asked from inside the repeated hour (after the first 02:30, before the second), the
    // second 02:30 does not fire.
    let s = CronSchedule::parse("30 2 * * *").unwrap();
    let n = next_fire(&s, tz("Europe/Berlin"), t("2026-10-25T01:00:00Z")).unwrap();
    assert_eq!(n, t("2026-10-26T01:30:00Z"));
    // Hourly: each wall-clock hour once; the repeated hour does not fire again.
    let h = fires("0 * * * *", "Europe/Berlin", "2026-10-24T22:30:00Z", "2026-10-25T03:30:00Z");
    assert_eq!(
        local(&h, "Europe/Berlin"),
        vec!["2026-10-25 01:00:00 CEST", "2026-10-25 02:00:00 CEST", "2026-10-25 03:00:00 CET", "2026-10-25 04:00:00 CET"]
    );
}

#[test]
fn new_york_transitions() {
    // 2026: spring forward Sun 8 Mar 02:00 EST -> 03:00 EDT; fall back Sun 1 Nov 02:00 EDT -> 01:00 EST.
    let f = fires("0 3 * * *", "America/New_York", "2026-03-06T12:00:00Z", "2026-03-10T12:00:00Z");
    let l = local(&f, "America/New_York");
    assert_eq!(l.len(), 4, "{l:?}");
    assert!(l.iter().all(|s| s.contains(" 03:00:00 ")), "{l:?}");
    let gap = fires("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-09T12:00:00Z");
    assert_eq!(local(&gap, "America/New_York"), vec!["2026-03-08 03:00:00 EDT", "2026-03-09 02:30:00 EDT"]);
    let fold = fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z");
    assert_eq!(local(&fold, "America/New_York"), vec!["2026-11-01 01:30:00 EDT", "2026-11-02 01:30:00 EST"]);
}

#[test]
fn never_matching_expression_returns_none() {
    // 30 February never exists.
    let s = CronSchedule::parse("0 0 30 2 *").unwrap();
    assert_eq!(next_fire(&s, Tz::UTC, t("2026-01-01T00:00:00Z")), None);
}

#[test]
fn resolve_local_handles_all_three_cases() {
    let berlin = tz("Europe/Berlin");
    let n = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    assert_eq!(resolve_local(berlin, n("2026-06-01 12:00:00")), Some(t("2026-06-01T10:00:00Z")));
    assert_eq!(resolve_local(berlin, n("2026-03-29 02:30:00")), Some(t("2026-03-29T01:00:00Z")));
    assert_eq!(resolve_local(berlin, n("2026-10-25 02:30:00")), Some(t("2026-10-25T00:30:00Z")));
}

/// Wait (up to a generous limit) until the scheduler's state satisfies `pred`.
async fn until(s: &Scheduler, pred: impl Fn(&SchedulerState) -> bool) -> SchedulerState {
    let mut rx = s.subscribe();
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let st = *rx.borrow_and_update();
            if pred(&st) {
                return st;
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("the scheduler never reached the expected state")
}

#[tokio::test]
async fn scheduler_ticks_when_the_clock_reaches_the_fire_time() {
    let clock = Arc::new(ManualClock::new(t("2026-06-01T02:00:00Z")));
    let (tx, mut rx) = mpsc::channel(1);
    let s = Scheduler::start(CronSchedule::parse("0 3 * * *").unwrap(), Tz::UTC, clock.clone(), tx).await.unwrap();
    until(&s, |st| st.armed >= 1 && st.next == Some(t("2026-06-01T03:00:00Z"))).await;
    // Nothing before the time: it wakes, reads the clock, and does not tick.
    until(&s, |st| st.wakes >= 2).await;
    assert!(rx.try_recv().is_err(), "no tick before 03:00");
    clock.set(t("2026-06-01T03:00:01Z"));
    let got = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv()).await;
    assert_eq!(got, Ok(Some(())));
    until(&s, |st| st.next == Some(t("2026-06-02T03:00:00Z"))).await;
    // Exactly once for that instant: it moved on to the next day without a second tick.
    assert!(rx.try_recv().is_err());
    s.shutdown().await;
}

#[tokio::test]
async fn scheduler_follows_a_berlin_day_jump_in_local_time() {
    let clock = Arc::new(ManualClock::new(t("2026-03-28T12:00:00Z")));
    let (tx, mut rx) = mpsc::channel(1);
    let s = Scheduler::start(CronSchedule::parse("0 3 * * *").unwrap(), tz("Europe/Berlin"), clock.clone(), tx).await.unwrap();
    until(&s, |st| st.armed >= 1 && st.next == Some(t("2026-03-29T01:00:00Z"))).await;
    clock.set(t("2026-03-29T01:00:00Z"));
    assert_eq!(tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv()).await, Ok(Some(())));
    let st = until(&s, |st| st.next != Some(t("2026-03-29T01:00:00Z"))).await;
    assert_eq!(st.next, Some(t("2026-03-30T01:00:00Z")), "next day is 03:00 CEST too");
    s.shutdown().await;
}

#[tokio::test]
async fn scheduler_with_real_clock_ticks_every_second_and_stops() {
    let (tx, mut rx) = mpsc::channel(8);
    let s = Scheduler::start(CronSchedule::parse("* * * * * *").unwrap(), Tz::UTC, Arc::new(SystemClock), tx).await.unwrap();
    for _ in 0..2 {
        assert_eq!(tokio::time::timeout(std::time::Duration::from_secs(4), rx.recv()).await, Ok(Some(())));
    }
    let next = s.next_tick().unwrap();
    assert!(next > Utc::now() - Duration::seconds(2) && next <= Utc::now() + Duration::seconds(2), "{next}");
    s.shutdown().await;
    // After shutdown the sender is dropped: the channel closes.
    while let Ok(Some(())) = tokio::time::timeout(std::time::Duration::from_secs(3), rx.recv()).await {}
    assert!(rx.is_closed() || rx.recv().await.is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn the_next_tick_is_known_as_soon_as_the_schedule_starts() {
    let clock = Arc::new(ManualClock::new(t("2026-06-01T02:00:00Z")));
    let (tx, _rx) = mpsc::channel(1);
    let s = Scheduler::start(CronSchedule::parse("0 3 * * *").unwrap(), Tz::UTC, clock, tx).await.unwrap();
    // No await since start: the schedule's task has not run yet, and the answer is still there.
    assert_eq!(s.next_tick(), Some(t("2026-06-01T03:00:00Z")));
    s.shutdown().await;
}
