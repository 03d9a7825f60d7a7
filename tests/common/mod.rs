//! The integration-test harness: the real binary against the real emulator over loopback.
//!
//! Each test gets its own emulator (in-process, port 0, on its own runtime), its own temporary
//! directory, and a command for the built binary with the seed's credentials in the environment.
//! Assertions read what the server received (`requests`) and holds (`blocked`).

#![allow(dead_code)]

pub mod bluesky;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use bulk_unblock::emulator::x::config::Config;
use bulk_unblock::emulator::x::seed::{Seed, SeedAccount, SeedApp};
use bulk_unblock::emulator::x::{Emulator, Endpoint, LoggedRequest, Running, spawn};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_bulk-unblock");

/// One emulator, one scratch directory, one account's credentials.
pub struct Harness {
    /// Serves the emulator; dropped last.
    pub rt: tokio::runtime::Runtime,
    /// The running server.
    pub running: Running,
    /// Handle for assertions and runtime changes.
    pub emulator: Emulator,
    /// Scratch space, removed at the end.
    pub dir: tempfile::TempDir,
    /// The account whose credentials the commands use (demo_owner by default).
    pub account: SeedAccount,
    /// Its app.
    pub app: SeedApp,
}

impl Harness {
    /// The builtin seed with the faithful default configuration, limits off (tests of issue-2
    /// behaviour do not wait for windows).
    pub fn new() -> Harness {
        Harness::with_config(|c| c.limits.enabled = false)
    }

    /// The builtin seed with `configure` applied to the default configuration.
    pub fn with_config(configure: impl FnOnce(&mut Config)) -> Harness {
        Harness::with_seed(Seed::builtin(), configure)
    }

    /// A given seed and configuration. Commands act as the seed's first account.
    pub fn with_seed(seed: Seed, configure: impl FnOnce(&mut Config)) -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = Config::default();
        configure(&mut config);
        let account = seed.accounts[0].clone();
        let app = seed
            .apps
            .iter()
            .find(|a| a.consumer_key == account.consumer_key)
            .expect("app of the first account")
            .clone();
        let emulator = Emulator::new(seed, config).expect("valid seed");
        let running = rt
            .block_on(spawn(emulator.clone()))
            .expect("emulator starts");
        Harness {
            rt,
            running,
            emulator,
            dir: tempfile::tempdir().expect("temp dir"),
            account,
            app,
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
        std::fs::write(&path, contents).expect("write input");
        path
    }

    /// The binary with a clean environment: this account's credentials, no proxy, no RUST_LOG.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("TWITTER_")
                || key == "RUST_LOG"
                || key.to_ascii_lowercase().ends_with("_proxy")
            {
                cmd.env_remove(key);
            }
        }
        cmd.env("TWITTER_CONSUMER_KEY", &self.app.consumer_key)
            .env("TWITTER_CONSUMER_SECRET", &self.app.consumer_secret)
            .env("TWITTER_ACCESS_TOKEN", &self.account.access_token)
            .env(
                "TWITTER_ACCESS_TOKEN_SECRET",
                &self.account.access_token_secret,
            )
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// `bulk-unblock run ARGS --api-base <emulator>`, waited for.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .arg("run")
            .args(args)
            .args(["--api-base", &self.base_url()])
            .output()
            .expect("binary runs")
    }

    /// Every request the emulator received to `path` (for example "/1.1/blocks/destroy.json").
    pub fn requests_to(&self, path: &str) -> Vec<LoggedRequest> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Every request the emulator received at `endpoint` (v2 paths carry IDs, so tests that
    /// speak of an endpoint rather than a path use this).
    pub fn requests_at(&self, endpoint: Endpoint) -> Vec<LoggedRequest> {
        self.emulator.requests_to(endpoint)
    }

    /// The account's blocked set on the server now.
    pub fn blocked(&self) -> Vec<u64> {
        self.emulator.blocked(self.account.user_id)
    }
}

/// A sample-data file's path.
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-data")
        .join(name)
}

/// The records of a journal (header excluded), as JSON values.
pub fn journal_records(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("journal readable");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("each record is JSON"))
        .collect()
}

