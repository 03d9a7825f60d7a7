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

/// Which of a server's limiters a window describes, by its length: the short window of an
/// endpoint (X's 15 minutes, Bluesky's per-IP 5 minutes, Mastodon's 5 minutes), an hourly
/// budget (Bluesky's write points), a daily cap (X's 24-hour caps, Bluesky's daily points).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Span {
    /// Minutes.
    Short,
    /// An hour.
    Hour,
    /// A day.
    Day,
}

impl Span {
    /// Every span, shortest first (indexes of per-span tables).
    pub const ALL: [Span; 3] = [Span::Short, Span::Hour, Span::Day];

    /// The index of this span in [`Span::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What a window counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Requests, one each.
    #[default]
    Requests,
    /// Points: each request charges its cost (a Bluesky batch of 200 deletes spends 200).
    Cost,
}

/// One rate-limit window as announced by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateWindow {
    /// What it counts.
    pub unit: Unit,
    /// What the window admits in all, when announced.
    pub limit: Option<u64>,
    /// What is left in the window.
    pub remaining: u64,
    /// When the window resets, in the server's clock.
    pub reset: SystemTime,
}

/// Every rate-limit window a response announced, by span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateInfo {
    windows: [Option<RateWindow>; 3],
}

impl RateInfo {
    /// The window of `span`, when announced.
    pub fn get(&self, span: Span) -> Option<RateWindow> {
        self.windows[span.index()]
    }

    /// Sets (or clears) the window of `span`.
    pub fn set(&mut self, span: Span, window: Option<RateWindow>) {
        self.windows[span.index()] = window;
    }

    /// The same info with the window of `span` set.
    pub fn with(mut self, span: Span, window: Option<RateWindow>) -> RateInfo {
        self.set(span, window);
        self
    }

    /// Every announced window with its span, shortest first.
    pub fn iter(&self) -> impl Iterator<Item = (Span, RateWindow)> + '_ {
        Span::ALL
            .into_iter()
            .filter_map(|span| self.get(span).map(|w| (span, w)))
    }

    /// Whether no window was announced.
    pub fn is_empty(&self) -> bool {
        self.windows.iter().all(Option::is_none)
    }
}

/// How acting ended for one target: a terminal outcome, or `failed` with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// The outcome to record.
    pub outcome: Outcome,
    /// The user as the server described it.
    pub user: UserRef,
    /// The API's error code, if any.
    pub error_code: Option<ErrorCode>,
    /// The API's error message, if any.
    pub message: Option<String>,
}

impl Settled {
    /// `outcome`, with nothing more known.
    pub fn bare(outcome: Outcome) -> Settled {
        Settled {
            outcome,
            user: UserRef::default(),
            error_code: None,
            message: None,
        }
    }
}

/// What an action request answered: one [`Settled`] per target it covered, in their order,
/// or why it must be sent again (or not at all).
pub type Acted = Result<Vec<Settled>, Verdict>;

/// Why a request did not give what it asked, sorted for the retry loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The request ended for good without an answer that can be used (a 404 on the credentials
    /// check, an unreadable body): sending it again would not help.
    Final {
        /// The API's error code, if any.
        error_code: Option<ErrorCode>,
        /// What went wrong.
        message: String,
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
    /// A request covering several targets failed as a whole in a way one of them may cause
    /// (a Bluesky batch holding a record deleted since it was listed): send them one by one.
    Split {
        /// What the server answered.
        message: String,
    },
    /// One step of the action is done and another request is needed for the rest (a target
    /// whose records are deleted one request each): send again, paying the pace.
    Progress {
        /// What the next request costs.
        next_cost: u32,
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

/// A reset or a wait further away than this is garbage, not a window: the longest any network
/// announces is a day, and some slack. Headers are read by it and waits capped at it.
pub const MAX_RESET_AHEAD: Duration = Duration::from_secs(25 * 3600);

impl Verdict {
    /// A fault that may pass, without an error code.
    pub fn transient(message: impl Into<String>) -> Verdict {
        Verdict::Transient {
            error_code: None,
            message: message.into(),
        }
    }

    /// An answer the client could not read (a proxy's page, a cut body): worth sending again.
    pub fn unexpected(what: impl std::fmt::Display) -> Verdict {
        Verdict::transient(format!("unexpected answer from the server: {what}"))
    }

    /// An answer to the credentials check the client could not read: sending it again would
    /// not help, so the run stops with it.
    pub fn unexpected_final(what: impl std::fmt::Display) -> Verdict {
        Verdict::Final {
            error_code: None,
            message: format!("unexpected answer from the server: {what}"),
        }
    }

    /// A request the client cannot make: what it needs was not learnt before the run.
    pub fn not_ready(what: &str) -> Verdict {
        Verdict::Final {
            error_code: None,
            message: format!("{what} was not learnt before the run"),
        }
    }
}

/// One response (or transport failure), sorted: `V` is [`Acted`] for actions and
/// `Result<T, Verdict>` for reads that return data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply<V> {
    /// How the request ended.
    pub verdict: V,
    /// The HTTP status, when a response arrived.
    pub http_status: Option<u16>,
    /// The rate-limit state the response announced.
    pub rate: RateInfo,
    /// The server's `Date`, when sent: the reference for resets and OAuth timestamps.
    pub server_date: Option<SystemTime>,
}

impl<T> Reply<Result<T, Verdict>> {
    /// A request that got no answer (a timeout, a refused or lost connection): a fault that may
    /// pass, with nothing learnt of the server.
    pub fn no_answer(message: String) -> Reply<Result<T, Verdict>> {
        Reply::bare(Err(Verdict::Transient {
            error_code: None,
            message,
        }))
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

impl<T> Signal for Result<T, Verdict> {
    fn rate_limited(&self) -> Option<Option<Duration>> {
        match self {
            Err(Verdict::RateLimited { retry_after }) => Some(*retry_after),
            _ => None,
        }
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
