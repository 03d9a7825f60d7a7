//! Reading X API v2 responses: problem JSON, partial errors, and the outcome they mean.
//!
//! v2 has no numeric error codes: a failure is told by its HTTP status and by the problem
//! document's `type`, `reason` and `detail`. Pure functions over status, headers and body, so
//! every mapping is unit-tested without a server. Rate-limit and `Date` headers are read by the
//! shared functions of the v1.1 [`response`](super::super::response) module (same names on v2).

use std::collections::HashMap;
use std::time::SystemTime;

use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::http::{retry_after, server_date};
use crate::network::{Account, BlockPage, Settled, UserRef, Verdict};
use crate::outcome::{Action, Outcome};

/// What to do when block management is outside the app's access tier.
pub const TIER_HINT: &str = "Block management through API v2 needs Enterprise access on X's \
                             current plans; this app's access level does not include it.";

/// What to do when the credentials are refused.
pub const AUTH_HINT: &str = "Check TWITTER_CONSUMER_KEY, TWITTER_CONSUMER_SECRET, \
                             TWITTER_ACCESS_TOKEN and TWITTER_ACCESS_TOKEN_SECRET: they must all \
                             belong to the same app and account, and the access token may have \
                             been revoked.";

/// What to do when the app may only read.
pub const PERMISSION_HINT: &str = "The app has read-only permission: give it Read and write \
                                   permission in the developer portal, then regenerate the access \
                                   token and secret.";

/// What to do when the account the token acts for is suspended.
pub const SUSPENDED_HINT: &str = "The account is suspended and cannot use this feature.";

/// A v2 problem document (RFC 7807 style), or what could be read of a body that is not one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// Short summary, e.g. `Client Forbidden`.
    pub title: Option<String>,
    /// What happened, in words.
    pub detail: Option<String>,
    /// The problem type URI, e.g. `https://api.x.com/2/problems/client-forbidden`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// A machine-readable reason some problems carry, e.g. `client-not-enrolled`.
    pub reason: Option<String>,
}

impl Problem {
    /// Reads a problem body. A body that is not JSON keeps its first 200 characters as `detail`
    /// (proxies answer HTML), so the message still says something.
    pub fn parse(body: &[u8]) -> Problem {
        match serde_json::from_slice::<Problem>(body) {
            Ok(p) => p,
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let short: String = text.trim().chars().take(200).collect();
                Problem {
                    detail: (!short.is_empty()).then_some(short),
                    ..Problem::default()
                }
            }
        }
    }

    /// `title: detail`, or whichever of the two is present, or the bare status.
    pub fn message(&self, status: u16) -> String {
        match (&self.title, &self.detail) {
            (Some(t), Some(d)) if t != d => format!("{t}: {d}"),
            (Some(t), _) => t.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => format!("HTTP {status}"),
        }
    }

    /// The problem's type name: the last segment of its `type` URI, whatever the host
    /// (`oauth1-permissions` for `https://api.twitter.com/2/problems/oauth1-permissions` and
    /// for the same under `api.x.com`); `None` for `about:blank` or no type.
    pub fn type_name(&self) -> Option<&str> {
        let kind = self.kind.as_deref()?.trim().trim_end_matches('/');
        let (_, name) = kind.rsplit_once("/problems/")?;
        (!name.is_empty()).then_some(name)
    }

    fn detail_lower(&self) -> String {
        self.detail.as_deref().unwrap_or("").to_lowercase()
    }
}

/// When a 403 refuses the app or the account rather than one target, what the user should do.
fn forbidden_hint(problem: &Problem) -> Option<&'static str> {
    // The machine-readable names first: they do not change with the wording. A read-only app
    // gets `{"title":"Forbidden","status":403,"detail":"Your client app is not configured with
    // the appropriate oauth1 app permissions for this endpoint.","type":
    // "https://api.twitter.com/2/problems/oauth1-permissions"}` (as reported by users of other
    // clients, e.g. PLhery/node-twitter-api-v2#493; not in X's own reference); an app below the
    // access tier gets type `client-forbidden` with reason `client-not-enrolled`.
    for name in [problem.type_name(), problem.reason.as_deref()]
        .into_iter()
        .flatten()
    {
        match name {
            "oauth1-permissions" => return Some(PERMISSION_HINT),
            "client-forbidden" | "client-not-enrolled" => return Some(TIER_HINT),
            _ => {}
        }
    }
    // Then the words of the detail, for bodies whose type says nothing (`about:blank`).
    let detail = problem.detail_lower();
    let says = |words: &[&str]| words.iter().any(|w| detail.contains(w));
    if says(&["your account is suspended"]) {
        Some(SUSPENDED_HINT)
    } else if says(&["app permissions"]) {
        Some(PERMISSION_HINT)
    } else if says(&["access level", "access tier", "enrolled", "enrollment"]) {
        Some(TIER_HINT)
    } else {
        None
    }
}

