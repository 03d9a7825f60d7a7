//! The figures behind BENCHMARKS.md: how much of the rate limit a run spends, and what the tool
//! itself costs, measured against the emulators on loopback.
//!
//! A user's throughput is bounded by the server's rate limit, so the two things worth measuring
//! are whether every request the server allows is spent, and whether the client's own cost
//! (CPU, memory, start-up time on a large list, journal appends) stays negligible beside it. The
//! real binary runs as a child process, so its CPU time and peak memory come from the kernel's
//! accounting of that child alone (`wait4`), never mixed with the emulator served here.
//!
//! Run with `cargo bench --bench figures`; one line per figure on stdout. Arguments select
//! sections: X's `pace`, `cost`, `latency`, `scale`, `journal`, `mastodon` (its parts
//! alone: `mastodon-pace`, `mastodon-list`) and `bluesky` (`bluesky-requests`,
//! `bluesky-plan`, `bluesky-pace`). `BENCH_REPEATS=N` repeats each measurement N
//! times (default 3) and prints the median with the spread. X's pace runs last 35 s each and
//! Bluesky's about 4 minutes, so they are done once unless `BENCH_PACE_REPEATS=N` asks for more.
//!
//! The pieces every network uses are here and in [`launcher`] (children measured alone) and
//! [`windows`] (rate windows rebuilt from the emulator's log); each network's sections are in a
//! module of their own.

mod bluesky;
mod launcher;
mod mastodon;
mod windows;
mod x;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use launcher::{ChildRun, Launcher};

fn main() {
    if launcher::is_launcher() {
        launcher::serve();
        return;
    }
    let sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| sections.is_empty() || sections.iter().any(|s| s == name);
    let repeats: usize = std::env::var("BENCH_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3);
    bulk_unblock::http::install_tls_provider();
    let pace_repeats: usize = std::env::var("BENCH_PACE_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1);
    let mut env = x::credentials();
    env.extend(mastodon::credentials());
    env.extend(bluesky::credentials());
    let bench = Bench::new(repeats, &env);
    println!(
        "# bulk-unblock figures: median [min..max] of {repeats} run(s), {pace_repeats} for pace"
    );
    let x = x::X::new(&bench);
    if wanted("pace") {
        x.pace(pace_repeats);
    }
    if wanted("cost") {
        x.cost();
    }
    if wanted("latency") {
        x.latency();
    }
    if wanted("scale") {
        x.scale();
    }
    if wanted("journal") {
        x.journal();
    }
    let mastodon = mastodon::Mastodon::new(&bench);
    if wanted("mastodon") || wanted("mastodon-pace") {
        mastodon.pace();
    }
    if wanted("mastodon") || wanted("mastodon-list") {
        mastodon.list();
    }
    let bluesky = bluesky::Bluesky::new(&bench);
    if wanted("bluesky") || wanted("bluesky-requests") {
        bluesky.requests();
    }
    if wanted("bluesky") || wanted("bluesky-plan") {
        bluesky.plan();
    }
    if wanted("bluesky") || wanted("bluesky-pace") {
        bluesky.pace(pace_repeats);
    }
}

/// What every network's sections share: the emulators' runtime, a scratch directory, how many
/// times to repeat, and the launcher that starts every child.
pub struct Bench {
    pub rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    pub repeats: usize,
    /// Starts every child, from a process that stays small (see [`launcher`]).
    launcher: std::sync::Mutex<Launcher>,
}

impl Bench {
    /// A scratch directory and a launcher holding `env` (every network's credentials).
    fn new(repeats: usize, env: &[(&str, String)]) -> Bench {
        let dir = tempfile::tempdir().expect("scratch directory");
        let launcher = std::sync::Mutex::new(Launcher::start(dir.path(), env));
        Bench {
            launcher,
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime"),
            dir,
            repeats,
        }
    }

    /// A file in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `bulk-unblock ARGS`, run by the launcher, output to `NAME.stdout` and `NAME.stderr`.
    pub fn child(&self, args: &[&str], name: &str) -> ChildRun {
        let mut launcher = self.launcher.lock().unwrap_or_else(|e| e.into_inner());
        launcher.run(args, name)
    }

    /// What the child called `name` printed.
    pub fn output(&self, name: &str) -> String {
        let out = std::fs::read_to_string(self.path(&format!("{name}.stdout"))).unwrap_or_default();
        let err = std::fs::read_to_string(self.path(&format!("{name}.stderr"))).unwrap_or_default();
        format!("{out}{err}")
    }

    /// `-q run [INPUT] --log NAME.jsonl --api-base BASE EXTRA…`, with a fresh journal (and no
    /// backup of an earlier `--all`); warns when it does not exit 0.
    pub fn run_tool(
        &self,
        base: &str,
        input: Option<&Path>,
        extra: &[&str],
        name: &str,
    ) -> ChildRun {
        let log = self.path(&format!("{name}.jsonl"));
        let _ = std::fs::remove_file(&log);
        let _ = std::fs::remove_file(self.path(&format!("{name}.jsonl.backup.csv")));
        let mut args = vec!["-q", "run"];
        if let Some(input) = input {
            args.push(input.to_str().expect("utf-8 path"));
        }
        args.extend([
            "--log",
            log.to_str().expect("utf-8 path"),
            "--api-base",
            base,
        ]);
        args.extend_from_slice(extra);
        let run = self.child(&args, name);
        if run.exit != 0 {
            eprintln!("warning: {name} exited {}: {}", run.exit, self.output(name));
        }
        run
    }
}

/// Prints `name median [min..max] unit`.
pub fn figure(name: &str, values: &[f64], unit: &str, decimals: usize) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    println!("{name}: {median:.decimals$}{unit} [{min:.decimals$}..{max:.decimals$}]");
    let _ = std::io::stdout().flush();
}
