//! The parsed request the endpoints read, and what an endpoint answers before it becomes an HTTP
//! response.
//!
//! Handlers run under the state lock, so they produce a plain value (status, serialized body,
//! the error text) and the HTTP response is built after the lock is released. Parameters are
//! read as Rails merges them: a JSON body's fields, then the form body's and the query's, the
//! last value of a repeated key winning.

use serde::Serialize;
use serde_json::json;

use super::route::Route;
use crate::emulator::seed::Redacted;

/// `application/json; charset=utf-8`, as Rails labels JSON.
pub const JSON: &str = "application/json; charset=utf-8";
/// `text/html; charset=utf-8`, for the error pages of a proxy.
pub const HTML: &str = "text/html; charset=utf-8";

/// A request, parsed once on arrival.
pub struct Incoming {
    /// The HTTP method, uppercase.
    pub method: String,
    /// The path, as sent (still percent-encoded).
    pub path: String,
    /// `http` or, behind a proxy that says so (`X-Forwarded-Proto`), `https`: the scheme of the
    /// URLs the answer links to.
    pub scheme: &'static str,
    /// The `Host` header, lowercase, port included.
    pub host: String,
    /// Query parameters, then form-body parameters, decoded.
    pub params: Vec<(String, String)>,
    /// A JSON body, when the content type says JSON and it parses.
    pub json: Option<serde_json::Value>,
    /// The access token, from `Authorization: Bearer …`, else the `access_token` or
    /// `bearer_token` parameter (Doorkeeper's `access_token_methods` as Mastodon sets them).
    pub token: Option<String>,
    /// The endpoint and its path parameter.
    pub route: Route,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("route", &self.route)
            .field("token", &self.token.as_ref().map(|_| Redacted))
            .finish_non_exhaustive()
    }
}

/// The parameters that carry a token: never logged.
pub const TOKEN_PARAMS: [&str; 2] = ["access_token", "bearer_token"];

impl Incoming {
    /// A parameter as Rails' `params[key]` reads it: a JSON body's string or number first,
    /// else the last value sent in the form body or the query.
    pub fn param(&self, key: &str) -> Option<String> {
        if let Some(value) = self.json.as_ref().and_then(|j| j.get(key)) {
            match value {
                serde_json::Value::String(s) => return Some(s.clone()),
                serde_json::Value::Number(n) => return Some(n.to_string()),
                serde_json::Value::Bool(b) => return Some(b.to_string()),
                _ => {}
            }
        }
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// A parameter that is `present?` in Rails' sense: sent and not blank.
    pub fn present(&self, key: &str) -> Option<String> {
        self.param(key).filter(|v| !v.trim().is_empty())
    }

    /// Every value of an array parameter (`id[]=1&id[]=2`, or a JSON array), or the single
    /// value of the plain key.
    pub fn list(&self, key: &str) -> Vec<String> {
        if let Some(serde_json::Value::Array(items)) = self.json.as_ref().and_then(|j| j.get(key)) {
            return items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
        }
        let bracketed = format!("{key}[]");
        let many: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| *k == bracketed)
            .map(|(_, v)| v.clone())
            .collect();
        if many.is_empty() {
            self.param(key).into_iter().collect()
        } else {
            many
        }
    }

    /// True when the request pages (`paging_request?`): a non-blank `page`, `min_id`, `max_id`
    /// or `since_id`.
    pub fn is_paging(&self) -> bool {
        ["page", "min_id", "max_id", "since_id"]
            .iter()
            .any(|k| self.present(k).is_some())
    }
}

/// An endpoint's answer.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The serialized body.
    pub body: Vec<u8>,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The `error` text of an error body, for the request log.
    pub error: Option<String>,
    /// Headers of the answer itself (`Link`, `WWW-Authenticate`).
    pub headers: Vec<(&'static str, String)>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("error", &self.error)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// A 200 JSON body.
    pub fn ok(value: &impl Serialize) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status: 200,
                body,
                content_type: JSON,
                error: None,
                headers: Vec::new(),
            },
            // Only a bug in a handler's types could get here.
            Err(_) => Reply::error(500, "Internal Server Error"),
        }
    }

    /// An error: `{"error":"…"}`.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply {
            status,
            body: json!({ "error": message }).to_string().into_bytes(),
            content_type: JSON,
            error: Some(message.to_owned()),
            headers: Vec::new(),
        }
    }

    /// 404 `Record not found` (`ActiveRecord::RecordNotFound`, rescued by the API's base
    /// controller).
    pub fn not_found() -> Reply {
        Reply::error(404, "Record not found")
    }

    /// The 404 of a route Mastodon does not have.
    pub fn no_route() -> Reply {
        Reply::error(404, "Not Found")
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Doorkeeper's 401 for a missing, unknown or revoked token: the description in the body and in
/// `WWW-Authenticate`.
pub fn invalid_token(description: &str) -> Reply {
    Reply::error(401, description).with_header(
        "www-authenticate",
        format!(
            "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"{description}\""
        ),
    )
}

/// The 403 for a token without any of the scopes an endpoint accepts: Mastodon's body
/// (`doorkeeper_forbidden_render_options`), Doorkeeper's `WWW-Authenticate`.
pub fn outside_scopes(scopes: &[&str]) -> Reply {
    Reply::error(403, "This action is outside the authorized scopes").with_header(
        "www-authenticate",
        format!(
            "Bearer realm=\"Doorkeeper\", error=\"insufficient_scope\", error_description=\"Access to this resource requires scope \\\"{}\\\".\"",
            scopes.join(" ")
        ),
    )
}

/// The reason phrase of a status, for error pages.
pub fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::mastodon::route::resolve;

    fn incoming(params: &[(&str, &str)], json: Option<serde_json::Value>) -> Incoming {
        Incoming {
            method: "GET".into(),
            path: "/api/v1/blocks".into(),
            scheme: "http",
            host: "127.0.0.1:1".into(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            json,
            token: Some("SecretTokenValue".into()),
            route: resolve("GET", "/api/v1/blocks"),
        }
    }

    #[test]
    fn parameters_read_as_rails_merges_them() {
        let req = incoming(
            &[
                ("limit", "5"),
                ("limit", "7"),
                ("max_id", " "),
                ("id[]", "1"),
                ("id[]", "2"),
            ],
            None,
        );
        assert_eq!(req.param("limit").as_deref(), Some("7"));
        assert_eq!(req.present("max_id"), None);
        assert!(!req.is_paging());
        assert_eq!(req.list("id"), ["1", "2"]);
        let req = incoming(
            &[("domain", "query.example"), ("since_id", "3")],
            Some(json!({"domain": "body.example", "id": ["9"]})),
        );
        assert_eq!(req.param("domain").as_deref(), Some("body.example"));
        assert_eq!(req.list("id"), ["9"]);
        assert!(req.is_paging());
        assert!(!format!("{req:?}").contains("SecretTokenValue"));
    }

    #[test]
    fn auth_errors_carry_doorkeepers_challenge() {
        let r = invalid_token("The access token is invalid");
        assert_eq!(r.status, 401);
        assert_eq!(r.body, br#"{"error":"The access token is invalid"}"#);
        assert!(r.headers[0].1.contains("error=\"invalid_token\""));
        let r = outside_scopes(&["read", "read:follows"]);
        assert_eq!(r.status, 403);
        assert_eq!(
            r.error.as_deref(),
            Some("This action is outside the authorized scopes")
        );
        assert!(r.headers[0].1.contains("read read:follows"));
        assert_eq!(reason(503), "Service Unavailable");
    }
}
