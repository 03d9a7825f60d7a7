//! Reading Mastodon's answers: the rate-limit headers, the `Link` header that pages the block
//! lists, error bodies, and which answers stop a run or are worth sending again.
//!
//! Pure functions over a status, headers and body, so every rule is unit-tested without a
//! server. Header values are untrusted: a reset that is not an ISO 8601 time, or lies more than
//! a day ahead, makes the window unknown rather than wrong.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

use crate::network::{RateInfo, RateWindow, Span, Unit, Verdict};

use crate::http::{header_number as number, plausible_reset};

/// What to do about a token the instance refuses (401).
pub const INVALID_TOKEN_HINT: &str = "The access token is invalid or was revoked: make a new \
     one on the instance (Settings → Development → New application, with the scopes \
     read:blocks write:blocks read:accounts) and set MASTODON_ACCESS_TOKEN to it.";

/// What to do about a token that lacks a scope (403).
pub const SCOPE_HINT: &str = "The access token lacks a scope this needs: make a new one on \
     the instance (Settings → Development → New application, with the scopes read:blocks \
     write:blocks read:accounts) and set MASTODON_ACCESS_TOKEN to it.";

/// What to do about another 403: the instance refuses the account itself.
pub const ACCOUNT_HINT: &str = "The instance refuses this account's requests (a disabled, \
     suspended or unconfirmed login): log in on the instance's website to see why.";

/// What to do about a token that belongs to an application, not to an account (422).
pub const APP_TOKEN_HINT: &str = "The access token belongs to an application, not to an \
     account: make one while logged in (Settings → Development → New application, with the \
     scopes read:blocks write:blocks read:accounts) and set MASTODON_ACCESS_TOKEN to it.";

/// Reads `X-RateLimit-Limit`, `-Remaining` and `-Reset`: the throttle closest to its limit, a
/// window of minutes ([`Span::Short`]) counting requests. The reset is ISO 8601 (see
/// [`parse_reset`]); a window whose reset lies more than a day from the server's `Date` (or
/// the local clock without one) is left out.
pub fn rate_info(headers: &HeaderMap) -> RateInfo {
    let now = crate::http::server_date(headers).unwrap_or_else(SystemTime::now);
    let window = (|| {
        let remaining = number(headers, "x-ratelimit-remaining")?;
        let reset = parse_reset(headers.get("x-ratelimit-reset")?.to_str().ok()?)?;
        plausible_reset(reset, now).then_some(RateWindow {
            unit: Unit::Requests,
            limit: number(headers, "x-ratelimit-limit"),
            remaining,
            reset,
        })
    })();
    RateInfo::default().with(Span::Short, window)
}

/// Parses `X-RateLimit-Reset`: ISO 8601 with fractional seconds
/// (`2020-09-08T13:25:00.019685Z`, or an offset such as `+02:00`), never epoch seconds.
///
/// Mastodon writes the reset as the request time plus what is left of the window, so it
/// carries the request's fraction of a second; the window itself ends on a whole second
/// (windows are aligned to the epoch). The fraction is dropped, so every answer of one window
/// names the same reset.
pub fn parse_reset(text: &str) -> Option<SystemTime> {
    let t = text.trim().as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = t.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if t.get(4) != Some(&b'-')
        || t.get(7) != Some(&b'-')
        || !matches!(t.get(10), Some(b'T' | b't' | b' '))
        || t.get(13) != Some(&b':')
        || t.get(16) != Some(&b':')
    {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Leap seconds are written 60; they end on the next second, which is all a reset needs.
    if second > 60 {
        return None;
    }
    let mut rest = &t[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        rest = &fraction[len..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let two = |a: u8, b: u8| {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (h, m) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The URL of the `rel="next"` entry of the `Link` headers, as given.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|value| link_with_rel(value, "next"))
}

/// The URL of the entry of one `Link` value whose `rel` holds `rel`: entries are
/// `<URL>; param; param`, separated by commas (which may also occur inside the `<…>`).
pub fn link_with_rel(value: &str, rel: &str) -> Option<String> {
    let mut rest = value;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let url = &rest[start + 1..end];
        let after = &rest[end + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        let matches = params.split(';').any(|param| {
            let Some((key, val)) = param.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && val
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
        });
        if matches {
            return Some(url.trim().to_owned());
        }
        rest = &after[params_end..];
    }
}

/// The path and query of a next-page URL, checked to lead to `endpoint` (its path may sit
/// under a prefix): the cursor of the next page.
pub fn cursor_of(url: &str, endpoint: &str) -> Result<String, String> {
    let parsed = if url.starts_with('/') {
        reqwest::Url::parse("http://instance.invalid").and_then(|base| base.join(url))
    } else {
        reqwest::Url::parse(url)
    }
    .map_err(|e| format!("the next-page link `{url}` is not a URL: {e}"))?;
    if !parsed.path().ends_with(endpoint) {
        return Err(format!(
            "the next-page link `{url}` does not lead to {endpoint}"
        ));
    }
    Ok(match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    })
}

/// The message of an error body (`{"error":"…"}`, with OAuth's `error_description` when
/// given), or a short text of any other body.
pub fn error_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Option<String>,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => b.error_description.or(b.error),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            // An HTML error page (a proxy's) says nothing a status does not.
            let text = text.trim();
            (!text.is_empty() && !text.starts_with('<'))
                .then(|| crate::display::shorten(text, 200).into_owned())
        }
    }
}

