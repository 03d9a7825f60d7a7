//! X (Twitter) API v1.1 over OAuth 1.0a user context: the first network behind the seam.
//!
//! `POST /1.1/blocks/destroy.json` (and `blocks/create.json` for undo), with the target as
//! `user_id` or `screen_name` in a signed form body, and `GET /1.1/account/verify_credentials.json`
//! before the run. Every response feeds the shared [`ServerClock`], and is sorted by the pure
//! functions of [`response`].
//!
//! [`v2`] holds the API v2 client. Both clients send through the same private transport, so
//! signing, timeouts and clock feeding are one piece of code.

pub mod archive;
pub mod identity;
#[cfg(test)]
mod input_tests;
pub mod oauth;
pub mod response;
mod transport;
pub mod v2;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::ServerClock;
use crate::http::Exchange;
pub use crate::http::{install_tls_provider, normalize_base};
use crate::network::{
    Account, Acted, BlockPage, CredentialSpec, CredentialVar, Network, NetworkId, Reply, Settled,
    UserRef, Verdict,
};
use crate::outcome::{Action, Outcome};
use crate::pace::Rate;
use crate::target::Target;
use oauth::Credentials;
use transport::Transport;

/// The default API host.
pub const DEFAULT_API_BASE: &str = "https://api.x.com";

/// X's credentials: OAuth 1.0a user context, four values from the app's Keys and tokens page.
pub static CREDENTIALS: CredentialSpec = CredentialSpec {
    vars: &[
        CredentialVar {
            env: "TWITTER_CONSUMER_KEY",
            key: "consumer_key",
        },
        CredentialVar {
            env: "TWITTER_CONSUMER_SECRET",
            key: "consumer_secret",
        },
        CredentialVar {
            env: "TWITTER_ACCESS_TOKEN",
            key: "access_token",
        },
        CredentialVar {
            env: "TWITTER_ACCESS_TOKEN_SECRET",
            key: "access_token_secret",
        },
    ],
    base: None,
    what: "OAuth 1.0a user context, from the app's Keys and tokens page",
};

/// X's defaults. 50 unblocks per 15 minutes is the only published figure for unblocking; the
/// block list admits 15 pages per 15 minutes and lookups 900.
pub const DEFAULTS: crate::network::Defaults = crate::network::Defaults {
    api_base: Some(DEFAULT_API_BASE),
    rate: Rate::new(50, Duration::from_secs(15 * 60)),
    list_rate: Rate::new(15, Duration::from_secs(15 * 60)),
    lookup_rate: Rate::new(900, Duration::from_secs(15 * 60)),
    lookups_share_limit: false,
};

/// Settings for [`XClient`] and [`v2::XV2Client`].
#[derive(Clone, Debug)]
pub struct XSettings {
    /// Scheme, host and optional port (and path prefix) the API paths are appended to.
    pub api_base: String,
    /// OAuth 1.0a user-context credentials.
    pub credentials: Credentials,
    /// Timeout for one request, connect to last byte.
    pub timeout: Duration,
}

pub use crate::network::BaseUrlError;

/// The X API v1.1 client.
pub struct XClient {
    transport: Transport,
}

impl XClient {
    /// Builds a client. No request is sent.
    pub fn new(settings: XSettings, clock: Arc<ServerClock>) -> Result<XClient, BaseUrlError> {
        Ok(XClient {
            transport: Transport::new(settings, clock)?,
        })
    }

    /// The normalised base URL.
    pub fn base(&self) -> &str {
        self.transport.base()
    }

    /// Sends one signed request. Parameters go in the query for GET and in a form body otherwise.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Exchange, crate::http::TransportError> {
        self.transport.send(method, path, params).await
    }

    /// After the server refused our timestamp, trusts its `Date` alone from now on.
    fn resync(&self, exchange: &Exchange) {
        self.transport.resync(exchange);
    }
}

impl XClient {
    /// The reply to an exchange: its status, rate headers and `Date`, with `verdict`. A refused
    /// timestamp resynchronises the clock first, so the request can be sent again at once.
    fn reply<V>(&self, exchange: &Exchange, verdict: V, refused: bool) -> Reply<V> {
        if refused {
            self.resync(exchange);
        }
        Reply {
            verdict,
            http_status: Some(exchange.status),
            rate: response::rate_info(&exchange.headers),
            server_date: exchange.date,
        }
    }

