//! The Bluesky harness: the real binary against the Bluesky emulator (an entryway and a PDS on
//! two loopback ports), with the sample account's app password in the environment.
//!
//! Each test gets its own emulator on its own runtime and its own scratch directory.
//! Assertions read what the emulator received (`requests`, by host and endpoint) and what it
//! holds (the account's block and list-block records).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use bulk_unblock::emulator::bluesky::{
    BLOCK, Config, Emulator, Endpoint, Host, LISTBLOCK, LoggedRequest, Running, Seed, spawn,
};

use super::BIN;

/// One Bluesky emulator, one scratch directory, the sample account's credentials.
pub struct Bsky {
    /// Serves the emulator; dropped last.
    pub rt: tokio::runtime::Runtime,
    /// The running servers.
    pub running: Running,
    /// Handle for assertions and runtime changes.
    pub emulator: Emulator,
    /// Scratch space, removed at the end.
    pub dir: tempfile::TempDir,
    /// The account's DID.
    pub owner: String,
    /// The account's handle.
    pub handle: String,
    /// Its app password.
    pub app_password: String,
    /// Its account password (a second credential, for a rerun after a revocation).
    pub account_password: String,
}

impl Bsky {
    /// The builtin seed with the faithful defaults (limits on), logins without delay.
    pub fn new() -> Bsky {
        Bsky::with_config(|_| {})
    }

    /// The builtin seed with `configure` applied after the login delay is set to zero.
    pub fn with_config(configure: impl FnOnce(&mut Config)) -> Bsky {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let seed = Seed::builtin();
        let account = seed.accounts[0].clone();
        let handle = seed.user(&account.did).expect("the owner").handle.clone();
        let mut config = Config::default();
        config.sessions.login_delay = std::time::Duration::ZERO;
        configure(&mut config);
        let emulator = Emulator::new(seed, config).expect("valid seed");
        let running = rt
            .block_on(spawn(emulator.clone()))
            .expect("emulator starts");
        Bsky {
            rt,
            running,
            emulator,
            dir: tempfile::tempdir().expect("temp dir"),
            owner: account.did,
            handle,
            app_password: account.app_passwords[0].password.clone(),
            account_password: account.password,
        }
    }

    /// The login host, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the scratch directory.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// The binary with a clean environment holding this account's credentials.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("TWITTER_")
                || key.starts_with("BLUESKY_")
                || key == "RUST_LOG"
                || key.to_ascii_lowercase().ends_with("_proxy")
            {
                cmd.env_remove(key);
            }
        }
        cmd.env("BLUESKY_IDENTIFIER", &self.handle)
            .env("BLUESKY_APP_PASSWORD", &self.app_password)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// `SUB ARGS --network bluesky --api-base <login host>` through `cmd`.
    pub fn with_network(&self, mut cmd: Command, sub: &str, args: &[&str]) -> Command {
        cmd.arg(sub)
            .args(args)
            .args(["--network", "bluesky", "--api-base", &self.base_url()]);
        cmd
    }

    /// `run ARGS --network bluesky --api-base <login host>`, waited for.
    pub fn run(&self, args: &[&str]) -> Output {
        self.with_network(self.command(), "run", args)
            .output()
            .expect("binary runs")
    }

    /// Any subcommand with the network and the login host, waited for.
    pub fn sub(&self, sub: &str, args: &[&str]) -> Output {
        self.with_network(self.command(), sub, args)
            .output()
            .expect("binary runs")
    }

    /// `run ARGS` started in the background, its output in files named after `name`.
    pub fn spawn(&self, name: &str, sub: &str, args: &[&str]) -> Child {
        let cmd = self.with_network(self.command(), sub, args);
        super::spawn_logged(self.dir.path(), name, cmd)
    }

    /// The exit status and output of a background command.
    pub fn output_of(&self, name: &str, child: Child) -> Output {
        super::logged_output(self.dir.path(), name, child)
    }

    /// Every request received at `endpoint`.
    pub fn sent(&self, endpoint: Endpoint) -> Vec<LoggedRequest> {
        self.emulator.requests_to(endpoint)
    }

    /// Every request received at one host.
    pub fn at(&self, host: Host) -> Vec<LoggedRequest> {
        self.emulator.requests_at(host)
    }

    /// The subjects of the account's block records, one per record.
    pub fn blocks(&self) -> Vec<String> {
        self.emulator.blocks_of(&self.owner)
    }

    /// How many block records each subject has.
    pub fn block_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for subject in self.blocks() {
            *counts.entry(subject).or_default() += 1;
        }
        counts
    }

    /// The subjects of the account's list-block records (lists' at-URIs).
    pub fn listblocks(&self) -> Vec<String> {
        self.emulator
            .records(&self.owner, LISTBLOCK)
            .into_iter()
            .filter_map(|r| r.value["subject"].as_str().map(str::to_owned))
            .collect()
    }

    /// The record key of every block record, with its subject.
    pub fn block_rkeys(&self) -> BTreeMap<String, String> {
        self.emulator
            .records(&self.owner, BLOCK)
            .into_iter()
            .filter_map(|r| Some((r.rkey, r.value["subject"].as_str()?.to_owned())))
            .collect()
    }

    /// Replaces the account's blocks: for each `(subject, n)`, `n` records of the subject.
    pub fn block(&self, subjects: &[(String, usize)]) {
        let mut all = Vec::new();
        for (subject, n) in subjects {
            for _ in 0..*n {
                all.push(subject.clone());
            }
        }
        self.emulator.set_blocks(&self.owner, all);
    }

    /// The record keys every delete the emulator received named (applied or not).
    pub fn deleted_rkeys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for r in self.emulator.requests() {
            match r.endpoint {
                Endpoint::DeleteRecord => keys.extend(r.params.get("rkey").cloned()),
                Endpoint::ApplyWrites => {
                    let writes: serde_json::Value = r
                        .params
                        .get("writes")
                        .and_then(|w| serde_json::from_str(w).ok())
                        .unwrap_or_default();
                    for w in writes.as_array().into_iter().flatten() {
                        if w["$type"] == "com.atproto.repo.applyWrites#delete" {
                            keys.extend(w["rkey"].as_str().map(str::to_owned));
                        }
                    }
                }
                _ => {}
            }
        }
        keys
    }
}

/// `n` made-up DIDs (`did:plc:` and 24 base32 characters, the last ten unique), which the
/// emulator gives an active user each (handle `u-LAST10.bsky.test`) once they are blocked.
pub fn made_up_dids(n: usize, salt: char) -> Vec<String> {
    const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..n)
        .map(|i| {
            let mut tail = String::new();
            let mut v = i;
            for _ in 0..9 {
                tail.insert(0, char::from(BASE32[v % 32]));
                v /= 32;
            }
            format!("did:plc:madeupmadeupmade{salt}{}", &tail[2..])
        })
        .collect()
}

/// A sample-data file's path.
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-data")
        .join(name)
}
