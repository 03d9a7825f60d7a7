//! Reliability: the promises a long run makes, tested against the real binary and the emulator.
//!
//! - Crash safety: runs killed (SIGKILL) or interrupted (SIGINT, SIGTERM) at random moments and
//!   rerun until done leave every target unblocked, exactly one terminal record per target, and
//!   never send again a target the journal already called done.
//! - Soak: 20,000 targets through mixed faults and short rate windows end terminal and correct,
//!   in flat memory, without a storm of 429s.
//! - Disk: a journal that cannot be written, before the run or in the middle of it, stops the
//!   run with a message naming the file and never leaves a change on the server unaccounted for.
//! - Damaged input: a damaged `block.js` entry costs only itself, a `block.js` cut short is
//!   refused even with `--skip-invalid`, and a first line taken for a CSV header is said so.
//!
//! The random moments come from one seed, printed at the start of each test
//! (`BULK_UNBLOCK_TEST_SEED` overrides it), so a failure can be replayed. Two runs on one
//! journal at once and a journal of another account are covered in `tests/run.rs`
//! (`a_second_run_on_the_same_journal_is_refused`, `a_journal_of_another_account_is_refused`).
//!
//! Linux only: the tests read `/proc`, write to `/dev/full` and limit file sizes with `ulimit`.

#![cfg(target_os = "linux")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use bulk_unblock::emulator::x::{EndpointLimit, HeaderMode, SeedUser};
use common::{
    Harness, count_after, journal_records_tolerant, outcomes_by_target, proc_status_kib, show,
    stderr, terminal_set, test_seed, wait_until,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DESTROY: &str = "/1.1/blocks/destroy.json";

/// How long a test waits for a background run to reach a state before failing.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `n` made-up users, all blocked by the harness account (and nobody else blocked). Every fifth
/// is listed by screen name, the rest by ID, so both kinds of target are resumed. Returns the
/// input file's name and every target as journal and request log spell it (lowercase).
fn block_made_up_users(h: &Harness, n: u64, base: u64) -> (String, BTreeSet<String>) {
    let users: Vec<SeedUser> = (0..n)
        .map(|i| SeedUser::active(base + i, &format!("rel_{i}"), &format!("Reliability {i}")))
        .collect();
    h.emulator.add_users(users.clone());
    h.emulator
        .set_blocked(h.account.user_id, users.iter().map(|u| u.id));
    let mut list = String::new();
    let mut targets = BTreeSet::new();
    for (i, u) in users.iter().enumerate() {
        let target = if i % 5 == 0 {
            list.push_str(&format!("@{}\n", u.screen_name));
            u.screen_name.to_lowercase()
        } else {
            list.push_str(&format!("{}\n", u.id));
            u.id.to_string()
        };
        targets.insert(target);
    }
    h.write("targets.txt", list);
    ("targets.txt".to_owned(), targets)
}

/// Every `blocks/destroy` request as `(arrival seq, target)`, the target as
/// [`Harness::destroyed_targets`] spells it.
fn destroys(h: &Harness) -> Vec<(u64, String)> {
    h.requests_to(DESTROY)
        .into_iter()
        .filter_map(|r| {
            let target = r
                .params
                .get("user_id")
                .cloned()
                .or_else(|| r.params.get("screen_name").map(|n| n.to_lowercase()))?;
            Some((r.seq, target))
        })
        .collect()
}

/// The checks every test ends with once a run completed: nothing is blocked any more, the
/// journal names exactly `targets`, each with exactly one terminal record. Returns how many
/// lines of the journal could not be read (torn by a kill).
fn assert_all_done(h: &Harness, log: &Path, targets: &BTreeSet<String>) -> usize {
    assert_eq!(h.blocked(), Vec::<u64>::new(), "every target is unblocked");
    let (records, bad) = journal_records_tolerant(log);
    let per_target = outcomes_by_target(&records);
    let recorded: BTreeSet<String> = per_target.keys().cloned().collect();
    assert_eq!(&recorded, targets, "the journal names exactly the targets");
    for (target, outcomes) in &per_target {
        let terminal = outcomes
            .iter()
            .filter(|o| common::is_terminal_outcome(o))
            .count();
        assert_eq!(
            terminal, 1,
            "{target}: exactly one terminal record: {outcomes:?}"
        );
        assert!(
            outcomes.iter().all(|o| o == "unblocked"),
            "{target}: every target was blocked and active: {outcomes:?}"
        );
    }
    bad
}

/// Whether the process has its own handlers for both SIGINT and SIGTERM yet (`SigCgt` in
/// `/proc/PID/status`, a hex mask with bit `n - 1` for signal `n`).
fn catches_int_and_term(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let Some(mask) = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
    else {
        return false;
    };
    let caught = |sig: i32| mask & (1 << (sig - 1)) != 0;
    caught(libc::SIGINT) && caught(libc::SIGTERM)
}

/// Sends `signal` (`-INT`, `-TERM`) to a child.
fn signal(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} delivered");
}

