//! Reading XRPC answers: the `RateLimit-*` header dialect, `Retry-After`, error bodies, and
//! what a status and an error name mean for the retry loop.
//!
//! Pure functions over a status, headers and body, so each rule of the API notes is
//! unit-tested without a server. The headers describe one limiter at a time (the one with the
//! fewest points left, or the one that refused), so which budget they speak of is read from
//! `RateLimit-Policy` and from what the request was: a read meets only the per-IP limiter, a
//! write the per-account point budgets too. Header values are untrusted: missing, negative,
//! huge or non-numeric values make a window unknown rather than wrong.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::network::{ErrorCode, RateInfo, RateWindow, Span, Unit, Verdict};

use crate::http::{header_number as number, plausible_reset};
use crate::http::{retry_after, server_date};

/// The server rounds `RateLimit-Reset` down to the second; a request sent at the bare reset
/// may still meet the old window, so one second is added.
const RESET_MARGIN: Duration = Duration::from_secs(1);

/// What the hint of a refused login says.
pub const AUTH_HINT: &str = "Check BLUESKY_IDENTIFIER (a handle, DID or email) and \
     BLUESKY_APP_PASSWORD (an app password from Settings → Privacy and security → App \
     passwords; it may have been revoked), then rerun the same command.";

/// What the hint of a suspended or deactivated account says.
pub const ACCOUNT_HINT: &str = "The account cannot act now (suspended, taken down or \
     deactivated); nothing more can be done with it until that changes.";

/// One `RateLimit-Policy`: `LIMIT;w=SECONDS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// What the window admits.
    pub limit: u64,
    /// Its length in seconds.
    pub window_secs: u64,
}

/// What a request was, which decides which limiters its headers may speak of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A read: only the per-IP limiter counts it.
    Read,
    /// A repo write: the per-account point budgets count it too.
    Write,
    /// `createSession` or `refreshSession`: their own limiters, which no pacer of the run
    /// paces; their headers are not passed on.
    Session,
}

/// Reads `RateLimit-Policy` (the first policy when several are listed).
pub fn policy(headers: &HeaderMap) -> Option<Policy> {
    let value = headers.get("ratelimit-policy")?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    let mut parts = first.split(';');
    let limit = parts.next()?.trim().parse().ok()?;
    let window_secs = parts.find_map(|p| {
        let (key, value) = p.trim().split_once('=')?;
        (key.trim() == "w").then(|| value.trim().parse().ok())?
    })?;
    Some(Policy { limit, window_secs })
}

/// Which window a policy speaks of: the per-IP limiter counts requests, the hourly and daily
/// budgets points. A read meets only the per-IP limiter; a write's headers speak of it when
/// they repeat the policy reads announced (`per_ip`), else of a point budget, daily from a
/// day long, else hourly. Before any read announced the per-IP policy, a write's is placed by
/// its length alone (`3000;w=300`, `5000;w=3600`, `35000;w=86400` on the real service).
pub fn span_of(policy: Policy, request: Request, per_ip: Option<Policy>) -> (Span, Unit) {
    let points = |secs: u64| {
        if secs >= 86_400 {
            (Span::Day, Unit::Cost)
        } else {
            (Span::Hour, Unit::Cost)
        }
    };
    match (request, per_ip) {
        (Request::Read | Request::Session, _) => (Span::Short, Unit::Requests),
        (Request::Write, Some(ip)) if ip == policy => (Span::Short, Unit::Requests),
        (Request::Write, Some(_)) => points(policy.window_secs),
        (Request::Write, None) if policy.window_secs < 3600 => (Span::Short, Unit::Requests),
        (Request::Write, None) => points(policy.window_secs),
    }
}

/// The window the headers announce, by span, with a second of margin on the reset. Session
/// answers give none. A reset further than a day from the server's `Date` (or the local clock
/// without one) is garbage: left out.
pub fn rate_info(headers: &HeaderMap, request: Request, per_ip: Option<Policy>) -> RateInfo {
    if request == Request::Session {
        return RateInfo::default();
    }
    let (Some(remaining), Some(reset_secs)) = (
        number(headers, "ratelimit-remaining"),
        number(headers, "ratelimit-reset"),
    ) else {
        return RateInfo::default();
    };
    let Some(reset) = UNIX_EPOCH
        .checked_add(Duration::from_secs(reset_secs))
        .and_then(|t| t.checked_add(RESET_MARGIN))
    else {
        return RateInfo::default();
    };
    let now = server_date(headers).unwrap_or_else(SystemTime::now);
    if !plausible_reset(reset, now) {
        return RateInfo::default();
    }
    let policy = policy(headers);
    let limit = number(headers, "ratelimit-limit").or(policy.map(|p| p.limit));
    let (span, unit) = match policy {
        Some(policy) => span_of(policy, request, per_ip),
        // No policy: a read's headers are the per-IP limiter's; a write's cannot be placed.
        None if request == Request::Read => (Span::Short, Unit::Requests),
        None => return RateInfo::default(),
    };
    RateInfo::default().with(
        span,
        Some(RateWindow {
            unit,
            limit,
            remaining,
            reset,
        }),
    )
}

