//! `bulk-unblock run` end to end: the real binary against the emulator over loopback.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use bulk_unblock::emulator::x::config::Config;
use bulk_unblock::emulator::x::{AccessLevel, Seed, SuspendedReply, UserState};
use common::{
    Harness, builtin_account, count_after, is_terminal_outcome, journal_header, journal_len,
    journal_records, outcomes_by_target, sample, show, stderr, stdout, wait_until,
};

/// A pace fast enough that the tool's own spacing never slows a test.
const FAST: [&str; 2] = ["--rate", "1000/s"];

/// How long a test waits for a background run to reach a state before failing.
const PATIENCE: Duration = Duration::from_secs(20);

const DESTROY: &str = "/1.1/blocks/destroy.json";
const VERIFY: &str = "/1.1/account/verify_credentials.json";

#[test]
fn a_mixed_csv_and_a_list_unblock_exactly_the_listed_users() {
    let h = Harness::new();
    let seed = Seed::builtin();
    let before: BTreeSet<u64> = h.blocked().into_iter().collect();
    let log = h.path("journal.jsonl");
    let csv = sample("blocked.csv");
    let list = sample("blocked.txt");

    // What each listed target must end as, from the files and the seed alone.
    let mut listed = sample_csv_targets(&csv);
    listed.extend(sample_list_targets(&list));
    let mut unique: Vec<Listed> = Vec::new();
    for target in listed {
        if !unique.iter().any(|u| u.key() == target.key()) {
            unique.push(target);
        }
    }
    let mut expected: BTreeMap<String, &str> = BTreeMap::new();
    let mut to_unblock: BTreeSet<u64> = BTreeSet::new();
    for target in &unique {
        let user = seed.users.iter().find(|u| match target {
            Listed::Id(id) => u.id == *id,
            Listed::Name(name) => u.screen_name.eq_ignore_ascii_case(name),
        });
        // Unknown, suspended and deactivated users are all `not_found` with the default
        // replies; an active user is `unblocked`, blocked or not (the server answers 200).
        let outcome = match user.map(|u| u.state) {
            Some(UserState::Active) => "unblocked",
            _ => "not_found",
        };
        if let Some(u) = user.filter(|u| u.state == UserState::Active && before.contains(&u.id)) {
            to_unblock.insert(u.id);
        }
        expected.insert(target.key(), outcome);
    }
    assert_eq!(expected.len(), unique.len());
    assert!(expected.values().any(|o| *o == "not_found"), "{expected:?}");
    assert!(!to_unblock.is_empty());

    let out = h.run(&[
        csv.to_str().unwrap(),
        list.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // One record per unique target, with exactly the outcome the seed implies.
    let records = journal_records(&log);
    let recorded: BTreeMap<String, Vec<String>> = outcomes_by_target(&records);
    assert_eq!(records.len(), unique.len(), "one record per unique target");
    let recorded: BTreeMap<String, &str> = recorded
        .iter()
        .map(|(t, o)| {
            assert_eq!(o.len(), 1, "{t}: one record: {o:?}");
            (t.clone(), o[0].as_str())
        })
        .collect();
    assert_eq!(recorded, expected);

    // The server lost exactly the listed blocked users, and got one destroy per unique target.
    let after: BTreeSet<u64> = h.blocked().into_iter().collect();
    let removed: BTreeSet<u64> = before.difference(&after).copied().collect();
    assert_eq!(removed, to_unblock);
    assert!(after.is_subset(&before), "nothing was blocked");
    assert_eq!(h.requests_to(DESTROY).len(), unique.len());
    let mut sent = h.destroyed_targets();
    sent.sort();
    let mut keys: Vec<String> = expected.keys().cloned().collect();
    keys.sort();
    assert_eq!(sent, keys, "each unique target sent once");
    assert_eq!(
        journal_header(&log)["account_id"],
        h.account.user_id.to_string()
    );
}

/// A target as a test reads it from the sample files, independently of the tool's reader.
#[derive(Debug)]
enum Listed {
    Id(u64),
    Name(String),
}

impl Listed {
    /// The ID, or the name folded to lowercase: how the journal's `target` and the request log
    /// are compared.
    fn key(&self) -> String {
        match self {
            Listed::Id(id) => id.to_string(),
            Listed::Name(name) => name.to_lowercase(),
        }
    }
}

/// `sample-data/blocked.csv`: a `user_id,screen_name` header, then rows filling either (the ID
/// wins when both are).
fn sample_csv_targets(path: &Path) -> Vec<Listed> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("user_id,screen_name"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (id, name) = l.split_once(',').expect("two columns");
            match id.trim() {
                "" => Listed::Name(name.trim().to_owned()),
                id => Listed::Id(id.parse().expect("an ID")),
            }
        })
        .collect()
}

/// `sample-data/blocked.txt`: bare IDs, `@name`, `name`, profile links, comments and blanks.
fn sample_list_targets(path: &Path) -> Vec<Listed> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            if let Some(id) = l.split("intent/user?user_id=").nth(1) {
                Listed::Id(id.parse().expect("an ID"))
            } else if let Some(name) = l.strip_prefix('@') {
                Listed::Name(name.to_owned())
            } else if let Some((_, name)) = l.rsplit_once('/') {
                Listed::Name(name.to_owned())
            } else if l.bytes().all(|b| b.is_ascii_digit()) {
                Listed::Id(l.parse().expect("an ID"))
            } else {
                Listed::Name(l.to_owned())
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// demo_owner's blocked users in the builtin seed, with their states.
fn demo_blocked() -> Vec<bulk_unblock::emulator::x::SeedUser> {
    let seed = Seed::builtin();
    let (account, _) = builtin_account("demo_owner");
    account
        .blocked
        .iter()
        .map(|id| {
            seed.users
                .iter()
                .find(|u| u.id == *id)
                .expect("blocked users are seeded")
                .clone()
        })
        .collect()
}

/// The active users demo_owner blocks, first `n` of them.
fn active_blocked(n: usize) -> Vec<bulk_unblock::emulator::x::SeedUser> {
    demo_blocked()
        .into_iter()
        .filter(|u| u.state == UserState::Active)
        .take(n)
        .collect()
}

/// A newline list of these users' IDs.
fn id_list(users: &[bulk_unblock::emulator::x::SeedUser]) -> String {
    users.iter().map(|u| format!("{}\n", u.id)).collect()
}

/// Targets (lowercased) whose journal holds a terminal record.
fn terminal_targets(records: &[serde_json::Value]) -> BTreeSet<String> {
    outcomes_by_target(records)
        .into_iter()
        .filter(|(_, outcomes)| outcomes.iter().any(|o| is_terminal_outcome(o)))
        .map(|(t, _)| t)
        .collect()
}

/// How many destroy requests each target received.
fn sends_per_target(h: &Harness) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for t in h.destroyed_targets() {
        *map.entry(t).or_default() += 1;
    }
    map
}

