//! End-to-end tests of the Bluesky emulator over real HTTP on loopback: a plain reqwest client
//! speaks XRPC to the entryway and the PDS, and each test asserts on the answers and on what
//! the emulator holds and received.
//!
//! Token expiry is tested by moving the emulator's clock forward, not by sleeping.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::jwt;
use super::*;
use crate::emulator::testing::{Answer, http};
use crate::emulator::{FaultKind, clock_ms};

const OWNER: &str = "did:plc:ownerownerownerownerowne";
const OTHER: &str = "did:plc:otherotherotherotherothe";
const ALICE: &str = "did:plc:alicealicealicealicealic";
const BOB: &str = "did:plc:bobbobbobbobbobbobbobbobb";
const CAROL: &str = "did:plc:carolcarolcarolcarolcaro";
const GONE: &str = "did:plc:gonegonegonegonegonegone";
const LISTER: &str = "did:plc:listerlisterlisterlister";
const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";
const OWNER_PASSWORD: &str = "owner-password";

fn block(rkey: &str, subject: &str) -> SeedRecord {
    SeedRecord {
        rkey: rkey.into(),
        value: json!({"$type": BLOCK, "subject": subject, "createdAt": "2024-01-01T00:00:00.000Z"}),
    }
}

/// The owner blocks alice twice, bob, carol and a deleted account, and subscribes to a list.
fn test_seed() -> Seed {
    let user = |did: &str, handle: &str, state: UserState| SeedUser {
        state,
        ..SeedUser::active(did, handle)
    };
    let mut repos = BTreeMap::new();
    repos.insert(
        OWNER.to_owned(),
        BTreeMap::from([
            (
                BLOCK.to_owned(),
                vec![
                    block("3kaaaaaaaaa22", ALICE),
                    block("3kaaaaaaaaa32", BOB),
                    block("3kaaaaaaaaa42", ALICE),
                    block("3kaaaaaaaaa52", CAROL),
                    block("3kaaaaaaaaa62", GONE),
                ],
            ),
            (
                LISTBLOCK.to_owned(),
                vec![SeedRecord {
                    rkey: "3kaaaaaaaab22".into(),
                    value: json!({
                        "$type": LISTBLOCK,
                        "subject": format!("at://{LISTER}/app.bsky.graph.list/3kaaaaaaaac22"),
                        "createdAt": "2024-01-01T00:00:00.000Z"
                    }),
                }],
            ),
        ]),
    );
    Seed {
        service_did: "did:web:localhost".into(),
        users: vec![
            user(OWNER, "owner.bsky.test", UserState::Active),
            user(OTHER, "other.bsky.test", UserState::Active),
            user(ALICE, "alice.bsky.test", UserState::Active),
            user(BOB, "bob.example.com", UserState::Active),
            user(CAROL, "carol.bsky.test", UserState::Deactivated),
            user(GONE, "gone.bsky.test", UserState::Deleted),
            user(LISTER, "lister.bsky.test", UserState::Active),
        ],
        accounts: vec![
            SeedAccount {
                did: OWNER.into(),
                email: "owner@bsky.test".into(),
                password: OWNER_PASSWORD.into(),
                app_passwords: vec![SeedAppPassword {
                    name: "cli".into(),
                    password: APP_PASSWORD.into(),
                }],
            },
            SeedAccount {
                did: OTHER.into(),
                email: "other@bsky.test".into(),
                password: "other-password".into(),
                app_passwords: vec![SeedAppPassword {
                    name: "cli".into(),
                    password: "qrst-uvwx-yz23-4567".into(),
                }],
            },
        ],
        repos,
    }
}

impl Answer {
    /// The status, and the `error` and `message` of an XRPC error body.
    fn xrpc_error(&self) -> (u16, &str, &str) {
        (
            self.status,
            self.json["error"].as_str().unwrap_or_default(),
            self.json["message"].as_str().unwrap_or_default(),
        )
    }
}

/// A session's tokens.
struct Session {
    access: String,
    refresh: String,
    body: Value,
}

impl Session {
    fn bearer(&self) -> String {
        format!("Bearer {}", self.access)
    }

    fn refresh_bearer(&self) -> String {
        format!("Bearer {}", self.refresh)
    }
}

/// A client of a served emulator.
struct Client {
    http: reqwest::Client,
    running: Running,
}

impl Client {
    /// The test seed, no login delay, and the knobs `configure` sets.
    async fn start(configure: impl FnOnce(&mut Config)) -> Client {
        Client::start_with(test_seed(), configure).await
    }

    async fn start_with(seed: Seed, configure: impl FnOnce(&mut Config)) -> Client {
        let mut config = Config::default();
        config.sessions.login_delay = Duration::ZERO;
        configure(&mut config);
        let emulator = Emulator::new(seed, config).expect("valid seed");
        Client {
            http: http(),
            running: spawn(emulator).await.expect("binds loopback"),
        }
    }

    fn emulator(&self) -> &Emulator {
        &self.running.emulator
    }

    fn url(&self, host: Host, nsid: &str) -> String {
        let base = self.running.base_url_of(host.name()).expect("served");
        format!("{base}/xrpc/{nsid}")
    }

    async fn answer(response: reqwest::Response) -> Answer {
        Answer::read(response).await
    }

    async fn get(
        &self,
        host: Host,
        nsid: &str,
        query: &[(&str, &str)],
        bearer: Option<&str>,
    ) -> Answer {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let mut request = self.http.get(format!("{}?{query}", self.url(host, nsid)));
        if let Some(b) = bearer {
            request = request.header("authorization", b);
        }
        Client::answer(request.send().await.expect("sent")).await
    }