/// When a status and problem mean no request of this run can succeed, what the user should do.
pub fn rejection_hint(status: u16, problem: &Problem) -> Option<&'static str> {
    match status {
        401 => Some(AUTH_HINT),
        403 => forbidden_hint(problem),
        _ => None,
    }
}

/// What a problem or partial error's `detail` says about the target, when it says anything.
pub fn target_outcome(detail: &str) -> Option<Outcome> {
    let detail = detail.to_lowercase();
    if detail.contains("suspended") {
        Some(Outcome::Suspended)
    } else if ["could not find", "not found", "does not exist"]
        .iter()
        .any(|words| detail.contains(words))
    {
        Some(Outcome::NotFound)
    } else {
        None
    }
}

/// Sorts a response that is not 2xx (any v2 endpoint). Target outcomes come back as `Ok`.
pub fn classify_error(status: u16, body: &[u8], headers: &HeaderMap) -> Result<Settled, Verdict> {
    let problem = Problem::parse(body);
    let message = problem.message(status);
    if status == 429 {
        // The usage-capped variant is a 429 too: waiting for the reset is all that can be done.
        return Err(Verdict::RateLimited {
            retry_after: retry_after(
                headers,
                server_date(headers).unwrap_or_else(SystemTime::now),
            ),
        });
    }
    if let Some(hint) = rejection_hint(status, &problem) {
        return Err(Verdict::Rejected {
            error_code: None,
            message,
            hint,
        });
    }
    if (500..=599).contains(&status) {
        return Err(Verdict::Transient {
            error_code: None,
            message,
        });
    }
    let outcome = match status {
        404 => Outcome::NotFound,
        403 => problem
            .detail
            .as_deref()
            .and_then(target_outcome)
            .unwrap_or(Outcome::Failed),
        _ => Outcome::Failed,
    };
    Ok(Settled {
        outcome,
        user: UserRef::default(),
        error_code: None,
        message: Some(message),
    })
}

/// Sorts one response to the v2 block or unblock request. `user` is left empty: the answer
/// (`{"data":{"blocking":false}}`) does not name the user, the caller does.
pub fn classify(
    action: Action,
    status: u16,
    body: &[u8],
    headers: &HeaderMap,
) -> Result<Settled, Verdict> {
    if !(200..300).contains(&status) {
        return classify_error(status, body, headers);
    }
    #[derive(Deserialize)]
    struct Data {
        blocking: Option<bool>,
    }
    #[derive(Deserialize)]
    struct Body {
        data: Option<Data>,
    }
    let blocking = serde_json::from_slice::<Body>(body)
        .ok()
        .and_then(|b| b.data)
        .and_then(|d| d.blocking);
    let wanted = action == Action::Block;
    match blocking {
        // An answer that contradicts the request means it did not take; try again next run.
        Some(state) if state != wanted => Ok(Settled {
            outcome: Outcome::Failed,
            user: UserRef::default(),
            error_code: None,
            message: Some(format!(
                "the server answered HTTP {status} but reports blocking={state}"
            )),
        }),
        // A 2xx without the flag still did what it was asked; the status is the contract.
        _ => Ok(Settled::bare(action.success())),
    }
}

/// A v2 user object's identity.
#[derive(Clone, Debug, Deserialize)]
struct User {
    id: String,
    username: Option<String>,
}

impl User {
    fn into_ref(self) -> UserRef {
        UserRef {
            user_id: Some(self.id),
            screen_name: self.username,
        }
    }
}

/// The body of `GET /2/users/me`.
pub fn parse_me(body: &[u8]) -> Result<Account, String> {
    #[derive(Deserialize)]
    struct Me {
        data: User,
    }
    let me: Me = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    // The ID goes into request paths: anything but digits would change what they name.
    if me.data.id.is_empty() || !me.data.id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the server returned a bad user ID `{}`",
            me.data.id
        ));
    }
    Ok(Account {
        user_id: me.data.id,
        screen_name: me.data.username,
    })
}

