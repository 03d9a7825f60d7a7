//! HTTP for every network client: one connection pool per client, the normalised base URL,
//! bounded bodies, the server's clock fed from every answer's `Date`, and transport errors that
//! keep their cause.
//!
//! Networks differ in paths, auth and error shapes, not in how a request travels. Keeping this
//! here means a fix to timeouts, proxies, redirects or body limits reaches every network at once.
//! What a network adds (signing, bearer tokens, sessions) wraps [`Http::exchange`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use crate::clock::ServerClock;
use crate::reply::MAX_RESET_AHEAD;

/// The longest body kept; the rest is not read. A page of 80 Mastodon accounts with long
/// profiles (notes, verified fields, custom emoji) passes 256 KiB.
const MAX_BODY: usize = 1024 * 1024;

/// The base URL cannot be used, or the HTTP client cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("invalid --api-base `{url}`: {reason}")]
pub struct BaseUrlError {
    /// The URL, without any user and password it held.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A request that got no answer: a timeout, a refused or lost connection.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct TransportError {
    what: &'static str,
    #[source]
    source: reqwest::Error,
}

impl TransportError {
    fn new(source: reqwest::Error) -> TransportError {
        let what = if source.is_timeout() {
            "request timed out"
        } else if source.is_connect() {
            "could not connect"
        } else if source.is_body() || source.is_decode() {
            "connection lost while reading the response"
        } else {
            "request failed"
        };
        TransportError { what, source }
    }

    /// The error and its causes on one line, for a journal record or a log line.
    pub fn message(&self) -> String {
        crate::display::chain(self)
    }
}

/// What came back from one HTTP exchange.
#[derive(Debug)]
pub struct Exchange {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body, cut at 256 KiB.
    pub body: Vec<u8>,
    /// Local time the request left.
    pub sent: SystemTime,
    /// Local time the response head arrived.
    pub received: SystemTime,
    /// The server's `Date`, when it sent one: read once here for the clock and every reply.
    pub date: Option<SystemTime>,
}

impl Exchange {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// An HTTP client bound to one base URL, feeding one [`ServerClock`].
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    /// Normalised base (lowercase host, no default port, no trailing slash).
    base: String,
    /// The same base, parsed once: each request only sets its path on a copy, instead of
    /// parsing a whole URL (host, IDNA and all) again.
    base_url: reqwest::Url,
    clock: Arc<ServerClock>,
}

impl Http {
    /// A client for `api_base` with a timeout per request. No request is sent.
    pub fn new(
        api_base: &str,
        timeout: Duration,
        clock: Arc<ServerClock>,
    ) -> Result<Http, BaseUrlError> {
        let base = normalize_base(api_base)?;
        let base_url = reqwest::Url::parse(&base).map_err(|e| BaseUrlError {
            url: without_userinfo(api_base),
            reason: e.to_string(),
        })?;
        Ok(Http {
            client: build_client(&base, timeout).map_err(|e| BaseUrlError {
                url: without_userinfo(api_base),
                reason: format!("cannot build the HTTP client: {e}"),
            })?,
            base,
            base_url,
            clock,
        })
    }

    /// The normalised base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The server's clock this client feeds.
    pub fn clock(&self) -> &Arc<ServerClock> {
        &self.clock
    }

    /// The URL of `path` (which starts with `/`) under the base, without a query.
    pub fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{path}"));
        url
    }

    /// A request to `url` (under this base, or another host the network named, such as a
    /// Bluesky account's PDS).
    pub fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends a built request, feeds the clock from the answer's `Date`, and reads the body.
    pub async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Exchange, TransportError> {
        let sent = SystemTime::now();
        let response = request.send().await.map_err(TransportError::new)?;
        let received = SystemTime::now();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let date = server_date(&headers);
        if let Some(date) = date {
            self.clock.observe(date, sent, received);
        }
        let body = read_body(response).await?;
        Ok(Exchange {
            status,
            headers,
            body,
            sent,
            received,
            date,
        })
    }

    /// After the server refused a request for its timestamp, trusts its `Date` alone from now
    /// on.
    pub fn resync(&self, exchange: &Exchange) {
        if let Some(date) = exchange.date {
            self.clock.reset_to(date, exchange.sent, exchange.received);
        }
    }
}

/// The `Date` header.
pub fn server_date(headers: &HeaderMap) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get("date")?.to_str().ok()?).ok()
}

/// Whether a window's reset is plausible next to the server's `now` (not over a day ahead).
pub fn plausible_reset(reset: SystemTime, server_now: SystemTime) -> bool {
    reset
        .duration_since(server_now)
        .map_or(true, |ahead| ahead <= MAX_RESET_AHEAD)
}

