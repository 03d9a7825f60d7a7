//! Reliability: the promises a long run makes, tested against the real binary and the emulator.
//!
//! - Crash safety: runs killed (SIGKILL) or interrupted (SIGINT, SIGTERM) at random moments and
//!   rerun until done leave every target unblocked, exactly one terminal record per target, and
//!   never send again a target the journal already called done.
//! - Soak: 20,000 targets through mixed faults and short rate windows end terminal and correct,
//!   in flat memory, without a storm of 429s.
//! - Disk: a journal that cannot be written, before the run or in the middle of it, stops the
//!   run with a message naming the file and never leaves a change on the server unaccounted for.
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

use bulk_unblock::emulator::{EndpointLimit, HeaderMode, SeedUser};
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
/// Runs interrupted by each graceful signal.
const INTERRUPTS: usize = 6;

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

/// Runs interrupted by `sig` at random moments while sending: each exits 130 with the count of
/// targets not done and the resume command, leaves a whole journal holding a record for every
/// request it sent, and the last run finishes with every target sent exactly once.
fn interrupted_runs_resume_cleanly(sig: &str, default_seed: u64) {
    let seed = test_seed(default_seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let h = slow_harness(seed);
    let (input, targets) = block_made_up_users(&h, CRASH_TARGETS, 8_000_000_000);
    let log = h.path("journal.jsonl");
    let args = crash_args(&input);

    let mut interrupted = 0;
    for i in 0..INTERRUPTS {
        let name = format!("run{i}");
        let sent_before = destroys(&h).len();
        let mut child = h.spawn_run(&name, &args);
        // Signals are the run's to handle once it sends: before that (reading input, checking
        // credentials) the default action applies, and nothing has been sent to stop.
        let mut exited = false;
        let sending = wait_until(PATIENCE, || {
            exited = matches!(child.try_wait(), Ok(Some(_)));
            exited || destroys(&h).len() > sent_before
        });
        assert!(sending, "run {i} started sending");
        std::thread::sleep(Duration::from_millis(rng.random_range(0..=300)));
        if exited || child.try_wait().expect("child polled").is_some() {
            let out = h.background_output(&name, child);
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
            break;
        }
        signal(&child, sig);
        let out = h.background_output(&name, child);
        interrupted += 1;
        assert_eq!(out.status.code(), Some(130), "{}", show(&out));
        let err = stderr(&out);
        assert!(err.contains("Resume with:"), "{err}");
        assert!(err.contains(&format!("bulk-unblock run {input}")), "{err}");

        let text = std::fs::read_to_string(&log).expect("journal written");
        assert!(text.ends_with('\n'), "the journal ends with a whole line");
        let (records, bad) = journal_records_tolerant(&log);
        assert_eq!(bad, 0, "no damaged line");
        assert_eq!(
            destroys(&h).len(),
            records.len(),
            "every request sent got its record before the exit"
        );
        let done = terminal_set(&records).len();
        assert_eq!(
            count_after(&err, "Interrupted:"),
            Some((targets.len() - done) as u64),
            "the count of targets not done: {err}"
        );
        println!("{sig} {i}: {done} targets done");
    }
    assert!(
        interrupted >= INTERRUPTS - 1,
        "the runs were interrupted mid-way: {interrupted}"
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
    if let (Some(quarter), Some(late)) = (rss_quarter, rss_late) {
        assert!(
            late < quarter + SOAK_RSS_GROWTH_KIB,
            "memory stays flat: {quarter} KiB at a quarter, {late} KiB near the end"
        );
    }
}