/// One page of `GET /2/users/{id}/blocking`, with the screen names it gives.
pub fn parse_blocking_page(body: &[u8]) -> Result<BlockPage, String> {
    #[derive(Deserialize)]
    struct Meta {
        next_token: Option<String>,
    }
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        data: Vec<User>,
        meta: Option<Meta>,
    }
    let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(page.data.len());
    let mut names = HashMap::new();
    for user in page.data {
        let id = crate::network::x::identity::parse_id(&user.id)
            .map_err(|_| format!("bad user ID `{}`", user.id))?
            .text()
            .to_owned();
        if let Some(name) = user.username.filter(|n| !n.is_empty()) {
            names.insert(id.clone(), name);
        }
        ids.push(id);
    }
    let next = page
        .meta
        .and_then(|m| m.next_token)
        .filter(|t| !t.is_empty());
    Ok(BlockPage { ids, next, names })
}

/// A name or ID a lookup could not return, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The name or ID as sent.
    pub value: String,
    /// What the partial error's `detail` says of the user; `None` when it says nothing known.
    pub outcome: Option<Outcome>,
    /// `title: detail` of the partial error.
    pub message: String,
}

/// The answer of `GET /2/users/by` or `GET /2/users`: users found, and partial errors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The users found.
    pub users: Vec<UserRef>,
    /// The names or IDs that were not.
    pub missing: Vec<Missing>,
}

