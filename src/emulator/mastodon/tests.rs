//! End-to-end tests of the Mastodon emulator over real HTTP on loopback: a plain reqwest client
//! sends bearer tokens from the builtin seed, and each test asserts on the answer and on what
//! the emulator holds.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::emulator::testing::{Answer, http};
use crate::emulator::{FaultKind, clock_ms};

/// The seed's owner (`demo_owner`) and second account.
fn owner() -> String {
    token_of("demo-bulk-unblock").account.expect("owner")
}

fn other() -> String {
    token_of("other-bulk-unblock").account.expect("other owner")
}

fn token_of(name: &str) -> SeedToken {
    Seed::builtin().token(name).expect("seed token").clone()
}

fn token(name: &str) -> String {
    token_of(name).token
}

impl Answer {
    /// The `error` of an error body.
    fn error(&self) -> Option<&str> {
        self.json["error"].as_str()
    }

    /// The `rel` URLs of the `Link` header.
    fn link(&self, rel: &str) -> Option<String> {
        let header = self.header("link")?;
        header.split(", ").find_map(|part| {
            let (url, attr) = part.split_once("; ")?;
            (attr == format!("rel=\"{rel}\""))
                .then(|| url.trim_start_matches('<').trim_end_matches('>').to_owned())
        })
    }
}

/// A client holding one bearer token (or none).
struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(running: &Running, token_name: Option<&str>) -> Client {
        Client {
            http: http(),
            base: running.base_url(),
            token: token_name.map(token),
        }
    }

    fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let rb = self.http.request(m, url);
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        answer(self.request("GET", &with_query(path, query))).await
    }

    async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        answer(form(self.request("POST", path), pairs)).await
    }

    async fn unblock(&self, id: &str) -> Answer {
        self.post(&format!("/api/v1/accounts/{id}/unblock"), &[])
            .await
    }

    async fn block(&self, id: &str) -> Answer {
        self.post(&format!("/api/v1/accounts/{id}/block"), &[])
            .await
    }

    async fn blocks(&self, query: &[(&str, &str)]) -> Answer {
        self.get("/api/v1/blocks", query).await
    }
}

/// `k=v&…`, form-encoded (reqwest is built without its `query` and `form` helpers).
fn encoded(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A form body (reqwest is built without its `form` helper).
fn form(rb: reqwest::RequestBuilder, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
    rb.header("content-type", "application/x-www-form-urlencoded")
        .body(encoded(pairs))
}

/// `path?query`, the query form-encoded.
fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", encoded(pairs))
    }
}

async fn answer(rb: reqwest::RequestBuilder) -> Answer {
    Answer::read(rb.send().await.expect("request sent")).await
}

async fn start(configure: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::default();
    configure(&mut config);
    let emulator = Emulator::new(Seed::builtin(), config).expect("builtin seed is valid");
    spawn(emulator).await.expect("emulator binds")
}

/// A clock offset that puts the emulator at the start of a window of `period_secs`, so a test
/// shorter than the period never straddles a reset.
fn fresh_window(period_secs: i64) -> i64 {
    let now_secs = clock_ms(0) / 1000;
    period_secs - now_secs.rem_euclid(period_secs)
}

/// Every page of `GET /api/v1/blocks`, following `rel="next"` as given; the account IDs and
/// how many pages it took.
async fn all_blocks(c: &Client, limit: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut next = Some(format!("{}/api/v1/blocks?limit={limit}", c.base));
    while let Some(url) = next {
        let a = answer(c.request("GET", &url)).await;
        assert_eq!(a.status, 200, "{}", a.text);
        pages += 1;
        let page = a.json.as_array().expect("a list of accounts");
        ids.extend(
            page.iter()
                .map(|acc| acc["id"].as_str().expect("string ID").to_owned()),
        );
        next = a.link("next");
    }
    (ids, pages)
}

// ---------------------------------------------------------------- tokens and scopes