/// An XRPC error body: `{"error":"Name","message":"…"}`; either may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct XrpcError {
    /// The error's name (`ExpiredToken`, `InvalidRequest`, …).
    #[serde(default)]
    pub error: Option<String>,
    /// What the server said.
    #[serde(default)]
    pub message: Option<String>,
}

impl XrpcError {
    /// Reads an error body; anything unreadable is an error without name or message.
    pub fn parse(body: &[u8]) -> XrpcError {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// Whether the error names `name`.
    pub fn is(&self, name: &str) -> bool {
        self.error.as_deref() == Some(name)
    }

    /// The name as the journal's error code.
    pub fn code(&self) -> Option<ErrorCode> {
        self.error.clone().map(ErrorCode::Name)
    }

    /// `HTTP STATUS: Name: message`, for messages.
    pub fn describe(&self, status: u16) -> String {
        let mut text = format!("HTTP {status}");
        for part in [&self.error, &self.message].into_iter().flatten() {
            text.push_str(": ");
            text.push_str(part);
        }
        text
    }
}

/// What an error answer means before the method's own reading of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The access token expired or cannot be verified: renew the session and send again.
    Session,
    /// Anything the retry loop decides alone (a 429, a fault, a rejection, a final error).
    Verdict(Verdict),
}

/// Sorts an error answer (a status outside 2xx) for an authenticated request.
pub fn classify(status: u16, headers: &HeaderMap, error: &XrpcError) -> Failure {
    let message = error.describe(status);
    let code = error.code();
    match status {
        400 if error.is("ExpiredToken") || error.is("InvalidToken") => Failure::Session,
        401 if error.is("AccountTakedown") || error.is("AccountDeactivated") => {
            Failure::Verdict(Verdict::Rejected {
                error_code: code,
                message,
                hint: ACCOUNT_HINT,
            })
        }
        401 | 403 if error.is("AuthenticationRequired") || error.is("AuthMissing") => {
            Failure::Verdict(Verdict::Rejected {
                error_code: code,
                message,
                hint: AUTH_HINT,
            })
        }
        429 => Failure::Verdict(Verdict::RateLimited {
            retry_after: retry_after(
                headers,
                server_date(headers).unwrap_or_else(SystemTime::now),
            ),
        }),
        408 | 500..=599 => Failure::Verdict(Verdict::Transient {
            error_code: code,
            message,
        }),
        _ => Failure::Verdict(Verdict::Final {
            error_code: code,
            message,
        }),
    }
}

