use clap::Parser;
use dreamd::cli::{self, Cli, Command, LogFormat};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Test builds only: crash points named in FAILPOINTS (see dreamd::apply::failpoint).
    #[cfg(feature = "test-hooks")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Run { .. }) {
        dreamd::allocator::limit_arenas();
    } else {
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
    // Blocking work still running (an engine noticing its cancel) gets a moment to end.
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::exit::fail(&e),
    }
}

async fn run(config: Option<std::path::PathBuf>, log_format: LogFormat) -> anyhow::Result<()> {
    dreamd::logging::init(log_format);
    let config = cli::load_config(config.as_deref())?;
    let listener = dreamd::daemon::bind(&config).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let reloads = dreamd::signals::listen(shutdown.clone())?;
    let opts = dreamd::daemon::Options { reloads: Some(reloads), ..dreamd::daemon::Options::new(config) };
    dreamd::daemon::run(opts, listener, shutdown).await
}
