//! Configuration: YAML with a default for everything that has a sensible one.
//!
//! Unknown keys are errors, and every error names `file:line:column`, what is wrong and
//! what is expected, so an operator can fix a config without reading the source.

pub mod api;
pub mod duration;
pub mod paths;
mod report;
pub mod triggers;

pub use api::{ApiConfig, TcpConfig};
pub use duration::HumanDuration;
pub use report::locate_key;
pub use triggers::{LimitsConfig, TriggersConfig, DEFAULT_MAX_MEMORY_MB};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub agent: AgentConfig,
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub generations: GenerationsConfig,
    #[serde(default)]
    pub apply: ApplyConfig,
    #[serde(default)]
    pub triggers: TriggersConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Where this config was read from (not a key).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Empty until resolved: `./.dreamd` beside the config, or systemd's `StateDirectory=`.
fn default_state_dir() -> PathBuf {
    PathBuf::new()
}

/// Directories a service manager created for dreamd; they replace the defaults of `state_dir`
/// and `api.socket` (never a configured value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceDirs {
    /// systemd `StateDirectory=`: the default `state_dir`.
    pub state: Option<PathBuf>,
    /// systemd `RuntimeDirectory=`: the socket's default directory.
    pub runtime: Option<PathBuf>,
}