#[tokio::test]
async fn tokens_and_scopes_are_checked_as_doorkeeper_does() {
    let running = start(|_| {}).await;
    let me = Client::new(&running, Some("demo-bulk-unblock"));
    let a = me.get("/api/v1/accounts/verify_credentials", &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["id"], owner());
    assert_eq!(
        (a.json["username"].as_str(), a.json["acct"].as_str()),
        (Some("demo_owner"), Some("demo_owner"))
    );
    assert_eq!(a.json["source"]["privacy"], "public");
    assert!(
        a.json["id"]
            .as_str()
            .expect("id")
            .parse::<u64>()
            .expect("digits")
            > 1 << 53
    );
    assert_eq!(
        a.header("content-type"),
        Some("application/json; charset=utf-8")
    );

    // The bulk-unblock scopes do not include read:follows.
    let a = me
        .get("/api/v1/accounts/relationships", &[("id[]", &other())])
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.error(),
        Some("This action is outside the authorized scopes")
    );
    let full = Client::new(&running, Some("demo-full"));
    let a = full
        .get("/api/v1/accounts/relationships", &[("id[]", &other())])
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.json[0]["blocked_by"], true,
        "other_owner blocks demo_owner"
    );

    // Read-only: reads pass, writes do not.
    let ro = Client::new(&running, Some("demo-read-only"));
    assert_eq!(ro.blocks(&[]).await.status, 200);
    let target = &running.emulator.blocked(&owner())[0];
    let a = ro.unblock(target).await;
    assert_eq!(a.status, 403);
    assert!(running.emulator.blocked(&owner()).contains(target));

    // The deprecated `follow` scope still covers the block endpoints, not the account.
    let legacy = Client::new(&running, Some("demo-legacy-follow"));
    assert_eq!(legacy.blocks(&[]).await.status, 200);
    assert_eq!(legacy.get("/api/v1/domain_blocks", &[]).await.status, 200);
    assert_eq!(
        legacy
            .get("/api/v1/accounts/verify_credentials", &[])
            .await
            .status,
        403
    );

    // No token, an unknown one, an app without a user.
    let anonymous = Client::new(&running, None);
    for c in [
        &anonymous,
        &Client {
            token: Some("not-a-token".into()),
            ..Client::new(&running, None)
        },
    ] {
        let a = c.blocks(&[]).await;
        assert_eq!((a.status, a.error()), (401, Some(INVALID_TOKEN)));
        assert!(
            a.header("www-authenticate")
                .is_some_and(|h| h.contains("invalid_token")),
            "{:?}",
            a.headers
        );
    }
    let app = Client::new(&running, Some("app-only"));
    let a = app.blocks(&[]).await;
    assert_eq!(
        (a.status, a.error()),
        (422, Some("This method requires an authenticated user"))
    );
    // The token may come as a parameter too, and is never logged.
    let a = anonymous
        .get(
            "/api/v1/accounts/verify_credentials",
            &[("access_token", &token("demo-bulk-unblock"))],
        )
        .await;
    assert_eq!(a.status, 200);
    let log = running.emulator.requests();
    assert!(log.iter().all(|r| !r.params.contains_key("access_token")));
    assert_eq!(log.last().and_then(|r| r.account.clone()), Some(owner()));
    assert_eq!(running.emulator.stats().auth_failures, 2);
}

// ---------------------------------------------------------------- block and unblock

#[tokio::test]
async fn unblock_and_block_answer_a_relationship() {
    let running = start(|_| {}).await;
    let emu = &running.emulator;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let target = emu.blocked(&owner())[3].clone();
    let a = c.unblock(&target).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let fields: BTreeSet<&str> = a
        .json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for field in [
        "id",
        "following",
        "showing_reblogs",
        "notifying",
        "followed_by",
        "blocking",
        "blocked_by",
        "muting",
        "muting_notifications",
        "requested",
        "requested_by",
        "domain_blocking",
        "endorsed",
        "note",
    ] {
        assert!(fields.contains(field), "{field} missing from {}", a.text);
    }
    assert_eq!(
        (a.json["id"].as_str(), a.json["blocking"].as_bool()),
        (Some(target.as_str()), Some(false))
    );
    assert!(!emu.blocked(&owner()).contains(&target));
    // Unblocking again is no error.
    let again = c.unblock(&target).await;
    assert_eq!(
        (again.status, again.json["blocking"].as_bool()),
        (200, Some(false))
    );
    // Blocking again makes the newest block row: first on the list.
    let a = c.block(&target).await;
    assert_eq!(a.json["blocking"], true);
    assert_eq!(c.blocks(&[]).await.json[0]["id"], target.as_str());
    assert_eq!(emu.blocked(&owner()).last(), Some(&target));
    // Unknown or malformed IDs.
    for id in ["1", "99999999999999999999", "abc"] {
        let a = c.unblock(id).await;
        assert_eq!(
            (a.status, a.error()),
            (404, Some("Record not found")),
            "{id}"
        );
    }
    // An account on a blocked domain says so.
    let seed = Seed::builtin();
    let spam = seed
        .accounts
        .iter()
        .find(|a| a.domain.as_deref() == Some("spam.example"))
        .expect("a spam.example account");
    let a = c.unblock(&spam.id).await;
    assert_eq!(a.json["domain_blocking"], true);
    let stats = emu.stats();
    assert_eq!((stats.unblocks_applied, stats.blocks_applied), (2, 1));
    assert_eq!(stats.per_endpoint["accounts/unblock"], 6);
}

