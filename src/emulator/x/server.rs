//! The HTTP side of the X emulator: turns an axum request into an [`Incoming`], drives it
//! through the pipeline steps with the awaits between them, and turns the result into a
//! response with the core's helpers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;

use super::Emulator;
use super::pipeline::Done;
use super::reply::{BodyKind, Incoming};
use super::route;
use super::state;
use crate::emulator::admin;
use crate::emulator::request::Parts;
use crate::emulator::serve::{Answer, respond};

/// The whole router: admin views, then everything else through the emulated API.
pub fn router(emulator: Emulator) -> Router {
    admin::routes::<state::State>()
        .fallback(dispatch)
        .with_state(emulator)
}

/// Parses what the pipeline needs from the request.
fn incoming(parts: Parts) -> Incoming {
    let route = route::resolve(&parts.method, &parts.path);
    Incoming {
        base_urls: base_urls(&parts),
        method: parts.method,
        path: parts.path,
        params: parts.params,
        authorization: parts.authorization,
        json: parts.json,
        route,
    }
}

/// The base URLs a signature may cover (RFC 5849 §3.4.1.2: scheme, host, a non-default port
/// and the path). The listener speaks http, so the http form always counts. Behind a
/// TLS-terminating proxy the client signed the https URL it used: when the request carries
/// `X-Forwarded-Proto: https`, that form counts too. (Only then: an https signature on a plain
/// request would mean the client signed a URL it did not call.)
fn base_urls(parts: &Parts) -> Vec<String> {
    let host = &parts.host;
    let http_host = host.strip_suffix(":80").unwrap_or(host);
    let mut urls = vec![format!("http://{http_host}{}", parts.path)];
    if parts.forwarded_proto.as_deref() == Some("https") {
        let https_host = host.strip_suffix(":443").unwrap_or(host);
        urls.push(format!("https://{https_host}{}", parts.path));
    }
    urls
}

/// Every non-admin request (if the client goes away during a sleep, nothing is acted on).
async fn dispatch(
    State(emulator): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = incoming(Parts::read(&method, &uri, &headers, &body));
    let (done, now_ms) = emulator.serve_request(&req).await;
    respond(answer(done), now_ms)
}

/// Labels the body as the real API does for its family.
fn answer(done: Done) -> Answer {
    let content_type = match done.reply.kind {
        BodyKind::V1 => "application/json;charset=utf-8",
        BodyKind::V2 => "application/json; charset=utf-8",
        BodyKind::Problem => "application/problem+json",
    };
    Answer {
        status: done.reply.status,
        content_type,
        headers: done.headers,
        body: done.reply.body,
        broken: done.broken,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method, Uri};

    use super::*;

    fn urls(host: &str, proto: Option<&str>) -> Vec<String> {
        let uri: Uri = "/1.1/blocks/ids.json?cursor=-1".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert("host", host.parse().expect("host"));
        if let Some(proto) = proto {
            headers.insert("x-forwarded-proto", proto.parse().expect("proto"));
        }
        base_urls(&Parts::read(&Method::GET, &uri, &headers, b""))
    }

    #[test]
    fn the_https_form_counts_only_behind_a_proxy_that_says_so() {
        assert_eq!(
            urls("127.0.0.1:8080", None),
            ["http://127.0.0.1:8080/1.1/blocks/ids.json"]
        );
        assert_eq!(
            urls("API.example:443", Some("https")),
            [
                "http://api.example:443/1.1/blocks/ids.json",
                "https://api.example/1.1/blocks/ids.json"
            ]
        );
        assert_eq!(
            urls("api.example:80", Some("HTTPS")),
            [
                "http://api.example/1.1/blocks/ids.json",
                "https://api.example:80/1.1/blocks/ids.json"
            ]
        );
        assert_eq!(urls("h:8443", Some("http")).len(), 1);
    }
}
