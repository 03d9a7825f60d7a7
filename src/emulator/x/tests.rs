//! End-to-end tests of the emulator over real HTTP on loopback: a reqwest client signs requests
//! with the test signer, and each test asserts on the answer and on what the emulator holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::oauth::{self, Credentials};
use super::*;
use crate::emulator::testing::{Answer, http};
use crate::emulator::{FaultKind, clock_ms};

const CK: &str = "TestConsumerKey0000000001";
const CS: &str = "cs+with/odd=chars&and%more~0123456789abcdefghijklmn";
const OWNER: u64 = 1;
const READER: u64 = 2;
const TIERLESS: u64 = 3;
const BIG: u64 = 1_072_250_532_645_998_596;

fn token(id: u64) -> String {
    format!("{id}-TestToken")
}

fn token_secret(id: u64) -> String {
    format!("ts/{id}+secret=&%~x")
}

fn user(id: u64, name: &str, state: UserState) -> SeedUser {
    SeedUser {
        id,
        screen_name: name.into(),
        name: name.to_uppercase(),
        state,
    }
}

fn account(id: u64, level: AccessLevel, v1: bool, blocked: &[u64]) -> SeedAccount {
    SeedAccount {
        user_id: id,
        consumer_key: CK.into(),
        access_token: token(id),
        access_token_secret: token_secret(id),
        access_level: level,
        v1_access: v1,
        blocked: blocked.to_vec(),
    }
}

/// Owner 1 blocks alice, bob, carol, a suspended and a deactivated user, and BIG.
fn test_seed() -> Seed {
    use UserState::*;
    Seed {
        apps: vec![SeedApp {
            consumer_key: CK.into(),
            consumer_secret: CS.into(),
        }],
        users: vec![
            user(OWNER, "owner", Active),
            user(READER, "reader", Active),
            user(TIERLESS, "tierless", Active),
            user(10, "alice", Active),
            user(11, "Bob", Active),
            user(12, "carol", Active),
            user(13, "sus", Suspended),
            user(14, "gone", Deactivated),
            user(15, "dave", Active),
            user(BIG, "bigid", Active),
        ],
        accounts: vec![
            account(
                OWNER,
                AccessLevel::ReadWrite,
                true,
                &[10, 11, 12, 13, 14, BIG],
            ),
            account(READER, AccessLevel::Read, true, &[10]),
            account(TIERLESS, AccessLevel::ReadWrite, false, &[]),
        ],
    }
}

fn creds(id: u64) -> Credentials {
    Credentials {
        consumer_key: CK.into(),
        consumer_secret: CS.into(),
        token: token(id),
        token_secret: token_secret(id),
    }
}

/// A signing test client.
struct Client {
    http: reqwest::Client,
    base: String,
    creds: Credentials,
    /// Seconds added to the real clock for `oauth_timestamp`.
    ts_offset: i64,
}

impl Answer {
    /// The v1.1 error code.
    fn code(&self) -> Option<u64> {
        self.json["errors"][0]["code"].as_u64()
    }
}

static NONCE: AtomicU64 = AtomicU64::new(0);

fn query_string(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", oauth::encode(k), oauth::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Client {
    fn new(running: &Running, id: u64) -> Client {
        Client {
            http: http(),
            base: running.base_url(),
            creds: creds(id),
            ts_offset: 0,
        }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let url = format!("{}{}", self.base, path);
        let mut all = query.to_vec();
        all.extend_from_slice(form);
        let nonce = format!("nonce{}", NONCE.fetch_add(1, Ordering::Relaxed));
        let ts = clock_ms(self.ts_offset) / 1000;
        let auth = oauth::authorization(method, &url, &all, &self.creds, &nonce, ts);
        let full = if query.is_empty() {
            url
        } else {
            format!("{url}?{}", query_string(query))
        };
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, full).header("authorization", auth);
        if !form.is_empty() {
            rb = rb
                .header("content-type", "application/x-www-form-urlencoded")
                .body(query_string(form));
        }
        rb
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> Answer {
        answer(
            self.request(method, path, query, form)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.call("GET", path, query, &[]).await
    }

    /// A signed POST with the parameters in a form body.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.call("POST", path, &[], form).await
    }

    async fn destroy(&self, user_id: u64) -> Answer {
        self.post(
            "/1.1/blocks/destroy.json",
            &[("user_id", &user_id.to_string())],
        )
        .await
    }
}

async fn answer(resp: reqwest::Response) -> Answer {
    Answer::read(resp).await
}

async fn start(config: Config) -> Running {
    let emulator = Emulator::new(test_seed(), config).expect("test seed is valid");
    spawn(emulator).await.expect("emulator binds")
}

// ---------------------------------------------------------------- authentication

#[tokio::test]
async fn every_auth_failure_has_its_code() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    let url = format!("{}/1.1/account/verify_credentials.json", running.base_url());

    // Signed properly: accepted.
    let ok = c.get("/1.1/account/verify_credentials.json", &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.json);

    // No header, and garbage: 400/215.
    let none = answer(c.http.get(&url).send().await.expect("sent")).await;
    assert_eq!((none.status, none.code()), (400, Some(215)));
    let garbage = answer(
        c.http
            .get(&url)
            .header("authorization", "OAuth ???")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!((garbage.status, garbage.code()), (400, Some(215)));

    // Unknown consumer key and a wrong consumer secret: 401/32.
    let mut bad = Client::new(&running, OWNER);
    bad.creds.consumer_key = "NoSuchKey".into();
    let a = bad.get("/1.1/account/verify_credentials.json", &[]).await;
    assert_eq!((a.status, a.code()), (401, Some(32)));
    assert_eq!(
        a.json["errors"][0]["message"],
        "Could not authenticate you."
    );
    let mut bad = Client::new(&running, OWNER);
    bad.creds.consumer_secret.push('x');
    let a = bad.get("/1.1/account/verify_credentials.json", &[]).await;
    assert_eq!((a.status, a.code()), (401, Some(32)));
    // A wrong token secret is a bad signature too.
    let mut bad = Client::new(&running, OWNER);
    bad.creds.token_secret.push('x');
    let a = bad.get("/1.1/account/verify_credentials.json", &[]).await;
    assert_eq!((a.status, a.code()), (401, Some(32)));

    // Unknown token: 401/89.
    let mut bad = Client::new(&running, OWNER);
    bad.creds.token = "999-nope".into();
    let a = bad.get("/1.1/account/verify_credentials.json", &[]).await;
    assert_eq!((a.status, a.code()), (401, Some(89)));
    assert_eq!(a.json["errors"][0]["message"], "Invalid or expired token.");

    // Timestamp outside the window: 401/135.
    let mut skewed = Client::new(&running, OWNER);
    skewed.ts_offset = -301;
    let a = skewed
        .get("/1.1/account/verify_credentials.json", &[])
        .await;
    assert_eq!((a.status, a.code()), (401, Some(135)));
    assert_eq!(a.json["errors"][0]["message"], "Timestamp out of bounds.");
    skewed.ts_offset = 280;
    assert_eq!(
        skewed
            .get("/1.1/account/verify_credentials.json", &[])
            .await
            .status,
        200
    );

    // Duplicate keys, even when signed consistently: 401/32.
    let a = c
        .get(
            "/1.1/users/lookup.json",
            &[("user_id", "10"), ("user_id", "11")],
        )
        .await;
    assert_eq!((a.status, a.code()), (401, Some(32)));

    // The same failures on v2 are problem JSON.
    let mut bad = Client::new(&running, OWNER);
    bad.creds.token_secret.push('x');
    let a = bad.get("/2/users/me", &[]).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.json,
        serde_json::json!({"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"})
    );
    assert_eq!(a.header("content-type"), Some("application/problem+json"));

    // Revoked token: 401/89.
    running.emulator.revoke_token(&token(OWNER));
    let a = c.get("/1.1/account/verify_credentials.json", &[]).await;
    assert_eq!((a.status, a.code()), (401, Some(89)));

    let stats = running.emulator.stats();
    assert_eq!(stats.auth_failures, 10);
    assert_eq!(stats.status_2xx, 2);
    let log = running.emulator.requests();
    assert_eq!(log.len(), 12);
    assert!(log.iter().all(|r| r.endpoint != Endpoint::Unknown));
    assert_eq!(log[0].account, Some(OWNER.to_string()));
    assert_eq!(log[1].account, None);
}

