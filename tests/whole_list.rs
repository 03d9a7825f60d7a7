//! The whole-list features end to end: `export`, `run --all`, `run --dry-run --check`, `report`
//! and `undo`, the real binary against the emulator over loopback.
//!
//! The end-to-end scenarios take the `--api` value as a parameter, so the same body checks v1.1
//! and v2; what differs between the two APIs (which endpoint lists blocks, how a page names its
//! cursor) is in [`ApiCase`].

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bulk_unblock::emulator::x::Endpoint;
use bulk_unblock::emulator::x::config::Config;
use bulk_unblock::emulator::x::{
    EndpointLimit, HeaderMode, LoggedRequest, Seed, SeedUser, UserState,
};
use common::{
    Harness, builtin_account, complete_lines, count_after, journal_header, journal_len,
    journal_records, outcomes_by_target, sample, send_signal, show, stderr, stdout, wait_until,
};

/// How long a test waits for a background command to reach a state before failing.
const PATIENCE: Duration = Duration::from_secs(30);

/// The size of the big block list.
const BIG: usize = 12_000;

/// The emulator's rate window in the paced export tests.
const WINDOW: Duration = Duration::from_secs(2);

/// Block-list pages per window in the paced export tests.
const PAGES_PER_WINDOW: u32 = 3;

/// IDs per block-list page in the paged tests.
const PAGE: usize = 1000;