// ---------------------------------------------------------------------------------------------
// Crash safety
// ---------------------------------------------------------------------------------------------

/// Targets of the crash tests: enough that the kills all land before the work runs out.
const CRASH_TARGETS: u64 = 400;
/// Runs killed with SIGKILL before one is allowed to finish.
const KILLS: usize = 24;
/// Runs interrupted by each graceful signal before one is allowed to finish.
const INTERRUPTS: usize = 24;
/// Every third interrupt lands within this long of the signal handlers being installed: the
/// credentials check, the run's first request, is then still waiting for the emulator's
/// 40–60 ms latency, so these interrupts land during startup.
const STARTUP_MOMENT_MS: u64 = 30;
/// The other interrupts land within this long of the handlers being installed: at startup or,
/// mostly, while sending.
const ANY_MOMENT_MS: u64 = 300;

/// A harness whose destroys take 40–60 ms, so a run of the crash tests lasts a few seconds.
fn slow_harness(seed: u64) -> Harness {
    Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.seed = seed;
        c.faults.latency_ms = 40;
        c.faults.jitter_ms = 20;
    })
}

fn crash_args(input: &str) -> Vec<&str> {
    vec![
        input,
        "--log",
        "journal.jsonl",
        "--rate",
        "1000/s",
        "--concurrency",
        "4",
    ]
}

#[test]
fn runs_killed_at_random_moments_resume_without_sending_a_done_target_again() {
    let seed = test_seed(0x5eed_c0de);
    let mut rng = StdRng::seed_from_u64(seed);
    let h = slow_harness(seed);
    let (input, targets) = block_made_up_users(&h, CRASH_TARGETS, 7_000_000_000);
    let log = h.path("journal.jsonl");
    let args = crash_args(&input);
    let start = Instant::now();

    // For each target, the request-log length when the journal first held a terminal record
    // for it: any destroy of that target arriving later is a resend of a finished target.
    let mut done_since: BTreeMap<String, u64> = BTreeMap::new();
    let mut landed = 0;
    for i in 0..KILLS {
        // Startup (process, input, credentials check, journal) takes some tens of ms, so the
        // range covers kills before, during and after the header is written, and mid-sending.
        let after = Duration::from_millis(rng.random_range(0..=350));
        let mut child = h.spawn_run(&format!("run{i}"), &args);
        std::thread::sleep(after);
        if let Some(status) = child.try_wait().expect("child polled") {
            let out = h.background_output(&format!("run{i}"), child);
            assert_eq!(status.code(), Some(0), "{}", show(&out));
            break;
        }
        child.kill().expect("SIGKILL sent");
        let _ = child.wait();
        landed += 1;
        let seen = h.emulator.requests().len() as u64;
        let (records, _) = journal_records_tolerant(&log);
        for target in terminal_set(&records) {
            done_since.entry(target).or_insert(seen);
        }
        println!(
            "kill {i} after {after:?}: {} targets done",
            done_since.len()
        );
    }
    assert!(
        landed >= 20,
        "at least 20 kills landed on a live run: {landed}"
    );
    assert!(
        done_since.len() < targets.len(),
        "the killed runs left work for the last run"
    );

    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let sent = destroys(&h);
    let resent: Vec<&(u64, String)> = sent
        .iter()
        .filter(|(seq, target)| done_since.get(target).is_some_and(|since| seq >= since))
        .collect();
    assert!(
        resent.is_empty(),
        "targets sent again after the journal called them done: {resent:?}"
    );
    let torn = assert_all_done(&h, &log, &targets);
    assert!(torn <= landed, "at most one torn line per kill: {torn}");
    let mut per_target: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, t) in &sent {
        *per_target.entry(t).or_default() += 1;
    }
    println!(
        "{landed} kills; {} destroys for {} targets ({} targets sent twice or more, all in \
         flight at a kill); {} torn lines; {:?}",
        sent.len(),
        targets.len(),
        per_target.values().filter(|&&n| n > 1).count(),
        torn,
        start.elapsed()
    );
}

