//! What a network's state gives the core, and the one handle every emulator is.
//!
//! Each network keeps its whole state in one struct (its users, credentials and windows, and
//! the parts every network has: the knobs, the request log and the fault dice). By
//! implementing [`NetworkState`] on that struct, a network gets the handle [`Handle`]: the
//! state behind the core's [`Store`], with what every emulator offers its tests and its admin
//! routes (the knobs, changed at runtime; the request log; the counters; the state view). The
//! network adds its own methods to its handle (`impl Handle<State> { … }` through its
//! `Emulator` alias).
//!
//! The network also says what each step of a request means on its wire ([`Steps`]), and the
//! handle runs the steps: one loop for every network, sleeping between the steps outside the
//! lock.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::clock::clock_ms;
use super::config::Knobs;
use super::faults::{FaultDice, FaultKind};
use super::log::{EndpointKind, Finished, LoggedRequest, RequestLog, Stats};
use super::store::Store;

/// A network's whole state, as the core reaches into it.
pub trait NetworkState: Sized + Send + 'static {
    /// The network's endpoints, as its request log names them.
    type Endpoint: EndpointKind + Serialize;
    /// Its knobs, as a scenario file spells them.
    type Config: Knobs;
    /// Its starting data.
    type Seed;
    /// What is wrong with a seed.
    type SeedError: std::error::Error + Send + Sync + 'static;
    /// The body of `GET /admin/state`: accounts, counts and counters, never a credential.
    type StateView: Serialize + Send;

    /// Builds the state from a seed, checking every reference in it.
    fn build(seed: Self::Seed, config: Self::Config) -> Result<Self, Self::SeedError>;

    /// The knobs.
    fn config(&self) -> &Self::Config;

    /// The request log and the counters.
    fn log(&self) -> &RequestLog<Self::Endpoint>;

    /// The knobs, the log and the dice, borrowed together.
    fn common(&mut self) -> Common<'_, Self>;

    /// The state view.
    fn view(&self) -> Self::StateView;

    /// The emulator's clock now.
    fn now_ms(&self) -> i64 {
        clock_ms(self.config().clock_offset_secs())
    }

    /// A snapshot of the counters.
    fn stats(&self) -> Stats {
        self.log().stats()
    }

    /// Reseeds the fault dice when the configured seed changed.
    fn config_changed(&mut self) {
        let common = self.common();
        common.dice.reseed_if_changed(common.config.faults().seed);
    }

    /// Logs an arrival (its parameters already stripped of credentials) and draws the latency
    /// to apply before answering; returns its sequence number and the latency.
    fn log_arrival(
        &mut self,
        method: &str,
        path: &str,
        endpoint: Self::Endpoint,
        params: BTreeMap<String, String>,
    ) -> (u64, Duration) {
        let now_ms = self.now_ms();
        let common = self.common();
        let seq = common.log.arrive(now_ms, method, path, endpoint, params);
        let delay = common.dice.latency(common.config.faults());
        (seq, delay)
    }

    /// Draws the fault of an admitted request when the faults apply to it, and logs it at once
    /// with the account it struck (so a stall whose client gave up still shows why).
    fn draw_fault(
        &mut self,
        seq: u64,
        applies: bool,
        account: impl FnOnce() -> Option<String>,
    ) -> Option<FaultKind> {
        if !applies {
            return None;
        }
        let common = self.common();
        let fault = common.dice.draw(common.config.faults());
        if let Some(kind) = fault {
            common.log.note_fault(seq, kind, account());
        }
        fault
    }
}

/// The steps every emulated request goes through, each one a short critical section:
/// arrive (log it, draw the latency) → admit (the network's checks, its rate limits, the fault
/// draw) → act (run the endpoint, or fail as the fault says) → finish (log the answer).
///
/// The core runs them (`Handle::serve_request`), taking the lock once a step and sleeping
/// between the steps (the latency before admit, a stall or the like before act), so the lock
/// is never held across a sleep.
pub trait Steps: NetworkState {
    /// A request as the network reads it.
    type Incoming: Sync;
    /// A request that passed admission.
    type Ticket: Send;
    /// A finished request, ready to log and answer.
    type Done;

    /// Logs the arrival and draws the latency to apply before admission.
    fn arrive(&mut self, req: &Self::Incoming) -> (u64, Duration);

    /// The network's checks, its rate limits and the fault draw; `Err` is the refusal.
    fn admit(&mut self, seq: u64, req: &Self::Incoming) -> Result<Self::Ticket, Self::Done>;

    /// How long an admitted request waits before acting (a stall fault, a login delay), if
    /// at all.
    fn wait(ticket: &Self::Ticket) -> Option<Duration>;

    /// Runs the endpoint (unless the fault says the server failed first).
    fn act(&mut self, req: &Self::Incoming, ticket: Self::Ticket) -> Self::Done;

    /// How the request ended, for its log entry and the counters.
    fn finished(done: &Self::Done) -> Finished;
}

