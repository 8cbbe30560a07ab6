use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(text, Path::new("/etc/dreamd/dreamd.yaml"))
}

#[test]
fn minimal_config_gets_defaults_and_resolves_paths() {
    let c = parse("agent:\n  memory_dir: ./memory\n").unwrap();
    assert_eq!(c.agent.memory_dir, PathBuf::from("/etc/dreamd/memory"));
    assert_eq!(c.state_dir, PathBuf::from("/etc/dreamd/.dreamd"));
    assert_eq!(c.socket_path(), PathBuf::from("/etc/dreamd/.dreamd/dreamd.sock"));
    assert_eq!(c.engine.kind, EngineKind::Builtin);
    assert!(c.policy.auto_apply);
    assert_eq!(c.policy.min_reduction, 0.05);
    assert_eq!(c.generations.keep, 10);
    assert_eq!(c.triggers.min_new_sessions, Some(5));
    assert_eq!(c.limits.max_jobs_per_day, 10);
    assert_eq!(c.max_entry_loss(), 0.0);
}

#[test]
fn reference_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/dreamd.yaml");
    let c = Config::load(&path).unwrap();
    assert_eq!(c.agent.name, "my-agent");
}

#[test]
fn unknown_key_is_located() {
    let e = parse("agent:\n  memory_dir: ./m\npolicy:\n  auto_aply: true\n").unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("unknown field `auto_aply`"), "{e}");
    assert!(e.message.contains("auto_apply"), "should list what is expected: {e}");
    assert!(e.to_string().starts_with("/etc/dreamd/dreamd.yaml:4:"), "{e}");
}

#[test]
fn wrong_type_is_located() {
    let e = parse("agent:\n  memory_dir: ./m\ngenerations:\n  keep: lots\n").unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("invalid type"), "{e}");
}

#[test]
fn missing_memory_dir_is_reported() {
    let e = parse("agent:\n  name: x\n").unwrap_err();
    assert!(e.message.contains("missing field `memory_dir`"), "{e}");
}

#[test]
fn semantic_errors_point_at_the_key() {
    let e = parse("agent:\n  memory_dir: ./m\npolicy:\n  auto_apply: true\n  min_reduction: 0.9\n  max_reduction: 0.5\n").unwrap_err();
    assert_eq!((e.line, e.column), (Some(5), Some(3)), "{e}");
    assert!(e.message.contains("expected min <= max"), "{e}");

    let e = parse("agent:\n  memory_dir: ./m\npolicy:\n  pinned_patterns: ['(']\n").unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("not a valid regex"), "{e}");

    let e = parse("agent:\n  memory_dir: ./m\ntriggers:\n  timezone: Mars/Olympus\n").unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");

    let e = parse("agent:\n  memory_dir: ./m\ntriggers:\n  quiet_period: soon\n").unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("expected a duration"), "{e}");
}

#[test]
fn locate_key_respects_nesting() {
    let text = "a:\n  x: 1\nb:\n  x: 2\n";
    assert_eq!(locate_key(text, &["b", "x"]), Some((4, 3)));
    assert_eq!(locate_key(text, &["a", "x"]), Some((2, 3)));
    assert_eq!(locate_key(text, &["c", "x"]), None);
}

#[test]
fn verifier_settings() {
    let c = parse("agent:\n  memory_dir: ./m\nengine:\n  kind: command\n  command: [x]\n").unwrap();
    assert_eq!(c.max_entry_loss(), 0.0, "no engine gets unexplained removals by default");
    assert_eq!(c.policy.drift, DriftConfig::default());
    assert_eq!(c.policy.drift.url, DriftAction::Hold);
    let c = parse("agent:\n  memory_dir: ./m\npolicy:\n  max_entry_loss: 0.1\n  drift:\n    host: allow\n    command: allow\n").unwrap();
    assert_eq!(c.max_entry_loss(), 0.1);
    assert_eq!(
        (c.policy.drift.imperative, c.policy.drift.host, c.policy.drift.command),
        (DriftAction::Hold, DriftAction::Allow, DriftAction::Allow)
    );
    let e = parse("agent:\n  memory_dir: ./m\npolicy:\n  drift:\n    urls: allow\n").unwrap_err();
    assert!(e.to_string().contains("urls"), "{e}");
    let e = parse("agent:\n  memory_dir: ./m\npolicy:\n  drift:\n    url: maybe\n").unwrap_err();
    assert!(e.to_string().contains("maybe"), "{e}");
    let e = parse("agent:\n  memory_dir: ./m\npolicy:\n  max_entry_loss: 2\n").unwrap_err();
    assert!(e.to_string().contains("max_entry_loss"), "{e}");
}
