//! The Mastodon client against the emulator in-process: what each method sends, and what it
//! makes of the answers. The binary's behaviour end to end is in `tests/mastodon.rs`.

use std::time::Duration;

use super::identity::testing::{acct, domain, id};
use super::*;
use crate::emulator::mastodon::{self as emulator, Config, Emulator, Endpoint, Running, Seed};

const OWNER: &str = "109276928409644247";

/// The builtin seed served on loopback, and a client with one of its tokens.
struct Fixture {
    running: Running,
    client: MastodonClient,
}

impl Fixture {
    fn emulator(&self) -> &Emulator {
        &self.running.emulator
    }

    fn sent_to(&self, endpoint: Endpoint) -> usize {
        self.emulator().requests_to(endpoint).len()
    }

    async fn unblock(&self, target: &Target) -> Settled {
        if let Some(settled) = self.client.settled(Action::Unblock, target) {
            return settled;
        }
        let reply = self
            .client
            .act(Action::Unblock, std::slice::from_ref(target))
            .await;
        reply.verdict.expect("an answer").remove(0)
    }

    /// What `prepare` does before a run: the list if the client needs it, then lookups.
    async fn prepare(&self, targets: &[Target]) {
        if self.client.needs_list(Action::Unblock, targets) {
            let mut cursor = None;
            loop {
                let page = self.client.blocked_page(cursor.as_deref()).await;
                match page.verdict.expect("a page").next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        for target in self.client.to_resolve(Action::Unblock, targets) {
            self.client
                .lookup(&[target])
                .await
                .verdict
                .expect("a lookup");
        }
    }
}

async fn fixture_with(token: &str, domains: bool, configure: impl FnOnce(&mut Config)) -> Fixture {
    let mut config = Config::default();
    config.limits.enabled = false;
    configure(&mut config);
    let seed = Seed::builtin();
    let token = seed.token(token).expect("seed token").token.clone();
    let running = emulator::spawn(Emulator::new(seed, config).expect("valid seed"))
        .await
        .expect("emulator starts");
    let settings = MastodonSettings {
        instance: running.base_url(),
        token: Secret::new(token),
        domains,
        timeout: Duration::from_secs(10),
    };
    let client =
        MastodonClient::new(settings, Arc::new(ServerClock::new())).expect("valid base URL");
    Fixture { running, client }
}

async fn fixture() -> Fixture {
    let f = fixture_with("demo-bulk-unblock", false, |_| {}).await;
    f.client.verify().await.verdict.expect("verify");
    f
}

/// The builtin seed's blocks of the owner by state: (ID, acct as written in an export).
fn owner_blocks(f: &Fixture, suspended: bool) -> Vec<(String, String)> {
    let seed = Seed::builtin();
    f.emulator()
        .blocked(OWNER)
        .into_iter()
        .filter_map(|id| {
            let a = seed.account(&id)?;
            (a.suspended == suspended).then(|| {
                let domain = a.domain.clone().unwrap_or_else(|| seed.domain.clone());
                (
                    id.clone(),
                    format!("{}@{domain}", a.username).to_lowercase(),
                )
            })
        })
        .collect()
}

#[test]
fn settings_debug_never_shows_the_token() {
    let settings = MastodonSettings {
        instance: "mastodon.social".into(),
        token: Secret::new("tok-visible-nowhere"),
        domains: false,
        timeout: Duration::from_secs(1),
    };
    let shown = format!("{settings:?} {settings:#?}");
    assert!(!shown.contains("visible-nowhere"), "{shown}");
}

#[test]
fn a_bare_host_is_an_https_instance() {
    assert_eq!(instance_base("mastodon.social"), "https://mastodon.social");
    assert_eq!(
        instance_base(" http://127.0.0.1:3000 "),
        "http://127.0.0.1:3000"
    );
}

#[tokio::test]
async fn verify_names_the_account_with_the_instances_domain() {
    let f = fixture_with("demo-bulk-unblock", false, |_| {}).await;
    let reply = f.client.verify().await;
    let account = reply.verdict.expect("valid token");
    assert_eq!(account.user_id, OWNER);
    assert_eq!(
        account.screen_name.as_deref(),
        Some("demo_owner@mastodon.test")
    );
    assert!(
        reply.rate.get(crate::network::Span::Short).is_none(),
        "limits are off"
    );
    let sent = f.emulator().requests_to(Endpoint::VerifyCredentials);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].account.as_deref(), Some(OWNER));
}

