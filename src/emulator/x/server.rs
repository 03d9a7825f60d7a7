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
use crate::emulator::admin;
use crate::emulator::request::Parts;
use crate::emulator::serve::{Answer, respond};

/// The whole router: admin views, then everything else through the emulated API.
pub fn router(emulator: Emulator) -> Router {
    admin::routes::<Emulator>()
        .fallback(dispatch)
        .with_state(emulator)
}

/// Parses what the pipeline needs from the request.
fn incoming(parts: Parts) -> Incoming {
    // RFC 5849 §3.4.1.2: the default port is left out of the base URL.
    let host = parts.host.strip_suffix(":80").unwrap_or(&parts.host);
    let base_url = format!("http://{host}{}", parts.path);
    let route = route::resolve(&parts.method, &parts.path);
    Incoming {
        method: parts.method,
        path: parts.path,
        base_url,
        params: parts.params,
        authorization: parts.authorization,
        json: parts.json,
        route,
    }
}

/// Every non-admin request. If the client goes away during a sleep this future is dropped:
/// the log entry keeps status 0 and nothing is acted on.
async fn dispatch(
    State(emulator): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = incoming(Parts::read(&method, &uri, &headers, &body));
    let (seq, delay) = emulator.with(|s| s.arrive(&req));
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let done = match emulator.with(|s| s.admit(seq, &req)) {
        Err(done) => done,
        Ok(ticket) => {
            if let Some(stall) = ticket.stall {
                tokio::time::sleep(stall).await;
            }
            emulator.with(|s| s.act(&req, ticket))
        }
    };
    let now_ms = emulator.with(|s| {
        s.finish(seq, &done);
        s.now_ms()
    });
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
