//! Bluesky's figures, against the Bluesky emulator (an entryway and a PDS on loopback): how
//! much of the write-point budget a run spends (`bluesky-pace`), how many HTTP requests a
//! thousand unblocks take, listing included (`bluesky-requests`), and what planning against
//! a repo of 100,000 block records costs the tool (`bluesky-plan`).
//!
//! Unblocking on Bluesky is deleting block records: the run reads the repo's records first
//! (`listRecords`, 100 a page), looks handles up (`getProfiles`, 25 a request), then deletes
//! in `applyWrites` batches of up to 200, each delete costing a point of the account's
//! budget. The PDS's limiter opens a window at the exact millisecond of the first write
//! charged after the previous window closed, so the windows are rebuilt from the request log
//! with that rule ([`Grid::OpenedAtRequest`]), each write charged its points.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bulk_unblock::emulator::bluesky::seed::made_up_handle;
use bulk_unblock::emulator::bluesky::{
    Budget, Config, Emulator, Endpoint, Limits, LoggedRequest, Running, Seed, spawn,
};

use crate::launcher::ChildRun;
use crate::windows::{self, Charge, Grid};
use crate::{Bench, figure};

/// The length of the point windows of the pace runs (the real one is an hour; see
/// [`Bluesky::pace`]).
const WINDOW: Duration = Duration::from_secs(60);
/// Points per window in the pace runs: two full batches of 200 deletes.
const POINTS: u32 = 400;
/// Block records of the planning runs' repo.
const REPO_RECORDS: usize = 100_000;

/// The builtin seed's first account: its DID, handle and app password.
fn account() -> (String, String, String) {
    let seed = Seed::builtin();
    let account = seed
        .accounts
        .first()
        .cloned()
        .expect("the builtin seed has an account");
    let handle = seed
        .user(&account.did)
        .expect("the account's user")
        .handle
        .clone();
    let password = account
        .app_passwords
        .first()
        .expect("the account has an app password")
        .password
        .clone();
    (account.did, handle, password)
}

/// The environment that makes a child log in as the seed's first account with its app
/// password (the login host is given with `--api-base`).
pub fn credentials() -> Vec<(&'static str, String)> {
    let (_, handle, password) = account();
    vec![
        ("BLUESKY_IDENTIFIER", handle),
        ("BLUESKY_APP_PASSWORD", password),
    ]
}

/// The `i`th made-up DID (`did:plc:` and 24 base32 characters, the last ten unique), to which
/// the emulator gives an active user with the handle `u-` and those ten, under `.bsky.test`.
fn did(i: usize) -> String {
    const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut tail = [b'a'; 9];
    let mut v = i;
    for c in tail.iter_mut().rev() {
        *c = BASE32[v % 32];
        v /= 32;
    }
    let tail = std::str::from_utf8(&tail).expect("ASCII");
    format!("did:plc:figuresfiguresf{tail}")
}

/// Bluesky's sections, acting as the builtin seed's first account.
pub struct Bluesky<'a> {
    bench: &'a Bench,
    /// The account's DID.
    owner: String,
}

