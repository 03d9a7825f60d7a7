//! What an endpoint answers, before it becomes an HTTP response, and the parsed request the
//! endpoints read.
//!
//! Handlers run under the state lock, so they produce a plain value (status, serialized body,
//! error code) and the HTTP response is built after the lock is released.

use serde::Serialize;
use serde_json::json;

use super::route::Route;
use crate::emulator::request::first_param;
use crate::emulator::seed::Redacted;

/// The base of problem `type` URIs in v2 errors (older captures use this host).
pub const PROBLEMS: &str = "https://api.twitter.com/2/problems";

/// A request, parsed once on arrival.
pub struct Incoming {
    /// The HTTP method, uppercase.
    pub method: String,
    /// The path, as sent (still percent-encoded).
    pub path: String,
    /// The base URLs the signature may cover: `http://{host}{path}`, and when a proxy says
    /// the client spoke https (`X-Forwarded-Proto`), `https://{host}{path}` too.
    pub base_urls: Vec<String>,
    /// Query parameters, then form-body parameters, decoded.
    pub params: Vec<(String, String)>,
    /// The `Authorization` header, when it is valid text.
    pub authorization: Option<String>,
    /// A JSON body (v2 writes), when the content type says JSON and it parses.
    pub json: Option<serde_json::Value>,
    /// The endpoint and its path parameters.
    pub route: Route,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The Authorization header names the consumer key and the token: never shown.
        f.debug_struct("Incoming")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("route", &self.route)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| Redacted),
            )
            .finish_non_exhaustive()
    }
}

impl Incoming {
    /// The first value of a parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        first_param(&self.params, key)
    }

    /// The first value of a parameter, when not empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.param(key).filter(|v| !v.trim().is_empty())
    }
}

/// How the body is labelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// v1.1 JSON (`application/json;charset=utf-8`).
    V1,
    /// v2 JSON (`application/json; charset=utf-8`).
    V2,
    /// v2 problem JSON (`application/problem+json`).
    Problem,
}

/// An endpoint's answer.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The serialized body.
    pub body: Vec<u8>,
    /// How to label the body.
    pub kind: BodyKind,
    /// The v1.1 error code, if this is a v1.1 error.
    pub error_code: Option<u32>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body is left out: `rate_limit_status` echoes the access token, as the real API does.
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("kind", &self.kind)
            .field("error_code", &self.error_code)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Reply {
    /// A 200 v1.1 body.
    pub fn v1(value: &impl Serialize) -> Reply {
        Reply::serialized(200, value, BodyKind::V1)
    }

    /// A 200 v2 body.
    pub fn v2(value: &impl Serialize) -> Reply {
        Reply::serialized(200, value, BodyKind::V2)
    }

    fn serialized(status: u16, value: &impl Serialize, kind: BodyKind) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status,
                body,
                kind,
                error_code: None,
            },
            // Only a bug in a handler's types could get here; answer like the real API's 500.
            Err(_) if kind == BodyKind::V1 => Reply::v1_error(500, 131, "Internal error."),
            Err(_) => Reply::problem(500, "Internal Server Error"),
        }
    }

    /// A v1.1 error: `{"errors":[{"code":N,"message":"..."}]}`.
    pub fn v1_error(status: u16, code: u32, message: &str) -> Reply {
        let body = json!({"errors": [{"code": code, "message": message}]});
        Reply {
            status,
            body: body.to_string().into_bytes(),
            kind: BodyKind::V1,
            error_code: Some(code),
        }
    }

    /// A v2 problem with `type: about:blank` and `detail` equal to `title`.
    pub fn problem(status: u16, title: &str) -> Reply {
        Reply::problem_json(
            status,
            json!({"title": title, "type": "about:blank", "status": status, "detail": title}),
        )
    }

    /// A v2 problem with a body of its own.
    pub fn problem_json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            body: body.to_string().into_bytes(),
            kind: BodyKind::Problem,
            error_code: None,
        }
    }

    /// The v2 400 for a bad parameter.
    pub fn invalid_request(parameter: &str, value: &str, message: String) -> Reply {
        Reply::problem_json(
            400,
            json!({
                "errors": [{"parameters": {parameter: [value]}, "message": message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": format!("{PROBLEMS}/invalid-request"),
            }),
        )
    }

    /// The v1.1 route-missing 404 (code 34), used for every unknown route outside `/2/` and
    /// for a v1.1 target that no longer exists.
    pub fn no_such_page() -> Reply {
        Reply::v1_error(404, 34, "Sorry, that page does not exist.")
    }

    /// The 404 for an unknown route: problem JSON under `/2/` (every v2 error is), else code 34.
    pub fn unknown_route(path: &str) -> Reply {
        if super::route::is_v2_path(path) {
            Reply::problem(404, "Not Found")
        } else {
            Reply::no_such_page()
        }
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The message the real API pairs with a v1.1 error code, for codes a knob can choose.
pub fn message_for(code: u32) -> &'static str {
    match code {
        17 => "No user matches for specified terms.",
        34 => "Sorry, that page does not exist.",
        38 => "user_id or screen_name parameter is missing.",
        50 => "User not found.",
        63 => "User has been suspended.",
        _ => "Sorry, that page does not exist.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_authorization_header_and_bodies() {
        let req = Incoming {
            method: "GET".into(),
            path: "/2/users/me".into(),
            base_urls: vec!["http://127.0.0.1:1/2/users/me".into()],
            params: Vec::new(),
            authorization: Some(
                "OAuth oauth_consumer_key=\"KeyValue\", oauth_token=\"1-TokenValue\"".into(),
            ),
            json: None,
            route: super::super::route::resolve("GET", "/2/users/me"),
        };
        let text = format!("{req:?}");
        assert!(
            !text.contains("KeyValue") && !text.contains("TokenValue"),
            "{text}"
        );
        assert!(text.contains("/2/users/me"), "{text}");
        let reply = Reply::v1(&json!({"rate_limit_context": {"access_token": "1-TokenValue"}}));
        let text = format!("{reply:?}");
        assert!(
            !text.contains("TokenValue") && text.contains("200"),
            "{text}"
        );
    }

    #[test]
    fn unknown_routes_answer_in_their_family() {
        let v2 = Reply::unknown_route("/2/nope");
        assert_eq!(
            (v2.status, v2.kind, v2.error_code),
            (404, BodyKind::Problem, None)
        );
        let v1 = Reply::unknown_route("/1.1/nope.json");
        assert_eq!(
            (v1.status, v1.kind, v1.error_code),
            (404, BodyKind::V1, Some(34))
        );
        assert_eq!(Reply::unknown_route("/2").kind, BodyKind::Problem);
        assert_eq!(Reply::unknown_route("/2x").kind, BodyKind::V1);
    }
}
