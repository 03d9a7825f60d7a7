//! X (Twitter) API v1.1 over OAuth 1.0a user context: the first network behind the seam.
//!
//! `POST /1.1/blocks/destroy.json` (and `blocks/create.json` for undo), with the target as
//! `user_id` or `screen_name` in a signed form body, and `GET /1.1/account/verify_credentials.json`
//! before the run. Every response feeds the shared [`ServerClock`], and is sorted by the pure
//! functions of [`response`].

pub mod oauth;
pub mod response;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};

use crate::clock::ServerClock;
use crate::network::{Account, Network, RateInfo, Reply, Verdict, VerifyError};
use crate::outcome::Action;
use crate::target::Target;
use oauth::Credentials;

/// The default API host.
pub const DEFAULT_API_BASE: &str = "https://api.x.com";

/// The longest error body kept; the rest is not read.
const MAX_BODY: usize = 256 * 1024;

/// Settings for [`XClient`].
#[derive(Clone, Debug)]
pub struct XSettings {
    /// Scheme, host and optional port (and path prefix) the API paths are appended to.
    pub api_base: String,
    /// OAuth 1.0a user-context credentials.
    pub credentials: Credentials,
    /// Timeout for one request, connect to last byte.
    pub timeout: Duration,
}

/// A base URL that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid --api-base `{url}`: {reason}")]
pub struct BaseUrlError {
    url: String,
    reason: String,
}

/// The X API client.
pub struct XClient {
    http: reqwest::Client,
    /// Normalised base (lowercase host, no default port, no trailing slash), as signed.
    base: String,
    credentials: Credentials,
    clock: Arc<ServerClock>,
}

/// What came back from one HTTP exchange.
struct Exchange {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
    /// Local time the request left.
    sent: SystemTime,
    /// Local time the response head arrived.
    received: SystemTime,
}

/// Normalises an API base the way the signature needs it: lowercase host, no default port.
pub fn normalize_base(raw: &str) -> Result<String, BaseUrlError> {
    let fail = |reason: &str| BaseUrlError {
        url: raw.to_owned(),
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

impl XClient {
    /// Builds a client. No request is sent.
    pub fn new(settings: XSettings, clock: Arc<ServerClock>) -> Result<XClient, BaseUrlError> {
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
            url: settings.api_base.clone(),
            reason: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(XClient {
            http,
            base,
            credentials: settings.credentials,
            clock,
        })
    }

    /// The normalised base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one signed request. Parameters go in the query for GET and in a form body otherwise.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Exchange, String> {
        let url = format!("{}{}", self.base, path);
        let timestamp = self
            .clock
            .server_now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs().max(1));
        let auth = oauth::authorization(
            method.as_str(),
            &url,
            params,
            &self.credentials,
            &oauth::nonce(),
            timestamp,
        );
        let encoded = oauth::encode_params(params);
        let request = if method == reqwest::Method::GET {
            let full = if encoded.is_empty() {
                url
            } else {
                format!("{url}?{encoded}")
            };
            self.http.get(full)
        } else {
            self.http
                .request(method, url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(encoded)
        };
        let sent = SystemTime::now();
        let response = request
            .header(AUTHORIZATION, auth)
            .send()
            .await
            .map_err(describe)?;
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
    fn resync(&self, exchange: &Exchange) {
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

impl Network for XClient {
    async fn verify(&self) -> Result<Account, VerifyError> {
        #[derive(serde::Deserialize)]
        struct Me {
            id_str: Option<String>,
            id: Option<serde_json::Number>,
            screen_name: Option<String>,
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let exchange = self
                .send(
                    reqwest::Method::GET,
                    "/1.1/account/verify_credentials.json",
                    &[("include_entities", "false"), ("skip_status", "true")],
                )
                .await
                .map_err(VerifyError::Unavailable)?;
            let (code, message) = response::api_error(&exchange.body);
            match exchange.status {
                200 => {
                    let me: Me = serde_json::from_slice(&exchange.body).map_err(|e| {
                        VerifyError::Unavailable(format!("unexpected answer from the server: {e}"))
                    })?;
                    let user_id = me
                        .id_str
                        .or_else(|| me.id.map(|n| n.to_string()))
                        .ok_or_else(|| {
                            VerifyError::Unavailable("the server did not return a user ID".into())
                        })?;
                    return Ok(Account {
                        user_id,
                        screen_name: me.screen_name,
                    });
                }
                401 if code == Some(135) && tries < 3 => self.resync(&exchange),
                status => {
                    if let Some(hint) = response::rejection_hint(status, code) {
                        return Err(VerifyError::Rejected {
                            status,
                            code,
                            message: message.unwrap_or_else(|| format!("HTTP {status}")),
                            hint,
                        });
                    }
                    return Err(VerifyError::Unavailable(format!(
                        "HTTP {status}{}",
                        message.map(|m| format!(": {m}")).unwrap_or_default()
                    )));
                }
            }
        }
    }

    async fn act(&self, action: Action, target: &Target) -> Reply {
        let path = match action {
            Action::Unblock => "/1.1/blocks/destroy.json",
            Action::Block => "/1.1/blocks/create.json",
        };
        let value = target.to_string();
        let key = match target {
            Target::Id(_) => "user_id",
            Target::ScreenName(_) => "screen_name",
        };
        let params = [(key, value.as_str()), ("skip_status", "1")];
        match self.send(reqwest::Method::POST, path, &params).await {
            Ok(exchange) => {
                let verdict =
                    response::classify(action, exchange.status, &exchange.body, &exchange.headers);
                if let Verdict::ClockSkew { .. } = verdict {
                    self.resync(&exchange);
                }
                Reply {
                    verdict,
                    http_status: Some(exchange.status),
                    rate: response::rate_info(&exchange.headers),
                    server_date: response::server_date(&exchange.headers),
                }
            }
            Err(message) => Reply {
                verdict: Verdict::Transient {
                    error_code: None,
                    message,
                },
                http_status: None,
                rate: RateInfo::default(),
                server_date: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn loopback_bases_skip_proxies() {
        assert!(is_loopback("http://127.0.0.1:1234"));
        assert!(is_loopback("http://localhost:1"));
        assert!(!is_loopback("https://api.x.com"));
    }
}
