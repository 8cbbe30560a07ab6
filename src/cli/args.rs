//! The command line as clap sees it: every verb and argument with its help text. The man page
//! and the shell completions are generated from these definitions.

use crate::config::HumanDuration;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const CONFIG_HELP: &str = "Config file [default: $DREAMD_CONFIG, else ./dreamd.yaml, else /etc/dreamd/dreamd.yaml]";

#[derive(Debug, Parser)]
#[command(
    name = "dreamd",
    version,
    about = "Consolidates (\"dreams\") an AI agent's memory directory, hands-off.",
    long_about = "Consolidates (\"dreams\") an AI agent's memory directory, hands-off.\n\n\
        `dreamd run` is the daemon: it watches the agent's memory and session transcripts, dreams when \
        thresholds or a schedule say so, checks each candidate against policy and applies it atomically \
        or holds it for review. The other verbs talk to a running daemon over its Unix socket, except \
        `check-config`, `consolidate`, `completions` and `man`, which work alone.",
    after_long_help = super::exit::EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// How a client verb finds the daemon and prints its answer.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    #[arg(long, global = true, value_name = "FILE", help = CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// Daemon socket; overrides the one the config names
    #[arg(long, global = true, value_name = "PATH", env = "DREAMD_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Print the API's JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Text for a person (colours only on a terminal, and never with NO_COLOR set)
    Human,
    /// One JSON object per line, for journald or a log collector
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayoutArg {
    /// MEMORY.md index plus topic files; transcripts as SESSION.jsonl
    ClaudeCode,
    /// Any directory of .md/.txt files
    Generic,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground
    Run {
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Log line format, written to standard error
        #[arg(long, value_enum, default_value = "human", value_name = "FORMAT")]
        log_format: LogFormat,
    },
    /// Validate a config file; on error print file:line:column and exit 1
    CheckConfig {
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Check the file only, not the paths it names on this machine (for a config meant for
        /// another host, an image or a pod)
        #[arg(long)]
        offline: bool,
    },
    /// Exit 0 if the daemon answers its health check, 1 if not (for probes and HEALTHCHECK)
    Health {
        #[command(flatten)]
        target: Target,
        /// Give up and exit 1 after this long
        #[arg(long, default_value = "5s", value_name = "DURATION")]
        timeout: HumanDuration,
    },
    /// What the daemon sees and would do
    Status(Target),
    /// Ask for a dream now; the gate decides (exit 3 when it says not now); --wait follows it to its outcome
    Dream {
        #[command(flatten)]
        target: Target,
        /// Bypass thresholds, min_interval, the quiet period and failure backoff (never quota, budget, the agent's lock or a running dream)
        #[arg(long)]
        force: bool,
        /// Follow the dream's log with a progress line and exit with its outcome (0 applied or nothing to change, 6 held for review, 7 failed, canceled or stale)
        #[arg(long)]
        wait: bool,
    },
    /// Recent jobs, newest first
    Jobs {
        #[command(flatten)]
        target: Target,
        /// How many jobs to list
        #[arg(long, default_value_t = 20, value_name = "N")]
        limit: u32,
    },
    /// One job: status, policy checks, changes
    Show {
        /// Job id, as `dreamd jobs` lists it
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Unified diff of a job's candidate against the store it was made from
    Diff {
        /// Job id, as `dreamd jobs` lists it
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// What a job read and wrote
    Log {
        /// Job id, as `dreamd jobs` lists it
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        job: i64,
        #[command(flatten)]
        target: Target,
        /// Keep streaming new events until the job ends
        #[arg(long, short)]
        follow: bool,
    },
    /// Apply a held job
    Approve {
        /// Id of a held job
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Stop a queued or running job
    Cancel {
        /// Id of a queued or running job
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Drop a held job
    Discard {
        /// Id of a held job
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        job: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Restore a generation (default: the newest one)
    Rollback {
        /// Generation id, as `dreamd generations` lists it [default: the newest]
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        generation: Option<i64>,
        #[command(flatten)]
        target: Target,
    },
    /// Stores kept for rollback
    Generations(Target),
    /// Run the built-in engine once, no daemon, no state: write the candidate to --out
    Consolidate {
        /// The memory directory to read (never modified)
        memory_dir: PathBuf,
        /// Session transcripts (JSONL) to learn from
        #[arg(long, value_name = "DIR")]
        sessions: Option<PathBuf>,
        /// Where to write the candidate: a new or empty directory
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// How the memory directory is organised
        #[arg(long, value_enum, default_value = "claude-code")]
        layout: LayoutArg,
        /// Keep superseded values under "## Superseded" instead of dropping them
        #[arg(long)]
        keep_history: bool,
        /// Regex marking entries as pinned, never changed or removed (repeatable)
        #[arg(long = "pinned-pattern", value_name = "REGEX")]
        pinned_patterns: Vec<String>,
        /// Print the full report as JSON instead of a summary
        #[arg(long)]
        json: bool,
        /// Memory budget in MiB (0: none): over it, the largest files are left as they are
        /// and the report says so, as `limits.max_memory_mb` does for the daemon
        #[arg(long, value_name = "MIB", default_value_t = crate::config::DEFAULT_MAX_MEMORY_MB)]
        max_memory_mb: u64,
    },
    /// Print a shell completion script to standard output
    Completions {
        /// The shell to complete for
        shell: Shell,
    },
    /// Print the man page (roff) to standard output, or write every page to --out
    Man {
        /// Write dreamd.1 and one dreamd-VERB.1 per verb into this directory
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every verb says what it is for (help, -h, --version are clap's).
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if cmd.get_about().is_none() {
                missing.push(format!("{path} (the verb)"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if ["help", "version"].contains(&id) {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, "dreamd", &mut missing);
        missing.retain(|m| m != "dreamd (the verb)" && !m.starts_with("dreamd help"));
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
