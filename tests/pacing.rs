//! Pacing end to end: the real binary against the emulator's rate windows, clock skew and faults.
//!
//! Windows are a few seconds long so each scenario runs several of them quickly. What is asserted
//! is what the server saw (its request log and counters) and what it holds afterwards, never the
//! tool's own account of itself, except to check that the summary agrees with the server. Timing
//! bounds leave generous slack: these tests share a small machine with others.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use bulk_unblock::emulator::x::LoggedRequest;
use bulk_unblock::emulator::x::config::{Config, EndpointLimit, HeaderMode};
use common::{Harness, journal_records, show};

const DESTROY: &str = "/1.1/blocks/destroy.json";

/// Made-up user IDs, far from the builtin seed's.
fn made_up_ids(n: u64) -> Vec<u64> {
    (0..n).map(|i| 7_100_000_000 + i * 7).collect()
}

/// Blocks `ids` on the server for the harness's account and writes them as an input list.
fn block_and_list(h: &Harness, ids: &[u64]) -> PathBuf {
    h.emulator
        .set_blocked(h.account.user_id, ids.iter().copied());
    let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
    h.write("targets.txt", text)
}

/// Limits on, `destroy` limited to `limit` per `window` with the given header mode.
fn limit_destroy(c: &mut Config, window: Duration, limit: u32, headers: HeaderMode) {
    c.limits.enabled = true;
    c.limits.window = window;
    c.limits.destroy = EndpointLimit::new(limit, headers);
}

