//! What a network's answer says, sorted for the pipeline: the types every network client
//! produces and the pacer, the retry loop and the executor read.
//!
//! A [`Reply`] carries a [`Verdict`] (how the request ended), the [`RateInfo`] the server
//! announced and its clock reading. Keeping them apart from the network trait lets the pacer
//! and the retry loop depend on what an answer says without depending on any network.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

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
    /// The blocked accounts' IDs on this page (strings: Bluesky DIDs and Mastodon IDs are not
    /// numbers, and X's exceed what JSON numbers hold exactly).
    pub ids: Vec<String>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<String>,
    /// Names the page gave with the IDs (X v2 pages do, v1.1 pages do not), so an export with
    /// names need not look them up again.
    pub names: HashMap<String, String>,
}