/// The checks every resumed run must pass: no target finished before the rerun was sent again,
/// every target of block.js ends with exactly one terminal record, and the server holds only
/// the blocks of users who cannot be unblocked.
fn assert_resumed_cleanly(h: &Harness, log: &Path, done_before: &BTreeSet<String>) {
    let sends = sends_per_target(h);
    for target in done_before {
        assert_eq!(
            sends.get(target),
            Some(&1),
            "{target} was finished before the rerun and must have been sent exactly once"
        );
    }
    let (records, bad) = common::journal_records_tolerant(log);
    assert_eq!(bad, 0, "no damaged line in the journal");
    let per_target = outcomes_by_target(&records);
    let blocked = demo_blocked();
    assert_eq!(per_target.len(), blocked.len(), "every target is recorded");
    for (target, outcomes) in &per_target {
        let terminal = outcomes.iter().filter(|o| is_terminal_outcome(o)).count();
        assert_eq!(
            terminal, 1,
            "{target}: exactly one terminal record: {outcomes:?}"
        );
    }
    let unavailable: BTreeSet<u64> = blocked
        .iter()
        .filter(|u| u.state != UserState::Active)
        .map(|u| u.id)
        .collect();
    let left: BTreeSet<u64> = h.blocked().into_iter().collect();
    assert!(
        left.is_subset(&unavailable),
        "only suspended or deactivated users may stay blocked: {left:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Inputs and outcomes
// ---------------------------------------------------------------------------------------------

#[test]
fn block_js_unblocks_every_block_and_records_unavailable_users_not_found() {
    let h = Harness::new();
    let log = h.path("journal.jsonl");
    let input = sample("block.js");
    let mut args = vec![input.to_str().unwrap(), "--log", log.to_str().unwrap()];
    args.extend(FAST);
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let blocked = demo_blocked();
    let records = journal_records(&log);
    assert_eq!(records.len(), blocked.len(), "one record per block");
    assert_eq!(
        h.destroyed_targets().len(),
        blocked.len(),
        "one request each"
    );
    let outcome_of: BTreeMap<String, String> = records
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for user in &blocked {
        let expected = match user.state {
            UserState::Active => "unblocked",
            UserState::Suspended | UserState::Deactivated => "not_found",
        };
        assert_eq!(
            outcome_of.get(&user.id.to_string()).map(String::as_str),
            Some(expected),
            "{} ({:?})",
            user.screen_name,
            user.state
        );
    }
    // The server still holds exactly the blocks it could not remove.
    let left: BTreeSet<u64> = h.blocked().into_iter().collect();
    let unavailable: BTreeSet<u64> = blocked
        .iter()
        .filter(|u| u.state != UserState::Active)
        .map(|u| u.id)
        .collect();
    assert_eq!(left, unavailable);
}

#[test]
fn suspended_targets_are_recorded_suspended_when_the_server_says_so() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.replies.suspended = SuspendedReply::Suspended;
    });
    let log = h.path("journal.jsonl");
    let input = sample("block.js");
    let mut args = vec![input.to_str().unwrap(), "--log", log.to_str().unwrap()];
    args.extend(FAST);
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let records = journal_records(&log);
    let outcome_of: BTreeMap<String, String> = records
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut suspended = 0;
    for user in demo_blocked() {
        let expected = match user.state {
            UserState::Active => "unblocked",
            UserState::Suspended => "suspended",
            UserState::Deactivated => "not_found",
        };
        suspended += usize::from(user.state == UserState::Suspended);
        assert_eq!(
            outcome_of.get(&user.id.to_string()).map(String::as_str),
            Some(expected),
            "{}",
            user.screen_name
        );
    }
    assert!(suspended > 0, "the seed blocks suspended users");
    let answered_63 = h
        .requests_to(DESTROY)
        .iter()
        .filter(|r| r.status == 403 && r.error_number() == Some(63))
        .count();
    assert_eq!(answered_63, suspended);
}

