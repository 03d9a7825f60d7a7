//! The signed transport both X API versions share: the OAuth 1.0a credentials over one
//! [`Http`] client (its pool, base URL and the server's clock).
//!
//! v1.1 and v2 differ in paths, bodies and error shapes, but not in how a request is signed.
//! Keeping that here means a fix to signing reaches both clients at once.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use super::XSettings;
use super::oauth::{self, Credentials};
use crate::clock::ServerClock;
use crate::http::{BaseUrlError, Exchange, Http, TransportError};

/// A signed-request sender bound to one base URL and one set of credentials.
pub(crate) struct Transport {
    http: Http,
    credentials: Credentials,
}

impl Transport {
    /// Builds the transport. No request is sent.
    pub fn new(settings: XSettings, clock: Arc<ServerClock>) -> Result<Transport, BaseUrlError> {
        Ok(Transport {
            http: Http::new(&settings.api_base, settings.timeout, clock)?,
            credentials: settings.credentials,
        })
    }

    /// The normalised base URL.
    pub fn base(&self) -> &str {
        self.http.base()
    }

    /// The `Authorization` header for a request to `url` carrying `params`, timestamped with the
    /// server's clock so a machine whose clock is off is not refused.
    fn authorize(&self, method: &reqwest::Method, url: &str, params: &[(&str, &str)]) -> String {
        let timestamp = self
            .http
            .clock()
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
    ) -> Result<Exchange, TransportError> {
        let mut url = self.http.url(path);
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
        self.http
            .exchange(request.header(AUTHORIZATION, auth))
            .await
    }

    /// Sends one signed request with a JSON body. A JSON body is not part of the OAuth 1.0a
    /// signature (only query and form parameters are), so the signature covers no parameters.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Exchange, TransportError> {
        let url = self.http.url(path);
        let auth = self.authorize(&method, url.as_str(), &[]);
        let request = self
            .http
            .request(method, url)
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, auth)
            .body(body.to_string());
        self.http.exchange(request).await
    }

    /// After the server refused our timestamp, trusts its `Date` alone from now on.
    pub fn resync(&self, exchange: &Exchange) {
        self.http.resync(exchange);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::x::oauth::Secret;
    use std::time::Duration;

    #[test]
    fn the_base_is_normalised_as_signed() {
        let transport = Transport::new(
            XSettings {
                api_base: "HTTPS://API.X.COM:443/".into(),
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
        assert_eq!(transport.base(), "https://api.x.com");
    }
}
