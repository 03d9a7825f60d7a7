//! The HTTP side of the Bluesky emulator: one axum service per host (the entryway and the PDS
//! share the state and differ only in their role), turning a request into an [`Incoming`],
//! having the core run it through the pipeline's steps (sleeping between them), and answering
//! with the core's helpers plus what every PDS answer carries (CORS for browser clients).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::pipeline::Done;
use super::state;
use super::xrpc::{Body, BodyKind, Incoming};
use super::{Emulator, Host, admin, route};
use crate::emulator::request::Parts;
use crate::emulator::serve::{Answer, respond};

/// The router of one host: the admin views, then everything else through the emulated API.
pub fn router(emulator: Emulator, host: Host) -> Router {
    crate::emulator::admin::routes::<state::State>()
        .merge(admin::routes())
        .fallback(
            move |state: State<Emulator>,
                  method: Method,
                  uri: Uri,
                  headers: HeaderMap,
                  body: Bytes| { dispatch(state, host, method, uri, headers, body) },
        )
        .with_state(emulator)
}

/// Reads what the pipeline needs from the request.
fn incoming(host: Host, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Incoming {
    // The body is read below, once; XRPC parameters come from the query only, so the core
    // reads the parts without the body and its parameters are the query's.
    let parts = Parts::read(method, uri, headers, b"");
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty());
    let body = match content_type {
        None => Body::Missing,
        Some(t) if t == "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(value) => Body::Json(value),
            Err(e) => Body::BadJson(e.to_string()),
        },
        Some(t) => Body::WrongType(t),
    };
    // Behind a proxy the client is the first forwarded address; on loopback it is loopback.
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    Incoming {
        host,
        route: route::resolve(&parts.method, &parts.path),
        method: parts.method,
        path: parts.path,
        params: parts.params,
        body,
        authorization: parts.authorization,
        ip,
    }
}

/// Every non-admin request (if the client goes away during a sleep, nothing is acted on).
async fn dispatch(
    State(emulator): State<Emulator>,
    host: Host,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::OPTIONS {
        return preflight(&headers);
    }
    let req = incoming(host, &method, &uri, &headers, &body);
    let (done, now_ms) = emulator.serve_request(&req).await;
    answer(done, now_ms)
}

/// Builds the response: the core's (status, `Date`, headers, a body that may break off),
/// labelled as the PDS labels it, with CORS open to every origin.
fn answer(done: Done, now_ms: i64) -> Response {
    let kind = done.reply.kind;
    let content_type = match kind {
        BodyKind::Json | BodyKind::Empty => "application/json; charset=utf-8",
        BodyKind::Html => "text/html; charset=utf-8",
        BodyKind::Text => "text/plain; charset=utf-8",
    };
    let mut headers = done.headers;
    if done.private {
        headers.push(("cache-control", "private".to_owned()));
    }
    let mut response = respond(
        Answer {
            status: done.reply.status,
            content_type,
            headers,
            body: done.reply.body,
            broken: done.broken,
        },
        now_ms,
    );
    if kind == BodyKind::Empty {
        response.headers_mut().remove(CONTENT_TYPE);
    }
    response
        .headers_mut()
        .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    response
}

/// A CORS preflight, answered as the PDS's `cors` middleware does (not logged: it is not an
/// API call).
fn preflight(headers: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    out.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    out.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
    );
    if let Some(asked) = headers.get("access-control-request-headers") {
        out.insert("access-control-allow-headers", asked.clone());
    }
    out.insert("access-control-max-age", HeaderValue::from_static("86400"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content_type: Option<&str>, body: &[u8]) -> Incoming {
        let uri: Uri = "/xrpc/com.atproto.repo.listRecords?repo=a&collection=b&repo=c"
            .parse()
            .expect("uri");
        let mut headers = HeaderMap::new();
        if let Some(t) = content_type {
            headers.insert(CONTENT_TYPE, t.parse().expect("type"));
        }
        headers.insert(
            "x-forwarded-for",
            "203.0.113.7, 10.0.0.1".parse().expect("xff"),
        );
        incoming(Host::Pds, &Method::GET, &uri, &headers, body)
    }

    #[test]
    fn bodies_are_told_apart_as_the_pds_does() {
        let req = read(None, b"");
        assert_eq!(req.body, Body::Missing);
        assert_eq!(req.params_named("repo"), ["a", "c"]);
        assert_eq!(req.ip, "203.0.113.7");
        assert_eq!(
            read(Some("text/plain"), b"x").body,
            Body::WrongType("text/plain".into())
        );
        assert!(matches!(
            read(Some("application/json; charset=utf-8"), b"{bad").body,
            Body::BadJson(_)
        ));
        assert_eq!(
            read(Some("application/json"), br#"{"a":1}"#).body,
            Body::Json(serde_json::json!({"a": 1}))
        );
    }
}
