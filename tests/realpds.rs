//! Conformance of the Bluesky client against the reference PDS (`@atproto/pds`), not only
//! against the project's own emulator: where the two disagree, the real server is right.
//!
//! `tests/realpds/start.sh` runs the reference PDS on loopback with accounts, its real rate
//! limiter and short access tokens; `.ci/run` starts it, writes what it printed to a file, and
//! runs these tests with `BULK_UNBLOCK_REALPDS` naming that file:
//!
//! ```sh
//! ACCESS_TTL_SECS=5 RATE_LIMITS=1 PDS_PORT=0 PLC_PORT=0 tests/realpds/start.sh > pds.out &
//! BULK_UNBLOCK_REALPDS=pds.out cargo test --test realpds -- --ignored
//! ```
//!
//! Each test owns one of the PDS's accounts, makes its block records itself over XRPC
//! (`createRecord`, and `applyWrites` for the duplicate records `createRecord` would merge),
//! runs the real binary, and checks the journal and the records left in the repository.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{BIN, journal_header, journal_records, show, stderr};

/// Why the tests are ignored in a plain `cargo test`.
const NEEDS_PDS: &str = "needs the reference PDS: see tests/realpds.rs";

/// One account of the reference PDS.
#[derive(Clone, Debug)]
struct Account {
    handle: String,
    did: String,
    password: String,
}

/// The running reference PDS, as `start.sh` described it.
struct Pds {
    url: String,
    accounts: Vec<Account>,
    access_ttl: Duration,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

/// Made-up DIDs: block records may name any well-formed DID.
fn fake_did(n: usize) -> String {
    // did:plc identifiers are 24 characters of base32 (a–z, 2–7).
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut id = String::new();
    let mut v = n as u64 * 7919 + 12345;
    for _ in 0..24 {
        id.push(alphabet[(v % 32) as usize] as char);
        v = v / 32 + 977;
    }
    format!("did:plc:{id}")
}

impl Pds {
    /// The PDS named by `BULK_UNBLOCK_REALPDS`; the test fails, saying how to start one, when it
    /// is not set (the tests only run when asked for with `--ignored`).
    fn from_env() -> Pds {
        let path = std::env::var_os("BULK_UNBLOCK_REALPDS").unwrap_or_else(|| {
            panic!(
                "BULK_UNBLOCK_REALPDS must name the file where tests/realpds/start.sh printed its \
                 two lines ({NEEDS_PDS})"
            )
        });
        let text = std::fs::read_to_string(&path).expect("the PDS's start-up lines");
        let info: Value = text
            .lines()
            .nth(1)
            .and_then(|l| serde_json::from_str(l).ok())
            .expect("line 2 of start.sh's output is its JSON description");
        let accounts = info["accounts"]
            .as_array()
            .expect("accounts")
            .iter()
            .map(|a| Account {
                handle: a["handle"].as_str().unwrap().to_owned(),
                did: a["did"].as_str().unwrap().to_owned(),
                password: a["password"].as_str().unwrap().to_owned(),
            })
            .collect();
        bulk_unblock::http::install_tls_provider();
        Pds {
            url: info["pds"].as_str().expect("pds").to_owned(),
            accounts,
            access_ttl: Duration::from_secs(info["accessTtlSecs"].as_u64().unwrap_or(7200)),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    fn account(&self, name: &str) -> Account {
        self.accounts
            .iter()
            .find(|a| a.handle.starts_with(&format!("{name}.")))
            .unwrap_or_else(|| panic!("the PDS has no account {name}"))
            .clone()
    }

    /// Calls an XRPC procedure (POST with a JSON body) or query (GET).
    fn xrpc(&self, method: &str, nsid: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.rt.block_on(async {
            let url = format!("{}/xrpc/{nsid}", self.url);
            let mut request = if method == "GET" {
                let query: Vec<(String, String)> = body
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let query = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish();
                self.http.get(format!("{url}?{query}"))
            } else {
                self.http.post(url).json(&body)
            };
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("the PDS answers");
            let status = response.status().as_u16();
            let value = response.json().await.unwrap_or(Value::Null);
            (status, value)
        })
    }

    /// A fresh access token for `account`.
    fn login(&self, account: &Account) -> String {
        let (status, session) = self.xrpc(
            "POST",
            "com.atproto.server.createSession",
            None,
            json!({"identifier": account.handle, "password": account.password}),
        );
        assert_eq!(status, 200, "login: {session}");
        session["accessJwt"].as_str().unwrap().to_owned()
    }

    /// Creates one block record per subject through `applyWrites` (which keeps duplicates, as
    /// `createRecord` of a block would not), 200 a call.
    fn block(&self, account: &Account, collection: &str, subjects: &[String]) {
        let token = self.login(account);
        for chunk in subjects.chunks(200) {
            let writes: Vec<Value> = chunk
                .iter()
                .map(|subject| {
                    json!({
                        "$type": "com.atproto.repo.applyWrites#create",
                        "collection": collection,
                        "value": {"$type": collection, "subject": subject,
                                  "createdAt": "2026-12-01T00:00:00.000Z"},
                    })
                })
                .collect();
            let (status, answer) = self.xrpc(
                "POST",
                "com.atproto.repo.applyWrites",
                Some(&token),
                json!({"repo": account.did, "writes": writes}),
            );
            assert_eq!(status, 200, "applyWrites: {answer}");
        }
    }

    /// Creates a moderation list in `owner`'s repository; returns its at-URI.
    fn list(&self, owner: &Account, name: &str) -> String {
        let token = self.login(owner);
        let (status, answer) = self.xrpc(
            "POST",
            "com.atproto.repo.createRecord",
            Some(&token),
            json!({"repo": owner.did, "collection": "app.bsky.graph.list", "record": {
                "$type": "app.bsky.graph.list", "purpose": "app.bsky.graph.defs#modlist",
                "name": name, "createdAt": "2026-12-01T00:00:00.000Z"}}),
        );
        assert_eq!(status, 200, "createRecord: {answer}");
        answer["uri"].as_str().unwrap().to_owned()
    }

    /// Every record of `collection` in `account`'s repository: (rkey, subject).
    fn records(&self, account: &Account, collection: &str) -> Vec<(String, String)> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = json!({"repo": account.did, "collection": collection, "limit": "100"});
            if let Some(c) = &cursor {
                query["cursor"] = json!(c);
            }
            let (status, page) = self.xrpc("GET", "com.atproto.repo.listRecords", None, query);
            assert_eq!(status, 200, "listRecords: {page}");
            let items = page["records"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                return records;
            }
            for r in items {
                let uri = r["uri"].as_str().unwrap();
                let rkey = uri.rsplit('/').next().unwrap().to_owned();
                records.push((rkey, r["value"]["subject"].as_str().unwrap().to_owned()));
            }
            cursor = page["cursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                return records;
            }
        }
    }