#[tokio::test]
async fn nonce_replay_is_checked_only_when_asked() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    let url = format!("{}/1.1/account/verify_credentials.json", running.base_url());
    let ts = clock_ms(0) / 1000;
    let auth = oauth::authorization("GET", &url, &[], &c.creds, "fixed-nonce", ts);
    let send = || async {
        answer(
            c.http
                .get(&url)
                .header("authorization", auth.clone())
                .send()
                .await
                .expect("sent"),
        )
        .await
    };
    assert_eq!(send().await.status, 200);
    assert_eq!(send().await.status, 200, "replays pass by default");
    running
        .emulator
        .update_config(|c| c.auth.check_nonce = true);
    assert_eq!(
        send().await.status,
        200,
        "first sighting once checking is on"
    );
    let replay = send().await;
    assert_eq!((replay.status, replay.code()), (401, Some(32)));
}

#[tokio::test]
async fn signature_covers_host_and_port_as_sent() {
    let running = start(Config::default()).await;
    let mut c = Client::new(&running, OWNER);
    // Signed for another port: the base URL differs, so the signature fails.
    c.base = format!("http://127.0.0.1:{}", running.addr().port() + 1);
    let url = format!("{}/1.1/account/verify_credentials.json", running.base_url());
    let ts = clock_ms(0) / 1000;
    let signed_elsewhere = oauth::authorization(
        "GET",
        &format!("{}/1.1/account/verify_credentials.json", c.base),
        &[],
        &c.creds,
        "n-port",
        ts,
    );
    let a = answer(
        c.http
            .get(&url)
            .header("authorization", signed_elsewhere)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!((a.status, a.code()), (401, Some(32)));
}

// ---------------------------------------------------------------- blocks/destroy and create

#[tokio::test]
async fn destroy_answers_each_kind_of_target() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    let emu = &running.emulator;

    // Blocked: 200 with the user, and the block is gone.
    let a = c.destroy(BIG).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["id_str"], BIG.to_string());
    assert_eq!(a.json["screen_name"], "bigid");
    assert!(a.json.get("status").is_some());
    assert_eq!(
        a.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    assert_eq!(a.header("x-access-level"), Some("read-write"));
    assert!(
        a.header("x-rate-limit-limit").is_none(),
        "block writes carry no rate headers by default"
    );
    assert!(!emu.blocked(OWNER).contains(&BIG));

    // Exists, not blocked: 200, no change.
    let a = c.destroy(15).await;
    assert_eq!((a.status, a.json["id"].as_u64()), (200, Some(15)));
    // ...or 404/34 when configured.
    emu.update_config(|c| c.replies.not_blocked = NotBlockedReply::NotFound);
    let a = c.destroy(15).await;
    assert_eq!((a.status, a.code()), (404, Some(34)));

    // Never existed: 404/50, or 34 when configured.
    let a = c.destroy(424242).await;
    assert_eq!((a.status, a.code()), (404, Some(50)));
    assert_eq!(a.json["errors"][0]["message"], "User not found.");
    emu.update_config(|c| c.replies.unknown_user_code = 34);
    assert_eq!(c.destroy(424242).await.code(), Some(34));

    // Deactivated: 404/34, and the block stays.
    let a = c.destroy(14).await;
    assert_eq!((a.status, a.code()), (404, Some(34)));
    // Suspended: 404/50 by default, 403/63 when configured; the block stays.
    let a = c.destroy(13).await;
    assert_eq!((a.status, a.code()), (404, Some(50)));
    emu.update_config(|c| c.replies.suspended = SuspendedReply::Suspended);
    let a = c.destroy(13).await;
    assert_eq!((a.status, a.code()), (403, Some(63)));
    assert_eq!(a.json["errors"][0]["message"], "User has been suspended.");
    assert_eq!(emu.blocked(OWNER), vec![10, 11, 12, 13, 14]);

    // Neither parameter: 400/38.
    let a = c
        .post("/1.1/blocks/destroy.json", &[("skip_status", "1")])
        .await;
    assert_eq!((a.status, a.code()), (400, Some(38)));

    // By screen name, ignoring case; skip_status drops the status.
    let a = c
        .post(
            "/1.1/blocks/destroy.json",
            &[("screen_name", "BOB"), ("skip_status", "t")],
        )
        .await;
    assert_eq!((a.status, a.json["id"].as_u64()), (200, Some(11)));
    assert!(a.json.get("status").is_none());
    assert_eq!(emu.blocked(OWNER), vec![10, 12, 13, 14]);

    // GET on the endpoint: the route does not exist.
    let a = c
        .get("/1.1/blocks/destroy.json", &[("user_id", "10")])
        .await;
    assert_eq!((a.status, a.code()), (404, Some(34)));
    let a = c.get("/1.1/no/such/thing.json", &[]).await;
    assert_eq!((a.status, a.code()), (404, Some(34)));

    let stats = emu.stats();
    assert_eq!(stats.unblocks_applied, 2);
    assert_eq!(stats.per_endpoint.get("blocks/destroy"), Some(&10));
}

#[tokio::test]
async fn parameters_count_from_the_query_or_the_form_body() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    // tweepy's way: everything in the query, empty body.
    let a = c
        .call(
            "POST",
            "/1.1/blocks/destroy.json",
            &[("user_id", "10"), ("skip_status", "1")],
            &[],
        )
        .await;
    assert_eq!((a.status, a.json["id"].as_u64()), (200, Some(10)));
    assert!(a.json.get("status").is_none());
    // Form body.
    let a = c
        .post("/1.1/blocks/destroy.json", &[("user_id", "12")])
        .await;
    assert_eq!((a.status, a.json["id"].as_u64()), (200, Some(12)));
    // Mixed.
    let a = c
        .call(
            "POST",
            "/1.1/blocks/destroy.json",
            &[("skip_status", "true")],
            &[("screen_name", "bob")],
        )
        .await;
    assert_eq!((a.status, a.json["id"].as_u64()), (200, Some(11)));
    assert!(a.json.get("status").is_none());
    assert_eq!(running.emulator.blocked(OWNER), vec![13, 14, BIG]);
    // A body that is not form-encoded is neither read nor signed.
    let url = format!("{}/1.1/blocks/destroy.json", running.base_url());
    let auth = oauth::authorization("POST", &url, &[], &c.creds, "n-json", clock_ms(0) / 1000);
    let a = answer(
        c.http
            .post(&url)
            .header("authorization", auth)
            .header("content-type", "text/plain")
            .body("user_id=13")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!((a.status, a.code()), (400, Some(38)));
    let log = running.emulator.requests();
    assert_eq!(log[0].params.get("user_id").map(String::as_str), Some("10"));
    assert!(
        log.iter()
            .all(|r| r.params.keys().all(|k| !k.starts_with("oauth_")))
    );
}