    /// Sends a read request and parses a 2xx body (or a 404 that means "nobody") with `parse`;
    /// anything else becomes a verdict.
    async fn read<T>(
        &self,
        path: &str,
        params: &[(&str, &str)],
        parse: impl FnOnce(u16, &[u8]) -> Result<T, String>,
    ) -> Reply<Result<T, Verdict>> {
        let exchange = match self.send(reqwest::Method::GET, path, params).await {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        let verdict = match response::classify(
            Action::Unblock,
            exchange.status,
            &exchange.body,
            &exchange.headers,
        ) {
            Ok(Settled {
                outcome: Outcome::Unblocked | Outcome::NotFound,
                ..
            }) => parse(exchange.status, &exchange.body).map_err(Verdict::unexpected),
            Ok(settled) => Err(response::unread(settled, exchange.status)),
            Err(verdict) => Err(verdict),
        };
        let refused = matches!(verdict, Err(Verdict::Resend { .. }));
        self.reply(&exchange, verdict, refused)
    }
}

/// The body of `blocks/ids.json` with `stringify_ids=true`.
fn parse_ids_page(status: u16, body: &[u8]) -> Result<BlockPage, String> {
    #[derive(serde::Deserialize)]
    struct Page {
        ids: Vec<serde_json::Value>,
        next_cursor_str: Option<String>,
        next_cursor: Option<serde_json::Number>,
    }
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let ids = page
        .ids
        .iter()
        .map(|v| match v {
            serde_json::Value::String(s) => identity::parse_id(s)
                .map(|t| t.text().to_owned())
                .map_err(|e| e.to_string()),
            serde_json::Value::Number(n) => n
                .as_u64()
                .filter(|id| *id > 0)
                .map(|id| id.to_string())
                .ok_or_else(|| format!("bad ID {n}")),
            other => Err(format!("bad ID {other}")),
        })
        .collect::<Result<Vec<String>, String>>()?;
    let next = page
        .next_cursor_str
        .or_else(|| page.next_cursor.map(|n| n.to_string()))
        .filter(|c| c != "0");
    Ok(BlockPage {
        ids,
        next,
        ..BlockPage::default()
    })
}

/// The body of `users/lookup.json`: an array of user objects; 404 code 17 means nobody matched.
fn parse_lookup(status: u16, body: &[u8]) -> Result<Vec<UserRef>, String> {
    if status == 404 {
        return Ok(Vec::new());
    }
    let users: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(users
        .iter()
        .map(|u| response::user_ref(u.to_string().as_bytes()))
        .collect())
}

impl Network for XClient {
    fn network(&self) -> NetworkId {
        NetworkId::X
    }

    fn lookup_batch(&self) -> usize {
        100
    }

    async fn blocked_page(&self, cursor: Option<&str>) -> Reply<Result<BlockPage, Verdict>> {
        let cursor = cursor.unwrap_or("-1");
        self.read(
            "/1.1/blocks/ids.json",
            &[("cursor", cursor), ("stringify_ids", "true")],
            parse_ids_page,
        )
        .await
    }