impl Bluesky<'_> {
    pub fn new(bench: &Bench) -> Bluesky<'_> {
        Bluesky {
            bench,
            owner: account().0,
        }
    }

    /// A fresh emulator (fresh windows, empty log) with `configure` applied after logins are
    /// made instant, whose account blocks the first `blocks` made-up DIDs, a record each.
    fn emulator(&self, blocks: usize, configure: impl FnOnce(&mut Config)) -> Running {
        let mut config = Config::default();
        // The PDS waits 350 ms on each login against timing attacks: not the tool's time.
        config.sessions.login_delay = Duration::ZERO;
        configure(&mut config);
        let emulator = Emulator::new(Seed::builtin(), config).expect("builtin seed is valid");
        emulator.set_blocks(&self.owner, (0..blocks).map(did));
        self.bench
            .rt
            .block_on(spawn(emulator))
            .expect("emulator starts")
    }

    /// Writes the first `n` made-up accounts, one a line, by DID or by `@handle`.
    fn targets(&self, name: &str, n: usize, by_handle: bool) -> PathBuf {
        let path = self.bench.path(name);
        let mut text = String::with_capacity(n * 40);
        for i in 0..n {
            if by_handle {
                let _ = writeln!(text, "@{}", made_up_handle(&did(i)));
            } else {
                let _ = writeln!(text, "{}", did(i));
            }
        }
        std::fs::write(&path, text).expect("write input");
        path
    }

    /// `run --network bluesky INPUT EXTRA…` against `running`.
    fn run_tool(&self, running: &Running, input: &Path, extra: &[&str], name: &str) -> ChildRun {
        let mut args = vec!["--network", "bluesky"];
        args.extend_from_slice(extra);
        self.bench
            .run_tool(&running.base_url(), Some(input), &args, name)
    }

    /// Block records left in the account's repo.
    fn left(&self, running: &Running) -> usize {
        running.emulator.blocks_of(&self.owner).len()
    }

    /// Pace utilisation: points charged for the writes the server applied over what the
    /// budget allowed from the first window's opening to the last measured one's close, with
    /// rate headers and without, at `--rate` equal to the budget and twice it; and the idle
    /// time between a window's close and the next one's opening.
    ///
    /// The windows are a minute long, not 3 seconds as X's and Mastodon's pace runs: the
    /// server rounds `RateLimit-Reset` down to the second, so a client that never sends into
    /// a spent window waits up to a second after each close, whatever the window's length.
    /// That second is 0.03% of the real hour and a quarter of a 3-second window; a minute
    /// keeps it near its real weight while a run still takes minutes.
    pub fn pace(&self, repeats: usize) {
        const WINDOWS: usize = 3;
        // A window's more than those measured, so the run outlasts them.
        let n = POINTS as usize * (WINDOWS + 1);
        let input = self.targets("bluesky-pace.txt", n, false);
        let at_limit = format!("{POINTS}/{}s", WINDOW.as_secs());
        let above = format!("{}/{}s", 2 * POINTS, WINDOW.as_secs());
        for (headers, label) in [(true, "headers"), (false, "no-headers")] {
            for (rate, rate_label) in [(&at_limit, "rate=limit"), (&above, "rate=2x-limit")] {
                let (mut utilisation, mut gaps, mut refused) = (vec![], vec![], vec![]);
                for r in 0..repeats {
                    let running = self.emulator(n, |c| {
                        c.limits.hourly = Budget::new(POINTS, WINDOW.as_secs());
                        c.limits.headers = headers;
                    });
                    let name = format!("bluesky-pace-{label}-{rate_label}-{r}");
                    self.run_tool(
                        &running,
                        &input,
                        // The list is read first, at a pace the per-IP limit never minds.
                        &["--rate", rate, "--list-rate", "100/s", "--concurrency", "4"],
                        &name,
                    );
                    let left = self.left(&running);
                    if left > 0 {
                        eprintln!("warning: {name} left {left} block records");
                    }
                    let log = running.emulator.requests();
                    let limits = running.emulator.config().limits;
                    let rebuilt = windows::rebuild(
                        point_charges(&log, &limits),
                        Grid::OpenedAtRequest(WINDOW),
                    );
                    utilisation.push(windows::utilisation(&rebuilt, POINTS, 0, WINDOWS).0);
                    let measured = &rebuilt[..rebuilt.len().min(WINDOWS)];
                    gaps.extend(
                        measured
                            .windows(2)
                            .map(|w| (w[1].start_ms - w[0].closes_ms) as f64 / 1000.0),
                    );
                    refused.push(log.iter().filter(|e| e.status == 429).count() as f64);
                }
                figure(
                    &format!(
                        "bluesky.points_used_over_allowed {label} {rate_label} ({WINDOWS} \
                         windows of {POINTS} points/{}s)",
                        WINDOW.as_secs()
                    ),
                    &utilisation,
                    "",
                    3,
                );
                figure(
                    &format!("bluesky.idle_after_close {label} {rate_label}"),
                    &gaps,
                    "s",
                    3,
                );
                figure(
                    &format!("bluesky.429s {label} {rate_label} (whole run)"),
                    &refused,
                    "",
                    0,
                );
            }
        }
    }

    /// HTTP requests per 1,000 unblocks, listing included: the account blocks 1,000 made-up
    /// accounts (a record each, nothing else), and the input names all of them, by DID or by
    /// handle. Every request either host received counts.
    pub fn requests(&self) {
        const TARGETS: usize = 1_000;
        for (by_handle, label) in [(false, "dids"), (true, "handles")] {
            let input = self.targets(&format!("bluesky-requests-{label}.txt"), TARGETS, by_handle);
            let (mut per_thousand, mut breakdown) = (vec![], String::new());
            for r in 0..self.bench.repeats {
                let running = self.emulator(TARGETS, |_| {});
                let name = format!("bluesky-requests-{label}-{r}");
                self.run_tool(
                    &running,
                    &input,
                    // Limits on as on bsky.social; the local paces only keep the run short.
                    &["--rate", "100000/s", "--list-rate", "100000/s"],
                    &name,
                );
                let unblocked = TARGETS - self.left(&running);
                if unblocked != TARGETS {
                    eprintln!("warning: {name} unblocked {unblocked} of {TARGETS}");
                }
                let log = running.emulator.requests();
                per_thousand.push(log.len() as f64 * 1000.0 / unblocked.max(1) as f64);
                breakdown = by_endpoint(&log);
            }
            figure(
                &format!("bluesky.requests_per_1000_unblocks {label} (listing included)"),
                &per_thousand,
                "",
                1,
            );
            println!("bluesky.requests_by_endpoint {label}: {breakdown}");
        }
    }

    /// Planning against a repo of 100,000 block records: `run --dry-run --check` of 1,000 and
    /// of 100,000 of them by DID, with the limits off and no local pace binding, so the figure
    /// is the tool's own cost and the emulator's paging on loopback. Wall time from the
    /// process's start to its exit (log in, read every record, plan, print), its CPU time and
    /// peak memory, and the span of the reading as the emulator saw it.
    pub fn plan(&self) {
        for targets in [1_000, REPO_RECORDS] {
            let input = self.targets(&format!("bluesky-plan-{targets}.txt"), targets, false);
            let (mut wall, mut cpu, mut rss, mut listing) = (vec![], vec![], vec![], vec![]);
            for r in 0..self.bench.repeats {
                let running = self.emulator(REPO_RECORDS, |c| c.limits.enabled = false);
                let name = format!("bluesky-plan-{targets}-{r}");
                let run = self.run_tool(
                    &running,
                    &input,
                    &["--dry-run", "--check", "--list-rate", "1000000/s"],
                    &name,
                );
                let out = self.bench.output(&name);
                let log = running.emulator.requests();
                let pages: Vec<&LoggedRequest> = log
                    .iter()
                    .filter(|e| e.endpoint == Endpoint::ListRecords)
                    .collect();
                assert!(
                    run.exit == 0 && pages.len() == REPO_RECORDS / 100 + 1,
                    "the check reads every record ({} pages): {out}",
                    pages.len()
                );
                wall.push(run.wall.as_secs_f64());
                cpu.push(run.cpu.as_secs_f64());
                rss.push(run.max_rss_kib as f64 / 1024.0);
                let span = match (pages.first(), pages.last()) {
                    (Some(first), Some(last)) => (last.at_ms - first.at_ms) as f64 / 1000.0,
                    _ => 0.0,
                };
                listing.push(span);
            }
            let what = format!("{targets} targets, repo of {REPO_RECORDS} records");
            figure(&format!("bluesky.plan_time ({what})"), &wall, "s", 3);
            figure(&format!("bluesky.plan_cpu ({what})"), &cpu, "s", 3);
            figure(&format!("bluesky.plan_peak_rss ({what})"), &rss, "MiB", 1);
            figure(
                &format!("bluesky.plan_listing_span ({what}, first page to last)"),
                &listing,
                "s",
                3,
            );
        }
    }
}