    /// The subjects `account` blocks now, with how many records each.
    fn blocked(&self, account: &Account) -> BTreeMap<String, usize> {
        let mut subjects = BTreeMap::new();
        for (_, subject) in self.records(account, "app.bsky.graph.block") {
            *subjects.entry(subject).or_default() += 1;
        }
        subjects
    }

    /// Deletes one record behind the tool's back.
    fn delete(&self, account: &Account, collection: &str, rkey: &str) {
        let token = self.login(account);
        let (status, answer) = self.xrpc(
            "POST",
            "com.atproto.repo.deleteRecord",
            Some(&token),
            json!({"repo": account.did, "collection": collection, "rkey": rkey}),
        );
        assert_eq!(status, 200, "deleteRecord: {answer}");
    }

    /// The binary, acting as `account` on this PDS, in `dir`.
    fn command(&self, account: &Account, dir: &Path) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("BLUESKY_")
                || key.starts_with("TWITTER_")
                || key == "RUST_LOG"
                || key.to_ascii_lowercase().ends_with("_proxy")
            {
                cmd.env_remove(key);
            }
        }
        cmd.env("BLUESKY_IDENTIFIER", &account.handle)
            .env("BLUESKY_APP_PASSWORD", &account.password)
            .current_dir(dir)
            .stdin(Stdio::null());
        cmd
    }

    /// `bulk-unblock SUBCOMMAND --network bluesky --api-base PDS ARGS…`, waited for.
    fn run(&self, account: &Account, dir: &Path, subcommand: &str, args: &[&str]) -> Output {
        self.command(account, dir)
            .arg(subcommand)
            .args(args)
            .args(["--network", "bluesky", "--api-base", &self.url])
            .output()
            .expect("binary runs")
    }
}

/// The latest outcome of every target a journal records, by target.
fn outcomes(journal: &Path) -> BTreeMap<String, String> {
    journal_records(journal)
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write input");
    path
}