/// The header record of a journal.
pub fn journal_header(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("journal readable");
    serde_json::from_str(text.lines().next().expect("a header line")).expect("header is JSON")
}

/// stdout and stderr, for assertion messages.
pub fn show(output: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The builtin seed's account with this screen name, with its app (panics in the test if absent).
pub fn builtin_account(screen_name: &str) -> (SeedAccount, SeedApp) {
    let seed = Seed::builtin();
    let user = seed
        .users
        .iter()
        .find(|u| u.screen_name.eq_ignore_ascii_case(screen_name))
        .expect("a user of the builtin seed");
    let account = seed
        .accounts
        .iter()
        .find(|a| a.user_id == user.id)
        .expect("that user holds an account")
        .clone();
    let app = seed
        .apps
        .iter()
        .find(|a| a.consumer_key == account.consumer_key)
        .expect("the account's app")
        .clone();
    (account, app)
}

impl Harness {
    /// Like [`Harness::command`], but with another account's credentials.
    pub fn command_as(&self, account: &SeedAccount, app: &SeedApp) -> Command {
        let mut cmd = self.command();
        cmd.env("TWITTER_CONSUMER_KEY", &app.consumer_key)
            .env("TWITTER_CONSUMER_SECRET", &app.consumer_secret)
            .env("TWITTER_ACCESS_TOKEN", &account.access_token)
            .env("TWITTER_ACCESS_TOKEN_SECRET", &account.access_token_secret);
        cmd
    }

    /// `run ARGS --api-base <emulator>` through a prepared command, waited for.
    pub fn run_with(&self, mut cmd: Command, args: &[&str]) -> Output {
        cmd.arg("run")
            .args(args)
            .args(["--api-base", &self.base_url()])
            .output()
            .expect("binary runs")
    }

    /// `run ARGS` with `input` on standard input, waited for.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .command()
            .arg("run")
            .args(args)
            .args(["--api-base", &self.base_url()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        // The child reads all of stdin before doing anything, so writing first cannot deadlock.
        let mut stdin = child.stdin.take().expect("stdin piped");
        stdin.write_all(input).expect("stdin written");
        drop(stdin);
        child.wait_with_output().expect("binary runs")
    }

    /// `run ARGS` started in the background. Its stdout and stderr go to files in the scratch
    /// directory (named after `name`), so a chatty child never blocks on a full pipe; read them
    /// with [`Harness::background_output`] once it has exited.
    pub fn spawn_run(&self, name: &str, args: &[&str]) -> std::process::Child {
        let mut cmd = self.command();
        cmd.arg("run")
            .args(args)
            .args(["--api-base", &self.base_url()]);
        spawn_logged(self.dir.path(), name, cmd)
    }

    /// The exit status and output of a background run started by [`Harness::spawn_run`].
    pub fn background_output(&self, name: &str, child: std::process::Child) -> Output {
        logged_output(self.dir.path(), name, child)
    }

    /// The target of every `blocks/destroy` request received, in arrival order: the `user_id`,
    /// or the `screen_name` folded to lowercase.
    pub fn destroyed_targets(&self) -> Vec<String> {
        self.requests_to("/1.1/blocks/destroy.json")
            .into_iter()
            .filter_map(|r| {
                r.params
                    .get("user_id")
                    .cloned()
                    .or_else(|| r.params.get("screen_name").map(|n| n.to_lowercase()))
            })
            .collect()
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The number of complete records a journal holds now (0 when it does not exist yet). Safe to
/// call while a run appends: only whole lines after the header count.
pub fn journal_len(path: &Path) -> usize {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    // A line counts once its newline is written; the first is the header.
    bytes
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        .saturating_sub(1)
}

/// Every record's target (lowercased) mapped to its outcomes, in file order.
pub fn outcomes_by_target(
    records: &[serde_json::Value],
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut map: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in records {
        map.entry(r["target"].as_str().unwrap_or_default().to_lowercase())
            .or_default()
            .push(r["outcome"].as_str().unwrap_or_default().to_owned());
    }
    map
}

impl Harness {
    /// A prepared command (any subcommand) started in the background, its stdout and stderr
    /// going to files named after `name` like [`Harness::spawn_run`]; read them with
    /// [`Harness::background_output`].
    pub fn spawn_command(&self, name: &str, cmd: Command) -> std::process::Child {
        spawn_logged(self.dir.path(), name, cmd)
    }
}

/// Starts `cmd` in the background with its stdout and stderr in `NAME.stdout` and
/// `NAME.stderr` under `dir`, so a chatty child never blocks on a full pipe.
pub fn spawn_logged(dir: &Path, name: &str, mut cmd: Command) -> std::process::Child {
    let file = |ext: &str| std::fs::File::create(dir.join(format!("{name}.{ext}"))).expect(ext);
    cmd.stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .expect("binary starts")
}

/// The exit status of a child started by [`spawn_logged`], with what it wrote.
pub fn logged_output(dir: &Path, name: &str, mut child: std::process::Child) -> Output {
    let status = child.wait().expect("child waited for");
    let read = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap_or_default();
    Output {
        status,
        stdout: read("stdout"),
        stderr: read("stderr"),
    }
}

/// Sends `signal` (for example "-INT") to a child with kill(1); panics in the test if it fails.
pub fn send_signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} failed");
}

/// The number of complete lines a file holds now (0 when it does not exist).
pub fn complete_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count())
        .unwrap_or(0)
}

