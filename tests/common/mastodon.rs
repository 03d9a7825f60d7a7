//! The Mastodon side of the integration-test harness: the real binary against the Mastodon
//! emulator over loopback.
//!
//! Each test gets its own emulated instance (in-process, port 0, on its own runtime), its own
//! temporary directory, and a command for the built binary with `MASTODON_INSTANCE` and
//! `MASTODON_ACCESS_TOKEN` set for one of the builtin seed's tokens. Assertions read what the
//! instance received (`requests_to`) and holds (`blocked`, `domain_blocks`).

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use bulk_unblock::emulator::mastodon::{
    Config, Emulator, Endpoint, LoggedRequest, Running, Seed, spawn,
};

use super::BIN;

/// The builtin seed's bulk-unblock token of `demo_owner`.
pub const TOKEN: &str = "demo-bulk-unblock";

/// One emulated instance, one scratch directory, one token.
pub struct Instance {
    /// Serves the emulator; dropped last.
    pub rt: tokio::runtime::Runtime,
    /// The running server.
    pub running: Running,
    /// Handle for assertions and runtime changes.
    pub emulator: Emulator,
    /// Scratch space, removed at the end.
    pub dir: tempfile::TempDir,
    /// The account the commands act for (demo_owner).
    pub owner: String,
    /// Its token's value.
    pub token: String,
}

impl Instance {
    /// The builtin seed with limits off (tests that are not about pacing do not wait).
    pub fn new() -> Instance {
        Instance::with_config(|c| c.limits.enabled = false)
    }

    /// The builtin seed with `configure` applied to the default (faithful) configuration.
    pub fn with_config(configure: impl FnOnce(&mut Config)) -> Instance {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = Config::default();
        configure(&mut config);
        let seed = Seed::builtin();
        let token = seed.token(TOKEN).expect("the seed's token").clone();
        let emulator = Emulator::new(seed, config).expect("valid seed");
        let running = rt
            .block_on(spawn(emulator.clone()))
            .expect("emulator starts");
        Instance {
            rt,
            running,
            emulator,
            dir: tempfile::tempdir().expect("temp dir"),
            owner: token.account.expect("a user's token"),
            token: token.token,
        }
    }

    /// `http://127.0.0.1:PORT`.
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
        std::fs::write(&path, contents).expect("write a file");
        path
    }

    /// The value of the seed's token called `name`.
    pub fn token_of(name: &str) -> String {
        Seed::builtin()
            .token(name)
            .expect("seed token")
            .token
            .clone()
    }

    /// The binary with a clean environment: the instance and the token in `MASTODON_*`, no
    /// other network's credentials, no proxy, no RUST_LOG.
    pub fn command(&self) -> Command {
        self.command_with_token(&self.token)
    }

    /// Like [`Instance::command`], with another token.
    pub fn command_with_token(&self, token: &str) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("TWITTER_")
                || key.starts_with("MASTODON_")
                || key.starts_with("BLUESKY_")
                || key == "RUST_LOG"
                || key.to_ascii_lowercase().ends_with("_proxy")
            {
                cmd.env_remove(key);
            }
        }
        cmd.env("MASTODON_INSTANCE", self.base_url())
            .env("MASTODON_ACCESS_TOKEN", token)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// `bulk-unblock SUBCOMMAND --network mastodon ARGS`, prepared.
    pub fn sub(&self, subcommand: &str, args: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.arg(subcommand)
            .args(["--network", "mastodon"])
            .args(args);
        cmd
    }

    /// `bulk-unblock run --network mastodon ARGS`, waited for.
    pub fn run(&self, args: &[&str]) -> Output {
        self.sub("run", args).output().expect("binary runs")
    }

    /// A prepared command started in the background, its stdout and stderr going to files
    /// named after `name` (a chatty child never blocks on a full pipe).
    pub fn spawn(&self, name: &str, cmd: Command) -> Child {
        super::spawn_logged(self.dir.path(), name, cmd)
    }

    /// The exit status and output of a background command started by [`Instance::spawn`].
    pub fn background_output(&self, name: &str, child: Child) -> Output {
        super::logged_output(self.dir.path(), name, child)
    }

    /// Every request received at `endpoint`, in arrival order.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<LoggedRequest> {
        self.emulator.requests_to(endpoint)
    }

    /// The account ID of every unblock received, in arrival order.
    pub fn unblocked_ids(&self) -> Vec<String> {
        self.account_ids(Endpoint::Unblock)
    }

    /// The account ID in the path of every request received at `endpoint`.
    pub fn account_ids(&self, endpoint: Endpoint) -> Vec<String> {
        self.requests_to(endpoint)
            .into_iter()
            .filter_map(|r| r.path.split('/').nth(4).map(str::to_owned))
            .collect()
    }

    /// The account IDs the owner blocks now, oldest first (suspended ones included).
    pub fn blocked(&self) -> Vec<String> {
        self.emulator.blocked(&self.owner)
    }

    /// The domains the owner blocks now.
    pub fn domain_blocks(&self) -> Vec<String> {
        self.emulator.domain_blocks(&self.owner)
    }

    /// Replaces the owner's blocks with `n` made-up accounts from `base` on (the emulator makes
    /// a local account for each). Returns their IDs, oldest block first.
    pub fn block_made_up(&self, n: u64, base: u64) -> Vec<String> {
        let ids: Vec<String> = (0..n).map(|i| (base + i).to_string()).collect();
        self.emulator.set_blocked(&self.owner, ids.clone());
        ids
    }

    /// Fails the test if the token's value appears in `text`.
    pub fn assert_no_token(&self, text: &str) {
        assert!(!text.contains(&self.token), "the token leaked:\n{text}");
    }
}

/// Every request a command must not have sent to change anything.
pub fn writes(requests: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    requests
        .iter()
        .filter(|r| r.endpoint.is_mutating())
        .collect()
}

/// The builtin seed's accounts the owner blocks, split by suspension: (ID, full address
/// lowercase), oldest block first.
pub fn owner_blocks(suspended: bool) -> Vec<(String, String)> {
    let seed = Seed::builtin();
    let owner = seed
        .token(TOKEN)
        .and_then(|t| t.account.clone())
        .expect("owner");
    let user = seed
        .users
        .iter()
        .find(|u| u.account == owner)
        .expect("the owner's blocks");
    user.blocks
        .iter()
        .filter_map(|id| {
            let a = seed.account(id)?;
            (a.suspended == suspended).then(|| {
                let domain = a.domain.clone().unwrap_or_else(|| seed.domain.clone());
                (
                    id.clone(),
                    format!("{}@{domain}", a.username).to_lowercase(),
                )
            })
        })
        .collect()
}