    async fn post(
        &self,
        host: Host,
        nsid: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Answer {
        let mut request = self.http.post(self.url(host, nsid));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(b) = bearer {
            request = request.header("authorization", b);
        }
        Client::answer(request.send().await.expect("sent")).await
    }

    async fn try_login(&self, identifier: &str, password: &str) -> Answer {
        let body = json!({"identifier": identifier, "password": password});
        self.post(
            Host::Entryway,
            "com.atproto.server.createSession",
            Some(body),
            None,
        )
        .await
    }

    async fn login(&self) -> Session {
        let a = self.try_login("owner.bsky.test", APP_PASSWORD).await;
        assert_eq!(a.status, 200, "{a:?}");
        session(&a)
    }

    async fn refresh(&self, host: Host, refresh_bearer: &str) -> Answer {
        self.post(
            host,
            "com.atproto.server.refreshSession",
            None,
            Some(refresh_bearer),
        )
        .await
    }

    async fn list(&self, repo: &str, collection: &str, extra: &[(&str, &str)]) -> Answer {
        let mut query = vec![("repo", repo), ("collection", collection)];
        query.extend_from_slice(extra);
        self.get(Host::Pds, "com.atproto.repo.listRecords", &query, None)
            .await
    }

    async fn delete(&self, session: &Session, rkey: &str) -> Answer {
        let body = json!({"repo": OWNER, "collection": BLOCK, "rkey": rkey});
        self.post(
            Host::Pds,
            "com.atproto.repo.deleteRecord",
            Some(body),
            Some(&session.bearer()),
        )
        .await
    }

    async fn apply(&self, host: Host, session: &Session, writes: Vec<Value>) -> Answer {
        let body = json!({"repo": OWNER, "writes": writes});
        self.post(
            host,
            "com.atproto.repo.applyWrites",
            Some(body),
            Some(&session.bearer()),
        )
        .await
    }

    /// Moves the emulator's clock.
    fn advance(&self, secs: i64) {
        self.emulator()
            .update_config(|c| c.clock_offset_secs += secs);
    }
}

fn session(a: &Answer) -> Session {
    Session {
        access: a.json["accessJwt"].as_str().expect("access").to_owned(),
        refresh: a.json["refreshJwt"].as_str().expect("refresh").to_owned(),
        body: a.json.clone(),
    }
}

fn delete_write(rkey: &str) -> Value {
    json!({"$type": "com.atproto.repo.applyWrites#delete", "collection": BLOCK, "rkey": rkey})
}

fn create_write(subject: &str) -> Value {
    json!({
        "$type": "com.atproto.repo.applyWrites#create",
        "collection": BLOCK,
        "value": {"$type": BLOCK, "subject": subject, "createdAt": "2025-01-01T00:00:00.000Z"}
    })
}

#[test]
fn the_builtin_seed_is_valid() {
    let seed = Seed::builtin();
    assert_eq!(seed.check(), Ok(()));
    assert!(seed.users.len() > 300, "a few hundred users");
    assert_eq!(seed.accounts.len(), 2);
    for account in &seed.accounts {
        let shape = account.app_passwords[0]
            .password
            .split('-')
            .collect::<Vec<_>>();
        assert_eq!(shape.len(), 4);
        assert!(shape.iter().all(|p| {
            p.len() == 4
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        }));
    }
    let owner = &seed.accounts[0].did;
    let blocks = seed.records(owner, BLOCK);
    let subjects: std::collections::HashSet<_> =
        blocks.iter().map(|r| r.value["subject"].clone()).collect();
    assert!(
        blocks.len() > subjects.len(),
        "some subjects are blocked twice or more"
    );
    assert!(blocks.iter().all(|r| syntax::is_tid(&r.rkey)));
    assert!(!seed.records(owner, LISTBLOCK).is_empty());
    assert!(Emulator::new(seed, Config::default()).is_ok());
}

#[tokio::test]
async fn sessions_open_with_a_handle_a_did_or_an_email_and_either_password() {
    let c = Client::start(|_| {}).await;
    for (identifier, password) in [
        ("owner.bsky.test", APP_PASSWORD),
        ("OWNER.bsky.test", APP_PASSWORD),
        (OWNER, APP_PASSWORD),
        ("Owner@BSKY.test", APP_PASSWORD),
        ("owner.bsky.test", OWNER_PASSWORD),
    ] {
        let a = c.try_login(identifier, password).await;
        assert_eq!(a.status, 200, "{identifier}: {a:?}");
        assert_eq!(a.json["did"], OWNER);
        assert_eq!(a.json["handle"], "owner.bsky.test");
        assert_eq!(a.json["active"], true);
        let claims = jwt::peek(a.json["accessJwt"].as_str().expect("jwt")).expect("claims");
        let scope = if password == APP_PASSWORD {
            "com.atproto.appPass"
        } else {
            "com.atproto.access"
        };
        assert_eq!((claims.scope.as_str(), claims.sub.as_str()), (scope, OWNER));
        assert_eq!(claims.exp - claims.iat, 7200, "two hours by default");
    }
    for (identifier, password) in [
        ("owner.bsky.test", "wrong"),
        ("@owner.bsky.test", APP_PASSWORD),
        ("alice.bsky.test", APP_PASSWORD),
        ("nobody.bsky.test", APP_PASSWORD),
    ] {
        let a = c.try_login(identifier, password).await;
        assert_eq!(
            a.xrpc_error(),
            (
                401,
                "AuthenticationRequired",
                "Invalid identifier or password"
            ),
            "{identifier}"
        );
    }
    let a = c
        .post(
            Host::Entryway,
            "com.atproto.server.createSession",
            Some(json!({"identifier": "x"})),
            None,
        )
        .await;
    assert_eq!(
        a.xrpc_error(),
        (
            400,
            "InvalidRequest",
            "Missing required key \"password\" at $"
        )
    );
    // The didDoc names the PDS by a hostname, as the reference PDS does.
    let s = c.login().await;
    let pds_port = c.running.addr_of(PDS).expect("pds").port();
    let service = &s.body["didDoc"]["service"][0];
    assert_eq!(service["id"], "#atproto_pds");
    assert_eq!(service["type"], "AtprotoPersonalDataServer");
    assert_eq!(
        service["serviceEndpoint"],
        format!("http://localhost:{pds_port}")
    );
    assert_eq!(s.body["didDoc"]["alsoKnownAs"][0], "at://owner.bsky.test");
    // Both hosts know the session.
    for host in [Host::Entryway, Host::Pds] {
        let a = c
            .get(
                host,
                "com.atproto.server.getSession",
                &[],
                Some(&s.bearer()),
            )
            .await;
        assert_eq!((a.status, a.json["did"].as_str()), (200, Some(OWNER)));
        assert_eq!(a.header("cache-control"), Some("private"));
    }
    let logins = c
        .emulator()
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Endpoint::CreateSession)
        .collect::<Vec<_>>();
    assert!(logins.iter().all(|r| !r.params.contains_key("password")));
    assert_eq!(logins[0].params["identifier"], "owner.bsky.test");
}