/// The seed of a randomised test: `BULK_UNBLOCK_TEST_SEED` when set, else `default`. Printed, so
/// a failure shows the value that replays it.
pub fn test_seed(default: u64) -> u64 {
    let seed = std::env::var("BULK_UNBLOCK_TEST_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default);
    println!("seed = {seed} (set BULK_UNBLOCK_TEST_SEED={seed} to replay)");
    seed
}

/// The records of a journal that may hold torn or damaged lines, and how many lines did not
/// parse. A missing journal is empty.
pub fn journal_records_tolerant(path: &Path) -> (Vec<serde_json::Value>, usize) {
    let Ok(text) = std::fs::read(path) else {
        return (Vec::new(), 0);
    };
    let text = String::from_utf8_lossy(&text);
    let mut records = Vec::new();
    let mut bad = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => records.push(v),
            Err(_) => bad += 1,
        }
    }
    (records, bad)
}

/// Whether a journal outcome ends a target for good (`failed` does not).
pub fn is_terminal_outcome(outcome: &str) -> bool {
    matches!(
        outcome,
        "unblocked" | "blocked" | "not_blocked" | "not_found" | "suspended"
    )
}

/// Targets (lowercased) with at least one terminal record.
pub fn terminal_set(records: &[serde_json::Value]) -> std::collections::BTreeSet<String> {
    outcomes_by_target(records)
        .into_iter()
        .filter(|(_, outcomes)| outcomes.iter().any(|o| is_terminal_outcome(o)))
        .map(|(t, _)| t)
        .collect()
}

/// A field of `/proc/PID/status` in KiB (`VmHWM`, `VmRSS`), while the process lives.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Harness {
    /// The binary started through `bash -c PREFIX`, with this account's environment: the
    /// prefix sets up the process (for example `ulimit -f 4; trap '' XFSZ`) before `exec`.
    pub fn command_through_shell(&self, prefix: &str) -> Command {
        let plain = self.command();
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("{prefix}\nexec \"$0\" \"$@\""))
            .arg(BIN);
        for (key, value) in plain.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }
}

/// A command's standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command's standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The number printed right after `label`, on the first line where one is.
pub fn count_after(text: &str, label: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = &line[line.find(label)? + label.len()..];
        rest.split_whitespace().next()?.parse().ok()
    })
}

impl Harness {
    /// [`Harness::command`] with none of the credential variables set.
    pub fn command_without_credentials(&self) -> Command {
        let mut cmd = self.command();
        for var in bulk_unblock::network::NetworkId::X.credentials().vars {
            cmd.env_remove(var.env);
        }
        cmd
    }
}
pub mod mastodon;
