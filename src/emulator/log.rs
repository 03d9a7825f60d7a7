//! The request log and the counters: what the emulator received and what it answered.
//!
//! Tests assert on what the server saw, not only on what the client printed, so every request
//! is logged when it arrives (before any sleep, so a request whose client gave up still shows)
//! and completed when it is answered. The record is the same for every network; only the
//! endpoint type differs, and the account is a string because Bluesky DIDs and Mastodon IDs
//! are.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::faults::FaultKind;

/// A network's endpoints: one enum names them all, so that rate windows, statistics and the
/// request log key on the same thing.
pub trait EndpointKind: Copy + Eq + fmt::Debug + Send + Sync + 'static {
    /// Every endpoint, in [`EndpointKind::index`] order.
    const ALL: &'static [Self];

    /// The position of this endpoint in [`EndpointKind::ALL`] (indexes per-endpoint arrays).
    fn index(self) -> usize;

    /// A short stable name, used in the statistics and in knobs that name endpoints.
    fn name(self) -> &'static str;

    /// The endpoint with this [`EndpointKind::name`].
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.name() == name)
    }
}

/// Implements [`EndpointKind`] for a network's endpoint enum from its own `ALL` array and
/// `name`: an endpoint's index is its place in the enum, which `ALL` lists in order.
macro_rules! endpoint_kind {
    ($endpoint:ty) => {
        impl $crate::emulator::log::EndpointKind for $endpoint {
            const ALL: &'static [$endpoint] = &<$endpoint>::ALL;

            fn index(self) -> usize {
                self as usize
            }

            fn name(self) -> &'static str {
                <$endpoint>::name(self)
            }
        }
    };
}
pub(crate) use endpoint_kind;

/// A network's error code, as its error bodies carry it: some networks number their errors,
/// others name them (`RateLimitExceeded`). Written as a bare JSON number or string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorCode {
    /// A numeric code (`{"errors":[{"code":88,…}]}`).
    Number(u32),
    /// A named code (`{"error":"RateLimitExceeded",…}`).
    Text(String),
}

impl From<u32> for ErrorCode {
    fn from(code: u32) -> ErrorCode {
        ErrorCode::Number(code)
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> ErrorCode {
        ErrorCode::Text(code.to_owned())
    }
}

impl ErrorCode {
    /// The code when it is a number.
    pub fn number(&self) -> Option<u32> {
        match self {
            ErrorCode::Number(n) => Some(*n),
            ErrorCode::Text(_) => None,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Number(n) => write!(f, "{n}"),
            ErrorCode::Text(t) => f.write_str(t),
        }
    }
}

/// One request as the emulator saw it, for tests and `GET /admin/requests`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest<E> {
    /// Arrival order, from 0.
    pub seq: u64,
    /// Arrival time, epoch milliseconds on the emulator clock.
    pub at_ms: i64,
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The endpoint the request resolved to.
    pub endpoint: E,
    /// The request's parameters except credentials, as [`logged_params`] keeps them.
    pub params: BTreeMap<String, String>,
    /// The account whose credential the request carried (its user ID, DID or account ID; never
    /// the credential itself); `None` when authentication failed before the account was known.
    pub account: Option<String>,
    /// The status answered; 0 when the client went away before the answer.
    pub status: u16,
    /// The network's error code answered, if any.
    pub error_code: Option<ErrorCode>,
    /// The request arrived when its rate window was already spent.
    pub window_spent: bool,
    /// The fault injected into this request, if any.
    pub fault: Option<FaultKind>,
}

/// A request's parameters as the log keeps them: the query's and the form's in order, a
/// repeated name's values joined with commas (`actors=a&actors=b` is `a,b`), then the fields
/// of a JSON body under names not given already (a string as it is, anything else as JSON).
/// Names `secret` picks (credentials) are left out.
pub fn logged_params(
    pairs: &[(String, String)],
    body: Option<&serde_json::Value>,
    secret: impl Fn(&str) -> bool,
) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in pairs.iter().filter(|(k, _)| !secret(k)) {
        params
            .entry(k.clone())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(v);
            })
            .or_insert_with(|| v.clone());
    }
    if let Some(serde_json::Value::Object(body)) = body {
        for (k, v) in body.iter().filter(|(k, _)| !secret(k)) {
            params
                .entry(k.clone())
                .or_insert_with(|| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
        }
    }
    params
}

