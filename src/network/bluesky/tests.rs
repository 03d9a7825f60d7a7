//! The client against the Bluesky emulator in process: each test calls the client's methods
//! one by one, as the run would, and asserts on the verdicts and on what the emulator
//! received and holds. The binary's behaviour end to end is in `tests/bluesky.rs`.
//!
//! Tokens are made to expire by moving the emulator's clock forward, not by sleeping.

use std::time::Duration;

use super::identity::testing::{did, handle, list};
use super::*;
use crate::emulator::bluesky::{
    self as emulator, BLOCK, Config, Emulator, Endpoint, Host as EmulatorHost, LISTBLOCK, Running,
    Seed,
};

/// DIDs no seed user has: the emulator makes up an active user for each blocked one.
fn made_up(n: usize) -> String {
    const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut tail = String::new();
    let mut v = n;
    for _ in 0..8 {
        tail.insert(0, char::from(BASE32[v % 32]));
        v /= 32;
    }
    format!("did:plc:testtesttesttest{tail}")
}

struct Fixture {
    running: Running,
    client: BlueskyClient,
    owner: String,
}

/// The builtin seed's first account, the emulator configured by `configure` (no login
/// delay), and a client logged in as that account.
async fn fixture(configure: impl FnOnce(&mut Config)) -> Fixture {
    let seed = Seed::builtin();
    let account = seed.accounts[0].clone();
    let mut config = Config::default();
    config.sessions.login_delay = Duration::ZERO;
    configure(&mut config);
    let running = emulator::spawn(Emulator::new(seed, config).expect("valid seed"))
        .await
        .expect("binds loopback");
    let settings = BlueskySettings {
        api_base: running.base_url(),
        login: Login {
            identifier: Secret::new(account.did.clone()),
            password: Secret::new(account.app_passwords[0].password.clone()),
        },
        scope: Scope::default(),
        timeout: Duration::from_secs(10),
    };
    let client = BlueskyClient::new(settings, Arc::new(ServerClock::new())).expect("valid base");
    let f = Fixture {
        running,
        client,
        owner: account.did,
    };
    f.client
        .verify()
        .await
        .verdict
        .expect("the seed's app password logs in");
    f
}

impl Fixture {
    fn emulator(&self) -> &Emulator {
        &self.running.emulator
    }

    fn sent(&self, endpoint: Endpoint) -> usize {
        self.emulator()
            .requests()
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .count()
    }

    fn blocks(&self) -> Vec<String> {
        self.emulator().blocks_of(&self.owner)
    }