/// Runs interrupted by `sig` at random moments, during startup and while sending: each exits
/// 130 (or 0, had it finished) and says how to resume, leaves a whole journal holding a record
/// for every request it sent, and the last run finishes with every target sent exactly once (so
/// no target the journal called done was sent again).
fn interrupted_runs_resume_cleanly(sig: &str, default_seed: u64) {
    let seed = test_seed(default_seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let h = slow_harness(seed);
    let (input, targets) = block_made_up_users(&h, CRASH_TARGETS, 8_000_000_000);
    let log = h.path("journal.jsonl");
    let args = crash_args(&input);
    let start = Instant::now();

    let mut interrupted = 0;
    let mut at_startup = 0;
    for i in 0..INTERRUPTS {
        let name = format!("run{i}");
        let sent_before = destroys(&h).len();
        let mut child = h.spawn_run(&name, &args);
        // The run installs its handlers before its first request, the credentials check, so
        // the moments count from then. Before that (reading the input, opening the journal)
        // nothing has been sent and a signal ends the process by its default action, as it
        // ends any program; the status then reads "killed by signal", not an exit code.
        let pid = child.id();
        let mut exited = false;
        let deadline = Instant::now() + PATIENCE;
        while !exited && !catches_int_and_term(pid) && Instant::now() < deadline {
            exited = matches!(child.try_wait(), Ok(Some(_)));
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            exited || catches_int_and_term(pid),
            "run {i} installed its signal handlers"
        );
        let within = if i % 3 == 0 {
            STARTUP_MOMENT_MS
        } else {
            ANY_MOMENT_MS
        };
        let after = Duration::from_millis(rng.random_range(0..=within));
        std::thread::sleep(after);
        if exited || child.try_wait().expect("child polled").is_some() {
            let out = h.background_output(&name, child);
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
            break;
        }
        signal(&child, sig);
        let out = h.background_output(&name, child);
        let err = stderr(&out);
        let (records, bad) = journal_records_tolerant(&log);
        let done = terminal_set(&records).len();
        if out.status.code() == Some(0) && done == targets.len() {
            // The signal met a run that had just finished its work.
            break;
        }
        interrupted += 1;
        assert_eq!(out.status.code(), Some(130), "{}", show(&out));
        let sent = destroys(&h).len();
        if sent == sent_before {
            at_startup += 1;
        }
        if err.contains("Resume with:") {
            assert!(err.contains(&format!("bulk-unblock run {input}")), "{err}");
            assert_eq!(
                count_after(&err, "Interrupted:"),
                Some((targets.len() - done) as u64),
                "the count of targets not done: {err}"
            );
        } else {
            // Stopped during the credentials check, before the plan was acted on.
            assert_eq!(sent, sent_before, "{err}");
            assert!(err.contains("rerun the same command to resume"), "{err}");
        }
        if log.exists() {
            let text = std::fs::read_to_string(&log).expect("journal readable");
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "the journal ends with a whole line"
            );
        }
        assert_eq!(bad, 0, "no damaged line");
        assert_eq!(
            sent,
            records.len(),
            "every request sent got its record before the exit"
        );
        println!(
            "{sig} {i} after {after:?}: {} sent by this run, {done} targets done",
            sent - sent_before
        );
    }
    assert!(
        interrupted >= 20,
        "at least 20 interrupts landed on a live run: {interrupted}"
    );
    assert!(
        at_startup >= 3,
        "some interrupts landed during startup, before the first unblock: {at_startup}"
    );

    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let torn = assert_all_done(&h, &log, &targets);
    assert_eq!(torn, 0, "a graceful stop never tears a line");
    let mut per_target: BTreeMap<String, usize> = BTreeMap::new();
    for (_, t) in destroys(&h) {
        *per_target.entry(t).or_default() += 1;
    }
    let twice: Vec<_> = per_target.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "every target sent exactly once: {twice:?}"
    );
    assert_eq!(per_target.len(), targets.len());
    println!(
        "{interrupted} interrupts by {sig}, {at_startup} during startup; {:?}",
        start.elapsed()
    );
}