/// Runs the binary, killing it after `deadline` so a pacing bug fails the test instead of hanging
/// it. Returns the output and the wall time.
fn run_within(h: &Harness, args: &[&str], deadline: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = h
        .command()
        .arg("run")
        .args(args)
        .args(["--api-base", &h.base_url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    loop {
        if child.try_wait().expect("wait on the binary").is_some() {
            break;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("binary output");
    (out, start.elapsed())
}

/// The common arguments: the list, a journal, a pace and a concurrency.
fn args<'a>(list: &'a str, log: &'a str, rate: &'a str, concurrency: &'a str) -> Vec<&'a str> {
    vec![
        list,
        "--log",
        log,
        "--rate",
        rate,
        "--concurrency",
        concurrency,
    ]
}

/// A figure of the summary line `requests sent: N · 429s: N · retries: N · waited on ...`.
fn summary_figure(out: &Output, name: &str) -> u64 {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("requests sent:"))
        .unwrap_or_else(|| panic!("no summary line\n{}", show(out)));
    line.split(" · ")
        .find_map(|part| part.strip_prefix(&format!("{name}: ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no figure `{name}` in `{line}`"))
}

/// The span of the destroy requests on the server's clock.
fn span(destroys: &[LoggedRequest]) -> Duration {
    let first = destroys.iter().map(|r| r.at_ms).min().unwrap_or(0);
    let last = destroys.iter().map(|r| r.at_ms).max().unwrap_or(0);
    Duration::from_millis(u64::try_from(last - first).unwrap_or(0))
}

/// Window lengths elapsed from the opening of the first window (the emulator aligns it down to a
/// whole second) to the last request, counting the last one begun.
fn windows_spanned(destroys: &[LoggedRequest], window: Duration) -> u64 {
    let first = destroys.iter().map(|r| r.at_ms).min().unwrap_or(0);
    let last = destroys.iter().map(|r| r.at_ms).max().unwrap_or(0);
    let opened = first.div_euclid(1000) * 1000;
    let length = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    u64::try_from((last - opened).div_euclid(length) + 1).unwrap_or(0)
}

fn count_status(requests: &[LoggedRequest], status: u16) -> usize {
    requests.iter().filter(|r| r.status == status).count()
}

/// Every listed ID is unblocked on the server and recorded `unblocked` exactly once.
fn assert_all_unblocked(h: &Harness, ids: &[u64], log: &std::path::Path, out: &Output) {
    let left: BTreeSet<u64> = h.blocked().into_iter().collect();
    let listed: BTreeSet<u64> = ids.iter().copied().collect();
    let still: Vec<&u64> = listed.intersection(&left).collect();
    assert!(still.is_empty(), "still blocked: {still:?}\n{}", show(out));
    let mut outcomes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in journal_records(log) {
        outcomes
            .entry(r["target"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(r["outcome"].as_str().unwrap_or_default().to_owned());
    }
    for id in ids {
        assert_eq!(
            outcomes.get(&id.to_string()).map(Vec::as_slice),
            Some(&["unblocked".to_owned()][..]),
            "journal for {id}\n{}",
            show(out)
        );
    }
}

#[test]
fn honest_headers_are_used_fully_without_a_single_429() {
    let window = Duration::from_secs(2);
    let limit = 40;
    let h = Harness::with_config(|c| {
        limit_destroy(c, window, limit, HeaderMode::Headers);
        // Enough latency that several requests are in flight when the window runs low.
        c.faults.latency_ms = 15;
        c.faults.jitter_ms = 20;
    });
    let ids = made_up_ids(200);
    let list = block_and_list(&h, &ids);
    let log = h.path("journal.jsonl");
    let (list, log_s) = (list.to_str().unwrap(), log.to_str().unwrap());
    let (out, elapsed) = run_within(
        &h,
        &args(list, log_s, "1000/s", "8"),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let stats = h.emulator.stats();
    assert_eq!(stats.rate_limited, 0, "429s\n{}", show(&out));
    assert_eq!(stats.window_spent, 0);
    let destroys = h.requests_to(DESTROY);
    let done = count_status(&destroys, 200) as u64;
    assert_eq!(done, 200);
    let windows = windows_spanned(&destroys, window);
    let used = done as f64 / (u64::from(limit) * windows) as f64;
    eprintln!(
        "honest headers: {done} requests in {windows} windows ({:?} span, {elapsed:?} wall): \
         {:.0}% of the allowance",
        span(&destroys),
        used * 100.0
    );
    assert!(used >= 0.9, "used {:.0}% of the allowance", used * 100.0);
    assert_all_unblocked(&h, &ids, &log, &out);
    // The summary agrees with the server.
    assert_eq!(summary_figure(&out, "requests sent"), destroys.len() as u64);
    assert_eq!(summary_figure(&out, "429s"), 0);
}

/// A hidden limit of 20 per 2 s and a pace of 40 per 2 s: the tool must find the limit through a
/// few 429s, then settle below it, never hammering a spent window. A 429 carries the reset
/// (`reset_on_429`), or `Retry-After` (`retry_after`), or nothing.
fn hidden_limit(reset_on_429: bool, retry_after: bool) {
    let window = Duration::from_secs(2);
    let h = Harness::with_config(|c| {
        limit_destroy(c, window, 20, HeaderMode::None);
        c.limits.reset_on_429 = reset_on_429;
        c.limits.retry_after = retry_after;
        // Slow answers: a few requests are in flight when the window runs out.
        c.faults.latency_ms = 80;
        c.faults.jitter_ms = 40;
    });
    let ids = made_up_ids(100);
    let list = block_and_list(&h, &ids);
    let log = h.path("journal.jsonl");
    let (list, log_s) = (list.to_str().unwrap(), log.to_str().unwrap());
    let (out, elapsed) = run_within(
        &h,
        &args(list, log_s, "40/2s", "8"),
        Duration::from_secs(40),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_all_unblocked(&h, &ids, &log, &out);

    let destroys = h.requests_to(DESTROY);
    let limited = count_status(&destroys, 429);
    let ideal = window * (100u32.div_ceil(20) - 1);
    eprintln!(
        "hidden limit (reset_on_429 {reset_on_429}, retry_after {retry_after}): {} requests, {limited} 429s, span {:?} \
         (ideal {ideal:?}), wall {elapsed:?}",
        destroys.len(),
        span(&destroys)
    );
    assert!(limited <= 10, "{limited} 429s\n{}", show(&out));
    // The pace settles near the limit instead of collapsing (each refused request in flight
    // halving it again took this to about 20 s).
    assert!(
        span(&destroys) <= ideal * 2 + Duration::from_secs(2),
        "took {:?} for an ideal of {ideal:?}\n{}",
        span(&destroys),
        show(&out)
    );
    assert_eq!(destroys.len(), 100 + limited, "only 429s are sent again");
    assert_eq!(summary_figure(&out, "429s"), limited as u64);

    // No hot loop: a target refused twice in a row was held back in between (the shortest
    // backoff is 100 ms).
    let mut per_target: BTreeMap<&str, Vec<&LoggedRequest>> = BTreeMap::new();
    for r in &destroys {
        let target = r.params.get("user_id").map_or("", String::as_str);
        per_target.entry(target).or_default().push(r);
    }
    for (target, requests) in &per_target {
        for pair in requests.windows(2) {
            if pair[0].status == 429 && pair[1].status == 429 {
                let gap = pair[1].at_ms - pair[0].at_ms;
                assert!(
                    gap >= 80,
                    "{target} sent again {gap} ms after a 429\n{}",
                    show(&out)
                );
            }
        }
    }
    // After a 429 only the requests already in flight may arrive within the next 50 ms.
    for r in destroys.iter().filter(|r| r.status == 429) {
        let burst = destroys
            .iter()
            .filter(|o| o.at_ms > r.at_ms && o.at_ms <= r.at_ms + 50)
            .count();
        assert!(burst <= 8, "{burst} requests right after a 429");
    }
}

#[test]
fn a_hidden_limit_announced_on_429_costs_few_429s() {
    hidden_limit(true, false);
}

#[test]
fn a_hidden_limit_without_any_header_costs_few_429s() {
    hidden_limit(false, false);
}

#[test]
fn a_hidden_limit_with_retry_after_costs_few_429s() {
    hidden_limit(false, true);
}

/// 120 targets against 40 per 2 s, with the server's clock `offset` seconds off ours.
fn skewed(offset: i64) {
    let window = Duration::from_secs(2);
    let h = Harness::with_config(|c| {
        limit_destroy(c, window, 40, HeaderMode::Headers);
        c.clock_offset_secs = offset;
        c.faults.latency_ms = 5;
        c.faults.jitter_ms = 10;
    });
    let ids = made_up_ids(120);
    let list = block_and_list(&h, &ids);
    let log = h.path("journal.jsonl");
    let (list, log_s) = (list.to_str().unwrap(), log.to_str().unwrap());
    let (out, elapsed) = run_within(
        &h,
        &args(list, log_s, "1000/s", "8"),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_all_unblocked(&h, &ids, &log, &out);
    let destroys = h.requests_to(DESTROY);
    let limited = count_status(&destroys, 429);
    // Three windows: the third opens 4 s after the first.
    let ideal = window * 2;
    let bound = ideal.mul_f64(1.5) + Duration::from_secs(2);
    eprintln!(
        "clock offset {offset:+} s: span {:?}, wall {elapsed:?} (ideal {ideal:?}), {limited} 429s",
        span(&destroys)
    );
    assert!(limited <= 3, "{limited} 429s\n{}", show(&out));
    assert!(span(&destroys) <= bound, "took {:?}", span(&destroys));
    // The process itself: the same bound plus start-up and the credentials check.
    assert!(
        elapsed <= bound + Duration::from_secs(3),
        "took {elapsed:?}"
    );
}

#[test]
fn a_server_clock_ahead_neither_waits_too_long_nor_storms() {
    skewed(120);
}

#[test]
fn a_server_clock_behind_neither_waits_too_long_nor_storms() {
    skewed(-120);
}

#[test]
fn a_refused_timestamp_is_corrected_from_the_servers_date() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.clock_offset_secs = 120;
        c.auth.skew_window = Duration::from_secs(30);
    });
    let ids = made_up_ids(20);
    let list = block_and_list(&h, &ids);
    let log = h.path("journal.jsonl");
    let (list, log_s) = (list.to_str().unwrap(), log.to_str().unwrap());
    let (out, _) = run_within(
        &h,
        &args(list, log_s, "1000/s", "4"),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let requests = h.emulator.requests();
    assert_eq!(
        (requests[0].status, requests[0].error_number()),
        (401, Some(135)),
        "the first request is refused for its timestamp"
    );
    let refused = requests
        .iter()
        .filter(|r| r.error_number() == Some(135))
        .count();
    assert_eq!(refused, 1, "corrected once, for the whole run");
    assert_all_unblocked(&h, &ids, &log, &out);
}

#[test]
fn faults_and_lost_answers_end_every_target_correctly() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.seed = 7;
        c.faults.latency_ms = 2;
        c.faults.jitter_ms = 5;
        c.faults.over_capacity_rate = 0.05;
        c.faults.internal_error_rate = 0.05;
        c.faults.drop_after_acting_rate = 0.05;
        c.faults.stall_rate = 0.03;
        c.faults.stall = Duration::from_millis(1500);
    });
    let ids = made_up_ids(120);
    let list = block_and_list(&h, &ids);
    let log = h.path("journal.jsonl");
    let (list, log_s) = (list.to_str().unwrap(), log.to_str().unwrap());
    let mut a = args(list, log_s, "1000/s", "8");
    a.extend(["--timeout", "1s"]);
    let (out, elapsed) = run_within(&h, &a, Duration::from_secs(40));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_all_unblocked(&h, &ids, &log, &out);

    let destroys = h.requests_to(DESTROY);
    let faulted = destroys.iter().filter(|r| r.fault.is_some()).count();
    eprintln!(
        "faults: {} requests for 120 targets, {faulted} faults, wall {elapsed:?}",
        destroys.len()
    );
    assert!(faulted >= 10, "the faults were injected ({faulted})");
    assert_eq!(destroys.len(), 120 + faulted, "one retry per fault");
    assert_eq!(summary_figure(&out, "retries"), faulted as u64);
    // Each target's attempts are in the journal, and match the server's count.
    let mut sent: BTreeMap<String, u64> = BTreeMap::new();
    for r in &destroys {
        *sent
            .entry(r.params.get("user_id").cloned().unwrap_or_default())
            .or_default() += 1;
    }
    for r in journal_records(&log) {
        let target = r["target"].as_str().unwrap_or_default();
        assert_eq!(r["attempts"].as_u64(), sent.get(target).copied(), "{r}");
    }
}

#[test]
fn a_revoked_token_stops_the_run_and_the_rerun_finishes() {
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.faults.latency_ms = 5;
        c.faults.jitter_ms = 10;
        c.faults.revoke_after = Some(30);
    });
    let ids = made_up_ids(100);
    let list = block_and_list(&h, &ids);
    let log = h.path("journal.jsonl");
    let (list, log_s) = (list.to_str().unwrap(), log.to_str().unwrap());
    let run = args(list, log_s, "1000/s", "8");
    let (out, elapsed) = run_within(&h, &run, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");

    let destroys = h.requests_to(DESTROY);
    let revoked_at = destroys
        .iter()
        .filter(|r| r.status == 200)
        .nth(29)
        .expect("30 unblocks")
        .seq;
    let after = destroys.iter().filter(|r| r.seq > revoked_at).count();
    assert!(after <= 8, "{after} requests after the revocation");
    assert!(
        destroys
            .iter()
            .filter(|r| r.seq > revoked_at)
            .all(|r| (r.status, r.error_number()) == (401, Some(89)))
    );

    let blocked: BTreeSet<u64> = h.blocked().into_iter().collect();
    let sent: BTreeSet<String> = destroys
        .iter()
        .filter_map(|r| r.params.get("user_id").cloned())
        .collect();
    let records = journal_records(&log);
    for r in &records {
        let target = r["target"].as_str().unwrap_or_default();
        assert!(sent.contains(target), "record for a target never sent: {r}");
        assert_eq!(r["outcome"], "unblocked", "{r}");
        let id: u64 = target.parse().expect("an ID");
        assert!(
            !blocked.contains(&id),
            "recorded unblocked but still blocked: {r}"
        );
    }
    assert_eq!(records.len(), 30, "every unblock recorded, nothing else");

    // Fix the credentials and resume: only what is not done is sent.
    h.emulator.update_config(|c| c.faults.revoke_after = None);
    h.emulator.restore_token(&h.account.access_token);
    let before = h.emulator.requests().len();
    let (out, _) = run_within(&h, &run, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let done: BTreeSet<String> = records
        .iter()
        .filter_map(|r| r["target"].as_str().map(str::to_owned))
        .collect();
    let resent: Vec<String> = h.emulator.requests()[before..]
        .iter()
        .filter(|r| r.path == DESTROY)
        .filter_map(|r| r.params.get("user_id").cloned())
        .filter(|t| done.contains(t))
        .collect();
    assert!(resent.is_empty(), "sent again: {resent:?}");
    assert_all_unblocked(&h, &ids, &log, &out);
}

#[test]
fn a_spent_daily_cap_holds_every_worker_and_says_so() {
    let h = Harness::with_config(|c| {
        limit_destroy(c, Duration::from_secs(2), 40, HeaderMode::Headers);
        c.limits.destroy.daily_limit = Some(30);
        c.faults.latency_ms = 15;
        c.faults.jitter_ms = 20;
    });
    let ids = made_up_ids(50);
    let list = block_and_list(&h, &ids);
    let log = h.path("journal.jsonl");
    let (list, log_s) = (list.to_str().unwrap(), log.to_str().unwrap());
    let mut child = h
        .command()
        .arg("run")
        .args(args(list, log_s, "1000/s", "8"))
        .args(["--api-base", &h.base_url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    // Long enough for a plain progress line (every 10 s) while held by the cap.
    std::thread::sleep(Duration::from_secs(11));
    let destroys = h.requests_to(DESTROY);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert_eq!(destroys.len(), 30, "exactly the cap\n{}", show(&out));
    assert_eq!(h.emulator.stats().rate_limited, 0);
    assert_eq!(journal_records(&log).len(), 30);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("24-hour cap spent, resets in 23:59:"),
        "the wait is visible\n{}",
        show(&out)
    );
}