impl<E> LoggedRequest<E> {
    /// The error code answered, when it is a number.
    pub fn error_number(&self) -> Option<u32> {
        self.error_code.as_ref().and_then(ErrorCode::number)
    }
}

/// Counters over the emulator's life.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received.
    pub requests: u64,
    /// Requests received per endpoint name ([`EndpointKind::name`]).
    pub per_endpoint: BTreeMap<String, u64>,
    /// Answers with a 2xx status.
    pub status_2xx: u64,
    /// Answers with a 4xx status (429 included).
    pub status_4xx: u64,
    /// Answers with a 5xx status.
    pub status_5xx: u64,
    /// Answers with 429.
    pub rate_limited: u64,
    /// Requests that arrived when their window was already spent (a well-paced client makes 0).
    pub window_spent: u64,
    /// Requests refused by authentication.
    pub auth_failures: u64,
    /// Blocks removed.
    pub unblocks_applied: u64,
    /// Blocks added.
    pub blocks_applied: u64,
    /// Faults injected.
    pub faults_injected: u64,
    /// Requests without an answer yet: in flight, or their client went away first.
    pub unanswered: u64,
}

/// How a request ended, to complete its log entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Finished {
    /// The status answered.
    pub status: u16,
    /// The network's error code answered, if any.
    pub error_code: Option<ErrorCode>,
    /// The account the request acted for, when known.
    pub account: Option<String>,
    /// The request arrived when its rate window was already spent.
    pub window_spent: bool,
    /// The fault injected, if any.
    pub fault: Option<FaultKind>,
}

/// The request log and the counters of one network, kept in its state under its lock.
#[derive(Debug)]
pub struct RequestLog<E> {
    /// Every request, indexed by `seq`.
    entries: Vec<LoggedRequest<E>>,
    /// Counters; `per_endpoint` and `unanswered` are filled in by [`RequestLog::stats`].
    stats: Stats,
    /// Requests per endpoint, indexed by [`EndpointKind::index`] (no string keys per request).
    per_endpoint: Vec<u64>,
}

impl<E: EndpointKind> Default for RequestLog<E> {
    fn default() -> RequestLog<E> {
        RequestLog {
            entries: Vec::new(),
            stats: Stats::default(),
            per_endpoint: vec![0; E::ALL.len()],
        }
    }
}

impl<E: EndpointKind> RequestLog<E> {
    /// An empty log.
    pub fn new() -> RequestLog<E> {
        RequestLog::default()
    }

    /// Logs an arrival, unanswered so far, and returns its sequence number.
    pub fn arrive(
        &mut self,
        at_ms: i64,
        method: &str,
        path: &str,
        endpoint: E,
        params: BTreeMap<String, String>,
    ) -> u64 {
        let seq = self.entries.len() as u64;
        self.entries.push(LoggedRequest {
            seq,
            at_ms,
            method: method.to_owned(),
            path: path.to_owned(),
            endpoint,
            params,
            account: None,
            status: 0,
            error_code: None,
            window_spent: false,
            fault: None,
        });
        self.stats.requests += 1;
        if let Some(n) = self.per_endpoint.get_mut(endpoint.index()) {
            *n += 1;
        }
        seq
    }

    /// Records a fault before the answer, with the account it struck: a stall whose client
    /// gave up still shows why. Counts it.
    pub fn note_fault(&mut self, seq: u64, fault: FaultKind, account: Option<String>) {
        self.stats.faults_injected += 1;
        if let Some(entry) = self.entry_mut(seq) {
            entry.fault = Some(fault);
            entry.account = account;
        }
    }

    /// Records the answer in the entry and the counters.
    pub fn finish(&mut self, seq: u64, finished: Finished) {
        let stats = &mut self.stats;
        match finished.status {
            200..=299 => stats.status_2xx += 1,
            400..=499 => stats.status_4xx += 1,
            500..=599 => stats.status_5xx += 1,
            _ => {}
        }
        if finished.status == 429 {
            stats.rate_limited += 1;
        }
        if finished.window_spent {
            stats.window_spent += 1;
        }
        if let Some(entry) = self.entry_mut(seq) {
            entry.status = finished.status;
            entry.error_code = finished.error_code;
            entry.account = finished.account;
            entry.window_spent = finished.window_spent;
            entry.fault = finished.fault;
        }
    }

