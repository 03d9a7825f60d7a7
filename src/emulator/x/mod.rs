//! An emulator of the part of the X/Twitter API that bulk-unblock uses, served over real HTTP
//! on loopback.
//!
//! It is an independent model of the server, written from the API reference rather than from
//! the client: it verifies OAuth 1.0a signatures itself, keeps per-account blocked sets, counts
//! fixed rate windows per token and endpoint, and can inject the faults a long run meets
//! (latency, 503/500, a response lost after the action happened, stalls, revoked tokens). Tests
//! drive the real binary against it and then assert on what it received and what it holds.
//!
//! Layout: [`seed`] (starting data), [`config`] (knobs), [`route`] (which endpoint),
//! [`oauth`] (verifier), `pipeline` (the per-request steps), `v1` and `v2` (endpoints),
//! `admin` (views), `server` (HTTP glue).

mod admin;
pub mod config;
mod cursor;
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

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use admin::{AccountView, StateView};
pub use config::{
    AuthConfig, Config, EndpointLimit, Faults, HeaderMode, Limits, NotBlockedReply, Replies,
    SuspendedReply,
};
pub use route::Endpoint;
pub use seed::{AccessLevel, Seed, SeedAccount, SeedApp, SeedError, SeedUser, UserState};
pub use state::{FaultKind, LoggedRequest, Stats};

/// A running emulated network. Cheap to clone: clones share the state.
#[derive(Clone)]
pub struct Emulator {
    /// The one lock around all state. Held only for short synchronous steps, never across an
    /// await, so request handling never blocks the runtime for long.
    shared: Arc<Mutex<state::State>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the state: it holds secrets.
        f.debug_struct("Emulator").finish_non_exhaustive()
    }
}

impl Emulator {
    /// Builds an emulator, checking the seed's references.
    pub fn new(seed: Seed, config: Config) -> Result<Emulator, SeedError> {
        Ok(Emulator {
            shared: Arc::new(Mutex::new(state::State::new(seed, config)?)),
        })
    }

    /// Runs `f` under the state lock. A panic elsewhere never makes the state unreadable: the
    /// steps leave it consistent between lock acquisitions.
    fn with<R>(&self, f: impl FnOnce(&mut state::State) -> R) -> R {
        let mut guard = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// The axum router serving the emulated API and the admin views.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// Changes knobs at runtime; the next request sees them.
    pub fn update_config(&self, f: impl FnOnce(&mut Config)) {
        self.with(|s| {
            f(&mut s.config);
            s.config_changed();
        });
    }

    /// The current knobs.
    pub fn config(&self) -> Config {
        self.with(|s| s.config.clone())
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.with(|s| s.log.clone())
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.with(|s| s.stats())
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

    /// The admin state view (accounts, blocked sets, user count, counters).
    pub fn state_view(&self) -> StateView {
        admin::state_view(self)
    }
}

/// Serves the emulator on `listener` until `shutdown` resolves (then finishes open requests).
pub async fn serve(
    listener: TcpListener,
    emulator: Emulator,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, emulator.router())
        .with_graceful_shutdown(shutdown)
        .await
}

/// An emulator served on `127.0.0.1` by a background task; dropping it stops the server.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The emulator, for assertions and runtime changes.
    pub emulator: Emulator,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets open requests finish, and waits for the server task.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Abort rather than wait: a stalled request must not keep a test's port alive.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Binds `127.0.0.1:0` and serves `emulator` on the current runtime.
pub async fn spawn(emulator: Emulator) -> std::io::Result<Running> {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, emulator.clone(), async move {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        emulator,
        shutdown: Some(tx),
        task: Some(task),
    })
}