#[tokio::test]
async fn bad_and_missing_tokens_get_the_pds_answers() {
    let c = Client::start(|_| {}).await;
    let s = c.login().await;
    let get = |bearer: Option<String>| {
        let c = &c;
        async move {
            c.get(
                Host::Pds,
                "com.atproto.server.getSession",
                &[],
                bearer.as_deref(),
            )
            .await
        }
    };
    assert_eq!(
        get(None).await.xrpc_error(),
        (401, "AuthMissing", "Authentication Required")
    );
    let unverified = (400, "InvalidToken", "Token could not be verified");
    assert_eq!(
        get(Some("Bearer garbage".into())).await.xrpc_error(),
        unverified
    );
    assert_eq!(get(Some(s.refresh_bearer())).await.xrpc_error(), unverified);
    let mut forged = s.access.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    assert_eq!(
        get(Some(format!("Bearer {forged}"))).await.xrpc_error(),
        unverified
    );
    assert_eq!(
        get(Some("Bearer".into())).await.xrpc_error(),
        (400, "InvalidToken", "Malformed authorization header")
    );
    assert_eq!(
        get(Some("Basic YTpi".into())).await.xrpc_error(),
        (400, "InvalidToken", "Unexpected authorization type")
    );
    assert_eq!(
        get(Some("Token abc".into())).await.xrpc_error(),
        (400, "InvalidToken", "Unsupported authorization type: Token")
    );
    // An access token is no refresh token.
    assert_eq!(
        c.refresh(Host::Entryway, &s.bearer()).await.xrpc_error(),
        unverified
    );
    assert!(c.emulator().stats().auth_failures >= 7);
}

#[tokio::test]
async fn expired_tokens_are_refreshed_and_a_used_refresh_token_has_a_grace_period() {
    let c = Client::start(|config| {
        config.sessions.access_ttl = Duration::from_secs(5);
    })
    .await;
    let s = c.login().await;
    c.advance(6);
    let a = c
        .get(
            Host::Pds,
            "com.atproto.server.getSession",
            &[],
            Some(&s.bearer()),
        )
        .await;
    assert_eq!(a.xrpc_error(), (400, "ExpiredToken", "Token has expired"));
    // listRecords needs no token and ignores a stale one.
    let a = c
        .get(
            Host::Pds,
            "com.atproto.repo.listRecords",
            &[("repo", OWNER), ("collection", BLOCK)],
            Some(&s.bearer()),
        )
        .await;
    assert_eq!(a.status, 200);
    // Refreshing works on either host and gives a working pair.
    let first = c.refresh(Host::Entryway, &s.refresh_bearer()).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert!(first.json["didDoc"].is_object());
    let fresh = session(&first);
    let a = c
        .get(
            Host::Pds,
            "com.atproto.server.getSession",
            &[],
            Some(&fresh.bearer()),
        )
        .await;
    assert_eq!(a.status, 200);
    // Reusing the old refresh token within the grace period gives the same successor.
    c.advance(60);
    let again = c.refresh(Host::Pds, &s.refresh_bearer()).await;
    assert_eq!(again.status, 200);
    let jti = |t: &str| jwt::peek(t).and_then(|c| c.jti);
    assert_eq!(jti(&session(&again).refresh), jti(&fresh.refresh));
    assert_ne!(jti(&fresh.refresh), jti(&s.refresh));
    // Past the grace period (2 hours after its last use) the old token is revoked.
    c.advance(2 * 3600 + 1);
    assert_eq!(
        c.refresh(Host::Pds, &s.refresh_bearer()).await.xrpc_error(),
        (400, "ExpiredToken", "Token has been revoked")
    );
    // The successor still works; logging out kills it.
    let a = c
        .post(
            Host::Pds,
            "com.atproto.server.deleteSession",
            None,
            Some(&fresh.refresh_bearer()),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), None);
    assert_eq!(
        c.refresh(Host::Pds, &fresh.refresh_bearer())
            .await
            .xrpc_error(),
        (400, "ExpiredToken", "Token has been revoked")
    );
}

