//! `bulk-unblock run` end to end: the real binary against the emulator over loopback.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Harness, journal_header, journal_records, sample, show};

#[test]
fn a_mixed_csv_and_a_list_unblock_exactly_the_listed_users() {
    let h = Harness::new();
    let before: BTreeSet<u64> = h.blocked().into_iter().collect();
    let log = h.path("journal.jsonl");
    let csv = sample("blocked.csv");
    let list = sample("blocked.txt");
    let out = h.run(&[
        csv.to_str().unwrap(),
        list.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // The server received one destroy per unique target, and nothing else was unblocked.
    let destroys = h.requests_to("/1.1/blocks/destroy.json");
    let records = journal_records(&log);
    assert_eq!(
        destroys.len(),
        records.len(),
        "one request per unique target"
    );
    let mut per_target: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *per_target
            .entry(r["target"].as_str().unwrap().to_lowercase())
            .or_default() += 1;
    }
    assert!(
        per_target.values().all(|&n| n == 1),
        "one record per target: {per_target:?}"
    );

    let after: BTreeSet<u64> = h.blocked().into_iter().collect();
    let removed: BTreeSet<u64> = before.difference(&after).copied().collect();
    let recorded_unblocked: BTreeSet<u64> = records
        .iter()
        .filter(|r| r["outcome"] == "unblocked")
        .map(|r| r["user_id"].as_str().unwrap().parse().unwrap())
        .collect();
    // Everything recorded unblocked that was blocked is gone from the server, and nothing else.
    assert_eq!(
        removed,
        recorded_unblocked.intersection(&before).copied().collect()
    );
    assert!(
        records.iter().any(|r| r["outcome"] == "not_found"),
        "suspended/deactivated users are listed"
    );
    assert_eq!(
        journal_header(&log)["account_id"],
        h.account.user_id.to_string()
    );
}
