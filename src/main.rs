//! The `bulk-unblock` binary: parse, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

use bulk_unblock::cli::Cli;
use bulk_unblock::config::verbosity;
use bulk_unblock::error::{Exit, chain};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = verbosity(cli.verbose, cli.quiet);
    bulk_unblock::logging::init(verbosity);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Usage.into();
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    match runtime.block_on(bulk_unblock::commands::dispatch(
        cli.command,
        verbosity,
        env,
    )) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            e.exit().into()
        }
    }
}