#[tokio::test]
async fn bad_tokens_and_missing_scopes_are_rejections_with_hints() {
    let f = fixture_with("demo-bulk-unblock", false, |_| {}).await;
    assert!(
        f.emulator()
            .revoke_token(&Seed::builtin().token("demo-bulk-unblock").unwrap().token)
    );
    match f.client.verify().await.verdict {
        Err(Verdict::Rejected { hint, message, .. }) => {
            assert_eq!(hint, response::INVALID_TOKEN_HINT);
            assert!(message.contains("revoked"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The read-only token passes the check and is refused the unblock.
    let f = fixture_with("demo-read-only", false, |_| {}).await;
    f.client
        .verify()
        .await
        .verdict
        .expect("read:accounts suffices");
    let (target, _) = owner_blocks(&f, false)[0].clone();
    let reply = f
        .client
        .act(Action::Unblock, &[Target::new(&ACCOUNT_ID, target)])
        .await;
    assert_eq!(reply.http_status, Some(403));
    assert!(matches!(
        reply.verdict,
        Err(Verdict::Rejected {
            hint: response::SCOPE_HINT,
            ..
        })
    ));
    assert_eq!(f.emulator().stats().unblocks_applied, 0);
    // A token of an application alone.
    let f = fixture_with("app-only", false, |_| {}).await;
    assert!(matches!(
        f.client.verify().await.verdict,
        Err(Verdict::Rejected {
            hint: response::APP_TOKEN_HINT,
            ..
        })
    ));
}

#[tokio::test]
async fn unblocks_by_id_and_by_acct_change_the_server() {
    let f = fixture().await;
    let active = owner_blocks(&f, false);
    let (by_id, _) = &active[0];
    let settled = f.unblock(&Target::new(&ACCOUNT_ID, by_id.as_str())).await;
    assert_eq!(settled.outcome, Outcome::Unblocked);
    assert_eq!(settled.user.user_id.as_deref(), Some(by_id.as_str()));
    assert!(!f.emulator().blocked(OWNER).contains(by_id));

    // A few accts: no list, one lookup each (a local account in both spellings, once).
    let (local_id, local) = active
        .iter()
        .find(|(_, a)| a.ends_with("@mastodon.test"))
        .cloned()
        .expect("a local account");
    let bare = local.split('@').next().unwrap().to_owned();
    let targets = [acct(&local), acct(&bare)];
    assert!(!f.client.needs_list(Action::Unblock, &targets));
    assert_eq!(f.client.to_resolve(Action::Unblock, &targets).len(), 1);
    f.prepare(&targets).await;
    assert_eq!(f.sent_to(Endpoint::Lookup), 1);
    for target in &targets {
        let settled = f.unblock(target).await;
        assert_eq!(settled.outcome, Outcome::Unblocked);
        assert_eq!(settled.user.user_id.as_deref(), Some(local_id.as_str()));
        assert_eq!(settled.user.screen_name.as_deref(), Some(local.as_str()));
    }
    assert!(!f.emulator().blocked(OWNER).contains(&local_id));
    let sent = f.emulator().requests_to(Endpoint::Unblock);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].path, format!("/api/v1/accounts/{by_id}/unblock"));
}

#[tokio::test]
async fn the_list_tells_not_blocked_and_unknown_without_a_write() {
    let f = fixture().await;
    let seed = Seed::builtin();
    let mut targets: Vec<Target> = owner_blocks(&f, false)
        .iter()
        .map(|(_, a)| acct(a))
        .collect();
    let suspended = owner_blocks(&f, true);
    let (suspended_id, suspended_acct) = suspended[0].clone();
    targets.push(acct(&suspended_acct));
    // other_owner: known, not blocked by the owner.
    targets.push(acct("other_owner"));
    targets.push(acct("ghost@nowhere.example"));
    assert!(targets.len() >= LIST_PAYS_OFF);
    assert!(f.client.needs_list(Action::Unblock, &targets));
    f.prepare(&targets).await;
    let pages = f.emulator().requests_to(Endpoint::Blocks);
    let visible = f.emulator().blocked(OWNER).len() - suspended.len();
    assert_eq!(pages.len(), visible.div_ceil(PAGE_SIZE));
    assert_eq!(pages[0].params.get("limit").map(String::as_str), Some("80"));
    assert!(
        pages[1].params.contains_key("max_id"),
        "the Link was followed"
    );
    assert_eq!(
        f.sent_to(Endpoint::Lookup),
        3,
        "only the accts the list does not hold"
    );
    assert!(!f.client.needs_list(Action::Unblock, &targets), "read once");

    let gone = f
        .client
        .settled(Action::Unblock, &acct("ghost@nowhere.example"));
    assert_eq!(gone.map(|s| s.outcome), Some(Outcome::NotFound));
    let other = f.client.settled(Action::Unblock, &acct("other_owner"));
    let other = other.expect("known without a write");
    assert_eq!(other.outcome, Outcome::NotBlocked);
    assert_eq!(
        other.user.screen_name.as_deref(),
        Some("other_owner@mastodon.test")
    );
    // The suspended account is not in the list, but its block stands: it is unblocked.
    assert_eq!(
        f.client.settled(Action::Unblock, &acct(&suspended_acct)),
        None
    );
    let settled = f.unblock(&acct(&suspended_acct)).await;
    assert_eq!(settled.outcome, Outcome::Unblocked);
    assert!(!f.emulator().blocked(OWNER).contains(&suspended_id));
    // An ID the list does not hold is sent too: it may be a suspended account's.
    assert_eq!(f.client.settled(Action::Unblock, &id(1)), None);
    assert_eq!(f.unblock(&id(1)).await.outcome, Outcome::NotFound);
    assert_eq!(f.sent_to(Endpoint::Unblock), 2);
    let _ = seed;
}

#[tokio::test]
async fn the_domain_list_tells_which_domains_are_not_blocked() {
    let f = fixture_with("demo-bulk-unblock", true, |c| {
        c.replies.domain_blocks_page = 2;
    })
    .await;
    f.client.verify().await.verdict.expect("verify");
    let targets = [domain("spam.example"), domain("nothing.example")];
    assert!(f.client.needs_list(Action::Unblock, &targets));
    f.prepare(&targets).await;
    assert_eq!(f.sent_to(Endpoint::DomainBlocks), 3, "5 domains, 2 a page");
    assert_eq!(
        f.client
            .settled(Action::Unblock, &targets[1])
            .map(|s| s.outcome),
        Some(Outcome::NotBlocked)
    );
    let settled = f.unblock(&targets[0]).await;
    assert_eq!(settled.outcome, Outcome::Unblocked);
    assert!(
        !f.emulator()
            .domain_blocks(OWNER)
            .contains(&"spam.example".to_owned())
    );
    let sent = f.emulator().requests_to(Endpoint::DomainUnblock);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].params.get("domain").map(String::as_str),
        Some("spam.example")
    );
    // Undo puts it back.
    let reply = f.client.act(Action::Block, &[targets[0].clone()]).await;
    assert_eq!(reply.verdict.expect("blocked")[0].outcome, Outcome::Blocked);
    assert!(
        f.emulator()
            .domain_blocks(OWNER)
            .contains(&"spam.example".to_owned())
    );
}