#[tokio::test]
async fn create_blocks_and_write_access_is_checked() {
    let running = start(Config::default()).await;
    let emu = &running.emulator;
    let c = Client::new(&running, OWNER);
    let a = c
        .post("/1.1/blocks/create.json", &[("screen_name", "dave")])
        .await;
    assert_eq!((a.status, a.json["id"].as_u64()), (200, Some(15)));
    assert!(emu.blocked(OWNER).contains(&15));
    assert_eq!(emu.stats().blocks_applied, 1);

    // Read-only token: 403/261 on writes, reads still work.
    let reader = Client::new(&running, READER);
    let a = reader.destroy(10).await;
    assert_eq!((a.status, a.code()), (403, Some(261)));
    assert_eq!(a.header("x-access-level"), Some("read"));
    assert_eq!(emu.blocked(READER), vec![10]);
    assert_eq!(reader.get("/1.1/blocks/ids.json", &[]).await.status, 200);

    // No v1.1 access: 403/453 everywhere on v1.1.
    let tierless = Client::new(&running, TIERLESS);
    let a = tierless
        .get("/1.1/account/verify_credentials.json", &[])
        .await;
    assert_eq!((a.status, a.code()), (403, Some(453)));
    assert_eq!(tierless.destroy(10).await.code(), Some(453));
}

// ---------------------------------------------------------------- blocks/ids

#[tokio::test]
async fn ids_pages_stay_stable_while_blocks_are_removed() {
    let mut config = Config::default();
    config.replies.ids_page_size = 3;
    let running = start(config).await;
    let emu = &running.emulator;
    let c = Client::new(&running, OWNER);
    emu.set_blocked(OWNER, (100..=110).chain([13, 14]));

    let mut seen = Vec::new();
    let mut cursor = "-1".to_owned();
    let mut pages = 0;
    loop {
        let a = c
            .get(
                "/1.1/blocks/ids.json",
                &[("cursor", &cursor), ("stringify_ids", "true")],
            )
            .await;
        assert_eq!(a.status, 200);
        assert!(a.json["total_count"].is_null());
        assert!(a.header("x-rate-limit-remaining").is_some());
        for id in a.json["ids"].as_array().expect("ids") {
            seen.push(
                id.as_str()
                    .expect("stringified")
                    .parse::<u64>()
                    .expect("id"),
            );
        }
        let next = a.json["next_cursor_str"]
            .as_str()
            .expect("cursor str")
            .to_owned();
        assert_eq!(
            a.json["next_cursor"].as_i64().map(|n| n.to_string()),
            Some(next.clone())
        );
        pages += 1;
        if next == "0" {
            break;
        }
        assert!(next.parse::<i64>().expect("int64") > 0);
        cursor = next;
        // Remove the next block not yet served and one already served, between pages.
        let remaining: Vec<u64> = emu
            .blocked(OWNER)
            .into_iter()
            .filter(|id| !seen.contains(id))
            .collect();
        if let Some(&first_unserved) = remaining.iter().find(|id| **id >= 100) {
            let served = seen.first().copied();
            let keep: Vec<u64> = emu
                .blocked(OWNER)
                .into_iter()
                .filter(|id| *id != first_unserved && Some(*id) != served)
                .collect();
            emu.set_blocked(OWNER, keep);
        }
    }
    // Suspended (13) and deactivated (14) are filtered out; nobody is served twice, and
    // everybody still blocked was served.
    assert!(!seen.contains(&13) && !seen.contains(&14));
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup, seen, "ascending, no repeats");
    for id in emu.blocked(OWNER) {
        assert!(id < 100 || seen.contains(&id), "{id} was skipped");
    }
    assert!(pages >= 3, "{pages}");
    // The first page held 13, 14, 100: two were filtered, so it was short.
    assert_eq!(seen[0], 100);

    // Without stringify_ids the IDs are numbers, big ones exact.
    emu.set_blocked(OWNER, [BIG]);
    let a = c.get("/1.1/blocks/ids.json", &[]).await;
    assert_eq!(a.json["ids"][0].as_u64(), Some(BIG));
    assert_eq!(a.json["next_cursor"].as_i64(), Some(0));
    assert_eq!(a.json["previous_cursor_str"], "0");
}

// ---------------------------------------------------------------- users/lookup, verify, status

#[tokio::test]
async fn lookup_filters_and_limits_terms() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    let a = c
        .get(
            "/1.1/users/lookup.json",
            &[
                ("user_id", "10,13,14,999,x"),
                ("screen_name", "CAROL,nobody,alice"),
            ],
        )
        .await;
    assert_eq!(a.status, 200);
    let mut ids: Vec<u64> = a
        .json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|u| u["id"].as_u64())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        vec![10, 12],
        "unknown, suspended and deactivated left out, duplicates merged"
    );

    let a = c
        .post("/1.1/users/lookup.json", &[("user_id", "13,14,999")])
        .await;
    assert_eq!((a.status, a.code()), (404, Some(17)));

    let many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    let joined = many.join(",");
    let a = c
        .get("/1.1/users/lookup.json", &[("user_id", &joined)])
        .await;
    assert_eq!((a.status, a.code()), (403, Some(18)));
    let hundred = many[..100].join(",");
    let a = c
        .get("/1.1/users/lookup.json", &[("user_id", &hundred)])
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-rate-limit-limit"), Some("900"));
}

#[tokio::test]
async fn verify_credentials_and_rate_limit_status() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    let a = c
        .get(
            "/1.1/account/verify_credentials.json",
            &[("skip_status", "1")],
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["id_str"], "1");
    assert_eq!(a.json["screen_name"], "owner");
    assert_eq!(a.json["suspended"], false);
    assert_eq!(a.json["needs_phone_verification"], false);
    assert_eq!(a.header("x-rate-limit-limit"), Some("75"));
    assert_eq!(a.header("x-rate-limit-remaining"), Some("74"));

    c.get("/1.1/blocks/ids.json", &[]).await;
    let a = c
        .get(
            "/1.1/application/rate_limit_status.json",
            &[("resources", "blocks,account")],
        )
        .await;
    assert_eq!(a.status, 200);
    let ids = &a.json["resources"]["blocks"]["/blocks/ids"];
    assert_eq!(
        (ids["limit"].as_u64(), ids["remaining"].as_u64()),
        (Some(15), Some(14))
    );
    assert_eq!(
        a.json["resources"]["account"]["/account/verify_credentials"]["remaining"].as_u64(),
        Some(74)
    );
    assert!(a.json["resources"].get("users").is_none());
}

// ---------------------------------------------------------------- rate limits and clock

#[tokio::test]
async fn window_refuses_over_the_limit_then_reopens() {
    let mut config = Config::default();
    config.limits.window = Duration::from_secs(2);
    config.limits.destroy = EndpointLimit::new(2, HeaderMode::Headers);
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let a1 = c.destroy(10).await;
    let a2 = c.destroy(11).await;
    assert_eq!((a1.status, a2.status), (200, 200));
    assert_eq!(a1.header("x-rate-limit-limit"), Some("2"));
    assert_eq!(a1.header("x-rate-limit-remaining"), Some("1"));
    assert_eq!(a2.header("x-rate-limit-remaining"), Some("0"));
    let reset: i64 = a1
        .header("x-rate-limit-reset")
        .and_then(|r| r.parse().ok())
        .expect("reset");
    assert_eq!(
        a2.header("x-rate-limit-reset"),
        Some(reset.to_string().as_str())
    );
    let now = clock_ms(0) / 1000;
    assert!(reset > now && reset <= now + 2, "reset {reset}, now {now}");

    let refused = c.destroy(12).await;
    assert_eq!((refused.status, refused.code()), (429, Some(88)));
    assert_eq!(refused.json["errors"][0]["message"], "Rate limit exceeded");
    assert_eq!(refused.header("x-rate-limit-remaining"), Some("0"));
    assert_eq!(
        refused.header("x-rate-limit-reset"),
        Some(reset.to_string().as_str())
    );
    assert!(refused.header("retry-after").is_none());
    assert!(
        running.emulator.blocked(OWNER).contains(&12),
        "a 429 does nothing"
    );

    // Wait for the announced reset (emulator clock = real clock here).
    let wait_ms = (reset * 1000 - clock_ms(0)).max(0) as u64 + 50;
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    let again = c.destroy(12).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("x-rate-limit-remaining"), Some("1"));

    let stats = running.emulator.stats();
    assert_eq!((stats.rate_limited, stats.window_spent), (1, 1));
    let log = running.emulator.requests();
    assert_eq!(log.iter().filter(|r| r.window_spent).count(), 1);
    assert!(log[2].window_spent && log[2].status == 429);
}

