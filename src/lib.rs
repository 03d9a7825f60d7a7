//! bulk-unblock: remove blocks from an account in bulk, inside the rate limit, resumable.
//!
//! The pipeline reads left to right: [`input`] → [`plan`] (pure: what is left, given the
//! [`journal`]) → executor (pacing gate, token bucket, network client) → events → one writer
//! (journal and display). Everything specific to one network sits behind the network seam.

pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod emulator;
pub mod error;
pub mod export;
pub mod input;
pub mod journal;
pub mod logging;
pub mod network;
pub mod outcome;
pub mod pace;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod run;
pub mod summary;
pub mod target;
pub mod undo;
pub mod writer;
