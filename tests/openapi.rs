//! The published contract, `docs/openapi.json`, and the API agree: every route of the table is
//! in the document and nothing else is, the daemon serves the document as it is in the repo,
//! and every answer of a session that touches every operation (successes and errors) is valid
//! against the document's schema for its status and content type.

mod common;
use common::*;
use dreamd::api::routes::ROUTES;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

fn document() -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

#[test]
fn every_route_is_documented_and_nothing_else() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{path}: {method} is not a method");
            documented.insert((method.to_uppercase(), path.clone(), op["operationId"].as_str().unwrap().to_string()));
        }
    }
    let routed: BTreeSet<(String, String, String)> =
        ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string(), r.operation_id.to_string())).collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(missing.is_empty(), "routes missing from docs/openapi.json: {missing:?}");
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    // Every operation documents its errors, and every path parameter is declared.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["responses"]["default"].is_object(), "{method} {path} has no default (error) response");
            if path.contains("{id}") {
                let params = op["parameters"].as_array().unwrap();
                assert!(params.iter().any(|p| p["name"] == "id" && p["in"] == "path"), "{method} {path}: id not declared");
            }
        }
    }
}

#[test]
fn the_schemas_are_valid_json_schema() {
    let doc = document();
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let mut root = doc.clone();
        root["$ref"] = json!(format!("#/components/schemas/{name}"));
        jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("schema {name}: {e}\n{schema}"));
    }
}

#[test]
fn a_wrong_shape_is_caught() {
    let c = Contract { doc: document(), socket: Default::default(), succeeded: BTreeSet::new(), checked: 0 };
    let bad = json!({"job": {"id": "1", "status": "done"}});
    let caught = std::panic::catch_unwind(|| c.validate("a made-up answer", "#/components/schemas/JobEnvelope", &bad));
    assert!(caught.is_err(), "the validator must reject a job without its fields");
    c.validate("a real error", "#/components/schemas/Error", &json!({"error": {"code": "not_found", "message": "no"}}));
}

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
}

fn call(socket: &Path, method: &str, path: &str, content_type: &str, body: &str) -> Answer {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let req =
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&bytes[..end]).to_string();
    let mut body = bytes[end + 4..].to_vec();
    let header = |name: &str| {
        head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string()))
    };
    if header("transfer-encoding").is_some_and(|v| v == "chunked") {
        body = dechunk(&body);
    }
    Answer {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        content_type: header("content-type").unwrap_or_default(),
        body,
    }
}

/// Checks answers against the document and remembers which operations answered 2xx.
struct Contract {
    doc: Value,
    socket: std::path::PathBuf,
    succeeded: BTreeSet<String>,
    checked: usize,
}

impl Contract {
    /// The documented operation for a request path (matched against the route table).
    fn operation(&self, method: &str, path: &str) -> (String, Value) {
        let path = path.split('?').next().unwrap();
        let m = hyper::Method::from_bytes(method.as_bytes()).unwrap();
        let route = match dreamd::api::routes::find(&ROUTES, &m, path) {
            dreamd::api::routes::Match::Found(r, _) => r,
            other => panic!("{method} {path} is not a route: {other:?}"),
        };
        (route.operation_id.to_string(), self.doc["paths"][route.path][method.to_lowercase()].clone())
    }

    fn validate(&self, what: &str, pointer: &str, instance: &Value) {
        let mut root = self.doc.clone();
        root["$ref"] = json!(pointer);
        let v = jsonschema::draft202012::new(&root).unwrap();
        let errors: Vec<String> = v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(
            errors.is_empty(),
            "{what} does not match {pointer}:\n{}\n{}",
            errors.join("\n"),
            serde_json::to_string_pretty(instance).unwrap()
        );
    }

    fn check(&mut self, method: &str, path: &str, body: Option<Value>, expect: u16) -> Value {
        let (ctype, text) = match &body {
            Some(b) => ("application/json", b.to_string()),
            None => ("application/json", String::new()),
        };
        self.check_raw(method, path, ctype, &text, expect)
    }

    fn check_raw(&mut self, method: &str, path: &str, ctype: &str, body: &str, expect: u16) -> Value {
        let a = call(&self.socket, method, path, ctype, body);
        let what = format!("{method} {path} → {}", a.status);
        assert_eq!(a.status, expect, "{what}: {}", String::from_utf8_lossy(&a.body));
        let (op_id, op) = self.operation(method, path);
        let status = a.status.to_string();
        let key = if op["responses"][&status].is_object() { status.clone() } else { "default".to_string() };
        let content = &op["responses"][&key]["content"];
        let media = content
            .as_object()
            .unwrap_or_else(|| panic!("{what}: no content documented"))
            .keys()
            .find(|m| a.content_type.split(';').next() == m.split(';').next())
            .unwrap_or_else(|| panic!("{what}: content type {} is not documented ({content})", a.content_type))
            .clone();
        let pointer = format!(
            "#/paths/{}/{}/responses/{key}/content/{}/schema",
            segment(&op_path(&self.doc, &op_id)),
            method.to_lowercase(),
            segment(&media)
        );
        let value = if media == "application/json" {
            serde_json::from_slice(&a.body).unwrap_or_else(|e| panic!("{what}: not JSON ({e})"))
        } else {
            Value::String(String::from_utf8(a.body).unwrap())
        };
        self.validate(&what, &pointer, &value);
        if media == "application/x-ndjson" {
            for line in value.as_str().unwrap().lines() {
                self.validate(&what, "#/components/schemas/JobEvent", &serde_json::from_str(line).unwrap());
            }
        }
        if (200..300).contains(&a.status) {
            self.succeeded.insert(op_id);
        }
        self.checked += 1;
        value
    }
}

