//! Configuration: YAML with a default for everything that has a sensible one.
//!
//! Unknown keys are errors, and every error names `file:line:column`, what is wrong and
//! what is expected, so an operator can fix a config without reading the source.

pub mod duration;
pub mod triggers;

pub use duration::HumanDuration;
pub use triggers::{LimitsConfig, TriggersConfig};

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

fn default_state_dir() -> PathBuf {
    PathBuf::from("./.dreamd")
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Unix socket path; relative paths resolve against the config file's directory.
    pub socket: Option<PathBuf>,
    /// Requests whose headers take longer than this are dropped.
    pub header_timeout: HumanDuration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { socket: None, header_timeout: HumanDuration::secs(10) }
    }
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
    /// Command engine: argv; the first element is the program.
    pub command: Vec<String>,
    /// Command engine: estimated cost per job in USD, counted against the budget.
    pub cost_per_job_usd: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { kind: EngineKind::Builtin, keep_history: false, command: Vec::new(), cost_per_job_usd: 0.0 }
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

impl Config {
    /// Read, parse, resolve relative paths and validate.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            column: None,
            message: format!("cannot read config: {e}"),
        })?;
        Config::from_yaml(&text, path)
    }

    /// Parse YAML text as if it were read from `path` (used for error locations and
    /// for resolving relative paths).
    pub fn from_yaml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = serde_yaml::from_str(text).map_err(|e| {
            let loc = e.location();
            ConfigError {
                file: path.to_path_buf(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                message: explain_serde_error(&e.to_string()),
            }
        })?;
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
    }

    /// The socket path: configured, or `state_dir/dreamd.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.api.socket.clone().unwrap_or_else(|| self.state_dir.join("dreamd.sock"))
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
        let err = |keys: &[&str], message: String| {
            let (line, column) = locate_key(text, keys).map_or((None, None), |(l, c)| (Some(l), Some(c)));
            ConfigError { file: path.to_path_buf(), line, column, message }
        };
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
        if self.engine.cost_per_job_usd < 0.0 {
            return Err(err(&["engine", "cost_per_job_usd"], "engine.cost_per_job_usd is negative, expected a cost >= 0".into()));
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
        Ok(())
    }
}

/// serde's messages are good but speak Rust; add what an operator needs.
fn explain_serde_error(msg: &str) -> String {
    // yaml_serde appends " at line L column C"; the location is already in front.
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    let mut out = msg.to_string();
    for (rust, plain) in [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected u32", "expected a whole number >= 0"),
        ("expected u64", "expected a whole number >= 0"),
        ("expected i64", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
    ] {
        out = out.replace(rust, plain);
    }
    out
}

/// Find the line and column of a nested key (`["policy", "min_reduction"]`) by indentation.
/// Good enough for locating semantic errors in hand-written YAML.
pub fn locate_key(text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let mut depth = 0;
    let mut parent_indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if let Some(pi) = parent_indent {
            if indent <= pi {
                // Left the parent's block without finding the key.
                return None;
            }
        }
        let key = keys[depth];
        if trimmed.starts_with(&format!("{key}:")) && parent_indent.is_none_or(|pi| indent > pi) {
            if depth + 1 == keys.len() {
                return Some((i + 1, indent + 1));
            }
            depth += 1;
            parent_indent = Some(indent);
        }
    }
    None
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
