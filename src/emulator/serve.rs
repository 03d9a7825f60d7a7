//! The HTTP side every network shares: serving a router on a listener until told to stop, a
//! handle on one or several servers that stops them when dropped, and building a response
//! from a network's answer once its lock is released.
//!
//! A network may serve on several ports at once (Bluesky's entryway and PDS are two hosts), so
//! [`Running`] holds a list of named servers over one shared emulator handle.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_TYPE, DATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Serves `router` on `listener` until `shutdown` resolves (then finishes open requests).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `127.0.0.1:port` (0 picks a free port).
pub async fn bind_loopback(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await
}

/// One server of a [`Running`] emulator.
#[derive(Debug)]
struct Server {
    /// What the network calls this server (e.g. `api`, `entryway`, `pds`).
    name: &'static str,
    /// The bound address.
    addr: SocketAddr,
    /// Tells the server to stop accepting; taken by [`Running::shutdown`].
    shutdown: Option<oneshot::Sender<()>>,
    /// The task serving; taken when awaited or aborted.
    task: Option<JoinHandle<io::Result<()>>>,
}

/// An emulator served by background tasks on one or more listeners; dropping it stops every
/// server at once.
#[derive(Debug)]
pub struct Running<H> {
    /// The emulator's handle, for assertions and runtime changes.
    pub emulator: H,
    /// At least one server, in the order given.
    servers: Vec<Server>,
}

impl<H> Running<H> {
    /// Serves each `(name, listener, router)` on the current runtime. The routers normally
    /// share the `emulator`'s state. Fails when the list is empty or an address is unreadable.
    pub fn spawn(
        emulator: H,
        servers: impl IntoIterator<Item = (&'static str, TcpListener, Router)>,
    ) -> io::Result<Running<H>> {
        let mut running = Running {
            emulator,
            servers: Vec::new(),
        };
        for (name, listener, router) in servers {
            let addr = listener.local_addr()?;
            let (tx, rx) = oneshot::channel::<()>();
            let task = tokio::spawn(serve(listener, router, async move {
                let _ = rx.await;
            }));
            running.servers.push(Server {
                name,
                addr,
                shutdown: Some(tx),
                task: Some(task),
            });
        }
        if running.servers.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an emulator needs at least one server",
            ));
        }
        Ok(running)
    }

    /// The first server's address.
    pub fn addr(&self) -> SocketAddr {
        // `spawn` refuses an empty list, so there is a first server.
        self.servers[0].addr
    }

    /// `http://ADDR` of the first server.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The address of the server called `name`.
    pub fn addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.servers.iter().find(|s| s.name == name).map(|s| s.addr)
    }

    /// `http://ADDR` of the server called `name`.
    pub fn base_url_of(&self, name: &str) -> Option<String> {
        self.addr_of(name).map(|a| format!("http://{a}"))
    }

    /// Every server's name and address, in the order given.
    pub fn addrs(&self) -> Vec<(&'static str, SocketAddr)> {
        self.servers.iter().map(|s| (s.name, s.addr)).collect()
    }

    /// Waits until any server stops by itself (which only a failure makes it do) and returns
    /// how it ended; a server that was already awaited or stopped is not waited for again.
    pub async fn stopped(&mut self) -> io::Result<()> {
        let tasks: Vec<_> = self
            .servers
            .iter_mut()
            .filter_map(|s| s.task.as_mut())
            .collect();
        if tasks.is_empty() {
            return Ok(());
        }
        let (ended, index, _) = futures::future::select_all(tasks).await;
        if let Some(server) = self
            .servers
            .iter_mut()
            .filter(|s| s.task.is_some())
            .nth(index)
        {
            server.task = None;
        }
        ended.map_err(io::Error::other)?
    }

    /// Stops accepting on every server, lets open requests finish, and waits for them all.
    pub async fn shutdown(mut self) -> io::Result<()> {
        for server in &mut self.servers {
            if let Some(tx) = server.shutdown.take() {
                let _ = tx.send(());
            }
        }
        let mut first_error = Ok(());
        for server in &mut self.servers {
            if let Some(task) = server.task.take() {
                let ended = task.await.map_err(io::Error::other).and_then(|r| r);
                if first_error.is_ok() {
                    first_error = ended;
                }
            }
        }
        first_error
    }
}

