//! The subcommands, one file each. They sit above the machinery: each reads its flags, builds
//! what it needs from the modules below, and decides what is printed and the exit code. No
//! module below imports a command.

pub mod demo;
pub mod emulator;
pub mod export;
pub mod report;
pub mod run;
pub mod undo;

use crate::cli::Command;
use crate::config::RunConfig;
use crate::display::Verbosity;
use crate::error::{Error, Exit};

/// Runs one subcommand. Settings come from the environment only through `env`.
pub async fn dispatch(
    command: Command,
    verbosity: Verbosity,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Exit, Error> {
    match command {
        Command::Run(args) => run::run(RunConfig::from_args(args)?, verbosity, env).await,
        Command::Export(args) => export::command(args, verbosity, env).await,
        Command::Report(args) => report::command(args),
        Command::Undo(args) => undo::command(args, verbosity, env).await,
        Command::Demo(args) => demo::demo(args, verbosity).await,
        Command::Emulator(args) => emulator::command(args).await,
    }
}