/// Reads a 200 lookup body. Missing users come as partial errors beside (or instead of) `data`.
pub fn parse_lookup(body: &[u8]) -> Result<Lookup, String> {
    #[derive(Deserialize)]
    struct PartialError {
        value: Option<serde_json::Value>,
        resource_id: Option<String>,
        title: Option<String>,
        detail: Option<String>,
    }
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        data: Vec<User>,
        #[serde(default)]
        errors: Vec<PartialError>,
    }
    let parsed: Body = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let missing = parsed
        .errors
        .into_iter()
        .filter_map(|e| {
            let value = match e.value {
                Some(serde_json::Value::String(s)) => Some(s),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => e.resource_id,
            }?;
            let problem = Problem {
                title: e.title,
                detail: e.detail,
                ..Problem::default()
            };
            Some(Missing {
                outcome: problem.detail.as_deref().and_then(target_outcome),
                message: problem.message(200),
                value,
            })
        })
        .collect();
    Ok(Lookup {
        users: parsed.data.into_iter().map(User::into_ref).collect(),
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::time::Duration;

    const TIER_403: &[u8] = br#"{"client_id":"123","required_enrollment":"Enterprise","registration_url":"https://developer.x.com/en/portal/product","title":"Client Forbidden","detail":"This request must be made using an approved developer account that is enrolled in the requested endpoint. Learn more by visiting our documentation.","reason":"client-not-enrolled","type":"https://api.x.com/2/problems/client-forbidden"}"#;

    fn none() -> HeaderMap {
        HeaderMap::new()
    }

    fn done(v: &Result<Settled, Verdict>) -> Option<(Outcome, Option<&str>)> {
        v.as_ref().ok().map(|s| (s.outcome, s.message.as_deref()))
    }

    #[test]
    fn unblock_success_and_block_success() {
        let v = classify(
            Action::Unblock,
            200,
            br#"{"data":{"blocking":false}}"#,
            &none(),
        );
        assert_eq!(done(&v), Some((Outcome::Unblocked, None)));
        let v = classify(
            Action::Block,
            200,
            br#"{"data":{"blocking":true}}"#,
            &none(),
        );
        assert_eq!(done(&v), Some((Outcome::Blocked, None)));
        // A contradicting flag means the request did not take.
        let v = classify(
            Action::Unblock,
            200,
            br#"{"data":{"blocking":true}}"#,
            &none(),
        );
        assert_eq!(done(&v).map(|d| d.0), Some(Outcome::Failed));
    }

    #[test]
    fn too_many_requests_is_rate_limited() {
        let body = br#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#;
        assert_eq!(
            classify(Action::Unblock, 429, body, &none()),
            Err(Verdict::RateLimited { retry_after: None })
        );
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("9"));
        let capped = br#"{"title":"UsageCapExceeded","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.x.com/2/problems/usage-capped","status":429}"#;
        assert_eq!(
            classify(Action::Unblock, 429, capped, &h),
            Err(Verdict::RateLimited {
                retry_after: Some(Duration::from_secs(9))
            })
        );
    }

    #[test]
    fn unauthorized_is_rejected_with_the_credentials_hint() {
        let body =
            br#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#;
        assert_eq!(
            classify(Action::Unblock, 401, body, &none()),
            Err(Verdict::Rejected {
                error_code: None,
                message: "Unauthorized".into(),
                hint: AUTH_HINT,
            })
        );
    }

    #[test]
    fn access_tier_refusals_are_rejected_with_the_enterprise_hint() {
        match classify(Action::Unblock, 403, TIER_403, &none()) {
            Err(Verdict::Rejected {
                error_code,
                message,
                hint,
            }) => {
                assert_eq!(error_code, None);
                assert!(message.starts_with("Client Forbidden: This request must be made"));
                assert_eq!(hint, TIER_HINT);
            }
            v => panic!("{v:?}"),
        }
        // Each signal alone is enough: the type, the reason, or the words of the detail.
        for body in [
            br#"{"title":"Client Forbidden","type":"https://api.twitter.com/2/problems/client-forbidden"}"#.as_slice(),
            br#"{"title":"Forbidden","reason":"client-not-enrolled"}"#,
            br#"{"title":"Forbidden","type":"about:blank","detail":"You currently have access to a subset of X API V2 endpoints. If you need access to this endpoint, you may need a different access level."}"#,
        ] {
            assert!(
                matches!(
                    classify(Action::Unblock, 403, body, &none()),
                    Err(Verdict::Rejected { hint: TIER_HINT, .. })
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn account_wide_403s_stop_the_run() {
        let suspended = br#"{"title":"Forbidden","type":"about:blank","status":403,"detail":"Your account is suspended and is not permitted to access this feature."}"#;
        assert!(matches!(
            classify(Action::Unblock, 403, suspended, &none()),
            Err(Verdict::Rejected {
                hint: SUSPENDED_HINT,
                ..
            })
        ));
    }

    #[test]
    fn a_read_only_app_is_told_by_the_problem_type() {
        // The shape users of other clients report for a read-only app's write.
        let real = br#"{"title":"Forbidden","status":403,"detail":"Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.","type":"https://api.twitter.com/2/problems/oauth1-permissions"}"#;
        match classify(Action::Unblock, 403, real, &none()) {
            Err(Verdict::Rejected { message, hint, .. }) => {
                assert_eq!(hint, PERMISSION_HINT);
                assert!(
                    message.starts_with("Forbidden: Your client app"),
                    "{message}"
                );
            }
            v => panic!("{v:?}"),
        }
        // The type alone is enough, under either host, whatever the detail says (or without one);
        // the detail's words are enough when the type says nothing.
        for body in [
            br#"{"title":"Forbidden","type":"https://api.x.com/2/problems/oauth1-permissions/"}"#.as_slice(),
            br#"{"title":"Forbidden","status":403,"detail":"Forbidden","type":"https://api.twitter.com/2/problems/oauth1-permissions"}"#,
            br#"{"title":"Forbidden","type":"about:blank","status":403,"detail":"Your client app is not configured with the appropriate oauth1 app permissions for this endpoint."}"#,
        ] {
            assert!(
                matches!(
                    classify(Action::Unblock, 403, body, &none()),
                    Err(Verdict::Rejected { hint: PERMISSION_HINT, .. })
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // A bare `Forbidden` names nobody's fault: it stays the target's.
        let bare =
            br#"{"title":"Forbidden","type":"about:blank","status":403,"detail":"Forbidden"}"#;
        assert_eq!(
            done(&classify(Action::Unblock, 403, bare, &none())).map(|d| d.0),
            Some(Outcome::Failed)
        );
    }

    #[test]
    fn problem_type_names_ignore_the_host() {
        let named = |kind: &str| Problem {
            kind: Some(kind.to_owned()),
            ..Problem::default()
        };
        assert_eq!(
            named("https://api.x.com/2/problems/client-forbidden").type_name(),
            Some("client-forbidden")
        );
        assert_eq!(
            named("https://api.twitter.com/2/problems/oauth1-permissions").type_name(),
            Some("oauth1-permissions")
        );
        assert_eq!(named("about:blank").type_name(), None);
        assert_eq!(named("https://api.x.com/2/problems/").type_name(), None);
        assert_eq!(Problem::default().type_name(), None);
    }

    #[test]
    fn target_403s_are_sorted_by_their_detail() {
        let v = classify(
            Action::Unblock,
            403,
            br#"{"title":"Forbidden","type":"about:blank","status":403,"detail":"User has been suspended: [42]."}"#,
            &none(),
        );
        assert_eq!(done(&v).map(|d| d.0), Some(Outcome::Suspended));
        let v = classify(
            Action::Unblock,
            403,
            br#"{"title":"Forbidden","detail":"Could not find user with ids: [42]."}"#,
            &none(),
        );
        assert_eq!(done(&v).map(|d| d.0), Some(Outcome::NotFound));
        let v = classify(
            Action::Unblock,
            403,
            br#"{"title":"Forbidden","type":"about:blank","status":403,"detail":"You are not permitted to perform this action."}"#,
            &none(),
        );
        assert_eq!(
            done(&v),
            Some((
                Outcome::Failed,
                Some("Forbidden: You are not permitted to perform this action.")
            ))
        );
    }

    #[test]
    fn not_found_faults_and_other_errors() {
        let v = classify(
            Action::Unblock,
            404,
            br#"{"title":"Not Found Error","detail":"Could not find user."}"#,
            &none(),
        );
        assert_eq!(
            done(&v),
            Some((
                Outcome::NotFound,
                Some("Not Found Error: Could not find user.")
            ))
        );
        let v = classify(
            Action::Unblock,
            503,
            br#"{"title":"Service Unavailable","detail":"Service Unavailable","type":"about:blank","status":503}"#,
            &none(),
        );
        assert_eq!(
            v,
            Err(Verdict::Transient {
                error_code: None,
                message: "Service Unavailable".into()
            })
        );
        assert!(matches!(
            classify(Action::Unblock, 502, b"<html>bad gateway</html>", &none()),
            Err(Verdict::Transient { message, .. }) if message == "<html>bad gateway</html>"
        ));
        let bad = br#"{"errors":[{"parameters":{"id":["x"]},"message":"The `id` query parameter value [x] is not valid"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}"#;
        assert_eq!(
            done(&classify(Action::Unblock, 400, bad, &none())),
            Some((
                Outcome::Failed,
                Some("Invalid Request: One or more parameters to your request was invalid.")
            ))
        );
        assert_eq!(
            done(&classify(Action::Unblock, 400, b"", &none())),
            Some((Outcome::Failed, Some("HTTP 400")))
        );
    }

    #[test]
    fn me_reads_the_id_and_username() {
        let me = parse_me(
            br#"{"data":{"id":"1072250532645998596","name":"Tweepy Testing","username":"TweepyDev"}}"#,
        )
        .unwrap();
        assert_eq!(me.user_id, "1072250532645998596");
        assert_eq!(me.screen_name.as_deref(), Some("TweepyDev"));
        assert!(parse_me(br#"{"data":{"id":"","username":"x"}}"#).is_err());
        assert!(parse_me(br#"{"data":{"id":"1/../2","username":"x"}}"#).is_err());
        assert!(parse_me(br#"{"title":"Unauthorized"}"#).is_err());
    }

    #[test]
    fn blocking_pages_read_ids_and_next_token() {
        let page = parse_blocking_page(
            br#"{"data":[{"id":"17874544","name":"Twitter Support","username":"TwitterSupport"},{"id":"12","name":"j","username":"jack"},{"id":"13","name":"no handle"}],"meta":{"result_count":3,"next_token":"1710819323648428707"}}"#,
        )
        .unwrap();
        assert_eq!(page.ids, vec!["17874544", "12", "13"]);
        assert_eq!(page.next.as_deref(), Some("1710819323648428707"));
        let names: HashMap<String, String> = [
            ("17874544".to_owned(), "TwitterSupport".to_owned()),
            ("12".to_owned(), "jack".to_owned()),
        ]
        .into_iter()
        .collect();
        assert_eq!(page.names, names, "the names come with the IDs");
        let last = parse_blocking_page(br#"{"meta":{"result_count":0}}"#).unwrap();
        assert_eq!(last, BlockPage::default());
        assert!(parse_blocking_page(br#"{"data":[{"id":"x"}],"meta":{}}"#).is_err());
    }

    #[test]
    fn lookups_sort_partial_errors() {
        let lookup = parse_lookup(
            br#"{"data":[{"id":"783214","name":"Twitter","username":"Twitter"}],"errors":[{"value":"x","detail":"Could not find user with usernames: [x].","title":"Not Found Error","resource_type":"user","parameter":"usernames","resource_id":"x","type":"https://api.twitter.com/2/problems/resource-not-found"},{"value":"sus","detail":"User has been suspended: [sus].","title":"Forbidden","resource_type":"user","parameter":"usernames","resource_id":"sus","type":"https://api.twitter.com/2/problems/resource-not-found"},{"value":"odd","detail":"Something else.","title":"Odd"}]}"#,
        )
        .unwrap();
        assert_eq!(lookup.users.len(), 1);
        assert_eq!(lookup.users[0].user_id.as_deref(), Some("783214"));
        let outcomes: Vec<_> = lookup
            .missing
            .iter()
            .map(|m| (m.value.as_str(), m.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("x", Some(Outcome::NotFound)),
                ("sus", Some(Outcome::Suspended)),
                ("odd", None)
            ]
        );
        assert_eq!(lookup.missing[2].message, "Odd: Something else.");
        assert_eq!(parse_lookup(b"{}").unwrap(), Lookup::default());
    }
}
