//! `dreamd dream --wait`: follow a job's live log to its outcome. On a terminal one progress
//! line (elapsed time, the latest event) is redrawn on standard error; otherwise each event is
//! printed there as a line. The outcome goes to standard output (the job's JSON with `--json`)
//! and decides the exit code: 0 applied or nothing to change, 6 held for review, 7 failed,
//! canceled or stale.

use super::client::Client;
use super::exit::{self, Reported};
use super::render;
use super::status::cut;
use anyhow::Result;
use serde_json::Value;
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

struct Progress {
    id: i64,
    started: Instant,
    /// Redraw one line (a terminal) or print each event (a pipe, a file); `None`: quiet (JSON).
    mode: Option<Mode>,
    latest: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Line,
    Log,
}

impl Progress {
    fn event(&mut self, e: &Value) {
        self.latest = format!("{}: {}", e["kind"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or(""));
        match self.mode {
            Some(Mode::Line) => self.draw(),
            Some(Mode::Log) => eprintln!("{}", render::event(e)),
            None => {}
        }
    }

    fn draw(&self) {
        let secs = self.started.elapsed().as_secs();
        let line = format!("job {} · {:02}:{:02} · {}", self.id, secs / 60, secs % 60, self.latest);
        let mut err = std::io::stderr();
        let _ = write!(err, "\r\x1b[2K{}", cut(&line, terminal_width().saturating_sub(1)));
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.mode == Some(Mode::Line) {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

/// Columns of the terminal on standard error (80 when it does not say).
fn terminal_width() -> usize {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ fills the struct it is given; stderr is fd 2.
    let ok = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        usize::from(ws.ws_col)
    } else {
        80
    }
}

pub async fn follow(client: &Client, json: bool, id: i64) -> Result<()> {
    let mode = match (json, std::io::stderr().is_terminal()) {
        (true, _) => None,
        (false, true) => Some(Mode::Line),
        (false, false) => Some(Mode::Log),
    };
    let progress = RefCell::new(Progress { id, started: Instant::now(), mode, latest: "waiting for the first event".into() });
    if mode == Some(Mode::Line) {
        progress.borrow().draw();
    }
    let path = format!("/v1/jobs/{id}/events?follow=true");
    let stream = client.stream_lines(&path, |e| progress.borrow_mut().event(&e));
    tokio::pin!(stream);
    // The elapsed time moves on a terminal even between events.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let streamed = loop {
        tokio::select! {
            r = &mut stream => break r,
            _ = tick.tick(), if mode == Some(Mode::Line) => progress.borrow().draw(),
        }
    };
    progress.borrow().clear();
    streamed?;
    let v = client.get(&format!("/v1/jobs/{id}")).await?;
    outcome(&v, json)
}

/// Print the outcome and choose the exit code.
pub fn outcome(v: &Value, json: bool) -> Result<()> {
    let j = &v["job"];
    let id = &j["id"];
    let status = j["status"].as_str().unwrap_or("?");
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }
    let figures = |m: &Value| -> String {
        match (m["memory_bytes_before"].as_u64(), m["memory_bytes_after"].as_u64()) {
            (Some(b), Some(a)) => format!(
                ": memory {b} → {a} bytes ({:.1}% smaller), {} → {} entries",
                crate::figures::reduction(b, a) * 100.0,
                m["entries_before"],
                m["entries_after"]
            ),
            _ => String::new(),
        }
    };
    let (code, message) = match status {
        "applied" => (exit::OK, format!("job {id} applied{}; `dreamd rollback` puts the previous store back", figures(&j["metrics"]))),
        "unchanged" => (exit::OK, format!("job {id} found nothing to change")),
        "held" => {
            let why = j["decision"].as_str().unwrap_or("").trim_start_matches("held: ");
            (
                exit::HELD,
                format!("job {id} is held for review: {why}\nnext: dreamd diff {id}, then dreamd approve {id} or dreamd discard {id}"),
            )
        }
        "failed" => (exit::NOT_DONE, format!("job {id} failed: {}", j["error"].as_str().unwrap_or("see dreamd log"))),
        "canceled" => {
            (exit::NOT_DONE, format!("job {id} was canceled{}", j["decided_by"].as_str().map(|b| format!(" by {b}")).unwrap_or_default()))
        }
        "stale" => (exit::NOT_DONE, format!("job {id} went stale: the live store changed while it dreamed; ask again")),
        "discarded" => (exit::NOT_DONE, format!("job {id} was discarded")),
        other => anyhow::bail!("job {id} is still {other}: the daemon stopped answering before it finished"),
    };
    match (code, json) {
        (exit::OK, false) => {
            println!("{message}");
            Ok(())
        }
        (exit::OK, true) => Ok(()),
        // With --json the job is on standard output; the message still explains the code.
        _ => Err(Reported { code, message }.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(status: &str) -> u8 {
        let v = json!({"job": {"id": 3, "status": status, "decision": "held: reduction: too much", "error": "boom", "metrics": null}});
        match outcome(&v, true) {
            Ok(()) => 0,
            Err(e) => e.downcast_ref::<Reported>().map_or(1, |r| r.code),
        }
    }

    #[test]
    fn each_outcome_has_its_exit_code() {
        assert_eq!(code("applied"), 0);
        assert_eq!(code("unchanged"), 0);
        assert_eq!(code("held"), exit::HELD);
        for s in ["failed", "canceled", "stale", "discarded"] {
            assert_eq!(code(s), exit::NOT_DONE, "{s}");
        }
        assert_eq!(code("running"), exit::ERROR);
    }
}