#[tokio::test]
async fn header_mode_none_still_marks_429s_unless_told_not_to() {
    let mut config = Config::default();
    config.limits.window = Duration::from_secs(60);
    config.limits.destroy.limit = 1;
    config.limits.retry_after = true;
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let ok = c.destroy(10).await;
    assert_eq!(ok.status, 200);
    assert!(ok.header("x-rate-limit-remaining").is_none());
    let refused = c.destroy(11).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("x-rate-limit-remaining"), Some("0"));
    let reset: i64 = refused
        .header("x-rate-limit-reset")
        .and_then(|r| r.parse().ok())
        .expect("reset");
    assert!(reset > clock_ms(0) / 1000);
    assert!(refused.header("x-rate-limit-limit").is_none());
    let retry: i64 = refused
        .header("retry-after")
        .and_then(|r| r.parse().ok())
        .expect("retry-after");
    assert!((1..=60).contains(&retry), "{retry}");

    running.emulator.update_config(|c| {
        c.limits.reset_on_429 = false;
        c.limits.retry_after = false;
    });
    let bare = c.destroy(11).await;
    assert_eq!(bare.status, 429);
    assert!(bare.header("x-rate-limit-reset").is_none() && bare.header("retry-after").is_none());

    // Limits off: no refusals, no headers.
    running.emulator.update_config(|c| c.limits.enabled = false);
    let a = c.destroy(11).await;
    assert_eq!(a.status, 200);
    let a = c.get("/1.1/blocks/ids.json", &[]).await;
    assert!(a.header("x-rate-limit-limit").is_none());
}

#[tokio::test]
async fn daily_caps_announce_their_own_headers() {
    let mut config = Config::default();
    config.limits.destroy.daily_limit = Some(1);
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let a = c.destroy(10).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-user-limit-24hour-limit"), Some("1"));
    assert_eq!(a.header("x-user-limit-24hour-remaining"), Some("0"));
    let reset: i64 = a
        .header("x-user-limit-24hour-reset")
        .and_then(|r| r.parse().ok())
        .expect("reset");
    assert!(reset > clock_ms(0) / 1000 + 86_000);
    let b = c.destroy(11).await;
    assert_eq!((b.status, b.code()), (429, Some(88)));
    assert_eq!(running.emulator.stats().window_spent, 1);
}

fn number(a: &Answer, name: &str) -> i64 {
    a.header(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {name} in {:?}", a.headers))
}

/// Regression: a spurious 429 in header mode announced the window's true, non-zero remaining
/// count; like every 429 it now says remaining 0 with a future reset, and it is not counted.
#[tokio::test]
async fn a_spurious_429_announces_a_spent_window() {
    let mut config = Config::default();
    config.limits.destroy = EndpointLimit::new(5, HeaderMode::Headers);
    config.faults.spurious_429_rate = 1.0;
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let a = c.destroy(10).await;
    assert_eq!((a.status, a.code()), (429, Some(88)));
    assert_eq!(a.header("x-rate-limit-limit"), Some("5"));
    assert_eq!(a.header("x-rate-limit-remaining"), Some("0"));
    assert!(number(&a, "x-rate-limit-reset") > clock_ms(0) / 1000);
    running
        .emulator
        .update_config(|c| c.faults.spurious_429_rate = 0.0);
    let b = c.destroy(10).await;
    assert_eq!(b.status, 200);
    assert_eq!(
        b.header("x-rate-limit-remaining"),
        Some("4"),
        "the 429 was not counted"
    );
    // In mode none the 429 marker says the same.
    running.emulator.update_config(|c| {
        c.limits.destroy.headers = HeaderMode::None;
        c.faults.spurious_429_rate = 1.0;
    });
    let a = c.destroy(11).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.header("x-rate-limit-remaining"), Some("0"));
    assert!(a.header("x-rate-limit-limit").is_none());
    assert!(number(&a, "x-rate-limit-reset") > clock_ms(0) / 1000);
}

/// Regression: a 429 from the 24-hour cap announced the short window's reset (and, in mode
/// `headers`, its remaining count), so a client came back long before the cap reopened, or at
/// once. Now the cap's headers say it is spent and when it resets, and in both modes
/// `x-rate-limit-remaining` is 0 with the cap's reset, as on every 429, as does `Retry-After`.
#[tokio::test]
async fn a_429_from_a_24_hour_cap_names_the_cap_and_its_reset() {
    let mut config = Config::default();
    config.limits.window = Duration::from_secs(60);
    config.limits.destroy = EndpointLimit::new(10, HeaderMode::Headers);
    config.limits.destroy.daily_limit = Some(1);
    config.limits.retry_after = true;
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    assert_eq!(c.destroy(10).await.status, 200);
    let a = c.destroy(11).await;
    let now = clock_ms(0) / 1000;
    assert_eq!((a.status, a.code()), (429, Some(88)));
    assert_eq!(a.header("x-user-limit-24hour-limit"), Some("1"));
    assert_eq!(a.header("x-user-limit-24hour-remaining"), Some("0"));
    let day_reset = number(&a, "x-user-limit-24hour-reset");
    assert!(
        (now + 86_390..=now + 86_401).contains(&day_reset),
        "{day_reset}"
    );
    assert_eq!(
        a.header("x-rate-limit-remaining"),
        Some("0"),
        "every 429 says 0, even when the short window has room"
    );
    assert_eq!(number(&a, "x-rate-limit-reset"), day_reset);
    let retry = number(&a, "retry-after");
    assert!((86_390..=86_401).contains(&retry), "{retry}");
    assert_eq!(running.emulator.stats().window_spent, 1);
    assert!(running.emulator.blocked(OWNER).contains(&11));

    running
        .emulator
        .update_config(|c| c.limits.destroy.headers = HeaderMode::None);
    let a = c.destroy(11).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.header("x-rate-limit-remaining"), Some("0"));
    assert_eq!(number(&a, "x-rate-limit-reset"), day_reset);
    assert_eq!(a.header("x-user-limit-24hour-remaining"), Some("0"));
}

