//! `run --api v2` end to end: the real binary against the emulator over loopback.
//!
//! v2 names users by ID only, so screen names are resolved before the run, 100 a lookup and paced
//! like every other read; and two 403s refuse the whole run rather than one target: a read-only
//! app's (`oauth1-permissions`) and an app below the access tier (`client-forbidden`). Each test
//! asserts on what the server received and holds, not only on what the tool printed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bulk_unblock::emulator::x::{
    AccessLevel, Endpoint, EndpointLimit, HeaderMode, LoggedRequest, Seed, SeedUser, UserState,
};
use common::{Harness, journal_records_tolerant, show, stderr, terminal_set};

/// The emulator's rate window in the paced lookup test.
const WINDOW: Duration = Duration::from_secs(2);

/// Screen names of the resolution tests, by what the server holds under each.
struct Names {
    /// Active, blocked users: name and ID.
    active: Vec<(String, u64)>,
    /// Suspended, blocked users.
    suspended: Vec<String>,
    /// Deactivated, blocked users.
    deactivated: Vec<String>,
    /// Names nobody holds.
    unknown: Vec<String>,
}

impl Names {
    /// Every name, in the order the input lists them.
    fn all(&self) -> Vec<String> {
        let active = self.active.iter().map(|(n, _)| n.clone());
        active
            .chain(self.suspended.iter().cloned())
            .chain(self.deactivated.iter().cloned())
            .chain(self.unknown.iter().cloned())
            .collect()
    }
}

/// Gives the harness account 240 active, 5 suspended and 3 deactivated blocked users, and adds
/// 2 names nobody holds: 250 screen names in all.
fn many_names(h: &Harness) -> Names {
    let user = |i: u64, state| SeedUser {
        id: 9_100_000_000 + i,
        screen_name: format!("vt_{i}"),
        name: "Resolved".into(),
        state,
    };
    let mut users: Vec<SeedUser> = (0..240).map(|i| user(i, UserState::Active)).collect();
    users.extend((240..245).map(|i| user(i, UserState::Suspended)));
    users.extend((245..248).map(|i| user(i, UserState::Deactivated)));
    h.emulator.add_users(users.clone());
    let mut blocked = h.blocked();
    blocked.extend(users.iter().map(|u| u.id));
    h.emulator.set_blocked(h.account.user_id, blocked);
    let named = |state| {
        users
            .iter()
            .filter(|u| u.state == state)
            .map(|u| u.screen_name.clone())
            .collect()
    };
    Names {
        active: users
            .iter()
            .filter(|u| u.state == UserState::Active)
            .map(|u| (u.screen_name.clone(), u.id))
            .collect(),
        suspended: named(UserState::Suspended),
        deactivated: named(UserState::Deactivated),
        unknown: vec!["vt_nobody_1".into(), "vt_nobody_2".into()],
    }
}

/// The names a `GET /2/users/by` asked for.
fn usernames(r: &LoggedRequest) -> Vec<String> {
    r.params
        .get("usernames")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// `run FILE --log journal.jsonl --api v2` at a fast pace, with `extra` flags.
fn run_v2(h: &Harness, file: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        file,
        "--log",
        "journal.jsonl",
        "--api",
        "v2",
        "--rate",
        "10000/s",
        "--list-rate",
        "100/s",
    ];
    args.extend_from_slice(extra);
    h.run(&args)
}