/// The parts every network's state holds, borrowed together.
pub struct Common<'a, S: NetworkState> {
    /// The knobs.
    pub config: &'a mut S::Config,
    /// The request log and the counters.
    pub log: &'a mut RequestLog<S::Endpoint>,
    /// The fault RNG.
    pub dice: &'a mut FaultDice,
}

/// Implements [`NetworkState`] for a network's state with the fields `config`, `log` and
/// `dice`, built by its `new(seed, config)`, its view made by the function after `view`:
///
/// ```ignore
/// network_state!(State {
///     endpoint: Endpoint,
///     config: Config,
///     seed: Seed,
///     seed_error: SeedError,
///     view: StateView = super::admin::state_view,
/// });
/// ```
macro_rules! network_state {
    ($state:ty {
        endpoint: $endpoint:ty,
        config: $config:ty,
        seed: $seed:ty,
        seed_error: $seed_error:ty,
        view: $view:ty = $view_fn:path $(,)?
    }) => {
        impl $crate::emulator::network::NetworkState for $state {
            type Endpoint = $endpoint;
            type Config = $config;
            type Seed = $seed;
            type SeedError = $seed_error;
            type StateView = $view;

            fn build(seed: $seed, config: $config) -> Result<$state, $seed_error> {
                <$state>::new(seed, config)
            }

            fn config(&self) -> &$config {
                &self.config
            }

            fn log(&self) -> &$crate::emulator::log::RequestLog<$endpoint> {
                &self.log
            }

            fn common(&mut self) -> $crate::emulator::network::Common<'_, $state> {
                $crate::emulator::network::Common {
                    config: &mut self.config,
                    log: &mut self.log,
                    dice: &mut self.dice,
                }
            }

            fn view(&self) -> $view {
                $view_fn(self)
            }
        }
    };
}
pub(crate) use network_state;

/// A running emulated network: its state behind the core's one lock. Cheap to clone: clones
/// share the state. Each network names its own (`x::Emulator`, `bluesky::Emulator`,
/// `mastodon::Emulator`) and adds its methods to it.
pub struct Handle<S> {
    /// The state, behind the core's one lock.
    store: Store<S>,
}

impl<S> Clone for Handle<S> {
    fn clone(&self) -> Handle<S> {
        Handle {
            store: self.store.clone(),
        }
    }
}

impl<S> std::fmt::Debug for Handle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The store never prints the state: it holds credentials.
        f.debug_struct("Emulator")
            .field("store", &self.store)
            .finish()
    }
}

impl<S: NetworkState> Handle<S> {
    /// Builds an emulator, checking the seed's references.
    pub fn new(seed: S::Seed, config: S::Config) -> Result<Handle<S>, S::SeedError> {
        Ok(Handle {
            store: Store::new(S::build(seed, config)?),
        })
    }

    /// Runs `f` under the state lock (short and synchronous: never across an await).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        self.store.with(f)
    }

    /// Changes knobs at runtime; the next request sees them.
    pub fn update_config(&self, f: impl FnOnce(&mut S::Config)) {
        self.with(|s| {
            f(s.common().config);
            s.config_changed();
        });
    }

    /// The current knobs.
    pub fn config(&self) -> S::Config {
        self.with(|s| s.config().clone())
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest<S::Endpoint>> {
        self.with(|s| s.log().entries().to_vec())
    }

    /// The requests that resolved to `endpoint`, in arrival order.
    pub fn requests_to(&self, endpoint: S::Endpoint) -> Vec<LoggedRequest<S::Endpoint>> {
        self.with(|s| {
            s.log()
                .entries()
                .iter()
                .filter(|r| r.endpoint == endpoint)
                .cloned()
                .collect()
        })
    }

    /// The requests from sequence number `seq` on.
    pub fn requests_since(&self, seq: u64) -> Vec<LoggedRequest<S::Endpoint>> {
        self.with(|s| s.log().since(seq).to_vec())
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.with(|s| s.stats())
    }

    /// The admin state view (`GET /admin/state`).
    pub fn state_view(&self) -> S::StateView {
        self.with(|s| s.view())
    }
}

impl<S: Steps> Handle<S> {
    /// Runs a request through the steps and returns how it finished and the emulator clock
    /// then (for the `Date` header). If the client goes away during a sleep this future is
    /// dropped: the log entry keeps status 0 and nothing is acted on.
    pub(crate) async fn serve_request(&self, req: &S::Incoming) -> (S::Done, i64) {
        let (seq, delay) = self.with(|s| s.arrive(req));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let done = match self.with(|s| s.admit(seq, req)) {
            Err(done) => done,
            Ok(ticket) => {
                if let Some(wait) = S::wait(&ticket) {
                    tokio::time::sleep(wait).await;
                }
                self.with(|s| s.act(req, ticket))
            }
        };
        let now_ms = self.with(|s| {
            s.common().log.finish(seq, S::finished(&done));
            s.now_ms()
        });
        (done, now_ms)
    }
}
