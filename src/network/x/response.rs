//! Reading X API responses: rate-limit headers, `Date`, error bodies, and the outcome they mean.
//!
//! Pure functions over a status, headers and body, so every mapping in x-api.md is unit-tested
//! without a server. Header values are untrusted: missing, negative, huge or non-numeric values
//! make a window unknown rather than wrong.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::network::{ErrorCode, RateInfo, RateWindow, Settled, Span, Unit, UserRef, Verdict};
use crate::outcome::{Action, Outcome};

use crate::http::header_number as number;
use crate::http::{plausible_reset, retry_after, server_date};

/// Reads `x-rate-limit-*` and the 24-hour `x-user-limit-24hour-*` / `x-app-limit-24hour-*` headers.
/// A window whose reset is further than a day from the server's `Date` (or the local clock
/// without one) is garbage, not a window: it is left out.
pub fn rate_info(headers: &HeaderMap) -> RateInfo {
    let now = server_date(headers).unwrap_or_else(SystemTime::now);
    let plausible = |w: &RateWindow| plausible_reset(w.reset, now);
    let day = [
        window(headers, "x-user-limit-24hour"),
        window(headers, "x-app-limit-24hour"),
    ]
    .into_iter()
    .flatten()
    .filter(plausible)
    .min_by_key(|w| w.remaining);
    RateInfo::default()
        .with(
            Span::Short,
            window(headers, "x-rate-limit").filter(plausible),
        )
        .with(Span::Day, day)
}

fn window(headers: &HeaderMap, prefix: &str) -> Option<RateWindow> {
    let remaining = number(headers, &format!("{prefix}-remaining"))?;
    let reset_secs = number(headers, &format!("{prefix}-reset"))?;
    let reset = UNIX_EPOCH.checked_add(Duration::from_secs(reset_secs))?;
    Some(RateWindow {
        unit: Unit::Requests,
        limit: number(headers, &format!("{prefix}-limit")),
        remaining,
        reset,
    })
}

