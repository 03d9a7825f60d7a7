//! The X emulator answers what third-party clients ask of the real API (tweepy's `get_blocks`,
//! `Client.get_user(username=…)`, signing behind a TLS-terminating proxy), checked with the
//! project's own signer over loopback.
//!
//! The emulator's unit tests sign with its own, separately written signer; these sign as the
//! tool does, so both signers are held to the same server.

use std::collections::BTreeSet;
use std::time::Duration;

use bulk_unblock::emulator::clock_ms;
use bulk_unblock::emulator::x::{
    Config, Emulator, Endpoint, Running, Seed, SeedAccount, SeedApp, UserState, spawn,
};
use bulk_unblock::network::x::oauth::{self, Credentials, Secret};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// The builtin seed's first account (demo_owner) signing requests to a served emulator.
struct Signer {
    http: reqwest::Client,
    running: Running,
    credentials: Credentials,
    owner: u64,
    seed: Seed,
}

/// A decoded answer.
struct Answer {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn number(&self, name: &str) -> i64 {
        self.header(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} is a number: {:?}", self.headers))
    }

    fn code(&self) -> Option<u64> {
        self.json["errors"][0]["code"].as_u64()
    }
}

/// How a request is signed and sent.
struct Sent<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
    /// The base URL the signature covers (default: the URL the request is sent to).
    signed_base: Option<String>,
    /// Extra headers (`Host`, `X-Forwarded-Proto`).
    headers: &'a [(&'a str, &'a str)],
}

impl Signer {
    async fn start(configure: impl FnOnce(&mut Config)) -> Signer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let seed = Seed::builtin();
        let account: SeedAccount = seed.accounts[0].clone();
        let app: SeedApp = seed
            .apps
            .iter()
            .find(|a| a.consumer_key == account.consumer_key)
            .expect("the account's app")
            .clone();
        let mut config = Config::default();
        configure(&mut config);
        let emulator = Emulator::new(seed.clone(), config).expect("the builtin seed is valid");
        Signer {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client builds"),
            running: spawn(emulator).await.expect("binds loopback"),
            credentials: Credentials {
                consumer_key: Secret::new(app.consumer_key),
                consumer_secret: Secret::new(app.consumer_secret),
                access_token: Secret::new(account.access_token),
                access_token_secret: Secret::new(account.access_token_secret),
            },
            owner: account.user_id,
            seed,
        }
    }

    async fn send(&self, sent: Sent<'_>) -> Answer {
        let url = format!("{}{}", self.running.base_url(), sent.path);
        let signed_base = sent.signed_base.unwrap_or_else(|| url.clone());
        let timestamp = u64::try_from(clock_ms(0) / 1000).expect("after 1970");
        let authorization = oauth::authorization(
            sent.method,
            &signed_base,
            sent.query,
            &self.credentials,
            &oauth::nonce(),
            timestamp,
        );
        let full = if sent.query.is_empty() {
            url
        } else {
            format!("{url}?{}", oauth::encode_params(sent.query))
        };
        let method = reqwest::Method::from_bytes(sent.method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, full)
            .header("authorization", authorization);
        for (name, value) in sent.headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body reads");
        Answer {
            status,
            headers,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.send(Sent {
            method: "GET",
            path,
            query,
            signed_base: None,
            headers: &[],
        })
        .await
    }

    /// The screen names of the owner's blocked users in `state`.
    fn blocked_named(&self, state: UserState) -> Vec<String> {
        let blocked = self.running.emulator.blocked(self.owner);
        self.seed
            .users
            .iter()
            .filter(|u| u.state == state && blocked.contains(&u.id))
            .map(|u| u.screen_name.clone())
            .collect()
    }
}

const LIST: &str = "/1.1/blocks/list.json";

/// Reads every `blocks/list` page with `query` added; returns the user objects and how many
/// pages it took, checking each page's cursor fields and rate headers on the way.
async fn read_list(s: &Signer, query: &[(&str, &str)], page_size: usize) -> (Vec<Value>, usize) {
    let mut users = Vec::new();
    let mut cursor = "-1".to_owned();
    let mut pages = 0;
    loop {
        let mut params = vec![("cursor", cursor.as_str())];
        params.extend_from_slice(query);
        let a = s.get(LIST, &params).await;
        pages += 1;
        assert_eq!(a.status, 200, "{}", a.json);
        assert_eq!(a.header("x-rate-limit-limit"), Some("15"));
        assert_eq!(a.number("x-rate-limit-remaining"), 15 - pages as i64);
        let page = a.json["users"].as_array().expect("users").clone();
        assert!(page.len() <= page_size, "{} users", page.len());
        let next = a.json["next_cursor"].as_i64().expect("next_cursor");
        assert_eq!(a.json["next_cursor_str"], next.to_string());
        let previous = a.json["previous_cursor"].as_i64().expect("previous_cursor");
        assert_eq!(a.json["previous_cursor_str"], previous.to_string());
        assert_eq!(
            previous == 0,
            pages == 1,
            "only the first page has no previous"
        );
        users.extend(page);
        if next == 0 {
            return (users, pages);
        }
        cursor = next.to_string();
    }
}