/// Checks that a run over [`Names`] recorded the right outcome for each, unblocked exactly the
/// active users (one DELETE each, by ID) and left the others blocked.
fn assert_outcomes(h: &Harness, names: &Names, before: &BTreeSet<u64>) {
    let (records, bad) = journal_records_tolerant(&h.path("journal.jsonl"));
    assert_eq!(bad, 0);
    let outcomes: BTreeMap<String, String> = records
        .iter()
        .map(|r| {
            let target = r["target"].as_str().unwrap_or_default().to_lowercase();
            (target, r["outcome"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    assert_eq!(records.len(), 250, "one record per name: {records:?}");
    for (name, id) in &names.active {
        assert_eq!(outcomes.get(name).map(String::as_str), Some("unblocked"));
        let record = records.iter().find(|r| {
            r["target"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(name))
        });
        assert_eq!(
            record.and_then(|r| r["user_id"].as_str()),
            Some(id.to_string().as_str()),
            "the journal names the ID acted on"
        );
    }
    // A name the lookup found gone is settled without a request, so without a pace slot.
    for r in records.iter().filter(|r| r["outcome"] != "unblocked") {
        assert_eq!(r["attempts"], 0, "no request for a gone name: {r}");
        assert!(r["http_status"].is_null(), "{r}");
    }
    for name in &names.suspended {
        assert_eq!(outcomes.get(name).map(String::as_str), Some("suspended"));
    }
    for name in names.deactivated.iter().chain(&names.unknown) {
        assert_eq!(outcomes.get(name).map(String::as_str), Some("not_found"));
    }
    let deletes: Vec<String> = h
        .requests_at(Endpoint::V2Unblock)
        .iter()
        .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    let active: BTreeSet<String> = names.active.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(deletes.len(), active.len(), "one DELETE per active user");
    assert_eq!(deletes.into_iter().collect::<BTreeSet<_>>(), active);
    assert!(
        h.requests_at(Endpoint::V2Users).is_empty(),
        "no target needed a lookup by ID"
    );
    let now: BTreeSet<u64> = h.blocked().into_iter().collect();
    let unblocked: BTreeSet<u64> = names.active.iter().map(|(_, id)| *id).collect();
    assert_eq!(now, before.difference(&unblocked).copied().collect());
}

/// 250 screen names take 3 lookups of at most 100 names, which together ask for every name once;
/// each target then costs only its DELETE, and the outcomes follow what the lookups said.
#[test]
fn a_v2_run_resolves_screen_names_100_a_lookup() {
    let h = Harness::new();
    let names = many_names(&h);
    let before: BTreeSet<u64> = h.blocked().into_iter().collect();
    // Names are case-insensitive: some are listed in capitals.
    let input: String = names
        .all()
        .iter()
        .enumerate()
        .map(|(i, n)| match i % 7 {
            0 => format!("@{}\n", n.to_uppercase()),
            _ => format!("@{n}\n"),
        })
        .collect();
    h.write("names.txt", input);
    let out = run_v2(&h, "names.txt", &["--concurrency", "8"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let lookups = h.requests_at(Endpoint::V2UsersBy);
    assert!(
        lookups.len() <= 3,
        "{} lookups for 250 names",
        lookups.len()
    );
    let mut asked = Vec::new();
    for r in &lookups {
        let batch = usernames(r);
        assert!(batch.len() <= 100, "a lookup of {} names", batch.len());
        asked.extend(batch.into_iter().map(|n| n.to_lowercase()));
    }
    let unique: BTreeSet<String> = asked.iter().cloned().collect();
    assert_eq!(asked.len(), unique.len(), "no name asked twice");
    assert_eq!(
        unique,
        names.all().into_iter().collect(),
        "every name asked"
    );
    assert_outcomes(&h, &names, &before);
}

/// The lookups are paced by their own window: with rate headers the tool waits for the reset
/// instead of running into 429s; without headers the 429s it gets are waited out and sent again,
/// and no target is recorded `failed` for them.
fn lookups_are_paced_by_their_window(headers: HeaderMode) {
    let h = Harness::with_config(|c| {
        c.limits.enabled = true;
        c.limits.window = WINDOW;
        c.limits.v2_users_by = EndpointLimit::new(1, headers);
        c.limits.v2_unblock.limit = 100_000;
    });
    let names = many_names(&h);
    let before: BTreeSet<u64> = h.blocked().into_iter().collect();
    let input: String = names.all().iter().map(|n| format!("{n}\n")).collect();
    h.write("names.txt", input);
    let out = run_v2(&h, "names.txt", &["--concurrency", "8"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let lookups = h.requests_at(Endpoint::V2UsersBy);
    let answered = lookups.iter().filter(|r| r.status == 200).count();
    let refused = lookups.iter().filter(|r| r.status == 429).count();
    assert_eq!(answered, 3, "three lookups answered: {}", show(&out));
    match headers {
        // The first answer says the window is spent: the next lookup waits for its reset.
        HeaderMode::Headers => assert!(refused <= 1, "{refused} lookups refused"),
        HeaderMode::None => assert!(refused >= 1, "the window was never exceeded"),
    }
    assert_outcomes(&h, &names, &before);
}

#[test]
fn lookups_wait_for_the_reset_their_headers_announce() {
    lookups_are_paced_by_their_window(HeaderMode::Headers);
}

#[test]
fn a_429_on_a_lookup_is_waited_out_and_fails_no_target() {
    lookups_are_paced_by_their_window(HeaderMode::None);
}

/// The first 20 active users demo_owner blocks, as an ID list.
fn blocked_ids(h: &Harness, n: usize) -> Vec<u64> {
    let seed = Seed::builtin();
    let blocked = h.blocked();
    seed.users
        .iter()
        .filter(|u| u.state == UserState::Active && blocked.contains(&u.id))
        .map(|u| u.id)
        .take(n)
        .collect()
}

fn id_list(ids: &[u64]) -> String {
    ids.iter().map(|id| format!("{id}\n")).collect()
}

/// A read-only app's DELETE gets the `oauth1-permissions` 403: the run stops with exit 3 and
/// the fix, instead of recording every target `failed`.
#[test]
fn a_read_only_token_on_v2_exits_3_and_unblocks_nobody() {
    let mut seed = Seed::builtin();
    seed.accounts[0].access_level = AccessLevel::Read;
    let h = Harness::with_seed(seed, |c| c.limits.enabled = false);
    let before = h.blocked();
    h.write("list.txt", id_list(&blocked_ids(&h, 20)));
    let out = run_v2(&h, "list.txt", &["--concurrency", "2"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let err = stderr(&out);
    assert!(err.contains("Read and write"), "{}", show(&out));
    assert!(err.contains("oauth1 app permissions"), "{}", show(&out));
    let deletes = h.requests_at(Endpoint::V2Unblock);
    assert!(
        !deletes.is_empty() && deletes.iter().all(|r| r.status == 403),
        "every DELETE was refused: {deletes:?}"
    );
    assert!(
        deletes.len() <= 2,
        "scheduling stops at the first refusal: {} sent",
        deletes.len()
    );
    assert_eq!(
        h.requests_at(Endpoint::V2Users).len(),
        1,
        "the IDs are looked up once before the run, and a refusal of the app is not asked \
         about per target"
    );
    assert_eq!(h.blocked(), before);
    let (records, _) = journal_records_tolerant(&h.path("journal.jsonl"));
    assert!(terminal_set(&records).is_empty(), "{records:?}");
    assert!(
        records.iter().all(|r| r["outcome"] != "failed"),
        "no target is blamed: {records:?}"
    );
}

/// An app below the access tier gets `client-forbidden` on the first DELETE: exit 3 with a plain
/// explanation, one DELETE in all, no retry and no target recorded.
#[test]
fn the_access_tier_403_on_v2_exits_3_after_one_delete() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.replies.v2_blocks_forbidden = true;
    });
    let before = h.blocked();
    h.write("list.txt", id_list(&blocked_ids(&h, 10)));
    let out = run_v2(&h, "list.txt", &["--concurrency", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.contains("needs Enterprise access on X's current plans"),
        "{}",
        show(&out)
    );
    assert!(err.contains("Client Forbidden"), "{}", show(&out));
    let deletes = h.requests_at(Endpoint::V2Unblock);
    assert_eq!(deletes.len(), 1, "one DELETE, no retry: {deletes:?}");
    assert_eq!(deletes[0].status, 403);
    assert_eq!(
        h.requests_at(Endpoint::V2Users).len(),
        1,
        "one lookup before the run"
    );
    assert_eq!(h.blocked(), before);
    let (records, _) = journal_records_tolerant(&h.path("journal.jsonl"));
    assert!(records.is_empty(), "nothing recorded: {records:?}");
}