/// A JSON pointer segment as it goes into a URI fragment.
fn segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1").replace('{', "%7B").replace('}', "%7D").replace(' ', "%20")
}

fn op_path(doc: &Value, op_id: &str) -> String {
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.as_object().unwrap().values().any(|op| op["operationId"] == op_id) {
            return path.clone();
        }
    }
    panic!("no operation {op_id}")
}

#[test]
fn every_answer_of_a_full_session_matches_the_contract() {
    let env = Env::quickstart("policy:\n  auto_apply: false\nlimits:\n  max_jobs_per_day: 2\n");
    let d = env.start();
    let mut c = Contract { doc: document(), socket: env.socket(), succeeded: BTreeSet::new(), checked: 0 };

    let served = c.check("GET", "/v1/openapi.json", None, 200);
    assert_eq!(served, c.doc, "the daemon serves docs/openapi.json as it is");
    c.check("GET", "/v1/health", None, 200);
    c.check("GET", "/v1/status", None, 200);
    c.check("GET", "/metrics", None, 200);
    c.check("GET", "/v1/jobs", None, 200);
    c.check("GET", "/v1/generations", None, 200);

    // A held dream, looked at, approved.
    let job = c.check("POST", "/v1/dreams", Some(json!({"force": true})), 202);
    let id = job["job"]["id"].as_i64().unwrap();
    d.wait_job(id, |j| j["status"] == "held");
    c.check("GET", &format!("/v1/jobs/{id}"), None, 200);
    c.check("GET", &format!("/v1/jobs/{id}/diff"), None, 200);
    c.check("GET", &format!("/v1/jobs/{id}/events"), None, 200);
    c.check("GET", &format!("/v1/jobs/{id}/events?after=1&follow=true"), None, 200);
    c.check("GET", "/v1/status", None, 200);
    c.check("POST", &format!("/v1/jobs/{id}/approve"), Some(json!({"by": "test"})), 200);
    d.wait_settled(id);
    c.check("GET", &format!("/v1/jobs/{id}"), None, 200);
    c.check("POST", &format!("/v1/jobs/{id}/approve"), None, 409);
    c.check("POST", &format!("/v1/jobs/{id}/cancel"), None, 409);

    // Rolled back: the job says so and the list has the rollback.
    c.check("POST", "/v1/rollback", Some(json!({"by": "test"})), 200);
    let list = c.check("GET", "/v1/jobs?limit=10", None, 200);
    assert_eq!(list["jobs"][0]["rolled_back"]["undid_jobs"], json!([id]));
    assert_eq!(list["rollbacks"].as_array().unwrap().len(), 1);
    c.check("GET", "/v1/generations", None, 200);
    c.check("GET", "/metrics", None, 200);

    // Another held dream, discarded.
    let id2 = c.check("POST", "/v1/dreams", Some(json!({"force": true})), 202)["job"]["id"].as_i64().unwrap();
    d.wait_job(id2, |j| j["status"] == "held");
    c.check("POST", &format!("/v1/jobs/{id2}/discard"), Some(json!({})), 200);

    // Errors, each in the Error shape.
    c.check("POST", "/v1/dreams", Some(json!({"force": true})), 429);
    c.check("GET", "/v1/jobs/999", None, 404);
    c.check("GET", "/v1/jobs/abc", None, 400);
    c.check("GET", "/v1/jobs/999/diff", None, 404);
    c.check("GET", "/v1/jobs/999/events", None, 404);
    c.check("POST", "/v1/jobs/999/approve", None, 404);
    c.check("POST", "/v1/dreams", Some(json!({"force": "yes"})), 400);
    c.check("POST", "/v1/dreams", Some(json!({"unknown": 1})), 400);
    c.check("POST", "/v1/rollback", Some(json!({"generation": 999})), 404);
    c.check_raw("POST", "/v1/dreams", "text/plain", "{}", 415);
    c.check("GET", "/v1/jobs?limit=-1", None, 400);

    // A running dream, canceled (its engine waits until released).
    drop(d);
    let gated = Env::quickstart("");
    gated.write_config(&gated.gate_engine("x"));
    let d = gated.start();
    c.socket = gated.socket();
    let id = c.check("POST", "/v1/dreams", Some(json!({"force": true})), 202)["job"]["id"].as_i64().unwrap();
    c.check("POST", "/v1/dreams", Some(json!({"force": true})), 409);
    c.check("POST", &format!("/v1/jobs/{id}/cancel"), Some(json!({"by": "test"})), 200);
    d.wait_settled(id);

    let ops: BTreeSet<String> = ROUTES.iter().map(|r| r.operation_id.to_string()).collect();
    let untested: Vec<_> = ops.difference(&c.succeeded).collect();
    assert!(untested.is_empty(), "operations never answered 2xx in this test: {untested:?}");
    assert!(c.checked > 30, "{} answers checked", c.checked);
}
