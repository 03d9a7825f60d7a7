//! An emulator of the part of the Mastodon API that a bulk unblocker uses, served over real
//! HTTP on loopback.
//!
//! It is an independent model of the server, written from Mastodon's controllers, serializers
//! and throttle configuration rather than from the client: bearer tokens with scopes checked as
//! Doorkeeper checks them, block rows paged by their own IDs through `Link` headers, suspended
//! accounts left out of the blocks list, domain blocks, Rack::Attack's throttles in windows
//! aligned to the epoch with ISO 8601 resets, and the faults a long run meets (latency, 5xx, a
//! response lost after the action happened, stalls, revoked tokens). Unlike a real instance it
//! does not exempt 127.0.0.1 from the throttles. Tests drive the real binary against it and
//! then assert on what it received and what it holds.
//!
//! It is built on the network-neutral core in [`crate::emulator`] and adds what is Mastodon's
//! own. Layout: [`seed`] (starting data), [`config`] (knobs), [`route`] (which endpoint and what
//! it asks of a token), `reply` (request and answer values), `state` (accounts, tokens, block
//! rows), `throttle` (Rack::Attack), `pipeline` (the per-request steps), `api` (endpoints),
//! `render` (entities), `admin` (its state view and admin calls), `server` (HTTP glue), [`cli`]
//! (its side of `bulk-unblock emulator`).

mod admin;
mod api;
pub mod cli;
pub mod config;
pub mod demo;
mod pipeline;
mod render;
mod reply;
pub mod route;
pub mod seed;
mod server;
mod state;
mod throttle;

#[cfg(test)]
mod tests;

use axum::Router;

pub use admin::{StateView, TokenView, UserView};
pub use config::{
    Config, ErrorBody, HeaderMode, InstanceConfig, Limits, Replies, RevokedReply, Throttle,
};
pub use pipeline::{INVALID_TOKEN, REVOKED_TOKEN};
pub use render::iso8601_micros;
pub use route::Endpoint;
pub use seed::{Seed, SeedAccount, SeedError, SeedToken, SeedUser};

/// One request as the Mastodon emulator saw it.
pub type LoggedRequest = crate::emulator::log::LoggedRequest<Endpoint>;

/// A Mastodon emulator served on loopback; dropping it stops the server.
pub type Running = crate::emulator::serve::Running<Emulator>;

/// A running emulated Mastodon instance: the core's [`Handle`](crate::emulator::Handle) on its
/// state (knobs, request log, counters, state view) with Mastodon's own methods. Cheap to
/// clone: clones share the state. Account IDs are strings of digits, as the API writes them.
/// In its counters, `blocks_applied` and `unblocks_applied` count account blocks; domain block
/// writes show in `per_endpoint` (`domain_blocks/create`, `domain_blocks/destroy`).
pub type Emulator = crate::emulator::Handle<state::State>;

impl Emulator {
    /// The axum router serving the emulated API and the admin views.
    pub fn router(&self) -> Router {
        server::router(self.clone())
    }

    /// The instance's domain.
    pub fn domain(&self) -> String {
        self.with(|s| s.domain.clone())
    }

    /// The account IDs a local account blocks, oldest block first, suspended ones included
    /// (empty for an unknown account).
    pub fn blocked(&self, account_id: &str) -> Vec<String> {
        self.with(|s| s.blocked(account_id))
    }

    /// The domains a local account blocks, oldest first.
    pub fn domain_blocks(&self, account_id: &str) -> Vec<String> {
        self.with(|s| s.domain_blocks(account_id))
    }

    /// Replaces a local account's blocks with new rows in the given order (oldest first). IDs
    /// with no account get a synthesized local one, so a test can block thousands of made-up
    /// IDs without listing accounts.
    pub fn set_blocked<I, S>(&self, account_id: &str, ids: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        self.with(|s| s.set_blocked(account_id, ids));
    }

    /// Replaces a local account's domain blocks.
    pub fn set_domain_blocks<I, S>(&self, account_id: &str, domains: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let domains: Vec<String> = domains.into_iter().map(Into::into).collect();
        self.with(|s| s.set_domain_blocks(account_id, domains));
    }

    /// Suspends or reinstates an account (e.g. mid-run); false for an unknown one.
    pub fn set_suspended(&self, account_id: &str, suspended: bool) -> bool {
        self.with(|s| s.set_suspended(account_id, suspended))
    }

    /// The ID of the account `acct` names (`user`, `user@domain`, `@user@domain`), as lookup
    /// resolves it.
    pub fn lookup(&self, acct: &str) -> Option<String> {
        self.with(|s| s.lookup(acct).map(|id| id.to_string()))
    }

    /// Revokes a token: from now on it gets 401 (`replies.revoked` says which message).
    /// False when no token has that value.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.with(|s| s.revoke_token(token))
    }

    /// Re-enables a revoked token with its counts restarted, as if the user had issued a new
    /// one with the same value.
    pub fn restore_token(&self, token: &str) -> bool {
        self.with(|s| s.restore_token(token))
    }
}

/// The name of the Mastodon emulator's one server in [`Running`].
pub const SERVER: &str = "api";

/// Binds `127.0.0.1:0` and serves `emulator` on the current runtime.
pub async fn spawn(emulator: Emulator) -> std::io::Result<Running> {
    crate::emulator::start::spawn(emulator).await
}
