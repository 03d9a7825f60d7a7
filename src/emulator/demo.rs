//! The stage of `bulk-unblock demo`: a network's emulator started in-process on its sample
//! account, with what the client needs to run against it and what to tell the user.
//!
//! Each network sets its own stage (`x::demo`, `mastodon::demo`, `bluesky::demo`): which
//! sample file a user of that network would have, a short rate window with honest headers so
//! the window state shows, and the faults a real run meets made to happen within seconds. The
//! command itself (`commands::demo`) is network-neutral: it runs the real pipeline on the
//! stage and prints what the stage says before and after.

use std::time::Duration;

use super::args::{EmulatorError, Network};
use super::config::Knobs;
use super::network::Handle;
use super::serve::Running;
use super::start::{self, Startup};

/// How errors name the builtin seed a stage starts from.
const BUILTIN: &str = "(builtin)";

/// A running emulator, ready for a demo run. Dropping it stops the servers.
pub struct Stage {
    /// Where the client starts (X's API base, a Mastodon instance, a Bluesky entryway).
    pub base_url: String,
    /// The sample account's credentials, in the order the network's client reads them.
    pub credentials: Vec<String>,
    /// The sample input as `sample-data/` holds it: its name there, and its bytes.
    pub input: (&'static str, &'static [u8]),
    /// The unblocks (or write points) the emulator admits per window, and the window.
    pub rate: (u32, Duration),
    /// The block-list pages the emulator admits per window, and the window.
    pub list_rate: (u32, Duration),
    /// Requests in flight at once.
    pub concurrency: usize,
    /// What is serving and how it behaves, a paragraph a line, shown before the run.
    pub intro: Vec<String>,
    /// What the emulator received and holds after the run, a paragraph a line.
    pub outro: Box<dyn Fn() -> Vec<String> + Send>,
    /// The servers, kept running until the stage is dropped.
    pub servers: Box<dyn Send>,
}

/// Starts `network`'s emulator on its sample account, admitting `limit` unblocks (or write
/// points) per `window`.
pub async fn stage(network: Network, limit: u32, window: Duration) -> Result<Stage, EmulatorError> {
    match network {
        Network::X => super::x::demo::stage(limit, window).await,
        Network::Bluesky => super::bluesky::demo::stage(limit, window).await,
        Network::Mastodon => super::mastodon::demo::stage(limit, window).await,
    }
}

/// The error of a built-in seed that does not hold what the demo needs.
pub(crate) fn seed_lacks(what: &str) -> EmulatorError {
    EmulatorError::Seed {
        origin: BUILTIN.into(),
        source: format!("it has no {what}").into(),
    }
}

/// Checks a stage's knobs, then builds the network's emulator on its builtin seed and serves
/// it on free loopback ports.
pub(crate) async fn serve<S: Startup>(
    seed: S::Seed,
    config: S::Config,
) -> Result<Running<Handle<S>>, EmulatorError> {
    config.validate().map_err(EmulatorError::Config)?;
    let emulator = Handle::new(seed, config).map_err(|e| start::bad_seed::<S>(BUILTIN, e))?;
    start::spawn(emulator)
        .await
        .map_err(|source| EmulatorError::Bind { port: 0, source })
}