#[tokio::test]
async fn blocks_list_pages_user_objects_as_blocks_ids_pages_ids() {
    let s = Signer::start(|_| {}).await;
    let (users, pages) = read_list(&s, &[], 20).await;
    // 200 blocks, 20 a page; suspended and deactivated users drop out after paging.
    assert_eq!(pages, 10);
    let listed: BTreeSet<String> = users
        .iter()
        .map(|u| u["id_str"].as_str().expect("id_str").to_owned())
        .collect();
    assert_eq!(listed.len(), users.len(), "no one twice");
    let ids = s
        .get("/1.1/blocks/ids.json", &[("stringify_ids", "true")])
        .await;
    let from_ids: BTreeSet<String> = ids.json["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("string ID").to_owned())
        .collect();
    assert_eq!(listed, from_ids);
    assert_eq!(listed.len(), 190);
    for name in s
        .blocked_named(UserState::Suspended)
        .iter()
        .chain(&s.blocked_named(UserState::Deactivated))
    {
        assert!(
            users.iter().all(|u| u["screen_name"] != *name.as_str()),
            "{name}"
        );
    }
    // Whole user objects, shaped by include_entities and skip_status.
    let first = &users[0];
    assert!(first["id"].is_u64() && first.get("created_at").is_some());
    assert!(first.get("entities").is_some());
    assert!(users.iter().any(|u| u.get("status").is_some()));

    // rate_limit_status tells the window of /blocks/list next to /blocks/ids.
    let status = s
        .get(
            "/1.1/application/rate_limit_status.json",
            &[("resources", "blocks")],
        )
        .await;
    let blocks = &status.json["resources"]["blocks"];
    assert_eq!(blocks["/blocks/list"]["limit"], 15);
    assert_eq!(blocks["/blocks/list"]["remaining"], 5);
    assert_eq!(blocks["/blocks/ids"]["remaining"], 14);

    let bare = s
        .get(
            LIST,
            &[("skip_status", "true"), ("include_entities", "false")],
        )
        .await;
    let bare_users = bare.json["users"].as_array().expect("users");
    assert!(!bare_users.is_empty());
    assert!(
        bare_users
            .iter()
            .all(|u| u.get("status").is_none() && u.get("entities").is_none())
    );
    // The window holds 15: four more, then a 429 that says it is spent.
    for _ in 0..4 {
        assert_eq!(s.get(LIST, &[]).await.status, 200);
    }
    let refused = s.get(LIST, &[]).await;
    assert_eq!((refused.status, refused.code()), (429, Some(88)));
    assert_eq!(refused.header("x-rate-limit-remaining"), Some("0"));
    assert!(refused.number("x-rate-limit-reset") > clock_ms(0) / 1000);
    let log = s.running.emulator.requests();
    assert!(
        log.iter()
            .filter(|r| r.path == LIST)
            .all(|r| r.endpoint == Endpoint::BlocksList)
    );
    assert_eq!(s.running.emulator.stats().per_endpoint["blocks/list"], 16);
}

#[tokio::test]
async fn the_blocks_list_page_size_is_a_knob() {
    let s = Signer::start(|c| c.replies.list_page_size = 50).await;
    let (users, pages) = read_list(&s, &[("skip_status", "1")], 50).await;
    assert_eq!((users.len(), pages), (190, 4));
    // Past the last page (cursor 0) there is nothing more.
    let done = s.get(LIST, &[("cursor", "0")]).await;
    assert_eq!(done.json["users"], json!([]));
    assert_eq!(done.json["next_cursor"], 0);
}

#[tokio::test]
async fn v2_user_by_username_answers_one_user_or_a_partial_error() {
    let s = Signer::start(|_| {}).await;
    let path = |name: &str| format!("/2/users/by/username/{name}");
    let me = s.get(&path("DEMO_owner"), &[]).await;
    assert_eq!(me.status, 200, "{}", me.json);
    let data = me.json["data"]
        .as_object()
        .expect("data is one user, not a list");
    assert_eq!(data.keys().collect::<Vec<_>>(), ["id", "name", "username"]);
    assert_eq!(data["id"], s.owner.to_string());
    assert_eq!(data["username"], "demo_owner");
    assert!(data["name"].is_string());
    assert_eq!(me.header("x-rate-limit-limit"), Some("900"));
    assert_eq!(me.header("x-rate-limit-remaining"), Some("899"));
    assert_eq!(
        me.header("content-type"),
        Some("application/json; charset=utf-8")
    );

    let unknown = s.get(&path("nobody_here"), &[]).await;
    assert_eq!(unknown.status, 200);
    assert_eq!(
        unknown.json,
        json!({"errors": [{
            "value": "nobody_here",
            "detail": "Could not find user with username: [nobody_here].",
            "title": "Not Found Error",
            "resource_type": "user",
            "parameter": "username",
            "resource_id": "nobody_here",
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }]})
    );
    let suspended = &s.blocked_named(UserState::Suspended)[0];
    let a = s.get(&path(suspended), &[]).await;
    assert_eq!(a.status, 200);
    assert!(a.json.get("data").is_none());
    assert_eq!(a.json["errors"][0]["title"], "Forbidden");
    assert_eq!(
        a.json["errors"][0]["detail"],
        format!("User has been suspended: [{suspended}].")
    );
    let deactivated = &s.blocked_named(UserState::Deactivated)[0];
    let a = s.get(&path(deactivated), &[]).await;
    assert_eq!(a.json["errors"][0]["title"], "Not Found Error");

    let invalid = s.get(&path("no-dashes"), &[]).await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json["title"], "Invalid Request");
    assert_eq!(
        invalid.header("content-type"),
        Some("application/problem+json")
    );
    let log = s.running.emulator.requests();
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|r| r.endpoint == Endpoint::V2UserByUsername));
    assert_eq!(log[0].account, Some(s.owner.to_string()));
}

