//! The network seam: everything that differs between networks sits behind [`Network`].
//!
//! How a target is named and resolved, auth and signing, endpoints, how a response maps to an
//! outcome and which rate-limit headers a server speaks are the client's business. The pipeline,
//! journal, pacing and display only see the network-neutral types here: a [`Reply`] carrying a
//! [`Verdict`], the [`RateInfo`] the server announced, and the server's clock reading.

pub mod x;

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::outcome::{Action, Outcome};
use crate::target::Target;

/// An API's error code, as the network gives it: X's numbers (`50`), Bluesky's names
/// (`ExpiredToken`). The journal writes it as it came, a number or a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorCode {
    /// A numeric code.
    Number(i64),
    /// A named code.
    Name(String),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorCode::Number(n) => write!(f, "{n}"),
            ErrorCode::Name(name) => f.write_str(name),
        }
    }
}

impl From<i64> for ErrorCode {
    fn from(n: i64) -> ErrorCode {
        ErrorCode::Number(n)
    }
}

/// The account the credentials act for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The account's user ID, as the network spells it.
    pub user_id: String,
    /// The account's screen name or handle, when the network returned one.
    pub screen_name: Option<String>,
}

/// What the response told about the user acted on (to index the journal under both names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserRef {
    /// The user's ID.
    pub user_id: Option<String>,
    /// The user's screen name.
    pub screen_name: Option<String>,
}

/// One rate-limit window as announced by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateWindow {
    /// Requests the window admits in all, when announced.
    pub limit: Option<u64>,
    /// Requests left in the window.
    pub remaining: u64,
    /// When the window resets, in the server's clock.
    pub reset: SystemTime,
}

/// Every rate-limit window a response announced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateInfo {
    /// The short (15-minute) window of the endpoint.
    pub window: Option<RateWindow>,
    /// A 24-hour cap (user or app), when the server sends one. The tighter one is kept.
    pub day: Option<RateWindow>,
}

/// How one request ended, sorted for the executor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The target is finished for this run: a terminal outcome, or `failed` with the reason.
    Done {
        /// The outcome to record.
        outcome: Outcome,
        /// The user as the server described it.
        user: UserRef,
        /// The API's error code, if any.
        error_code: Option<ErrorCode>,
        /// The API's error message, if any.
        message: Option<String>,
    },
    /// Rate limited (429): not the target's fault; wait and send again.
    RateLimited {
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// A fault that may pass (5xx, over capacity, timeout, connection lost): back off and retry.
    Transient {
        /// The API's error code, if any.
        error_code: Option<ErrorCode>,
        /// What went wrong.
        message: String,
    },
    /// The client has just repaired what made the server refuse the request (it corrected its
    /// clock from the server's `Date`, or renewed its session): send it again at once. Bounded
    /// by the retry loop, so a server that keeps refusing ends the request with `message`.
    Resend {
        /// The API's error code, if any.
        error_code: Option<ErrorCode>,
        /// What was refused, in words that say what to check (the clock, the session).
        message: String,
    },
    /// The credentials were rejected: no further request can succeed, so the run stops.
    Rejected {
        /// The API's error code, if any.
        error_code: Option<ErrorCode>,
        /// The API's error message.
        message: String,
        /// What the user should do about it.
        hint: &'static str,
    },
}

/// One response (or transport failure), sorted. `V` is a [`Verdict`] for actions, and
/// `Result<T, Verdict>` for reads that return data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply<V = Verdict> {
    /// How the request ended.
    pub verdict: V,
    /// The HTTP status, when a response arrived.
    pub http_status: Option<u16>,
    /// The rate-limit state the response announced.
    pub rate: RateInfo,
    /// The server's `Date`, when sent: the reference for resets and OAuth timestamps.
    pub server_date: Option<SystemTime>,
}

impl Reply {
    /// A request that got no answer (a timeout, a refused or lost connection): a fault that may
    /// pass, with nothing learnt of the server.
    pub fn no_answer(message: String) -> Reply {
        Reply::bare(Verdict::Transient {
            error_code: None,
            message,
        })
    }
}

impl<V> Reply<V> {
    /// A verdict that carries nothing of the server: no status, no rate-limit state, no `Date`.
    pub fn bare(verdict: V) -> Reply<V> {
        Reply {
            verdict,
            http_status: None,
            rate: RateInfo::default(),
            server_date: None,
        }
    }

    /// The same reply with its verdict changed by `f`.
    pub fn map<W>(self, f: impl FnOnce(V) -> W) -> Reply<W> {
        Reply {
            verdict: f(self.verdict),
            http_status: self.http_status,
            rate: self.rate,
            server_date: self.server_date,
        }
    }
}

/// What the pacer needs to know of how a request ended.
pub trait Signal {
    /// `Some(retry_after)` when the answer was a 429.
    fn rate_limited(&self) -> Option<Option<Duration>>;
    /// Whether the request did what it asked.
    fn is_success(&self) -> bool;
}