#[tokio::test]
async fn lookup_resolves_acct_as_the_instance_does() {
    let running = start(|_| {}).await;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let seed = Seed::builtin();
    let local = seed
        .accounts
        .iter()
        .find(|a| a.domain.is_none() && !a.suspended && a.username != "demo_owner")
        .expect("a local account");
    let remote = seed
        .accounts
        .iter()
        .find(|a| a.domain.is_some() && !a.suspended)
        .expect("a remote account");
    let remote_domain = remote.domain.as_deref().expect("domain");
    for acct in [
        local.username.clone(),
        format!("{}@mastodon.test", local.username),
        format!("@{}", local.username.to_uppercase()),
    ] {
        let a = c.get("/api/v1/accounts/lookup", &[("acct", &acct)]).await;
        assert_eq!(a.status, 200, "{acct}: {}", a.text);
        assert_eq!(a.json["id"], local.id.as_str());
        assert_eq!(
            a.json["acct"],
            local.username.as_str(),
            "local acct is the username"
        );
    }
    let a = c
        .get(
            "/api/v1/accounts/lookup",
            &[("acct", &format!("@{}@{remote_domain}", remote.username))],
        )
        .await;
    assert_eq!(
        a.json["acct"],
        format!("{}@{remote_domain}", remote.username)
    );
    for acct in ["ghost@nowhere.example", "", "@"] {
        let a = c.get("/api/v1/accounts/lookup", &[("acct", acct)]).await;
        assert_eq!(
            (a.status, a.error()),
            (404, Some("Record not found")),
            "{acct}"
        );
    }
    // A suspended account is found, marked and blanked.
    let suspended = seed
        .accounts
        .iter()
        .find(|a| a.suspended)
        .expect("suspended");
    let acct = match &suspended.domain {
        Some(d) => format!("{}@{d}", suspended.username),
        None => suspended.username.clone(),
    };
    let a = c.get("/api/v1/accounts/lookup", &[("acct", &acct)]).await;
    assert_eq!(a.json["id"], suspended.id.as_str());
    assert_eq!(
        (
            a.json["suspended"].as_bool(),
            a.json["display_name"].as_str()
        ),
        (Some(true), Some(""))
    );
    // Lookup is public: no token is fine, a revoked one is not.
    let anonymous = Client::new(&running, None);
    assert_eq!(
        anonymous
            .get("/api/v1/accounts/lookup", &[("acct", &local.username)])
            .await
            .status,
        200
    );
    running.emulator.revoke_token(&token("demo-bulk-unblock"));
    let a = c
        .get("/api/v1/accounts/lookup", &[("acct", &local.username)])
        .await;
    assert_eq!((a.status, a.error()), (401, Some(REVOKED_TOKEN)));
}

#[tokio::test]
async fn an_account_is_shown_by_id_with_or_without_a_token() {
    let running = start(|_| {}).await;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let seed = Seed::builtin();
    let remote = seed
        .accounts
        .iter()
        .find(|a| a.domain.is_some() && !a.suspended)
        .expect("a remote account");
    let a = c.get(&format!("/api/v1/accounts/{}", remote.id), &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["id"], remote.id.as_str());
    let acct = format!("{}@{}", remote.username, remote.domain.as_deref().unwrap());
    assert_eq!(a.json["acct"], acct.as_str());
    // The same entity as the lookup by acct.
    let looked_up = c.get("/api/v1/accounts/lookup", &[("acct", &acct)]).await;
    assert_eq!(a.json, looked_up.json);
    // A suspended account is found by ID, marked and blanked.
    let suspended = seed
        .accounts
        .iter()
        .find(|a| a.suspended)
        .expect("suspended");
    let a = c
        .get(&format!("/api/v1/accounts/{}", suspended.id), &[])
        .await;
    assert_eq!((a.status, a.json["suspended"].as_bool()), (200, Some(true)));
    for id in ["1", "abc", "99999999999999999999"] {
        let a = c.get(&format!("/api/v1/accounts/{id}"), &[]).await;
        assert_eq!(
            (a.status, a.error()),
            (404, Some("Record not found")),
            "{id}"
        );
    }
    let anonymous = Client::new(&running, None);
    let path = format!("/api/v1/accounts/{}", remote.id);
    assert_eq!(anonymous.get(&path, &[]).await.status, 200);
    running.emulator.revoke_token(&token("demo-bulk-unblock"));
    let a = c.get(&path, &[]).await;
    assert_eq!((a.status, a.error()), (401, Some(REVOKED_TOKEN)));
}

