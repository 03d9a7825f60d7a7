//! What the emulators' own tests share: an HTTP client for loopback, and an answer read whole.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

/// A client for an emulator on loopback: no proxy, and a timeout so a hung answer fails the
/// test instead of hanging it.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

/// An answer, read whole. Each network's tests add what its bodies say (an error code, a
/// `Link` header).
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
    /// The body as JSON; `null` when it is not JSON.
    pub json: Value,
}

impl Answer {
    /// Reads a response whole.
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body reads");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            json,
        }
    }

    /// A header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A header's value as a number; panics when it is absent or not one.
    pub fn number(&self, name: &str) -> i64 {
        self.header(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} is a number: {:?}", self.headers))
    }
}