/// What differs between the two APIs, as far as these tests look.
struct ApiCase {
    /// The `--api` value.
    flag: &'static str,
    /// The endpoint that lists blocks.
    list: Endpoint,
    /// The parameter carrying a page's cursor (absent on the first page of v2).
    cursor: &'static str,
    /// How `export --with-names` names the IDs: a lookup endpoint and the parameter holding its
    /// comma-separated IDs, or `None` when the block-list pages carry the names already.
    names_by: Option<(Endpoint, &'static str)>,
    /// Every endpoint that looks users up, by ID or by name.
    lookups: &'static [Endpoint],
    /// The endpoint that unblocks.
    unblock: Endpoint,
    /// The endpoint that blocks.
    block: Endpoint,
}

fn api(flag: &str) -> ApiCase {
    match flag {
        "v1.1" => ApiCase {
            flag: "v1.1",
            list: Endpoint::BlocksIds,
            cursor: "cursor",
            names_by: Some((Endpoint::UsersLookup, "user_id")),
            lookups: &[Endpoint::UsersLookup],
            unblock: Endpoint::BlocksDestroy,
            block: Endpoint::BlocksCreate,
        },
        "v2" => ApiCase {
            flag: "v2",
            list: Endpoint::V2Blocking,
            cursor: "pagination_token",
            names_by: None,
            lookups: &[Endpoint::V2Users, Endpoint::V2UsersBy],
            unblock: Endpoint::V2Unblock,
            block: Endpoint::V2Block,
        },
        other => panic!("no API case for {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// export
// ---------------------------------------------------------------------------------------------

/// 12,000 blocks, 3 pages of 1,000 per 2-second window: the export takes at least four windows,
/// paced by the server's headers, and the CSV lists every ID once with its screen name; the
/// names come from lookups of at most 100 IDs each (v1.1) or from the pages themselves (v2).
fn export_spans_windows_and_lists_every_id_once(flag: &str) {
    let api = api(flag);
    let h = Harness::with_config(paced_list);
    let names = big_account(&h, BIG, 1);
    let out = h.path("blocks.csv");
    let started = Instant::now();
    let output = export(&h, &api, &out, &["--with-names"])
        .output()
        .expect("binary runs");
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    eprintln!("exported {BIG} blocks with names in {took:?}");

    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["user_id", "screen_name"]);
    assert_eq!(rows.len(), BIG, "one row per blocked account, no repeats");
    let exported: HashMap<u64, String> = rows
        .iter()
        .map(|r| (r[0].parse().expect("an ID"), r[1].clone()))
        .collect();
    assert_eq!(exported.len(), BIG, "no ID listed twice");
    let expected: HashMap<u64, String> = names.into_iter().collect();
    assert_eq!(
        exported, expected,
        "exactly the blocked IDs, each with its name"
    );
    assert!(!partial_of(&out).exists(), "the partial file is removed");

    // Twelve pages, each fetched once, spread over at least four windows.
    let served = pages_served(&h, &api);
    assert_eq!(served.len(), BIG / PAGE, "{served:?}");
    assert!(served.values().all(|&n| n == 1), "{served:?}");
    let pages: Vec<LoggedRequest> = list_requests(&h, &api)
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    let windows = count_windows(&pages);
    assert!(windows >= 4, "{windows} windows");
    let refused = list_requests(&h, &api)
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert!(
        refused <= 1,
        "the server's rate headers pace the export: {refused} pages refused"
    );

    assert_names_came_from(&h, &api, exported.keys().copied().collect());
}

/// `export --with-names` named `ids` as the API allows: on v1.1 through lookups of at most 100
/// IDs that together ask for each ID once; on v2 from the block-list pages, without a lookup.
fn assert_names_came_from(h: &Harness, api: &ApiCase, ids: BTreeSet<u64>) {
    let lookups: Vec<LoggedRequest> = h
        .emulator
        .requests()
        .into_iter()
        .filter(|r| api.lookups.contains(&r.endpoint))
        .collect();
    let Some((endpoint, param)) = api.names_by else {
        assert!(
            lookups.is_empty(),
            "the pages named everyone, yet {} lookups were sent, the first to {}",
            lookups.len(),
            lookups.first().map_or("", |r| r.path.as_str())
        );
        return;
    };
    assert!(lookups.iter().all(|r| r.endpoint == endpoint));
    let mut asked = Vec::new();
    for r in &lookups {
        let terms: Vec<u64> = r
            .params
            .get(param)
            .map(|v| v.split(',').map(|t| t.parse().expect("an ID")).collect())
            .unwrap_or_default();
        assert!(
            !terms.is_empty() && terms.len() <= 100,
            "a lookup of {} IDs",
            terms.len()
        );
        asked.extend(terms);
    }
    assert_eq!(asked.len(), ids.len(), "each ID asked once");
    assert_eq!(
        asked.into_iter().collect::<BTreeSet<_>>(),
        ids,
        "every ID looked up"
    );
    assert_eq!(
        lookups.len(),
        ids.len().div_ceil(100),
        "full batches of 100"
    );
}

#[test]
fn export_spans_windows_and_lists_every_id_once_v1() {
    export_spans_windows_and_lists_every_id_once("v1.1");
}

#[test]
fn export_spans_windows_and_lists_every_id_once_v2() {
    export_spans_windows_and_lists_every_id_once("v2");
}

/// An export killed (SIGKILL) and then interrupted (SIGINT, exit 130) leaves only `FILE.partial`;
/// each rerun goes on from the last page fetched, and the final CSV is exact. The last run asks
/// for names too: those the earlier runs' pages gave (v2) are kept in the partial file.
fn an_interrupted_export_resumes_without_fetching_pages_again(flag: &str) {
    let api = api(flag);
    let h = Harness::with_config(paced_list);
    let names = big_account(&h, BIG, 2);
    let out = h.path("blocks.csv");
    let partial = partial_of(&out);

    // First run: killed once three pages are in the partial file (it then waits for the window).
    let mut child = h.spawn_command("first", export(&h, &api, &out, &[]));
    assert!(
        wait_until(PATIENCE, || complete_lines(&partial) >= 3),
        "three pages fetched"
    );
    child.kill().expect("SIGKILL sent");
    let _ = child.wait();
    assert!(!out.exists(), "no final file after a kill");
    let fetched_before_kill = pages_in_partial(&partial, &api);
    assert!(fetched_before_kill.len() >= 3);

    // Second run: Ctrl-C after three more pages. It exits 130 and keeps what it fetched.
    let child = h.spawn_command("second", export(&h, &api, &out, &[]));
    let before = fetched_before_kill.len();
    assert!(
        wait_until(PATIENCE, || complete_lines(&partial) >= before + 3),
        "three more pages fetched"
    );
    send_signal(&child, "-INT");
    let second = h.background_output("second", child);
    assert_eq!(second.status.code(), Some(130), "{}", show(&second));
    assert!(
        stderr(&second).contains("Resuming an interrupted export"),
        "{}",
        show(&second)
    );
    assert!(!out.exists(), "no final file after an interruption");
    let fetched_before_int = pages_in_partial(&partial, &api);
    assert!(fetched_before_int.len() >= before + 3);

    // Third run: completes.
    let third = export(&h, &api, &out, &["--with-names"])
        .output()
        .expect("binary runs");
    assert_eq!(third.status.code(), Some(0), "{}", show(&third));
    assert!(
        !partial.exists(),
        "the partial file is removed once the CSV is in place"
    );
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["user_id", "screen_name"]);
    let exported: Vec<u64> = rows.iter().map(|r| r[0].parse().expect("an ID")).collect();
    let unique: BTreeSet<u64> = exported.iter().copied().collect();
    assert_eq!(exported.len(), unique.len(), "no ID listed twice");
    let expected: BTreeSet<u64> = names.iter().map(|(id, _)| *id).collect();
    assert_eq!(unique, expected, "exactly the blocked IDs");
    let named: HashMap<u64, String> = rows
        .iter()
        .map(|r| (r[0].parse().expect("an ID"), r[1].clone()))
        .collect();
    assert_eq!(named, names.iter().cloned().collect(), "each with its name");
    assert_names_came_from(&h, &api, expected);

    // No page saved before an interruption was requested again.
    let served = pages_served(&h, &api);
    assert_eq!(served.len(), BIG / PAGE, "{served:?}");
    for cursor in fetched_before_kill.iter().chain(&fetched_before_int) {
        assert_eq!(
            served.get(cursor),
            Some(&1),
            "page {cursor} was saved before an interruption and must be fetched once: {served:?}"
        );
    }
}

#[test]
fn an_interrupted_export_resumes_without_fetching_pages_again_v1() {
    an_interrupted_export_resumes_without_fetching_pages_again("v1.1");
}

#[test]
fn an_interrupted_export_resumes_without_fetching_pages_again_v2() {
    an_interrupted_export_resumes_without_fetching_pages_again("v2");
}

#[test]
fn export_with_rejected_credentials_exits_3_and_writes_nothing() {
    let h = Harness::new();
    let out = h.path("blocks.csv");
    let mut cmd = export(&h, &api("v1.1"), &out, &[]);
    cmd.env("TWITTER_ACCESS_TOKEN_SECRET", "not-the-secret");
    let output = cmd.output().expect("binary runs");
    assert_eq!(output.status.code(), Some(3), "{}", show(&output));
    assert!(!out.exists() && !partial_of(&out).exists());
    assert!(
        h.requests_to("/1.1/blocks/ids.json").is_empty(),
        "no page requested with rejected credentials"
    );
}

// ---------------------------------------------------------------------------------------------
// run --all
// ---------------------------------------------------------------------------------------------

/// `run --all` unblocks all 12,000 and keeps a backup of the list; a rerun reuses the backup
/// and sends nothing.
fn run_all_unblocks_everyone_and_a_rerun_sends_nothing(flag: &str) {
    let api = api(flag);
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.replies.ids_page_size = PAGE;
    });
    let names = big_account(&h, BIG, 3);
    let log = h.path("all.jsonl");
    let started = Instant::now();
    let out = h.run(&[
        "--all",
        "--log",
        path_str(&log),
        "--rate",
        "50000/s",
        "--list-rate",
        "1000/s",
        "--concurrency",
        "64",
        "--api",
        api.flag,
    ]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    eprintln!("run --all over {BIG} blocks took {took:?}");
    assert!(h.blocked().is_empty(), "no block left");

    // The backup lists every account, with its name.
    let backup = h.path("all.jsonl.backup.csv");
    let (header, rows) = read_csv(&backup);
    assert_eq!(header, ["user_id", "screen_name"]);
    let listed: HashMap<u64, String> = rows
        .iter()
        .map(|r| (r[0].parse().expect("an ID"), r[1].clone()))
        .collect();
    assert_eq!(rows.len(), BIG);
    assert_eq!(listed, names.iter().cloned().collect::<HashMap<_, _>>());
    assert_names_came_from(&h, &api, listed.keys().copied().collect());

    // One unblocked record and one request per account.
    let records = journal_records(&log);
    assert_eq!(records.len(), BIG);
    assert!(records.iter().all(|r| r["outcome"] == "unblocked"));
    assert_eq!(h.requests_at(api.unblock).len(), BIG);

    // The rerun reads the backup and the journal: nothing is fetched or sent.
    let requests_before = h.emulator.requests().len();
    let again = h.run(&[
        "--all",
        "--log",
        path_str(&log),
        "--rate",
        "50000/s",
        "--api",
        api.flag,
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert!(stdout(&again).contains("Nothing to do"), "{}", show(&again));
    let new: Vec<LoggedRequest> = h.emulator.requests()[requests_before..].to_vec();
    assert!(
        new.iter()
            .all(|r| r.endpoint != api.list && r.endpoint != api.unblock),
        "the rerun fetched or sent again: {:?}",
        new.iter().map(|r| r.endpoint).collect::<Vec<_>>()
    );
}

#[test]
fn run_all_unblocks_everyone_and_a_rerun_sends_nothing_v1() {
    run_all_unblocks_everyone_and_a_rerun_sends_nothing("v1.1");
}

#[test]
fn run_all_unblocks_everyone_and_a_rerun_sends_nothing_v2() {
    run_all_unblocks_everyone_and_a_rerun_sends_nothing("v2");
}

#[test]
fn run_all_keeps_the_backup_where_backup_says() {
    let h = Harness::new();
    let listed: BTreeSet<u64> = demo_blocked()
        .into_iter()
        .filter(|u| u.state == UserState::Active)
        .map(|u| u.id)
        .collect();
    let log = h.path("all.jsonl");
    let backup = h.path("kept/list.csv");
    std::fs::create_dir_all(h.path("kept")).expect("dir");
    let out = h.run(&[
        "--all",
        "--log",
        path_str(&log),
        "--backup",
        path_str(&backup),
        "--rate",
        "1000/s",
        "--list-rate",
        "100/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(!h.path("all.jsonl.backup.csv").exists());
    let (_, rows) = read_csv(&backup);
    let backed_up: BTreeSet<u64> = rows.iter().map(|r| r[0].parse().expect("ID")).collect();
    assert_eq!(backed_up, listed, "the backup lists what the server listed");
    let left: BTreeSet<u64> = h.blocked().into_iter().collect();
    assert!(
        left.is_disjoint(&listed),
        "every listed account was unblocked"
    );
}

// ---------------------------------------------------------------------------------------------
// report
// ---------------------------------------------------------------------------------------------

#[test]
fn report_counts_match_the_journal_and_the_retry_list_retries_exactly_the_failed() {
    // One attempt per account and a server failing a third of requests: some accounts fail.
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.seed = 11;
        c.faults.over_capacity_rate = 0.3;
    });
    let log = h.path("mixed.jsonl");
    let input = sample("block.js");
    for _ in 0..2 {
        // Two runs: retried targets have several records, and the report counts the latest.
        let out = h.run(&[
            path_str(&input),
            "--log",
            path_str(&log),
            "--rate",
            "1000/s",
            "--max-attempts",
            "1",
        ]);
        assert_eq!(out.status.code(), Some(1), "some fail: {}", show(&out));
    }

    let records = journal_records(&log);
    let mut latest: BTreeMap<String, String> = BTreeMap::new();
    for (target, outcomes) in outcomes_by_target(&records) {
        latest.insert(target, outcomes.last().cloned().unwrap_or_default());
    }
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for outcome in latest.values() {
        *expected.entry(outcome.clone()).or_default() += 1;
    }
    assert!(
        expected.get("failed").copied().unwrap_or(0) > 0,
        "{expected:?}"
    );
    assert!(
        expected.get("unblocked").copied().unwrap_or(0) > 0,
        "{expected:?}"
    );
    assert!(
        expected.get("not_found").copied().unwrap_or(0) > 0,
        "{expected:?}"
    );
    assert!(records.len() > latest.len(), "some targets were retried");

    let retry = h.path("retry.txt");
    let report = h
        .command()
        .args([
            "report",
            path_str(&log),
            "--json",
            "--retry-list",
            path_str(&retry),
        ])
        .output()
        .expect("binary runs");
    assert_eq!(report.status.code(), Some(0), "{}", show(&report));
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).expect("JSON report");
    let reported: BTreeMap<String, u64> =
        serde_json::from_value(json["outcomes"].clone()).expect("counts per outcome");
    assert_eq!(reported, expected);
    assert_eq!(json["records"], records.len());
    assert_eq!(json["targets"], latest.len());
    assert_eq!(json["account_id"], h.account.user_id.to_string());
    let failed: BTreeSet<String> = latest
        .iter()
        .filter(|(_, o)| *o == "failed")
        .map(|(t, _)| t.clone())
        .collect();
    let reported_failed: BTreeSet<String> = json["failed"]
        .as_array()
        .expect("a list of failures")
        .iter()
        .map(|f| f["target"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    assert_eq!(reported_failed, failed);

    // The retry list is an input of exactly the failed targets; a run of it sends exactly them.
    let listed: BTreeSet<String> = std::fs::read_to_string(&retry)
        .expect("retry list written")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.trim().trim_start_matches('@').to_lowercase())
        .collect();
    assert_eq!(listed, failed);
    h.emulator
        .update_config(|c| c.faults.over_capacity_rate = 0.0);
    let sent_before = h.destroyed_targets().len();
    let out = h.run(&[
        path_str(&retry),
        "--log",
        path_str(&log),
        "--rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let resent: BTreeSet<String> = h.destroyed_targets()[sent_before..]
        .iter()
        .cloned()
        .collect();
    assert_eq!(resent, failed, "the retry sends exactly the failed targets");
    assert_eq!(
        h.destroyed_targets().len() - sent_before,
        failed.len(),
        "once each"
    );
}

// ---------------------------------------------------------------------------------------------
// undo
// ---------------------------------------------------------------------------------------------

/// A run, then its undo: dry-run sends nothing, another account's credentials are refused, an
/// interrupted undo resumes, and the server ends with exactly the blocks it had before the run.
fn undo_restores_exactly_what_the_run_unblocked(flag: &str) {
    let api = api(flag);
    let h = Harness::new();
    let before: BTreeSet<u64> = h.blocked().into_iter().collect();
    let log = h.path("run.jsonl");
    let out = h.run(&[
        path_str(&sample("block.js")),
        "--log",
        path_str(&log),
        "--rate",
        "1000/s",
        "--api",
        api.flag,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let records = journal_records(&log);
    let unblocked: BTreeSet<u64> = records
        .iter()
        .filter(|r| r["outcome"] == "unblocked")
        .map(record_id)
        .collect();
    let never: BTreeSet<u64> = records
        .iter()
        .filter(|r| r["outcome"] == "not_found" || r["outcome"] == "suspended")
        .map(record_id)
        .collect();
    assert!(
        !never.is_empty(),
        "the sample has suspended or deactivated users"
    );
    let after_run: BTreeSet<u64> = h.blocked().into_iter().collect();
    assert_eq!(after_run, never, "only the unavailable stay blocked");
    assert_eq!(
        unblocked,
        before.difference(&never).copied().collect(),
        "the run unblocked everyone else"
    );

    let undo_log = h.path("undo.jsonl");
    let undo = |extra: &[&str]| {
        let mut cmd = h.command();
        cmd.args(["undo", path_str(&log), "--log", path_str(&undo_log)])
            .args(["--api", api.flag, "--api-base", &h.base_url()])
            .args(extra);
        cmd
    };

    // --dry-run: no request at all, no journal.
    let seen = h.emulator.requests().len();
    let dry = undo(&["--dry-run"]).output().expect("binary runs");
    assert_eq!(dry.status.code(), Some(0), "{}", show(&dry));
    assert_eq!(h.emulator.requests().len(), seen, "a dry run sends nothing");
    assert!(!undo_log.exists(), "a dry run writes no journal");
    assert_eq!(
        count_after(&stdout(&dry), "left to do:"),
        Some(unblocked.len() as u64),
        "{}",
        show(&dry)
    );

    // Another account's credentials: refused before anything is sent.
    let (other, other_app) = builtin_account("other_owner");
    let other_before = h.emulator.blocked(other.user_id);
    let mut cmd = undo(&["--rate", "1000/s"]);
    cmd.env("TWITTER_CONSUMER_KEY", &other_app.consumer_key)
        .env("TWITTER_CONSUMER_SECRET", &other_app.consumer_secret)
        .env("TWITTER_ACCESS_TOKEN", &other.access_token)
        .env("TWITTER_ACCESS_TOKEN_SECRET", &other.access_token_secret);
    let refused = cmd.output().expect("binary runs");
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(
        stderr(&refused).contains(&h.account.user_id.to_string()),
        "{}",
        show(&refused)
    );
    assert_eq!(
        h.requests_at(api.block).len(),
        0,
        "nothing sent for the wrong account"
    );
    assert_eq!(h.emulator.blocked(other.user_id), other_before);
    assert_eq!(journal_len(&undo_log), 0, "no record for the wrong account");

    // A slow undo, killed midway, then resumed at full speed.
    let mut child = h.spawn_command("undo-1", undo(&["--rate", "40/s", "--concurrency", "1"]));
    assert!(
        wait_until(PATIENCE, || journal_len(&undo_log) >= 20),
        "the undo got going"
    );
    child.kill().expect("SIGKILL sent");
    let _ = child.wait();
    let done_before: BTreeSet<u64> = journal_records(&undo_log).iter().map(record_id).collect();
    assert!(done_before.len() < unblocked.len(), "killed midway");
    let resumed = undo(&["--rate", "1000/s"]).output().expect("binary runs");
    assert_eq!(resumed.status.code(), Some(0), "{}", show(&resumed));
    let blocks: Vec<String> = h
        .emulator
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == api.block)
        .filter_map(|r| block_target(&r))
        .collect();
    for id in &done_before {
        assert_eq!(
            blocks.iter().filter(|t| **t == id.to_string()).count(),
            1,
            "{id} was blocked again before the kill and must not be sent again"
        );
    }
    let sent: BTreeSet<u64> = blocks.iter().filter_map(|t| t.parse().ok()).collect();
    assert_eq!(
        sent, unblocked,
        "the undo blocks again exactly what the run unblocked"
    );
    let after_undo: BTreeSet<u64> = h.blocked().into_iter().collect();
    assert_eq!(after_undo, before, "the account is back where it was");
    assert_eq!(journal_header(&undo_log)["action"], "block");
}

#[test]
fn undo_restores_exactly_what_the_run_unblocked_v1() {
    undo_restores_exactly_what_the_run_unblocked("v1.1");
}

#[test]
fn undo_restores_exactly_what_the_run_unblocked_v2() {
    undo_restores_exactly_what_the_run_unblocked("v2");
}

// ---------------------------------------------------------------------------------------------
// run --dry-run --check
// ---------------------------------------------------------------------------------------------

/// `--dry-run --check` reads the real list (several pages), resolves names, lists who is not
/// blocked, and sends only GETs.
fn check_compares_with_the_server_read_only(flag: &str) {
    let api = api(flag);
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.replies.ids_page_size = 50;
    });
    let seed = Seed::builtin();
    let blocked = demo_blocked();
    let listed = blocked
        .iter()
        .filter(|u| u.state == UserState::Active)
        .count();
    let active: Vec<&SeedUser> = blocked
        .iter()
        .filter(|u| u.state == UserState::Active)
        .collect();
    let blocked_ids: BTreeSet<u64> = blocked.iter().map(|u| u.id).collect();
    let accounts: BTreeSet<u64> = seed.accounts.iter().map(|a| a.user_id).collect();
    let strangers: Vec<&SeedUser> = seed
        .users
        .iter()
        .filter(|u| {
            u.state == UserState::Active
                && !blocked_ids.contains(&u.id)
                && !accounts.contains(&u.id)
        })
        .take(2)
        .collect();
    assert_eq!(
        strangers.len(),
        2,
        "the seed has users demo_owner does not block"
    );
    // More blocks than a v2 page (1,000) holds, so that both APIs read the list over pages.
    let extra: Vec<SeedUser> = (0..1200)
        .map(|i| SeedUser::active(8_800_000_000 + i, &format!("chk_{i}"), "Extra"))
        .collect();
    h.emulator.add_users(extra.clone());
    let extra_ids = extra.iter().map(|u| u.id);
    h.emulator.set_blocked(
        h.account.user_id,
        blocked_ids.iter().copied().chain(extra_ids),
    );
    let listed = listed + extra.len();
    let blocked_ids: BTreeSet<u64> = h.blocked().into_iter().collect();
    let input = format!(
        "{}\n{}\n@{}\n{}\n@{}\n@nobody_has_this\n",
        active[0].id,
        active[1].id,
        active[2].screen_name,
        strangers[0].id,
        strangers[1].screen_name,
    );
    let file = h.write("check.txt", input);
    let log = h.path("check.jsonl");
    let out = h.run(&[
        path_str(&file),
        "--log",
        path_str(&log),
        "--dry-run",
        "--check",
        "--list-rate",
        "100/s",
        "--api",
        api.flag,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    assert_eq!(
        count_after(&text, "the account blocks"),
        Some(listed as u64),
        "{text}"
    );
    assert_eq!(count_after(&text, "would be unblocked:"), Some(3), "{text}");
    assert_eq!(count_after(&text, "not blocked now:"), Some(2), "{text}");
    assert!(text.contains(&strangers[0].id.to_string()), "{text}");
    assert!(
        text.contains(&format!(
            "@{} ({})",
            strangers[1].screen_name, strangers[1].id
        )),
        "the name is resolved: {text}"
    );
    assert!(
        text.contains(&format!("@{} ({})", active[2].screen_name, active[2].id)),
        "{text}"
    );
    assert_eq!(count_after(&text, "nobody answers to:"), Some(1), "{text}");
    assert!(text.contains("@nobody_has_this"), "{text}");

    let requests = h.emulator.requests();
    assert!(
        requests.iter().all(|r| r.method == "GET"),
        "only GETs: {:?}",
        requests
            .iter()
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect::<Vec<_>>()
    );
    // v1.1 pages hold `ids_page_size` (50 here); v2 pages hold the client's max_results (1000).
    let page = if api.flag == "v2" { 1000 } else { 50 };
    let pages = blocked_ids.len().div_ceil(page);
    assert!(pages >= 2, "the list spans pages: {pages}");
    let served = pages_served(&h, &api);
    assert_eq!(
        list_requests(&h, &api).len(),
        pages,
        "the whole list was read, page by page: {served:?}"
    );
    assert!(
        served.len() == pages && served.values().all(|&n| n == 1),
        "each page once: {served:?}"
    );
    assert!(!log.exists(), "a dry run writes no journal");
    assert_eq!(
        h.blocked().into_iter().collect::<BTreeSet<_>>(),
        blocked_ids,
        "nothing changed on the server"
    );
}

#[test]
fn check_compares_with_the_server_read_only_v1() {
    check_compares_with_the_server_read_only("v1.1");
}

#[test]
fn check_compares_with_the_server_read_only_v2() {
    check_compares_with_the_server_read_only("v2");
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Limits on, block-list pages of 1,000 limited to 3 per 2-second window with rate headers.
fn paced_list(c: &mut Config) {
    let list = EndpointLimit::new(PAGES_PER_WINDOW, HeaderMode::Headers);
    c.limits.enabled = true;
    c.limits.window = WINDOW;
    c.limits.ids = list.clone();
    c.limits.v2_blocking = list;
    c.replies.ids_page_size = PAGE;
}

/// Gives the harness account `n` blocks of made-up IDs (1..=i64::MAX, including both ends),
/// each a user with a known screen name; returns them.
fn big_account(h: &Harness, n: usize, seed: u64) -> Vec<(u64, String)> {
    let ids = made_up_ids(n, seed);
    let users: Vec<(u64, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, format!("wl{seed}_{i}")))
        .collect();
    h.emulator.add_users(
        users
            .iter()
            .map(|(id, name)| SeedUser::active(*id, name, "Listed")),
    );
    h.emulator
        .set_blocked(h.account.user_id, users.iter().map(|(id, _)| *id));
    assert_eq!(
        h.blocked().len(),
        n,
        "the emulator holds every made-up block"
    );
    users
}

/// `n` distinct IDs spread over 1..=i64::MAX, from a SplitMix64 sequence.
fn made_up_ids(n: usize, seed: u64) -> Vec<u64> {
    let max = i64::MAX as u64;
    let mut ids = BTreeSet::from([1, max]);
    let mut state = seed;
    while ids.len() < n {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ids.insert(z % max + 1);
    }
    ids.into_iter().collect()
}

/// `export --out OUT --rate 100/s --api API --api-base <emulator> EXTRA`.
fn export(h: &Harness, api: &ApiCase, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = h.command();
    cmd.arg("export")
        .arg("--out")
        .arg(out)
        .args([
            "--rate",
            "100/s",
            "--api",
            api.flag,
            "--api-base",
            &h.base_url(),
        ])
        .args(extra);
    cmd
}

fn partial_of(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// The cursors of the pages a partial file holds: the first page's, then each page's `next`
/// but the last (which names a page not fetched yet).
fn pages_in_partial(partial: &Path, api: &ApiCase) -> Vec<String> {
    let text = std::fs::read_to_string(partial).expect("partial readable");
    let nexts: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["next"].as_str().unwrap_or("").to_owned())
        .collect();
    let mut cursors = vec![first_cursor(api).to_owned()];
    cursors.extend(nexts.iter().take(nexts.len().saturating_sub(1)).cloned());
    cursors
}

/// How the first page's cursor shows in the request log.
fn first_cursor(api: &ApiCase) -> &'static str {
    match api.flag {
        "v1.1" => "-1",
        _ => "first",
    }
}

/// Every request to the list endpoint.
fn list_requests(h: &Harness, api: &ApiCase) -> Vec<LoggedRequest> {
    h.emulator
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == api.list)
        .collect()
}

/// How many times each page was served (200), by cursor.
fn pages_served(h: &Harness, api: &ApiCase) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for r in list_requests(h, api)
        .into_iter()
        .filter(|r| r.status == 200)
    {
        let cursor = r
            .params
            .get(api.cursor)
            .cloned()
            .unwrap_or_else(|| "first".to_owned());
        *map.entry(cursor).or_default() += 1;
    }
    map
}

/// How many rate windows the requests spread over: a window opens at the first request after
/// the previous one closed, aligned down to the second, as the emulator counts them.
fn count_windows(requests: &[LoggedRequest]) -> usize {
    let length = WINDOW.as_millis() as i64;
    let mut windows = 0;
    let mut closes = i64::MIN;
    for r in requests {
        if r.at_ms >= closes {
            windows += 1;
            closes = r.at_ms.div_euclid(1000) * 1000 + length;
        }
    }
    windows
}

/// The user a block request names: v1.1 `user_id`, or v2 `target_user_id`.
fn block_target(r: &LoggedRequest) -> Option<String> {
    r.params
        .get("user_id")
        .or_else(|| r.params.get("target_user_id"))
        .cloned()
}

/// The user ID of a journal record: `user_id`, or the target itself when it is an ID.
fn record_id(r: &serde_json::Value) -> u64 {
    r["user_id"]
        .as_str()
        .or_else(|| r["target"].as_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a record with a user ID: {r}"))
}

/// A CSV's header and rows.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).expect("CSV readable");
    let header = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("a CSV row").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// demo_owner's blocked users in the builtin seed, with their states.
fn demo_blocked() -> Vec<SeedUser> {
    let seed = Seed::builtin();
    let (account, _) = builtin_account("demo_owner");
    account
        .blocked
        .iter()
        .filter_map(|id| seed.users.iter().find(|u| u.id == *id).cloned())
        .collect()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// With the default list pace (15 pages per 15 minutes, one a minute), resolving a few screen
/// names must not wait a list slot: lookups have their own, far larger, limit.
#[test]
fn check_resolves_names_at_the_lookup_pace_not_the_list_pace() {
    let h = Harness::new();
    let active: Vec<SeedUser> = demo_blocked()
        .into_iter()
        .filter(|u| u.state == UserState::Active)
        .take(3)
        .collect();
    let input: String = active
        .iter()
        .map(|u| format!("@{}\n", u.screen_name))
        .collect();
    let file = h.write("names.txt", input);
    let log = h.path("check.jsonl");
    let mut cmd = h.command();
    cmd.args([
        "run",
        path_str(&file),
        "--log",
        path_str(&log),
        "--dry-run",
        "--check",
    ])
    .args(["--api-base", &h.base_url()]);
    let mut child = h.spawn_command("check", cmd);
    let finished = wait_until(Duration::from_secs(15), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !finished {
        let _ = child.kill();
    }
    let out = h.background_output("check", child);
    assert!(
        finished,
        "one page and one lookup took longer than 15 s: {}",
        show(&out)
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        count_after(&stdout(&out), "would be unblocked:"),
        Some(3),
        "{}",
        show(&out)
    );
}

/// A partial export belongs to one account: another account's export to the same file is
/// refused with a readable message, and the owner's next export completes it.
#[test]
fn a_partial_export_is_never_resumed_for_another_account() {
    let h = Harness::with_config(|c| {
        paced_list(c);
        c.limits.ids.limit = 1;
    });
    let names = big_account(&h, 3 * PAGE, 4);
    let out = h.path("blocks.csv");
    let partial = partial_of(&out);
    let child = h.spawn_command("first", export(&h, &api("v1.1"), &out, &[]));
    assert!(
        wait_until(PATIENCE, || complete_lines(&partial) >= 1),
        "a page fetched"
    );
    send_signal(&child, "-INT");
    let first = h.background_output("first", child);
    assert_eq!(first.status.code(), Some(130), "{}", show(&first));
    let kept = std::fs::read(&partial).expect("partial kept");

    let (other, other_app) = builtin_account("other_owner");
    let mut cmd = h.command_as(&other, &other_app);
    cmd.arg("export")
        .arg("--out")
        .arg(&out)
        .args(["--rate", "100/s", "--api-base", &h.base_url()]);
    let refused = cmd.output().expect("binary runs");
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains(&h.account.user_id.to_string())
            && message.contains(&other.user_id.to_string()),
        "{message}"
    );
    assert!(
        !message.contains("  "),
        "the message reads as one sentence: {message:?}"
    );
    assert_eq!(
        std::fs::read(&partial).expect("partial"),
        kept,
        "left as it was"
    );
    assert!(!out.exists());

    let done = export(&h, &api("v1.1"), &out, &[])
        .output()
        .expect("binary runs");
    assert_eq!(done.status.code(), Some(0), "{}", show(&done));
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["user_id"], "no names unless asked");
    let exported: BTreeSet<u64> = rows.iter().map(|r| r[0].parse().expect("ID")).collect();
    assert_eq!(exported, names.iter().map(|(id, _)| *id).collect());
}

/// `run --all` interrupted while it exports the list: no backup yet, nothing unblocked; the
/// rerun goes on from the pages fetched, then unblocks everyone.
#[test]
fn run_all_interrupted_while_listing_resumes_the_export() {
    let api = api("v1.1");
    let h = Harness::with_config(|c| {
        paced_list(c);
        c.limits.destroy.limit = 100_000;
    });
    let pages = 5;
    let names = big_account(&h, pages * PAGE, 5);
    let log = h.path("all.jsonl");
    let backup = h.path("all.jsonl.backup.csv");
    let partial = partial_of(&backup);
    let args = [
        "--all",
        "--log",
        path_str(&log),
        "--rate",
        "20000/s",
        "--list-rate",
        "100/s",
        "--concurrency",
        "32",
    ];
    let child = h.spawn_run("first", &args);
    assert!(
        wait_until(PATIENCE, || complete_lines(&partial) >= 3),
        "three pages fetched"
    );
    send_signal(&child, "-INT");
    let first = h.background_output("first", child);
    assert_eq!(first.status.code(), Some(130), "{}", show(&first));
    assert!(!backup.exists(), "no backup until the list is complete");
    assert_eq!(
        h.requests_at(api.unblock).len(),
        0,
        "nothing unblocked before the list is complete"
    );
    let fetched = pages_in_partial(&partial, &api);

    let second = h.run(&args);
    assert_eq!(second.status.code(), Some(0), "{}", show(&second));
    assert!(h.blocked().is_empty(), "no block left");
    let served = pages_served(&h, &api);
    assert_eq!(served.len(), pages, "{served:?}");
    for cursor in &fetched {
        assert_eq!(served.get(cursor), Some(&1), "page {cursor} fetched again");
    }
    let (_, rows) = read_csv(&backup);
    let backed_up: BTreeSet<u64> = rows.iter().map(|r| r[0].parse().expect("ID")).collect();
    assert_eq!(backed_up, names.iter().map(|(id, _)| *id).collect());
    assert_eq!(journal_records(&log).len(), pages * PAGE);
}