// ---------------------------------------------------------------- the blocks list

#[tokio::test]
async fn blocks_pages_by_row_id_and_hides_suspended_accounts() {
    let running = start(|c| c.limits.enabled = false).await;
    let emu = &running.emulator;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let seed = Seed::builtin();
    let suspended: BTreeSet<String> = seed
        .accounts
        .iter()
        .filter(|a| a.suspended)
        .map(|a| a.id.clone())
        .collect();
    let blocked = emu.blocked(&owner());
    let visible: Vec<String> = blocked
        .iter()
        .rev()
        .filter(|id| !suspended.contains(*id))
        .cloned()
        .collect();
    assert_eq!(blocked.len(), 200);
    assert_eq!(
        visible.len(),
        192,
        "eight of the blocked accounts are suspended"
    );

    let (listed, pages) = all_blocks(&c, "80").await;
    assert_eq!(
        listed, visible,
        "newest first, each once, no suspended account"
    );
    assert_eq!(pages, 3);

    // The default page is 40 and the largest 80.
    assert_eq!(c.blocks(&[]).await.json.as_array().map(Vec::len), Some(40));
    let a = c.blocks(&[("limit", "500")]).await;
    assert_eq!(a.json.as_array().map(Vec::len), Some(80));
    let next = a.link("next").expect("a full page links to the next");
    assert!(
        next.starts_with(&format!("{}/api/v1/blocks?limit=500&max_id=", c.base)),
        "{next}"
    );
    let prev = a.link("prev").expect("prev");
    assert!(prev.contains("?limit=500&since_id="), "{prev}");
    // The cursors are block row IDs, not account IDs.
    let max_id: u64 = next
        .rsplit('=')
        .next()
        .expect("value")
        .parse()
        .expect("digits");
    assert!(max_id < 1 << 53);

    // The last page is short and has no next link; past it, nothing and no link at all.
    let tail = c.blocks(&[("limit", "80"), ("max_id", "4050")]).await;
    assert!(tail.link("next").is_none() && tail.link("prev").is_some());
    let none = c.blocks(&[("max_id", "1")]).await;
    assert_eq!(none.json, json!([]));
    assert!(none.header("link").is_none());
    // since_id keeps the newest rows above it.
    let newest = c.blocks(&[("limit", "5"), ("since_id", "4100")]).await;
    assert_eq!(newest.json[0]["id"], visible[0].as_str());

    // Suspended accounts stay unblockable by ID.
    let hidden = blocked
        .iter()
        .find(|id| suspended.contains(*id))
        .expect("one");
    assert_eq!(c.unblock(hidden).await.status, 200);
    assert!(!emu.blocked(&owner()).contains(hidden));
}

#[tokio::test]
async fn following_next_links_meets_every_block_once_while_blocks_are_removed() {
    let running = start(|c| c.limits.enabled = false).await;
    let emu = running.emulator.clone();
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let before: BTreeSet<String> = all_blocks(&c, "40").await.0.into_iter().collect();
    // Between pages, unblock what the page showed (as a bulk unblocker does) and a few older
    // blocks not yet listed.
    let owner = owner();
    let mut removed_ahead = Vec::new();
    let mut seen = Vec::new();
    let mut next = Some(format!("{}/api/v1/blocks?limit=30", c.base));
    while let Some(url) = next {
        let a = answer(c.request("GET", &url)).await;
        let page: Vec<String> = a
            .json
            .as_array()
            .expect("list")
            .iter()
            .map(|acc| acc["id"].as_str().expect("id").to_owned())
            .collect();
        for id in &page {
            assert_eq!(c.unblock(id).await.status, 200);
        }
        if let Some(oldest) = emu.blocked(&owner).first().cloned()
            && !seen.contains(&oldest)
            && !page.contains(&oldest)
        {
            assert_eq!(c.unblock(&oldest).await.status, 200);
            removed_ahead.push(oldest);
        }
        seen.extend(page);
        next = a.link("next");
    }
    let seen_set: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen_set.len(), seen.len(), "no block listed twice");
    let expected: BTreeSet<String> = before
        .iter()
        .filter(|id| !removed_ahead.contains(*id))
        .cloned()
        .collect();
    assert_eq!(seen_set, expected, "every block still there was listed");
}

