use super::*;
use crate::report::ChangeKind;
use crate::store::MemoryFile;

const MAX: u64 = 1 << 20;

fn store(files: &[(&str, &str)]) -> Store {
    let mut s = Store::default();
    for (p, t) in files {
        s.files.insert(p.to_string(), MemoryFile { bytes: t.as_bytes().to_vec(), mtime: None });
    }
    s
}

fn stores() -> (Store, Store) {
    (
        store(&[("a.md", "- db is on port 5432\n- db listens on 5432\n"), ("b.md", "- x\n")]),
        store(&[("a.md", "- db listens on 5432\n"), ("b.md", "- x\n"), ("c.md", "- new\n")]),
    )
}

fn convert(json: &str) -> Result<(Report, Option<f64>), ReportError> {
    let (base, cand) = stores();
    into_report(parse(json.as_bytes(), MAX)?, &base, &cand, "command")
}

#[test]
fn a_full_report_becomes_dreamds_report_with_its_cost() {
    let json = r#"{
      "version": 1,
      "changes": [
        {"kind": "dedupe", "file": "a.md", "before": "- db is on port 5432", "after": null,
         "successor": {"file": "a.md", "text": "- db listens on 5432"},
         "reason": "same fact twice", "provenance": {"entries": ["a.md:1", "a.md:2"], "sessions": ["s1"]}},
        {"id": "mine", "kind": "edit", "file": "c.md", "before": null, "after": "- new", "reason": "added"}
      ],
      "flags": [{"kind": "conflict", "message": "two owners of billing", "entries": ["b.md:1"]}],
      "cost_usd": 0.42
    }"#;
    let (r, cost) = convert(json).unwrap();
    assert_eq!(cost, Some(0.42));
    assert_eq!(r.engine, "command");
    assert_eq!(r.changes.len(), 2);
    assert_eq!(r.changes[0].kind, ChangeKind::Dedupe);
    assert_eq!(r.changes[0].successor, Some(crate::report::Successor { file: "a.md".into(), text: "- db listens on 5432".into() }));
    assert_eq!(r.changes[1].id, change_id(ChangeKind::Edit, "c.md", None, Some("- new")), "dreamd assigns ids");
    assert_eq!(r.flags[0].message, "two owners of billing");
    assert_eq!((r.totals.files_before, r.totals.files_after), (2, 3));
    assert!(r.warnings.is_empty());
    // What dreamd writes back for the built-in engine reads as the same protocol.
    let again =
        serde_json::to_string(&EngineReport { version: 1, changes: r.changes.clone(), flags: r.flags.clone(), cost_usd: None }).unwrap();
    assert_eq!(convert(&again).unwrap().0.changes, r.changes);
}

#[test]
fn an_empty_object_is_a_report_without_changes_or_cost() {
    let (r, cost) = convert("{}").unwrap();
    assert!(r.changes.is_empty() && cost.is_none());
}

#[test]
fn unknown_fields_are_reported_not_fatal() {
    let json = r#"{"changes": [{"kind": "edit", "file": "a.md", "before": "x", "after": null, "reason": "r",
        "sucessor": {"file": "a.md"}}], "totals": {}}"#;
    let (r, _) = convert(json).unwrap();
    let msgs: Vec<&str> = r.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(msgs, vec!["unknown field changes.0.sucessor ignored", "unknown field totals ignored"]);
    assert!(r.warnings.iter().all(|w| w.file == "report.json"));
}

