use clap::Parser;
use dreamd::cli::{self, Cli, Command, LogFormat};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Test builds only: crash points named in FAILPOINTS (see dreamd::apply::failpoint).
    #[cfg(feature = "test-hooks")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run { .. }) {
        // A client piped into `head` should end quietly, not panic on a closed stdout.
        // SAFETY: restoring the default disposition of a signal before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Run { config, log_format } => runtime.block_on(run(config, log_format)),
        other => runtime.block_on(cli::client_command(other)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::exit::fail(&e),
    }
}

async fn run(config: Option<std::path::PathBuf>, log_format: LogFormat) -> anyhow::Result<()> {
    dreamd::logging::init(log_format);
    let config = cli::load_config(config.as_deref())?;
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    let shutdown = dreamd::signals::listen(reload_tx)?;
    // systemd Type=notify: READY once the API answers, then watchdog pings while it does.
    let notifier = tokio::spawn(dreamd::systemd::announce_when_serving(config.socket_path()));
    let result = dreamd::daemon::run_with(config, dreamd::clock::clock_from_env(), shutdown, reload_rx).await;
    notifier.abort();
    result
}