/// Whether an answer to `app.bsky.*` says the PDS has no AppView to ask (502
/// `UpstreamFailure`, or 400 "No service configured for …"): handles are then resolved one by
/// one with `com.atproto.identity.resolveHandle`.
pub fn no_appview(status: u16, error: &XrpcError) -> bool {
    match status {
        502 => true,
        400 => error
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("No service configured")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    const DATE: &str = "Thu, 03 Dec 2026 10:00:00 GMT";
    const NOW: u64 = 1_796_292_000;

    fn limited(policy: &str, remaining: u64, reset: u64) -> HeaderMap {
        headers(&[
            ("Date", DATE),
            ("RateLimit-Limit", policy.split(';').next().unwrap()),
            ("RateLimit-Remaining", &remaining.to_string()),
            ("RateLimit-Reset", &reset.to_string()),
            ("RateLimit-Policy", policy),
        ])
    }

    #[test]
    fn the_date_constant_is_the_epoch_it_claims() {
        assert_eq!(
            server_date(&headers(&[("date", DATE)])),
            Some(UNIX_EPOCH + Duration::from_secs(NOW))
        );
    }

    #[test]
    fn policies_are_read_and_placed_by_what_the_request_was() {
        let ip = Policy {
            limit: 3000,
            window_secs: 300,
        };
        let hour = Policy {
            limit: 5000,
            window_secs: 3600,
        };
        let day = Policy {
            limit: 35000,
            window_secs: 86_400,
        };
        assert_eq!(
            policy(&headers(&[("ratelimit-policy", "3000;w=300")])),
            Some(ip)
        );
        assert_eq!(
            policy(&headers(&[("RateLimit-Policy", " 5000 ; w=3600 , 10;w=1")])),
            Some(hour),
            "the first of several, spaces allowed, names in any case"
        );
        for bad in ["", "abc", "5000", "5000;x=3", "5000;w=-1", "-1;w=300"] {
            assert_eq!(
                policy(&headers(&[("ratelimit-policy", bad)])),
                None,
                "{bad}"
            );
        }
        // The real service's three windows, by length alone.
        assert_eq!(
            span_of(ip, Request::Write, None),
            (Span::Short, Unit::Requests)
        );
        assert_eq!(
            span_of(hour, Request::Write, None),
            (Span::Hour, Unit::Cost)
        );
        assert_eq!(span_of(day, Request::Write, None), (Span::Day, Unit::Cost));
        // Shortened windows (tests, the demo): a write's headers that are not the per-IP
        // policy the reads showed are a point budget, however short.
        let short_hour = Policy {
            limit: 40,
            window_secs: 5,
        };
        assert_eq!(
            span_of(short_hour, Request::Write, Some(ip)),
            (Span::Hour, Unit::Cost)
        );
        assert_eq!(
            span_of(ip, Request::Write, Some(ip)),
            (Span::Short, Unit::Requests)
        );
        assert_eq!(
            span_of(short_hour, Request::Read, Some(ip)),
            (Span::Short, Unit::Requests),
            "a read meets the per-IP limiter only"
        );
    }

    #[test]
    fn the_reset_gets_a_second_of_margin_and_garbage_is_left_out() {
        let info = rate_info(&limited("3000;w=300", 2999, NOW + 300), Request::Read, None);
        let w = info.get(Span::Short).expect("the per-IP window");
        assert_eq!(w.unit, Unit::Requests);
        assert_eq!((w.limit, w.remaining), (Some(3000), 2999));
        assert_eq!(w.reset, UNIX_EPOCH + Duration::from_secs(NOW + 301));
        assert!(info.get(Span::Hour).is_none());

        let info = rate_info(&limited("5000;w=3600", 0, NOW + 3592), Request::Write, None);
        let w = info.get(Span::Hour).expect("the hourly budget");
        assert_eq!((w.unit, w.remaining), (Unit::Cost, 0));

        // A reset days away, missing or non-numeric figures, a session's answer: nothing.
        assert!(
            rate_info(
                &limited("3000;w=300", 5, NOW + 9 * 86_400),
                Request::Read,
                None
            )
            .is_empty()
        );
        assert!(
            rate_info(
                &headers(&[("ratelimit-remaining", "x"), ("ratelimit-reset", "1")]),
                Request::Read,
                None
            )
            .is_empty()
        );
        assert!(rate_info(&limited("30;w=300", 29, NOW + 300), Request::Session, None).is_empty());
        assert!(rate_info(&HeaderMap::new(), Request::Write, None).is_empty());
        // No policy: a read's headers are still the per-IP limiter's; a write's are unknown.
        let bare = headers(&[
            ("ratelimit-remaining", "7"),
            ("ratelimit-reset", &(NOW + 60).to_string()),
            ("date", DATE),
        ]);
        assert!(
            rate_info(&bare, Request::Read, None)
                .get(Span::Short)
                .is_some()
        );
        assert!(rate_info(&bare, Request::Write, None).is_empty());
    }

    #[test]
    fn error_answers_are_sorted() {
        let h = HeaderMap::new();
        let err = |body: &str| XrpcError::parse(body.as_bytes());
        let expired = err(r#"{"error":"ExpiredToken","message":"Token has expired"}"#);
        assert_eq!(classify(400, &h, &expired), Failure::Session);
        let invalid = err(r#"{"error":"InvalidToken","message":"Token could not be verified"}"#);
        assert_eq!(classify(400, &h, &invalid), Failure::Session);
        let wrong =
            err(r#"{"error":"AuthenticationRequired","message":"Invalid identifier or password"}"#);
        assert!(matches!(
            classify(401, &h, &wrong),
            Failure::Verdict(Verdict::Rejected {
                hint: AUTH_HINT,
                ..
            })
        ));
        assert!(matches!(
            classify(401, &h, &err(r#"{"error":"AccountTakedown"}"#)),
            Failure::Verdict(Verdict::Rejected {
                hint: ACCOUNT_HINT,
                ..
            })
        ));
        let h429 = headers(&[("retry-after", "3592")]);
        assert_eq!(
            classify(429, &h429, &err("{}")),
            Failure::Verdict(Verdict::RateLimited {
                retry_after: Some(Duration::from_secs(3592))
            })
        );
        match classify(
            500,
            &h,
            &err(r#"{"error":"InternalServerError","message":"Internal Server Error"}"#),
        ) {
            Failure::Verdict(Verdict::Transient {
                error_code,
                message,
            }) => {
                assert_eq!(
                    error_code,
                    Some(ErrorCode::Name("InternalServerError".into()))
                );
                assert_eq!(
                    message,
                    "HTTP 500: InternalServerError: Internal Server Error"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(
                400,
                &h,
                &err(r#"{"error":"InvalidRequest","message":"Could not find repo"}"#)
            ),
            Failure::Verdict(Verdict::Final { .. })
        ));
        assert_eq!(err("not json"), XrpcError::default());
        assert_eq!(XrpcError::default().describe(502), "HTTP 502");
    }

    #[test]
    fn a_missing_appview_is_recognised() {
        let err = |body: &str| XrpcError::parse(body.as_bytes());
        assert!(no_appview(
            502,
            &err(r#"{"error":"UpstreamFailure","message":"Upstream service unreachable"}"#)
        ));
        assert!(no_appview(
            400,
            &err(
                r#"{"error":"InvalidRequest","message":"No service configured for app.bsky.actor.getProfiles"}"#
            )
        ));
        assert!(!no_appview(
            400,
            &err(
                r#"{"error":"InvalidRequest","message":"Invalid app.bsky.actor.getProfiles params"}"#
            )
        ));
        assert!(!no_appview(500, &err("{}")));
    }
}