    async fn lookup(&self, targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
        let join = |want_id: bool| {
            targets
                .iter()
                .filter(|t| t.is(&identity::USER_ID) == want_id)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let (ids, names) = (join(true), join(false));
        let mut params = Vec::new();
        if !ids.is_empty() {
            params.push(("user_id", ids.as_str()));
        }
        if !names.is_empty() {
            params.push(("screen_name", names.as_str()));
        }
        params.push(("include_entities", "false"));
        self.read("/1.1/users/lookup.json", &params, parse_lookup)
            .await
    }

    async fn verify(&self) -> Reply<Result<Account, Verdict>> {
        let exchange = match self
            .send(
                reqwest::Method::GET,
                "/1.1/account/verify_credentials.json",
                &[("include_entities", "false"), ("skip_status", "true")],
            )
            .await
        {
            Ok(exchange) => exchange,
            Err(error) => return Reply::no_answer(error.message()),
        };
        let verdict = if exchange.status == 200 {
            parse_me(&exchange.body).map_err(Verdict::unexpected_final)
        } else {
            match response::classify(
                Action::Unblock,
                exchange.status,
                &exchange.body,
                &exchange.headers,
            ) {
                // Not a fault and not a rejection (a 404, a 400): sending it again would not help.
                Ok(Settled {
                    error_code,
                    message,
                    ..
                }) => Err(Verdict::Final {
                    error_code,
                    message: format!(
                        "HTTP {}{}",
                        exchange.status,
                        message.map(|m| format!(": {m}")).unwrap_or_default()
                    ),
                }),
                Err(Verdict::Transient {
                    error_code,
                    message,
                }) => Err(Verdict::Transient {
                    error_code,
                    message: format!("HTTP {}: {message}", exchange.status),
                }),
                Err(other) => Err(other),
            }
        };
        let refused = matches!(verdict, Err(Verdict::Resend { .. }));
        self.reply(&exchange, verdict, refused)
    }

    async fn act(&self, action: Action, targets: &[Target]) -> Reply<Acted> {
        let [target] = targets else {
            return Reply::bare(Err(one_at_a_time(targets.len())));
        };
        let path = match action {
            Action::Unblock => "/1.1/blocks/destroy.json",
            Action::Block => "/1.1/blocks/create.json",
        };
        let value = target.to_string();
        let key = if target.is(&identity::USER_ID) {
            "user_id"
        } else {
            "screen_name"
        };
        let params = [(key, value.as_str()), ("skip_status", "1")];
        match self.send(reqwest::Method::POST, path, &params).await {
            Ok(exchange) => {
                let verdict =
                    response::classify(action, exchange.status, &exchange.body, &exchange.headers)
                        .map(|settled| vec![settled]);
                let refused = matches!(verdict, Err(Verdict::Resend { .. }));
                self.reply(&exchange, verdict, refused)
            }
            Err(error) => Reply::no_answer(error.message()),
        }
    }
}

/// X acts on one user a request; asked for more, it refuses (the executor batches by
/// [`Network::batch`], which is one here).
pub(crate) fn one_at_a_time(asked: usize) -> Verdict {
    Verdict::Final {
        error_code: None,
        message: format!("X acts on one user a request, not {asked}"),
    }
}

/// The body of `account/verify_credentials.json`: the account's ID and screen name.
fn parse_me(body: &[u8]) -> Result<Account, String> {
    #[derive(serde::Deserialize)]
    struct Me {
        id_str: Option<String>,
        id: Option<serde_json::Number>,
        screen_name: Option<String>,
    }
    let me: Me = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let user_id = me
        .id_str
        .or_else(|| me.id.map(|n| n.to_string()))
        .ok_or("the server did not return a user ID")?;
    Ok(Account {
        user_id,
        screen_name: me.screen_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_debug_never_shows_a_credential() {
        use oauth::Secret;
        let settings = XSettings {
            api_base: "https://api.x.com".into(),
            credentials: Credentials {
                consumer_key: Secret::new("ck-visible-nowhere"),
                consumer_secret: Secret::new("cs-visible-nowhere"),
                access_token: Secret::new("42-at-visible-nowhere"),
                access_token_secret: Secret::new("ats-visible-nowhere"),
            },
            timeout: Duration::from_secs(1),
        };
        let shown = format!("{settings:?} {settings:#?}");
        assert!(!shown.contains("visible-nowhere"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn block_pages_parse_with_string_ids_and_cursors() {
        let page = parse_ids_page(
            200,
            br#"{"ids":["1072250532645998596","12"],"next_cursor":1374004777531007833,"next_cursor_str":"1374004777531007833","previous_cursor":0,"previous_cursor_str":"0","total_count":null}"#,
        )
        .unwrap();
        assert_eq!(page.ids, vec!["1072250532645998596", "12"]);
        assert_eq!(page.next.as_deref(), Some("1374004777531007833"));
        let last = parse_ids_page(200, br#"{"ids":[],"next_cursor_str":"0"}"#).unwrap();
        assert_eq!(last, BlockPage::default());
        assert!(parse_ids_page(200, br#"{"ids":["x"]}"#).is_err());
    }

    #[test]
    fn lookups_read_users_and_nobody() {
        let users = parse_lookup(
            200,
            br#"[{"id":5,"id_str":"5","screen_name":"Five"},{"id_str":"6","screen_name":"six"}]"#,
        )
        .unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].screen_name.as_deref(), Some("Five"));
        assert_eq!(users[1].user_id.as_deref(), Some("6"));
        assert!(
            parse_lookup(404, br#"{"errors":[{"code":17}]}"#)
                .unwrap()
                .is_empty()
        );
    }
}