#[tokio::test]
async fn a_signature_for_the_https_url_counts_behind_a_proxy_that_says_https() {
    let s = Signer::start(|_| {}).await;
    let verify = "/1.1/account/verify_credentials.json";
    let https = |host: &str, path: &str| Some(format!("https://{host}{path}"));
    let host = s.running.addr().to_string();
    let signed_https = |path| Sent {
        method: "GET",
        path,
        query: &[],
        signed_base: https(&host, path),
        headers: &[("x-forwarded-proto", "https")],
    };

    // Signed for https://127.0.0.1:PORT/…, sent to the http listener with the proxy's header.
    let a = s.send(signed_https(verify)).await;
    assert_eq!(a.status, 200, "{}", a.json);
    // The same signature without the header is a signature for another URL.
    let a = s
        .send(Sent {
            headers: &[],
            ..signed_https(verify)
        })
        .await;
    assert_eq!((a.status, a.code()), (401, Some(32)));
    // With the header, the http form still counts.
    let a = s
        .send(Sent {
            signed_base: None,
            ..signed_https(verify)
        })
        .await;
    assert_eq!(a.status, 200);
    // A proxy forwarding https://api.example.test/… (the default port left out of the URL, as
    // clients sign it) with the Host it was asked for.
    let a = s
        .send(Sent {
            signed_base: https("api.example.test", verify),
            headers: &[
                ("x-forwarded-proto", "https"),
                ("host", "api.example.test:443"),
            ],
            ..signed_https(verify)
        })
        .await;
    assert_eq!(a.status, 200, "{}", a.json);
    // v2 and parameters too.
    let me = "/2/users/me";
    let a = s.send(signed_https(me)).await;
    assert_eq!(a.status, 200, "{}", a.json);
    let a = s
        .send(Sent {
            query: &[("cursor", "-1"), ("stringify_ids", "true")],
            ..signed_https("/1.1/blocks/ids.json")
        })
        .await;
    assert_eq!(a.status, 200, "{}", a.json);
    let a = s
        .send(Sent {
            headers: &[("x-forwarded-proto", "http")],
            ..signed_https(me)
        })
        .await;
    assert_eq!(
        a.status, 401,
        "an http proxy does not make the https form count"
    );
    assert_eq!(s.running.emulator.stats().auth_failures, 2);
}

#[tokio::test]
async fn refused_timestamps_are_refused_every_time_on_the_chosen_endpoints() {
    let s = Signer::start(|c| {
        c.auth.refuse_timestamps = vec![Endpoint::BlocksIds, Endpoint::V2Me];
    })
    .await;
    for _ in 0..5 {
        let a = s.get("/1.1/blocks/ids.json", &[]).await;
        assert_eq!((a.status, a.code()), (401, Some(135)));
        assert_eq!(a.json["errors"][0]["message"], "Timestamp out of bounds.");
    }
    let a = s.get("/2/users/me", &[]).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.json,
        json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
    );
    // Other endpoints are untouched.
    let lookup = s
        .get("/1.1/users/lookup.json", &[("screen_name", "demo_owner")])
        .await;
    assert_eq!(lookup.status, 200, "{}", lookup.json);
    let log = s.running.emulator.requests();
    assert_eq!(
        log.iter().filter(|r| r.error_number() == Some(135)).count(),
        5
    );

    // The knob moves at runtime through the admin patch, by the same names.
    let admin = format!("{}/admin/config", s.running.base_url());
    let patched = s
        .http
        .post(&admin)
        .json(&json!({"auth": {"refuse_timestamps": ["users/lookup"]}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(patched.status().as_u16(), 200);
    let body: Value = patched.json().await.expect("config");
    assert_eq!(body["auth"]["refuse_timestamps"], json!(["users/lookup"]));
    assert_eq!(s.get("/1.1/blocks/ids.json", &[]).await.status, 200);
    let a = s
        .get("/1.1/users/lookup.json", &[("screen_name", "demo_owner")])
        .await;
    assert_eq!((a.status, a.code()), (401, Some(135)));
    let bad = s
        .http
        .post(&admin)
        .json(&json!({"auth": {"refuse_timestamps": ["users_lookup"]}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status().as_u16(), 422);
    let text = bad.text().await.expect("text");
    assert!(text.contains("users_lookup"), "{text}");
}
