//! The HTTP transport both X API versions share: one connection pool, the normalised base URL
//! the signatures cover, the OAuth 1.0a credentials, and the feeding of the [`ServerClock`].
//!
//! v1.1 and v2 differ in paths, bodies and error shapes, but not in how a request is signed and
//! sent, nor in how a response's `Date` corrects the clock. Keeping that here means a fix to
//! signing or timeouts reaches both clients at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};

use super::oauth::{self, Credentials};
use super::{BaseUrlError, XSettings, response};
use crate::clock::ServerClock;

/// The longest body kept; the rest is not read.
const MAX_BODY: usize = 256 * 1024;

/// What came back from one HTTP exchange.
pub(crate) struct Exchange {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body, cut at [`MAX_BODY`].
    pub body: Vec<u8>,
    /// Local time the request left.
    pub sent: SystemTime,
    /// Local time the response head arrived.
    pub received: SystemTime,
}

/// A signed-request sender bound to one base URL and one set of credentials.
pub(crate) struct Transport {
    http: reqwest::Client,
    /// Normalised base (lowercase host, no default port, no trailing slash), as signed.
    base: String,
    /// The same base, parsed once: each request only sets its path (and query) on a copy,
    /// instead of parsing a whole URL (host, IDNA and all) again.
    base_url: reqwest::Url,
    credentials: Credentials,
    clock: Arc<ServerClock>,
}

/// Normalises an API base the way the signature needs it: lowercase host, no default port.
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
fn is_loopback(base: &str) -> bool {
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

impl Transport {
    /// Builds the transport. No request is sent.
    pub fn new(settings: XSettings, clock: Arc<ServerClock>) -> Result<Transport, BaseUrlError> {
        let base = normalize_base(&settings.api_base)?;
        install_tls_provider();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("bulk-unblock/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64);
        if is_loopback(&base) {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| BaseUrlError {
            url: without_userinfo(&settings.api_base),
            reason: format!("cannot build the HTTP client: {e}"),
        })?;
        let base_url = reqwest::Url::parse(&base).map_err(|e| BaseUrlError {
            url: without_userinfo(&settings.api_base),
            reason: e.to_string(),
        })?;
        Ok(Transport {
            http,
            base,
            base_url,
            credentials: settings.credentials,
            clock,
        })
    }

    /// The normalised base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (which starts with `/`) under the base, without a query.
    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{path}"));
        url
    }

    /// The `Authorization` header for a request to `url` carrying `params`, timestamped with the
    /// server's clock so a machine whose clock is off is not refused.
    fn authorize(&self, method: &reqwest::Method, url: &str, params: &[(&str, &str)]) -> String {
        let timestamp = self
            .clock
            .server_now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs().max(1));
        oauth::authorization(
            method.as_str(),
            url,
            params,
            &self.credentials,
            &oauth::nonce(),
            timestamp,
        )
    }

    /// Sends one signed request. Parameters go in the query for GET and DELETE (which carry no
    /// body), and in a form body otherwise; either way they are signed.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Exchange, String> {
        let mut url = self.url(path);
        // Signed as sent: the URL without its query, the parameters apart.
        let auth = self.authorize(&method, url.as_str(), params);
        let encoded = oauth::encode_params(params);
        let request = if method == reqwest::Method::GET || method == reqwest::Method::DELETE {
            if !encoded.is_empty() {
                url.set_query(Some(&encoded));
            }
            self.http.request(method, url)
        } else {
            self.http
                .request(method, url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(encoded)
        };
        self.exchange(request.header(AUTHORIZATION, auth)).await
    }

    /// Sends one signed request with a JSON body. A JSON body is not part of the OAuth 1.0a
    /// signature (only query and form parameters are), so the signature covers no parameters.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Exchange, String> {
        let url = self.url(path);
        let auth = self.authorize(&method, url.as_str(), &[]);
        let request = self
            .http
            .request(method, url)
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, auth)
            .body(body.to_string());
        self.exchange(request).await
    }

    /// Sends a built request, feeds the clock from the answer's `Date`, and reads the body.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Exchange, String> {
        let sent = SystemTime::now();
        let response = request.send().await.map_err(describe)?;
        let received = SystemTime::now();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if let Some(date) = response::server_date(&headers) {
            self.clock.observe(date, sent, received);
        }
        let body = read_body(response).await?;
        Ok(Exchange {
            status,
            headers,
            body,
            sent,
            received,
        })
    }

    /// After the server refused our timestamp, trusts its `Date` alone from now on.
    pub fn resync(&self, exchange: &Exchange) {
        if let Some(date) = response::server_date(&exchange.headers) {
            self.clock.reset_to(date, exchange.sent, exchange.received);
        }
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if body.len() < MAX_BODY {
            body.extend_from_slice(&chunk[..chunk.len().min(MAX_BODY - body.len())]);
        }
    }
    Ok(body)
}

/// A transport error as one line: the chain of causes, without repeating itself.
fn describe(error: reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "request timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else if error.is_body() || error.is_decode() {
        "connection lost while reading the response".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(&error);
    let mut last = String::new();
    while let Some(cause) = source {
        let line = cause.to_string();
        if line != last {
            text.push_str(": ");
            text.push_str(&line);
            last = line;
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::x::oauth::Secret;

    #[test]
    fn bases_are_normalised_for_signing() {
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
    fn request_urls_are_the_base_and_the_path_as_signed() {
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
            let transport = Transport::new(
                XSettings {
                    api_base: base.into(),
                    credentials: Credentials {
                        consumer_key: Secret::new("k"),
                        consumer_secret: Secret::new("s"),
                        access_token: Secret::new("t"),
                        access_token_secret: Secret::new("ts"),
                    },
                    timeout: Duration::from_secs(1),
                },
                Arc::new(ServerClock::new()),
            )
            .unwrap();
            assert_eq!(transport.url(path).as_str(), expected);
            assert_eq!(format!("{}{path}", transport.base()), expected);
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
}