/// `HTTP 503`, or `HTTP 404: Record not found`.
pub fn describe(status: u16, body: &[u8]) -> String {
    match error_message(body) {
        Some(message) => format!("HTTP {status}: {message}"),
        None => format!("HTTP {status}"),
    }
}

/// How an answer that did not succeed ends any request: the credentials refused (401, 403,
/// and the 422 of a token with no account behind it), a 429 (its wait comes from the rate
/// headers: Mastodon sends no `Retry-After`), or a fault that may pass (5xx). `None` for the
/// answers whose meaning depends on the request (a 404, another 4xx).
pub fn refusal(status: u16, body: &[u8]) -> Option<Verdict> {
    let message = || error_message(body).unwrap_or_else(|| format!("HTTP {status}"));
    Some(match status {
        401 => Verdict::Rejected {
            error_code: None,
            message: message(),
            hint: INVALID_TOKEN_HINT,
        },
        403 => {
            let message = message();
            let hint = if message.to_ascii_lowercase().contains("scope") {
                SCOPE_HINT
            } else {
                ACCOUNT_HINT
            };
            Verdict::Rejected {
                error_code: None,
                message,
                hint,
            }
        }
        422 if message().contains("authenticated user") => Verdict::Rejected {
            error_code: None,
            message: message(),
            hint: APP_TOKEN_HINT,
        },
        429 => Verdict::RateLimited { retry_after: None },
        500..=599 => Verdict::Transient {
            error_code: None,
            message: describe(status, body),
        },
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
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn resets_are_iso_8601_and_keep_only_the_whole_second() {
        // 2020-09-08T13:25:00Z is 1599571500.
        for text in [
            "2020-09-08T13:25:00.019685Z",
            "2020-09-08T13:25:00Z",
            "2020-09-08T13:25:00.999999999Z",
            "2020-09-08t13:25:00.5z",
            "2020-09-08T15:25:00.019685+02:00",
            "2020-09-08T12:55:00.1-0030",
            " 2020-09-08T13:25:00.000000Z ",
        ] {
            assert_eq!(parse_reset(text), Some(at(1_599_571_500)), "{text}");
        }
        assert_eq!(parse_reset("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(
            parse_reset("2024-02-29T23:59:59Z"),
            Some(at(1_709_251_199)),
            "a leap day"
        );
        for garbage in [
            "1599571500",
            "",
            "2020-09-08",
            "2020-09-08T13:25:00",
            "2020-09-08T13:25:00.Z",
            "2020-13-08T13:25:00Z",
            "2020-09-08T24:25:00Z",
            "2020-09-08T13:25:00+2:00",
            "2020-09-08T13:25:00Zjunk",
            "１９７０-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_reset(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn rate_headers_make_a_short_window_of_requests() {
        let h = headers(&[
            ("date", "Tue, 08 Sep 2020 13:23:20 GMT"),
            ("x-ratelimit-limit", "300"),
            ("x-ratelimit-remaining", "299"),
            ("x-ratelimit-reset", "2020-09-08T13:25:00.019685Z"),
        ]);
        let w = rate_info(&h).get(Span::Short).expect("a window");
        assert_eq!(
            w,
            RateWindow {
                unit: Unit::Requests,
                limit: Some(300),
                remaining: 299,
                reset: at(1_599_571_500),
            }
        );
        assert_eq!(rate_info(&h).get(Span::Hour), None);
        assert_eq!(rate_info(&h).get(Span::Day), None);
    }

    #[test]
    fn garbage_rate_headers_mean_no_window() {
        let date = ("date", "Tue, 08 Sep 2020 13:23:20 GMT");
        for (remaining, reset) in [
            ("-1", "2020-09-08T13:25:00Z"),
            ("many", "2020-09-08T13:25:00Z"),
            ("5", "1599571500"),
            ("5", "soon"),
            ("5", "2020-09-10T13:25:00Z"),
        ] {
            let h = headers(&[
                date,
                ("x-ratelimit-remaining", remaining),
                ("x-ratelimit-reset", reset),
            ]);
            assert!(rate_info(&h).is_empty(), "{remaining} {reset}");
        }
        assert!(rate_info(&HeaderMap::new()).is_empty());
        // Without a limit the window still counts.
        let h = headers(&[
            date,
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2020-09-08T13:25:00Z"),
        ]);
        assert_eq!(rate_info(&h).get(Span::Short).unwrap().limit, None);
    }

    #[test]
    fn the_next_link_is_found_among_entries_in_any_order() {
        let next = "https://mastodon.test/api/v1/blocks?limit=80&max_id=4101";
        let h = headers(&[(
            "link",
            &format!(
                "<{next}>; rel=\"next\", <https://mastodon.test/api/v1/blocks?limit=80&since_id=4180>; rel=\"prev\""
            ),
        )]);
        assert_eq!(next_link(&h).as_deref(), Some(next));
        let h = headers(&[(
            "link",
            "<https://a.example/x?since_id=9>; rel=\"prev\", <https://a.example/x?max_id=1,2>; REL=next",
        )]);
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://a.example/x?max_id=1,2"),
            "a comma inside the URL, an unquoted rel"
        );
        let h = headers(&[
            ("link", "<https://a.example/x?since_id=9>; rel=\"prev\""),
            ("link", "<https://a.example/x?max_id=3>; rel=\"next last\""),
        ]);
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://a.example/x?max_id=3")
        );
        let only_prev = headers(&[("link", "<https://a.example/x?since_id=9>; rel=\"prev\"")]);
        assert_eq!(next_link(&only_prev), None, "the last page");
        assert_eq!(next_link(&HeaderMap::new()), None);
        assert_eq!(link_with_rel("garbage, <unclosed", "next"), None);
    }

    #[test]
    fn cursors_are_the_links_path_and_query_as_given() {
        assert_eq!(
            cursor_of(
                "https://mastodon.test/api/v1/blocks?limit=80&max_id=4101",
                "/api/v1/blocks"
            )
            .unwrap(),
            "/api/v1/blocks?limit=80&max_id=4101"
        );
        assert_eq!(
            cursor_of("/api/v1/domain_blocks?max_id=7", "/api/v1/domain_blocks").unwrap(),
            "/api/v1/domain_blocks?max_id=7"
        );
        assert!(cursor_of("https://evil.example/steal", "/api/v1/blocks").is_err());
        assert!(cursor_of("not a url", "/api/v1/blocks").is_err());
    }

    #[test]
    fn refusals_stop_wait_or_retry() {
        let invalid = br#"{"error":"The access token is invalid"}"#;
        match refusal(401, invalid) {
            Some(Verdict::Rejected { message, hint, .. }) => {
                assert_eq!(message, "The access token is invalid");
                assert_eq!(hint, INVALID_TOKEN_HINT);
            }
            other => panic!("{other:?}"),
        }
        let scope = br#"{"error":"This action is outside the authorized scopes"}"#;
        assert!(matches!(
            refusal(403, scope),
            Some(Verdict::Rejected {
                hint: SCOPE_HINT,
                ..
            })
        ));
        let disabled = br#"{"error":"Your login is currently disabled"}"#;
        assert!(matches!(
            refusal(403, disabled),
            Some(Verdict::Rejected {
                hint: ACCOUNT_HINT,
                ..
            })
        ));
        let app = br#"{"error":"This method requires an authenticated user"}"#;
        assert!(matches!(
            refusal(422, app),
            Some(Verdict::Rejected {
                hint: APP_TOKEN_HINT,
                ..
            })
        ));
        assert_eq!(
            refusal(429, br#"{"error":"Too many requests"}"#),
            Some(Verdict::RateLimited { retry_after: None })
        );
        assert_eq!(
            refusal(503, b"<html><body>503 Service Unavailable</body></html>"),
            Some(Verdict::Transient {
                error_code: None,
                message: "HTTP 503".into()
            })
        );
        assert_eq!(refusal(404, br#"{"error":"Record not found"}"#), None);
        assert_eq!(refusal(422, br#"{"error":"Validation failed"}"#), None);
        for hint in [INVALID_TOKEN_HINT, SCOPE_HINT, APP_TOKEN_HINT] {
            assert!(
                hint.contains("read:blocks write:blocks read:accounts"),
                "{hint}"
            );
        }
    }
}