impl<H> Drop for Running<H> {
    fn drop(&mut self) {
        // Abort rather than wait: a stalled request must not keep a test's port alive.
        for server in &mut self.servers {
            if let Some(task) = server.task.take() {
                task.abort();
            }
        }
    }
}

/// A network's answer, built under its lock, turned into a response after the lock is free.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`, as the network labels this kind of body.
    pub content_type: &'static str,
    /// Extra headers (rate limits and the like); values that are not valid header text are
    /// dropped.
    pub headers: Vec<(&'static str, String)>,
    /// The serialized body.
    pub body: Vec<u8>,
    /// Break the body off after the head (the drop-after-acting fault).
    pub broken: bool,
}

/// The last second an HTTP `Date` can name (9999-12-31T23:59:59Z), in epoch milliseconds.
const LAST_HTTP_DATE_MS: i64 = 253_402_300_799_000;

/// The `Date` header value for `now_ms` on the emulator clock. An HTTP date cannot express
/// years past 9999 (httpdate panics there), so the time is clamped, whatever clock offset was
/// set at runtime.
pub fn http_date(now_ms: i64) -> String {
    let date_ms = now_ms.clamp(0, LAST_HTTP_DATE_MS);
    let date = UNIX_EPOCH + Duration::from_millis(u64::try_from(date_ms).unwrap_or(0));
    httpdate::fmt_http_date(date)
}

/// Builds the response: status, `Content-Type`, `Date` from the emulator clock, the extra
/// headers, and the body (broken off when the answer says so).
pub fn respond(answer: Answer, now_ms: i64) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    if let Ok(v) = HeaderValue::from_str(&http_date(now_ms)) {
        headers.insert(DATE, v);
    }
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, v);
        }
    }
    let body = if answer.broken {
        broken_body(answer.body)
    } else {
        Body::from(answer.body)
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = headers;
    response
}

/// A body that sends half of the real one and then fails. hyper has already written the status
/// line and headers (chunked encoding), so the client sees the real status whose body breaks
/// off: the connection is closed mid-body and reading the body fails.
pub fn broken_body(full: Vec<u8>) -> Body {
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

#[cfg(test)]
mod tests {
    use axum::routing::get;

    use super::*;
    use crate::emulator::testing::http;

    fn hello(text: &'static str) -> Router {
        Router::new().route("/", get(move || async move { text }))
    }

    /// Serves each `(name, router)` on a free loopback port.
    async fn on_loopback<H>(
        emulator: H,
        routers: impl IntoIterator<Item = (&'static str, Router)>,
    ) -> io::Result<Running<H>> {
        let mut servers = Vec::new();
        for (name, router) in routers {
            servers.push((name, bind_loopback(0).await?, router));
        }
        Running::spawn(emulator, servers)
    }

    #[tokio::test]
    async fn several_servers_share_one_handle_and_stop_together() {
        let running = on_loopback(
            "shared",
            [("entryway", hello("entryway")), ("pds", hello("pds"))],
        )
        .await
        .expect("binds");
        assert_eq!(running.emulator, "shared");
        let names: Vec<_> = running.addrs().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["entryway", "pds"]);
        assert_eq!(running.addr(), running.addr_of("entryway").expect("named"));
        assert!(running.base_url_of("nope").is_none());
        let http = http();
        for name in ["entryway", "pds"] {
            let url = running.base_url_of(name).expect("named");
            let text = http.get(&url).send().await.expect("sent").text().await;
            assert_eq!(text.expect("body"), name);
        }
        let pds = running.base_url_of("pds").expect("named");
        running.shutdown().await.expect("stops cleanly");
        assert!(http.get(&pds).send().await.is_err(), "the port is closed");
        assert!(
            Running::spawn((), Vec::new()).is_err(),
            "a running emulator has a server"
        );
    }

    #[tokio::test]
    async fn dropping_the_handle_closes_every_port() {
        let running = on_loopback((), [("a", hello("a")), ("b", hello("b"))])
            .await
            .expect("binds");
        let urls: Vec<String> = ["a", "b"]
            .iter()
            .filter_map(|n| running.base_url_of(n))
            .collect();
        drop(running);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let http = http();
        for url in urls {
            assert!(http.get(&url).send().await.is_err(), "{url} still answers");
        }
    }

    #[test]
    fn dates_are_clamped_to_what_http_can_say() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(i64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(http_date(-5), http_date(0));
    }
}