/// The first error of a v1.1 error body (`{"errors":[{"code":N,"message":"..."}]}`), or of the
/// other shapes seen in the wild (`{"error":"..."}`, v2 problem JSON).
pub fn api_error(body: &[u8]) -> (Option<i64>, Option<String>) {
    #[derive(Deserialize)]
    struct Item {
        code: Option<i64>,
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct Body {
        errors: Option<Vec<Item>>,
        error: Option<String>,
        detail: Option<String>,
        title: Option<String>,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => {
            if let Some(first) = b.errors.and_then(|e| e.into_iter().next()) {
                (first.code, first.message)
            } else {
                (None, b.error.or(b.detail).or(b.title))
            }
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let short: String = text.chars().take(200).collect();
            (None, (!short.is_empty()).then_some(short))
        }
    }
}

/// The user object's identity fields.
pub fn user_ref(body: &[u8]) -> UserRef {
    #[derive(Deserialize)]
    struct User {
        id_str: Option<String>,
        id: Option<serde_json::Number>,
        screen_name: Option<String>,
    }
    match serde_json::from_slice::<User>(body) {
        Ok(u) => UserRef {
            user_id: u.id_str.or_else(|| u.id.map(|n| n.to_string())),
            screen_name: u.screen_name,
        },
        Err(_) => UserRef::default(),
    }
}

/// The error code of a request whose OAuth timestamp the server refused (401): the client
/// corrects its clock from the answer's `Date` and signs again.
pub const TIMESTAMP_REFUSED: i64 = 135;

/// The message of a refused timestamp, saying where to look when it keeps happening.
pub fn timestamp_refused(server_message: &str) -> String {
    format!(
        "the server refused the request's timestamp ({}); the clock was corrected from the \
         server's Date header, but if this persists check this computer's clock and time zone",
        server_message.trim_end_matches('.')
    )
}

/// Sorts one response to `blocks/destroy` or `blocks/create`: how the target ended, or why the
/// request must be sent again (or stop the run).
pub fn classify(
    action: Action,
    status: u16,
    body: &[u8],
    headers: &HeaderMap,
) -> Result<Settled, Verdict> {
    if (200..300).contains(&status) {
        return Ok(Settled {
            outcome: action.success(),
            user: user_ref(body),
            error_code: None,
            message: None,
        });
    }
    let (code, message) = api_error(body);
    let text = message.clone().unwrap_or_else(|| format!("HTTP {status}"));
    if status == 429 || status == 420 || code == Some(88) {
        return Err(Verdict::RateLimited {
            retry_after: retry_after(
                headers,
                server_date(headers).unwrap_or_else(SystemTime::now),
            ),
        });
    }
    let error_code = code.map(ErrorCode::from);
    if let Some(hint) = rejection_hint(status, code) {
        return Err(Verdict::Rejected {
            error_code,
            message: text,
            hint,
        });
    }
    if status == 401 && code == Some(TIMESTAMP_REFUSED) {
        return Err(Verdict::Resend {
            error_code,
            message: timestamp_refused(&text),
        });
    }
    let done = |outcome| {
        Ok(Settled {
            outcome,
            user: UserRef::default(),
            error_code: error_code.clone(),
            message: message.clone(),
        })
    };
    match (status, code) {
        (404, Some(17 | 34 | 50)) => done(Outcome::NotFound),
        (403 | 404, Some(63)) => done(Outcome::Suspended),
        (500..=599, _) | (_, Some(130 | 131)) => Err(Verdict::Transient {
            error_code: error_code.clone(),
            message: text,
        }),
        _ => done(Outcome::Failed),
    }
}

/// A read answered with a target outcome where data was expected: the read failed for good.
pub fn unread(settled: Settled, status: u16) -> Verdict {
    Verdict::Final {
        error_code: settled.error_code,
        message: settled.message.unwrap_or_else(|| format!("HTTP {status}")),
    }
}

/// When a status and code mean the credentials themselves are refused, what the user should do.
pub fn rejection_hint(status: u16, code: Option<i64>) -> Option<&'static str> {
    Some(match (status, code) {
        (401, Some(TIMESTAMP_REFUSED)) => return None,
        (401, Some(89)) => {
            "The access token is invalid or was revoked: generate a new access token and secret \
             and set TWITTER_ACCESS_TOKEN and TWITTER_ACCESS_TOKEN_SECRET."
        }
        (401, Some(32)) | (401, None) => {
            "Check TWITTER_CONSUMER_KEY, TWITTER_CONSUMER_SECRET, TWITTER_ACCESS_TOKEN and \
             TWITTER_ACCESS_TOKEN_SECRET: they must all belong to the same app and account."
        }
        (401, Some(416)) => "The app is invalid or suspended: check it in the developer portal.",
        (401, _) => "The server refused the credentials: check the four TWITTER_* variables.",
        (400, Some(215)) => {
            "The request carried no usable credentials: check the four TWITTER_* variables."
        }
        (403, Some(64)) => "The account is suspended and cannot use this feature.",
        (403, Some(261)) => {
            "The app has read-only permission: give it Read and write permission in the \
             developer portal, then regenerate the access token and secret."
        }
        (403, Some(326)) => {
            "The account is temporarily locked: log in on the website to unlock it."
        }
        (403, Some(453)) => {
            "The app's API access tier does not include this endpoint (blocking needs a higher \
             tier on X's current plans)."
        }
        (403, Some(99 | 220)) => {
            "The credentials do not allow this action: check the app's permissions and tier."
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn err(code: i64, msg: &str) -> Vec<u8> {
        format!(r#"{{"errors":[{{"code":{code},"message":"{msg}"}}]}}"#).into_bytes()
    }

    fn outcome(v: Result<Settled, Verdict>) -> Option<Outcome> {
        v.ok().map(|s| s.outcome)
    }

    #[test]
    fn reads_honest_rate_headers() {
        let h = headers(&[
            ("x-rate-limit-limit", "50"),
            ("x-rate-limit-remaining", "49"),
            ("x-rate-limit-reset", "1562984884"),
        ]);
        let w = rate_info(&h).get(Span::Short).unwrap();
        assert_eq!(w.limit, Some(50));
        assert_eq!(w.remaining, 49);
        assert_eq!(w.reset, UNIX_EPOCH + Duration::from_secs(1562984884));
        assert_eq!(rate_info(&h).get(Span::Day), None);
    }

    #[test]
    fn garbage_rate_headers_mean_unknown() {
        for (rem, reset) in [
            ("-1", "1562984884"),
            ("ten", "1562984884"),
            ("5", "-3"),
            ("5", "1e9"),
            ("99999999999999999999999", "1"),
            ("", ""),
        ] {
            let h = headers(&[
                ("x-rate-limit-remaining", rem),
                ("x-rate-limit-reset", reset),
            ]);
            assert_eq!(rate_info(&h).get(Span::Short), None, "{rem} {reset}");
        }
        assert_eq!(rate_info(&HeaderMap::new()), RateInfo::default());
        // A huge but numeric reset parses, and is then judged implausible: no window.
        let h = headers(&[
            ("x-rate-limit-remaining", "1"),
            ("x-rate-limit-reset", "18446744073"),
        ]);
        assert_eq!(rate_info(&h).get(Span::Short), None);
    }

    #[test]
    fn the_tighter_day_cap_wins() {
        let h = headers(&[
            ("x-user-limit-24hour-limit", "1000"),
            ("x-user-limit-24hour-remaining", "900"),
            ("x-user-limit-24hour-reset", "1700000000"),
            ("x-app-limit-24hour-limit", "500"),
            ("x-app-limit-24hour-remaining", "3"),
            ("x-app-limit-24hour-reset", "1700000100"),
        ]);
        assert_eq!(rate_info(&h).get(Span::Day).unwrap().remaining, 3);
    }

    #[test]
    fn maps_outcomes_per_the_issue() {
        let h = HeaderMap::new();
        let ok = br#"{"id":38895958,"id_str":"38895958","screen_name":"theSeanCook"}"#;
        match classify(Action::Unblock, 200, ok, &h) {
            Ok(Settled { outcome, user, .. }) => {
                assert_eq!(outcome, Outcome::Unblocked);
                assert_eq!(user.user_id.as_deref(), Some("38895958"));
                assert_eq!(user.screen_name.as_deref(), Some("theSeanCook"));
            }
            v => panic!("{v:?}"),
        }
        assert_eq!(
            outcome(classify(Action::Block, 200, ok, &h)),
            Some(Outcome::Blocked)
        );
        let nf = classify(
            Action::Unblock,
            404,
            &err(34, "Sorry, that page does not exist."),
            &h,
        );
        assert_eq!(outcome(nf), Some(Outcome::NotFound));
        let nf = classify(Action::Unblock, 404, &err(50, "User not found."), &h);
        assert_eq!(outcome(nf), Some(Outcome::NotFound));
        let s = classify(
            Action::Unblock,
            403,
            &err(63, "User has been suspended."),
            &h,
        );
        assert_eq!(outcome(s), Some(Outcome::Suspended));
        match classify(Action::Unblock, 403, &err(226, "automated"), &h) {
            Ok(Settled {
                outcome,
                error_code,
                message,
                ..
            }) => {
                assert_eq!(outcome, Outcome::Failed);
                assert_eq!(error_code, Some(ErrorCode::Number(226)));
                assert_eq!(message.as_deref(), Some("automated"));
            }
            v => panic!("{v:?}"),
        }
        assert_eq!(
            outcome(classify(Action::Unblock, 400, b"not json", &h)),
            Some(Outcome::Failed)
        );
    }

    #[test]
    fn credential_failures_stop_the_run() {
        let h = HeaderMap::new();
        for (status, code) in [
            (401, 32),
            (401, 89),
            (403, 64),
            (403, 261),
            (403, 326),
            (403, 453),
        ] {
            assert!(
                matches!(
                    classify(Action::Unblock, status, &err(code, "x"), &h),
                    Err(Verdict::Rejected { .. })
                ),
                "{status}/{code}"
            );
        }
        assert!(matches!(
            classify(
                Action::Unblock,
                401,
                &err(135, "Timestamp out of bounds."),
                &h
            ),
            Err(Verdict::Resend { .. })
        ));
    }

    #[test]
    fn faults_are_transient_and_429_is_rate_limited() {
        let h = headers(&[("retry-after", "7")]);
        assert!(matches!(
            classify(Action::Unblock, 503, &err(130, "Over capacity."), &h),
            Err(Verdict::Transient {
                error_code: Some(ErrorCode::Number(130)),
                ..
            })
        ));
        assert!(matches!(
            classify(Action::Unblock, 500, &err(131, "Internal error."), &h),
            Err(Verdict::Transient { .. })
        ));
        assert!(matches!(
            classify(Action::Unblock, 502, b"<html>bad gateway</html>", &h),
            Err(Verdict::Transient { .. })
        ));
        assert_eq!(
            classify(Action::Unblock, 429, &err(88, "Rate limit exceeded"), &h),
            Err(Verdict::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            })
        );
    }

    #[test]
    fn error_bodies_in_any_key_order() {
        assert_eq!(
            api_error(br#"{"errors":[{"message":"User not found.","code":50}]}"#),
            (Some(50), Some("User not found.".into()))
        );
        assert_eq!(
            api_error(br#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#),
            (None, Some("Unauthorized".into()))
        );
        assert_eq!(api_error(b""), (None, None));
    }

    #[test]
    fn date_header_parses() {
        let h = headers(&[("date", "Tue, 15 Nov 1994 08:12:31 GMT")]);
        assert_eq!(
            server_date(&h),
            Some(UNIX_EPOCH + Duration::from_secs(784887151))
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn header_value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<u64>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "[0-9]{19,30}",
                "[ -~]{0,24}",
                Just(String::new()),
            ]
        }

        proptest! {
            #[test]
            fn any_header_values_parse_without_panicking(
                limit in header_value(),
                remaining in header_value(),
                reset in header_value(),
                day in header_value(),
            ) {
                let mut h = HeaderMap::new();
                for (name, value) in [
                    ("x-rate-limit-limit", &limit),
                    ("x-rate-limit-remaining", &remaining),
                    ("x-rate-limit-reset", &reset),
                    ("x-user-limit-24hour-remaining", &day),
                    ("x-user-limit-24hour-reset", &reset),
                    ("retry-after", &day),
                    ("date", &day),
                ] {
                    if let Ok(v) = HeaderValue::from_str(value) {
                        h.insert(name, v);
                    }
                }
                let info = rate_info(&h);
                let _ = retry_after(&h, SystemTime::now());
                let _ = server_date(&h);
                // A window is known exactly when both numbers are plain non-negative integers.
                let plain = |s: &str| s.trim().parse::<u64>().ok();
                let now = server_date(&h).unwrap_or_else(SystemTime::now);
                let expected = plain(&remaining).zip(plain(&reset)).and_then(|(rem, secs)| {
                    UNIX_EPOCH
                        .checked_add(Duration::from_secs(secs))
                        .filter(|at| plausible_reset(*at, now))
                        .map(|_| rem)
                });
                prop_assert_eq!(info.get(Span::Short).map(|w| w.remaining), expected);
                if let Some(w) = info.get(Span::Short) {
                    prop_assert_eq!(w.limit, plain(&limit));
                }
            }

            #[test]
            fn retry_after_is_capped(secs in any::<u64>()) {
                let mut h = HeaderMap::new();
                h.insert("retry-after", HeaderValue::from_str(&secs.to_string()).unwrap());
                let d = retry_after(&h, SystemTime::now()).unwrap();
                prop_assert!(d <= crate::reply::MAX_RESET_AHEAD);
            }
        }
    }
}
