//! Mastodon end to end: the real binary against the emulated instance over loopback, asserting
//! on what the instance received and holds.
//!
//! Every input form; unknown and not-blocked accounts; domains; a bad token and a token
//! without `write:blocks`; a revocation mid-run; 429s with and without rate headers; faults;
//! runs killed at seeded moments and rerun; Ctrl-C; `--all` over several pages with the paging
//! throttle binding, `--all --domains`, `export` killed and resumed, `undo`, `report`,
//! `--dry-run` and `--check`; the instance missing; the journal's network.
//!
//! Windows are a second or two and seeds small, so the whole file runs in well under a minute.
//! The random moments come from one seed, printed by the test (`BULK_UNBLOCK_TEST_SEED`
//! overrides it), so a failure can be replayed.

#![cfg(target_os = "linux")]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use bulk_unblock::emulator::mastodon::{Endpoint, HeaderMode, Throttle};
use bulk_unblock::emulator::seed::made_up_name;
use common::mastodon::{Instance, owner_blocks, writes};
use common::{
    is_terminal_outcome, journal_header, journal_records, journal_records_tolerant, send_signal,
    show, stderr, stdout, test_seed, wait_until,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How long a test waits for a background run to reach a state before failing.
const PATIENCE: Duration = Duration::from_secs(30);

/// Every record's target mapped to its outcomes, in file order.
fn outcomes(records: &[serde_json::Value]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        map.entry(r["target"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(r["outcome"].as_str().unwrap_or_default().to_owned());
    }
    map
}

/// Asserts that the journal names exactly `targets`, each with exactly one terminal record
/// and nothing after it; returns the latest outcome of each.
fn one_terminal_line_each(
    log: &std::path::Path,
    targets: &BTreeSet<String>,
) -> BTreeMap<String, String> {
    let (records, _) = journal_records_tolerant(log);
    let per_target = outcomes(&records);
    let named: BTreeSet<String> = per_target.keys().cloned().collect();
    assert_eq!(&named, targets, "the journal names exactly the targets");
    per_target
        .into_iter()
        .map(|(target, outcomes)| {
            let terminal = outcomes.iter().filter(|o| is_terminal_outcome(o)).count();
            assert_eq!(terminal, 1, "{target}: one terminal record: {outcomes:?}");
            assert!(
                is_terminal_outcome(outcomes.last().unwrap()),
                "{target}: {outcomes:?}"
            );
            (target, outcomes.last().unwrap().clone())
        })
        .collect()
}

/// A list of `ids`, every `acct_every`th written as the account's acct instead (made-up
/// accounts are local, named as the emulator names them), and the targets as the journal
/// writes them.
fn made_up_list(
    i: &Instance,
    ids: &[String],
    acct_every: usize,
) -> (std::path::PathBuf, BTreeSet<String>) {
    let mut text = String::new();
    let mut targets = BTreeSet::new();
    for (n, id) in ids.iter().enumerate() {
        if acct_every > 0 && n % acct_every == 0 {
            let acct = made_up_name(id.parse().unwrap());
            assert_eq!(i.emulator.lookup(&acct).as_deref(), Some(id.as_str()));
            text.push_str(&format!("@{acct}\n"));
            targets.insert(acct);
        } else {
            text.push_str(&format!("{id}\n"));
            targets.insert(id.clone());
        }
    }
    (i.write("targets.txt", text), targets)
}

/// The sample export shipped with the seed.
fn sample(name: &str) -> String {
    common::sample(name).to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------
// Inputs and outcomes
// ---------------------------------------------------------------------------------------------

#[test]
fn every_input_form_names_the_account_it_should() {
    let i = Instance::new();
    let active = owner_blocks(false);
    let remote: Vec<&(String, String)> = active
        .iter()
        .filter(|(_, a)| !a.ends_with("@mastodon.test"))
        .collect();
    let local: Vec<&(String, String)> = active
        .iter()
        .filter(|(_, a)| a.ends_with("@mastodon.test"))
        .collect();
    let user = |address: &str| address.split('@').next().unwrap().to_owned();
    let domain = |address: &str| address.split('@').nth(1).unwrap().to_owned();
    // One account per spelling; the target each is recorded under.
    let forms: Vec<(String, String, &str)> = vec![
        (
            format!("@{}", remote[0].1.to_uppercase()),
            remote[0].1.clone(),
            &remote[0].0,
        ),
        (remote[1].1.clone(), remote[1].1.clone(), &remote[1].0),
        (
            format!("@{}", user(&local[0].1)),
            user(&local[0].1),
            &local[0].0,
        ),
        (user(&local[1].1), user(&local[1].1), &local[1].0),
        (
            format!("https://{}/@{}", domain(&remote[2].1), user(&remote[2].1)),
            remote[2].1.clone(),
            &remote[2].0,
        ),
        (
            format!("https://mastodon.test/@{}", remote[3].1),
            remote[3].1.clone(),
            &remote[3].0,
        ),
        (local[2].0.clone(), local[2].0.clone(), &local[2].0),
        (local[3].1.clone(), local[3].1.clone(), &local[3].0),
    ];
    let list: String = forms.iter().map(|(line, ..)| format!("{line}\n")).collect();
    i.write("list.txt", list);
    // Mastodon's own export (no header), a CSV by ID and acct, and one of `Account address`.
    i.write("blocked_accounts.csv", format!("{}\n", remote[4].1));
    i.write(
        "by_column.csv",
        format!("account_id,acct\n{},\n,{}\n", remote[5].0, local[4].1),
    );
    i.write(
        "follows.csv",
        format!("Account address,Show boosts\n{},true\n", remote[6].1),
    );
    let mut child = i
        .sub(
            "run",
            &[
                "list.txt",
                "blocked_accounts.csv",
                "by_column.csv",
                "follows.csv",
                "-",
                "--log",
                "j.jsonl",
                "--rate",
                "1000/s",
                "--list-rate",
                "1000/s",
            ],
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary starts");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(
            stdin,
            "https://{}/users/{}",
            domain(&remote[7].1),
            user(&remote[7].1)
        )
        .unwrap();
    }
    let out = child.wait_with_output().expect("binary runs");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    i.assert_no_token(&format!("{}{}", stdout(&out), stderr(&out)));

    let mut expected: Vec<(String, String)> = forms
        .iter()
        .map(|(_, target, id)| (target.clone(), (*id).to_owned()))
        .collect();
    expected.extend([
        (remote[4].1.clone(), remote[4].0.clone()),
        (remote[5].0.clone(), remote[5].0.clone()),
        (local[4].1.clone(), local[4].0.clone()),
        (remote[6].1.clone(), remote[6].0.clone()),
        (remote[7].1.clone(), remote[7].0.clone()),
    ]);
    let records = journal_records(&i.path("j.jsonl"));
    let got: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            assert_eq!(r["outcome"], "unblocked", "{r}");
            (
                r["target"].as_str().unwrap().to_owned(),
                r["user_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let sorted = |mut v: Vec<(String, String)>| {
        v.sort();
        v
    };
    assert_eq!(sorted(got), sorted(expected.clone()));
    // The journal names each acct's account by its full address, local ones with the
    // instance's domain, and says how each target was named.
    for r in &records {
        let by = r["by"].as_str().unwrap();
        let target = r["target"].as_str().unwrap();
        assert_eq!(
            by,
            if target.contains(|c: char| !c.is_ascii_digit()) {
                "acct"
            } else {
                "account_id"
            }
        );
        let id = r["user_id"].as_str().unwrap();
        let address = active.iter().find(|(i, _)| i == id).unwrap().1.clone();
        // Known for accts (the lookup told); an ID unblocked without a lookup has none.
        let known = (by == "acct").then_some(address);
        assert_eq!(
            r["screen_name"].as_str().map(str::to_lowercase),
            known,
            "{r}"
        );
    }
    // What the instance received: one unblock per account, by ID; a lookup per acct (a few
    // accts are not worth the block list), none for IDs.
    let mut unblocked = i.unblocked_ids();
    unblocked.sort();
    let mut ids: Vec<String> = expected.iter().map(|(_, id)| id.clone()).collect();
    ids.sort();
    assert_eq!(unblocked, ids);
    let accts = expected
        .iter()
        .filter(|(t, _)| t.contains(|c: char| !c.is_ascii_digit()))
        .count();
    assert_eq!(i.requests_to(Endpoint::Lookup).len(), accts);
    assert!(i.requests_to(Endpoint::Blocks).is_empty());
    for id in &ids {
        assert!(
            !i.blocked().contains(id),
            "{id} is unblocked on the instance"
        );
    }
    assert_eq!(i.blocked().len(), 200 - ids.len());

    // Bad lines: exit 2, every line named, nothing sent.
    let before = i.emulator.requests().len();
    i.write("bad.txt", "alice@mastodon.test\nnot an acct\n@a@b@c\n");
    let out = i.run(&["bad.txt", "--log", "bad.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.contains("bad.txt:2: ") && err.contains("bad.txt:3: "),
        "{err}"
    );
    assert_eq!(i.emulator.requests().len(), before, "nothing sent");
}

#[test]
fn the_sample_export_ends_unblocked_not_found_and_not_blocked_and_a_rerun_does_nothing() {
    let i = Instance::new();
    let out = i.run(&[
        &sample("blocked_accounts.csv"),
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--list-rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    i.assert_no_token(&text);
    assert!(
        text.contains("unblocked 200 · not_blocked 1 · not_found 1 · failed 0"),
        "{text}"
    );
    assert_eq!(i.blocked(), Vec::<String>::new(), "every block is gone");

    let header = journal_header(&i.path("j.jsonl"));
    assert_eq!(header["network"], "mastodon");
    assert_eq!(header["account_id"], i.owner.as_str());
    assert_eq!(header["account_screen_name"], "demo_owner@mastodon.test");
    let records = journal_records(&i.path("j.jsonl"));
    let by_target: BTreeMap<&str, &serde_json::Value> = records
        .iter()
        .map(|r| (r["target"].as_str().unwrap(), r))
        .collect();
    let ghost = by_target["ghost@nowhere.example"];
    assert_eq!(ghost["outcome"], "not_found");
    assert_eq!(ghost["attempts"], 0, "known from the lookup: no unblock");
    let not_blocked: Vec<&&serde_json::Value> = by_target
        .values()
        .filter(|r| r["outcome"] == "not_blocked")
        .collect();
    assert_eq!(not_blocked.len(), 1);
    assert_eq!(not_blocked[0]["attempts"], 0, "no write for it");
    let not_blocked_id = not_blocked[0]["user_id"].as_str().unwrap().to_owned();

    // The list was read page by page through the Link header; the accounts it does not hold
    // (the suspended ones, the unknown and the unblocked one) were looked up; suspended
    // accounts, hidden from the list, were unblocked by ID all the same.
    let pages = i.requests_to(Endpoint::Blocks);
    let suspended = owner_blocks(true);
    let visible = 200 - suspended.len();
    assert_eq!(pages.len(), visible.div_ceil(80));
    assert!(
        pages
            .iter()
            .all(|p| p.params.get("limit").map(String::as_str) == Some("80"))
    );
    assert!(pages[1..].iter().all(|p| p.params.contains_key("max_id")));
    assert_eq!(i.requests_to(Endpoint::Lookup).len(), suspended.len() + 2);
    let unblocked: HashSet<String> = i.unblocked_ids().into_iter().collect();
    assert_eq!(
        i.unblocked_ids().len(),
        200,
        "one unblock per blocked account"
    );
    for (id, _) in &suspended {
        assert!(unblocked.contains(id), "suspended {id} unblocked");
    }
    assert!(!unblocked.contains(&not_blocked_id));

    // A rerun finds everything done and changes nothing.
    let before = i.emulator.requests().len();
    let out = i.run(&[&sample("blocked_accounts.csv"), "--log", "j.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).contains("Nothing to do"), "{}", show(&out));
    let after = i.emulator.requests();
    assert_eq!(after.len(), before + 1, "the credentials check only");
    assert_eq!(after.last().unwrap().endpoint, Endpoint::VerifyCredentials);
}

#[test]
fn domains_are_lifted_those_not_blocked_say_so_and_undo_restores_them() {
    let i = Instance::with_config(|c| {
        c.limits.enabled = false;
        c.replies.domain_blocks_page = 2;
    });
    let before = i.domain_blocks();
    assert_eq!(before.len(), 5);
    i.write(
        "domains.csv",
        format!(
            "{}\nHTTPS://Not-Blocked.Example/\n",
            std::fs::read_to_string(common::sample("blocked_domains.csv")).unwrap()
        ),
    );
    let out = i.run(&[
        "domains.csv",
        "--domains",
        "--log",
        "d.jsonl",
        "--rate",
        "1000/s",
        "--list-rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(i.domain_blocks(), Vec::<String>::new());
    assert_eq!(i.blocked().len(), 200, "no account block touched");
    let lifted: Vec<String> = i
        .requests_to(Endpoint::DomainUnblock)
        .iter()
        .map(|r| r.params["domain"].clone())
        .collect();
    let mut sorted = lifted.clone();
    sorted.sort();
    let mut expected = before.clone();
    expected.sort();
    assert_eq!(
        sorted, expected,
        "one DELETE per blocked domain, as a form field"
    );
    assert_eq!(
        i.requests_to(Endpoint::DomainBlocks).len(),
        3,
        "the domain list, 2 a page, through its Link header"
    );
    let records = journal_records(&i.path("d.jsonl"));
    assert_eq!(records.len(), 6);
    for r in &records {
        assert_eq!(r["by"], "domain");
        let expected = if r["target"] == "not-blocked.example" {
            "not_blocked"
        } else {
            "unblocked"
        };
        assert_eq!(r["outcome"], expected, "{r}");
    }
    // `--domains` is refused where a network has none, and a domain is no account.
    // Without --domains, a domain is no account: refused, nothing sent.
    let sent = i.emulator.requests().len();
    let out = i.run(&["domains.csv", "--log", "other.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr(&out).contains("domains.csv:1: "), "{}", show(&out));
    assert_eq!(i.emulator.requests().len(), sent);

    let out = i
        .sub(
            "undo",
            &["d.jsonl", "--log", "undo.jsonl", "--rate", "1000/s"],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let mut restored = i.domain_blocks();
    restored.sort();
    assert_eq!(
        restored, expected,
        "the five domains are blocked again, no more"
    );
    let undo = journal_records(&i.path("undo.jsonl"));
    assert!(
        undo.iter()
            .all(|r| r["outcome"] == "blocked" && r["by"] == "domain")
    );
    assert_eq!(journal_header(&i.path("undo.jsonl"))["action"], "block");
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

#[test]
fn a_bad_token_and_a_token_without_write_blocks_stop_with_exit_3_and_no_write() {
    let i = Instance::new();
    let ids: Vec<String> = owner_blocks(false)
        .into_iter()
        .take(10)
        .map(|(id, _)| id)
        .collect();
    i.write("ids.txt", ids.join("\n"));

    let bogus = "not-a-token-anyone-issued";
    let out = i
        .command_with_token(bogus)
        .args([
            "run",
            "--network",
            "mastodon",
            "ids.txt",
            "--log",
            "bad.jsonl",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let err = stderr(&out);
    assert!(err.contains("The access token is invalid"), "{err}");
    assert!(
        err.contains("Settings → Development → New application"),
        "{err}"
    );
    assert!(
        err.contains("read:blocks write:blocks read:accounts"),
        "{err}"
    );
    assert!(
        !format!("{}{err}", stdout(&out)).contains(bogus),
        "the token is not shown"
    );
    assert_eq!(journal_records_tolerant(&i.path("bad.jsonl")).0.len(), 0);
    assert!(writes(&i.emulator.requests()).is_empty());

    for domains in [false, true] {
        let read_only = Instance::token_of("demo-read-only");
        let mut args = vec!["run", "--network", "mastodon"];
        let log = if domains {
            "ro-domains.jsonl"
        } else {
            "ro.jsonl"
        };
        if domains {
            i.write("domains.txt", "spam.example\n");
            args.extend(["domains.txt", "--domains"]);
        } else {
            args.push("ids.txt");
        }
        args.extend(["--log", log, "--rate", "1000/s"]);
        let out = i
            .command_with_token(&read_only)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", show(&out));
        let err = stderr(&out);
        assert!(err.contains("outside the authorized scopes"), "{err}");
        assert!(err.contains("lacks a scope"), "{err}");
        assert!(!err.contains(&read_only), "{err}");
        assert_eq!(
            journal_records_tolerant(&i.path(log)).0.len(),
            0,
            "nothing recorded"
        );
    }
    let stats = i.emulator.stats();
    assert_eq!(stats.unblocks_applied, 0, "no write succeeded");
    assert_eq!(i.domain_blocks().len(), 5);
    assert_eq!(i.blocked().len(), 200);

    // The right token finishes the same journal.
    let out = i.run(&["ids.txt", "--log", "ro.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(i.blocked().len(), 190);
}

#[test]
fn a_token_revoked_mid_run_stops_it_with_exit_3_and_the_rerun_finishes() {
    let i = Instance::with_config(|c| {
        c.limits.enabled = false;
        c.faults.revoke_after = Some(7);
    });
    let ids = i.block_made_up(30, 120_000_000_000_000_000);
    let (list, targets) = made_up_list(&i, &ids, 0);
    let list = list.to_string_lossy().into_owned();
    let args = [list.as_str(), "--log", "j.jsonl", "--rate", "1000/s"];
    let out = i.run(&args);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let err = stderr(&out);
    assert!(err.contains("revoked"), "{err}");
    i.assert_no_token(&err);
    // The seventh success revokes the token; requests already past the check may still pass.
    let records = journal_records(&i.path("j.jsonl"));
    assert!((7..=10).contains(&records.len()), "{records:?}");
    assert!(records.iter().all(|r| r["outcome"] == "unblocked"));
    assert_eq!(
        i.blocked().len(),
        30 - records.len(),
        "each success is recorded"
    );

    assert!(i.emulator.restore_token(&i.token));
    i.emulator.update_config(|c| c.faults.revoke_after = None);
    let seen = i.requests_to(Endpoint::Unblock).len();
    let done: HashSet<String> = records
        .iter()
        .map(|r| r["target"].as_str().unwrap().to_owned())
        .collect();
    let out = i.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(i.blocked(), Vec::<String>::new());
    let resent: Vec<String> = i.unblocked_ids()[seen..]
        .iter()
        .filter(|id| done.contains(*id))
        .cloned()
        .collect();
    assert!(resent.is_empty(), "done targets sent again: {resent:?}");
    one_terminal_line_each(&i.path("j.jsonl"), &targets);
}

#[test]
fn the_instance_and_the_token_are_required_and_a_credentials_file_may_hold_them() {
    let i = Instance::new();
    i.write("one.txt", format!("{}\n", owner_blocks(false)[0].0));
    let out = i
        .command()
        .env_remove("MASTODON_INSTANCE")
        .args([
            "run",
            "--network",
            "mastodon",
            "one.txt",
            "--log",
            "j.jsonl",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr(&out).contains("MASTODON_INSTANCE"), "{}", show(&out));
    let out = i
        .command()
        .env_remove("MASTODON_ACCESS_TOKEN")
        .args([
            "run",
            "--network",
            "mastodon",
            "one.txt",
            "--log",
            "j.jsonl",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stderr(&out).contains("MASTODON_ACCESS_TOKEN"),
        "{}",
        show(&out)
    );
    assert!(i.emulator.requests().is_empty(), "nothing sent");

    let creds = i.write(
        "creds.toml",
        format!(
            "instance = \"{}\"\naccess_token = \"{}\"\n",
            i.base_url(),
            i.token
        ),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = i
        .command()
        .env_remove("MASTODON_INSTANCE")
        .env_remove("MASTODON_ACCESS_TOKEN")
        .args([
            "run",
            "--network",
            "mastodon",
            "one.txt",
            "--log",
            "j.jsonl",
        ])
        .args(["--credentials", "creds.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(i.blocked().len(), 199);
}

// ---------------------------------------------------------------------------------------------
// Pacing and faults
// ---------------------------------------------------------------------------------------------

#[test]
fn with_rate_headers_the_window_is_used_with_few_429s() {
    let i = Instance::with_config(|c| {
        c.limits.per_token = Throttle::new(15, 1);
        c.limits.headers = HeaderMode::All;
    });
    let ids = i.block_made_up(45, 130_000_000_000_000_000);
    let (list, targets) = made_up_list(&i, &ids, 0);
    let started = Instant::now();
    let out = i.run(&[
        list.to_str().unwrap(),
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--concurrency",
        "4",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stats = i.emulator.stats();
    assert!(stats.rate_limited <= 3, "{} 429s", stats.rate_limited);
    assert_eq!(i.blocked(), Vec::<String>::new());
    one_terminal_line_each(&i.path("j.jsonl"), &targets);
    // 46 requests at 15 a window need four windows: the tool waited for them, and no longer.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
}

#[test]
fn a_429_without_retry_after_waits_for_the_announced_reset() {
    // Only the 429 carries the headers: the tool learns the window from it alone.
    let i = Instance::with_config(|c| {
        c.limits.per_token = Throttle::new(6, 1);
        c.limits.headers = HeaderMode::Only429;
    });
    let ids = i.block_made_up(14, 140_000_000_000_000_000);
    let (list, targets) = made_up_list(&i, &ids, 0);
    let out = i.run(&[
        list.to_str().unwrap(),
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--concurrency",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    one_terminal_line_each(&i.path("j.jsonl"), &targets);
    let requests = i.emulator.requests();
    let limited: Vec<usize> = (0..requests.len())
        .filter(|&n| requests[n].status == 429)
        .collect();
    assert!(!limited.is_empty(), "the window was met");
    for &n in &limited {
        let window_end = (requests[n].at_ms.div_euclid(1000) + 1) * 1000;
        let next = requests.get(n + 1).expect("a request after the 429");
        assert!(
            next.at_ms >= window_end,
            "a request {} ms before the announced reset",
            window_end - next.at_ms
        );
        assert_ne!(next.status, 429, "one 429 a window");
    }
}

#[test]
fn without_rate_headers_429s_are_survived_and_stay_few() {
    let i = Instance::with_config(|c| {
        c.limits.per_token = Throttle::new(10, 1);
        c.limits.headers = HeaderMode::None;
    });
    let ids = i.block_made_up(24, 150_000_000_000_000_000);
    let (list, targets) = made_up_list(&i, &ids, 0);
    let out = i.run(&[
        list.to_str().unwrap(),
        "--log",
        "j.jsonl",
        "--rate",
        "14/s",
        "--concurrency",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stats = i.emulator.stats();
    assert!(stats.rate_limited >= 1, "the hidden limit was met");
    assert!(stats.rate_limited <= 10, "{} 429s", stats.rate_limited);
    assert_eq!(i.blocked(), Vec::<String>::new());
    let outcomes = one_terminal_line_each(&i.path("j.jsonl"), &targets);
    assert!(outcomes.values().all(|o| o == "unblocked"));
}

#[test]
fn faults_and_lost_answers_end_every_account_unblocked_once_recorded() {
    let seed = test_seed(0x3a57_0d0f);
    let i = Instance::with_config(|c| {
        c.limits.enabled = false;
        c.faults.seed = seed;
        c.faults.over_capacity_rate = 0.1;
        c.faults.internal_error_rate = 0.05;
        c.faults.drop_after_acting_rate = 0.1;
        c.faults.stall_rate = 0.03;
        c.faults.stall = Duration::from_secs(3);
    });
    let ids = i.block_made_up(60, 160_000_000_000_000_000);
    let (list, targets) = made_up_list(&i, &ids, 10);
    let out = i.run(&[
        list.to_str().unwrap(),
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--list-rate",
        "1000/s",
        "--concurrency",
        "8",
        "--timeout",
        "1s",
        "--max-attempts",
        "12",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stats = i.emulator.stats();
    assert!(stats.faults_injected >= 3, "{stats:?}");
    assert_eq!(i.blocked(), Vec::<String>::new());
    let outcomes = one_terminal_line_each(&i.path("j.jsonl"), &targets);
    assert!(outcomes.values().all(|o| o == "unblocked"), "{outcomes:?}");
}

// ---------------------------------------------------------------------------------------------
// Crashes and interrupts
// ---------------------------------------------------------------------------------------------

#[test]
fn runs_killed_at_20_seeded_moments_end_with_one_terminal_line_per_target() {
    let seed = test_seed(0x0b10_c4ed);
    let mut rng = StdRng::seed_from_u64(seed);
    let i = Instance::with_config(|c| {
        c.limits.enabled = false;
        c.faults.seed = seed;
        c.faults.latency_ms = 20;
        c.faults.jitter_ms = 10;
    });
    let ids = i.block_made_up(500, 170_000_000_000_000_000);
    // A few accts too: each run looks up those not done yet.
    let (list, targets) = made_up_list(&i, &ids, 125);
    let list = list.to_string_lossy().into_owned();
    let args = [
        list.as_str(),
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--list-rate",
        "1000/s",
        "--concurrency",
        "4",
    ];
    let log = i.path("j.jsonl");
    // For each target, the request count when the journal first held a terminal record for
    // it: an unblock of it after that is a target sent again after it was done.
    let mut done_since: BTreeMap<String, usize> = BTreeMap::new();
    let id_of = |target: &str| -> String {
        i.emulator
            .lookup(target)
            .unwrap_or_else(|| target.to_owned())
    };
    let mut landed = 0;
    for n in 0..24 {
        let after = Duration::from_millis(rng.random_range(0..=400));
        let child = i.spawn(&format!("run{n}"), i.sub("run", &args));
        std::thread::sleep(after);
        let mut child = child;
        if child.try_wait().unwrap().is_some() {
            let out = i.background_output(&format!("run{n}"), child);
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
            break;
        }
        child.kill().expect("SIGKILL sent");
        let _ = child.wait();
        landed += 1;
        let seen = i.requests_to(Endpoint::Unblock).len();
        let (records, _) = journal_records_tolerant(&log);
        for (target, outcomes) in outcomes(&records) {
            if outcomes.iter().any(|o| is_terminal_outcome(o)) {
                done_since.entry(id_of(&target)).or_insert(seen);
            }
        }
    }
    assert!(
        landed >= 20,
        "at least 20 kills landed on a live run: {landed}"
    );
    assert!(done_since.len() < targets.len(), "the kills left work");

    let out = i.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(i.blocked(), Vec::<String>::new());
    let resent: Vec<(usize, String)> = i
        .unblocked_ids()
        .into_iter()
        .enumerate()
        .filter(|(n, id)| done_since.get(id).is_some_and(|since| n >= since))
        .collect();
    assert!(
        resent.is_empty(),
        "sent again after the journal called them done: {resent:?}"
    );
    one_terminal_line_each(&log, &targets);
    println!(
        "{landed} kills; {} unblocks for {} targets",
        i.unblocked_ids().len(),
        targets.len()
    );
}

#[test]
fn ctrl_c_records_what_was_in_flight_and_the_rerun_sends_each_target_once() {
    let i = Instance::with_config(|c| {
        c.limits.enabled = false;
        c.faults.latency_ms = 40;
    });
    let ids = i.block_made_up(120, 180_000_000_000_000_000);
    let (list, targets) = made_up_list(&i, &ids, 0);
    let list = list.to_string_lossy().into_owned();
    let args = [list.as_str(), "--log", "j.jsonl", "--rate", "1000/s"];
    let log = i.path("j.jsonl");
    let child = i.spawn("first", i.sub("run", &args));
    assert!(
        wait_until(PATIENCE, || common::journal_len(&log) >= 10),
        "the run recorded some targets"
    );
    send_signal(&child, "-INT");
    let out = i.background_output("first", child);
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert!(stderr(&out).contains("Resume with:"), "{}", show(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with('\n'), "the journal ends with a whole line");
    let (records, bad) = journal_records_tolerant(&log);
    assert_eq!(bad, 0);
    assert_eq!(
        records.len(),
        i.requests_to(Endpoint::Unblock).len(),
        "every unblock sent got its record"
    );
    assert!(records.len() < targets.len());

    let out = i.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let mut sent = i.unblocked_ids();
    sent.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(sent, expected, "every target sent exactly once");
    one_terminal_line_each(&log, &targets);
}

// ---------------------------------------------------------------------------------------------
// The whole list, export, undo, report, previews
// ---------------------------------------------------------------------------------------------

#[test]
fn all_reads_several_pages_within_the_paging_limit_then_unblocks_every_one() {
    let i = Instance::with_config(|c| {
        c.limits.per_token = Throttle::new(1000, 1);
        c.limits.paging = Throttle::new(1, 1);
        c.limits.headers = HeaderMode::All;
    });
    let ids = i.block_made_up(250, 190_000_000_000_000_000);
    let out = i.run(&[
        "--all",
        "--log",
        "all.jsonl",
        "--rate",
        "1000/s",
        "--list-rate",
        "1000/s",
        "--concurrency",
        "8",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(i.blocked(), Vec::<String>::new());
    let pages = i.requests_to(Endpoint::Blocks);
    assert_eq!(pages.len(), 4, "80 + 80 + 80 + 10");
    let paging: Vec<&_> = pages
        .iter()
        .filter(|p| p.params.contains_key("max_id"))
        .collect();
    assert_eq!(paging.len(), 3);
    let windows: HashSet<i64> = paging.iter().map(|p| p.at_ms.div_euclid(1000)).collect();
    assert_eq!(
        windows.len(),
        3,
        "one paging request a window: the limit bound"
    );
    assert!(i.emulator.stats().rate_limited <= 1);

    let backup = std::fs::read_to_string(i.path("all.jsonl.backup.csv")).unwrap();
    let mut lines = backup.lines();
    assert_eq!(lines.next(), Some("account_id,acct"));
    let rows: Vec<(&str, &str)> = lines.map(|l| l.split_once(',').unwrap()).collect();
    assert_eq!(rows.len(), 250);
    let listed: BTreeSet<&str> = rows.iter().map(|(id, _)| *id).collect();
    let expected: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(listed, expected);
    assert!(
        rows.iter()
            .all(|(_, acct)| acct.ends_with("@mastodon.test")),
        "{rows:?}"
    );
    let records = journal_records(&i.path("all.jsonl"));
    assert_eq!(records.len(), 250);
    assert!(
        records
            .iter()
            .all(|r| r["outcome"] == "unblocked" && r["by"] == "account_id")
    );
    assert_eq!(i.unblocked_ids().len(), 250);
}

#[test]
fn all_domains_backs_up_a_domain_column_and_export_does_too() {
    let i = Instance::new();
    let out = i
        .sub("export", &["--out", "domains.csv", "--domains"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let exported = std::fs::read_to_string(i.path("domains.csv")).unwrap();
    let mut expected: Vec<String> = i.domain_blocks();
    expected.reverse();
    assert_eq!(
        exported,
        format!("domain\n{}\n", expected.join("\n")),
        "newest first"
    );

    let out = i.run(&["--all", "--domains", "--log", "d.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(i.domain_blocks(), Vec::<String>::new());
    let backup = std::fs::read_to_string(i.path("d.jsonl.backup.csv")).unwrap();
    assert_eq!(backup, exported);
    let records = journal_records(&i.path("d.jsonl"));
    assert_eq!(records.len(), 5);
    assert!(
        records
            .iter()
            .all(|r| r["by"] == "domain" && r["outcome"] == "unblocked")
    );
    assert_eq!(i.blocked().len(), 200, "accounts untouched");
}

#[test]
fn an_export_killed_mid_way_resumes_from_its_last_page() {
    let i = Instance::with_config(|c| {
        c.limits.enabled = false;
        c.faults.latency_ms = 150;
    });
    let ids = i.block_made_up(400, 200_000_000_000_000_000);
    let args = ["--out", "blocks.csv", "--rate", "1000/s", "--with-names"];
    let partial = i.path("blocks.csv.partial");
    let child = i.spawn("first", i.sub("export", &args));
    assert!(
        wait_until(PATIENCE, || common::complete_lines(&partial) >= 2),
        "two pages were kept"
    );
    let mut child = child;
    child.kill().expect("SIGKILL sent");
    let _ = child.wait();
    assert!(!i.path("blocks.csv").exists(), "no half-written export");
    let kept = common::complete_lines(&partial);
    let before = i.requests_to(Endpoint::Blocks).len();

    let out = i.sub("export", &args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let pages = i.requests_to(Endpoint::Blocks);
    assert!(
        pages[before..]
            .iter()
            .all(|p| p.params.contains_key("max_id")),
        "the resumed export did not start over"
    );
    assert_eq!(
        pages.len() - before + kept,
        6,
        "five full pages and an empty one, in all"
    );
    let text = std::fs::read_to_string(i.path("blocks.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("account_id,acct"));
    let exported: BTreeSet<String> = lines
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(exported, ids.into_iter().collect::<BTreeSet<_>>());
    assert_eq!(text.lines().count(), 401, "each account once");
    assert!(!partial.exists());
}

#[test]
fn undo_blocks_again_exactly_what_the_run_unblocked() {
    let i = Instance::new();
    let active = owner_blocks(false);
    i.write(
        "some.txt",
        format!(
            "{}\n{}\n{}\nghost@nowhere.example\n",
            active[0].0, active[1].1, active[2].1
        ),
    );
    let out = i.run(&[
        "some.txt",
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--list-rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let unblocked: BTreeSet<String> = active[..3].iter().map(|(id, _)| id.clone()).collect();
    let before: BTreeSet<String> = i.blocked().into_iter().collect();
    assert!(unblocked.iter().all(|id| !before.contains(id)));

    let out = i
        .sub("undo", &["j.jsonl", "--log", "undo.jsonl", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        writes(&i.emulator.requests())
            .iter()
            .all(|r| r.endpoint == Endpoint::Unblock)
    );

    let out = i
        .sub(
            "undo",
            &["j.jsonl", "--log", "undo.jsonl", "--rate", "1000/s"],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let reblocked: BTreeSet<String> = i.account_ids(Endpoint::Block).into_iter().collect();
    assert_eq!(
        reblocked, unblocked,
        "by ID, the three unblocked, not the unknown one"
    );
    let after: BTreeSet<String> = i.blocked().into_iter().collect();
    assert_eq!(after.len(), 200);
    let header = journal_header(&i.path("undo.jsonl"));
    assert_eq!(
        (header["network"].as_str(), header["action"].as_str()),
        (Some("mastodon"), Some("block"))
    );
    let records = journal_records(&i.path("undo.jsonl"));
    assert!(
        records.iter().all(|r| r["outcome"] == "blocked"),
        "{records:?}"
    );

    // Another account's token is refused for this undo.
    let other = Instance::token_of("other-bulk-unblock");
    let out = i
        .command_with_token(&other)
        .args(["undo", "j.jsonl", "--log", "undo-other.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn report_counts_a_mastodon_journal_and_its_retry_list_reads_back() {
    let i = Instance::with_config(|c| {
        c.limits.enabled = false;
        c.faults.over_capacity_rate = 1.0;
    });
    let active = owner_blocks(false);
    i.write(
        "some.txt",
        format!("{}\n@{}\n{}\n", active[0].0, active[1].1, active[2].1),
    );
    let out = i.run(&[
        "some.txt",
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--list-rate",
        "1000/s",
        "--max-attempts",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));

    let out = i
        .command()
        .args(["report", "j.jsonl", "--json", "--retry-list", "retry.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["network"], "mastodon");
    assert_eq!(summary["outcomes"]["failed"], 3);
    let retry = std::fs::read_to_string(i.path("retry.txt")).unwrap();
    assert!(retry.contains(&format!("@{}", active[1].1)), "{retry}");

    i.emulator
        .update_config(|c| c.faults.over_capacity_rate = 0.0);
    let out = i.run(&[
        "retry.txt",
        "--log",
        "j.jsonl",
        "--rate",
        "1000/s",
        "--list-rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = i.command().args(["report", "j.jsonl"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).contains("unblocked"), "{}", show(&out));
    assert_eq!(i.blocked().len(), 197);
}

#[test]
fn dry_run_sends_nothing_and_check_only_reads() {
    let i = Instance::new();
    let out = i
        .command()
        .env_remove("MASTODON_ACCESS_TOKEN")
        .env_remove("MASTODON_INSTANCE")
        .args([
            "run",
            "--network",
            "mastodon",
            &sample("blocked_accounts.csv"),
        ])
        .args(["--log", "j.jsonl", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        i.emulator.requests().is_empty(),
        "a dry run needs no instance"
    );

    let out = i.run(&[
        &sample("blocked_accounts.csv"),
        "--log",
        "j.jsonl",
        "--dry-run",
        "--check",
        "--list-rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    // The check says what the run would do: the suspended accounts the list leaves out are
    // unblocked all the same, so 200 of the 202, with one not blocked and one unknown.
    let visible = 200 - owner_blocks(true).len();
    assert!(
        text.contains(&format!("the account blocks {visible} now")),
        "{text}"
    );
    assert!(
        text.contains("blocked now, would be unblocked: 200 of 202"),
        "{text}"
    );
    let requests = i.emulator.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "read-only");
    // The list named every account it holds: only the others were looked up.
    assert_eq!(
        i.requests_to(Endpoint::Lookup).len(),
        202 - visible,
        "{}",
        show(&out)
    );

    let out = i.run(&[
        "--all",
        "--log",
        "all.jsonl",
        "--dry-run",
        "--list-rate",
        "1000/s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(writes(&i.emulator.requests()).is_empty());
    assert!(!i.path("all.jsonl").exists() && !i.path("all.jsonl.backup.csv").exists());
    assert_eq!(i.blocked().len(), 200);
}

#[test]
fn the_journal_belongs_to_one_network() {
    let i = Instance::new();
    i.write("one.txt", format!("{}\n", owner_blocks(false)[0].0));
    i.write(
        "x.jsonl",
        concat!(
            r#"{"journal":"bulk-unblock","version":1,"network":"x","account_id":"109276928409644247","action":"unblock","created_at":"2026-01-01T00:00:00Z"}"#,
            "\n"
        ),
    );
    let out = i.run(&["one.txt", "--log", "x.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(writes(&i.emulator.requests()).is_empty());

    let out = i.run(&["one.txt", "--log", "m.jsonl", "--rate", "1000/s"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(journal_header(&i.path("m.jsonl"))["network"], "mastodon");
    let out = i
        .command()
        .env("TWITTER_CONSUMER_KEY", "k")
        .env("TWITTER_CONSUMER_SECRET", "s")
        .env("TWITTER_ACCESS_TOKEN", "1-t")
        .env("TWITTER_ACCESS_TOKEN_SECRET", "ts")
        .args([
            "run",
            "one.txt",
            "--log",
            "m.jsonl",
            "--api-base",
            &i.base_url(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an X run refuses it: {}",
        show(&out)
    );
    assert!(stderr(&out).contains("mastodon"), "{}", show(&out));

    let out = i.run(&["one.txt", "--log", "l.jsonl", "--lists"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "Mastodon has no --lists: {}",
        show(&out)
    );
}

#[test]
fn the_most_verbose_run_through_faults_and_a_revocation_prints_no_token() {
    let i = Instance::with_config(|c| {
        c.limits.enabled = false;
        c.faults.over_capacity_rate = 0.2;
        c.faults.revoke_after = Some(15);
    });
    let ids = i.block_made_up(30, 210_000_000_000_000_000);
    let (list, _) = made_up_list(&i, &ids, 5);
    let out = i
        .sub(
            "run",
            &[
                list.to_str().unwrap(),
                "--log",
                "j.jsonl",
                "--rate",
                "1000/s",
                "--list-rate",
                "1000/s",
                "-vv",
            ],
        )
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("revoked"), "the trace ran: {text}");
    i.assert_no_token(&text);
    i.assert_no_token(&std::fs::read_to_string(i.path("j.jsonl")).unwrap());
}