#[test]
#[ignore = "needs the reference PDS: see tests/realpds.rs"]
fn every_input_form_unblocks_and_the_rest_is_said() {
    let pds = Pds::from_env();
    let me = pds.account("alice");
    let (bob, carol, dave) = (
        pds.account("bob"),
        pds.account("carol"),
        pds.account("dave"),
    );
    let kept = fake_did(2);
    // bob twice (duplicate records), carol, dave, a made-up DID, and one that stays blocked.
    pds.block(
        &me,
        "app.bsky.graph.block",
        &[
            bob.did.clone(),
            bob.did.clone(),
            carol.did.clone(),
            dave.did.clone(),
            fake_did(1),
            kept.clone(),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "list.txt",
        &format!(
            "# by DID, by handle, by profile link\n{}\n@{}\nhttps://bsky.app/profile/{}\n{}\n\
             # not blocked, and a handle nobody has\n{}\nnobody-at-all.test\n",
            fake_did(1),
            carol.handle.to_uppercase(),
            bob.handle,
            dave.did,
            fake_did(3),
        ),
    );
    let out = pds.run(&me, dir.path(), "run", &["list.txt", "--log", "j.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let journal = dir.path().join("j.jsonl");
    assert_eq!(journal_header(&journal)["network"], "bluesky");
    assert_eq!(journal_header(&journal)["account_id"], me.did.as_str());
    let expected: BTreeMap<String, String> = [
        (fake_did(1), "unblocked"),
        (carol.handle.clone(), "unblocked"),
        (bob.handle.clone(), "unblocked"),
        (dave.did.clone(), "unblocked"),
        (fake_did(3), "not_blocked"),
        ("nobody-at-all.test".to_owned(), "not_found"),
    ]
    .into_iter()
    .map(|(t, o)| (t, o.to_owned()))
    .collect();
    assert_eq!(outcomes(&journal), expected);
    // The handle's record names the DID it resolved to.
    let bob_record = journal_records(&journal)
        .into_iter()
        .find(|r| r["target"] == bob.handle.as_str())
        .unwrap();
    assert_eq!(bob_record["user_id"], bob.did.as_str());
    assert_eq!(bob_record["by"], "handle");
    // Both of bob's records are gone; only the one not listed stays.
    let left = pds.blocked(&me);
    assert_eq!(left, BTreeMap::from([(kept, 1)]), "{}", show(&out));
    // A rerun sends nothing more and changes nothing.
    let again = pds.run(&me, dir.path(), "run", &["list.txt", "--log", "j.jsonl"]);
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert_eq!(journal_records(&journal).len(), expected.len());
}

#[test]
#[ignore = "needs the reference PDS: see tests/realpds.rs"]
fn a_record_deleted_behind_the_tools_back_does_not_fail_its_batch() {
    let pds = Pds::from_env();
    let me = pds.account("bob");
    // 260 subjects, a record each: a batch of 200, then one of 60 after a pause of the pace.
    let subjects: Vec<String> = (100..360).map(fake_did).collect();
    pds.block(&me, "app.bsky.graph.block", &subjects);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "list.txt", &(subjects.join("\n") + "\n"));
    let journal = dir.path().join("j.jsonl");
    let child = pds
        .command(&me, dir.path())
        .args(["run", "list.txt", "--log", "j.jsonl", "--rate", "200/8s"])
        .args([
            "--concurrency",
            "1",
            "--network",
            "bluesky",
            "--api-base",
            &pds.url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    // Once the first batch is recorded, one record of the second goes stale.
    let start = Instant::now();
    while common::journal_len(&journal) < 200 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first batch never landed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stale = &subjects[230];
    let (rkey, _) = pds
        .records(&me, "app.bsky.graph.block")
        .into_iter()
        .find(|(_, s)| s == stale)
        .expect("the stale subject is still blocked when the second batch waits");
    pds.delete(&me, "app.bsky.graph.block", &rkey);
    let out = child.wait_with_output().expect("binary ends");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let outcomes = outcomes(&journal);
    assert_eq!(outcomes.len(), subjects.len());
    assert!(
        outcomes.values().all(|o| o == "unblocked"),
        "the batch meeting a missing record is recovered, not failed: {outcomes:?}"
    );
    assert!(pds.blocked(&me).is_empty(), "every record is gone");
}

#[test]
#[ignore = "needs the reference PDS: see tests/realpds.rs"]
fn an_access_token_that_expires_mid_run_is_refreshed() {
    let pds = Pds::from_env();
    let me = pds.account("carol");
    let subjects: Vec<String> = (400..420).map(fake_did).collect();
    pds.block(&me, "app.bsky.graph.block", &subjects);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "list.txt", &(subjects.join("\n") + "\n"));
    let stderr_path = dir.path().join("run.stderr");
    let mut child = pds
        .command(&me, dir.path())
        .args(["run", "list.txt", "--log", "j.jsonl"])
        .args(["--network", "bluesky", "--api-base", &pds.url])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("binary starts");
    // Logged in and about to act: stop it until its access token has expired.
    let start = Instant::now();
    while !std::fs::read_to_string(&stderr_path)
        .unwrap_or_default()
        .contains("Acting as")
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the run never logged in"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    common::send_signal(&child, "-STOP");
    std::thread::sleep(pds.access_ttl + Duration::from_secs(2));
    common::send_signal(&child, "-CONT");
    let status = child.wait().expect("binary ends");
    let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{err}");
    let outcomes = outcomes(&dir.path().join("j.jsonl"));
    assert_eq!(outcomes.len(), subjects.len(), "{err}");
    assert!(outcomes.values().all(|o| o == "unblocked"), "{outcomes:?}");
    assert!(pds.blocked(&me).is_empty());
}

#[test]
#[ignore = "needs the reference PDS: see tests/realpds.rs"]
fn all_with_lists_export_and_undo_round_trip() {
    let pds = Pds::from_env();
    let me = pds.account("dave");
    let owner = pds.account("alice");
    let subjects: Vec<String> = (500..505).map(fake_did).collect();
    let mut records = subjects.clone();
    records.push(subjects[0].clone());
    pds.block(&me, "app.bsky.graph.block", &records);
    let list = pds.list(&owner, "spam accounts");
    pds.block(&me, "app.bsky.graph.listblock", std::slice::from_ref(&list));
    let dir = tempfile::tempdir().unwrap();

    // export: every blocked DID once.
    let out = pds.run(&me, dir.path(), "export", &["--out", "blocks.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let csv = std::fs::read_to_string(dir.path().join("blocks.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("did"));
    let exported: BTreeSet<&str> = lines.collect();
    let expected: BTreeSet<&str> = subjects.iter().map(String::as_str).collect();
    assert_eq!(exported, expected);

    // run --all --lists: every block and the list subscription gone, a backup kept.
    let out = pds.run(
        &me,
        dir.path(),
        "run",
        &["--all", "--lists", "--log", "all.jsonl"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(dir.path().join("all.jsonl.backup.csv").exists());
    let outcomes = outcomes(&dir.path().join("all.jsonl"));
    assert_eq!(outcomes.len(), subjects.len() + 1, "{outcomes:?}");
    assert!(outcomes.values().all(|o| o == "unblocked"), "{outcomes:?}");
    assert_eq!(outcomes.get(&list).map(String::as_str), Some("unblocked"));
    assert!(pds.blocked(&me).is_empty());
    assert!(pds.records(&me, "app.bsky.graph.listblock").is_empty());

    // undo: one block record per subject again, and the list subscribed again.
    let out = pds.run(
        &me,
        dir.path(),
        "undo",
        &["all.jsonl", "--log", "undo.jsonl"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let restored = pds.blocked(&me);
    assert_eq!(
        restored.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected
    );
    assert!(restored.values().all(|&n| n == 1), "{restored:?}");
    let listblocks = pds.records(&me, "app.bsky.graph.listblock");
    assert_eq!(
        listblocks
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        [list.as_str()]
    );
    let undone = journal_records(&dir.path().join("undo.jsonl"));
    assert_eq!(undone.len(), subjects.len() + 1);
    assert!(
        undone.iter().all(|r| r["outcome"] == "blocked"),
        "{undone:?}"
    );
}

#[test]
#[ignore = "needs the reference PDS: see tests/realpds.rs"]
fn a_wrong_password_exits_3_before_anything_is_written() {
    let pds = Pds::from_env();
    let me = pds.account("alice");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "list.txt", &(fake_did(900) + "\n"));
    let out = pds
        .command(&me, dir.path())
        .env("BLUESKY_APP_PASSWORD", "not-the-password")
        .args(["run", "list.txt", "--log", "j.jsonl"])
        .args(["--network", "bluesky", "--api-base", &pds.url])
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(!stderr(&out).contains("not-the-password"));
    let journal = dir.path().join("j.jsonl");
    assert!(!journal.exists() || journal_records(&journal).is_empty());
}
