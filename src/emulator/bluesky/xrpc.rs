//! The XRPC wire: a request as the handlers read it, and an answer before it becomes an HTTP
//! response, with the error shape every XRPC server shares (`{"error":NAME,"message":TEXT}`)
//! and the names the reference's xrpc-server gives each status.
//!
//! Handlers run under the state lock, so they produce plain values; the response is built
//! after the lock is released.

use serde::Serialize;
use serde_json::Value;

use super::Host;
use super::route::Route;
use crate::emulator::request::first_param;

/// A procedure's body, as the PDS tells them apart before validating it.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// No `Content-Type`.
    Missing,
    /// A `Content-Type` other than JSON.
    WrongType(String),
    /// JSON that does not parse (the parser's message).
    BadJson(String),
    /// A JSON body.
    Json(Value),
}

/// A request, parsed once on arrival.
#[derive(Clone)]
pub struct Incoming {
    /// The host it arrived at.
    pub host: Host,
    /// The HTTP method, uppercase.
    pub method: String,
    /// The path.
    pub path: String,
    /// The method it names.
    pub route: Route,
    /// Query parameters, decoded, in order (repeated ones repeated).
    pub params: Vec<(String, String)>,
    /// The body.
    pub body: Body,
    /// The `Authorization` header, when it is valid text.
    pub authorization: Option<String>,
    /// The client's address as the rate limiter keys it.
    pub ip: String,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The Authorization header and the body (a password) are never shown.
        f.debug_struct("Incoming")
            .field("host", &self.host)
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Incoming {
    /// The first value of a query parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        first_param(&self.params, key)
    }

    /// Every value of a repeated query parameter.
    pub fn params_named(&self, key: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The JSON body, when there is one.
    pub fn json(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(value) => Some(value),
            _ => None,
        }
    }
}

/// How an answer's body is labelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json; charset=utf-8`.
    Json,
    /// No body and no `Content-Type` (procedures without output).
    Empty,
    /// `text/html; charset=utf-8` (Express's 404 for non-XRPC paths).
    Html,
    /// `text/plain; charset=utf-8`.
    Text,
}

/// An answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// How it is labelled.
    pub kind: BodyKind,
    /// The XRPC error name, for the log.
    pub error: Option<String>,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn ok(value: &impl Serialize) -> Reply {
        Reply {
            status: 200,
            // Every output is built from JSON values and strings, which always serialize.
            body: serde_json::to_vec(value).unwrap_or_default(),
            kind: BodyKind::Json,
            error: None,
        }
    }

    /// 200 with no body.
    pub fn empty() -> Reply {
        Reply {
            status: 200,
            body: Vec::new(),
            kind: BodyKind::Empty,
            error: None,
        }
    }

    /// An XRPC error.
    pub fn error(status: u16, name: &str, message: &str) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(&serde_json::json!({"error": name, "message": message}))
                .unwrap_or_default(),
            kind: BodyKind::Json,
            error: Some(name.to_owned()),
        }
    }

    /// 400 `InvalidRequest`.
    pub fn invalid(message: &str) -> Reply {
        Reply::error(400, "InvalidRequest", message)
    }

    /// The error the status alone names, with its standard text (a 500 never says more).
    pub fn status(status: u16) -> Reply {
        let (name, message) = status_name(status);
        Reply::error(status, name, message)
    }

    /// A body in another format.
    pub fn other(status: u16, kind: BodyKind, body: String) -> Reply {
        Reply {
            status,
            body: body.into_bytes(),
            kind,
            error: None,
        }
    }

    /// A 2xx answer.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The XRPC error name and text of a status (xrpc's `ResponseType`); other statuses take those
/// of their class.
pub fn status_name(status: u16) -> (&'static str, &'static str) {
    match status {
        401 => ("AuthenticationRequired", "Authentication Required"),
        403 => ("Forbidden", "Forbidden"),
        404 => ("XRPCNotSupported", "XRPC Not Supported"),
        406 => ("NotAcceptable", "Not Acceptable"),
        413 => ("PayloadTooLarge", "Payload Too Large"),
        415 => ("UnsupportedMediaType", "Unsupported Media Type"),
        429 => ("RateLimitExceeded", "Rate Limit Exceeded"),
        501 => ("MethodNotImplemented", "Method Not Implemented"),
        502 => ("UpstreamFailure", "Upstream Failure"),
        503 => ("NotEnoughResources", "Not Enough Resources"),
        504 => ("UpstreamTimeout", "Upstream Timeout"),
        _ if (400..500).contains(&status) => ("InvalidRequest", "Invalid Request"),
        _ => ("InternalServerError", "Internal Server Error"),
    }
}

/// The answer to a request that reached a host the emulator does not serve it from.
pub fn wrong_host(host: Host, pds_url: &str) -> Reply {
    debug_assert_eq!(host, Host::Entryway);
    Reply::invalid(&format!(
        "This is the entryway: repo writes go to the account's PDS, {pds_url}, as the session's didDoc says"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_xrpc_shape() {
        let r = Reply::error(400, "ExpiredToken", "Token has expired");
        assert_eq!(
            String::from_utf8(r.body).expect("utf-8"),
            r#"{"error":"ExpiredToken","message":"Token has expired"}"#
        );
        let r = Reply::status(500);
        assert_eq!(
            String::from_utf8(r.body).expect("utf-8"),
            r#"{"error":"InternalServerError","message":"Internal Server Error"}"#
        );
        assert_eq!(status_name(503).0, "NotEnoughResources");
        assert_eq!(status_name(599).0, "InternalServerError");
        assert_eq!(status_name(418).0, "InvalidRequest");
        assert!(wrong_host(Host::Entryway, "http://localhost:1").status == 400);
    }
}
