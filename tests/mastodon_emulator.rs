//! The Mastodon emulator as people and other clients meet it: the real binary's start-up lines
//! (which any client can be pointed at), its refusal of another network's flags, a scenario file
//! read at start, and the sample export files that go with its builtin seed.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use bulk_unblock::emulator::mastodon::{Config, Emulator, Seed};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_bulk-unblock");

/// A started `bulk-unblock emulator --network mastodon`, killed when dropped.
struct Served {
    child: Child,
    /// The rest of stdout, after the start-up lines.
    stdout: BufReader<ChildStdout>,
    lines: Vec<String>,
}

impl Served {
    /// Starts the emulator with `extra` flags and reads its start-up lines (the address, then
    /// one line per account holding a token in the builtin seed).
    fn start(extra: &[&str]) -> Served {
        let mut child = Command::new(BIN)
            .args(["emulator", "--network", "mastodon", "--port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        for _ in 0..3 {
            let mut line = String::new();
            reader.read_line(&mut line).expect("a start-up line");
            lines.push(line.trim_end().to_owned());
        }
        Served {
            child,
            stdout: reader,
            lines,
        }
    }

    /// `http://127.0.0.1:PORT` from the first line.
    fn base_url(&self) -> String {
        self.lines[0]
            .strip_prefix("listening on ")
            .expect("the first line names the address")
            .to_owned()
    }

    /// The token of the `n`th account line.
    fn token(&self, n: usize) -> String {
        self.lines[n]
            .rsplit(' ')
            .next()
            .expect("a token at the end")
            .to_owned()
    }

    /// Kills the emulator and returns what else it wrote to stdout and stderr.
    fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        let _ = self.stdout.read_to_string(&mut out);
        let mut err = String::new();
        if let Some(mut s) = self.child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        (out, err)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
async fn the_start_up_lines_name_the_address_and_each_accounts_token() {
    let served = Served::start(&[]);
    let seed = Seed::builtin();
    let base = served.base_url();
    assert!(base.starts_with("http://127.0.0.1:"), "{:?}", served.lines);
    for (n, name) in [(1, "demo-bulk-unblock"), (2, "other-bulk-unblock")] {
        let t = seed.token(name).expect("seed token");
        let id = t.account.as_deref().expect("an account");
        let username = &seed.account(id).expect("account").username;
        assert_eq!(
            served.lines[n],
            format!("account {username} id {id} token {}", t.token)
        );
    }
    // The printed token works as printed.
    let me: serde_json::Value = http()
        .get(format!("{base}/api/v1/accounts/verify_credentials"))
        .bearer_auth(served.token(1))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("an account");
    assert_eq!(me["username"], "demo_owner");
    let (rest, err) = served.stop();
    assert_eq!(rest, "", "nothing else on stdout");
    assert!(err.contains("mastodon.test"), "{err}");
}

#[tokio::test]
async fn a_scenario_file_sets_the_knobs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        "[limits]\nper_token = { limit = 1, period = \"1h\" }\n[replies]\ntoo_many_requests = \"Slow down\"\n",
    )
    .expect("write");
    let served = Served::start(&["--scenario", scenario.to_str().expect("utf-8")]);
    let url = format!("{}/api/v1/blocks", served.base_url());
    let client = http();
    let first = client
        .get(&url)
        .bearer_auth(served.token(1))
        .send()
        .await
        .expect("sent");
    assert_eq!(first.status().as_u16(), 200);
    let second = client
        .get(&url)
        .bearer_auth(served.token(1))
        .send()
        .await
        .expect("sent");
    assert_eq!(second.status().as_u16(), 429);
    let body: serde_json::Value = second.json().await.expect("json");
    assert_eq!(body["error"], "Slow down");
}

#[test]
fn flags_of_another_network_are_refused() {
    let out = Command::new(BIN)
        .args(["emulator", "--network", "mastodon", "--destroy-limit", "3"])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--destroy-limit") && err.contains("mastodon"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = Command::new(BIN)
        .args(["emulator", "--token-limit", "3"])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token-limit"));
}

/// The sample export files match the builtin seed: every block of demo_owner is in
/// `blocked_accounts.csv` (Mastodon's export: no header, `user@domain`, local accounts with the
/// local domain), plus exactly one account the instance does not know and one it knows but
/// demo_owner does not block; `blocked_domains.csv` holds demo_owner's domain blocks.
#[test]
fn the_sample_exports_match_the_builtin_seed() {
    let emulator = Emulator::new(Seed::builtin(), Config::default()).expect("valid seed");
    let seed = Seed::builtin();
    let owner = seed
        .token("demo-bulk-unblock")
        .and_then(|t| t.account.clone())
        .expect("owner");
    let blocked: BTreeSet<String> = emulator.blocked(&owner).into_iter().collect();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sample-data/blocked_accounts.csv"
    ))
    .expect("blocked_accounts.csv");
    assert!(!text.starts_with("Account address"), "no header");
    let mut unknown = Vec::new();
    let mut not_blocked = Vec::new();
    let mut listed = BTreeSet::new();
    for line in text.lines() {
        let (user, domain) = line.split_once('@').expect("user@domain");
        assert!(
            !user.is_empty() && !domain.is_empty() && !domain.contains('@'),
            "{line}"
        );
        match emulator.lookup(line) {
            None => unknown.push(line.to_owned()),
            Some(id) if !blocked.contains(&id) => not_blocked.push(line.to_owned()),
            Some(id) => {
                assert!(listed.insert(id), "{line} twice");
            }
        }
    }
    assert_eq!(unknown, ["ghost@nowhere.example"]);
    assert_eq!(not_blocked.len(), 1, "{not_blocked:?}");
    assert_eq!(listed, blocked, "every block is exported");
    assert!(
        text.lines().any(|l| l.ends_with("@mastodon.test")),
        "local accounts carry the local domain"
    );

    let domains = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sample-data/blocked_domains.csv"
    ))
    .expect("blocked_domains.csv");
    let from_file: Vec<&str> = domains.lines().collect();
    assert_eq!(from_file, emulator.domain_blocks(&owner));
}
