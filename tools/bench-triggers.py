#!/usr/bin/env python3
"""Benchmark: idle daemon RSS/CPU, and trigger latency (5th session's last write -> job).

Usage (after `cargo build --release`):
    python3 tools/bench-triggers.py [--binary target/release/dreamd] [--idle-seconds 60]
                                    [--quiet 5] [--skip-latency]

It builds a temp agent (Claude Code layout, empty sessions), starts
`dreamd run --config X`, then
  1. idle: samples /proc/PID/status VmRSS and /proc/PID/stat utime+stime once a second
     for --idle-seconds with no filesystem activity; prints max/last RSS and CPU %
     (targets: < 15 MB RSS, near-zero CPU);
  2. latency: writes 5 session transcripts, the 5th last, and polls `dreamd jobs --json`
     every 50 ms until a job appears; prints the time from the 5th session's last write
     (session_idle = quiet_period = --quiet seconds, so the expected floor is --quiet s)
     and the overhead beyond it (target: under 1 s).
Figures are as measured on this machine; rerun to compare.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime, stime are fields 14 and 15.
    return int(fields[11]) + int(fields[12])


def write_config(root, quiet):
    mem = os.path.join(root, "memory")
    ses = os.path.join(root, "sessions")
    os.makedirs(mem)
    os.makedirs(ses)
    with open(os.path.join(mem, "MEMORY.md"), "w") as f:
        f.write("- [Role](user_role.md) — who the user is\n- [Role](user_role.md) — who the user is\n")
    with open(os.path.join(mem, "user_role.md"), "w") as f:
        f.write("---\nname: role\ndescription: role\ntype: user\n---\nThe user is a backend engineer.\n")
    cfg = os.path.join(root, "dreamd.yaml")
    with open(cfg, "w") as f:
        f.write(
            f"""agent:
  name: bench
  layout: claude-code
  memory_dir: ./memory
  sessions_dir: ./sessions
state_dir: ./.dreamd
triggers:
  min_new_sessions: 5
  max_index_lines: 0
  session_idle: {quiet}s
  quiet_period: {quiet}s
  min_interval: 0
"""
        )
    return cfg, ses


def session_line(sid, i):
    return json.dumps({"type": "user", "sessionId": sid, "timestamp": "2026-06-01T10:00:%02dZ" % i,
                       "message": {"role": "user", "content": f"message {i}"}}) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/dreamd")
    ap.add_argument("--idle-seconds", type=int, default=60)
    ap.add_argument("--quiet", type=int, default=5)
    ap.add_argument("--skip-latency", action="store_true")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    root = tempfile.mkdtemp(prefix="dreamd-bench-")
    cfg, ses = write_config(root, a.quiet)
    proc = subprocess.Popen([binary, "run", "--config", cfg], stdout=subprocess.DEVNULL, stderr=open(os.path.join(root, "log"), "w"))
    try:
        time.sleep(2)  # start-up scan
        if proc.poll() is not None:
            sys.exit(f"daemon exited early; see {root}/log")
        t0, c0 = time.monotonic(), cpu_ticks(proc.pid)
        rss = []
        for _ in range(a.idle_seconds):
            time.sleep(1)
            rss.append(rss_kb(proc.pid))
        t1, c1 = time.monotonic(), cpu_ticks(proc.pid)
        cpu_pct = 100.0 * (c1 - c0) / CLK_TCK / (t1 - t0)
        print(f"idle {a.idle_seconds}s: RSS max {max(rss)/1024:.1f} MB, last {rss[-1]/1024:.1f} MB; "
              f"CPU {cpu_pct:.3f}% ({c1 - c0} ticks of 1/{CLK_TCK}s)")
        if a.skip_latency:
            return
        for n in range(5):
            sid = f"bench-{n}"
            with open(os.path.join(ses, sid + ".jsonl"), "w") as f:
                for i in range(3):
                    f.write(session_line(sid, i))
                    f.flush()
        last_write = time.time()
        deadline = last_write + a.quiet + 30
        while time.time() < deadline:
            out = subprocess.run([binary, "jobs", "--json", "--config", cfg], capture_output=True, text=True)
            try:
                jobs = json.loads(out.stdout).get("jobs", [])
            except json.JSONDecodeError:
                jobs = []
            if jobs:
                lat = time.time() - last_write
                print(f"latency: job {jobs[0].get('id')} appeared {lat:.2f}s after the 5th session's last write "
                      f"(floor {a.quiet}s, overhead {lat - a.quiet:.2f}s)")
                return
            time.sleep(0.05)
        print(f"latency: no job within {a.quiet + 30}s (are triggers wired?); log: {root}/log")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
