//! Bluesky end to end: the real binary against the Bluesky emulator over loopback, each test
//! asserting on what the emulator received (by host and method) and what the account's repo
//! holds afterwards, not only on what the tool printed.
//!
//! What unblocking means there is deleting every block record of a subject, so the checks
//! that matter are on records: every record of each listed subject is gone, no record of an
//! unlisted subject was ever named in a delete, and the journal has one terminal line per
//! target. Windows are shortened and tokens made to expire by moving the emulator's clock, so
//! the file runs in well under a minute.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bulk_unblock::emulator::bluesky::seed::made_up_handle;
use bulk_unblock::emulator::bluesky::{Budget, Endpoint, Host};
use common::bluesky::{Bsky, made_up_dids, sample};
use common::{
    count_after, is_terminal_outcome, journal_header, journal_len, journal_records,
    journal_records_tolerant, show, stderr, stdout, test_seed, wait_until,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How long a test waits for a background run to reach a state.
const PATIENCE: Duration = Duration::from_secs(30);

/// The sample list's path, as a string.
fn sample_list() -> String {
    sample("bluesky-blocked.txt").to_string_lossy().into_owned()
}

/// Blocks `listed` (every `dup`-th subject twice) and `unlisted`, and writes `targets.txt`
/// naming the listed ones, every `by_handle`-th by handle. Returns the input's name.
fn block_and_list(
    h: &Bsky,
    listed: &[String],
    unlisted: &[String],
    dup: usize,
    by_handle: usize,
) -> String {
    let mut blocks: Vec<(String, usize)> = Vec::new();
    let mut text = String::new();
    for (i, did) in listed.iter().enumerate() {
        blocks.push((did.clone(), if dup > 0 && i % dup == 0 { 2 } else { 1 }));
        if by_handle > 0 && i % by_handle == 0 {
            text.push_str(&format!("@{}\n", made_up_handle(did)));
        } else {
            text.push_str(&format!("{did}\n"));
        }
    }
    blocks.extend(unlisted.iter().map(|d| (d.clone(), 1)));
    h.block(&blocks);
    h.write("targets.txt", text);
    "targets.txt".to_owned()
}

/// Every record of a journal by target, with its outcomes in order.
fn outcomes(records: &[serde_json::Value]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        map.entry(r["target"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(r["outcome"].as_str().unwrap_or_default().to_owned());
    }
    map
}

/// The end state every run that finished must leave: each listed subject has no block record,
/// every record of the others is untouched and was never named in a delete, and the journal
/// names each target with exactly one terminal line.
fn assert_finished(
    h: &Bsky,
    log: &str,
    rkeys_before: &BTreeMap<String, String>,
    listed: &[String],
    targets: usize,
) {
    let listed: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    let counts = h.block_counts();
    for did in &listed {
        assert!(!counts.contains_key(*did), "{did} still has a block record");
    }
    for (rkey, subject) in rkeys_before {
        if !listed.contains(subject.as_str()) {
            assert_eq!(
                h.block_rkeys().get(rkey),
                Some(subject),
                "an unlisted record is kept"
            );
        }
    }
    for rkey in h.deleted_rkeys() {
        let subject = rkeys_before
            .get(&rkey)
            .expect("a delete names a listed record");
        assert!(
            listed.contains(subject.as_str()),
            "deleted {rkey} of unlisted {subject}"
        );
    }
    let (records, _) = journal_records_tolerant(&h.path(log));
    let per_target = outcomes(&records);
    assert_eq!(per_target.len(), targets, "every target is in the journal");
    for (target, outcomes) in &per_target {
        let terminal_lines = outcomes.iter().filter(|o| is_terminal_outcome(o)).count();
        assert_eq!(
            terminal_lines, 1,
            "{target}: one terminal line: {outcomes:?}"
        );
    }
}

#[test]
fn the_sample_list_deletes_every_record_of_each_target_at_the_pds_and_records_each_once() {
    let h = Bsky::new();
    let before = h.block_counts();
    let lists_before = h.listblocks();
    let list = sample_list();
    let out = h.run(&[&list, "--log", "journal.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let header = journal_header(&h.path("journal.jsonl"));
    assert_eq!(header["network"], "bluesky");
    assert_eq!(header["account_id"], h.owner.as_str());
    assert_eq!(header["account_screen_name"], h.handle.as_str());
    let records = journal_records(&h.path("journal.jsonl"));
    let text = std::fs::read_to_string(&list).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(records.len(), lines.len(), "one line per target");
    let by_target: BTreeMap<&str, &serde_json::Value> = records
        .iter()
        .map(|r| (r["target"].as_str().unwrap(), r))
        .collect();
    let outcome = |t: &str| by_target[t]["outcome"].as_str().unwrap().to_owned();
    assert_eq!(outcome("nobody-here.bsky.test"), "not_found", "unknown");
    assert_eq!(outcome("aria-music.bsky.test"), "not_found", "deactivated");
    assert_eq!(outcome("leo-runs.bsky.test"), "not_blocked");
    assert_eq!(
        outcome("at://modlists.bsky.test/app.bsky.graph.list/3k7duyn5e222g"),
        "unblocked",
        "a list link naming its owner's handle"
    );
    let unblocked: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["outcome"] == "unblocked" && r["by"] != "list")
        .collect();
    assert_eq!(unblocked.len(), lines.len() - 4);
    // Handles are recorded lowercased without `@`, with the DID they resolved to.
    let maya = by_target["maya-books.bsky.test"];
    assert_eq!(maya["by"], "handle");
    assert!(maya["user_id"].as_str().unwrap().starts_with("did:plc:"));

    // Every record of each unblocked account is gone (duplicates included); the rest stay.
    let after = h.block_counts();
    let gone: BTreeSet<&str> = unblocked
        .iter()
        .map(|r| r["user_id"].as_str().unwrap())
        .collect();
    let duplicated = gone.iter().filter(|d| before[**d] > 1).count();
    assert!(
        duplicated >= 3,
        "the sample blocks some accounts several times"
    );
    for (subject, n) in &before {
        if gone.contains(subject.as_str()) {
            assert!(!after.contains_key(subject), "{subject} still blocked");
        } else {
            assert_eq!(after.get(subject), Some(n), "{subject} untouched");
        }
    }
    assert_eq!(h.listblocks().len(), lists_before.len() - 1);

    // The login host saw the login only; every read and write went to the PDS.
    let entryway: Vec<Endpoint> = h.at(Host::Entryway).iter().map(|r| r.endpoint).collect();
    assert_eq!(entryway, [Endpoint::CreateSession]);
    let writes = h.sent(Endpoint::ApplyWrites).len() + h.sent(Endpoint::DeleteRecord).len();
    assert_eq!(writes, 1, "one batch for every record");
    let lookups = h.sent(Endpoint::GetProfiles);
    assert_eq!(lookups.len(), 1, "17 handles in one lookup");
    let mut asked: Vec<&str> = lookups[0].params["actors"].split(',').collect();
    asked.sort_unstable();
    // Every handle of the input (as `@name`, bare or in a profile link), and the list owner's.
    let mut handles: Vec<&str> = records
        .iter()
        .filter(|r| r["by"] == "handle")
        .map(|r| r["target"].as_str().unwrap())
        .chain(["modlists.bsky.test"])
        .collect();
    handles.sort_unstable();
    assert_eq!(asked, handles, "each handle asked once, all in one lookup");
    assert_eq!(h.sent(Endpoint::ResolveHandle).len(), 0);
    assert!(!stdout(&out).contains(&h.app_password));
}

#[test]
fn without_a_did_doc_the_login_host_serves_everything() {
    let h = Bsky::with_config(|c| c.hosts.did_doc = false);
    let did = h.blocks()[0].clone();
    h.write("one.txt", format!("{did}\n"));
    let out = h.run(&["one.txt", "--log", "j.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(h.at(Host::Pds).is_empty());
    assert!(!h.block_counts().contains_key(&did));
}

#[test]
fn an_access_token_expiring_mid_run_is_refreshed_once_and_sent_again_at_once() {
    let h = Bsky::new();
    let dids = made_up_dids(600, 'a');
    let input = block_and_list(&h, &dids, &[], 0, 0);
    let rkeys = h.block_rkeys();
    // 100 points a second: a batch of 200 every two seconds.
    let args = [input.as_str(), "--log", "j.jsonl", "--rate", "100/s"];
    let child = h.spawn("run", "run", &args);
    assert!(
        wait_until(PATIENCE, || journal_len(&h.path("j.jsonl")) >= 200),
        "the first batch is recorded"
    );
    // Three hours later: the access token has expired.
    h.emulator.update_config(|c| c.clock_offset_secs = 3 * 3600);
    let out = h.output_of("run", child);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_finished(&h, "j.jsonl", &rkeys, &dids, dids.len());

    assert_eq!(
        h.sent(Endpoint::CreateSession).len(),
        1,
        "never logged in again"
    );
    assert_eq!(h.sent(Endpoint::RefreshSession).len(), 1, "refreshed once");
    let batches = h.sent(Endpoint::ApplyWrites);
    let refused: Vec<_> = batches.iter().filter(|r| r.status == 400).collect();
    assert!(!refused.is_empty(), "a batch met the expired token");
    for r in &refused {
        assert_eq!(
            r.error_code.as_ref().map(ToString::to_string).as_deref(),
            Some("ExpiredToken")
        );
        let resent = batches
            .iter()
            .find(|b| b.seq > r.seq)
            .expect("the batch is sent again");
        assert_eq!(resent.status, 200);
        assert!(
            resent.at_ms - r.at_ms < 1500,
            "sent again at once, not after another pace interval: {} ms",
            resent.at_ms - r.at_ms
        );
    }
}

#[test]
fn a_wrong_password_exits_3_before_anything_is_written() {
    let h = Bsky::new();
    let before = h.blocks();
    let mut cmd = h.command();
    cmd.env("BLUESKY_APP_PASSWORD", "zzzz-wrong-pass-zzzz");
    let list = sample_list();
    let out = h
        .with_network(cmd, "run", &[&list, "--log", "j.jsonl"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.contains("BLUESKY_APP_PASSWORD"),
        "the hint names the variable: {err}"
    );
    assert!(!err.contains("zzzz-wrong-pass") && !stdout(&out).contains("zzzz-wrong-pass"));
    let endpoints: Vec<Endpoint> = h.emulator.requests().iter().map(|r| r.endpoint).collect();
    assert_eq!(
        endpoints,
        [Endpoint::CreateSession],
        "refused once, not retried"
    );
    assert_eq!(h.blocks(), before);
    assert_eq!(journal_len(&h.path("j.jsonl")), 0, "no journal record");
    let text = std::fs::read_to_string(h.path("j.jsonl")).unwrap_or_default();
    assert!(text.is_empty(), "not even a header: {text}");
}

#[test]
fn a_password_revoked_mid_run_exits_3_and_the_rerun_finishes() {
    let h = Bsky::with_config(|c| {
        c.faults.revoke_after = Some(1);
        c.sessions.revocation_ends_access = true;
    });
    let dids = made_up_dids(450, 'b');
    let input = block_and_list(&h, &dids, &[], 0, 0);
    let rkeys = h.block_rkeys();
    let args = [
        input.as_str(),
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--concurrency",
        "1",
    ];
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(
        stderr(&out).contains("credentials rejected"),
        "{}",
        show(&out)
    );
    let records = journal_records(&h.path("j.jsonl"));
    assert_eq!(
        records.len(),
        200,
        "the batch before the revocation is kept"
    );
    assert!(records.iter().all(|r| r["outcome"] == "unblocked"));
    for r in &records {
        assert!(!h.block_counts().contains_key(r["target"].as_str().unwrap()));
    }
    assert_eq!(h.blocks().len(), 250);
    assert_eq!(h.sent(Endpoint::RefreshSession).len(), 1);
    assert_eq!(
        h.sent(Endpoint::CreateSession).len(),
        2,
        "logged in again once, refused"
    );

    // With a working password the same command finishes, sending only what is left.
    h.emulator.update_config(|c| c.faults.revoke_after = None);
    let mut cmd = h.command();
    cmd.env("BLUESKY_APP_PASSWORD", &h.account_password);
    let out = h.with_network(cmd, "run", &args).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_finished(&h, "j.jsonl", &rkeys, &dids, dids.len());
}

#[test]
fn a_stale_record_in_a_batch_is_recovered_without_marking_anything_wrongly() {
    let h = Bsky::with_config(|c| {
        c.stale.at_write = Some(1);
        c.stale.count = 6;
    });
    let listed = made_up_dids(150, 'c');
    let input = block_and_list(&h, &listed, &[], 10, 0);
    let rkeys = h.block_rkeys();
    let out = h.run(&[&input, "--log", "j.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_finished(&h, "j.jsonl", &rkeys, &listed, listed.len());
    let records = journal_records(&h.path("j.jsonl"));
    assert!(
        records.iter().all(|r| r["outcome"] == "unblocked"),
        "{records:?}"
    );
    let batches = h.sent(Endpoint::ApplyWrites);
    assert_eq!(batches[0].status, 500, "the first batch met a stale record");
    assert!(
        h.sent(Endpoint::DeleteRecord).len() >= 100,
        "then the targets went one by one"
    );
}

#[test]
fn a_429_without_headers_waits_and_loses_nothing() {
    let h = Bsky::with_config(|c| {
        c.limits.hourly = Budget::new(250, 1);
        c.limits.headers = false;
    });
    let dids = made_up_dids(600, 'd');
    let input = block_and_list(&h, &dids, &[], 0, 0);
    let rkeys = h.block_rkeys();
    let out = h.run(&[&input, "--log", "j.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_finished(&h, "j.jsonl", &rkeys, &dids, dids.len());
    let limited = h
        .sent(Endpoint::ApplyWrites)
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert!(limited >= 1, "the budget was met");
    assert_eq!(count_after(&stdout(&out), "429s:"), Some(limited as u64));
}

#[test]
fn honest_headers_pace_the_point_budget_without_a_429() {
    let h = Bsky::with_config(|c| c.limits.hourly = Budget::new(250, 2));
    let dids = made_up_dids(600, 'e');
    let input = block_and_list(&h, &dids, &[], 0, 0);
    let start = Instant::now();
    let out = h.run(&[&input, "--log", "j.jsonl", "--rate", "250/2s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(h.blocks().is_empty());
    let batches = h.sent(Endpoint::ApplyWrites);
    assert!(
        batches.iter().all(|r| r.status == 200),
        "no 429: {batches:?}"
    );
    assert_eq!(batches.len(), 3);
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "three windows of 2 s"
    );
}

#[test]
fn faults_are_retried_and_no_target_is_marked_wrongly() {
    const DEFAULT_SEED: u64 = 3;
    let seed = test_seed(DEFAULT_SEED);
    let h = Bsky::with_config(|c| {
        c.faults.seed = seed;
        c.faults.internal_error_rate = 0.05;
        c.faults.over_capacity_rate = 0.05;
        c.faults.drop_after_acting_rate = 0.05;
        c.faults.latency_ms = 2;
    });
    let listed = made_up_dids(60, 'f');
    let unlisted = made_up_dids(10, 'g');
    let input = block_and_list(&h, &listed, &unlisted, 7, 5);
    let rkeys = h.block_rkeys();
    let args = [
        input.as_str(),
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--max-attempts",
        "30",
    ];
    let mut runs = 0;
    loop {
        let out = h.run(&args);
        runs += 1;
        match out.status.code() {
            Some(0) => break,
            Some(1) if runs < 5 => continue,
            _ => panic!("{}", show(&out)),
        }
    }
    assert_finished(&h, "j.jsonl", &rkeys, &listed, listed.len());
    let faults = h
        .emulator
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    let met: BTreeSet<(String, String)> = h
        .emulator
        .requests()
        .iter()
        .filter_map(|r| Some((format!("{:?}", r.fault?), format!("{:?}", r.endpoint))))
        .collect();
    println!("{faults} faults met in {runs} runs: {met:?}");
    if seed == DEFAULT_SEED {
        // This seed makes the batch fail with a 500 (a split), then loses an answer to a
        // delete that happened and refuses another; another seed may draw none at all.
        for (fault, endpoint) in [
            ("InternalError", "ApplyWrites"),
            ("DropAfterActing", "DeleteRecord"),
            ("OverCapacity", "DeleteRecord"),
        ] {
            assert!(
                met.contains(&(fault.to_owned(), endpoint.to_owned())),
                "{met:?}"
            );
        }
    }
    for r in journal_records(&h.path("j.jsonl")) {
        if r["outcome"] == "unblocked" {
            let did = r["user_id"].as_str().unwrap();
            assert!(!h.block_counts().contains_key(did), "{r}");
        }
    }
}

#[test]
fn runs_killed_at_20_seeded_moments_resume_with_one_terminal_line_per_target() {
    let seed = test_seed(0x5eed_b5c7);
    let mut rng = StdRng::seed_from_u64(seed);
    let h = Bsky::with_config(|c| {
        c.faults.seed = seed;
        c.faults.latency_ms = 10;
        c.faults.jitter_ms = 20;
    });
    let listed = made_up_dids(1200, 'h');
    let unlisted = made_up_dids(30, 'i');
    let input = block_and_list(&h, &listed, &unlisted, 9, 5);
    let rkeys = h.block_rkeys();
    // Seven batches of 200 points, one every half second.
    let args = [
        input.as_str(),
        "--log",
        "j.jsonl",
        "--rate",
        "400/s",
        "--list-rate",
        "1000/s",
        "--concurrency",
        "2",
    ];
    // A moment is the arrival of a request of the run, then up to 20 ms more: every third
    // kill lands as the run's first batch reaches the server (applied or not, recorded or
    // not), the others while it logs in and reads the first pages of records (its first
    // three requests: however far the work is, that many come first). Each run gets at most
    // one batch further, so every kill meets a live run.
    let mut landed = 0;
    for i in 0..20 {
        let (endpoint, nth) = if i % 3 == 2 {
            (Some(Endpoint::ApplyWrites), 1)
        } else {
            (None, rng.random_range(1..=3))
        };
        let after = Duration::from_millis(rng.random_range(0..=20));
        let count = || match endpoint {
            Some(endpoint) => h.sent(endpoint).len(),
            None => h.emulator.requests().len(),
        };
        let before = count();
        let name = format!("run{i}");
        let mut child = h.spawn(&name, "run", &args);
        let mut exited = false;
        wait_until(PATIENCE, || {
            exited = matches!(child.try_wait(), Ok(Some(_)));
            exited || count() >= before + nth
        });
        std::thread::sleep(after);
        if exited || child.try_wait().expect("polled").is_some() {
            let out = h.output_of(&name, child);
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
            break;
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        landed += 1;
    }
    let batches = h.sent(Endpoint::ApplyWrites).len();
    println!("{landed} kills landed; {batches} batches sent before the last run");
    assert_eq!(landed, 20, "every kill landed on a live run");
    assert!(batches >= 6, "kills landed as batches reached the server");
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_finished(&h, "j.jsonl", &rkeys, &listed, listed.len());
}

#[test]
fn ctrl_c_records_what_was_sent_and_the_rerun_finishes() {
    let h = Bsky::new();
    let dids = made_up_dids(600, 'j');
    let input = block_and_list(&h, &dids, &[], 0, 0);
    let rkeys = h.block_rkeys();
    let args = [input.as_str(), "--log", "j.jsonl", "--rate", "100/s"];
    let child = h.spawn("first", "run", &args);
    assert!(wait_until(PATIENCE, || journal_len(&h.path("j.jsonl")) >= 200));
    common::send_signal(&child, "-INT");
    let out = h.output_of("first", child);
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert!(stderr(&out).contains("Resume with:"), "{}", show(&out));
    let records = journal_records(&h.path("j.jsonl"));
    let sent: usize = h
        .sent(Endpoint::ApplyWrites)
        .iter()
        .filter(|r| r.status == 200)
        .count();
    assert_eq!(records.len(), sent * 200, "every batch sent is recorded");
    let out = h.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_finished(&h, "j.jsonl", &rkeys, &dids, dids.len());
}

#[test]
fn all_backs_the_list_up_then_unblocks_everyone_and_keeps_the_lists() {
    let h = Bsky::new();
    let lists = h.listblocks();
    let subjects = h.block_counts().len();
    let out = h.run(&["--all", "--log", "all.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(h.blocks().is_empty());
    assert_eq!(h.listblocks(), lists, "lists are left only with --lists");
    let backup = std::fs::read_to_string(h.path("all.jsonl.backup.csv")).unwrap();
    let mut rows = backup.lines();
    assert_eq!(rows.next(), Some("did,handle"));
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), subjects);
    assert!(rows.iter().all(|r| r.starts_with("did:")));
    assert!(
        rows.iter().filter(|r| r.ends_with(".bsky.test")).count() > subjects / 2,
        "names of active accounts"
    );
    assert_eq!(journal_records(&h.path("all.jsonl")).len(), subjects);
    let pages = h.sent(Endpoint::ListRecords).len();
    assert_eq!(
        pages, 4,
        "the records are read once: three pages and the empty one"
    );
}

#[test]
fn all_with_lists_also_leaves_every_moderation_list() {
    let h = Bsky::new();
    let lists = h.listblocks();
    assert!(lists.len() >= 2);
    let out = h.run(&["--all", "--lists", "--log", "all.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(h.blocks().is_empty());
    assert!(h.listblocks().is_empty());
    let backup = std::fs::read_to_string(h.path("all.jsonl.backup.csv")).unwrap();
    for list in &lists {
        assert!(backup.contains(list.as_str()), "{list} in the backup");
    }
    let by_list = journal_records(&h.path("all.jsonl"))
        .into_iter()
        .filter(|r| r["by"] == "list")
        .count();
    assert_eq!(by_list, lists.len());
}

#[test]
fn an_export_killed_midway_resumes_from_its_last_page() {
    let h = Bsky::with_config(|c| c.faults.latency_ms = 20);
    let dids = made_up_dids(1500, 'k');
    h.block(&dids.iter().map(|d| (d.clone(), 1)).collect::<Vec<_>>());
    let args = ["--out", "blocks.csv", "--rate", "10/s"];
    let child = h.spawn("first", "export", &args);
    let partial = h.path("blocks.csv.partial");
    assert!(wait_until(PATIENCE, || common::complete_lines(&partial) >= 4));
    let mut child = child;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(!h.path("blocks.csv").exists(), "no file until complete");
    let first = h.sent(Endpoint::ListRecords).len();
    let out = h.sub("export", &["--out", "blocks.csv", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = std::fs::read_to_string(h.path("blocks.csv")).unwrap();
    let mut rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.remove(0), "did");
    let written: BTreeSet<&str> = rows.iter().copied().collect();
    assert_eq!(written.len(), dids.len());
    assert!(dids.iter().all(|d| written.contains(d.as_str())));
    let again = h.sent(Endpoint::ListRecords).len() - first;
    // 15 pages and the empty one; at least 4 were kept, and a page fetched as the kill
    // landed may be fetched again.
    assert!(
        (1..=12).contains(&again),
        "the pages kept were not fetched again: {first} then {again}"
    );
    assert!(!partial.exists());
}

#[test]
fn undo_blocks_again_what_the_run_unblocked_and_report_sums_it_up() {
    let h = Bsky::new();
    let list = sample_list();
    let out = h.run(&[&list, "--log", "run.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let unblocked: Vec<String> = journal_records(&h.path("run.jsonl"))
        .into_iter()
        .filter(|r| r["outcome"] == "unblocked" && r["by"] != "list")
        .map(|r| r["user_id"].as_str().unwrap().to_owned())
        .collect();
    let lists = h.listblocks().len();

    let report = h
        .command()
        .args(["report", "run.jsonl", "--json"])
        .output()
        .expect("runs");
    assert_eq!(report.status.code(), Some(0), "{}", show(&report));
    let summary: serde_json::Value = serde_json::from_slice(&report.stdout).expect("JSON");
    let text = summary.to_string();
    assert!(text.contains("bluesky"), "{text}");
    assert!(
        text.contains(&format!("\"unblocked\":{}", unblocked.len() + 1)),
        "{text}"
    );

    let out = h.sub(
        "undo",
        &["run.jsonl", "--log", "undo.jsonl", "--rate", "1000/s"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let counts = h.block_counts();
    for did in &unblocked {
        assert_eq!(counts.get(did), Some(&1), "{did} blocked again, once");
    }
    assert_eq!(
        h.listblocks().len(),
        lists + 1,
        "the list subscribed to again"
    );
    let undo = journal_records(&h.path("undo.jsonl"));
    assert_eq!(undo.len(), unblocked.len() + 1);
    assert!(undo.iter().all(|r| r["outcome"] == "blocked"));
    assert_eq!(journal_header(&h.path("undo.jsonl"))["action"], "block");
    assert_eq!(h.sent(Endpoint::ApplyWrites).len(), 2, "one batch each way");
}

#[test]
fn a_dry_run_sends_nothing_and_check_only_reads() {
    let h = Bsky::new();
    let before = h.blocks();
    let list = sample_list();
    let mut cmd = h.command();
    cmd.env_remove("BLUESKY_APP_PASSWORD")
        .env_remove("BLUESKY_IDENTIFIER");
    let out = h
        .with_network(cmd, "run", &[&list, "--log", "j.jsonl", "--dry-run"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        stdout(&out).contains("left to do:              28"),
        "{}",
        show(&out)
    );
    assert!(
        h.emulator.requests().is_empty(),
        "no credentials, no request"
    );

    let out = h.run(&[&list, "--log", "j.jsonl", "--dry-run", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    assert!(
        text.contains("blocked now, would be unblocked: 25 of 28"),
        "{text}"
    );
    assert!(
        text.contains("not blocked now:                 1"),
        "{text}"
    );
    assert!(
        text.contains("names nobody answers to:         2"),
        "{text}"
    );
    assert_eq!(h.blocks(), before);
    for r in h.emulator.requests() {
        assert!(
            r.method == "GET" || r.endpoint == Endpoint::CreateSession,
            "only reads: {} {}",
            r.method,
            r.path
        );
    }
    assert!(!h.path("j.jsonl").exists() || journal_len(&h.path("j.jsonl")) == 0);
}

#[test]
fn a_journal_of_another_network_is_refused() {
    let h = Bsky::new();
    h.write(
        "x.jsonl",
        "{\"journal\":\"bulk-unblock\",\"version\":1,\"network\":\"x\",\"account_id\":\"12\",\"action\":\"unblock\",\"created_at\":\"2026-01-01T00:00:00Z\"}\n",
    );
    let list = sample_list();
    let out = h.run(&[&list, "--log", "x.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(h.sent(Endpoint::ApplyWrites).is_empty());
    assert!(h.sent(Endpoint::DeleteRecord).is_empty());
}

#[test]
fn the_demo_runs_the_pipeline_through_an_expired_token_and_a_stale_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.jsonl");
    let out = std::process::Command::new(common::BIN)
        .args(["demo", "--network", "bluesky", "--log"])
        .arg(&log)
        .env_remove("RUST_LOG")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    assert!(
        text.contains("unblocked 25 · not_blocked 1 · not_found 2 · failed 0"),
        "{text}"
    );
    let refreshes = text
        .split("createSession, ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        refreshes.is_some_and(|n| n >= 1),
        "a token was refreshed: {text}"
    );
    assert!(
        !text.contains("(0 answered 500"),
        "a batch met a stale record: {text}"
    );
    assert_eq!(journal_records(&log).len(), 28);
}

#[test]
fn the_most_verbose_run_through_a_refresh_and_a_revocation_prints_no_secret() {
    let h = Bsky::with_config(|c| {
        c.faults.revoke_after = Some(2);
        c.sessions.revocation_ends_access = true;
        c.faults.over_capacity_rate = 0.2;
    });
    let dids = made_up_dids(700, 'm');
    let input = block_and_list(&h, &dids, &[], 0, 3);
    let mut cmd = h.command();
    cmd.env("RUST_LOG", "trace");
    let args = [
        input.as_str(),
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "-vv",
        "--concurrency",
        "1",
    ];
    let out = h.with_network(cmd, "run", &args).output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(3),
        "revoked mid-run: {}",
        show(&out)
    );
    assert!(
        h.sent(Endpoint::RefreshSession).len() == 1,
        "a refresh was tried"
    );
    let journal = std::fs::read_to_string(h.path("j.jsonl")).unwrap();
    let all = format!("{}{}{journal}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).len() > 2_000,
        "trace logging produced output to check"
    );
    assert!(
        !all.contains(&h.app_password),
        "the app password was printed"
    );
    // Every token the emulator issues is a JWT, whose header encodes to `eyJ`.
    assert!(!all.contains("eyJ"), "a token was printed");
}

#[test]
fn unusable_lines_exit_2_naming_each_and_nothing_is_sent() {
    let h = Bsky::new();
    h.write(
        "bad.txt",
        "did:plc:k7tfeou4ctanphw6wzlbjega\nhttps://x.com/jack\n@not_a_handle\nat://did:plc:k7tfeou4ctanphw6wzlbjega/app.bsky.graph.block/3k1\n",
    );
    let out = h.run(&["bad.txt", "--log", "j.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    for line in ["bad.txt:2: ", "bad.txt:3: ", "bad.txt:4: "] {
        assert!(err.contains(line), "{line} in {err}");
    }
    assert!(!err.contains("bad.txt:1:"), "{err}");
    assert!(
        h.emulator.requests().is_empty(),
        "nothing sent, not even a login"
    );
}
