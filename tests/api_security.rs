//! The API as a hostile client meets it: malformed, oversized, slow and unauthorised requests
//! get a JSON error with the right status, and never hold up anyone else. Raw bytes over the
//! real Unix socket and the loopback TCP listener of an in-process daemon (the real binary
//! where another user must connect).

mod common;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;

struct Resp {
    status: u16,
    head: String,
    body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The API's error shape, with `code`.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        assert!(self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", self.body);
        assert!(self.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{}", self.head);
    }
}

fn read_response(mut s: impl Read) -> Resp {
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Resp { status, head: head.to_string(), body: serde_json::from_str(body).unwrap_or(Value::Null) }
}

fn unix(socket: &Path) -> UnixStream {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

/// Send raw bytes over the socket and read the whole answer (the server closes after one).
fn send(socket: &Path, request: &[u8]) -> Resp {
    let mut s = unix(socket);
    s.write_all(request).unwrap();
    read_response(s)
}

fn get(socket: &Path, path: &str) -> Resp {
    send(socket, format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
}

fn post(socket: &Path, path: &str, content_type: &str, body: &str) -> Resp {
    let req = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    send(socket, req.as_bytes())
}

#[test]
fn errors_raised_before_routing_have_json_bodies() {
    let env = Env::quickstart("");
    let d = env.start();
    let s = env.socket();
    send(&s, b"GARBAGE\r\n\r\n").assert_error(400, "bad_request");
    send(&s, b"GET /v1/status HTTP/1.1\r\nBad Header: x\r\n\r\n").assert_error(400, "bad_request");
    send(&s, b"GET /v1/status HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").assert_error(400, "bad_request");
    send(&s, b"POST /v1/dreams HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n").assert_error(400, "bad_request");
    let big = format!("GET /v1/status HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
    send(&s, big.as_bytes()).assert_error(431, "headers_too_large");
    let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
    send(&s, format!("GET /v1/status HTTP/1.1\r\n{many}\r\n").as_bytes()).assert_error(431, "headers_too_large");
    assert_eq!(get(&s, "/v1/health").status, 200, "still serving");
    drop(d);
}

#[test]
fn an_oversized_body_is_413_announced_or_chunked() {
    let env = Env::quickstart("api:\n  max_body_bytes: 2048\n");
    let d = env.start();
    let s = env.socket();
    // Announced: refused before the body is read.
    let mut c = unix(&s);
    c.write_all(b"POST /v1/dreams HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{").unwrap();
    read_response(c).assert_error(413, "too_large");
    // Chunked: cut off at the cap.
    let chunk = "a".repeat(4000);
    let req = format!(
        "POST /v1/dreams HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    send(&s, req.as_bytes()).assert_error(413, "too_large");
    // Under the cap it is read (and refused for what it says, not its size).
    post(&s, "/v1/dreams", "application/json", &format!("{{\"x\": \"{}\"}}", "a".repeat(1000))).assert_error(400, "bad_request");
    drop(d);
}

#[test]
fn unknown_paths_and_dot_segments_are_404_and_a_wrong_method_405_with_allow() {
    let env = Env::quickstart("");
    let d = env.start();
    let s = env.socket();
    for path in ["/v1/jobs/1/nope", "/v1/jobs/../health", "/v1/jobs/..", "/v1/status/x", "/v1//jobs", "/nope", "/v1/health/"] {
        get(&s, path).assert_error(404, "not_found");
        post(&s, path, "application/json", "{}").assert_error(404, "not_found");
    }
    let r = send(&s, b"DELETE /v1/jobs/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD"));
    let r = get(&s, "/v1/dreams");
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
    drop(d);
}

#[test]
fn head_is_answered_like_get_without_a_body() {
    let env = Env::quickstart("");
    let d = env.start();
    let s = env.socket();
    for path in ["/v1/health", "/v1/status", "/v1/jobs", "/metrics", "/v1/openapi.json"] {
        let mut c = unix(&s);
        c.write_all(format!("HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
        let mut bytes = Vec::new();
        c.read_to_end(&mut bytes).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("HTTP/1.1 200"), "HEAD {path}: {text}");
        assert!(text.ends_with("\r\n\r\n"), "HEAD {path} has no body: {text:?}");
    }
    drop(d);
}

#[test]
fn a_post_without_a_json_content_type_is_415() {
    let env = Env::quickstart("");
    let d = env.start();
    let s = env.socket();
    post(&s, "/v1/dreams", "text/plain", "{\"force\": true}").assert_error(415, "unsupported_media_type");
    post(&s, "/v1/rollback", "application/x-www-form-urlencoded", "generation=1").assert_error(415, "unsupported_media_type");
    send(&s, b"POST /v1/dreams HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}").assert_error(415, "unsupported_media_type");
    assert!(d.jobs().is_empty(), "no dream was started");
    // With the type it is served (the gate answers).
    let r = post(&s, "/v1/dreams", "application/json; charset=utf-8", "{\"force\": true}");
    assert_eq!(r.status, 202, "{}", r.body);
    drop(d);
}

#[test]
fn ids_and_query_values_are_validated() {
    let env = Env::quickstart("");
    let d = env.start();
    let s = env.socket();
    for path in
        ["/v1/jobs/abc", "/v1/jobs/0", "/v1/jobs/-1", "/v1/jobs/+1", "/v1/jobs/1e3", "/v1/jobs/99999999999999999999", "/v1/jobs/%31"]
    {
        get(&s, path).assert_error(400, "bad_request");
    }
    get(&s, "/v1/jobs/42").assert_error(404, "not_found");
    get(&s, "/v1/jobs?limit=x").assert_error(400, "bad_request");
    get(&s, "/v1/jobs?limit=0").assert_error(400, "bad_request");
    let id = d.dream();
    d.wait_settled(id);
    get(&s, &format!("/v1/jobs/{id}/events?follow=maybe")).assert_error(400, "bad_request");
    get(&s, &format!("/v1/jobs/{id}/events?after=-3")).assert_error(400, "bad_request");
    post(&s, "/v1/jobs/x/approve", "application/json", "").assert_error(400, "bad_request");
    drop(d);
}

/// Whether the server has closed (or answered on) a connection, without waiting.
fn still_open(c: &UnixStream) -> bool {
    c.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open = matches!((&*c).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    c.set_nonblocking(false).unwrap();
    open
}

#[test]
fn a_slow_client_is_cut_off_with_408_while_others_are_served() {
    let env = Env::quickstart("api:\n  header_timeout: 2s\n");
    let d = env.start();
    let s = env.socket();
    let mut slow = unix(&s);
    slow.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n").unwrap();
    for _ in 0..5 {
        assert_eq!(get(&s, "/v1/health").status, 200);
    }
    assert!(still_open(&slow), "the slow client is still waited for while the others are served");
    read_response(slow).assert_error(408, "timeout");
    drop(d);
}

#[test]
fn a_body_announced_and_never_sent_times_out_while_others_are_served() {
    let env = Env::quickstart("api:\n  body_timeout: 1s\n");
    let d = env.start();
    let s = env.socket();
    let mut silent = unix(&s);
    silent.write_all(b"POST /v1/dreams HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"fo").unwrap();
    assert_eq!(get(&s, "/v1/health").status, 200, "served meanwhile");
    read_response(silent).assert_error(408, "timeout");
    assert!(d.jobs().is_empty(), "nothing was started from half a request");
    drop(d);
}

#[test]
fn connections_over_the_cap_get_503_and_the_cap_frees_up() {
    let env = Env::quickstart("api:\n  max_connections: 2\n  header_timeout: 60s\n");
    let d = env.start();
    let s = env.socket();
    let idle1 = unix(&s);
    let idle2 = unix(&s);
    let r = get(&s, "/v1/health");
    r.assert_error(503, "unavailable");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    drop(idle1);
    drop(idle2);
    wait_until("a connection slot to free up", || get(&s, "/v1/health").status == 200);
    let m = get_text(&s, "/metrics");
    assert!(m.contains("dreamd_api_refused_total{reason=\"connections\"}"), "{m}");
    drop(d);
}

fn get_text(socket: &Path, path: &str) -> String {
    let mut c = unix(socket);
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    text
}

// --- who may connect ---------------------------------------------------------------------

/// A world-reachable directory for a socket other users must reach.
fn open_dir(env: &Env) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = env.path().join("run");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// `dreamd health` run as uid/gid 65534 (nobody).
fn health_as_nobody(socket: &Path) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    std::process::Command::new(BIN).args(["health", "--socket"]).arg(socket).uid(65534).gid(65534).output().unwrap()
}

#[test]
fn a_user_not_allowed_is_refused_403_and_logged() {
    if !is_root() {
        return skip("needs root to connect as another user");
    }
    let env = Env::quickstart("");
    let dir = open_dir(&env);
    let socket = dir.join("dreamd.sock");
    // Another group is allowed, so the socket is open to all and the peer check decides.
    env.write_config(&format!("api:\n  socket: {}\n  allowed_gids: [4242]\n", socket.display()));
    let daemon = Daemon::start(&env, &socket);
    let out = health_as_nobody(&socket);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uid 65534") && err.contains("may not use this socket"), "{err}");
    assert!(daemon.log_text().contains("request refused"), "{}", daemon.log_text());
    assert_eq!(get(&socket, "/v1/health").status, 200, "root is allowed");
    assert!(get_text(&socket, "/metrics").contains("dreamd_api_refused_total{reason=\"peer\"} 1"));
    drop(daemon);

    env.write_config(&format!("api:\n  socket: {}\n  allowed_uids: [65534]\n", socket.display()));
    let daemon = Daemon::start(&env, &socket);
    let out = health_as_nobody(&socket);
    assert!(out.status.success(), "an allowed uid is served: {}", String::from_utf8_lossy(&out.stderr));
    drop(daemon);
}

#[test]
fn the_socket_is_owner_only_unless_others_are_allowed() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::quickstart("");
    let d = env.start();
    assert_eq!(std::fs::metadata(env.socket()).unwrap().permissions().mode() & 0o777, 0o600);
    drop(d);
    env.write_config("api:\n  allowed_uids: [4242]\n");
    let d = env.start();
    assert_eq!(std::fs::metadata(env.socket()).unwrap().permissions().mode() & 0o777, 0o666);
    drop(d);
}

// --- the TCP listener --------------------------------------------------------------------

fn tcp_send(addr: &str, request: &str) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    read_response(s)
}

fn tcp_get(addr: &str, path: &str, headers: &str) -> Resp {
    tcp_send(addr, &format!("GET {path} HTTP/1.1\r\n{headers}\r\n"))
}

#[test]
fn the_tcp_listener_wants_the_token_a_local_host_and_a_local_origin() {
    let env = Env::quickstart("api:\n  tcp:\n    listen: 127.0.0.1:0\n");
    let d = env.start();
    let addr = d.status()["api"]["tcp"].as_str().expect("the bound address is in status").to_string();
    let token_file = env.path().join("state/api-token");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600, "the generated token is private");
    let token = std::fs::read_to_string(&token_file).unwrap().trim().to_string();
    assert_eq!(token.len(), 64);
    let auth = format!("Authorization: Bearer {token}\r\n");
    let host = "Host: 127.0.0.1\r\n";

    let r = tcp_get(&addr, "/v1/status", host);
    r.assert_error(401, "unauthorized");
    assert!(r.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")), "{}", r.head);
    let wrong = format!("Authorization: Bearer {}\r\n", "0".repeat(64));
    tcp_get(&addr, "/v1/status", &format!("{host}{wrong}")).assert_error(401, "unauthorized");
    tcp_get(&addr, "/v1/status", &format!("Host: evil.example:80\r\n{auth}")).assert_error(403, "forbidden");
    tcp_get(&addr, "/v1/status", &auth).assert_error(403, "forbidden");
    tcp_get(&addr, "/v1/status", &format!("{host}{auth}Origin: http://evil.example\r\n")).assert_error(403, "forbidden");

    let ok = tcp_get(&addr, "/v1/status", &format!("Host: localhost:1234\r\n{auth}Origin: http://localhost:3000\r\n"));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["agent"], "test");
    let body = "{\"force\": true}";
    let req = format!("POST /v1/dreams HTTP/1.1\r\n{host}{auth}Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    tcp_send(&addr, &req).assert_error(415, "unsupported_media_type");
    assert!(d.jobs().is_empty());
    let m = tcp_get(&addr, "/metrics", &format!("{host}{auth}"));
    assert_eq!(m.status, 200);
    drop(d);

    // The token survives a restart.
    let d = env.start();
    let addr = d.status()["api"]["tcp"].as_str().unwrap().to_string();
    assert_eq!(tcp_get(&addr, "/v1/health", &format!("{host}{auth}")).status, 200);
    drop(d);
}

#[test]
fn a_token_file_others_can_read_stops_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::quickstart("api:\n  tcp:\n    listen: 127.0.0.1:0\n    token_file: ./token\n");
    std::fs::write(env.path().join("token"), "0123456789abcdef0123456789\n").unwrap();
    std::fs::set_permissions(env.path().join("token"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(BIN).args(["run", "--config"]).arg(env.config()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("readable by others"), "{err}");
}

#[test]
fn a_non_loopback_listener_needs_force() {
    let env = Env::quickstart("api:\n  tcp:\n    listen: 0.0.0.0:7878\n");
    let out = env.cli(&["check-config"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dreamd.yaml:") && err.contains("listen") && err.contains("force_non_loopback"), "{err}");
    env.write_config("api:\n  tcp:\n    listen: 0.0.0.0:7878\n    force_non_loopback: true\n");
    assert!(env.cli(&["check-config"]).status.success());
}

/// The real binary on a given socket, killed when dropped.
struct Daemon {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Daemon {
    fn start(env: &Env, socket: &Path) -> Daemon {
        let log = env.path().join("daemon.log");
        let child = std::process::Command::new(BIN)
            .args(["run", "--config"])
            .arg(env.config())
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        wait_until("the daemon to answer", || raw(socket, "GET", "/v1/health", "").is_some_and(|(s, _)| s == 200));
        Daemon { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
