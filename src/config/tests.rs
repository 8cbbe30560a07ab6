use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_yaml_in(text, Path::new("/etc/dreamd/dreamd.yaml"), &ServiceDirs::default())
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
fn the_container_config_puts_memory_and_state_on_volumes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/container.yaml");
    let c = Config::from_yaml_in(&std::fs::read_to_string(&path).unwrap(), &path, &ServiceDirs::default()).unwrap();
    assert_eq!(c.agent.memory_dir, PathBuf::from("/memory"));
    assert_eq!(c.state_dir, PathBuf::from("/var/lib/dreamd"));
    assert_eq!(c.socket_path(), PathBuf::from("/var/lib/dreamd/dreamd.sock"));
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
    assert_eq!((e.line, e.column), (Some(4), Some(9)), "at the value: {e}");
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
fn under_systemd_state_and_socket_default_to_the_service_directories() {
    let dirs = ServiceDirs { state: Some("/var/lib/dreamd".into()), runtime: Some("/run/dreamd".into()) };
    let c = Config::from_yaml_in("agent:\n  memory_dir: /var/lib/agent/memory\n", Path::new("/etc/dreamd/dreamd.yaml"), &dirs).unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/var/lib/dreamd"));
    assert_eq!(c.socket_path(), PathBuf::from("/run/dreamd/dreamd.sock"));
    assert_eq!(c.db_path(), PathBuf::from("/var/lib/dreamd/dreamd.db"));

    // What the config says wins over what systemd offers.
    let text = "agent:\n  memory_dir: ./m\nstate_dir: /srv/dreamd\napi:\n  socket: /srv/dreamd.sock\n";
    let c = Config::from_yaml_in(text, Path::new("/etc/dreamd/dreamd.yaml"), &dirs).unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/srv/dreamd"));
    assert_eq!(c.socket_path(), PathBuf::from("/srv/dreamd.sock"));

    // Only the state directory: the socket stays beside the state.
    let only_state = ServiceDirs { state: Some("/var/lib/dreamd".into()), runtime: None };
    let c = Config::from_yaml_in("agent:\n  memory_dir: ./m\n", Path::new("/etc/dreamd/dreamd.yaml"), &only_state).unwrap();
    assert_eq!(c.socket_path(), PathBuf::from("/var/lib/dreamd/dreamd.sock"));
}

#[test]
fn an_empty_state_dir_is_an_error_not_a_default() {
    let e = parse("agent:\n  memory_dir: ./m\nstate_dir: \"\"\n").unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("state_dir is empty"), "{e}");
}

#[test]
fn a_bad_duration_names_its_full_key_and_line() {
    let e = parse("agent:\n  memory_dir: ./m\ntriggers:\n  min_new_sessions: 3\n  min_interval: 5x\n").unwrap_err();
    assert_eq!((e.line, e.column), (Some(5), Some(3)), "{e}");
    assert!(e.message.starts_with("triggers.min_interval: unknown unit 'x'"), "{e}");
    assert!(e.message.contains("expected a duration like"), "{e}");
    assert!(!e.message.contains("triggers: "), "no half path: {e}");
}

#[test]
fn a_bad_cron_is_explained_in_our_words() {
    let e = parse("agent:\n  memory_dir: ./m\ntriggers:\n  schedule: \"61 * * * *\"\n").unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("field 1 (minute) is \"61\", expected 0-59"), "{e}");
    assert!(!e.message.to_lowercase().contains("component"), "no library text: {e}");

    let e = parse("agent:\n  memory_dir: ./m\ntriggers:\n  schedule: \"0 3 * * MOONDAY\"\n").unwrap_err();
    assert!(e.message.contains("field 5 (day of week)"), "{e}");
    let e = parse("agent:\n  memory_dir: ./m\ntriggers:\n  schedule: \"0 0 25 * * *\"\n").unwrap_err();
    assert!(e.message.contains("field 3 (hour) is \"25\""), "six fields count from the seconds: {e}");
}

#[test]
fn an_unclosed_quote_points_at_the_quote() {
    let e = parse("agent:\n  memory_dir: \"./m\nstate_dir: x\nengine:\n  kind: builtin\n").unwrap_err();
    assert_eq!((e.line, e.column), (Some(2), Some(15)), "{e}");
    assert!(e.message.contains("quoted scalar") && e.message.contains("never closed"), "{e}");
}

#[test]
fn a_duplicate_key_points_at_its_second_occurrence() {
    let e = parse("agent:\n  memory_dir: ./m\n  memory_dir: ./n\n").unwrap_err();
    assert_eq!((e.line, e.column), (Some(3), Some(3)), "{e}");
    assert!(e.message.contains("agent.memory_dir appears twice (first on line 2)"), "{e}");

    let e = parse("agent:\n  memory_dir: ./m\npolicy:\n  auto_apply: true\npolicy:\n  min_reduction: 0.1\n").unwrap_err();
    assert_eq!((e.line, e.column), (Some(5), Some(1)), "{e}");
    assert!(e.message.contains("policy appears twice (first on line 3)"), "{e}");
}

#[test]
fn locate_key_takes_direct_children_only() {
    let text = "a:\n  b:\n    x: 1\n  x: 2\n";
    assert_eq!(locate_key(text, &["a", "x"]), Some((4, 3)));
    assert_eq!(locate_key(text, &["a", "b", "x"]), Some((3, 5)));
}