#[tokio::test]
async fn blocks_come_back_by_id_for_undo() {
    let f = fixture().await;
    let (target, _) = owner_blocks(&f, false)[0].clone();
    let target = Target::new(&ACCOUNT_ID, target);
    assert_eq!(f.unblock(&target).await.outcome, Outcome::Unblocked);
    let reply = f
        .client
        .act(Action::Block, std::slice::from_ref(&target))
        .await;
    assert_eq!(
        reply.verdict.expect("an answer")[0].outcome,
        Outcome::Blocked
    );
    assert!(
        f.emulator()
            .blocked(OWNER)
            .contains(&target.text().to_owned())
    );
}

#[tokio::test]
async fn export_pages_name_every_account_in_full() {
    let f = fixture().await;
    let page = f.client.blocked_page(None).await.verdict.expect("a page");
    assert_eq!(page.ids.len(), PAGE_SIZE);
    assert_eq!(page.names.len(), PAGE_SIZE);
    assert!(
        page.names.values().all(|n| n.contains('@')),
        "{:?}",
        page.names
    );
    let next = page.next.expect("a next page");
    assert!(next.starts_with("/api/v1/blocks?"), "{next}");
    assert!(next.contains("max_id="), "{next}");
}

#[tokio::test]
async fn rate_headers_and_429s_reach_the_reply() {
    let f = fixture_with("demo-bulk-unblock", false, |c| {
        c.limits.enabled = true;
        c.limits.per_token = crate::emulator::mastodon::Throttle::new(2, 60);
    })
    .await;
    let first = f.client.verify().await;
    let window = first
        .rate
        .get(crate::network::Span::Short)
        .expect("a window");
    assert_eq!((window.limit, window.remaining), (Some(2), 1));
    let now = first.server_date.expect("a Date");
    let ahead = window.reset.duration_since(now).expect("ahead");
    assert!(ahead <= Duration::from_secs(61), "{ahead:?}");
    let _ = f.client.verify().await;
    let limited = f.client.verify().await;
    assert_eq!(limited.http_status, Some(429));
    assert_eq!(
        limited.verdict,
        Err(Verdict::RateLimited { retry_after: None })
    );
    assert_eq!(
        limited
            .rate
            .get(crate::network::Span::Short)
            .unwrap()
            .remaining,
        0
    );
}

#[tokio::test]
async fn faults_are_transient_and_lost_answers_no_answer() {
    let f = fixture_with("demo-bulk-unblock", false, |c| {
        c.faults.over_capacity_rate = 1.0;
    })
    .await;
    f.client
        .verify()
        .await
        .verdict
        .expect("verify is not faulted");
    let (target, _) = owner_blocks(&f, false)[0].clone();
    let reply = f
        .client
        .act(Action::Unblock, &[Target::new(&ACCOUNT_ID, target)])
        .await;
    assert_eq!(reply.http_status, Some(503));
    assert!(
        matches!(reply.verdict, Err(Verdict::Transient { .. })),
        "{reply:?}"
    );
}
