//! `bulk-unblock demo` of each network runs the real pipeline against its emulator and leaves a
//! journal a later command reads. (Bluesky's demo, which also meets an expired token and a
//! stale record, is tested in `bluesky.rs`.)

mod common;

use std::collections::BTreeMap;

use common::{BIN, journal_records, show};

/// Runs the demo of `network` in short windows; returns its stdout and the journal's outcomes
/// counted.
fn demo(network: &str) -> (String, BTreeMap<String, usize>) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.jsonl");
    let out = std::process::Command::new(BIN)
        .args([
            "demo",
            "--network",
            network,
            "--window",
            "1s",
            "--limit",
            "100",
        ])
        .arg("--log")
        .arg(&log)
        .env_remove("RUST_LOG")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let records = journal_records(&log);
    let mut outcomes = BTreeMap::new();
    for record in &records {
        let outcome = record["outcome"].as_str().unwrap_or("?").to_owned();
        *outcomes.entry(outcome).or_default() += 1;
    }
    // Every target once, and a rerun of the same journal finds nothing left.
    let again = std::process::Command::new(BIN)
        .args([
            "demo",
            "--network",
            network,
            "--window",
            "1s",
            "--limit",
            "100",
        ])
        .arg("--log")
        .arg(&log)
        .output()
        .expect("runs");
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert_eq!(
        journal_records(&log).len(),
        records.len(),
        "{}",
        show(&again)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), outcomes)
}

#[test]
fn the_x_demo_unblocks_the_sample_archive() {
    let (text, outcomes) = demo("x");
    assert_eq!(
        outcomes,
        BTreeMap::from([("not_found".to_owned(), 10), ("unblocked".to_owned(), 190)]),
        "{text}"
    );
    assert!(
        text.contains("now holds 10 of @demo_owner's 200 blocks"),
        "{text}"
    );
}

#[test]
fn the_mastodon_demo_unblocks_the_sample_export() {
    let (text, outcomes) = demo("mastodon");
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ("not_blocked".to_owned(), 1),
            ("not_found".to_owned(), 1),
            ("unblocked".to_owned(), 200)
        ]),
        "{text}"
    );
    assert!(
        text.contains("now holds 0 of @demo_owner's 200 blocks"),
        "{text}"
    );
}