impl ServiceDirs {
    pub fn from_env() -> ServiceDirs {
        ServiceDirs { state: crate::systemd::state_dir_default(), runtime: crate::systemd::runtime_dir_default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// `MEMORY.md` index plus topic files with frontmatter; transcripts as `SESSION.jsonl`.
    #[default]
    ClaudeCode,
    /// Any directory of `.md`/`.txt` files.
    Generic,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    #[serde(default = "default_agent_name")]
    pub name: String,
    #[serde(default)]
    pub layout: Layout,
    pub memory_dir: PathBuf,
    #[serde(default)]
    pub sessions_dir: Option<PathBuf>,
}

fn default_agent_name() -> String {
    "agent".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    #[default]
    Builtin,
    /// An external program: reads `DREAMD_INPUT_DIR`, writes the candidate to `DREAMD_OUTPUT_DIR`.
    Command,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    pub kind: EngineKind,
    /// Built-in consolidator: keep superseded values under `## Superseded`.
    pub keep_history: bool,
    /// Command engine: argv; the first element is the program (see docs/engine-protocol.md).
    pub command: Vec<String>,
    /// Command engine price, in USD: per job, per MB (10^6 bytes) of store and per session
    /// transcript handed over. Estimated before a job (against the budget); recorded as its
    /// cost unless the engine reports `cost_usd` itself.
    pub cost_per_job_usd: f64,
    pub cost_per_mb_usd: f64,
    pub cost_per_session_usd: f64,
    /// Command engine: the most its output may hold (candidate files and `report.json` each).
    pub max_output_bytes: u64,
    pub max_output_files: usize,
    /// Command engine: stdout/stderr lines kept in the job's log (the rest are counted).
    pub max_log_lines: usize,
    /// Command engine: environment variables passed through (the environment is otherwise
    /// cleared; e.g. an API key the engine needs).
    pub pass_env: Vec<String>,
    /// Command engine: it may write only inside its work directory (Landlock, Linux 5.13+;
    /// where the kernel lacks it, the job log says so and the job runs unconfined).
    pub confine_writes: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kind: EngineKind::Builtin,
            keep_history: false,
            command: Vec::new(),
            cost_per_job_usd: 0.0,
            cost_per_mb_usd: 0.0,
            cost_per_session_usd: 0.0,
            max_output_bytes: 256 << 20,
            max_output_files: 10_000,
            max_log_lines: 1_000,
            pass_env: Vec::new(),
            confine_writes: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Apply a candidate that passes every check without asking.
    pub auto_apply: bool,
    /// Smallest byte reduction that is worth applying (fraction of the live store).
    pub min_reduction: f64,
    /// Largest byte reduction that is believable; beyond it a candidate is suspect.
    pub max_reduction: f64,
    /// Regexes; an entry matching one is pinned.
    pub pinned_patterns: Vec<String>,
    /// Largest fraction of live entries a candidate may lose: removed with no explanation, or
    /// with one the verifier cannot confirm. 0 for every engine unless set.
    pub max_entry_loss: f64,
    /// Extra regexes for secrets a candidate must not introduce.
    pub secret_patterns: Vec<String>,
    /// What to do with new instructions, URLs, hosts and shell commands in a candidate.
    pub drift: DriftConfig,
}

/// `hold` a candidate for a person, or `allow` it (still listed in `dreamd show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DriftAction {
    #[default]
    Hold,
    Allow,
}

/// Instruction drift, per kind of addition the live store did not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DriftConfig {
    /// A new rule or instruction ("Always …", "Use …", "ignore previous instructions").
    pub imperative: DriftAction,
    pub url: DriftAction,
    /// A host name or IP address.
    pub host: DriftAction,
    /// A shell command in a rule or code block, or a risky one anywhere.
    pub command: DriftAction,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            auto_apply: true,
            min_reduction: 0.05,
            max_reduction: 0.80,
            pinned_patterns: Vec::new(),
            max_entry_loss: 0.0,
            secret_patterns: Vec::new(),
            drift: DriftConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationsConfig {
    /// Replaced stores kept for rollback.
    pub keep: u32,
}

impl Default for GenerationsConfig {
    fn default() -> Self {
        GenerationsConfig { keep: 10 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ApplyMode {
    /// `swap` when the memory directory can be renamed, `journal` when it is a mount point.
    #[default]
    Auto,
    /// Build the new store beside the live one and exchange the two directories atomically.
    Swap,
    /// Replace files one by one with atomic renames, driven by a crash-safe journal.
    Journal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ApplyConfig {
    pub mode: ApplyMode,
}

/// A config error located in its file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{}:{}: {}", self.file.display(), l, c, self.message),
            (Some(l), None) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            _ => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Largest config file read; the reference config, every key commented, is under 10 KiB.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl Config {
    /// Read, parse, resolve relative paths and validate.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let fail = |message: String| ConfigError { file: path.to_path_buf(), line: None, column: None, message };
        // Capped: `--config /dev/zero` (or a runaway generator) must not eat all memory.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_CONFIG_BYTES + 1), &mut bytes))
            .map_err(|e| fail(format!("cannot read config: {e}")))?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(fail(format!("the config is larger than {MAX_CONFIG_BYTES} bytes, expected a small YAML file")));
        }
        let text = String::from_utf8(bytes).map_err(|e| fail(format!("cannot read config: it is not UTF-8 ({e})")))?;
        Config::from_yaml(&text, path)
    }

    /// Parse YAML text as if it were read from `path` (used for error locations and
    /// for resolving relative paths). Under systemd, `state_dir` and the socket default to the
    /// service's state and runtime directories.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::from_yaml_in(text, path, &ServiceDirs::from_env())
    }

    /// [`Config::from_yaml`] with the service directories given, not read from the environment.
    pub fn from_yaml_in(text: &str, path: &Path, dirs: &ServiceDirs) -> Result<Config, ConfigError> {
        let de = serde_yaml::Deserializer::from_str(text);
        let mut config: Config = serde_path_to_error::deserialize(de).map_err(|e| report::yaml_error(text, path, &e))?;
        if config.state_dir.as_os_str().is_empty() {
            if locate_key(text, &["state_dir"]).is_some() {
                return Err(report::at_key(text, path, &["state_dir"], "state_dir is empty, expected a directory".into()));
            }
            config.state_dir = dirs.state.clone().unwrap_or_else(|| PathBuf::from("./.dreamd"));
        }
        if config.api.socket.is_none() {
            config.api.socket = dirs.runtime.as_ref().map(|d| d.join("dreamd.sock"));
        }
        let base = path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }).unwrap_or(Path::new("."));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        config.resolve_paths(&base);
        config.source = Some(path.to_path_buf());
        config.validate(text, path)?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let abs = |p: &Path| -> PathBuf {
            let joined = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
            normalize(&joined)
        };
        self.agent.memory_dir = abs(&self.agent.memory_dir);
        self.agent.sessions_dir = self.agent.sessions_dir.as_deref().map(abs);
        self.state_dir = abs(&self.state_dir);
        self.api.socket = self.api.socket.as_deref().map(abs);
        if let Some(tcp) = self.api.tcp.as_mut() {
            tcp.token_file = tcp.token_file.as_deref().map(abs);
        }
    }

