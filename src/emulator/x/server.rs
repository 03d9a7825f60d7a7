//! The HTTP side: turns an axum request into an [`Incoming`], drives it through the pipeline
//! steps with the awaits between them, and turns the result into a response.

use std::io;
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, DATE, HOST};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use futures::StreamExt as _;

use super::Emulator;
use super::pipeline::Done;
use super::reply::{BodyKind, Incoming};
use super::route;

/// The whole router: admin views, then everything else through the emulated API.
pub fn router(emulator: Emulator) -> Router {
    super::admin::routes()
        .fallback(dispatch)
        .with_state(emulator)
}

/// Parses what the pipeline needs from the request.
fn incoming(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Incoming {
    let path = uri.path().to_owned();
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    // RFC 5849 §3.4.1.2: the default port is left out of the base URL.
    let host = host.strip_suffix(":80").unwrap_or(&host);
    let base_url = format!("http://{host}{path}");
    let mut params: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(form_urlencoded::parse(body).into_owned());
    }
    let json = if content_type.starts_with("application/json") {
        serde_json::from_slice(body).ok()
    } else {
        None
    };
    let method = method.as_str().to_ascii_uppercase();
    let route = route::resolve(&method, &path);
    Incoming {
        method,
        path,
        base_url,
        params,
        authorization: headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned),
        json,
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
    let req = incoming(&method, &uri, &headers, &body);
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
    respond(done, now_ms)
}

/// The last second an HTTP `Date` can name (9999-12-31T23:59:59Z), in epoch milliseconds.
const LAST_HTTP_DATE_MS: i64 = 253_402_300_799_000;

fn respond(done: Done, now_ms: i64) -> Response {
    let content_type = match done.reply.kind {
        BodyKind::V1 => "application/json;charset=utf-8",
        BodyKind::V2 => "application/json; charset=utf-8",
        BodyKind::Problem => "application/problem+json",
    };
    // An HTTP date cannot express years past 9999 (httpdate panics there): clamp, whatever
    // clock offset was set at runtime.
    let date_ms = now_ms.clamp(0, LAST_HTTP_DATE_MS);
    let date = UNIX_EPOCH + Duration::from_millis(u64::try_from(date_ms).unwrap_or(0));
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(date)) {
        headers.insert(DATE, v);
    }
    for (name, value) in done.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    let body = if done.broken {
        broken_body(done.reply.body)
    } else {
        Body::from(done.reply.body)
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(done.reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = headers;
    response
}

/// A body that sends half of the real one and then fails. hyper has already written the status
/// line and headers (chunked encoding), so the client sees a 200 whose body breaks off: the
/// connection is closed mid-body and reading the body fails.
fn broken_body(full: Vec<u8>) -> Body {
    let cut = full.len() / 2;
    let half = Bytes::from(full).slice(..cut);
    let half = if half.is_empty() {
        Bytes::from_static(b"{\"id\":")
    } else {
        half
    };
    let first = futures::stream::once(async move { Ok::<_, io::Error>(half) });
    let fail = futures::stream::once(async {
        // Give hyper time to flush the head and the first chunk before the error aborts it.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err(io::Error::other(
            "connection dropped after acting (injected fault)",
        ))
    });
    Body::from_stream(first.chain(fail))
}