#[test]
fn runs_interrupted_by_ctrl_c_resume_cleanly() {
    interrupted_runs_resume_cleanly("-INT", 0x1417);
}

#[test]
fn runs_interrupted_by_sigterm_resume_cleanly() {
    interrupted_runs_resume_cleanly("-TERM", 0x7e43);
}

#[test]
fn a_second_ctrl_c_quits_at_once_and_leaves_a_valid_journal() {
    let h = slow_harness(0);
    let (input, targets) = block_made_up_users(&h, 100, 8_500_000_000);
    let log = h.path("journal.jsonl");
    let args = crash_args(&input);
    let mut child = h.spawn_run("first", &args);
    assert!(
        wait_until(PATIENCE, || common::journal_len(&log) >= 10),
        "the run recorded some targets"
    );
    // From now on every destroy hangs far longer than a test waits: the first Ctrl-C waits for
    // them, the second must not.
    h.emulator.update_config(|c| {
        c.faults.stall_rate = 1.0;
        c.faults.stall = Duration::from_secs(25);
    });
    let stalled = || {
        h.requests_to(DESTROY)
            .iter()
            .filter(|r| r.fault == Some(bulk_unblock::emulator::FaultKind::Stall))
            .count()
    };
    assert!(wait_until(PATIENCE, || stalled() >= 1), "a request stalls");
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().expect("child polled").is_none(),
        "the first Ctrl-C waits for the requests in flight"
    );
    let second = Instant::now();
    signal(&child, "-INT");
    let quit = wait_until(Duration::from_secs(5), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let out = h.background_output("first", child);
    assert!(quit, "the second Ctrl-C quits at once: {}", show(&out));
    println!("quit {:?} after the second Ctrl-C", second.elapsed());
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    let text = std::fs::read_to_string(&log).expect("journal written");
    assert!(text.ends_with('\n'), "the journal ends with a whole line");
    let (records, bad) = journal_records_tolerant(&log);
    assert_eq!(bad, 0, "no damaged line");
    let done = terminal_set(&records);
    let seen = h.emulator.requests().len() as u64;

    h.emulator.update_config(|c| c.faults.stall_rate = 0.0);
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_all_done(&h, &log, &targets);
    let resent: Vec<_> = destroys(&h)
        .into_iter()
        .filter(|(seq, t)| *seq >= seen && done.contains(t))
        .collect();
    assert!(resent.is_empty(), "done targets sent again: {resent:?}");
}

// ---------------------------------------------------------------------------------------------
// Disk and files
// ---------------------------------------------------------------------------------------------