    /// The socket path: configured, or `state_dir/dreamd.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.api.socket.clone().unwrap_or_else(|| self.state_dir.join("dreamd.sock"))
    }

    /// The TCP listener's token file: configured, or `state_dir/api-token`.
    pub fn token_path(&self) -> Option<PathBuf> {
        let tcp = self.api.tcp.as_ref()?;
        Some(tcp.token_file.clone().unwrap_or_else(|| self.state_dir.join("api-token")))
    }

    pub fn db_path(&self) -> PathBuf {
        self.state_dir.join("dreamd.db")
    }

    /// The loss ceiling in force, the same for every engine: an engine that wants removals
    /// applied must explain them in terms the verifier can confirm.
    pub fn max_entry_loss(&self) -> f64 {
        self.policy.max_entry_loss
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let err = |keys: &[&str], message: String| report::at_key(text, path, keys, message);
        let p = &self.policy;
        for (key, v) in [("min_reduction", p.min_reduction), ("max_reduction", p.max_reduction)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(err(&["policy", key], format!("policy.{key} is {v}, expected a fraction between 0.0 and 1.0")));
            }
        }
        if p.min_reduction > p.max_reduction {
            return Err(err(
                &["policy", "min_reduction"],
                format!(
                    "policy.min_reduction ({}) is above policy.max_reduction ({}), expected min <= max",
                    p.min_reduction, p.max_reduction
                ),
            ));
        }
        if !(0.0..=1.0).contains(&p.max_entry_loss) {
            return Err(err(
                &["policy", "max_entry_loss"],
                format!("policy.max_entry_loss is {}, expected a fraction between 0.0 and 1.0", p.max_entry_loss),
            ));
        }
        for (key, pats) in [("pinned_patterns", &p.pinned_patterns), ("secret_patterns", &p.secret_patterns)] {
            for pat in pats {
                if let Err(e) = regex::Regex::new(pat) {
                    return Err(err(
                        &["policy", key],
                        format!("policy.{key}: {pat:?} is not a valid regex ({e}), expected a regular expression"),
                    ));
                }
            }
        }
        if self.agent.name.trim().is_empty() {
            return Err(err(&["agent", "name"], "agent.name is empty, expected a name".into()));
        }
        if self.engine.kind == EngineKind::Command && self.engine.command.is_empty() {
            return Err(err(
                &["engine", "kind"],
                "engine.kind is command but engine.command is empty, expected a program and its arguments".into(),
            ));
        }
        let e = &self.engine;
        for (key, v) in [
            ("cost_per_job_usd", e.cost_per_job_usd),
            ("cost_per_mb_usd", e.cost_per_mb_usd),
            ("cost_per_session_usd", e.cost_per_session_usd),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(err(&["engine", key], format!("engine.{key} is {v}, expected a cost >= 0")));
            }
        }
        if e.max_output_bytes == 0 || e.max_output_files == 0 {
            let key = if e.max_output_bytes == 0 { "max_output_bytes" } else { "max_output_files" };
            return Err(err(&["engine", key], format!("engine.{key} is 0, expected a limit above 0")));
        }
        for name in &e.pass_env {
            let bad = name.is_empty() || name.contains(['=', '\0']) || name.starts_with("DREAMD_");
            if bad {
                return Err(err(
                    &["engine", "pass_env"],
                    format!("engine.pass_env: {name:?} is not a variable that can be passed, expected a name without '=' (DREAMD_* are set by dreamd)"),
                ));
            }
        }
        if self.triggers.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(err(
                &["triggers", "timezone"],
                format!(
                    "triggers.timezone {:?} is not a known time zone, expected an IANA name like UTC or Europe/Berlin",
                    self.triggers.timezone
                ),
            ));
        }
        if let Some(expr) = &self.triggers.schedule {
            if let Err(e) = crate::schedule::CronSchedule::parse(expr) {
                return Err(err(&["triggers", "schedule"], format!("triggers.schedule: {e}")));
            }
        }
        if self.limits.daily_budget_usd < 0.0 || self.limits.monthly_budget_usd.is_some_and(|m| m < 0.0) {
            return Err(err(&["limits", "daily_budget_usd"], "a budget is negative, expected an amount >= 0".into()));
        }
        if let Some((keys, message)) = api::problem(&self.api) {
            return Err(err(keys, message));
        }
        if let Some(p) = paths::check(self) {
            return Err(err(p.key, p.message));
        }
        Ok(())
    }

    /// The memory directory as it is on disk now: missing, not a directory, unreadable.
    /// `check-config` fails on it; the daemon starts anyway and says so (a volume may be
    /// mounted later), and each dream fails with the same message until it is fixed.
    pub fn memory_dir_problem(&self) -> Option<ConfigError> {
        let p = paths::memory_dir_problem(self)?;
        let file = self.source.clone().unwrap_or_default();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let (line, column) = locate_key(&text, p.key).map_or((None, None), |(l, c)| (Some(l), Some(c)));
        Some(ConfigError { file, line, column, message: p.message })
    }
}

/// Lexically normalize `a/./b/../c` to `a/c` without touching the filesystem.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests;

/// Dotted keys whose values differ between two configs, as `key: old → new`.
pub fn diff(old: &Config, new: &Config) -> Vec<String> {
    fn walk(prefix: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&p, x.get(k).unwrap_or(&serde_json::Value::Null), y.get(k).unwrap_or(&serde_json::Value::Null), out);
                }
            }
            _ if a != b => out.push(format!("{prefix}: {a} → {b}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let (a, b) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(new).unwrap_or_default());
    walk("", &a, &b, &mut out);
    out
}
