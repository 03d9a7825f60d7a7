//! `bulk-unblock emulator`: serve an emulated network on 127.0.0.1 until interrupted.

use crate::emulator::args::EmulatorArgs;
use crate::error::{Error, Exit};

/// Runs the emulator with the flags given.
pub async fn command(args: EmulatorArgs) -> Result<Exit, Error> {
    crate::emulator::args::run(args)
        .await
        .map(|()| Exit::Success)
        .map_err(|e| Error::Emulator(Box::new(e)))
}
