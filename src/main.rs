//! The `bulk-unblock` binary: parse, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

use bulk_unblock::cli::{Cli, Command};
use bulk_unblock::config::{RunConfig, verbosity};
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
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => {
                let env = |name: &str| std::env::var(name).ok();
                match RunConfig::from_args(args) {
                    Ok(config) => bulk_unblock::run::run(config, verbosity, env).await,
                    Err(e) => Err(e),
                }
            }
            Command::Export(args) => {
                let env = |name: &str| std::env::var(name).ok();
                bulk_unblock::export::command(args, verbosity, env).await
            }
            Command::Report(args) => bulk_unblock::summary::command(args),
            Command::Undo(args) => {
                let env = |name: &str| std::env::var(name).ok();
                bulk_unblock::undo::command(args, verbosity, env).await
            }
            Command::Demo(args) => bulk_unblock::demo::demo(args, verbosity).await,
            Command::Emulator(args) => bulk_unblock::emulator::args::run(args)
                .await
                .map(|()| Exit::Success)
                .map_err(|e| bulk_unblock::error::Error::Usage(chain(&e))),
        }
    });
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            e.exit().into()
        }
    }
}