/// A non-negative integer header; anything else is absent.
pub fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `Retry-After` in seconds (the HTTP-date form is converted against `now`), capped at
/// [`MAX_RESET_AHEAD`].
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(MAX_RESET_AHEAD.as_secs())));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RESET_AHEAD),
    )
}

/// A reqwest client: the timeout, no redirects (an API answer is never a redirect to follow
/// with credentials), no proxy for loopback (the emulator), a pool for concurrent workers.
fn build_client(base: &str, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    install_tls_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("bulk-unblock/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64);
    if is_loopback(base) {
        builder = builder.no_proxy();
    }
    builder.build()
}

/// Normalises an API base: lowercase host, no default port, no trailing slash (what OAuth 1.0a
/// signs, and a stable form for messages).
pub fn normalize_base(raw: &str) -> Result<String, BaseUrlError> {
    let fail = |reason: &str| BaseUrlError {
        url: without_userinfo(raw),
        reason: reason.to_owned(),
    };
    let url = reqwest::Url::parse(raw).map_err(|e| fail(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(fail("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(fail("a host is required"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(fail("a query string or fragment is not allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail("credentials in the URL are not allowed"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `raw` with any `user:password@` cut out, so an error message never repeats a password.
fn without_userinfo(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    let end = raw[start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |i| start + i);
    match raw[start..end].rfind('@') {
        Some(at) => format!("{}…@{}", &raw[..start], &raw[start + at + 1..]),
        None => raw.to_owned(),
    }
}

/// Whether a base URL points at this machine (then proxies are bypassed).
pub fn is_loopback(base: &str) -> bool {
    reqwest::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| h == "localhost" || h == "[::1]" || h.starts_with("127."))
}

/// Installs the TLS crypto provider once per process (reqwest is built without one).
pub fn install_tls_provider() {
    // Fails only when a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, TransportError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(TransportError::new)? {
        if body.len() < MAX_BODY {
            body.extend_from_slice(&chunk[..chunk.len().min(MAX_BODY - body.len())]);
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_are_normalised() {
        assert_eq!(
            normalize_base("HTTPS://API.X.COM:443/").unwrap(),
            "https://api.x.com"
        );
        assert_eq!(
            normalize_base("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_base("http://localhost:80/prefix/").unwrap(),
            "http://localhost/prefix"
        );
        assert!(normalize_base("ftp://x").is_err());
        assert!(normalize_base("https://api.x.com/?a=1").is_err());
        assert!(normalize_base("not a url").is_err());
        assert!(normalize_base("https://user:pw@api.x.com").is_err());
    }

    #[test]
    fn request_urls_are_the_base_and_the_path() {
        for (base, path, expected) in [
            (
                "http://127.0.0.1:8080",
                "/1.1/blocks/destroy.json",
                "http://127.0.0.1:8080/1.1/blocks/destroy.json",
            ),
            (
                "HTTPS://API.X.COM:443/",
                "/2/users/1/blocking/2",
                "https://api.x.com/2/users/1/blocking/2",
            ),
            (
                "http://localhost:80/prefix/",
                "/1.1/blocks/ids.json",
                "http://localhost/prefix/1.1/blocks/ids.json",
            ),
        ] {
            let http =
                Http::new(base, Duration::from_secs(1), Arc::new(ServerClock::new())).unwrap();
            assert_eq!(http.url(path).as_str(), expected);
            assert_eq!(format!("{}{path}", http.base()), expected);
        }
    }

    #[test]
    fn a_password_in_the_base_url_is_not_repeated_in_the_error() {
        for raw in [
            "https://user:hunter2@api.x.com",
            "https://user:hunter2@api.x.com/1.1?x=1",
            "http://a:hunter2@b@127.0.0.1:9/",
            "https://us er:hunter2@api.x.com",
        ] {
            let message = normalize_base(raw).unwrap_err().to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains("…@"), "{message}");
        }
        let message = normalize_base("ftp://api.x.com/").unwrap_err().to_string();
        assert!(message.contains("ftp://api.x.com/"), "{message}");
    }

    #[test]
    fn loopback_bases_skip_proxies() {
        assert!(is_loopback("http://127.0.0.1:1234"));
        assert!(is_loopback("http://localhost:1"));
        assert!(!is_loopback("https://api.x.com"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_with_its_cause() {
        // A port nothing listens on: bind one, learn it, let it go.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let http = Http::new(
            &format!("http://{addr}"),
            Duration::from_secs(2),
            Arc::new(ServerClock::new()),
        )
        .unwrap();
        let error = http
            .exchange(http.request(reqwest::Method::GET, http.url("/x")))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "could not connect");
        assert!(
            std::error::Error::source(&error).is_some(),
            "the cause is kept"
        );
        assert!(
            error.message().starts_with("could not connect: "),
            "{}",
            error.message()
        );
    }
}
