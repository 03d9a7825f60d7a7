//! bulk-unblock: remove blocks from an account in bulk, inside the rate limit, resumable.
//!
//! The job reads left to right: [`input`] → [`plan`] (pure: what is left, given the
//! [`journal`]) → [`executor`] (workers paced by [`pace`], each request through the one
//! [`retry`] loop and the network client) → events → [`writer`] (the one task that writes the
//! journal and the [`display`]). [`job`] puts them in that order; the [`commands`] sit above it.
//! Everything specific to one network sits behind the seam in [`network`].

pub mod blocklist;
pub mod check;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod display;
pub mod emulator;
pub mod error;
pub mod executor;
pub mod http;
pub mod input;
pub mod job;
pub mod journal;
pub mod logging;
pub mod network;
pub mod outcome;
pub mod pace;
pub mod plan;
pub mod reply;
pub mod resolve;
pub mod retry;
pub mod secret;
pub mod session;
pub mod shell;
pub mod signals;
pub mod target;
pub mod writer;
