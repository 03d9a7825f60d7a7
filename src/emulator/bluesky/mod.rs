//! An emulator of the part of Bluesky's API (the AT Protocol's XRPC) that a bulk unblocker
//! uses, served over real HTTP on loopback: an entryway where clients log in and a PDS where
//! the repo lives, on two ports, so a client that keeps writing to the host it logged in at
//! instead of the PDS its session names is caught.
//!
//! It is an independent model of the server, written from the API reference and checked
//! against the reference PDS, never from the client: it signs and verifies its own session
//! tokens, keeps every repo's records under TID keys (duplicates of a subject included),
//! applies batches atomically, charges the PDS's rate limiters (write points per account, the
//! per-IP limit, `createSession`'s own) with their headers, and can inject what a long run
//! meets: server errors, answers lost after the write happened, stalls, records deleted
//! behind the client's back, app passwords revoked mid-run. Tests drive real clients against
//! it and then assert on what it received and what it holds.
//!
//! It is built on the network-neutral core in [`crate::emulator`]. Layout: [`seed`] (the
//! starting world), [`config`] (knobs), [`route`] (which method), `syntax` and `digest`
//! (identifiers, TIDs, hashes), `jwt` (tokens), `session` (logging in and the bearer checks),
//! `repo` (records), `appview` (handles and profiles), `ratelimit` (the limiters), `pipeline`
//! (the per-request steps), `xrpc` (the wire), `server` (HTTP glue), `admin` (its views and
//! actions), [`cli`] (its side of `bulk-unblock emulator`).

mod admin;
mod appview;
pub mod cli;
pub mod config;
pub mod demo;
mod digest;
mod jwt;
mod pipeline;
mod ratelimit;
mod repo;
pub mod route;
pub mod seed;
mod server;
mod session;
mod state;
pub mod syntax;
mod xrpc;

#[cfg(test)]
mod tests;

use axum::Router;
use serde::{Deserialize, Serialize};

pub use admin::{AccountView, CredentialView, StateView};
pub use config::{
    AppView, AppViewState, Budget, Config, EntrywayWrites, Hosts, Identity, Limits, PdsHost,
    Replies, Sessions, Stale,
};
pub use route::Endpoint;
pub use seed::{Seed, SeedAccount, SeedAppPassword, SeedError, SeedRecord, SeedUser, UserState};
pub use state::RecordView;

/// The collection of blocks.
pub const BLOCK: &str = "app.bsky.graph.block";
/// The collection of moderation-list subscriptions (a block of every member of a list).
pub const LISTBLOCK: &str = "app.bsky.graph.listblock";
/// The collection of lists.
pub const LIST: &str = "app.bsky.graph.list";
/// The collection of follows.
pub const FOLLOW: &str = "app.bsky.graph.follow";

/// The name of the entryway server in [`Running`].
pub const ENTRYWAY: &str = "entryway";
/// The name of the PDS server in [`Running`].
pub const PDS: &str = "pds";

/// Which host a request reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Host {
    /// Where clients log in (`bsky.social`): the login host printed at start.
    Entryway,
    /// Where the account's repo lives, as the session's didDoc names it.
    Pds,
}

impl Host {
    /// The server's name in [`Running`]: [`ENTRYWAY`] or [`PDS`].
    pub fn name(self) -> &'static str {
        match self {
            Host::Entryway => ENTRYWAY,
            Host::Pds => PDS,
        }
    }
}

/// One request as the Bluesky emulator saw it.
pub type LoggedRequest = crate::emulator::log::LoggedRequest<Endpoint>;

/// A Bluesky emulator served on loopback (servers [`ENTRYWAY`] and [`PDS`]); dropping it stops
/// both.
pub type Running = crate::emulator::serve::Running<Emulator>;

/// A running emulated Bluesky: the core's [`Handle`](crate::emulator::Handle) on its state
/// (knobs, request log, counters, state view) with Bluesky's own methods. Cheap to clone:
/// clones share the state.
pub type Emulator = crate::emulator::Handle<state::State>;

impl Emulator {
    /// The axum router of one host (the emulated API and the admin views).
    pub fn router(&self, host: Host) -> Router {
        server::router(self.clone(), host)
    }

    /// Tells the emulator the PDS's port, which the sessions' didDoc names ([`spawn`] does).
    pub fn set_pds_port(&self, port: u16) {
        self.with(|s| s.pds_port = Some(port));
    }

    /// The URL sessions name the PDS by (`hosts.pds_host`), once it listens.
    pub fn pds_url(&self) -> Option<String> {
        self.with(|s| s.pds_url())
    }

    /// The requests that reached one host, in arrival order.
    pub fn requests_at(&self, host: Host) -> Vec<LoggedRequest> {
        self.with(|s| {
            s.log
                .entries()
                .iter()
                .zip(&s.hosts)
                .filter(|(_, h)| **h == host)
                .map(|(r, _)| r.clone())
                .collect()
        })
    }

    /// The host a logged request reached.
    pub fn host_of(&self, seq: u64) -> Option<Host> {
        self.with(|s| {
            usize::try_from(seq)
                .ok()
                .and_then(|i| s.hosts.get(i).copied())
        })
    }

    /// The subjects of an account's block records, one per record (duplicates kept), oldest
    /// key first; empty for an unknown repo.
    pub fn blocks_of(&self, did: &str) -> Vec<String> {
        self.records(did, BLOCK)
            .into_iter()
            .filter_map(|r| r.value.get("subject")?.as_str().map(str::to_owned))
            .collect()
    }

    /// A repo's records of a collection, in key order (oldest TID first).
    pub fn records(&self, did: &str, collection: &str) -> Vec<RecordView> {
        self.with(|s| s.records(did, collection))
    }

    /// Replaces an account's block records with one fresh record per subject, in order.
    /// DIDs without a user get a synthesized active one (handle `u-` and the end of the DID, under `.bsky.test`), so a test
    /// can block 12,000 made-up DIDs without listing users.
    pub fn set_blocks(&self, did: &str, subjects: impl IntoIterator<Item = String>) {
        self.with(|s| s.set_blocks(did, subjects));
    }

    /// Deletes `count` records of a collection behind the client's back, spread over the
    /// collection's key order; returns their keys.
    pub fn delete_records_behind(&self, did: &str, collection: &str, count: usize) -> Vec<String> {
        self.with(|s| s.delete_behind(did, collection, count))
    }

    /// Revokes an account's app password by name (all of them with `None`), as the user would
    /// in the settings: logging in with it fails, refreshing its sessions answers "Token has
    /// been revoked", and their access tokens keep working until they expire. Returns how many
    /// were revoked.
    pub fn revoke_app_password(&self, did: &str, name: Option<&str>) -> usize {
        self.with(|s| s.revoke_app_passwords(did, name))
    }

    /// Adds users, or replaces those with the same DID (e.g. to deactivate someone mid-test).
    pub fn add_users(&self, users: impl IntoIterator<Item = SeedUser>) {
        self.with(|s| s.add_users(users));
    }
}

/// Binds two ports on `127.0.0.1` (the entryway, then the PDS) and serves `emulator` on the
/// current runtime.
pub async fn spawn(emulator: Emulator) -> std::io::Result<Running> {
    crate::emulator::start::spawn(emulator).await
}
