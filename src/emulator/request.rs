//! What every network reads from a request before its own routing and authentication: the
//! method, path and host, the parameters wherever they were sent, a JSON body, and the
//! headers a proxy adds.
//!
//! Parsed once on arrival, outside the state lock, so the lock's critical sections only look
//! things up.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, Method, Uri};

/// The parts of a request every network needs.
#[derive(Clone, PartialEq)]
pub struct Parts {
    /// The HTTP method, uppercase.
    pub method: String,
    /// The path, as sent (still percent-encoded).
    pub path: String,
    /// The `Host` header (or the request target's authority), lowercase, port included.
    pub host: String,
    /// Query parameters, then form-body parameters (when the body is form-urlencoded), decoded.
    pub params: Vec<(String, String)>,
    /// A JSON body, when the content type says JSON and it parses.
    pub json: Option<serde_json::Value>,
    /// The `Authorization` header, when it is valid text.
    pub authorization: Option<String>,
    /// The first value of `X-Forwarded-Proto`, lowercase: the scheme the client used when a
    /// TLS-terminating proxy stands in front.
    pub forwarded_proto: Option<String>,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The Authorization header carries credentials: never shown.
        f.debug_struct("Parts")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("host", &self.host)
            .field("forwarded_proto", &self.forwarded_proto)
            .finish_non_exhaustive()
    }
}

impl Parts {
    /// Reads the parts of a request.
    pub fn read(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Parts {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        };
        let host = text(HOST.as_str())
            .or_else(|| uri.authority().map(|a| a.to_string()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut params: Vec<(String, String)> = uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let content_type = text(CONTENT_TYPE.as_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("application/x-www-form-urlencoded") {
            params.extend(form_urlencoded::parse(body).into_owned());
        }
        let json = if content_type.starts_with("application/json") {
            serde_json::from_slice(body).ok()
        } else {
            None
        };
        // A chain of proxies lists one scheme each; the first is the client's.
        let forwarded_proto = text("x-forwarded-proto").and_then(|v| {
            v.split(',')
                .next()
                .map(|p| p.trim().to_ascii_lowercase())
                .filter(|p| !p.is_empty())
        });
        Parts {
            method: method.as_str().to_ascii_uppercase(),
            path: uri.path().to_owned(),
            host,
            params,
            json,
            authorization: text(AUTHORIZATION.as_str()),
            forwarded_proto,
        }
    }

    /// The first value of a parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        first_param(&self.params, key)
    }
}

/// The first value of `key` among decoded parameters (a repeated one counts once, first wins).
pub fn first_param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_come_from_the_query_and_a_form_body() {
        let uri: Uri = "/p?a=1&b=x%20y".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "API.Example:8080".parse().expect("host"));
        headers.insert(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .expect("type"),
        );
        headers.insert("x-forwarded-proto", "HTTPS, http".parse().expect("proto"));
        headers.insert(AUTHORIZATION, "Bearer secret-token".parse().expect("auth"));
        let parts = Parts::read(&Method::POST, &uri, &headers, b"c=3+4");
        assert_eq!(parts.method, "POST");
        assert_eq!(parts.host, "api.example:8080");
        assert_eq!(parts.param("b"), Some("x y"));
        assert_eq!(parts.param("c"), Some("3 4"));
        assert_eq!(parts.forwarded_proto.as_deref(), Some("https"));
        assert!(parts.json.is_none());
        assert!(!format!("{parts:?}").contains("secret-token"));
    }

    #[test]
    fn a_json_body_is_parsed_and_not_taken_for_parameters() {
        let uri: Uri = "http://h.example/x".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "application/json".parse().expect("type"));
        let parts = Parts::read(&Method::POST, &uri, &headers, br#"{"k":"v"}"#);
        assert_eq!(parts.host, "h.example");
        assert!(parts.params.is_empty());
        assert_eq!(parts.json, Some(serde_json::json!({"k": "v"})));
        assert_eq!(parts.forwarded_proto, None);
    }
}