#[tokio::test]
async fn the_app_24_hour_cap_is_shared_by_the_apps_tokens() {
    let mut config = Config::default();
    config.limits.ids.app_daily_limit = Some(2);
    let running = start(config).await;
    let owner = Client::new(&running, OWNER);
    let reader = Client::new(&running, READER);
    let a = owner.get("/1.1/blocks/ids.json", &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-app-limit-24hour-limit"), Some("2"));
    assert_eq!(a.header("x-app-limit-24hour-remaining"), Some("1"));
    assert!(
        a.header("x-user-limit-24hour-limit").is_none(),
        "off by default"
    );
    let day_reset = number(&a, "x-app-limit-24hour-reset");
    assert!(day_reset > clock_ms(0) / 1000 + 86_000);
    let b = reader.get("/1.1/blocks/ids.json", &[]).await;
    assert_eq!(b.status, 200);
    assert_eq!(b.header("x-app-limit-24hour-remaining"), Some("0"));
    assert_eq!(
        b.header("x-rate-limit-remaining"),
        Some("14"),
        "windows are per token"
    );
    let refused = owner.get("/1.1/blocks/ids.json", &[]).await;
    assert_eq!((refused.status, refused.code()), (429, Some(88)));
    assert_eq!(refused.header("x-app-limit-24hour-remaining"), Some("0"));
    assert_eq!(number(&refused, "x-app-limit-24hour-reset"), day_reset);
    assert_eq!(refused.header("x-rate-limit-remaining"), Some("0"));
    assert_eq!(number(&refused, "x-rate-limit-reset"), day_reset);
    // Other endpoints are not capped.
    assert_eq!(
        owner
            .get("/1.1/account/verify_credentials.json", &[])
            .await
            .status,
        200
    );
    let stats = running.emulator.stats();
    assert_eq!((stats.rate_limited, stats.window_spent), (1, 1));
}

#[tokio::test]
async fn an_endpoint_may_have_its_own_window_length() {
    let mut config = Config::default();
    config.limits.window = Duration::from_secs(600);
    config.limits.ids.window = Some(Duration::from_secs(2));
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let now = clock_ms(0) / 1000;
    let ids = c.get("/1.1/blocks/ids.json", &[]).await;
    assert!((now..=now + 2).contains(&number(&ids, "x-rate-limit-reset")));
    let verify = c.get("/1.1/account/verify_credentials.json", &[]).await;
    let reset = number(&verify, "x-rate-limit-reset");
    assert!((now + 598..=now + 601).contains(&reset), "{reset}");
    // rate_limit_status reports each window with its own length.
    let a = c.get("/1.1/application/rate_limit_status.json", &[]).await;
    let ids_reset = a.json["resources"]["blocks"]["/blocks/ids"]["reset"]
        .as_i64()
        .expect("ids reset");
    let verify_reset = a.json["resources"]["account"]["/account/verify_credentials"]["reset"]
        .as_i64()
        .expect("verify reset");
    assert!(
        ids_reset <= now + 3 && verify_reset >= now + 598,
        "{}",
        a.json
    );
}

/// Regression: a window of centuries overflowed the window arithmetic (a panic in a debug
/// build). Set at runtime it saturates; through the admin view it is refused.
#[tokio::test]
async fn absurd_windows_neither_panic_nor_pass_the_admin_view() {
    let mut config = Config::default();
    config.limits.window = Duration::MAX;
    config.limits.destroy = EndpointLimit::new(1, HeaderMode::Headers);
    config.limits.destroy.window = Some(Duration::from_secs(u64::MAX));
    config.limits.destroy.daily_limit = Some(5);
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let a = c.destroy(10).await;
    assert_eq!(a.status, 200);
    assert!(number(&a, "x-rate-limit-reset") > clock_ms(0) / 1000 + 86_400 * 365);
    assert_eq!(
        c.destroy(11).await.status,
        429,
        "a window that never closes"
    );
    assert_eq!(c.get("/1.1/blocks/ids.json", &[]).await.status, 200);

    // Back to sane windows, so each refusal below is the patch's own.
    running.emulator.update_config(|c| {
        c.limits.window = Duration::from_secs(900);
        c.limits.destroy.window = None;
    });
    let admin = format!("{}/admin/config", running.base_url());
    let resp = c
        .http
        .post(&admin)
        .json(&serde_json::json!({"limits": {"ids": {"window": "24h"}}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200, "the longest window is fine");
    for patch in [
        serde_json::json!({"limits": {"window": "0s"}}),
        serde_json::json!({"limits": {"ids": {"window": "3000years"}}}),
        serde_json::json!({"clock_offset_secs": i64::MAX}),
        serde_json::json!({"faults": {"stall_rate": 2.0}}),
    ] {
        let resp = c.http.post(&admin).json(&patch).send().await.expect("sent");
        let status = resp.status().as_u16();
        let body = resp.text().await.expect("text");
        assert_eq!(status, 422, "{patch}: {body}");
        assert!(body.starts_with("invalid config: "), "{body}");
    }
    assert_eq!(
        running.emulator.config().limits.ids.window,
        Some(Duration::from_secs(86_400)),
        "a refused patch changes nothing"
    );
    // A clock set past what an HTTP date can say does not panic either.
    running
        .emulator
        .update_config(|c| c.clock_offset_secs = i64::MAX / 1000);
    let a = c.get("/1.1/blocks/ids.json", &[]).await;
    assert_eq!(a.code(), Some(135));
    assert!(a.header("date").is_some_and(|d| d.contains("9999")));
}

#[tokio::test]
async fn clock_offset_moves_date_resets_and_the_timestamp_check() {
    let config = Config {
        clock_offset_secs: 3600,
        ..Config::default()
    };
    let running = start(config).await;
    let mut c = Client::new(&running, OWNER);
    // Signed with the real clock: an hour off, out of bounds.
    let a = c.get("/1.1/blocks/ids.json", &[]).await;
    assert_eq!(a.code(), Some(135));
    let date = a
        .header("date")
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .expect("date");
    let shift = date
        .duration_since(std::time::SystemTime::now())
        .expect("date is in the future")
        .as_secs();
    assert!((3590..=3601).contains(&shift), "{shift}");
    // Signed with the emulator's clock: fine, and the reset is on that clock too.
    c.ts_offset = 3600;
    let a = c.get("/1.1/blocks/ids.json", &[]).await;
    assert_eq!(a.status, 200);
    let reset: i64 = a
        .header("x-rate-limit-reset")
        .and_then(|r| r.parse().ok())
        .expect("reset");
    let expected = clock_ms(3600) / 1000 + 900;
    assert!(
        (expected - 2..=expected).contains(&reset),
        "{reset} vs {expected}"
    );
    // A negative offset works the same way.
    running
        .emulator
        .update_config(|c| c.clock_offset_secs = -7200);
    c.ts_offset = -7200;
    assert_eq!(
        c.get("/1.1/account/verify_credentials.json", &[])
            .await
            .status,
        200
    );
    let log = running.emulator.requests();
    assert!(log[2].at_ms < clock_ms(0) - 7_000_000);
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn revoke_after_n_successful_writes() {
    let mut config = Config::default();
    config.faults.revoke_after = Some(2);
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    assert_eq!(c.destroy(10).await.status, 200);
    // A failed write does not count.
    assert_eq!(c.destroy(999).await.status, 404);
    assert_eq!(c.destroy(11).await.status, 200);
    let a = c.destroy(12).await;
    assert_eq!((a.status, a.code()), (401, Some(89)));
    assert_eq!(c.get("/1.1/blocks/ids.json", &[]).await.code(), Some(89));
    assert!(running.emulator.blocked(OWNER).contains(&12));
    // Other tokens are unaffected.
    assert_eq!(
        Client::new(&running, READER)
            .get("/1.1/blocks/ids.json", &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn revoke_after_n_requests_counts_every_request() {
    let mut config = Config::default();
    config.faults.revoke_after_requests = Some(4);
    config.limits.ids.limit = 1;
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    // Reads, a failed write, a 429 and a success all count.
    assert_eq!(c.get("/1.1/blocks/ids.json", &[]).await.status, 200);
    assert_eq!(c.get("/1.1/blocks/ids.json", &[]).await.status, 429);
    assert_eq!(c.destroy(999).await.status, 404);
    assert_eq!(c.destroy(10).await.status, 200);
    let a = c.destroy(11).await;
    assert_eq!((a.status, a.code()), (401, Some(89)));
    assert_eq!(c.get("/2/users/me", &[]).await.status, 401);
    assert!(running.emulator.blocked(OWNER).contains(&11));
    assert!(running.emulator.state_view().accounts[0].revoked);
    // Requests that fail authentication are not the token's: another token is unaffected.
    let reader = Client::new(&running, READER);
    for _ in 0..4 {
        assert_eq!(
            reader
                .get("/1.1/account/verify_credentials.json", &[])
                .await
                .status,
            200
        );
    }
    assert_eq!(
        reader.get("/1.1/blocks/ids.json", &[]).await.code(),
        Some(89)
    );
    // A restored token counts again from zero; 0 revokes before the first request.
    running.emulator.restore_token(&token(OWNER));
    assert_eq!(c.destroy(11).await.status, 200);
    running
        .emulator
        .update_config(|c| c.faults.revoke_after_requests = Some(0));
    running.emulator.restore_token(&token(OWNER));
    assert_eq!(c.destroy(12).await.code(), Some(89));
    assert!(running.emulator.blocked(OWNER).contains(&12));
}

#[tokio::test]
async fn server_errors_do_not_act() {
    let mut config = Config::default();
    config.faults.over_capacity_rate = 1.0;
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let a = c.destroy(10).await;
    assert_eq!((a.status, a.code()), (503, Some(130)));
    assert_eq!(a.json["errors"][0]["message"], "Over capacity.");
    // Reads are not affected unless asked.
    assert_eq!(c.get("/1.1/blocks/ids.json", &[]).await.status, 200);
    running.emulator.update_config(|c| {
        c.faults.over_capacity_rate = 0.0;
        c.faults.internal_error_rate = 1.0;
    });
    let a = c.destroy(10).await;
    assert_eq!((a.status, a.code()), (500, Some(131)));
    running
        .emulator
        .update_config(|c| c.faults.all_endpoints = true);
    assert_eq!(c.get("/1.1/blocks/ids.json", &[]).await.status, 500);
    assert!(running.emulator.blocked(OWNER).contains(&10));
    let stats = running.emulator.stats();
    assert_eq!(
        (
            stats.status_5xx,
            stats.faults_injected,
            stats.unblocks_applied
        ),
        (3, 3, 0)
    );
    let faults: Vec<_> = running
        .emulator
        .requests()
        .iter()
        .filter_map(|r| r.fault)
        .collect();
    assert_eq!(
        faults,
        [
            FaultKind::OverCapacity,
            FaultKind::InternalError,
            FaultKind::InternalError
        ]
    );
}

/// What a client sees of a drop-after-acting fault: the status line and headers of a 200,
/// then the connection closes mid-body, so reading the body fails. The unblock did happen.
#[tokio::test]
async fn dropped_after_acting_acts_but_breaks_the_body() {
    let mut config = Config::default();
    config.faults.drop_after_acting_rate = 1.0;
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let resp = c
        .request(
            "POST",
            "/1.1/blocks/destroy.json",
            &[],
            &[("user_id", "10")],
        )
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.bytes().await.is_err(), "the body breaks off");
    assert!(!running.emulator.blocked(OWNER).contains(&10));
    let log = running.emulator.requests();
    assert_eq!(log[0].fault, Some(FaultKind::DropAfterActing));
    assert_eq!(log[0].status, 200);
}

#[tokio::test]
async fn stalls_outlast_a_client_timeout_and_do_not_act() {
    let mut config = Config::default();
    config.faults.stall_rate = 1.0;
    config.faults.stall = Duration::from_secs(5);
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let started = Instant::now();
    let err = c
        .request(
            "POST",
            "/1.1/blocks/destroy.json",
            &[],
            &[("user_id", "10")],
        )
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("the client times out");
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Give the server a moment to notice the closed connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(running.emulator.blocked(OWNER).contains(&10));
    let log = running.emulator.requests();
    assert_eq!((log[0].status, log[0].fault), (0, Some(FaultKind::Stall)));
    assert_eq!(running.emulator.stats().unanswered, 1);
}

#[tokio::test]
async fn latency_and_spurious_429s() {
    let mut config = Config::default();
    config.faults.latency_ms = 150;
    config.faults.jitter_ms = 50;
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    let t = Instant::now();
    assert_eq!(c.get("/1.1/blocks/ids.json", &[]).await.status, 200);
    let elapsed = t.elapsed();
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");

    running.emulator.update_config(|c| {
        c.faults.latency_ms = 0;
        c.faults.jitter_ms = 0;
        c.faults.spurious_429_rate = 1.0;
    });
    let a = c.destroy(10).await;
    assert_eq!((a.status, a.code()), (429, Some(88)));
    let log = running.emulator.requests();
    assert_eq!(
        (log[1].fault, log[1].window_spent),
        (Some(FaultKind::Spurious429), false)
    );
    assert_eq!(running.emulator.stats().window_spent, 0);
}

#[tokio::test]
async fn same_fault_seed_replays_the_same_faults() {
    async fn run_once() -> Vec<u16> {
        let mut config = Config::default();
        config.faults.seed = 7;
        config.faults.over_capacity_rate = 0.5;
        config.limits.enabled = false;
        let running = start(config).await;
        let c = Client::new(&running, OWNER);
        let mut statuses = Vec::new();
        for _ in 0..16 {
            statuses.push(c.destroy(15).await.status);
        }
        statuses
    }
    let first = run_once().await;
    assert_eq!(first, run_once().await);
    assert!(first.contains(&503) && first.contains(&200), "{first:?}");
}

// ---------------------------------------------------------------- admin

#[tokio::test]
async fn admin_views_show_state_and_log_without_secrets() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    c.destroy(10).await;
    let state: StateView = c
        .http
        .get(format!("{}/admin/state", running.base_url()))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("state view");
    let owner = &state.accounts[0];
    assert_eq!(
        (owner.user_id.as_str(), owner.screen_name.as_str()),
        ("1", "owner")
    );
    assert_eq!(owner.blocked_count, 5);
    assert!(!owner.blocked.contains(&"10".to_owned()));
    assert_eq!(state.users, 10);
    assert_eq!(state.stats.unblocks_applied, 1);

    let text = c
        .http
        .get(format!("{}/admin/requests", running.base_url()))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    let log: Vec<LoggedRequest> = serde_json::from_str(&text).expect("log");
    assert_eq!(
        log,
        running.emulator.requests(),
        "admin requests are not logged themselves"
    );
    assert_eq!(log[0].account, Some(OWNER.to_string()));
    assert!(!text.contains(&token(OWNER)) && !text.contains("oauth_"));

    let resp = c
        .http
        .post(format!("{}/admin/config", running.base_url()))
        .json(&serde_json::json!({"limits": {"destroy": {"limit": 1}}, "faults": {"revoke_after": 9}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    let config = running.emulator.config();
    assert_eq!(config.limits.destroy.limit, 1);
    assert_eq!(config.limits.destroy.headers, HeaderMode::None);
    assert_eq!(config.faults.revoke_after, Some(9));
    let bad = c
        .http
        .post(format!("{}/admin/config", running.base_url()))
        .json(&serde_json::json!({"limits": {"destroy": {"limit": "many"}}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status().as_u16(), 422);
}

#[tokio::test]
async fn big_lists_and_a_long_log() {
    let mut config = Config::default();
    config.limits.enabled = false;
    let running = start(config).await;
    let emu = &running.emulator;
    emu.set_blocked(OWNER, 1_000_000..1_012_000);
    assert_eq!(emu.blocked(OWNER).len(), 12_000);
    let c = Client::new(&running, OWNER);
    let a = c.get("/1.1/blocks/ids.json", &[]).await;
    assert_eq!(a.json["ids"].as_array().map(Vec::len), Some(5000));
    let a = c.destroy(1_011_999).await;
    assert_eq!(
        a.json["screen_name"].as_str().map(|s| s.starts_with("u_")),
        Some(true)
    );
    assert_eq!(emu.blocked(OWNER).len(), 11_999);
}

// ---------------------------------------------------------------- v2

#[tokio::test]
async fn v2_me_unblock_and_block() {
    let running = start(Config::default()).await;
    let emu = &running.emulator;
    let c = Client::new(&running, OWNER);
    let a = c.get("/2/users/me", &[]).await;
    assert_eq!(
        a.json,
        serde_json::json!({"data": {"id": "1", "name": "OWNER", "username": "owner"}})
    );
    assert_eq!(a.header("x-rate-limit-limit"), Some("75"));

    let a = c.call("DELETE", "/2/users/1/blocking/10", &[], &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json, serde_json::json!({"data": {"blocking": false}}));
    assert_eq!(a.header("x-rate-limit-limit"), Some("50"));
    assert!(!emu.blocked(OWNER).contains(&10));
    // Not blocked: a no-op success.
    let a = c.call("DELETE", "/2/users/1/blocking/10", &[], &[]).await;
    assert_eq!(
        (a.status, a.json["data"]["blocking"].as_bool()),
        (200, Some(false))
    );
    // Another source, an unknown target: 403 problem JSON.
    let a = c.call("DELETE", "/2/users/2/blocking/10", &[], &[]).await;
    assert_eq!(
        (a.status, a.json["title"].as_str()),
        (403, Some("Forbidden"))
    );
    let a = c.call("DELETE", "/2/users/1/blocking/999", &[], &[]).await;
    assert_eq!(a.status, 403);
    assert!(emu.stats().unblocks_applied == 1);

    // POST with a JSON body (not signed).
    let url = format!("{}/2/users/1/blocking", running.base_url());
    let auth = oauth::authorization("POST", &url, &[], &c.creds, "n-v2-post", clock_ms(0) / 1000);
    let a = answer(
        c.http
            .post(&url)
            .header("authorization", auth)
            .json(&serde_json::json!({"target_user_id": "15"}))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(a.json, serde_json::json!({"data": {"blocking": true}}));
    assert!(emu.blocked(OWNER).contains(&15));
    let log = emu.requests();
    assert_eq!(
        log.last()
            .and_then(|r| r.params.get("target_user_id"))
            .map(String::as_str),
        Some("15")
    );

    // Below Enterprise: the access-tier 403.
    emu.update_config(|c| c.replies.v2_blocks_forbidden = true);
    let a = c.call("DELETE", "/2/users/1/blocking/11", &[], &[]).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.json["reason"], "client-not-enrolled");
    assert_eq!(
        a.json["type"],
        "https://api.x.com/2/problems/client-forbidden"
    );
    assert!(emu.blocked(OWNER).contains(&11));
    // users/me is not gated.
    assert_eq!(c.get("/2/users/me", &[]).await.status, 200);
}

#[tokio::test]
async fn v2_blocking_list_pages() {
    let running = start(Config::default()).await;
    let emu = &running.emulator;
    let c = Client::new(&running, OWNER);
    emu.set_blocked(OWNER, [10, 11, 12, 13, 14, BIG]);
    let a = c.get("/2/users/1/blocking", &[("max_results", "2")]).await;
    assert_eq!(a.status, 200);
    let ids: Vec<&str> = a.json["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|u| u["id"].as_str())
        .collect();
    assert_eq!(ids, ["10", "11"]);
    assert_eq!(a.json["meta"]["result_count"], 2);
    let token = a.json["meta"]["next_token"]
        .as_str()
        .expect("next token")
        .to_owned();
    assert!(token.len() >= 16);
    // 12 unblocked between pages: the next page goes on after 11 regardless.
    emu.set_blocked(OWNER, [10, 11, 13, 14, BIG]);
    let a = c
        .get(
            "/2/users/1/blocking",
            &[("max_results", "2"), ("pagination_token", &token)],
        )
        .await;
    // 13 and 14 are filtered after paging: an empty page that still has a next token.
    assert!(a.json.get("data").is_none(), "{}", a.json);
    assert_eq!(a.json["meta"]["result_count"], 0);
    let token = a.json["meta"]["next_token"]
        .as_str()
        .expect("more")
        .to_owned();
    let a = c
        .get(
            "/2/users/1/blocking",
            &[("max_results", "2"), ("pagination_token", &token)],
        )
        .await;
    assert_eq!(a.json["data"][0]["id"], BIG.to_string());
    assert!(a.json["meta"].get("next_token").is_none());

    let a = c
        .get("/2/users/1/blocking", &[("max_results", "1001")])
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["title"], "Invalid Request");
    let a = c.get("/2/users/2/blocking", &[]).await;
    assert_eq!(a.status, 403);
    emu.set_blocked(OWNER, []);
    let a = c.get("/2/users/1/blocking", &[]).await;
    assert_eq!(a.json, serde_json::json!({"meta": {"result_count": 0}}));
}

#[tokio::test]
async fn v2_users_by_reports_partial_errors() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    let a = c
        .get("/2/users/by", &[("usernames", "ALICE,nobody,sus")])
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json["data"],
        serde_json::json!([{"id": "10", "name": "ALICE", "username": "alice"}])
    );
    let errors = a.json["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2);
    assert_eq!(
        errors[0]["detail"],
        "Could not find user with usernames: [nobody]."
    );
    assert_eq!(
        errors[0]["type"],
        "https://api.twitter.com/2/problems/resource-not-found"
    );
    assert_eq!(errors[1]["detail"], "User has been suspended: [sus].");
    let a = c.get("/2/users/by", &[("usernames", "nobody")]).await;
    assert!(a.json.get("data").is_none() && a.json.get("errors").is_some());
    let a = c.get("/2/users/by", &[("usernames", "bad-name")]).await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn v2_users_by_id_reports_partial_errors() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    let a = c.get("/2/users", &[("ids", "10,99,13,14")]).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json["data"],
        serde_json::json!([{"id": "10", "name": "ALICE", "username": "alice"}])
    );
    let details: Vec<&str> = a.json["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(
        details,
        [
            "Could not find user with ids: [99].",
            "User has been suspended: [13].",
            "Could not find user with ids: [14]."
        ]
    );
    assert_eq!(c.get("/2/users", &[("ids", "x")]).await.status, 400);
    assert_eq!(c.get("/2/users", &[]).await.status, 400);
}

#[tokio::test]
async fn v2_rate_limit_is_problem_json() {
    let mut config = Config::default();
    config.limits.v2_me.limit = 1;
    let running = start(config).await;
    let c = Client::new(&running, OWNER);
    assert_eq!(c.get("/2/users/me", &[]).await.status, 200);
    let a = c.get("/2/users/me", &[]).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.json["title"], "Too Many Requests");
    assert_eq!(a.json["status"], 429);
    assert_eq!(a.header("x-rate-limit-remaining"), Some("0"));
    assert!(a.header("x-rate-limit-reset").is_some());
}

/// Regression: an unknown route under `/2/` answered with a v1.1 `{"errors":[{"code":34}]}`
/// body; every v2 error is problem JSON, the auth failures included.
#[tokio::test]
async fn every_v2_error_is_problem_json() {
    let running = start(Config::default()).await;
    let c = Client::new(&running, OWNER);
    let problem = |a: &Answer, status: u16| {
        assert_eq!(a.status, status, "{}", a.json);
        assert_eq!(a.header("content-type"), Some("application/problem+json"));
        assert_eq!(a.json["status"], status, "{}", a.json);
        assert_eq!(a.json["type"], "about:blank", "{}", a.json);
        assert!(a.json.get("errors").is_none(), "{}", a.json);
        assert!(a.json["title"].is_string() && a.json["detail"].is_string());
    };
    for (method, path) in [
        ("GET", "/2/no/such/route"),
        ("GET", "/2/users/1/muting"),
        ("PUT", "/2/users/1/blocking"),
        ("GET", "/2"),
    ] {
        let a = c.call(method, path, &[], &[]).await;
        problem(&a, 404);
        assert_eq!(a.json["title"], "Not Found");
    }
    // Outside /2/ the same miss is still the v1.1 code 34.
    let a = c.get("/1.1/no/such/route.json", &[]).await;
    assert_eq!((a.status, a.code()), (404, Some(34)));
    assert_eq!(
        a.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let a = c.get("/20/users/me", &[]).await;
    assert_eq!((a.status, a.code()), (404, Some(34)));

    // No Authorization, garbage, a bad key, a revoked token: 401 problem JSON, never 400/215.
    let url = format!("{}/2/users/me", running.base_url());
    let none = answer(c.http.get(&url).send().await.expect("sent")).await;
    problem(&none, 401);
    assert_eq!(
        none.json,
        serde_json::json!({"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"})
    );
    let garbage = answer(
        c.http
            .get(&url)
            .header("authorization", "OAuth ???")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    problem(&garbage, 401);
    let mut bad = Client::new(&running, OWNER);
    bad.creds.consumer_key = "NoSuchKey".into();
    problem(&bad.get("/2/users/me", &[]).await, 401);
    let mut skewed = Client::new(&running, OWNER);
    skewed.ts_offset = -3600;
    problem(&skewed.get("/2/users/1/blocking", &[]).await, 401);
    running.emulator.revoke_token(&token(OWNER));
    problem(
        &c.call("DELETE", "/2/users/1/blocking/10", &[], &[]).await,
        401,
    );
    assert_eq!(running.emulator.stats().auth_failures, 5);
}

// ---------------------------------------------------------------- sample data

mod sample_data {
    use std::collections::BTreeSet;

    use crate::emulator::x::Seed;

    /// A user as the sample files name them.
    enum Target {
        Id(u64),
        ScreenName(String),
    }

    impl Target {
        fn parse_id(text: &str) -> Result<Target, String> {
            text.parse()
                .map(Target::Id)
                .map_err(|e| format!("{text}: {e}"))
        }

        fn parse_screen_name(text: &str) -> Result<Target, String> {
            let name = text.strip_prefix('@').unwrap_or(text);
            crate::emulator::x::seed::check_screen_name(name)
                .map(|()| Target::ScreenName(name.to_owned()))
                .map_err(|e| format!("{text}: {e}"))
        }
    }

    const CSV: &str = include_str!("../../../sample-data/blocked.csv");
    const TXT: &str = include_str!("../../../sample-data/blocked.txt");
    const BLOCK_JS: &str = include_str!("../../../sample-data/block.js");

    fn demo_blocked(seed: &Seed) -> BTreeSet<u64> {
        let owner = seed
            .users
            .iter()
            .find(|u| u.screen_name == "demo_owner")
            .expect("demo_owner exists");
        seed.accounts
            .iter()
            .find(|a| a.user_id == owner.id)
            .expect("demo_owner has an account")
            .blocked
            .iter()
            .copied()
            .collect()
    }

    /// Checks a target names a user of the seed; returns that user's ID.
    fn resolve(seed: &Seed, target: &Target) -> u64 {
        match target {
            Target::Id(id) => {
                seed.users
                    .iter()
                    .find(|u| u.id == *id)
                    .unwrap_or_else(|| panic!("ID {id} is not in the seed"))
                    .id
            }
            Target::ScreenName(name) => {
                seed.users
                    .iter()
                    .find(|u| u.screen_name.eq_ignore_ascii_case(name))
                    .unwrap_or_else(|| panic!("@{name} is not in the seed"))
                    .id
            }
        }
    }

    #[test]
    fn builtin_seed_is_valid_and_shaped_as_documented() {
        let seed = Seed::builtin();
        assert!(crate::emulator::x::Emulator::new(seed.clone(), Default::default()).is_ok());
        let blocked = demo_blocked(&seed);
        assert_eq!(blocked.len(), 200);
        assert!(blocked.iter().any(|id| *id > 1 << 53) && blocked.iter().any(|id| *id < 1 << 32));
        let state_of = |state| {
            seed.users
                .iter()
                .filter(|u| u.state == state && blocked.contains(&u.id))
                .count()
        };
        assert_eq!(state_of(crate::emulator::x::UserState::Suspended), 5);
        assert_eq!(state_of(crate::emulator::x::UserState::Deactivated), 5);
        assert!(seed.users.iter().any(|u| u.screen_name == "other_owner"));
        let app = &seed.apps[0];
        assert_eq!(
            (app.consumer_key.len(), app.consumer_secret.len()),
            (25, 50)
        );
        for special in ['+', '/', '=', '&', '%', '~'] {
            assert!(app.consumer_secret.contains(special), "{special}");
        }
        for a in &seed.accounts {
            assert!(a.access_token.starts_with(&format!("{}-", a.user_id)));
        }
    }

    #[test]
    fn blocked_csv_names_seed_users() {
        let seed = Seed::builtin();
        let blocked = demo_blocked(&seed);
        let mut reader = csv::Reader::from_reader(CSV.as_bytes());
        assert_eq!(
            reader.headers().expect("header").iter().collect::<Vec<_>>(),
            ["user_id", "screen_name"]
        );
        let mut shapes = BTreeSet::new();
        let mut not_blocked = 0;
        let mut rows = 0;
        for record in reader.records() {
            let record = record.expect("row");
            let (id, name) = (record.get(0).unwrap_or(""), record.get(1).unwrap_or(""));
            shapes.insert((id.is_empty(), name.is_empty()));
            let by_id =
                (!id.is_empty()).then(|| resolve(&seed, &Target::parse_id(id).expect("id")));
            let by_name = (!name.is_empty())
                .then(|| resolve(&seed, &Target::parse_screen_name(name).expect("name")));
            if let (Some(a), Some(b)) = (by_id, by_name) {
                assert_eq!(a, b, "row {id},{name} names two users");
            }
            let user = by_id.or(by_name).expect("row names someone");
            if !blocked.contains(&user) {
                not_blocked += 1;
            }
            rows += 1;
        }
        assert!(rows >= 55, "{rows}");
        assert_eq!(shapes.len(), 3, "ID-only, name-only and both");
        assert_eq!(not_blocked, 1);
    }

    #[test]
    fn blocked_txt_names_seed_users() {
        let seed = Seed::builtin();
        let blocked = demo_blocked(&seed);
        let mut count = 0;
        for line in TXT.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let target =
                if let Some(id) = line.strip_prefix("https://twitter.com/intent/user?user_id=") {
                    Target::parse_id(id)
                } else if let Some(name) = line.strip_prefix("https://x.com/") {
                    Target::parse_screen_name(name)
                } else if line.bytes().all(|b| b.is_ascii_digit()) {
                    Target::parse_id(line)
                } else {
                    Target::parse_screen_name(line)
                }
                .unwrap_or_else(|e| panic!("line `{line}`: {e}"));
            assert!(blocked.contains(&resolve(&seed, &target)), "{line}");
            count += 1;
        }
        assert!(count >= 35, "{count}");
        assert!(TXT.lines().any(str::is_empty) && TXT.lines().any(|l| l.starts_with('#')));
    }

    #[test]
    fn block_js_lists_exactly_demo_owners_blocks() {
        let seed = Seed::builtin();
        let (_, json) = BLOCK_JS.split_once('=').expect("archive prefix");
        let entries: Vec<serde_json::Value> = serde_json::from_str(json).expect("archive JSON");
        let mut ids = BTreeSet::new();
        for e in &entries {
            let id = e["blocking"]["accountId"]
                .as_str()
                .expect("accountId is a string");
            let link = e["blocking"]["userLink"].as_str().expect("userLink");
            assert_eq!(
                link,
                format!("https://twitter.com/intent/user?user_id={id}")
            );
            assert!(ids.insert(id.parse::<u64>().expect("numeric")));
        }
        assert_eq!(ids, demo_blocked(&seed));
    }
}