    /// What the run does before acting: the records, then the lookups (stepping through a
    /// fallback to one handle a request).
    async fn prepare(&self, action: Action, targets: &[Target]) {
        if self.client.needs_list(action, targets) {
            let mut cursor: Option<String> = None;
            loop {
                let page = self.client.blocked_page(cursor.as_deref()).await;
                match page.verdict.expect("a page").next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        let unknown = self.client.to_resolve(action, targets);
        let mut rest = unknown.as_slice();
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(self.client.lookup_batch().min(rest.len()));
            rest = after;
            loop {
                match self.client.lookup(chunk).await.verdict {
                    Ok(_) => break,
                    Err(Verdict::Progress { .. }) => continue,
                    Err(other) => panic!("lookup: {other:?}"),
                }
            }
        }
    }

    /// Moves the emulator's clock `hours` further on: access tokens expire.
    fn later(&self, hours: i64) {
        self.emulator()
            .update_config(|c| c.clock_offset_secs += hours * 3600);
    }
}

#[tokio::test]
async fn the_session_names_the_pds_and_the_repo_is_read_there() {
    let f = fixture(|_| {}).await;
    let pds = f.client.pds().expect("a session");
    assert!(pds.starts_with("http://localhost:"), "{pds}");
    assert_ne!(pds.trim_end_matches('/'), f.client.base());
    f.prepare(Action::Unblock, &[did(&made_up(1))]).await;
    let at_pds = f.emulator().requests_at(EmulatorHost::Pds);
    assert!(at_pds.iter().all(|r| r.endpoint == Endpoint::ListRecords));
    assert_eq!(
        at_pds.len(),
        4,
        "three pages of the seed's 240 blocks, then the empty one"
    );
    let at_entryway = f.emulator().requests_at(EmulatorHost::Entryway);
    assert_eq!(
        at_entryway.iter().map(|r| r.endpoint).collect::<Vec<_>>(),
        [Endpoint::CreateSession]
    );
}

#[tokio::test]
async fn every_record_of_a_subject_is_deleted_in_one_batch() {
    let f = fixture(|_| {}).await;
    let (a, b, c, free) = (made_up(1), made_up(2), made_up(3), made_up(4));
    f.emulator().set_blocks(
        &f.owner,
        [a.clone(), b.clone(), a.clone(), c.clone(), a.clone()],
    );
    let targets = [did(&a), did(&b), did(&free)];
    f.prepare(Action::Unblock, &targets).await;
    assert_eq!(f.client.cost(Action::Unblock, &did(&a)), 3);
    let settled = f
        .client
        .settled(Action::Unblock, &did(&free))
        .expect("no record");
    assert_eq!(settled.outcome, Outcome::NotBlocked);
    let reply = f.client.act(Action::Unblock, &targets[..2]).await;
    let answers = reply.verdict.expect("unblocked");
    assert!(answers.iter().all(|s| s.outcome == Outcome::Unblocked));
    assert_eq!(answers[0].user.user_id.as_deref(), Some(a.as_str()));
    assert_eq!(f.blocks(), [c], "the other subject's record is left");
    assert_eq!(f.sent(Endpoint::ApplyWrites), 1);
    assert!(
        reply.rate.get(crate::network::Span::Short).is_some(),
        "the write's headers are read"
    );
    // A second action on the same subject needs no request.
    let again = f.client.act(Action::Unblock, &targets[..1]).await;
    assert_eq!(again.verdict.expect("known")[0].outcome, Outcome::Unblocked);
    assert_eq!(f.sent(Endpoint::ApplyWrites), 1);
    assert_eq!(f.sent(Endpoint::DeleteRecord), 0);
}

#[tokio::test]
async fn a_stale_record_splits_a_batch_and_a_lone_subject_is_deleted_record_by_record() {
    let f = fixture(|_| {}).await;
    let (a, b) = (made_up(1), made_up(2));
    f.emulator()
        .set_blocks(&f.owner, [a.clone(), b.clone(), a.clone(), a.clone()]);
    let targets = [did(&a), did(&b)];
    f.prepare(Action::Unblock, &targets).await;
    // Two records deleted elsewhere since they were listed: one of a's, and b's.
    let records = f.emulator().records(&f.owner, BLOCK);
    let gone = f.emulator().delete_records_behind(&f.owner, BLOCK, 2);
    assert_eq!(gone.len(), 2);
    let batch = f.client.act(Action::Unblock, &targets).await;
    assert!(
        matches!(batch.verdict, Err(Verdict::Split { .. })),
        "{batch:?}"
    );
    assert_eq!(
        f.blocks().len(),
        records.len() - 2,
        "an atomic batch changes nothing"
    );
    // Alone, a's batch fails too; its records then go one request each, idempotently.
    let mut steps = Vec::new();
    loop {
        let reply = f.client.act(Action::Unblock, &targets[..1]).await;
        match reply.verdict {
            Err(Verdict::Progress { next_cost }) => steps.push(next_cost),
            Ok(answers) => {
                assert_eq!(answers[0].outcome, Outcome::Unblocked);
                break;
            }
            other => panic!("{other:?}"),
        }
        assert!(steps.len() < 10);
    }
    assert_eq!(
        steps,
        [1, 1, 1],
        "the failed batch, then two of three records"
    );
    let b_reply = f.client.act(Action::Unblock, &targets[1..]).await;
    assert_eq!(
        b_reply.verdict.expect("idempotent")[0].outcome,
        Outcome::Unblocked
    );
    assert!(f.blocks().is_empty());
    assert_eq!(f.sent(Endpoint::ApplyWrites), 2);
    assert_eq!(f.sent(Endpoint::DeleteRecord), 4);
}

#[tokio::test]
async fn a_subject_with_more_records_than_a_batch_takes_goes_in_several() {
    let f = fixture(|_| {}).await;
    let a = made_up(1);
    f.emulator().set_blocks(&f.owner, vec![a.clone(); 250]);
    let target = [did(&a)];
    f.prepare(Action::Unblock, &target).await;
    assert_eq!(f.client.cost(Action::Unblock, &target[0]), 250);
    let first = f.client.act(Action::Unblock, &target).await;
    assert_eq!(first.verdict, Err(Verdict::Progress { next_cost: 50 }));
    assert_eq!(f.blocks().len(), 50);
    let second = f.client.act(Action::Unblock, &target).await;
    assert_eq!(second.verdict.expect("done")[0].outcome, Outcome::Unblocked);
    assert!(f.blocks().is_empty());
    assert_eq!(f.sent(Endpoint::ApplyWrites), 2);
}

#[tokio::test]
async fn requests_refused_together_for_an_expired_token_refresh_once() {
    let f = fixture(|_| {}).await;
    let names: Vec<Target> = ["maya-books.bsky.test", "theo-tech.bsky.test"]
        .iter()
        .map(|h| handle(h))
        .collect();
    f.later(3);
    let refused = futures::future::join_all((0..4).map(|_| f.client.lookup(&names))).await;
    for reply in &refused {
        assert!(
            matches!(reply.verdict, Err(Verdict::Resend { .. })),
            "{reply:?}"
        );
    }
    assert_eq!(
        f.sent(Endpoint::RefreshSession),
        1,
        "one refresh for four requests"
    );
    assert_eq!(f.sent(Endpoint::CreateSession), 1, "no new login");
    let found = f
        .client
        .lookup(&names)
        .await
        .verdict
        .expect("the new token works");
    assert_eq!(found.len(), 2);
}

#[tokio::test]
async fn a_refused_refresh_logs_in_again_once_and_a_refused_login_stops_for_good() {
    let f = fixture(|c| c.sessions.refresh_ttl = Duration::from_secs(3600)).await;
    let names = [handle("maya-books.bsky.test")];
    f.later(3);
    let renewed = f.client.lookup(&names).await;
    assert!(
        matches!(renewed.verdict, Err(Verdict::Resend { .. })),
        "{renewed:?}"
    );
    assert_eq!(f.sent(Endpoint::CreateSession), 2, "logged in again once");
    f.client
        .lookup(&names)
        .await
        .verdict
        .expect("the new session works");

    assert_eq!(f.emulator().revoke_app_password(&f.owner, None), 1);
    f.later(3);
    for _ in 0..3 {
        let reply = f.client.lookup(&names).await;
        match reply.verdict {
            Err(Verdict::Rejected { hint, .. }) => assert_eq!(hint, response::AUTH_HINT),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        f.sent(Endpoint::CreateSession),
        3,
        "one refused login, never tried again"
    );
}

#[tokio::test]
async fn a_wrong_password_is_rejected_with_the_credentials_hint() {
    let f = fixture(|_| {}).await;
    let settings = BlueskySettings {
        api_base: f.running.base_url(),
        login: Login {
            identifier: Secret::new("demo.bsky.test"),
            password: Secret::new("aaaa-bbbb-cccc-dddd"),
        },
        scope: Scope::default(),
        timeout: Duration::from_secs(10),
    };
    let client = BlueskyClient::new(settings, Arc::new(ServerClock::new())).expect("valid");
    let reply = client.verify().await;
    assert_eq!(reply.http_status, Some(401));
    assert!(
        matches!(
            reply.verdict,
            Err(Verdict::Rejected {
                hint: response::AUTH_HINT,
                ..
            })
        ),
        "{reply:?}"
    );
}

#[tokio::test]
async fn without_an_appview_handles_are_resolved_one_by_one() {
    for state in [emulator::AppViewState::Absent, emulator::AppViewState::Down] {
        let f = fixture(|c| c.appview.state = state).await;
        let targets = [
            handle("maya-books.bsky.test"),
            handle("nobody-here.bsky.test"),
            handle("theo-tech.bsky.test"),
        ];
        assert_eq!(f.client.lookup_batch(), 25);
        f.prepare(Action::Unblock, &targets).await;
        assert_eq!(f.client.lookup_batch(), 1, "{state:?}");
        assert_eq!(f.sent(Endpoint::GetProfiles), 1);
        assert_eq!(f.sent(Endpoint::ResolveHandle), 3);
        let gone = f
            .client
            .settled(Action::Unblock, &targets[1])
            .expect("gone");
        assert_eq!(gone.outcome, Outcome::NotFound);
        assert!(
            f.client.settled(Action::Unblock, &targets[0]).is_none(),
            "blocked"
        );
    }
}

#[tokio::test]
async fn a_list_named_by_its_owners_handle_is_left() {
    let f = fixture(|_| {}).await;
    let target = list("modlists.bsky.test", "3k7duyn5e222g");
    let before = f.emulator().records(&f.owner, LISTBLOCK).len();
    f.prepare(Action::Unblock, std::slice::from_ref(&target))
        .await;
    let reply = f
        .client
        .act(Action::Unblock, std::slice::from_ref(&target))
        .await;
    assert_eq!(reply.verdict.expect("left")[0].outcome, Outcome::Unblocked);
    let left = f.emulator().records(&f.owner, LISTBLOCK);
    assert_eq!(left.len(), before - 1);
    assert!(left.iter().all(|r| {
        !r.value["subject"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/3k7duyn5e222g")
    }));
    assert_eq!(f.sent(Endpoint::DeleteRecord), 1);
}

#[tokio::test]
async fn undo_creates_what_is_missing_in_one_batch() {
    let f = fixture(|_| {}).await;
    let (a, b, c, d) = (made_up(1), made_up(2), made_up(3), made_up(4));
    f.emulator().set_blocks(&f.owner, [a.clone()]);
    let targets = [did(&a), did(&b), did(&c)];
    f.prepare(Action::Block, &targets).await;
    assert_eq!(
        f.client
            .settled(Action::Block, &targets[0])
            .map(|s| s.outcome),
        Some(Outcome::Blocked),
        "blocked already: not blocked twice"
    );
    let reply = f.client.act(Action::Block, &targets[1..]).await;
    assert!(
        reply
            .verdict
            .expect("created")
            .iter()
            .all(|s| s.outcome == Outcome::Blocked)
    );
    assert_eq!(f.sent(Endpoint::ApplyWrites), 1);
    let one = f.client.act(Action::Block, &[did(&d)]).await;
    assert_eq!(one.verdict.expect("created")[0].outcome, Outcome::Blocked);
    assert_eq!(f.sent(Endpoint::CreateRecord), 1);
    let mut blocks = f.blocks();
    blocks.sort();
    let mut expected = vec![a, b, c, d];
    expected.sort();
    assert_eq!(blocks, expected);
}

#[test]
fn cursors_name_their_collection() {
    assert_eq!(read_cursor(None), Ok((Collection::Block, None)));
    assert_eq!(
        read_cursor(Some("b:3kabc")),
        Ok((Collection::Block, Some("3kabc")))
    );
    assert_eq!(read_cursor(Some("l:")), Ok((Collection::ListBlock, None)));
    assert_eq!(
        read_cursor(Some(&write_cursor(Collection::ListBlock, "3kx"))),
        Ok((Collection::ListBlock, Some("3kx")))
    );
    assert!(read_cursor(Some("3kabc")).is_err());
    assert!(read_cursor(Some("b:")).is_err());
}

#[test]
fn a_page_ends_on_an_empty_one() {
    let page = parse_records(
        br#"{"records":[{"uri":"at://did:plc:o/app.bsky.graph.block/3k1","cid":"x","value":{"subject":"did:plc:a"}},
            {"uri":"at://did:plc:o/app.bsky.graph.block/3k2","value":{"nosubject":1}}],"cursor":"3k2"}"#,
    )
    .unwrap();
    assert_eq!(
        page.records,
        [("did:plc:a".to_owned(), "3k1".to_owned())],
        "a record without a subject is skipped"
    );
    assert_eq!(page.cursor.as_deref(), Some("3k2"));
    let last = parse_records(br#"{"records":[],"cursor":"3k2"}"#).unwrap();
    assert_eq!(last, RecordPage::default(), "no cursor on an empty page");
}