// ---------------------------------------------------------------- domain blocks

#[tokio::test]
async fn domain_blocks_list_lift_and_restore() {
    let running = start(|_| {}).await;
    let emu = &running.emulator;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let a = c.get("/api/v1/domain_blocks", &[]).await;
    assert_eq!(
        a.json,
        json!([
            "crypto.example",
            "ads.example",
            "hate.example",
            "bots.example",
            "spam.example"
        ])
    );
    let a = c.get("/api/v1/domain_blocks", &[("limit", "2")]).await;
    assert_eq!(a.json, json!(["crypto.example", "ads.example"]));
    let next = a.link("next").expect("full page");
    let b = answer(c.request("GET", &next)).await;
    assert_eq!(b.json, json!(["hate.example", "bots.example"]));

    // DELETE with the domain in a form, a JSON body or the query: `{}` each time.
    let a = answer(form(
        c.request("DELETE", "/api/v1/domain_blocks"),
        &[("domain", "spam.example")],
    ))
    .await;
    assert_eq!((a.status, a.json.clone()), (200, json!({})));
    let a = answer(
        c.request("DELETE", "/api/v1/domain_blocks")
            .json(&json!({"domain": "ADS.example"})),
    )
    .await;
    assert_eq!(a.status, 200);
    let a = answer(c.request(
        "DELETE",
        &with_query(
            "/api/v1/domain_blocks",
            &[("domain", "never-blocked.example")],
        ),
    ))
    .await;
    assert_eq!((a.status, a.json.clone()), (200, json!({})));
    assert_eq!(
        emu.domain_blocks(&owner()),
        ["bots.example", "hate.example", "crypto.example"]
    );
    // POST restores; a blank domain is a validation error.
    let a = c
        .post("/api/v1/domain_blocks", &[("domain", "spam.example")])
        .await;
    assert_eq!((a.status, a.json.clone()), (200, json!({})));
    assert_eq!(
        emu.domain_blocks(&owner()).last().map(String::as_str),
        Some("spam.example")
    );
    let a = c.post("/api/v1/domain_blocks", &[]).await;
    assert_eq!(
        (a.status, a.error()),
        (422, Some("Validation failed: Domain can't be blank"))
    );
    // The read-only token may list but not change them.
    let ro = Client::new(&running, Some("demo-read-only"));
    assert_eq!(ro.get("/api/v1/domain_blocks", &[]).await.status, 200);
    assert_eq!(
        ro.post("/api/v1/domain_blocks", &[("domain", "x.example")])
            .await
            .status,
        403
    );
    // The second account has its own.
    assert_eq!(emu.domain_blocks(&other()), ["spam.example", "ads.example"]);
    // Domain block writes are not account blocks in the counters.
    let stats = emu.stats();
    assert_eq!((stats.blocks_applied, stats.unblocks_applied), (0, 0));
    assert_eq!(stats.per_endpoint["domain_blocks/destroy"], 3);
}

// ---------------------------------------------------------------- throttles

