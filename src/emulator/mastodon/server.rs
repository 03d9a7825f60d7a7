//! The HTTP side of the Mastodon emulator: turns an axum request into an [`Incoming`], has the
//! core run it through the pipeline's steps (sleeping between them), and turns the result into
//! a response with the core's helpers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::post;

use super::Emulator;
use super::admin;
use super::pipeline::Done;
use super::reply::Incoming;
use super::route;
use super::state;
use crate::emulator::request::Parts;
use crate::emulator::serve::{Answer, respond};

/// The whole router: the core's admin views and this network's admin calls, then everything
/// else through the emulated API.
pub fn router(emulator: Emulator) -> Router {
    crate::emulator::admin::routes::<state::State>()
        .route("/admin/revoke", post(admin::revoke))
        .route("/admin/restore", post(admin::restore))
        .fallback(dispatch)
        .with_state(emulator)
}

/// The token as Doorkeeper finds it: `Authorization: Bearer …` (any case), else the
/// `access_token` parameter, else `bearer_token`; blank counts as absent.
fn token(parts: &Parts) -> Option<String> {
    let from_header = parts.authorization.as_deref().and_then(|h| {
        let scheme = h.get(..7)?;
        scheme
            .eq_ignore_ascii_case("bearer ")
            .then(|| h[7..].trim().to_owned())
    });
    // The first value of a parameter, trimmed; blank counts as absent.
    let param = |key: &str| {
        parts
            .param(key)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    from_header
        .filter(|t| !t.is_empty())
        .or_else(|| param("access_token"))
        .or_else(|| param("bearer_token"))
}

/// Parses what the pipeline needs from the request.
fn incoming(parts: Parts) -> Incoming {
    Incoming {
        route: route::resolve(&parts.method, &parts.path),
        token: token(&parts),
        scheme: if parts.forwarded_proto.as_deref() == Some("https") {
            "https"
        } else {
            "http"
        },
        method: parts.method,
        path: parts.path,
        host: parts.host,
        params: parts.params,
        json: parts.json,
    }
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

fn answer(done: Done) -> Answer {
    let mut headers = done.headers;
    headers.extend(done.reply.headers);
    Answer {
        status: done.reply.status,
        content_type: done.reply.content_type,
        headers,
        body: done.reply.body,
        broken: done.broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(authorization: Option<&str>, query: &str) -> Parts {
        let uri: Uri = format!("/api/v1/blocks?{query}").parse().expect("uri");
        let mut headers = HeaderMap::new();
        if let Some(a) = authorization {
            headers.insert("authorization", a.parse().expect("header"));
        }
        Parts::read(&Method::GET, &uri, &headers, b"")
    }

    #[test]
    fn tokens_are_found_where_doorkeeper_looks() {
        assert_eq!(
            token(&parts(Some("Bearer abc"), "")).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token(&parts(Some("bearer abc"), "")).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token(&parts(Some("Basic xyz"), "access_token=q")).as_deref(),
            Some("q")
        );
        assert_eq!(
            token(&parts(Some("Bearer "), "bearer_token=b")).as_deref(),
            Some("b")
        );
        assert_eq!(token(&parts(None, "")), None);
        let https = {
            let uri: Uri = "/api/v1/blocks".parse().expect("uri");
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-proto", "https".parse().expect("proto"));
            incoming(Parts::read(&Method::GET, &uri, &h, b""))
        };
        assert_eq!(https.scheme, "https");
    }
}
