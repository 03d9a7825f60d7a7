//! An emulator of the part of the X/Twitter API that bulk-unblock uses, served over real HTTP
//! on loopback.
//!
//! It is an independent model of the server, written from the API reference rather than from
//! the client: it verifies OAuth 1.0a signatures itself, keeps per-account blocked sets, counts
//! fixed rate windows per token and endpoint, and can inject the faults a long run meets
//! (latency, 503/500, a response lost after the action happened, stalls, revoked tokens). Tests
//! drive the real binary against it and then assert on what it received and what it holds.
//!
//! It is built on the network-neutral core in [`crate::emulator`] (the state store, rate
//! windows, fault dice, request log, serving and admin routes) and adds everything that is X's
//! own. Layout: [`seed`] (starting data), [`config`] (knobs), [`route`] (which endpoint),
//! [`oauth`] (verifier), `pipeline` (the per-request steps), `v1` and `v2` (endpoints),
//! `render` and `reply` (bodies), `cursor` (paging), `admin` (its state view), `server` (HTTP
//! glue), [`cli`] (its side of `bulk-unblock emulator`).

mod admin;
pub mod cli;
pub mod config;
mod cursor;
pub mod demo;
pub mod oauth;
mod pipeline;
mod render;
mod reply;
pub mod route;
pub mod seed;
mod server;
mod state;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use axum::Router;

pub use admin::{AccountView, StateView};
pub use config::{
    AuthConfig, Config, EndpointLimit, HeaderMode, Limits, NotBlockedReply, Replies, SuspendedReply,
};
pub use route::Endpoint;
pub use seed::{AccessLevel, Seed, SeedAccount, SeedApp, SeedError, SeedUser, UserState};

/// One request as the X emulator saw it.
pub type LoggedRequest = crate::emulator::log::LoggedRequest<Endpoint>;

/// An X emulator served on loopback; dropping it stops the server.
pub type Running = crate::emulator::serve::Running<Emulator>;

/// A running emulated X network: the core's [`Handle`](crate::emulator::Handle) on its state
/// (knobs, request log, counters, state view) with X's own methods. Cheap to clone: clones
/// share the state.
pub type Emulator = crate::emulator::Handle<state::State>;

impl Emulator {
    /// The axum router serving the emulated API and the admin views.
    pub fn router(&self) -> Router {
        server::router(self.clone())
    }

    /// An account's current blocked set, ascending (empty for an unknown account).
    pub fn blocked(&self, account_id: u64) -> Vec<u64> {
        self.with(|s| s.blocked(account_id))
    }

    /// Replaces an account's blocked set. IDs with no user get a synthesized active user, so a
    /// test can block 12,000 made-up IDs without listing users.
    pub fn set_blocked(&self, account_id: u64, ids: impl IntoIterator<Item = u64>) {
        self.with(|s| s.set_blocked(account_id, ids));
    }

    /// Adds users, or replaces those with the same ID (e.g. to suspend someone mid-test).
    pub fn add_users(&self, users: impl IntoIterator<Item = SeedUser>) {
        self.with(|s| s.add_users(users));
    }

    /// Revokes an access token: from now on it gets 401 code 89.
    pub fn revoke_token(&self, access_token: &str) {
        self.with(|s| s.revoke_token(access_token));
    }

    /// Re-enables a revoked access token, as if the user had issued a new one with the same
    /// values (tests of "fix the credentials, then resume").
    pub fn restore_token(&self, access_token: &str) {
        self.with(|s| s.restore_token(access_token));
    }
}

/// The name of the X emulator's one server in [`Running`].
pub const SERVER: &str = "api";

/// Binds `127.0.0.1:0` and serves `emulator` on the current runtime.
pub async fn spawn(emulator: Emulator) -> std::io::Result<Running> {
    crate::emulator::start::spawn(emulator).await
}