    fn entry_mut(&mut self, seq: u64) -> Option<&mut LoggedRequest<E>> {
        usize::try_from(seq)
            .ok()
            .and_then(|i| self.entries.get_mut(i))
    }

    /// The counters a network keeps itself (authentication failures, blocks applied, faults
    /// it injected outside [`RequestLog::note_fault`]).
    pub fn counters(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.per_endpoint = E::ALL
            .iter()
            .zip(&self.per_endpoint)
            .filter(|(_, n)| **n > 0)
            .map(|(e, n)| (e.name().to_owned(), *n))
            .collect();
        stats.unanswered = self.entries.iter().filter(|e| e.status == 0).count() as u64;
        stats
    }

    /// Every request, in arrival order.
    pub fn entries(&self) -> &[LoggedRequest<E>] {
        &self.entries
    }

    /// The requests from sequence number `seq` on.
    pub fn since(&self, seq: u64) -> &[LoggedRequest<E>] {
        let from = usize::try_from(seq)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        &self.entries[from..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_joined_in_order_and_secrets_left_out() {
        let pairs: Vec<(String, String)> = [("actors", "a"), ("limit", "25"), ("actors", "b")]
            .into_iter()
            .chain([("password", "hunter2")])
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let body = serde_json::json!({"limit": 5, "repo": "did:plc:x", "password": "p", "n": 3});
        let params = logged_params(&pairs, Some(&body), |k| k == "password");
        let expected: BTreeMap<String, String> = [
            ("actors", "a,b"),
            ("limit", "25"),
            ("n", "3"),
            ("repo", "did:plc:x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(params, expected);
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    enum Ep {
        Read,
        Write,
    }

    impl EndpointKind for Ep {
        const ALL: &'static [Ep] = &[Ep::Read, Ep::Write];
        fn index(self) -> usize {
            self as usize
        }
        fn name(self) -> &'static str {
            match self {
                Ep::Read => "read",
                Ep::Write => "write",
            }
        }
    }

    #[test]
    fn arrivals_and_answers_fill_entries_and_counters() {
        let mut log = RequestLog::<Ep>::new();
        let a = log.arrive(5, "GET", "/r", Ep::Read, BTreeMap::new());
        let b = log.arrive(6, "POST", "/w", Ep::Write, BTreeMap::new());
        let c = log.arrive(7, "POST", "/w", Ep::Write, BTreeMap::new());
        log.finish(
            a,
            Finished {
                status: 200,
                account: Some("did:plc:abc".into()),
                ..Finished::default()
            },
        );
        log.note_fault(b, FaultKind::Stall, Some("did:plc:abc".into()));
        log.finish(
            c,
            Finished {
                status: 429,
                error_code: Some("RateLimitExceeded".into()),
                window_spent: true,
                ..Finished::default()
            },
        );
        let stats = log.stats();
        assert_eq!(
            (stats.requests, stats.status_2xx, stats.status_4xx),
            (3, 1, 1)
        );
        assert_eq!((stats.rate_limited, stats.window_spent), (1, 1));
        assert_eq!((stats.faults_injected, stats.unanswered), (1, 1));
        assert_eq!(stats.per_endpoint["write"], 2);
        assert_eq!(log.entries()[1].fault, Some(FaultKind::Stall));
        assert_eq!(log.since(2).len(), 1);
        assert!(log.since(u64::MAX).is_empty());
        assert_eq!(Ep::from_name("write"), Some(Ep::Write));
        assert_eq!(Ep::from_name("nope"), None);
    }

    #[test]
    fn error_codes_are_bare_numbers_or_strings() {
        let codes = [ErrorCode::from(88), ErrorCode::from("RateLimitExceeded")];
        let json = serde_json::to_string(&codes).expect("serializes");
        assert_eq!(json, r#"[88,"RateLimitExceeded"]"#);
        let back: Vec<ErrorCode> = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, codes);
        assert_eq!(codes[0].to_string(), "88");
        assert_eq!((codes[0].number(), codes[1].number()), (Some(88), None));
    }
}