#[test]
fn invalid_reports_fail_with_the_reason() {
    let change = |fields: &str| format!(r#"{{"changes": [{{"kind": "edit", "before": "x", "reason": "r", {fields}}}]}}"#);
    let cases = [
        ("not json".to_string(), "expected ident"),
        ("{} trailing".to_string(), "trailing characters"),
        (r#"{"changes": {}}"#.to_string(), "invalid type: map, expected a sequence"),
        (r#"{"changes": [{"kind": "merge", "file": "a.md", "before": "x", "reason": "r"}]}"#.to_string(), "unknown variant `merge`"),
        (r#"{"changes": [{"file": "a.md", "before": "x", "reason": "r"}]}"#.to_string(), "missing field `kind`"),
        (r#"{"version": 2}"#.to_string(), "version 2 is not supported"),
        (r#"{"cost_usd": -1}"#.to_string(), "cost_usd is -1"),
        (r#"{"cost_usd": "1"}"#.to_string(), "invalid type: string"),
        (change(r#""file": "../etc/passwd""#), "not a file of the store"),
        (change(r#""file": "/etc/passwd""#), "not a file of the store"),
        (change(r#""file": "missing.md""#), "not a file of the store"),
        (change(r#""file": "a.md", "related_files": ["./a.md"]"#), "not a file of the store"),
        (change(r#""file": "a.md", "successor": {"file": "gone.md", "text": "x"}"#), "successor names \"gone.md\""),
        (r#"{"changes": [{"kind": "edit", "file": "a.md", "before": "x", "reason": " \n "}]}"#.to_string(), "has no reason"),
        (r#"{"changes": [{"kind": "edit", "file": "a.md", "reason": "r"}]}"#.to_string(), "neither before nor after"),
    ];
    for (json, want) in cases {
        let err = convert(&json).expect_err(&json).to_string();
        assert!(err.starts_with("the engine's report.json is invalid: "), "{err}");
        assert!(err.contains(want), "{json}: {err}");
    }
}

#[test]
fn the_size_cap_is_checked_before_parsing() {
    let big = format!(r#"{{"flags": [{{"kind": "k", "message": "{}"}}]}}"#, "x".repeat(100));
    assert!(parse(big.as_bytes(), 50).unwrap_err().to_string().contains("larger than the limit of 50 bytes"));
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("report.json");
    std::fs::write(&p, &big).unwrap();
    assert!(read(&p, 50).unwrap_err().to_string().contains("larger than the limit"));
    assert!(read(&p, MAX).unwrap().is_some());
    assert_eq!(read(&d.path().join("none.json"), MAX).unwrap(), None);
    std::os::unix::fs::symlink(&p, d.path().join("link.json")).unwrap();
    assert!(read(&d.path().join("link.json"), MAX).unwrap_err().to_string().contains("not a regular file"));
}

#[test]
fn text_fields_are_made_inert() {
    let json = r#"{"changes": [{"kind": "edit", "file": "a.md", "before": "x\ny", "reason": "ok\n\u001b[2Jfake log line"}],
        "flags": [{"kind": "a\nb", "message": "m\r\nINFO forged"}]}"#;
    let (r, _) = convert(json).unwrap();
    assert_eq!(r.changes[0].reason, "ok [2Jfake log line");
    assert_eq!(r.changes[0].before.as_deref(), Some("x\ny"), "entry text stays as it is: it is compared, not shown raw");
    assert_eq!((r.flags[0].kind.as_str(), r.flags[0].message.as_str()), ("a b", "m INFO forged"));
}

/// The published schema is generated from the types; this fails when they drift apart.
/// `DREAMD_UPDATE_SCHEMA=1 cargo test --lib report::protocol` rewrites it.
#[test]
fn the_committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_PATH);
    let want = schema_json();
    if std::env::var_os("DREAMD_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "{SCHEMA_PATH} is out of date; run DREAMD_UPDATE_SCHEMA=1 cargo test --lib report::protocol");
    let schema: serde_json::Value = serde_json::from_str(&have).unwrap();
    assert_eq!(schema["additionalProperties"], false);
    assert!(schema["properties"]["cost_usd"].is_object());
    assert_eq!(schema["$defs"]["Change"]["required"], serde_json::json!(["kind", "file", "reason"]));
}

/// The example in the protocol document is a report dreamd accepts.
#[test]
fn the_documented_example_parses() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/engine-protocol.md")).unwrap();
    let start = doc.find("```json\n").expect("docs/engine-protocol.md has a ```json example") + 8;
    let end = start + doc[start..].find("```").unwrap();
    let parsed = parse(&doc.as_bytes()[start..end], MAX).unwrap();
    assert!(parsed.unknown_fields.is_empty(), "{:?}", parsed.unknown_fields);
    assert!(!parsed.report.changes.is_empty() && parsed.report.cost_usd.is_some());
}