#[test]
fn stdin_input_works_and_duplicates_are_sent_once() {
    let h = Harness::new();
    let log = h.path("journal.jsonl");
    let users = active_blocked(3);
    let input = format!(
        "{a}\n{a}\n@{b}\n{b_upper}\nhttps://x.com/{c}\n",
        a = users[0].id,
        b = users[1].screen_name,
        b_upper = users[1].screen_name.to_uppercase(),
        c = users[2].screen_name,
    );
    let mut args = vec!["-", "--log", log.to_str().unwrap()];
    args.extend(FAST);
    let out = h.run_stdin(&args, input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let mut sent = h.destroyed_targets();
    sent.sort();
    let mut expected = vec![
        users[0].id.to_string(),
        users[1].screen_name.to_lowercase(),
        users[2].screen_name.to_lowercase(),
    ];
    expected.sort();
    assert_eq!(sent, expected, "each unique target sent once");
    assert_eq!(journal_records(&log).len(), 3);
    assert_eq!(
        count_after(&stdout(&out), "duplicates dropped:"),
        Some(2),
        "{}",
        show(&out)
    );
    let left: BTreeSet<u64> = h.blocked().into_iter().collect();
    assert!(users.iter().all(|u| !left.contains(&u.id)));
}

// ---------------------------------------------------------------------------------------------
// Dry run
// ---------------------------------------------------------------------------------------------

#[test]
fn a_dry_run_sends_nothing_writes_nothing_and_needs_no_credentials() {
    let h = Harness::new();
    let users = active_blocked(5);
    // 5 unique targets, 2 duplicates, 1 invalid line.
    let list = format!(
        "{}{}\n{}\nnot a name!\n",
        id_list(&users),
        users[0].id,
        users[3].id
    );
    let input = h.write("list.txt", list);
    let log = h.path("journal.jsonl");
    let cmd = h.command_without_credentials();
    let out = h.run_with(
        cmd,
        &[
            input.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--dry-run",
            "--skip-invalid",
            "--rate",
            "50/15m",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(h.emulator.requests().is_empty(), "no request at all");
    assert!(!log.exists(), "the journal is not created");

    let text = stdout(&out);
    assert_eq!(count_after(&text, "targets read:"), Some(7), "{text}");
    assert_eq!(count_after(&text, "duplicates dropped:"), Some(2), "{text}");
    assert_eq!(
        count_after(&text, "invalid lines skipped:"),
        Some(1),
        "{text}"
    );
    assert_eq!(
        count_after(&text, "already done (journal):"),
        Some(0),
        "{text}"
    );
    assert_eq!(count_after(&text, "left to do:"), Some(5), "{text}");
    // 50 per 15 minutes is one every 18 s: the first goes at once, four more take 72 s.
    let duration = text
        .lines()
        .find(|l| l.contains("estimated duration:"))
        .unwrap_or_default();
    assert!(duration.contains(" 1:12 "), "{text}");
}

#[test]
fn a_dry_run_counts_what_a_partial_journal_already_did() {
    let h = Harness::new();
    let users = active_blocked(5);
    let log = h.path("journal.jsonl");
    let first = h.write("first.txt", id_list(&users[..2]));
    let mut args = vec![first.to_str().unwrap(), "--log", log.to_str().unwrap()];
    args.extend(FAST);
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let journal_before = std::fs::read(&log).expect("journal written");
    let requests_before = h.emulator.requests().len();

    let all = h.write("all.txt", id_list(&users));
    let out = h.run(&[
        all.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    assert_eq!(
        count_after(&text, "already done (journal):"),
        Some(2),
        "{text}"
    );
    assert_eq!(count_after(&text, "left to do:"), Some(3), "{text}");
    assert_eq!(h.emulator.requests().len(), requests_before, "nothing sent");
    assert_eq!(
        std::fs::read(&log).unwrap(),
        journal_before,
        "journal untouched"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_input_lines_are_listed_with_their_line_numbers_and_nothing_is_sent() {
    let h = Harness::new();
    let users = active_blocked(2);
    let mut list = Vec::new();
    list.extend_from_slice(format!("{}\n", users[0].id).as_bytes()); // 1: valid
    list.extend_from_slice(b"bad name!\n"); // 2
    list.extend_from_slice(b"# a comment\n"); // 3: skipped, not invalid
    list.extend_from_slice(b"-5\n"); // 4
    list.extend_from_slice(b"0\n"); // 5
    list.extend_from_slice(b"caf\xe9\xff\n"); // 6: not UTF-8
    list.extend_from_slice(format!("@{}\n", users[1].screen_name).as_bytes()); // 7: valid
    h.write("list.txt", list);
    h.write(
        "rows.csv",
        // Row 3 fills neither the ID nor the name (an all-blank row is a spreadsheet's trailing
        // row and is passed over, but this one holds data).
        format!(
            "user_id,screen_name,note\n{},,\n,,no user here\n",
            users[1].id
        ),
    );
    let log = h.path("journal.jsonl");
    let mut args = vec!["list.txt", "rows.csv", "--log", log.to_str().unwrap()];
    args.extend(FAST);
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    let listed: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("list.txt:") || l.starts_with("rows.csv:"))
        .map(|l| l.split(": ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        listed,
        [
            "list.txt:2",
            "list.txt:4",
            "list.txt:5",
            "list.txt:6",
            "rows.csv:3"
        ],
        "{err}"
    );
    assert!(h.emulator.requests().is_empty(), "nothing sent");
    assert!(
        !log.exists() || std::fs::read(&log).unwrap().is_empty(),
        "no journal written"
    );
}

#[test]
fn more_than_twenty_invalid_lines_are_listed_then_counted() {
    let h = Harness::new();
    let list: String = (1..=25).map(|i| format!("-{i}\n")).collect();
    h.write("bad.txt", list);
    let out = h.run(&["bad.txt", "--log", "journal.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    let listed = err.lines().filter(|l| l.starts_with("bad.txt:")).count();
    assert_eq!(listed, 20, "{err}");
    assert!(
        err.contains("bad.txt:20:") && !err.contains("bad.txt:21:"),
        "{err}"
    );
    assert!(err.contains("5 more"), "{err}");
    assert!(
        err.starts_with("error: 25 unusable input lines:\n"),
        "{err}"
    );
    assert!(h.emulator.requests().is_empty());
}

#[test]
fn skip_invalid_goes_on_with_only_the_valid_targets() {
    let h = Harness::new();
    let users = active_blocked(2);
    h.write(
        "list.txt",
        format!("{}\n-5\nbad name!\n{}\n", users[0].id, users[1].id),
    );
    let out = h.run(&[
        "list.txt",
        "--log",
        "journal.jsonl",
        "--skip-invalid",
        "--rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let mut sent = h.destroyed_targets();
    sent.sort();
    let mut expected = vec![users[0].id.to_string(), users[1].id.to_string()];
    expected.sort();
    assert_eq!(sent, expected);
    assert_eq!(
        count_after(&stdout(&out), "invalid lines skipped:"),
        Some(2),
        "{}",
        show(&out)
    );
}

#[test]
fn a_missing_input_file_is_named_and_nothing_is_sent() {
    let h = Harness::new();
    let out = h.run(&["no-such-file.csv", "--log", "journal.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr(&out).contains("no-such-file.csv"), "{}", show(&out));
    assert!(h.emulator.requests().is_empty());
}

#[test]
fn an_input_without_targets_is_refused() {
    let h = Harness::new();
    h.write("empty.txt", "# nothing here\n\n   \n");
    h.write("header-only.csv", "user_id,screen_name\n");
    for input in ["empty.txt", "header-only.csv"] {
        let out = h.run(&[input, "--log", "journal.jsonl"]);
        assert_eq!(out.status.code(), Some(2), "{input}: {}", show(&out));
        assert!(stderr(&out).contains("no targets"), "{}", show(&out));
    }
    assert!(h.emulator.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

#[test]
fn a_wrong_consumer_secret_exits_3_before_any_destroy_and_shows_no_secret() {
    let h = Harness::new();
    let users = active_blocked(3);
    h.write("list.txt", id_list(&users));
    let wrong = "WrongSecretValue0123456789abcdefghijklmnopqrstu";
    let mut cmd = h.command();
    cmd.env("TWITTER_CONSUMER_SECRET", wrong);
    let out = h.run_with(
        cmd,
        &["list.txt", "--log", "journal.jsonl", "--rate", "1000/s"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let verify = h.requests_to(VERIFY);
    assert_eq!(verify.len(), 1, "checked once");
    assert_eq!(
        (verify[0].status, verify[0].error_number()),
        (401, Some(32))
    );
    assert!(h.requests_to(DESTROY).is_empty(), "no destroy sent");

    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("TWITTER_CONSUMER_SECRET"),
        "says what to fix: {text}"
    );
    assert!(
        text.contains("Could not authenticate you. Check"),
        "the server's message reads as one sentence: {text}"
    );
    for secret in [
        wrong,
        h.app.consumer_secret.as_str(),
        h.account.access_token_secret.as_str(),
    ] {
        assert!(!text.contains(secret), "a secret is shown: {text}");
    }
    assert_eq!(h.blocked().len(), demo_blocked().len(), "nothing unblocked");
}

#[test]
fn a_revoked_token_exits_3_before_any_destroy() {
    let h = Harness::new();
    h.emulator.revoke_token(&h.account.access_token);
    h.write("list.txt", id_list(&active_blocked(3)));
    let out = h.run(&["list.txt", "--log", "journal.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(h.requests_to(DESTROY).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("TWITTER_ACCESS_TOKEN"),
        "says what to fix: {err}"
    );
    assert!(!err.contains(&h.account.access_token_secret), "{err}");
}

#[test]
fn a_token_revoked_mid_run_stops_it_with_3_and_keeps_what_was_done() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.revoke_after = Some(5);
    });
    let log = h.path("journal.jsonl");
    let users = active_blocked(20);
    h.write("list.txt", id_list(&users));
    let out = h.run(&[
        "list.txt",
        "--log",
        "journal.jsonl",
        "--rate",
        "1000/s",
        "--concurrency",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Invalid or expired token. The access token"),
        "{err}"
    );
    assert!(err.contains("resume with:"), "{err}");

    let destroys = h.requests_to(DESTROY);
    let accepted: BTreeSet<String> = destroys
        .iter()
        .filter(|r| r.status == 200)
        .filter_map(|r| r.params.get("user_id").cloned())
        .collect();
    assert_eq!(accepted.len(), 5, "the token worked five times");
    let refused = destroys.iter().filter(|r| r.status == 401).count();
    assert!(
        (1..=2).contains(&refused),
        "scheduling stops at the first refusal: {refused} refused"
    );
    // The journal holds exactly what the server did; the rest is left for the rerun.
    let records = journal_records(&log);
    assert_eq!(terminal_targets(&records), accepted);
    assert_eq!(records.len(), 5, "nothing recorded for the refused ones");
    let left: BTreeSet<u64> = h.blocked().into_iter().collect();
    for u in &users {
        assert_eq!(
            left.contains(&u.id),
            !accepted.contains(&u.id.to_string()),
            "{}",
            u.screen_name
        );
    }
}

#[test]
fn a_read_only_token_exits_3_and_unblocks_nobody() {
    let mut seed = Seed::builtin();
    seed.accounts[0].access_level = AccessLevel::Read;
    let h = Harness::with_seed(seed, |c| c.limits.enabled = false);
    let before = h.blocked();
    let users = active_blocked(20);
    h.write("list.txt", id_list(&users));
    let out = h.run(&[
        "list.txt",
        "--log",
        "journal.jsonl",
        "--rate",
        "1000/s",
        "--concurrency",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let destroys = h.requests_to(DESTROY);
    assert!(
        destroys
            .iter()
            .all(|r| r.status == 403 && r.error_number() == Some(261)),
        "every destroy was refused for permission"
    );
    assert!(
        destroys.len() <= 4,
        "scheduling stops at the first refusal: {} sent",
        destroys.len()
    );
    assert!(stderr(&out).contains("Read and write"), "{}", show(&out));
    assert_eq!(h.blocked(), before);
    // Nothing counts as done: a rerun with fixed credentials sends everything.
    let (records, _) = common::journal_records_tolerant(&h.path("journal.jsonl"));
    assert!(terminal_targets(&records).is_empty(), "{records:?}");
}

#[test]
fn a_missing_credential_variable_is_named_and_nothing_is_sent() {
    let h = Harness::new();
    h.write("list.txt", id_list(&active_blocked(2)));
    let mut cmd = h.command();
    cmd.env_remove("TWITTER_ACCESS_TOKEN_SECRET");
    let out = h.run_with(cmd, &["list.txt", "--log", "journal.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    assert!(err.contains("TWITTER_ACCESS_TOKEN_SECRET"), "{err}");
    assert!(
        !err.contains("TWITTER_CONSUMER_KEY"),
        "only the missing one: {err}"
    );
    assert!(h.emulator.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Journal guarantees
// ---------------------------------------------------------------------------------------------

#[test]
fn a_journal_of_another_account_is_refused() {
    let h = Harness::new();
    let log = h.path("journal.jsonl");
    h.write("demo.txt", id_list(&active_blocked(2)));
    let out = h.run(&["demo.txt", "--log", "journal.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let journal_before = std::fs::read(&log).unwrap();
    let destroys_before = h.requests_to(DESTROY).len();

    let (other, app) = builtin_account("other_owner");
    let other_before = h.emulator.blocked(other.user_id);
    h.write(
        "other.txt",
        other_before
            .iter()
            .map(|id| format!("{id}\n"))
            .collect::<String>(),
    );
    let out = h.run_with(
        h.command_as(&other, &app),
        &["other.txt", "--log", "journal.jsonl", "--rate", "1000/s"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stderr(&out).contains(&h.account.user_id.to_string()),
        "names the journal's account: {}",
        show(&out)
    );
    assert_eq!(h.requests_to(DESTROY).len(), destroys_before, "no destroy");
    assert_eq!(h.emulator.blocked(other.user_id), other_before);
    assert_eq!(
        std::fs::read(&log).unwrap(),
        journal_before,
        "journal untouched"
    );
}

#[test]
fn a_second_run_on_the_same_journal_is_refused() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.latency_ms = 100;
    });
    let log = h.path("journal.jsonl");
    let input = sample("block.js");
    let first = h.spawn_run(
        "first",
        &[
            input.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--rate",
            "1000/s",
            "--concurrency",
            "1",
        ],
    );
    assert!(
        wait_until(PATIENCE, || journal_len(&log) >= 1),
        "the first run started"
    );
    let verifies = h.requests_to(VERIFY).len();
    let out = h.run(&[
        input.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--rate",
        "1000/s",
    ]);
    let mut first = first;
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stderr(&out).contains("in use by another run"),
        "{}",
        show(&out)
    );
    assert_eq!(
        h.requests_to(VERIFY).len(),
        verifies,
        "the second run sent nothing"
    );
}

#[test]
fn a_torn_last_line_is_ignored_with_a_warning_and_the_rerun_works() {
    let h = Harness::new();
    let users = active_blocked(4);
    let log = h.path("journal.jsonl");
    h.write("three.txt", id_list(&users[..3]));
    let out = h.run(&["three.txt", "--log", "journal.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let intact = std::fs::read(&log).unwrap();
    // A record for the fourth target, cut short as by a crash mid-write.
    let mut torn = intact.clone();
    torn.extend_from_slice(format!(r#"{{"target":"{}","by":"id","outc"#, users[3].id).as_bytes());
    std::fs::write(&log, &torn).unwrap();

    h.write("four.txt", id_list(&users));
    let out = h.run(&["four.txt", "--log", "journal.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stderr(&out).contains("cut short"), "warns: {}", show(&out));
    let after = std::fs::read(&log).unwrap();
    assert!(after.starts_with(&intact), "earlier records intact");

    let sends = sends_per_target(&h);
    for (i, user) in users.iter().enumerate() {
        assert_eq!(
            sends.get(&user.id.to_string()),
            Some(&1),
            "target {i} sent once"
        );
    }
    let (records, bad) = common::journal_records_tolerant(&log);
    assert_eq!(bad, 1, "only the torn line is unreadable");
    assert_eq!(terminal_targets(&records).len(), 4);
    assert!(!h.blocked().contains(&users[3].id));
}

// ---------------------------------------------------------------------------------------------
// Interruptions and failures
// ---------------------------------------------------------------------------------------------

/// Starts a slow run over block.js, waits for a few records, and interrupts it with `stop`.
fn interrupted_run(h: &Harness, stop: impl FnOnce(&mut std::process::Child)) -> Output {
    let log = h.path("journal.jsonl");
    let input = sample("block.js");
    let mut child = h.spawn_run(
        "first",
        &[
            input.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--rate",
            "1000/s",
            "--concurrency",
            "2",
        ],
    );
    let started = wait_until(PATIENCE, || journal_len(&log) >= 6);
    stop(&mut child);
    let out = h.background_output("first", child);
    assert!(started, "the run recorded some targets: {}", show(&out));
    out
}

#[test]
fn a_killed_run_resumes_without_resending_finished_targets() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.latency_ms = 100;
    });
    let log = h.path("journal.jsonl");
    let _ = interrupted_run(&h, |child| {
        child.kill().expect("SIGKILL sent");
    });
    let (records, _) = common::journal_records_tolerant(&log);
    let done_before = terminal_targets(&records);
    assert!(
        done_before.len() < demo_blocked().len(),
        "killed midway: {} done",
        done_before.len()
    );

    h.emulator.update_config(|c| c.faults.latency_ms = 0);
    let input = sample("block.js");
    let out = h.run(&[
        input.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--rate",
        "1000/s",
        "--concurrency",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_resumed_cleanly(&h, &log, &done_before);
}

/// A signal mid-run: exit 130 with the summary and the resume command, a whole journal, and a
/// rerun that finishes without sending again what was done.
fn signal_stops_with_130_and_the_rerun_completes(signal: &str) {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.latency_ms = 100;
    });
    let log = h.path("journal.jsonl");
    let out = interrupted_run(&h, |child| {
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    });
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    let err = stderr(&out);
    // Said once, by the writer (the one task that owns the terminal).
    assert_eq!(
        err.matches("Interrupted: finishing the requests in flight")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("Resume with:"), "{err}");
    assert!(err.contains("bulk-unblock run"), "{err}");
    assert!(
        count_after(&stdout(&out), "requests sent:").is_some(),
        "summary: {}",
        show(&out)
    );

    // The journal is whole: every line complete and valid.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with('\n'));
    let (records, bad) = common::journal_records_tolerant(&log);
    assert_eq!(bad, 0);
    let done_before = terminal_targets(&records);
    assert!(done_before.len() < demo_blocked().len(), "stopped midway");
    // What was in flight finished: every request sent got its record.
    assert_eq!(h.destroyed_targets().len(), records.len());
    assert_eq!(
        count_after(&err, "Interrupted:"),
        Some((demo_blocked().len() - records.len()) as u64),
        "the count of targets not done: {err}"
    );

    h.emulator.update_config(|c| c.faults.latency_ms = 0);
    let input = sample("block.js");
    let out = h.run(&[
        input.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_resumed_cleanly(&h, &log, &done_before);
}

#[test]
fn ctrl_c_stops_with_130_and_the_rerun_completes() {
    signal_stops_with_130_and_the_rerun_completes("-INT");
}

#[test]
fn sigterm_stops_with_130_and_the_rerun_completes() {
    signal_stops_with_130_and_the_rerun_completes("-TERM");
}

#[test]
fn failed_targets_exit_1_and_the_rerun_sends_only_them() {
    let h = Harness::new();
    let users = active_blocked(6);
    let (done, failing) = users.split_at(3);
    h.write("first.txt", id_list(done));
    h.write("all.txt", id_list(&users));
    let run = |input: &str| {
        h.run(&[
            input,
            "--log",
            "journal.jsonl",
            "--rate",
            "1000/s",
            "--max-attempts",
            "2",
        ])
    };
    let out = run("first.txt");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    h.emulator
        .update_config(|c| c.faults.internal_error_rate = 1.0);
    let out = run("all.txt");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = stderr(&out);
    assert!(err.contains("3 targets failed"), "{err}");
    assert!(
        err.contains("bulk-unblock run all.txt"),
        "the rerun command: {err}"
    );
    let sends = sends_per_target(&h);
    for u in failing {
        assert_eq!(sends.get(&u.id.to_string()), Some(&2), "two attempts each");
    }
    for u in done {
        assert_eq!(
            sends.get(&u.id.to_string()),
            Some(&1),
            "done ones not resent"
        );
    }
    let (records, _) = common::journal_records_tolerant(&h.path("journal.jsonl"));
    let failed: BTreeSet<String> = records
        .iter()
        .filter(|r| r["outcome"] == "failed")
        .map(|r| r["target"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = failing.iter().map(|u| u.id.to_string()).collect();
    assert_eq!(failed, expected);

    h.emulator
        .update_config(|c| c.faults.internal_error_rate = 0.0);
    let out = run("all.txt");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let sends = sends_per_target(&h);
    for u in failing {
        assert_eq!(sends.get(&u.id.to_string()), Some(&3), "retried once more");
    }
    for u in done {
        assert_eq!(sends.get(&u.id.to_string()), Some(&1), "never resent");
    }
    let left: BTreeSet<u64> = h.blocked().into_iter().collect();
    assert!(users.iter().all(|u| !left.contains(&u.id)));
}

#[test]
fn a_rerun_naming_the_same_users_by_id_sends_nothing_again() {
    let h = Harness::new();
    let users = active_blocked(3);
    let names: String = users
        .iter()
        .map(|u| format!("@{}\n", u.screen_name))
        .collect();
    h.write("names.txt", names);
    h.write("ids.txt", id_list(&users));
    let out = h.run(&["names.txt", "--log", "journal.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(h.requests_to(DESTROY).len(), 3);

    // The server told the first run each user's ID; the journal keeps it, so the same users
    // listed by ID are already done.
    let out = h.run(&["ids.txt", "--log", "journal.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(h.requests_to(DESTROY).len(), 3, "nothing sent again");
    assert!(stdout(&out).contains("Nothing to do"), "{}", show(&out));
}

#[test]
fn ctrl_c_during_the_credentials_check_exits_130_and_sends_no_unblock() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.latency_ms = 3_000;
    });
    let list = h.write("list.txt", "12\n3554\n");
    let log = h.path("j.jsonl");
    let child = h.spawn_run(
        "early",
        &[
            list.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--rate",
            "1000/s",
        ],
    );
    // Wait until the credentials check has reached the (slow) server, then interrupt.
    let arrived = common::wait_until(std::time::Duration::from_secs(20), || {
        !h.requests_to("/1.1/account/verify_credentials.json")
            .is_empty()
    });
    assert!(arrived, "the credentials check reached the server");
    common::send_signal(&child, "-INT");
    let out = h.background_output("early", child);
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rerun the same command"),
        "{}",
        show(&out)
    );
    assert!(h.requests_to("/1.1/blocks/destroy.json").is_empty());
}

// ---------------------------------------------------------------------------------------------
// The credentials check before anything is concluded or sent
// ---------------------------------------------------------------------------------------------

#[test]
fn another_account_rerunning_a_finished_journal_is_refused_not_told_nothing_to_do() {
    let h = Harness::new();
    let log = h.path("journal.jsonl");
    h.write("list.txt", id_list(&active_blocked(3)));
    let args = ["list.txt", "--log", "journal.jsonl", "--rate", "1000/s"];
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let journal_before = std::fs::read(&log).unwrap();
    let destroys_before = h.requests_to(DESTROY).len();

    // The same command, the journal complete, but another account's credentials.
    let (other, app) = builtin_account("other_owner");
    let other_before = h.emulator.blocked(other.user_id);
    let out = h.run_with(h.command_as(&other, &app), &args);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(!stdout(&out).contains("Nothing to do"), "{}", show(&out));
    assert!(
        stderr(&out).contains(&h.account.user_id.to_string()),
        "names the journal's account: {}",
        show(&out)
    );
    assert_eq!(h.requests_to(DESTROY).len(), destroys_before, "no destroy");
    let verified_as: Vec<Option<String>> = h
        .requests_to(VERIFY)
        .iter()
        .map(|r| r.account.clone())
        .collect();
    assert_eq!(
        verified_as.last(),
        Some(&Some(other.user_id.to_string())),
        "the other account's credentials were checked"
    );
    assert_eq!(h.emulator.blocked(other.user_id), other_before);
    assert_eq!(
        std::fs::read(&log).unwrap(),
        journal_before,
        "journal untouched"
    );
}

/// A run whose first credentials check meets `fault`, switched off as soon as that check has
/// reached the server: the run must send the check again and finish.
fn a_fault_on_the_credentials_check_is_retried(fault: impl FnOnce(&mut Config)) -> Harness {
    let h = Harness::with_config(|c| {
        c.limits.window = Duration::from_secs(2);
        c.limits.retry_after = true;
        c.faults.all_endpoints = true;
        fault(c);
    });
    let users = active_blocked(3);
    let list = h.write("list.txt", id_list(&users));
    let log = h.path("journal.jsonl");
    let child = h.spawn_run(
        "run",
        &[
            list.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--rate",
            "1000/s",
        ],
    );
    let arrived = wait_until(PATIENCE, || !h.requests_to(VERIFY).is_empty());
    h.emulator.update_config(|c| {
        c.faults.all_endpoints = false;
        c.faults.over_capacity_rate = 0.0;
        c.faults.spurious_429_rate = 0.0;
    });
    let out = h.background_output("run", child);
    assert!(arrived, "the check reached the server: {}", show(&out));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let verifies = h.requests_to(VERIFY);
    assert!(verifies.len() >= 2, "sent again: {verifies:?}");
    assert_eq!(verifies.last().unwrap().status, 200);
    assert!(
        verifies[..verifies.len() - 1]
            .iter()
            .all(|r| r.status != 200)
    );
    // Nothing was sent before the credentials were good, and then each target once.
    let checked_at = verifies.last().unwrap().seq;
    let destroys = h.requests_to(DESTROY);
    assert!(destroys.iter().all(|r| r.seq > checked_at), "{destroys:?}");
    let mut sent = h.destroyed_targets();
    sent.sort();
    let mut expected: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
    expected.sort();
    assert_eq!(sent, expected);
    let left: BTreeSet<u64> = h.blocked().into_iter().collect();
    assert!(users.iter().all(|u| !left.contains(&u.id)));
    assert_eq!(journal_records(&log).len(), users.len());
    h
}

#[test]
fn a_server_fault_on_the_credentials_check_is_retried_and_the_run_completes() {
    let h = a_fault_on_the_credentials_check_is_retried(|c| {
        c.limits.enabled = false;
        c.faults.over_capacity_rate = 1.0;
    });
    let first = &h.requests_to(VERIFY)[0];
    assert_eq!((first.status, first.error_number()), (503, Some(130)));
}

#[test]
fn a_429_on_the_credentials_check_waits_for_retry_after_and_the_run_completes() {
    let h = a_fault_on_the_credentials_check_is_retried(|c| c.faults.spurious_429_rate = 1.0);
    let verifies = h.requests_to(VERIFY);
    assert_eq!(verifies[0].status, 429);
    // The first request opened the 2-second window: its 429 said `Retry-After: 2`, and the
    // check was not sent again before that.
    let waited = verifies[1].at_ms - verifies[0].at_ms;
    assert!(waited >= 1_950, "sent again after {waited} ms");
    assert_eq!(verifies.len(), 2, "one 429, then the answer: {verifies:?}");
}

#[test]
fn a_credentials_check_that_keeps_failing_stops_after_max_attempts() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.all_endpoints = true;
        c.faults.internal_error_rate = 1.0;
    });
    h.write("list.txt", id_list(&active_blocked(2)));
    let out = h.run(&[
        "list.txt",
        "--log",
        "journal.jsonl",
        "--rate",
        "1000/s",
        "--max-attempts",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let verifies = h.requests_to(VERIFY);
    assert_eq!(verifies.len(), 3, "{verifies:?}");
    assert!(verifies.iter().all(|r| r.status == 500));
    assert!(h.requests_to(DESTROY).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("3 times") && err.contains("nothing was sent"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// run --all
// ---------------------------------------------------------------------------------------------

const BLOCKS_IDS: &str = "/1.1/blocks/ids.json";

#[test]
fn a_dry_run_of_all_reads_the_list_into_memory_and_writes_nothing() {
    let h = Harness::new();
    let listed = demo_blocked()
        .iter()
        .filter(|u| u.state == UserState::Active)
        .count();
    let log = h.path("all.jsonl");
    let backup = h.path("all.jsonl.backup.csv");
    let out = h.run(&[
        "--all",
        "--log",
        log.to_str().unwrap(),
        "--dry-run",
        "--list-rate",
        "100/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    assert_eq!(
        count_after(&text, "targets read:"),
        Some(listed as u64),
        "{text}"
    );
    assert_eq!(
        count_after(&text, "left to do:"),
        Some(listed as u64),
        "{text}"
    );
    assert!(!h.requests_to(BLOCKS_IDS).is_empty(), "the list was read");
    let writes: Vec<_> = h
        .emulator
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "only GETs: {writes:?}");
    assert!(!backup.exists(), "no backup written");
    assert!(
        !h.path("all.jsonl.backup.csv.partial").exists(),
        "no partial"
    );
    assert!(!log.exists(), "no journal");
    let files: Vec<_> = std::fs::read_dir(h.dir.path()).unwrap().collect();
    assert!(files.is_empty(), "the dry run wrote {files:?}");
}

#[test]
fn all_on_an_account_that_blocks_nobody_says_so_and_exits_0() {
    let h = Harness::new();
    h.emulator.set_blocked(h.account.user_id, []);
    let log = h.path("all.jsonl");
    let all = [
        "--all",
        "--log",
        log.to_str().unwrap(),
        "--list-rate",
        "100/s",
    ];
    for round in 0..2 {
        let out = h.run(&all);
        assert_eq!(out.status.code(), Some(0), "round {round}: {}", show(&out));
        assert!(stdout(&out).contains("blocks nobody"), "{}", show(&out));
        // No empty backup is kept, so each run asks the server again.
        assert!(!h.path("all.jsonl.backup.csv").exists());
        assert_eq!(h.requests_to(BLOCKS_IDS).len(), round + 1);
    }
    let mut dry = all.to_vec();
    dry.push("--dry-run");
    let out = h.run(&dry);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).contains("blocks nobody"), "{}", show(&out));
    assert!(h.requests_to(DESTROY).is_empty());
}

#[test]
fn all_checks_the_journal_writable_before_exporting_the_list() {
    let h = Harness::new();
    let backup = h.path("list.csv");
    // Opens fine, but every write fails: the header must fail before hours of export.
    let out = h.run(&[
        "--all",
        "--log",
        "/dev/full",
        "--backup",
        backup.to_str().unwrap(),
        "--list-rate",
        "100/s",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stderr(&out).contains("No space left on device"),
        "{}",
        show(&out)
    );
    assert_eq!(
        h.requests_to(VERIFY).len(),
        1,
        "the credentials were checked first"
    );
    assert!(
        h.requests_to(BLOCKS_IDS).is_empty(),
        "the list was not read"
    );
    assert!(!backup.exists());
}

// ---------------------------------------------------------------------------------------------
// --skip-invalid names what it skipped
// ---------------------------------------------------------------------------------------------

/// The `FILE:LINE` of every stderr line naming an unusable line of `file`.
fn listed_lines(err: &str, file: &str) -> Vec<String> {
    err.lines()
        .filter(|l| l.starts_with(&format!("{file}:")))
        .map(|l| l.split(": ").next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn skip_invalid_names_each_skipped_line_in_the_summary_and_the_preview() {
    let h = Harness::new();
    let users = active_blocked(2);
    let mut list = format!("{}\n-5\nbad name!\n{}\n", users[0].id, users[1].id);
    list.extend((1..=22).map(|i| format!("-{i}\n")));
    h.write("list.txt", list);
    let run = |extra: &[&str]| {
        let mut args = vec!["list.txt", "--log", "journal.jsonl", "--skip-invalid"];
        args.extend(FAST);
        args.extend(extra);
        h.run(&args)
    };
    // Lines 1 and 4 are valid: the first 20 unusable ones are 2, 3 and 5 to 22.
    let expected: Vec<String> = [2, 3]
        .into_iter()
        .chain(5..=22)
        .map(|n| format!("list.txt:{n}"))
        .collect();
    for extra in [&["--dry-run"][..], &[]] {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", show(&out));
        let err = stderr(&out);
        assert_eq!(listed_lines(&err, "list.txt"), expected, "{err}");
        assert!(err.contains("list.txt:3: "), "with the reason: {err}");
        assert!(err.contains("… and 4 more"), "{err}");
        assert!(err.contains("24 unusable input lines skipped"), "{err}");
        assert_eq!(
            count_after(&stdout(&out), "invalid lines skipped:"),
            Some(24),
            "{}",
            show(&out)
        );
    }
    assert_eq!(h.requests_to(DESTROY).len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Journals of earlier releases
// ---------------------------------------------------------------------------------------------

/// A journal written by the release before the network seam (`5e7cb02`, X only: no `network`
/// in its header, `by` one of X's kinds), left by a run of `sample-data/block.js` killed
/// after 45 results.
const EARLIER_JOURNAL: &str = "tests/fixtures/journal-before-networks.jsonl";

#[test]
fn a_journal_written_before_the_network_seam_resumes_where_it_stopped() {
    let h = Harness::new();
    let log = h.path("journal.jsonl");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(EARLIER_JOURNAL),
        &log,
    )
    .expect("copy the journal");
    let header = journal_header(&log);
    assert!(header.get("network").is_none(), "written before networks");
    let earlier = journal_records(&log);
    let done = terminal_targets(&earlier);
    assert_eq!(done.len(), 45, "the fixture holds 45 results");

    let input = sample("block.js");
    let mut args = vec![input.to_str().unwrap(), "--log", log.to_str().unwrap()];
    args.extend(FAST);
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        stderr(&out).contains(&format!("{} already done", done.len())),
        "{}",
        show(&out)
    );

    // Nothing the earlier run finished is sent again, everything else is sent once.
    let sends = sends_per_target(&h);
    let blocked = demo_blocked();
    for user in &blocked {
        let id = user.id.to_string();
        let expected = usize::from(!done.contains(&id));
        assert_eq!(sends.get(&id).copied().unwrap_or(0), expected, "{id}");
    }
    // The earlier records and header stay as they were; one terminal record per target.
    assert_eq!(journal_header(&log), header);
    let records = journal_records(&log);
    assert_eq!(records[..earlier.len()], earlier[..]);
    let per_target = outcomes_by_target(&records);
    assert_eq!(per_target.len(), blocked.len(), "every target is recorded");
    for (target, outcomes) in &per_target {
        let terminal = outcomes.iter().filter(|o| is_terminal_outcome(o)).count();
        assert_eq!(terminal, 1, "{target}: {outcomes:?}");
    }
}
