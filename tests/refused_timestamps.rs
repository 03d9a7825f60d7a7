//! A server that passes the credentials check but refuses every timestamp on the reads that
//! follow: every command ends after a few tries, saying it is the clock, instead of retrying
//! forever.
//!
//! Regression: reads treated a refused timestamp as "try again" with no cap (the workers and the
//! credentials check stopped after three). `export --rate 10000/1s` against such a server sent
//! about 156,000 requests in 75 s and never exited; `run --all` and `run --dry-run --check` did
//! the same. The emulator's `auth.refuse_timestamps` knob refuses every OAuth timestamp on the
//! endpoints it names (401 code 135).

mod common;

use std::time::{Duration, Instant};

use bulk_unblock::emulator::x::Endpoint;
use bulk_unblock::retry::MAX_RESENDS;
use common::{Harness, show, stderr};

/// The most a command may take against a server refusing every timestamp: far less than the
/// unbounded loop ran, with room for a loaded machine.
const BOUNDED: Duration = Duration::from_secs(30);

/// The emulator refusing every timestamp on the block list and the lookups, limits off so
/// that only the refusals can stop a read.
fn refusing() -> Harness {
    Harness::with_config(|c| {
        c.limits.enabled = false;
        c.auth.refuse_timestamps = vec![Endpoint::BlocksIds, Endpoint::UsersLookup];
    })
}

/// Runs the binary with `args` (the emulator's address added), checks that it ended with exit 1
/// within [`BOUNDED`] saying it is the timestamp, and that the refused endpoint was asked only
/// the few times the retry loop allows.
fn assert_gives_up(h: &Harness, args: &[&str], refused: Endpoint) {
    let start = Instant::now();
    let out = h
        .command()
        .args(args)
        .args(["--api-base", &h.base_url()])
        .output()
        .expect("binary runs");
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(took < BOUNDED, "took {took:?}");
    let err = stderr(&out);
    assert!(
        err.contains("timestamp") && err.contains("clock"),
        "the error says it is the clock: {err}"
    );
    let sent = h.requests_at(refused);
    assert_eq!(
        sent.len(),
        1 + MAX_RESENDS as usize,
        "the first request and its resends, then no more: {sent:?}"
    );
    assert!(
        sent.iter()
            .all(|r| r.status == 401 && r.error_number() == Some(135))
    );
    assert!(
        h.requests_at(Endpoint::BlocksDestroy).is_empty(),
        "nothing was unblocked"
    );
}

#[test]
fn export_against_refused_timestamps_ends_with_a_clock_error() {
    let h = refusing();
    let out = h.path("blocks.csv");
    let out_s = out.to_str().unwrap();
    assert_gives_up(
        &h,
        &["export", "--out", out_s, "--rate", "10000/1s"],
        Endpoint::BlocksIds,
    );
    assert!(!out.exists(), "no export appears");
}

#[test]
fn run_all_against_refused_timestamps_ends_with_a_clock_error() {
    let h = refusing();
    assert_gives_up(
        &h,
        &[
            "run",
            "--all",
            "--log",
            "all.jsonl",
            "--list-rate",
            "10000/1s",
        ],
        Endpoint::BlocksIds,
    );
    assert!(
        !h.path("all.jsonl.backup.csv").exists(),
        "no backup appears"
    );
}

#[test]
fn a_check_against_refused_timestamps_ends_with_a_clock_error() {
    let h = refusing();
    h.write("list.txt", "@someone\n12345\n");
    assert_gives_up(
        &h,
        &[
            "run",
            "list.txt",
            "--log",
            "journal.jsonl",
            "--dry-run",
            "--check",
            "--list-rate",
            "10000/1s",
        ],
        Endpoint::BlocksIds,
    );
}

#[test]
fn lookups_against_refused_timestamps_end_with_a_clock_error() {
    // The block list reads fine; the lookups of `--check` are refused.
    let h = Harness::with_config(|c| {
        c.limits.enabled = false;
        c.auth.refuse_timestamps = vec![Endpoint::UsersLookup];
    });
    h.write("list.txt", "@someone\n");
    assert_gives_up(
        &h,
        &[
            "run",
            "list.txt",
            "--log",
            "journal.jsonl",
            "--dry-run",
            "--check",
            "--list-rate",
            "10000/1s",
        ],
        Endpoint::UsersLookup,
    );
}