impl Signal for Verdict {
    fn rate_limited(&self) -> Option<Option<Duration>> {
        match self {
            Verdict::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    fn is_success(&self) -> bool {
        matches!(self, Verdict::Done { outcome, .. } if *outcome != Outcome::Failed)
    }
}

impl<T> Signal for Result<T, Verdict> {
    fn rate_limited(&self) -> Option<Option<Duration>> {
        self.as_ref().err().and_then(Signal::rate_limited)
    }

    fn is_success(&self) -> bool {
        self.is_ok()
    }
}

/// One page of the account's block list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockPage {
    /// The blocked users' IDs on this page.
    pub ids: Vec<u64>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<String>,
    /// Screen names the page gave with the IDs (v2 pages do, v1.1 pages do not), so an export
    /// with names need not look them up again.
    pub names: HashMap<u64, String>,
}

/// A network the pipeline can act on.
pub trait Network: Send + Sync + 'static {
    /// Checks the credentials and returns the account they act for. A rejection is
    /// [`Verdict::Rejected`]; faults and 429s are sent again by the retry loop like any read.
    fn verify(&self) -> impl Future<Output = Reply<Result<Account, Verdict>>> + Send;

    /// Performs `action` on `target` once, and sorts the result.
    fn act(&self, action: Action, target: &Target) -> impl Future<Output = Reply> + Send;

    /// Fetches one page of the account's block list (`cursor` `None`: the first page).
    fn blocked_page(
        &self,
        cursor: Option<&str>,
    ) -> impl Future<Output = Reply<Result<BlockPage, Verdict>>> + Send;

    /// Looks users up by ID or screen name, at most [`Network::LOOKUP_BATCH`] at once. Unknown,
    /// suspended and deactivated users are left out of the answer.
    fn lookup(
        &self,
        targets: &[Target],
    ) -> impl Future<Output = Reply<Result<Vec<UserRef>, Verdict>>> + Send;

    /// Users per lookup request.
    const LOOKUP_BATCH: usize;

    /// Whether acting on a screen name needs the user's ID first (v2 names users by ID only).
    /// The run then resolves the screen names it will act on through [`Network::lookup`] before
    /// the first action, [`Network::LOOKUP_BATCH`] a request and paced like every other read; the
    /// client keeps what those lookups told (found, unknown, suspended), so that [`Network::act`]
    /// on a name sends no lookup of its own.
    fn acts_by_id(&self) -> bool {
        false
    }

    /// How acting on `target` would end, when the client knows it without sending anything
    /// (a name an earlier lookup found gone): the pipeline then records it at once, without
    /// waiting for a slot of the action's pace. Only [`Verdict::Done`] is meaningful here.
    fn settled(&self, _target: &Target) -> Option<Verdict> {
        None
    }
}

/// Which API a command talks to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    /// X API v1.1 (`blocks/destroy.json`, `blocks/ids.json`, …).
    #[default]
    #[value(name = "v1.1")]
    V1,
    /// X API v2 (`DELETE /2/users/{me}/blocking/{id}`, …).
    #[value(name = "v2")]
    V2,
}

/// The network clients this build knows, behind one type so commands stay generic.
pub enum Client {
    /// X API v1.1.
    XV1(x::XClient),
    /// X API v2.
    XV2(x::v2::XV2Client),
}

impl Client {
    /// Builds the client for `api`. No request is sent.
    pub fn new(
        api: Api,
        settings: x::XSettings,
        clock: std::sync::Arc<crate::clock::ServerClock>,
    ) -> Result<Client, x::BaseUrlError> {
        match api {
            Api::V1 => Ok(Client::XV1(x::XClient::new(settings, clock)?)),
            Api::V2 => Ok(Client::XV2(x::v2::XV2Client::new(settings, clock)?)),
        }
    }

    /// The base URL requests go to.
    pub fn base(&self) -> &str {
        match self {
            Client::XV1(c) => c.base(),
            Client::XV2(c) => c.base(),
        }
    }
}

impl Network for Client {
    const LOOKUP_BATCH: usize = 100;

    async fn verify(&self) -> Reply<Result<Account, Verdict>> {
        match self {
            Client::XV1(c) => c.verify().await,
            Client::XV2(c) => c.verify().await,
        }
    }

    async fn act(&self, action: Action, target: &Target) -> Reply {
        match self {
            Client::XV1(c) => c.act(action, target).await,
            Client::XV2(c) => c.act(action, target).await,
        }
    }

    async fn blocked_page(&self, cursor: Option<&str>) -> Reply<Result<BlockPage, Verdict>> {
        match self {
            Client::XV1(c) => c.blocked_page(cursor).await,
            Client::XV2(c) => c.blocked_page(cursor).await,
        }
    }

    async fn lookup(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        match self {
            Client::XV1(c) => c.lookup(targets).await,
            Client::XV2(c) => c.lookup(targets).await,
        }
    }

    fn acts_by_id(&self) -> bool {
        match self {
            Client::XV1(c) => c.acts_by_id(),
            Client::XV2(c) => c.acts_by_id(),
        }
    }

    fn settled(&self, target: &Target) -> Option<Verdict> {
        match self {
            Client::XV1(c) => c.settled(target),
            Client::XV2(c) => c.settled(target),
        }
    }
}
