//! Emulators of the social networks' APIs, served over real HTTP on loopback, and the
//! network-neutral core they are built on.
//!
//! Each emulator is an independent model of a server, written from the network's API reference
//! rather than from the client, so tests can drive the real binary against it and then assert
//! on what it received and what it holds: [`x`], [`bluesky`] and [`mastodon`], siblings over
//! one core.
//!
//! **The core provides** what no network owns:
//! - [`Store`]: one mutex around a network's whole state, held only for short synchronous
//!   steps, never across an await;
//! - [`limits`]: fixed rate windows on the emulator clock, charging a cost per request;
//! - [`faults`]: the fault knobs (`[faults]` in a scenario file) and the seeded dice that draw
//!   latency, server errors, drops after acting, stalls and spurious 429s;
//! - [`clock_ms`]: the emulator clock, real time plus an offset;
//! - [`log`]: the request log ([`LoggedRequest`], generic over the network's endpoint enum)
//!   and the counters ([`Stats`]);
//! - [`request`]: the parts of a request every network reads ([`Parts`]);
//! - [`seed`](mod@seed): what every network's seed and state share: [`seed::Redacted`],
//!   standing for a credential in `Debug` output, the name of a user made up for a test, and
//!   the hash that derives the fields no seed gives;
//! - [`serve`](mod@serve): serving a router until shutdown, [`Running`] (one or several servers
//!   over one handle, stopped when dropped), and [`respond`] (status, `Date`, headers, a body
//!   that may break off after acting);
//! - [`network`](mod@network): the [`NetworkState`] trait a network's state implements, and
//!   [`Handle`], the one emulator handle over it (knobs changed at runtime, the request log,
//!   the counters, the state view); the [`Steps`] of a request (arrive, admit, act, finish),
//!   and the one loop that runs them with the sleeps between them, outside the lock;
//! - [`admin`]: `GET /admin/state`, `GET /admin/requests` and `GET|POST /admin/config`, mounted
//!   by each network over its [`Handle`];
//! - [`config`]: what the core reads in every network's knobs ([`Knobs`]), the bounds they
//!   share and the error naming a knob;
//! - [`start`]: starting any network's emulator the one way: [`start::load`] (the seed, the
//!   scenario, the flags, the check of the knobs), [`start::launch`] (binding, serving, the
//!   start-up lines, until Ctrl-C) and [`start::spawn`] (on free loopback ports);
//! - [`demo`]: the [`demo::Stage`] each network sets for `bulk-unblock demo`.
//!
//! **A network module provides** the rest: its endpoint enum (implementing [`EndpointKind`])
//! and routing; its authentication; its answers and error shapes; its seed (users, accounts,
//! credentials) and configuration (implementing [`Knobs`]); a state struct holding its knobs,
//! a [`RequestLog`], a [`FaultDice`] and its [`limits::Window`]s, implementing
//! [`NetworkState`] (its `Emulator` is the core's [`Handle`] on that state, behind a [`Store`],
//! with the network's own methods added); its [`Steps`] (what arriving, admission, acting
//! and finishing mean on its wire); a handler that reads a request for them and answers what
//! they return; its state view; its [`start::Startup`] (its builtin seed, the flags of its own
//! knobs, its servers and its start-up lines); and its stage for `bulk-unblock demo`.
//! [`args`] dispatches the `bulk-unblock emulator` subcommand, and [`demo`] the demo, to the
//! network chosen with `--network`.

pub mod admin;
pub mod args;
pub mod bluesky;
pub mod clock;
pub mod config;
pub mod demo;
pub mod faults;
pub mod limits;
pub mod log;
pub mod mastodon;
pub mod network;
pub mod request;
pub mod seed;
pub mod serve;
pub mod start;
pub mod store;
#[cfg(test)]
mod testing;
pub mod x;

pub use clock::clock_ms;
pub use config::{ConfigError, Knobs};
pub use faults::{FaultDice, FaultKind, Faults};
pub use log::{EndpointKind, ErrorCode, Finished, LoggedRequest, RequestLog, Stats};
pub use network::{Handle, NetworkState, Steps};
pub use request::Parts;
pub use serve::{Answer, Running, respond, serve};
pub use store::Store;