#[test]
fn state_dir_inside_memory_dir_is_refused_at_its_key() {
    let e = parse("agent:\n  memory_dir: ./memory\nstate_dir: ./memory/.dreamd\n").unwrap_err();
    assert_eq!((e.line, e.column), (Some(3), Some(1)), "{e}");
    assert!(e.message.contains("state_dir /etc/dreamd/memory/.dreamd is inside agent.memory_dir"), "{e}");
    let e = parse("agent:\n  memory_dir: ./memory\nstate_dir: ./memory\n").unwrap_err();
    assert!(e.message.contains("is inside agent.memory_dir"), "{e}");
    // The default state_dir (./.dreamd beside the config) with the config kept in the memory dir.
    let e = Config::from_yaml("agent:\n  memory_dir: .\n", Path::new("/srv/agent/memory/dreamd.yaml")).unwrap_err();
    assert!(e.message.contains("/srv/agent/memory/.dreamd is inside"), "{e}");
    let e = parse("agent:\n  memory_dir: ./state/memory\nstate_dir: ./state\n").unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("is inside state_dir"), "{e}");
}

#[test]
fn sessions_dir_may_hold_memory_dir_but_not_equal_or_sit_inside_it() {
    // Claude Code: ~/.claude/projects/X/*.jsonl with memory/ inside that folder.
    let c = parse("agent:\n  memory_dir: ./project/memory\n  sessions_dir: ./project\nstate_dir: ./state\n").unwrap();
    assert_eq!(c.agent.sessions_dir.as_deref(), Some(Path::new("/etc/dreamd/project")));
    let e = parse("agent:\n  memory_dir: ./m\n  sessions_dir: ./m/\n").unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("are the same directory"), "{e}");
    let e = parse("agent:\n  memory_dir: ./m\n  sessions_dir: ./m/sessions\n").unwrap_err();
    assert!(e.message.contains("is inside agent.memory_dir"), "{e}");
}

#[test]
fn root_and_system_directories_are_refused() {
    for (yaml, expect) in [
        ("agent:\n  memory_dir: /\n", "the root directory"),
        ("agent:\n  memory_dir: /etc\n", "a system directory"),
        ("agent:\n  memory_dir: /home/alice\n", "a home directory"),
        ("agent:\n  memory_dir: /home/alice/\n", "a home directory"),
        ("agent:\n  memory_dir: /usr/../etc\n", "a system directory"),
        ("agent:\n  memory_dir: /proc/self/cwd\n", "a kernel filesystem"),
        ("agent:\n  memory_dir: ./m\nstate_dir: /tmp\n", "a system directory"),
        ("agent:\n  memory_dir: ./m\nstate_dir: /\n", "the root directory"),
    ] {
        let e = parse(yaml).unwrap_err();
        assert!(e.message.contains(expect), "{yaml}: {e}");
        assert!(e.line.is_some(), "{yaml}: located: {e}");
    }
}

/// Links are resolved before comparing: a memory dir reached through a link still contains
/// a state dir given by its real path.
#[test]
fn overlaps_are_found_through_links() {
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("real-memory");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, d.path().join("memory")).unwrap();
    let cfg = d.path().join("dreamd.yaml");
    let text = format!("agent:\n  memory_dir: ./memory\nstate_dir: {}\n", real.join("state").display());
    let e = Config::from_yaml(&text, &cfg).unwrap_err();
    assert!(e.message.contains("is inside agent.memory_dir"), "{e}");
    std::os::unix::fs::symlink("/", d.path().join("rootlink")).unwrap();
    let e = Config::from_yaml("agent:\n  memory_dir: ./rootlink\n", &cfg).unwrap_err();
    assert!(e.message.contains("the root directory"), "{e}");
}

#[test]
fn a_missing_memory_dir_is_reported_with_its_location() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("dreamd.yaml");
    let text = "agent:\n  name: x\n  memory_dir: ./nope\n";
    std::fs::write(&cfg, text).unwrap();
    let c = Config::load(&cfg).unwrap();
    let e = c.memory_dir_problem().unwrap();
    assert_eq!((e.line, e.column), (Some(3), Some(3)), "{e}");
    assert!(e.to_string().contains("agent.memory_dir") && e.message.contains("does not exist"), "{e}");
    std::fs::write(d.path().join("nope"), "a file").unwrap();
    assert!(c.memory_dir_problem().unwrap().message.contains("is not a directory"));
    std::fs::remove_file(d.path().join("nope")).unwrap();
    std::fs::create_dir(d.path().join("nope")).unwrap();
    assert_eq!(c.memory_dir_problem(), None);
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

/// Red team: `api.socket` inside the memory directory was accepted: the agent could reach or
/// replace the API there, and dreamd removes the socket path when it stops.
#[test]
fn a_socket_inside_the_memory_dir_is_refused_at_its_key() {
    let e = parse("agent:\n  memory_dir: ./memory\nstate_dir: ./state\napi:\n  socket: ./memory/dreamd.sock\n").unwrap_err();
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.message.contains("api.socket /etc/dreamd/memory/dreamd.sock is inside agent.memory_dir"), "{e}");
    assert!(parse("agent:\n  memory_dir: ./memory\nstate_dir: ./state\napi:\n  socket: ./run/dreamd.sock\n").is_ok());
}

/// Red team: `--config /dev/zero` read until memory ran out.
#[test]
fn a_huge_config_is_refused_without_reading_it_all() {
    let e = Config::load(Path::new("/dev/zero")).unwrap_err();
    assert!(e.message.contains("larger than 1048576 bytes"), "{e}");
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.yaml");
    std::fs::write(&bad, b"agent:\n  name: \xff\n").unwrap();
    assert!(Config::load(&bad).unwrap_err().message.contains("not UTF-8"));
}
