//! The Bluesky emulator as people meet it: `bulk-unblock emulator --network bluesky` prints
//! the login host and the sample accounts in the shape scripts read, refuses flags of the
//! other network by name, and the sample list in `sample-data/bluesky-blocked.txt` says true
//! things about the builtin seed it is meant to be tried on.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bulk_unblock::emulator::bluesky::{
    BLOCK, Config, Emulator, LIST, LISTBLOCK, Seed, UserState, spawn,
};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_bulk-unblock");

/// Kills the emulator when the test ends, however it ends.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

#[tokio::test]
async fn the_start_up_lines_name_the_login_host_and_each_sample_account() {
    let mut child = Command::new(BIN)
        .args(["emulator", "--network", "bluesky", "--login-delay", "0s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let _served = Served(child);
    let seed = Seed::builtin();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (etx, erx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = etx.send(line);
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("a start-up line")
    };
    let first = next();
    let base = first
        .strip_prefix("listening on ")
        .expect("the first line names the login host");
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let mut accounts = Vec::new();
    for account in &seed.accounts {
        let line = next();
        let words: Vec<&str> = line.split(' ').collect();
        let handle = &seed.user(&account.did).expect("owner").handle;
        assert_eq!(
            words,
            [
                "account",
                handle.as_str(),
                account.did.as_str(),
                "password",
                account.app_passwords[0].password.as_str()
            ],
            "{line}"
        );
        accounts.push((words[1].to_owned(), words[4].to_owned()));
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "nothing else on stdout"
    );
    let note = erx
        .recv_timeout(Duration::from_secs(5))
        .expect("a note on stderr");
    assert!(
        note.contains("PDS") && note.contains("http://localhost:"),
        "{note}"
    );
    // A client can log in at the printed host with the printed app password.
    let http = http();
    for (handle, password) in accounts {
        let a: Value = http
            .post(format!("{base}/xrpc/com.atproto.server.createSession"))
            .json(&json!({"identifier": handle, "password": password}))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(a["handle"], handle.as_str(), "{a}");
        assert!(
            a["didDoc"]["service"][0]["serviceEndpoint"]
                .as_str()
                .is_some_and(|e| e.starts_with("http://localhost:"))
        );
    }
}

#[test]
fn flags_of_the_other_network_are_refused_by_name() {
    for (args, flag) in [
        (
            &["emulator", "--network", "bluesky", "--destroy-limit", "3"][..],
            "--destroy-limit does not apply to --network bluesky",
        ),
        (
            &["emulator", "--network", "x", "--access-ttl", "5s"][..],
            "--access-ttl does not apply to --network x",
        ),
    ] {
        let out = Command::new(BIN)
            .args(args)
            .output()
            .expect("the binary runs");
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// One line of the sample list, as a person would read it.
#[derive(Debug, PartialEq)]
enum Line {
    Did(String),
    Handle(String),
    List { owner: String, rkey: String },
}

fn parse(line: &str) -> Option<Line> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let target = line
        .strip_prefix("https://bsky.app/profile/")
        .unwrap_or(line);
    if let Some((owner, rkey)) = target.split_once("/lists/") {
        return Some(Line::List {
            owner: owner.to_owned(),
            rkey: rkey.to_owned(),
        });
    }
    let target = target.strip_prefix('@').unwrap_or(target);
    Some(if target.starts_with("did:") {
        Line::Did(target.to_owned())
    } else {
        Line::Handle(target.to_ascii_lowercase())
    })
}

#[tokio::test]
async fn the_sample_list_matches_the_builtin_seed() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/bluesky-blocked.txt");
    let text = std::fs::read_to_string(&path).expect("sample list");
    let lines: Vec<Line> = text.lines().filter_map(parse).collect();
    let seed = Seed::builtin();
    let owner = &seed.accounts[0].did;
    let by_handle: HashMap<&str, _> = seed.users.iter().map(|u| (u.handle.as_str(), u)).collect();
    let blocks: Vec<String> = seed
        .records(owner, BLOCK)
        .iter()
        .filter_map(|r| r.value["subject"].as_str().map(str::to_owned))
        .collect();
    let blocked: HashSet<&str> = blocks.iter().map(String::as_str).collect();
    let (mut unknown, mut not_blocked, mut gone, mut duplicated, mut lists) = (0, 0, 0, 0, 0);
    for line in &lines {
        let user = match line {
            Line::Did(did) => seed.user(did),
            Line::Handle(handle) => by_handle.get(handle.as_str()).copied(),
            Line::List {
                owner: list_owner,
                rkey,
            } => {
                let owner_did = &by_handle[list_owner.as_str()].did;
                assert!(
                    seed.records(owner_did, LIST)
                        .iter()
                        .any(|r| &r.rkey == rkey),
                    "{line:?} names a list"
                );
                let uri = format!("at://{owner_did}/{LIST}/{rkey}");
                assert!(
                    seed.records(owner, LISTBLOCK)
                        .iter()
                        .any(|r| r.value["subject"] == uri.as_str()),
                    "{line:?} is subscribed to"
                );
                lists += 1;
                continue;
            }
        };
        let Some(user) = user else {
            unknown += 1;
            continue;
        };
        if !blocked.contains(user.did.as_str()) {
            not_blocked += 1;
            continue;
        }
        if user.state != UserState::Active {
            gone += 1;
        }
        if blocks.iter().filter(|b| **b == user.did).count() > 1 {
            duplicated += 1;
        }
    }
    assert_eq!((unknown, not_blocked, lists), (1, 1, 1), "{lines:?}");
    assert!(gone >= 2 && duplicated >= 2, "{gone} {duplicated}");
    assert!(lines.iter().any(|l| matches!(l, Line::Did(_))));
    assert!(text.contains("https://bsky.app/profile/did:plc:"));
    assert!(text.lines().any(|l| l.starts_with('@')));

    // Over the wire, handles of active users resolve, the others do not.
    let emulator = Emulator::new(seed.clone(), Config::default()).expect("valid seed");
    let running = spawn(emulator).await.expect("binds loopback");
    let http = http();
    for line in &lines {
        let Line::Handle(handle) = line else { continue };
        let a: Value = http
            .get(format!(
                "{}/xrpc/com.atproto.identity.resolveHandle?handle={handle}",
                running.base_url()
            ))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        let active = by_handle
            .get(handle.as_str())
            .is_some_and(|u| u.state == UserState::Active);
        assert_eq!(a.get("did").is_some(), active, "{handle}: {a}");
    }
}