#[test]
fn a_journal_that_cannot_be_created_stops_the_run_before_any_request() {
    let h = Harness::new();
    let (input, _) = block_made_up_users(&h, 5, 9_000_000_000);
    let before = h.blocked();
    // A directory that is really a file: no user, root included, can create the journal.
    h.write("somefile", "not a directory\n");
    let log = h.path("somefile").join("journal.jsonl");
    let out = h.run(&[&input, "--log", log.to_str().unwrap(), "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    assert!(err.contains(log.to_str().unwrap()), "names the file: {err}");
    assert!(err.contains("Not a directory"), "the OS error: {err}");
    assert!(h.emulator.requests().is_empty(), "no request at all");
    assert_eq!(h.blocked(), before);
}

#[test]
fn a_journal_that_cannot_take_its_header_stops_the_run_before_any_destroy() {
    let h = Harness::new();
    let (input, _) = block_made_up_users(&h, 5, 9_100_000_000);
    let before = h.blocked();
    // Opens fine, and every write fails with ENOSPC: the header (written and synced before the
    // first destroy, once the credentials named the account) is what proves it unwritable.
    let out = h.run(&[&input, "--log", "/dev/full", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    assert!(err.contains("/dev/full"), "names the file: {err}");
    assert!(
        err.contains("No space left on device"),
        "the OS error: {err}"
    );
    assert!(h.requests_to(DESTROY).is_empty(), "no destroy sent");
    assert_eq!(h.blocked(), before);
}

#[test]
fn a_journal_that_fails_mid_run_stops_it_and_names_every_unrecorded_target() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.latency_ms = 20;
    });
    let (input, targets) = block_made_up_users(&h, 100, 9_200_000_000);
    let log = h.path("journal.jsonl");
    // 4 KiB of file: the header and about twenty records fit, then writes fail with EFBIG.
    // SIGXFSZ is ignored so the write returns the error instead of killing the process; the
    // disposition survives exec. Output goes to pipes, which the limit does not cover.
    let cmd = h.command_through_shell("ulimit -f 4 && trap '' XFSZ || exit 99");
    let args = crash_args(&input);
    let out = h.run_with(cmd, &args);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot write to journal journal.jsonl"),
        "names the file: {err}"
    );
    assert!(err.contains("File too large"), "the OS error: {err}");
    assert!(
        err.contains(&format!("resume with:\n  bulk-unblock run {input}")),
        "how to finish: {err}"
    );

    // Stopped scheduling: only what was in flight went out after the failure.
    let sent = destroys(&h);
    assert!(
        sent.len() < targets.len() / 2,
        "the run stopped early: {} sent",
        sent.len()
    );
    // Every change on the server is either in the journal or named on stderr.
    let (records, _) = journal_records_tolerant(&log);
    let recorded = terminal_set(&records);
    let listed: BTreeSet<String> = err
        .lines()
        .skip_while(|l| !l.contains("are not in the journal"))
        .skip(1)
        .map_while(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_lowercase)
        .collect();
    assert!(
        !listed.is_empty(),
        "the failed write's target is named: {err}"
    );
    let changed: BTreeSet<String> = sent.iter().map(|(_, t)| t.clone()).collect();
    let accounted: BTreeSet<String> = recorded.union(&listed).cloned().collect();
    assert_eq!(
        changed,
        accounted,
        "sent = recorded + named (recorded {}, named {})",
        recorded.len(),
        listed.len()
    );
    let not_started = err
        .lines()
        .find(|l| l.contains("targets were not started"))
        .and_then(|l| l.split_whitespace().next()?.parse::<usize>().ok());
    assert_eq!(
        not_started,
        Some(targets.len() - changed.len()),
        "the count of targets never sent: {err}"
    );
    let still_blocked = h.blocked().len();
    assert_eq!(
        still_blocked,
        targets.len() - changed.len(),
        "what was sent was done"
    );

    // Room again: the rerun finishes, sending again only what the journal lacks.
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let torn = assert_all_done(&h, &log, &targets);
    assert!(torn <= 1, "at most the failed line is torn: {torn}");
    let resent = destroys(&h).len() - sent.len();
    assert_eq!(
        resent,
        targets.len() - recorded.len(),
        "only the rest is sent"
    );
}

// ---------------------------------------------------------------------------------------------
// Damaged input
// ---------------------------------------------------------------------------------------------

/// One data-archive entry as the site writes it: five lines.
fn archive_entry(id: u64) -> String {
    format!("  {{\n    \"blocking\" : {{\n      \"accountId\" : \"{id}\"\n    }}\n  }}")
}