#[tokio::test]
async fn the_per_token_throttle_counts_in_aligned_windows_and_refuses_with_a_429() {
    let running = start(|c| {
        c.clock_offset_secs = fresh_window(60);
        c.limits.per_token = Throttle::new(3, 60);
    })
    .await;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let mut resets = BTreeSet::new();
    for remaining in ["2", "1", "0"] {
        let a = c.get("/api/v1/accounts/verify_credentials", &[]).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(a.header("x-ratelimit-remaining"), Some(remaining));
        let reset = a.header("x-ratelimit-reset").expect("reset").to_owned();
        // 2020-09-08T13:25:00.019685Z: six fractional digits, on the minute grid.
        assert_eq!(reset.len(), 27, "{reset}");
        assert!(reset.ends_with('Z') && &reset[19..20] == ".", "{reset}");
        assert_eq!(
            &reset[17..19],
            "00",
            "the window ends on the 60 s grid: {reset}"
        );
        resets.insert(reset[..19].to_owned());
    }
    assert_eq!(resets.len(), 1, "one window: {resets:?}");
    let a = c.get("/api/v1/accounts/verify_credentials", &[]).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.json, json!({"error": "Too many requests"}));
    assert_eq!(a.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(a.header("x-ratelimit-limit"), Some("3"));
    assert!(a.header("retry-after").is_none());
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert!(a.header("cache-control").is_none(), "no controller ran");
    // The refusal happens before authentication: any endpoint, even an unknown route.
    assert_eq!(c.get("/api/v1/nothing-here", &[]).await.status, 429);
    // Another user's token has its own window.
    let other = Client::new(&running, Some("other-bulk-unblock"));
    assert_eq!(other.blocks(&[]).await.status, 200);
    let log = running.emulator.requests();
    assert_eq!(log.iter().filter(|r| r.window_spent).count(), 2);
    assert_eq!(running.emulator.stats().rate_limited, 2);
}

#[tokio::test]
async fn paging_has_its_own_throttle_per_user_and_windows_reopen_on_the_grid() {
    let running = start(|c| {
        c.clock_offset_secs = fresh_window(2);
        c.limits.paging = Throttle::new(2, 2);
    })
    .await;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let full = Client::new(&running, Some("demo-full"));
    let first = c.blocks(&[("max_id", "999999")]).await;
    assert_eq!(
        first.header("x-ratelimit-limit"),
        Some("2"),
        "paging is the closest"
    );
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));
    // The same user's other token shares the paging window.
    let second = full.blocks(&[("since_id", "1")]).await;
    assert_eq!(second.header("x-ratelimit-remaining"), Some("0"));
    let refused = c.blocks(&[("max_id", "999999")]).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("x-ratelimit-limit"), Some("2"));
    // Requests without paging parameters still pass; a blank one does not page.
    let plain = c.blocks(&[("max_id", "")]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("x-ratelimit-limit"), Some("300"));
    // After the reset the next window opens.
    let reset = refused
        .header("x-ratelimit-reset")
        .expect("reset")
        .to_owned();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let again = c.blocks(&[("max_id", "999999")]).await;
    assert_eq!(again.status, 200, "window after {reset}");
    assert_eq!(again.header("x-ratelimit-remaining"), Some("1"));
}

#[tokio::test]
async fn rate_headers_can_be_off_or_only_on_429s() {
    let running = start(|c| {
        c.clock_offset_secs = fresh_window(60);
        c.limits.per_token = Throttle::new(1, 60);
        c.limits.headers = HeaderMode::None;
    })
    .await;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let ok = c.blocks(&[]).await;
    assert_eq!(ok.status, 200);
    assert!(ok.header("x-ratelimit-limit").is_none());
    let refused = c.blocks(&[]).await;
    assert_eq!(refused.status, 429);
    assert!(refused.header("x-ratelimit-remaining").is_none());
    running
        .emulator
        .update_config(|c| c.limits.headers = HeaderMode::Only429);
    let refused = c.blocks(&[]).await;
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    running.emulator.update_config(|c| c.limits.enabled = false);
    let free = c.blocks(&[]).await;
    assert_eq!(free.status, 200, "no limits: a safelisted client");
    assert!(free.header("x-ratelimit-limit").is_none());
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn server_errors_do_not_act_and_their_status_is_a_knob() {
    let running = start(|c| {
        c.faults.over_capacity_rate = 1.0;
        c.replies.unavailable_status = 502;
    })
    .await;
    let emu = &running.emulator;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let target = emu.blocked(&owner())[0].clone();
    let a = c.unblock(&target).await;
    assert_eq!(a.status, 502);
    assert!(a.text.contains("502 Bad Gateway"), "{}", a.text);
    assert!(
        a.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    assert!(emu.blocked(&owner()).contains(&target));
    // Reads are spared unless the faults apply everywhere.
    assert_eq!(c.blocks(&[]).await.status, 200);
    emu.update_config(|c| {
        c.faults.over_capacity_rate = 0.0;
        c.faults.internal_error_rate = 1.0;
        c.faults.all_endpoints = true;
        c.replies.error_body = ErrorBody::Json;
    });
    let a = c.blocks(&[]).await;
    assert_eq!((a.status, a.error()), (500, Some("Internal Server Error")));
    let log = emu.requests();
    assert_eq!(log[0].fault, Some(FaultKind::OverCapacity));
    assert_eq!(log[2].fault, Some(FaultKind::InternalError));
    assert_eq!(emu.stats().status_5xx, 2);
}

#[tokio::test]
async fn a_dropped_answer_acts_and_a_stall_outlasts_the_client() {
    let running = start(|c| c.faults.drop_after_acting_rate = 1.0).await;
    let emu = &running.emulator;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let target = emu.blocked(&owner())[0].clone();
    let resp = c
        .request("POST", &format!("/api/v1/accounts/{target}/unblock"))
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.bytes().await.is_err(), "the body breaks off");
    assert!(!emu.blocked(&owner()).contains(&target), "it acted");

    emu.update_config(|c| {
        c.faults.drop_after_acting_rate = 0.0;
        c.faults.stall_rate = 1.0;
        c.faults.stall = Duration::from_secs(5);
    });
    let second = emu.blocked(&owner())[0].clone();
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let sent = impatient
        .post(format!("{}/api/v1/accounts/{second}/unblock", c.base))
        .bearer_auth(token("demo-bulk-unblock"))
        .send()
        .await;
    assert!(sent.is_err(), "the client gave up");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        emu.blocked(&owner()).contains(&second),
        "a stall that lost its client did nothing"
    );
    let log = emu.requests();
    assert_eq!(log[1].fault, Some(FaultKind::Stall));
    assert_eq!(log[1].status, 0);
}

