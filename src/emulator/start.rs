//! Starting a network's emulator, the same way for every network: from the flags of
//! `bulk-unblock emulator` ([`load`], [`launch`]), or on free loopback ports for tests and the
//! demo ([`spawn`]).
//!
//! A network says what is its own through [`Startup`]: its builtin seed and how a seed file
//! reads, the flags that set its own knobs, its servers, and its start-up lines. The core does
//! the rest in one order: the seed (the file, or the builtin one), the scenario file, the
//! network's flags, the flags every network shares (the clock offset and the faults), the
//! check that names an absurd knob, then binding each server, serving, printing the start-up
//! lines and waiting for Ctrl-C.

use std::io::{self, Write as _};
use std::net::SocketAddr;

use axum::Router;

use super::args::{EmulatorArgs, EmulatorError};
use super::config::Knobs;
use super::network::{Handle, NetworkState};
use super::serve::{Running, bind_loopback};

/// A network's side of starting its emulator.
pub trait Startup: NetworkState<Seed: Clone> {
    /// How the start-up lines name the builtin seed, e.g.
    /// `sample-data/emulator-seed.json (builtin)`.
    const BUILTIN_SEED: &'static str;

    /// The sample seed shipped with the crate.
    fn builtin_seed() -> Self::Seed;

    /// Reads a seed file (JSON in the network's shape).
    fn seed_from_json(bytes: &[u8]) -> Result<Self::Seed, Self::SeedError>;

    /// Applies the flags that set this network's own knobs over `config` (flags win). Flags of
    /// the other networks were refused before ([`EmulatorArgs::check_flags`]); the clock
    /// offset and the fault flags are the core's ([`EmulatorArgs::apply_shared`]).
    fn apply(args: &EmulatorArgs, config: &mut Self::Config) -> Result<(), EmulatorError>;

    /// The network's servers, in order, each with its name and router; the first is where
    /// clients are pointed (its address is [`Running::addr`]).
    fn servers(emulator: &Handle<Self>) -> Vec<(&'static str, Router)>;

    /// The port asked for the server called `name`: `--port` unless the network has a flag of
    /// its own for it; 0 picks a free one.
    fn port(args: &EmulatorArgs, name: &str) -> u16 {
        let _ = name;
        args.port
    }

    /// Told every server's address once all are bound, before any serves.
    fn bound(emulator: &Handle<Self>, addrs: &[(&'static str, SocketAddr)]) {
        let _ = (emulator, addrs);
    }

    /// The lines printed on stdout at start: what a client needs to be pointed at the
    /// emulator, in a shape a script can read.
    fn banner(running: &Running<Handle<Self>>, seed: &Self::Seed, origin: &str) -> Vec<String>;

    /// A line printed on stderr at start, before the stdout lines, if any.
    fn notice(running: &Running<Handle<Self>>, seed: &Self::Seed, origin: &str) -> Option<String> {
        let _ = (running, seed, origin);
        None
    }
}

/// The error of a seed that cannot be read or built, naming where it came from.
pub(crate) fn bad_seed<S: NetworkState>(origin: &str, source: S::SeedError) -> EmulatorError {
    EmulatorError::Seed {
        origin: origin.to_owned(),
        source: Box::new(source),
    }
}

/// Reads the seed and the scenario, applies the flags and checks the result, so an absurd
/// value stops the emulator at startup with the knob named. Returns the seed's origin too, for
/// the start-up lines.
pub fn load<S: Startup>(
    args: &EmulatorArgs,
) -> Result<(S::Seed, S::Config, String), EmulatorError> {
    let (seed, origin) = match args.seed_file()? {
        Some((bytes, origin)) => {
            let seed = S::seed_from_json(&bytes).map_err(|e| bad_seed::<S>(&origin, e))?;
            (seed, origin)
        }
        None => (S::builtin_seed(), S::BUILTIN_SEED.to_owned()),
    };
    let mut config: S::Config = args.scenario()?;
    S::apply(args, &mut config)?;
    args.apply_shared(&mut config);
    config.validate().map_err(EmulatorError::Config)?;
    Ok((seed, config, origin))
}

/// Binds `127.0.0.1` at the port `port_of` asks for each of the network's servers, tells the
/// network their addresses, and serves them on the current runtime. A failure names the port
/// that could not be bound, or else the first server's.
async fn bind_and_serve<S: Startup>(
    emulator: Handle<S>,
    port_of: impl Fn(&str) -> u16,
) -> Result<Running<Handle<S>>, (u16, io::Error)> {
    let mut first_port = None;
    let mut servers = Vec::new();
    let mut addrs = Vec::new();
    for (name, router) in S::servers(&emulator) {
        let port = port_of(name);
        let first = *first_port.get_or_insert(port);
        let listener = bind_loopback(port).await.map_err(|e| (port, e))?;
        addrs.push((name, listener.local_addr().map_err(|e| (first, e))?));
        servers.push((name, listener, router));
    }
    S::bound(&emulator, &addrs);
    Running::spawn(emulator, servers).map_err(|e| (first_port.unwrap_or(0), e))
}

/// Binds `127.0.0.1:0` for each of the network's servers and serves `emulator` on the current
/// runtime.
pub async fn spawn<S: Startup>(emulator: Handle<S>) -> io::Result<Running<Handle<S>>> {
    bind_and_serve(emulator, |_| 0).await.map_err(|(_, e)| e)
}

/// Serves a network's emulator as the flags say until Ctrl-C.
pub async fn launch<S: Startup>(args: &EmulatorArgs) -> Result<(), EmulatorError> {
    let (seed, config, origin) = load::<S>(args)?;
    let emulator = Handle::<S>::new(seed.clone(), config).map_err(|e| bad_seed::<S>(&origin, e))?;
    let running = bind_and_serve(emulator, |name| S::port(args, name))
        .await
        .map_err(|(port, source)| EmulatorError::Bind { port, source })?;
    let lines = S::banner(&running, &seed, &origin);
    if let Some(notice) = S::notice(&running, &seed, &origin) {
        eprintln!("{notice}");
    }
    serve_until_ctrl_c(running, &lines).await
}

/// Prints the start-up lines, then serves until Ctrl-C or until a server fails. Stops at once
/// on Ctrl-C: dropping `running` aborts the servers, so a stalled request cannot hold the
/// emulator open.
async fn serve_until_ctrl_c<H>(
    mut running: Running<H>,
    lines: &[String],
) -> Result<(), EmulatorError> {
    {
        let mut out = std::io::stdout().lock();
        for line in lines {
            writeln!(out, "{line}").map_err(EmulatorError::Stdout)?;
        }
        out.flush().map_err(EmulatorError::Stdout)?;
    }
    tokio::select! {
        served = running.stopped() => served.map_err(EmulatorError::Serve),
        signal = tokio::signal::ctrl_c() => signal.map_err(EmulatorError::Signal),
    }
}