#[tokio::test]
async fn a_revoked_app_password_ends_refreshing_and_logging_in_but_not_the_access_token() {
    let c = Client::start(|config| config.faults.revoke_after = Some(2)).await;
    let s = c.login().await;
    assert_eq!(c.delete(&s, "3kaaaaaaaaa22").await.status, 200);
    assert_eq!(c.delete(&s, "3kaaaaaaaaa32").await.status, 200);
    // Revoked after the second write: the access token keeps working until it expires...
    assert_eq!(c.delete(&s, "3kaaaaaaaaa42").await.status, 200);
    // ...but it cannot be refreshed, and the app password no longer logs in.
    assert_eq!(
        c.refresh(Host::Entryway, &s.refresh_bearer())
            .await
            .xrpc_error(),
        (400, "ExpiredToken", "Token has been revoked")
    );
    assert_eq!(
        c.try_login("owner.bsky.test", APP_PASSWORD)
            .await
            .xrpc_error(),
        (
            401,
            "AuthenticationRequired",
            "Invalid identifier or password"
        )
    );
    assert_eq!(
        c.try_login("owner.bsky.test", OWNER_PASSWORD).await.status,
        200
    );
    let view = c.emulator().state_view();
    assert!(view.accounts[0].credentials[1].revoked);
    assert!(!view.accounts[0].credentials[0].revoked);

    // With `revocation_ends_access`, the access token dies with its credential.
    let c = Client::start(|config| config.sessions.revocation_ends_access = true).await;
    let s = c.login().await;
    assert_eq!(c.emulator().revoke_app_password(OWNER, Some("cli")), 1);
    assert_eq!(
        c.delete(&s, "3kaaaaaaaaa22").await.xrpc_error(),
        (400, "ExpiredToken", "Token has been revoked")
    );

    // Revoking on time, and through the admin route.
    let c = Client::start(|config| config.sessions.revoke_at = Some(Duration::from_secs(30))).await;
    let s = c.login().await;
    c.advance(31);
    assert_eq!(
        c.refresh(Host::Entryway, &s.refresh_bearer())
            .await
            .xrpc_error(),
        (400, "ExpiredToken", "Token has been revoked")
    );
    let c = Client::start(|_| {}).await;
    let s = c.login().await;
    let base = c.running.base_url_of(ENTRYWAY).expect("served");
    let r = c
        .http
        .post(format!("{base}/admin/revoke"))
        .json(&json!({"did": OWNER, "app_password": "cli"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(c.refresh(Host::Pds, &s.refresh_bearer()).await.status, 400);
}

#[tokio::test]
async fn list_records_pages_newest_first_with_a_cursor_on_every_non_empty_page() {
    let seed = Seed::builtin();
    let owner = seed.accounts[0].did.clone();
    let mut expected: Vec<String> = seed
        .records(&owner, BLOCK)
        .iter()
        .map(|r| r.rkey.clone())
        .collect();
    expected.sort();
    expected.reverse();
    let c = Client::start_with(seed, |_| {}).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut extra = vec![("limit", "100")];
        if let Some(c) = &cursor {
            extra.push(("cursor", c.as_str()));
        }
        let a = c.list(&owner, BLOCK, &extra).await;
        assert_eq!(a.status, 200);
        let records = a.json["records"].as_array().expect("records").clone();
        pages += 1;
        if records.is_empty() {
            assert!(
                a.json.get("cursor").is_none(),
                "an empty page has no cursor"
            );
            break;
        }
        let keys: Vec<String> = records
            .iter()
            .map(|r| {
                r["uri"]
                    .as_str()
                    .expect("uri")
                    .rsplit('/')
                    .next()
                    .expect("rkey")
                    .to_owned()
            })
            .collect();
        assert_eq!(a.json["cursor"].as_str(), keys.last().map(String::as_str));
        assert!(
            records
                .iter()
                .all(|r| r["cid"].as_str().is_some_and(|c| c.starts_with("bafyrei")))
        );
        // Deleting records already seen does not disturb the cursor.
        if pages == 1 {
            let s = c.login_as(&Seed::builtin(), 0).await;
            for key in &keys[..10] {
                let body = json!({"repo": owner, "collection": BLOCK, "rkey": key});
                let a = c
                    .post(
                        Host::Pds,
                        "com.atproto.repo.deleteRecord",
                        Some(body),
                        Some(&s.bearer()),
                    )
                    .await;
                assert_eq!(a.status, 200);
            }
        }
        seen.extend(keys);
        cursor = a.json["cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected, "every record once, newest first");
    assert_eq!(pages, 4, "100 + 100 + 40, then the empty page");
    // Oldest first with reverse=true.
    let a = c
        .list(&owner, BLOCK, &[("limit", "3"), ("reverse", "true")])
        .await;
    let keys: Vec<&str> = a.json["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["uri"].as_str()?.rsplit('/').next())
        .collect();
    let mut ascending = keys.clone();
    ascending.sort();
    assert_eq!(keys, ascending);
    // The default page is 50.
    let a = c.list(&owner, BLOCK, &[]).await;
    assert_eq!(a.json["records"].as_array().map(Vec::len), Some(50));
    // A handle names the repo too, exactly as written.
    assert_eq!(
        c.list("demo.bsky.test", BLOCK, &[("limit", "1")])
            .await
            .status,
        200
    );
    assert_eq!(
        c.list("DEMO.bsky.test", BLOCK, &[]).await.xrpc_error(),
        (400, "InvalidRequest", "Could not find repo: DEMO.bsky.test")
    );
    assert_eq!(
        c.list("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", BLOCK, &[])
            .await
            .xrpc_error(),
        (
            400,
            "InvalidRequest",
            "Could not find repo: did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
        )
    );
    assert_eq!(
        c.list(&owner, BLOCK, &[("limit", "101")])
            .await
            .xrpc_error(),
        (
            400,
            "InvalidRequest",
            "Invalid com.atproto.repo.listRecords params: integer too big (maximum 100, got 101)"
        )
    );
}

impl Client {
    /// Logs in as the seed's account `index` with its app password.
    async fn login_as(&self, seed: &Seed, index: usize) -> Session {
        let account = &seed.accounts[index];
        let a = self
            .try_login(&account.did, &account.app_passwords[0].password)
            .await;
        assert_eq!(a.status, 200, "{a:?}");
        session(&a)
    }
}

#[tokio::test]
async fn delete_record_is_idempotent_and_only_for_the_own_repo() {
    let c = Client::start(|_| {}).await;
    let s = c.login().await;
    let a = c.delete(&s, "3kaaaaaaaaa32").await;
    assert_eq!(a.status, 200);
    assert!(a.json["commit"]["rev"].as_str().is_some_and(syntax::is_tid));
    let a = c.delete(&s, "3kaaaaaaaaa32").await;
    assert_eq!(
        (a.status, &a.json),
        (200, &json!({})),
        "a missing record: no commit"
    );
    assert_eq!(c.emulator().blocks_of(OWNER), [ALICE, ALICE, CAROL, GONE]);
    let body = |repo: &str| json!({"repo": repo, "collection": BLOCK, "rkey": "3kaaaaaaaaa22"});
    let a = c
        .post(
            Host::Pds,
            "com.atproto.repo.deleteRecord",
            Some(body(OTHER)),
            Some(&s.bearer()),
        )
        .await;
    assert_eq!(
        a.xrpc_error(),
        (401, "AuthenticationRequired", "Authentication Required")
    );
    let a = c
        .post(
            Host::Pds,
            "com.atproto.repo.deleteRecord",
            Some(body(ALICE)),
            Some(&s.bearer()),
        )
        .await;
    assert_eq!(
        a.xrpc_error(),
        (403, "AccountNotFound", "Account not found")
    );
    let a = c
        .post(
            Host::Pds,
            "com.atproto.repo.deleteRecord",
            Some(body(OWNER)),
            None,
        )
        .await;
    assert_eq!(
        a.xrpc_error(),
        (401, "AuthMissing", "Authentication Required")
    );
    let a = c
        .get(
            Host::Pds,
            "com.atproto.repo.deleteRecord",
            &[],
            Some(&s.bearer()),
        )
        .await;
    assert_eq!(
        a.xrpc_error(),
        (
            400,
            "InvalidRequest",
            "Incorrect HTTP method (GET) expected POST"
        )
    );
    assert_eq!(c.emulator().stats().unblocks_applied, 1);
}

#[tokio::test]
async fn apply_writes_is_atomic_and_takes_at_most_200_writes() {
    let c = Client::start(|_| {}).await;
    let s = c.login().await;
    // One missing record fails the whole batch with a bare 500, and nothing is applied.
    let a = c
        .apply(
            Host::Pds,
            &s,
            vec![delete_write("3kaaaaaaaaa22"), delete_write("3kzzzzzzzzz22")],
        )
        .await;
    assert_eq!(
        a.xrpc_error(),
        (500, "InternalServerError", "Internal Server Error")
    );
    assert_eq!(c.emulator().blocks_of(OWNER).len(), 5);
    // So does creating at a key that exists.
    let mut existing = create_write(BOB);
    existing["rkey"] = json!("3kaaaaaaaaa32");
    assert_eq!(c.apply(Host::Pds, &s, vec![existing]).await.status, 500);
    let too_many: Vec<Value> = (0..201)
        .map(|i| delete_write(&format!("3kbbbbbbbb{i:03}")))
        .collect();
    assert_eq!(
        c.apply(Host::Pds, &s, too_many).await.xrpc_error(),
        (400, "InvalidRequest", "Too many writes. Max: 200")
    );
    let a = c
        .apply(
            Host::Pds,
            &s,
            vec![delete_write("3kaaaaaaaaa22"), delete_write("3kaaaaaaaaa42")],
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.json["results"],
        json!([
            {"$type": "com.atproto.repo.applyWrites#deleteResult"},
            {"$type": "com.atproto.repo.applyWrites#deleteResult"}
        ])
    );
    assert_eq!(c.emulator().blocks_of(OWNER), [BOB, CAROL, GONE]);
    let a = c.apply(Host::Pds, &s, vec![]).await;
    assert_eq!((a.status, a.json["results"].clone()), (200, json!([])));
}

#[tokio::test]
async fn create_record_of_a_block_replaces_older_blocks_of_the_subject_and_apply_writes_does_not() {
    let c = Client::start(|_| {}).await;
    let s = c.login().await;
    let a = c
        .apply(Host::Pds, &s, vec![create_write(BOB), create_write(BOB)])
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["results"][0]["validationStatus"], "valid");
    let count = |subject: &str| {
        c.emulator()
            .blocks_of(OWNER)
            .iter()
            .filter(|s| *s == subject)
            .count()
    };
    assert_eq!(count(BOB), 3, "applyWrites creates keep the older records");
    let create = |validate: Option<bool>| {
        let mut body = json!({
            "repo": OWNER,
            "collection": BLOCK,
            "record": {"$type": BLOCK, "subject": ALICE, "createdAt": "2025-01-01T00:00:00.000Z"}
        });
        if let Some(v) = validate {
            body["validate"] = json!(v);
        }
        body
    };
    let a = c
        .post(
            Host::Pds,
            "com.atproto.repo.createRecord",
            Some(create(None)),
            Some(&s.bearer()),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json["validationStatus"], "valid");
    let uri = a.json["uri"].as_str().expect("uri");
    assert_eq!(
        count(ALICE),
        1,
        "createRecord removed both older blocks of alice"
    );
    assert_eq!(
        c.emulator()
            .records(OWNER, BLOCK)
            .last()
            .map(|r| r.uri.as_str()),
        Some(uri)
    );
    let a = c
        .post(
            Host::Pds,
            "com.atproto.repo.createRecord",
            Some(create(Some(false))),
            Some(&s.bearer()),
        )
        .await;
    assert_eq!(a.status, 200);
    assert!(a.json.get("validationStatus").is_none());
    assert_eq!(count(ALICE), 2, "without validation nothing is replaced");
    // The record is checked against its lexicon.
    let mut bad = create(None);
    bad["record"]["subject"] = json!("alice.bsky.test");
    let a = c
        .post(
            Host::Pds,
            "com.atproto.repo.createRecord",
            Some(bad),
            Some(&s.bearer()),
        )
        .await;
    assert_eq!(
        a.xrpc_error(),
        (
            400,
            "InvalidRequest",
            "Invalid app.bsky.graph.block record: Invalid DID (got \"alice.bsky.test\") at $.record.subject"
        )
    );
    let a = c
        .get(
            Host::Pds,
            "com.atproto.repo.getRecord",
            &[
                ("repo", OWNER),
                ("collection", BLOCK),
                ("rkey", uri.rsplit('/').next().unwrap_or("")),
            ],
            None,
        )
        .await;
    assert_eq!(
        (a.status, a.json["value"]["subject"].as_str()),
        (200, Some(ALICE))
    );
    let a = c
        .get(
            Host::Pds,
            "com.atproto.repo.getRecord",
            &[
                ("repo", OWNER),
                ("collection", BLOCK),
                ("rkey", "3kzzzzzzzzz22"),
            ],
            None,
        )
        .await;
    assert_eq!(a.xrpc_error().1, "RecordNotFound");
    // A repo this PDS does not host is the AppView's to answer.
    let elsewhere = [
        ("repo", BOB),
        ("collection", BLOCK),
        ("rkey", "3kzzzzzzzzz22"),
    ];
    for (state, status) in [
        (AppViewState::Up, 400),
        (AppViewState::Down, 502),
        (AppViewState::Absent, 400),
    ] {
        c.emulator()
            .update_config(|config| config.appview.state = state);
        let a = c
            .get(Host::Pds, "com.atproto.repo.getRecord", &elsewhere, None)
            .await;
        assert_eq!(a.status, status, "{state:?}: {a:?}");
    }
}

#[tokio::test]
async fn write_points_are_charged_before_judging_and_the_headers_follow_the_tightest_limiter() {
    let c = Client::start(|config| {
        config.limits.hourly = Budget::new(20, 3600);
        config.limits.per_ip = Budget::new(100, 300);
    })
    .await;
    let s = c.login().await;
    // Reads speak of the per-IP limiter.
    let a = c.list(OWNER, BLOCK, &[]).await;
    assert_eq!(a.header("ratelimit-policy"), Some("100;w=300"));
    let before = clock_ms(0);
    let a = c.delete(&s, "3kzzzzzzzzz22").await;
    let after = clock_ms(0);
    // 19 points left is fewer than the per-IP limiter's, so the headers speak of the points.
    assert_eq!(a.header("ratelimit-policy"), Some("20;w=3600"));
    assert_eq!(a.number("ratelimit-remaining"), 19);
    // The window opened at this first write; its reset is its end rounded down.
    let reset = a.number("ratelimit-reset");
    assert!(
        ((before + 3_600_000) / 1000..=(after + 3_600_000) / 1000).contains(&reset),
        "{reset}"
    );
    assert_eq!(
        a.header("access-control-expose-headers"),
        Some("RateLimit-Limit, RateLimit-Reset, RateLimit-Remaining, RateLimit-Policy")
    );
    // A batch of 21 writes is refused, and its points are spent all the same...
    let writes: Vec<Value> = (0..21)
        .map(|i| delete_write(&format!("3kbbbbbbbb{i:03}")))
        .collect();
    let a = c.apply(Host::Pds, &s, writes).await;
    assert_eq!(
        a.xrpc_error(),
        (429, "RateLimitExceeded", "Rate Limit Exceeded")
    );
    assert_eq!(a.header("ratelimit-policy"), Some("20;w=3600"));
    assert_eq!(a.number("ratelimit-remaining"), 0);
    assert_eq!(a.number("ratelimit-reset"), reset);
    let retry = a.number("retry-after");
    assert!((3590..=3600).contains(&retry), "{retry}");
    assert!(
        a.header("access-control-expose-headers")
            .is_some_and(|h| h.ends_with("Retry-After"))
    );
    // ...so even a 1-point delete is refused until the reset.
    assert_eq!(c.delete(&s, "3kaaaaaaaaa22").await.status, 429);
    assert_eq!(c.emulator().blocks_of(OWNER).len(), 5);
    // A batch over the cap is refused for its size only after its points were charged.
    let c = Client::start(|config| config.limits.hourly = Budget::new(300, 3600)).await;
    let s = c.login().await;
    let writes: Vec<Value> = (0..201)
        .map(|i| delete_write(&format!("3kbbbbbbbb{i:03}")))
        .collect();
    assert_eq!(c.apply(Host::Pds, &s, writes).await.status, 400);
    let a = c.delete(&s, "3kzzzzzzzzz22").await;
    assert_eq!(a.number("ratelimit-remaining"), 98);
    assert!(!c.emulator().requests().iter().any(|r| r.window_spent));
}

#[tokio::test]
async fn a_points_window_reopens_after_its_length() {
    let c = Client::start(|config| config.limits.hourly = Budget::new(2, 1)).await;
    let s = c.login().await;
    assert_eq!(c.delete(&s, "3kzzzzzzzzz22").await.status, 200);
    assert_eq!(c.delete(&s, "3kzzzzzzzzz22").await.status, 200);
    let refused = c.delete(&s, "3kzzzzzzzzz22").await;
    assert_eq!(refused.status, 429);
    assert!(
        c.emulator()
            .requests()
            .last()
            .is_some_and(|r| r.window_spent)
    );
    let wait =
        Duration::from_millis(u64::try_from(refused.number("retry-after")).unwrap_or(1) * 1000);
    tokio::time::sleep(wait).await;
    assert_eq!(c.delete(&s, "3kzzzzzzzzz22").await.status, 200);
}

#[tokio::test]
async fn the_per_ip_limiter_counts_every_call_that_gets_past_authentication() {
    let c = Client::start(|config| config.limits.per_ip = Budget::new(3, 300)).await;
    // Refusals before the limiter cost nothing and carry no headers.
    let a = c
        .get(Host::Pds, "com.atproto.server.getSession", &[], None)
        .await;
    assert_eq!((a.status, a.header("ratelimit-limit")), (401, None));
    for remaining in [2, 1, 0] {
        let a = c.list(OWNER, BLOCK, &[]).await;
        assert_eq!(
            (a.status, a.number("ratelimit-remaining")),
            (200, remaining)
        );
        assert_eq!(a.header("ratelimit-policy"), Some("3;w=300"));
    }
    let a = c.list(OWNER, BLOCK, &[]).await;
    assert_eq!(
        a.xrpc_error(),
        (429, "RateLimitExceeded", "Rate Limit Exceeded")
    );
    // The entryway counts separately.
    let a = c
        .get(
            Host::Entryway,
            "com.atproto.repo.listRecords",
            &[("repo", OWNER), ("collection", BLOCK)],
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    // Without headers the limiter still refuses.
    c.emulator().update_config(|config| {
        config.limits.headers = false;
        config.limits.retry_after = false;
    });
    let a = c.list(OWNER, BLOCK, &[]).await;
    assert_eq!(
        (
            a.status,
            a.header("ratelimit-limit"),
            a.header("retry-after")
        ),
        (429, None, None)
    );
    c.emulator()
        .update_config(|config| config.limits.enabled = false);
    assert_eq!(c.list(OWNER, BLOCK, &[]).await.status, 200);
}

#[tokio::test]
async fn create_session_has_its_own_limit_per_identifier() {
    let c = Client::start(|config| config.limits.session = Budget::new(3, 300)).await;
    for remaining in [2, 1, 0] {
        let a = c.try_login("owner.bsky.test", "wrong").await;
        assert_eq!(a.status, 401);
        assert_eq!(a.header("ratelimit-policy"), Some("3;w=300"));
        assert_eq!(a.number("ratelimit-remaining"), remaining);
    }
    let a = c.try_login("owner.bsky.test", APP_PASSWORD).await;
    assert_eq!(
        a.xrpc_error(),
        (429, "RateLimitExceeded", "Rate Limit Exceeded")
    );
    assert!(a.number("retry-after") > 290);
    // The key is the identifier as sent.
    assert_eq!(c.try_login(OWNER, APP_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn the_appview_answers_profiles_unless_it_is_absent_or_down() {
    let c = Client::start(|_| {}).await;
    let s = c.login().await;
    let profiles = |actors: Vec<&'static str>| {
        let c = &c;
        let bearer = s.bearer();
        async move {
            let query: Vec<(&str, &str)> = actors.into_iter().map(|a| ("actors", a)).collect();
            c.get(
                Host::Pds,
                "app.bsky.actor.getProfiles",
                &query,
                Some(&bearer),
            )
            .await
        }
    };
    let a = profiles(vec![
        "alice.bsky.test",
        BOB,
        GONE,
        "carol.bsky.test",
        "nobody.bsky.test",
    ])
    .await;
    assert_eq!(a.status, 200);
    let found = a.json["profiles"].as_array().expect("profiles");
    assert_eq!(
        found.len(),
        2,
        "unknown, deleted and deactivated accounts are left out"
    );
    assert_eq!(found[0]["did"], ALICE);
    assert_eq!(
        found[0]["viewer"]["blocking"],
        format!("at://{OWNER}/{BLOCK}/3kaaaaaaaaa42"),
        "the newest block record"
    );
    assert!(found[1]["followersCount"].is_number());
    let many: Vec<&'static str> = std::iter::repeat_n("alice.bsky.test", 26).collect();
    assert_eq!(
        profiles(many).await.xrpc_error(),
        (
            400,
            "InvalidRequest",
            "Invalid app.bsky.actor.getProfiles params: array too big (maximum 25, got 26)"
        )
    );
    let a = c
        .get(
            Host::Pds,
            "app.bsky.actor.getProfiles",
            &[("actors", "alice.bsky.test")],
            None,
        )
        .await;
    assert_eq!(
        a.xrpc_error(),
        (401, "AuthMissing", "Authentication Required")
    );
    let a = c
        .get(
            Host::Pds,
            "app.bsky.graph.getBlocks",
            &[("limit", "2")],
            Some(&s.bearer()),
        )
        .await;
    let dids: Vec<&str> = a.json["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter_map(|p| p["did"].as_str())
        .collect();
    assert_eq!(
        dids,
        [ALICE, BOB],
        "newest first, one entry per account, inactive ones left out"
    );
    let cursor = a.json["cursor"].as_str().expect("cursor").to_owned();
    let a = c
        .get(
            Host::Pds,
            "app.bsky.graph.getBlocks",
            &[("limit", "2"), ("cursor", &cursor)],
            Some(&s.bearer()),
        )
        .await;
    assert_eq!(a.json["blocks"].as_array().map(Vec::len), Some(0));
    c.emulator()
        .update_config(|config| config.appview.state = AppViewState::Absent);
    assert_eq!(
        profiles(vec!["alice.bsky.test"]).await.xrpc_error(),
        (
            400,
            "InvalidRequest",
            "No service configured for app.bsky.actor.getProfiles"
        )
    );
    c.emulator()
        .update_config(|config| config.appview.state = AppViewState::Down);
    assert_eq!(
        profiles(vec!["alice.bsky.test"]).await.xrpc_error(),
        (502, "UpstreamFailure", "Upstream service unreachable")
    );
}

#[tokio::test]
async fn resolve_handle_tells_the_own_domain_from_others() {
    let c = Client::start(|_| {}).await;
    let resolve = |handle: &'static str| {
        let c = &c;
        async move {
            c.get(
                Host::Pds,
                "com.atproto.identity.resolveHandle",
                &[("handle", handle)],
                None,
            )
            .await
        }
    };
    assert_eq!(resolve("ALICE.bsky.test").await.json, json!({"did": ALICE}));
    assert_eq!(resolve("bob.example.com").await.json, json!({"did": BOB}));
    assert_eq!(
        resolve("gone.bsky.test").await.xrpc_error(),
        (400, "HandleNotFound", "Unable to resolve handle")
    );
    assert_eq!(
        resolve("carol.bsky.test").await.xrpc_error(),
        (400, "HandleNotFound", "Unable to resolve handle")
    );
    assert_eq!(
        resolve("nobody.example.com").await.xrpc_error(),
        (400, "InvalidRequest", "Unable to resolve handle")
    );
    assert_eq!(
        resolve("@alice.bsky.test").await.xrpc_error(),
        (
            400,
            "InvalidRequest",
            "Invalid com.atproto.identity.resolveHandle params: Invalid handle (got \"@alice.bsky.test\")"
        )
    );
    // Handles of other hosts need the AppView.
    c.emulator()
        .update_config(|config| config.appview.state = AppViewState::Down);
    assert_eq!(
        resolve("bob.example.com").await.xrpc_error().1,
        "InvalidRequest"
    );
    assert_eq!(resolve("alice.bsky.test").await.status, 200);
}

#[tokio::test]
async fn the_entryway_refuses_repo_writes_while_sessions_name_the_pds() {
    let c = Client::start(|_| {}).await;
    let s = c.login().await;
    let a = c
        .apply(Host::Entryway, &s, vec![delete_write("3kaaaaaaaaa22")])
        .await;
    let pds = c.emulator().pds_url().expect("listening");
    assert_eq!(a.status, 400);
    assert_eq!(a.xrpc_error().1, "InvalidRequest");
    assert!(a.xrpc_error().2.contains(&pds), "{a:?}");
    assert_eq!(c.emulator().blocks_of(OWNER).len(), 5);
    let refused = c.emulator().requests_at(Host::Entryway);
    assert!(
        refused
            .iter()
            .any(|r| r.endpoint == Endpoint::ApplyWrites && r.status == 400)
    );
    // Reads are served there; writes go to the PDS.
    let a = c
        .get(
            Host::Entryway,
            "com.atproto.repo.listRecords",
            &[("repo", OWNER), ("collection", BLOCK)],
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        c.apply(Host::Pds, &s, vec![delete_write("3kaaaaaaaaa22")])
            .await
            .status,
        200
    );
    assert_eq!(c.emulator().host_of(0), Some(Host::Entryway));
    // Without a didDoc the login host serves everything.
    c.emulator()
        .update_config(|config| config.hosts.did_doc = false);
    let s = c.login().await;
    assert!(s.body.get("didDoc").is_none());
    assert_eq!(
        c.apply(Host::Entryway, &s, vec![delete_write("3kaaaaaaaaa32")])
            .await
            .status,
        200
    );
    // The didDoc may name the PDS by its address instead.
    c.emulator().update_config(|config| {
        config.hosts.did_doc = true;
        config.hosts.pds_host = PdsHost::Ip;
    });
    let s = c.login().await;
    assert_eq!(
        s.body["didDoc"]["service"][0]["serviceEndpoint"].as_str(),
        c.running.base_url_of(PDS).as_deref()
    );
    let view = c.emulator().state_view();
    assert!(view.requests_by_host[ENTRYWAY] >= 5);
}

#[tokio::test]
async fn records_deleted_behind_the_back_make_a_batch_fail_as_on_the_pds() {
    let c = Client::start(|config| {
        config.stale.at_write = Some(1);
        config.stale.count = 2;
    })
    .await;
    let s = c.login().await;
    let listed: Vec<String> = c
        .emulator()
        .records(OWNER, BLOCK)
        .into_iter()
        .map(|r| r.rkey)
        .collect();
    // The first write is admitted, two records vanish, and the batch meets one of them.
    let writes: Vec<Value> = listed.iter().map(|k| delete_write(k)).collect();
    let a = c.apply(Host::Pds, &s, writes).await;
    assert_eq!(a.status, 500);
    let left: Vec<String> = c
        .emulator()
        .records(OWNER, BLOCK)
        .into_iter()
        .map(|r| r.rkey)
        .collect();
    assert_eq!(left.len(), 3);
    // Deleting what is left, one by one, still works; the vanished ones answer 200 {}.
    for key in &listed {
        assert_eq!(c.delete(&s, key).await.status, 200);
    }
    assert!(c.emulator().blocks_of(OWNER).is_empty());
    // The admin route does the same on demand.
    c.emulator()
        .set_blocks(OWNER, (0..6).map(|i| format!("did:plc:made{i:0>20}")));
    let base = c.running.base_url_of(PDS).expect("served");
    let r: Value = c
        .http
        .post(format!("{base}/admin/stale"))
        .json(&json!({"did": OWNER, "count": 3}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(r["deleted"].as_array().map(Vec::len), Some(3));
    assert_eq!(c.emulator().blocks_of(OWNER).len(), 3);
}

#[tokio::test]
async fn faults_strike_writes_and_leave_reads_alone() {
    let c = Client::start(|config| config.faults.internal_error_rate = 1.0).await;
    let s = c.login().await;
    let a = c.delete(&s, "3kaaaaaaaaa22").await;
    assert_eq!(
        a.xrpc_error(),
        (500, "InternalServerError", "Internal Server Error")
    );
    assert_eq!(c.emulator().blocks_of(OWNER).len(), 5, "nothing done");
    assert_eq!(c.list(OWNER, BLOCK, &[]).await.status, 200);
    c.emulator().update_config(|config| {
        config.faults.internal_error_rate = 0.0;
        config.faults.over_capacity_rate = 1.0;
        config.replies.fault_status = 502;
    });
    assert_eq!(
        c.delete(&s, "3kaaaaaaaaa22").await.xrpc_error(),
        (502, "UpstreamFailure", "Upstream Failure")
    );
    // Dropped after acting: the write happened, the body breaks off.
    c.emulator().update_config(|config| {
        config.faults.over_capacity_rate = 0.0;
        config.faults.drop_after_acting_rate = 1.0;
    });
    let url = c.url(Host::Pds, "com.atproto.repo.deleteRecord");
    let response = c
        .http
        .post(url)
        .header("authorization", s.bearer())
        .json(&json!({"repo": OWNER, "collection": BLOCK, "rkey": "3kaaaaaaaaa22"}))
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.bytes().await.is_err(), "the body breaks off");
    assert_eq!(
        c.emulator().blocks_of(OWNER).len(),
        4,
        "but the write happened"
    );
    // Stalls wait before answering.
    c.emulator().update_config(|config| {
        config.faults.drop_after_acting_rate = 0.0;
        config.faults.stall_rate = 1.0;
        config.faults.stall = Duration::from_millis(300);
    });
    let started = Instant::now();
    assert_eq!(c.delete(&s, "3kaaaaaaaaa32").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let faults: Vec<_> = c
        .emulator()
        .requests()
        .into_iter()
        .filter_map(|r| r.fault)
        .collect();
    assert_eq!(
        faults,
        [
            FaultKind::InternalError,
            FaultKind::OverCapacity,
            FaultKind::DropAfterActing,
            FaultKind::Stall
        ]
    );
    // With all_endpoints, reads are struck too.
    c.emulator().update_config(|config| {
        config.faults.stall_rate = 0.0;
        config.faults.internal_error_rate = 1.0;
        config.faults.all_endpoints = true;
    });
    assert_eq!(c.list(OWNER, BLOCK, &[]).await.status, 500);
}

#[tokio::test]
async fn unknown_methods_other_paths_and_preflights_are_answered_as_the_pds_does() {
    let c = Client::start(|_| {}).await;
    let s = c.login().await;
    let a = c.get(Host::Pds, "com.example.nothing", &[], None).await;
    assert_eq!(
        a.xrpc_error(),
        (401, "AuthMissing", "Authentication Required")
    );
    let a = c
        .get(Host::Pds, "com.example.nothing", &[], Some(&s.bearer()))
        .await;
    assert_eq!(
        a.xrpc_error(),
        (501, "MethodNotImplemented", "Method Not Implemented")
    );
    let a = c
        .post(
            Host::Pds,
            "com.atproto.repo.listRecords",
            Some(json!({})),
            None,
        )
        .await;
    assert_eq!(
        a.xrpc_error(),
        (
            400,
            "InvalidRequest",
            "Incorrect HTTP method (POST) expected GET"
        )
    );
    let base = c.running.base_url_of(PDS).expect("served");
    let r = c
        .http
        .get(format!("{base}/foo"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.text().await.expect("body").contains("Cannot GET /foo"));
    let r = c
        .http
        .request(
            reqwest::Method::OPTIONS,
            c.url(Host::Pds, "com.atproto.repo.applyWrites"),
        )
        .header("origin", "chrome-extension://abc")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        r.headers()
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok()),
        Some("authorization,content-type")
    );
    let a = c.get(Host::Pds, "_health", &[], None).await;
    assert_eq!(
        (a.status, a.header("access-control-allow-origin")),
        (200, Some("*"))
    );
    let a = c
        .get(Host::Pds, "com.atproto.server.describeServer", &[], None)
        .await;
    assert_eq!(a.json["availableUserDomains"], json!([".bsky.test"]));
}

#[tokio::test]
async fn the_admin_routes_show_the_state_and_patch_the_knobs() {
    let c = Client::start(|_| {}).await;
    let base = c.running.base_url_of(ENTRYWAY).expect("served");
    let state: Value = c
        .http
        .get(format!("{base}/admin/state"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(state["accounts"][0]["did"], OWNER);
    assert_eq!(
        state["accounts"][0]["blocks"].as_array().map(Vec::len),
        Some(5)
    );
    let text = state.to_string();
    assert!(!text.contains(APP_PASSWORD) && !text.contains(OWNER_PASSWORD));
    let patched = c
        .http
        .post(format!("{base}/admin/config"))
        .json(&json!({"sessions": {"access_ttl": "3s"}, "appview": {"state": "down"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(patched.status().as_u16(), 200);
    let config = c.emulator().config();
    assert_eq!(config.sessions.access_ttl, Duration::from_secs(3));
    assert_eq!(config.appview.state, AppViewState::Down);
    let refused = c
        .http
        .post(format!("{base}/admin/config"))
        .json(&json!({"limits": {"per_ip": {"points": 1, "window": "100ms"}}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 422);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("limits.per_ip.window")
    );
    // Admin routes are not logged.
    assert!(c.emulator().requests().is_empty());
}