#[tokio::test]
async fn spurious_429s_look_like_a_spent_token_window() {
    let running = start(|c| c.faults.spurious_429_rate = 1.0).await;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let target = running.emulator.blocked(&owner())[0].clone();
    let a = c.unblock(&target).await;
    assert_eq!((a.status, a.error()), (429, Some("Too many requests")));
    assert_eq!(a.header("x-ratelimit-limit"), Some("300"));
    assert_eq!(a.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(c.blocks(&[]).await.status, 200, "reads are spared");
    let log = running.emulator.requests();
    assert_eq!(log[0].fault, Some(FaultKind::Spurious429));
    assert!(!log[0].window_spent);
}

// ---------------------------------------------------------------- revocation

#[tokio::test]
async fn tokens_are_revoked_after_n_writes_or_by_an_admin_call() {
    let running = start(|c| c.faults.revoke_after = Some(2)).await;
    let emu = &running.emulator;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let blocked = emu.blocked(&owner());
    assert_eq!(c.unblock(&blocked[0]).await.status, 200);
    // A read in between is no write.
    assert_eq!(c.blocks(&[]).await.status, 200);
    assert_eq!(c.unblock(&blocked[1]).await.status, 200);
    let a = c.unblock(&blocked[2]).await;
    assert_eq!((a.status, a.error()), (401, Some(REVOKED_TOKEN)));
    assert!(emu.blocked(&owner()).contains(&blocked[2]));
    let view = emu.state_view();
    let tokens = &view.users[0].tokens;
    assert!(
        tokens
            .iter()
            .any(|t| t.name == "demo-bulk-unblock" && t.revoked)
    );
    assert!(tokens.iter().any(|t| t.name == "demo-full" && !t.revoked));

    // Restored through the admin call, and revoked again by one, by token or by account.
    emu.update_config(|c| {
        c.faults.revoke_after = None;
        c.replies.revoked = RevokedReply::Invalid;
    });
    let admin = |path: &str, body: Value| {
        let url = format!("{}{path}", c.base);
        let http = c.http.clone();
        async move {
            let r = http.post(url).json(&body).send().await.expect("sent");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let mine = token("demo-bulk-unblock");
    assert_eq!(
        admin("/admin/restore", json!({"token": mine})).await,
        (200, json!({"restored": 1}))
    );
    assert_eq!(c.unblock(&blocked[2]).await.status, 200);
    assert_eq!(admin("/admin/revoke", json!({"token": mine})).await.0, 200);
    let a = c.unblock(&blocked[3]).await;
    assert_eq!((a.status, a.error()), (401, Some(INVALID_TOKEN)));
    assert_eq!(
        admin("/admin/revoke", json!({"account": other()})).await,
        (200, json!({"revoked": 1}))
    );
    let theirs = Client::new(&running, Some("other-bulk-unblock"));
    assert_eq!(theirs.blocks(&[]).await.status, 401);
    assert_eq!(
        admin("/admin/revoke", json!({"token": "nope"})).await.0,
        404
    );
}

#[tokio::test]
async fn revoke_after_requests_counts_every_authenticated_request() {
    let running = start(|c| c.faults.revoke_after_requests = Some(3)).await;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    for _ in 0..3 {
        assert_eq!(
            c.get("/api/v1/accounts/verify_credentials", &[])
                .await
                .status,
            200
        );
    }
    assert_eq!(c.blocks(&[]).await.status, 401);
    // The instance endpoint does not look at tokens.
    assert_eq!(c.get("/api/v1/instance", &[]).await.status, 200);
}

// ---------------------------------------------------------------- instance and admin

#[tokio::test]
async fn the_instance_reports_a_version_and_routes_take_a_trailing_slash() {
    let running = start(|c| c.instance.version = "4.2.10".into()).await;
    let c = Client::new(&running, None);
    let v1 = c.get("/api/v1/instance/", &[]).await;
    assert_eq!(v1.status, 200, "{}", v1.text);
    assert_eq!(
        (v1.json["version"].as_str(), v1.json["uri"].as_str()),
        (Some("4.2.10"), Some("mastodon.test"))
    );
    let v2 = c.get("/api/v2/instance", &[]).await;
    assert_eq!(v2.json["api_versions"]["mastodon"], 2);
    assert_eq!(v2.json["domain"], "mastodon.test");
    let missing = c.get("/api/v1/statuses", &[]).await;
    assert_eq!((missing.status, missing.error()), (404, Some("Not Found")));
    assert!(missing.header("x-ratelimit-limit").is_none());
    // Anonymous API requests share the IP's throttle.
    assert_eq!(v1.header("x-ratelimit-limit"), Some("300"));
    assert_eq!(v2.header("x-ratelimit-remaining"), Some("298"));
}

#[tokio::test]
async fn admin_views_show_state_and_log_without_tokens() {
    let running = start(|_| {}).await;
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let target = running.emulator.blocked(&owner())[0].clone();
    c.unblock(&target).await;
    let text = c
        .http
        .get(format!("{}/admin/state", c.base))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    let state: StateView = serde_json::from_str(&text).expect("state view");
    assert_eq!(state.domain, "mastodon.test");
    assert_eq!(state.users[0].address, "demo_owner@mastodon.test");
    assert_eq!(state.users[0].blocked_count, 199);
    assert_eq!(state.app_tokens.len(), 1);
    assert_eq!(state.stats.unblocks_applied, 1);
    for t in &Seed::builtin().tokens {
        assert!(!text.contains(&t.token), "{}", t.name);
    }
    let log: Vec<LoggedRequest> = c
        .http
        .get(format!("{}/admin/requests", c.base))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("log");
    assert_eq!(
        log,
        running.emulator.requests(),
        "admin calls are not logged"
    );
    assert_eq!(log[0].endpoint, Endpoint::Unblock);
    let patched = c
        .http
        .post(format!("{}/admin/config", c.base))
        .json(&json!({"limits": {"per_token": {"limit": 7}}, "replies": {"revoked": "invalid"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(patched.status().as_u16(), 200);
    let config = running.emulator.config();
    assert_eq!(config.limits.per_token, Throttle::new(7, 300));
    assert_eq!(config.replies.revoked, RevokedReply::Invalid);
    let bad = c
        .http
        .post(format!("{}/admin/config", c.base))
        .json(&json!({"limits": {"paging": {"period": "10ms"}}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status().as_u16(), 422);
}

#[tokio::test]
async fn big_lists_page_quickly() {
    let running = start(|c| c.limits.enabled = false).await;
    let emu = &running.emulator;
    let base: u64 = 112_000_000_000_000_000;
    emu.set_blocked(&owner(), (0..5_000).map(|i| (base + i).to_string()));
    assert_eq!(emu.blocked(&owner()).len(), 5_000);
    let c = Client::new(&running, Some("demo-bulk-unblock"));
    let (ids, pages) = all_blocks(&c, "80").await;
    assert_eq!((ids.len(), pages), (5_000, 63));
    assert_eq!(ids[0], (base + 4_999).to_string());
}