#[test]
fn a_damaged_block_js_entry_costs_only_itself_and_a_file_cut_short_is_refused() {
    let h = Harness::new();
    let users: Vec<SeedUser> = (0..4)
        .map(|i| SeedUser::active(9_300_000_000 + i, &format!("arc_{i}"), "Archived"))
        .collect();
    h.emulator.add_users(users.clone());
    h.emulator
        .set_blocked(h.account.user_id, users.iter().map(|u| u.id));
    let ids: Vec<u64> = users.iter().map(|u| u.id).collect();
    // The second entry (lines 7 to 11) has lost a closing quote; the third starts on line 12.
    let damaged =
        archive_entry(ids[1]).replacen(&format!("\"{}\"", ids[1]), &format!("\"{}", ids[1]), 1);
    let body = [
        archive_entry(ids[0]),
        damaged,
        archive_entry(ids[2]),
        archive_entry(ids[3]),
    ]
    .join(",\n");
    let text = format!("window.YTD.block.part0 = [\n{body}\n]\n");
    h.write("block.js", &text);
    h.write("cut.js", &text[..text.find(&ids[2].to_string()).unwrap()]);

    // Cut short inside the third entry: what was past the cut is unknown, so the file is
    // refused as a whole, with --skip-invalid too.
    for skip in [&[][..], &["--skip-invalid"][..]] {
        let args = [
            &["cut.js", "--log", "cut.jsonl", "--rate", "1000/s"][..],
            skip,
        ]
        .concat();
        let out = h.run(&args);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        let err = stderr(&out);
        assert!(
            err.contains("cut.js:12: archive entry is cut short"),
            "names the place: {err}"
        );
        assert!(err.contains("--skip-invalid does not apply"), "{err}");
    }
    assert!(h.emulator.requests().is_empty(), "nothing was sent");

    // A damaged entry is named with the line it starts on: without --skip-invalid nothing is
    // sent; with it, every other entry, before and after the damage, is unblocked.
    let out = h.run(&["block.js", "--log", "journal.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.contains("block.js:7: archive entry is not valid JSON"),
        "{err}"
    );
    assert!(h.emulator.requests().is_empty(), "nothing was sent");
    let out = h.run(&[
        "block.js",
        "--log",
        "journal.jsonl",
        "--rate",
        "1000/s",
        "--skip-invalid",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(h.blocked(), vec![ids[1]], "only the damaged entry is left");
    let sent: BTreeSet<String> = destroys(&h).into_iter().map(|(_, t)| t).collect();
    let expected: BTreeSet<String> = [ids[0], ids[2], ids[3]]
        .iter()
        .map(u64::to_string)
        .collect();
    assert_eq!(sent, expected);
}

#[test]
fn a_list_starting_with_a_column_name_is_read_as_a_csv_and_says_so() {
    let h = Harness::new();
    h.write("names.txt", "handle\njack\n");
    let out = h.run(&["names.txt", "--log", "journal.jsonl", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.contains("names.txt:1: taken as a CSV header (column `handle`)"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("targets read:            1\n"), "{stdout}");
    assert!(h.emulator.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Soak
// ---------------------------------------------------------------------------------------------

/// Targets of the soak.
const SOAK_TARGETS: u64 = 20_000;
/// The soak's destroy window: short, with honest `x-rate-limit-*` headers.
const SOAK_WINDOW: Duration = Duration::from_secs(2);
/// Destroys allowed per window: below what the run could do unpaced, so the windows bind.
const SOAK_LIMIT: u32 = 1_000;
/// The child's peak resident memory must stay under this: far above a healthy run, well below
/// what a leak per target over 20,000 targets would reach.
const SOAK_MAX_RSS_KIB: u64 = 300 * 1024;
/// How much the resident memory may grow between a quarter and the end of the soak: 15,000
/// targets leaking 2 KiB each would exceed it.
const SOAK_RSS_GROWTH_KIB: u64 = 32 * 1024;

#[test]
fn a_soak_of_20000_targets_through_faults_ends_correct_in_flat_memory() {
    let seed = test_seed(0x50a4);
    let h = Harness::with_config(|c| {
        c.limits.enabled = true;
        c.limits.window = SOAK_WINDOW;
        c.limits.destroy = EndpointLimit::new(SOAK_LIMIT, HeaderMode::Headers);
        // 10% of destroys meet a fault: 503, 500, an answer lost after acting, or a stall
        // shorter than the run's --timeout.
        c.faults.seed = seed;
        c.faults.over_capacity_rate = 0.03;
        c.faults.internal_error_rate = 0.03;
        c.faults.drop_after_acting_rate = 0.02;
        c.faults.stall_rate = 0.02;
        c.faults.stall = Duration::from_millis(300);
    });
    let ids: Vec<u64> = (0..SOAK_TARGETS).map(|i| 6_000_000_000 + i).collect();
    h.emulator
        .set_blocked(h.account.user_id, ids.iter().copied());
    h.write(
        "soak.txt",
        ids.iter().map(|id| format!("{id}\n")).collect::<String>(),
    );
    let log = h.path("journal.jsonl");

    let start = Instant::now();
    let mut child = h.spawn_run(
        "soak",
        &[
            "soak.txt",
            "--log",
            "journal.jsonl",
            "--rate",
            "5000/s",
            "--concurrency",
            "32",
            "--timeout",
            "3s",
        ],
    );
    let pid = child.id();
    // VmHWM is the high-water mark, so the last reading before the exit is the peak; VmRSS at
    // a quarter and at the end of the work shows whether memory grows with the targets done.
    let mut peak_kib = 0;
    let mut rss_quarter = None;
    let mut rss_late = None;
    let exited = wait_until(Duration::from_secs(300), || {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if let Some(hwm) = proc_status_kib(pid, "VmHWM") {
            peak_kib = peak_kib.max(hwm);
        }
        let done = common::journal_len(&log) as u64;
        if done >= SOAK_TARGETS / 4 && rss_quarter.is_none() {
            rss_quarter = proc_status_kib(pid, "VmRSS");
        }
        if done >= SOAK_TARGETS * 95 / 100 {
            rss_late = proc_status_kib(pid, "VmRSS").or(rss_late);
        }
        false
    });
    if !exited {
        let _ = child.kill();
    }
    let out = h.background_output("soak", child);
    let elapsed = start.elapsed();
    assert!(exited, "the soak finished in time: {}", show(&out));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let stats = h.emulator.stats();
    let requests = h.requests_to(DESTROY);
    let faults = requests.iter().filter(|r| r.fault.is_some()).count();
    println!(
        "soak: {SOAK_TARGETS} targets in {elapsed:?}; {} destroys, {faults} faults injected, \
         {} answered 429 ({} arrived in a spent window); peak RSS {} MiB (RSS {:?} KiB at a \
         quarter, {:?} KiB near the end)",
        requests.len(),
        stats.rate_limited,
        stats.window_spent,
        peak_kib / 1024,
        rss_quarter,
        rss_late,
    );

    // The summary shows how long the pacer waited on the windows.
    println!("{}", String::from_utf8_lossy(&out.stdout));
    let targets: BTreeSet<String> = ids.iter().map(u64::to_string).collect();
    let torn = assert_all_done(&h, &log, &targets);
    assert_eq!(torn, 0, "no damaged line");
    assert!(
        faults as u64 >= SOAK_TARGETS / 20,
        "the faults happened: {faults}"
    );
    assert!(
        stats.rate_limited <= 10,
        "no 429 storm: {} answered 429",
        stats.rate_limited
    );
    assert!(peak_kib > 0, "the child's memory was read");
    assert!(
        peak_kib < SOAK_MAX_RSS_KIB,
        "peak RSS {} MiB stays under {} MiB",
        peak_kib / 1024,
        SOAK_MAX_RSS_KIB / 1024
    );
    // On Linux /proc always has the readings while the run lives, so a missing one means the
    // check did not happen: that fails rather than passing unseen.
    let (Some(quarter), Some(late)) = (rss_quarter, rss_late) else {
        panic!(
            "the resident memory was not read at a quarter ({rss_quarter:?} KiB) and near the \
             end ({rss_late:?} KiB) of the soak"
        );
    };
    assert!(
        late < quarter + SOAK_RSS_GROWTH_KIB,
        "memory stays flat: {quarter} KiB at a quarter, {late} KiB near the end"
    );
}