/// The arrivals the account's point budget charged: every repo write, with the points of
/// those the server applied, as the emulator's `limits` charge them.
fn point_charges(log: &[LoggedRequest], limits: &Limits) -> Vec<(i64, Charge)> {
    log.iter()
        .filter(|e| e.endpoint.is_write())
        .map(|e| {
            let charge = match e.status {
                200..=299 => Charge::Points(points(e, limits)),
                429 => Charge::Refused,
                _ => Charge::Other,
            };
            (e.at_ms, charge)
        })
        .collect()
}

/// The points a logged write costs under `limits`.
fn points(e: &LoggedRequest, limits: &Limits) -> u32 {
    match e.endpoint {
        Endpoint::DeleteRecord => limits.delete_points,
        Endpoint::CreateRecord => limits.create_points,
        Endpoint::ApplyWrites => {
            let writes: serde_json::Value = e
                .params
                .get("writes")
                .and_then(|w| serde_json::from_str(w).ok())
                .unwrap_or_default();
            writes
                .as_array()
                .into_iter()
                .flatten()
                .map(|w| match w["$type"].as_str() {
                    Some("com.atproto.repo.applyWrites#create") => limits.create_points,
                    Some("com.atproto.repo.applyWrites#update") => limits.update_points,
                    _ => limits.delete_points,
                })
                .sum()
        }
        _ => 0,
    }
}

/// `N name, …` for each endpoint the log holds, most first.
fn by_endpoint(log: &[LoggedRequest]) -> String {
    let mut counts: Vec<(Endpoint, usize)> = Vec::new();
    for e in log {
        match counts
            .iter_mut()
            .find(|(endpoint, _)| *endpoint == e.endpoint)
        {
            Some((_, n)) => *n += 1,
            None => counts.push((e.endpoint, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let parts: Vec<String> = counts
        .iter()
        .map(|(endpoint, n)| format!("{n} {}", endpoint.name()))
        .collect();
    format!("{} in all: {}", log.len(), parts.join(", "))
}
