//! X's figures: pace (1), client cost (2), latency hiding (3), planning at scale (4) and
//! journal appends (5), against the X emulator (see BENCHMARKS.md for what each measures).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bulk_unblock::emulator::x::config::{Config, HeaderMode};
use bulk_unblock::emulator::x::seed::{Seed, SeedAccount, SeedApp};
use bulk_unblock::emulator::x::{Emulator, Endpoint, LoggedRequest, Running, spawn};
use bulk_unblock::journal::{FORMAT_NAME, FORMAT_VERSION, Header, Journal, Record};
use bulk_unblock::network::NetworkId;
use bulk_unblock::network::x::oauth::{self, Credentials, Secret};
use bulk_unblock::outcome::{Action, Outcome};

use crate::launcher::ChildRun;
use crate::windows::{self, Charge, Grid};
use crate::{Bench, figure};

/// First synthesized blocked ID: far from the builtin seed's users.
const FIRST_ID: u64 = 9_000_000_000_000;
/// Unblocks per client-cost run.
const COST_TARGETS: u64 = 20_000;
/// Lines of input (and journal records) of the scale measurement.
const SCALE_LINES: u64 = 1_000_000;
/// Records appended by the journal measurement.
const JOURNAL_RECORDS: u64 = 200_000;

/// The builtin seed's first account, with its app.
fn seed_account() -> (SeedAccount, SeedApp) {
    let seed = Seed::builtin();
    let account = seed.accounts[0].clone();
    let app = seed
        .apps
        .iter()
        .find(|a| a.consumer_key == account.consumer_key)
        .cloned()
        .expect("the builtin seed's first account has an app");
    (account, app)
}

/// The environment that makes a child act as the seed's first account.
pub fn credentials() -> Vec<(&'static str, String)> {
    let (account, app) = seed_account();
    vec![
        ("TWITTER_CONSUMER_KEY", app.consumer_key),
        ("TWITTER_CONSUMER_SECRET", app.consumer_secret),
        ("TWITTER_ACCESS_TOKEN", account.access_token),
        ("TWITTER_ACCESS_TOKEN_SECRET", account.access_token_secret),
    ]
}

/// X's sections, acting as the builtin seed's first account.
pub struct X<'a> {
    bench: &'a Bench,
    account: SeedAccount,
    app: SeedApp,
}

impl X<'_> {
    pub fn new(bench: &Bench) -> X<'_> {
        let (account, app) = seed_account();
        X {
            bench,
            account,
            app,
        }
    }

    /// A fresh emulator (fresh rate windows, empty request log) with `configure` applied.
    fn emulator(&self, configure: impl FnOnce(&mut Config)) -> Running {
        let mut config = Config::default();
        configure(&mut config);
        let emulator = Emulator::new(Seed::builtin(), config).expect("builtin seed is valid");
        self.bench
            .rt
            .block_on(spawn(emulator))
            .expect("emulator starts")
    }

    /// Writes `n` synthesized IDs, one a line, and returns the file.
    fn id_list(&self, name: &str, n: u64) -> PathBuf {
        let path = self.bench.path(name);
        let mut text = String::with_capacity(n as usize * 14);
        for i in 0..n {
            let _ = writeln!(text, "{}", FIRST_ID + i);
        }
        std::fs::write(&path, text).expect("write input");
        path
    }

    /// `run INPUT --log LOG --api-base URL EXTRA…`, with a fresh journal.
    fn run_tool(&self, running: &Running, input: &Path, extra: &[&str], name: &str) -> ChildRun {
        self.bench
            .run_tool(&running.base_url(), Some(input), extra, name)
    }

    /// Pace utilisation (1): successful unblocks over what the server allowed, in ten windows.
    pub fn pace(&self, repeats: usize) {
        const WINDOW: Duration = Duration::from_secs(3);
        const LIMIT: u32 = 30;
        const WINDOWS: u64 = 10;
        let input = self.id_list("pace.txt", u64::from(LIMIT) * (WINDOWS + 3));
        let at_limit = format!("{LIMIT}/{}s", WINDOW.as_secs());
        let above = format!("{}/{}s", 2 * LIMIT, WINDOW.as_secs());
        for (mode, label) in [
            (HeaderMode::Headers, "headers"),
            (HeaderMode::None, "no-headers"),
        ] {
            for (rate, rate_label) in [(&at_limit, "rate=limit"), (&above, "rate=2x-limit")] {
                let mut utilisation = Vec::new();
                let mut steady = Vec::new();
                let mut refused = Vec::new();
                for r in 0..repeats {
                    let running = self.emulator(|c| {
                        c.limits.window = WINDOW;
                        c.limits.destroy.limit = LIMIT;
                        c.limits.destroy.headers = mode;
                    });
                    seed_blocks(&running, &self.account, u64::from(LIMIT) * (WINDOWS + 3));
                    let name = format!("pace-{label}-{rate_label}-{r}");
                    self.run_tool(
                        &running,
                        &input,
                        &["--rate", rate, "--concurrency", "4"],
                        &name,
                    );
                    let log = destroys(&running);
                    let (u, n429) = utilisation_of(&log, WINDOW, LIMIT, 0, WINDOWS);
                    utilisation.push(u);
                    refused.push(n429 as f64);
                    steady.push(utilisation_of(&log, WINDOW, LIMIT, 1, WINDOWS).0);
                }
                figure(
                    &format!(
                        "pace.utilisation {label} {rate_label} ({WINDOWS} windows of {LIMIT}/{}s)",
                        WINDOW.as_secs()
                    ),
                    &utilisation,
                    "",
                    3,
                );
                figure(
                    &format!("pace.utilisation_after_first_window {label} {rate_label}"),
                    &steady,
                    "",
                    3,
                );
                figure(&format!("pace.429s {label} {rate_label}"), &refused, "", 0);
            }
        }
    }

    /// Client cost (2): CPU per unblock and unblocks per second with no limit and no latency,
    /// beside the emulator's capacity measured by a minimal client.
    pub fn cost(&self) {
        let input = self.id_list("cost.txt", COST_TARGETS);
        for concurrency in [1usize, 8, 32] {
            let mut cpu_per = Vec::new();
            let mut rate = Vec::new();
            let mut capacity = Vec::new();
            let mut ratio = Vec::new();
            let mut floor = Vec::new();
            let mut rss = Vec::new();
            for r in 0..self.bench.repeats {
                let running = self.emulator(|c| c.limits.enabled = false);
                seed_blocks(&running, &self.account, COST_TARGETS);
                let name = format!("cost-{concurrency}-{r}");
                let c = concurrency.to_string();
                let run = self.run_tool(
                    &running,
                    &input,
                    &["--rate", "1000000/s", "--concurrency", &c],
                    &name,
                );
                let log = destroys(&running);
                let done = log.iter().filter(|e| e.status == 200).count() as u64;
                assert_eq!(
                    done,
                    COST_TARGETS,
                    "every target unblocked once: {}",
                    self.bench.output(&name)
                );
                let tool_rate = steady_rate(&log, Duration::ZERO);
                cpu_per.push(run.cpu.as_secs_f64() * 1e6 / done as f64);
                rate.push(tool_rate);
                rss.push(run.max_rss_kib as f64 / 1024.0);
                seed_blocks(&running, &self.account, COST_TARGETS);
                let (cap, floor_cpu) = self.load(&running, COST_TARGETS, concurrency);
                capacity.push(cap);
                ratio.push(tool_rate / cap);
                floor.push(floor_cpu.as_secs_f64() * 1e6 / COST_TARGETS as f64);
            }
            figure(
                &format!("cost.cpu_per_unblock c={concurrency}"),
                &cpu_per,
                "µs",
                1,
            );
            figure(
                &format!("cost.unblocks_per_s c={concurrency}"),
                &rate,
                "/s",
                0,
            );
            figure(
                &format!("cost.emulator_capacity c={concurrency}"),
                &capacity,
                "/s",
                0,
            );
            figure(
                &format!("cost.tool_over_capacity c={concurrency}"),
                &ratio,
                "",
                2,
            );
            figure(
                &format!("cost.minimal_client_cpu_per_request c={concurrency}"),
                &floor,
                "µs",
                1,
            );
            figure(&format!("cost.peak_rss c={concurrency}"), &rss, "MiB", 1);
        }
    }

    /// The minimal load client: `n` pre-signed `blocks/destroy` requests, `concurrency` at a
    /// time, on a runtime of its own thread. Returns answers per second, and the CPU time of
    /// that thread while it sent them: the floor of what any HTTP client pays on this loopback
    /// (the kernel charges the sender for delivering its packets), to read the tool's cost against.
    fn load(&self, running: &Running, n: u64, concurrency: usize) -> (f64, Duration) {
        use futures::StreamExt;
        let credentials = Credentials {
            consumer_key: Secret::new(self.app.consumer_key.clone()),
            consumer_secret: Secret::new(self.app.consumer_secret.clone()),
            access_token: Secret::new(self.account.access_token.clone()),
            access_token_secret: Secret::new(self.account.access_token_secret.clone()),
        };
        let url = format!("{}/1.1/blocks/destroy.json", running.base_url());
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs());
        let requests: Vec<(String, String)> = (0..n)
            .map(|i| {
                let id = (FIRST_ID + i).to_string();
                let params = [("user_id", id.as_str()), ("skip_status", "1")];
                let auth = oauth::authorization(
                    "POST",
                    &url,
                    &params,
                    &credentials,
                    &oauth::nonce(),
                    timestamp,
                );
                (auth, oauth::encode_params(&params))
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("load runtime");
        std::thread::scope(|s| {
            s.spawn(|| {
                rt.block_on(async {
                    let http = reqwest::Client::new();
                    let start = Instant::now();
                    let cpu_start = thread_cpu();
                    let ok = futures::stream::iter(requests)
                        .map(|(auth, body)| {
                            let request = http
                                .post(&url)
                                .header("authorization", auth)
                                .header("content-type", "application/x-www-form-urlencoded")
                                .body(body);
                            async move {
                                match request.send().await {
                                    Ok(response) => {
                                        let ok = response.status().is_success();
                                        response.bytes().await.is_ok() && ok
                                    }
                                    Err(_) => false,
                                }
                            }
                        })
                        .buffer_unordered(concurrency)
                        .filter(|ok| std::future::ready(*ok))
                        .count()
                        .await;
                    let cpu = thread_cpu().saturating_sub(cpu_start);
                    assert_eq!(ok as u64, n, "the load client's requests all succeed");
                    (n as f64 / start.elapsed().as_secs_f64(), cpu)
                })
            })
            .join()
            .expect("load client")
        })
    }

    /// Latency hiding (3): 100 ms per answer, no limit.
    pub fn latency(&self) {
        const LATENCY: Duration = Duration::from_millis(100);
        for concurrency in [1u64, 8, 32] {
            let ideal = concurrency as f64 / LATENCY.as_secs_f64();
            // About three seconds of requests at the ideal rate.
            let n = (ideal * 3.0) as u64;
            let input = self.id_list(&format!("latency-{concurrency}.txt"), n);
            let mut rate = Vec::new();
            let mut share = Vec::new();
            for r in 0..self.bench.repeats {
                let running = self.emulator(|c| {
                    c.limits.enabled = false;
                    c.faults.latency_ms = LATENCY.as_millis() as u64;
                });
                seed_blocks(&running, &self.account, n);
                let name = format!("latency-{concurrency}-{r}");
                let c = concurrency.to_string();
                self.run_tool(
                    &running,
                    &input,
                    &["--rate", "1000000/s", "--concurrency", &c],
                    &name,
                );
                let got = steady_rate(&destroys(&running), LATENCY);
                rate.push(got);
                share.push(got / ideal);
            }
            figure(
                &format!("latency.unblocks_per_s c={concurrency} (ideal {ideal:.0}/s)"),
                &rate,
                "/s",
                1,
            );
            figure(
                &format!("latency.share_of_ideal c={concurrency}"),
                &share,
                "",
                3,
            );
        }
    }

    /// Planning and resume at scale (4): a dry run over a million lines, with and without a
    /// journal of a million records.
    pub fn scale(&self) {
        let input = self.id_list("scale.txt", SCALE_LINES);
        let journal = self.bench.path("scale-journal.jsonl");
        write_scale_journal(&journal, &self.account);
        let fresh = self.bench.path("scale-none.jsonl");
        for (label, log) in [("journal-1M", &journal), ("no-journal", &fresh)] {
            let mut wall = Vec::new();
            let mut rss = Vec::new();
            for r in 0..self.bench.repeats {
                let name = format!("scale-{label}-{r}");
                let run = self.bench.child(
                    &[
                        "run",
                        input.to_str().expect("utf-8 path"),
                        "--log",
                        log.to_str().expect("utf-8 path"),
                        "--dry-run",
                    ],
                    &name,
                );
                let out = self.bench.output(&name);
                let expected = if log == &journal {
                    100_000
                } else {
                    SCALE_LINES
                };
                assert!(
                    run.exit == 0 && out.contains(&format!("left to do:              {expected}")),
                    "the dry run plans {expected}: {out}"
                );
                wall.push(run.wall.as_secs_f64());
                rss.push(run.max_rss_kib as f64 / 1024.0);
            }
            figure(
                &format!("scale.dry_run_time {label} (1M lines)"),
                &wall,
                "s",
                3,
            );
            figure(
                &format!("scale.peak_rss {label} (1M lines)"),
                &rss,
                "MiB",
                1,
            );
        }
    }

    /// Journal appends (5) with the default sync policy, in this process.
    pub fn journal(&self) {
        let mut rate = Vec::new();
        for r in 0..self.bench.repeats {
            let path = self.bench.path(&format!("append-{r}.jsonl"));
            let (mut journal, _) = Journal::open(&path).expect("journal opens");
            journal
                .write_header(&header(&self.account))
                .expect("header");
            let start = Instant::now();
            for i in 0..JOURNAL_RECORDS {
                journal
                    .append(&record(FIRST_ID + i, Outcome::Unblocked))
                    .expect("append");
            }
            journal.sync().expect("final sync");
            rate.push(JOURNAL_RECORDS as f64 / start.elapsed().as_secs_f64());
        }
        figure(
            "journal.appends_per_s (default sync policy)",
            &rate,
            "/s",
            0,
        );
    }
}

/// Blocks `n` synthesized IDs for the account again (a previous run may have removed them).
fn seed_blocks(running: &Running, account: &SeedAccount, n: u64) {
    running
        .emulator
        .set_blocked(account.user_id, (0..n).map(|i| FIRST_ID + i));
}

/// The `blocks/destroy` requests the emulator received, in arrival order.
fn destroys(running: &Running) -> Vec<LoggedRequest> {
    running
        .emulator
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Endpoint::BlocksDestroy)
        .collect()
}

/// Successful unblocks per second from the first arrival to the last answer (taken as `latency`
/// after the last arrival): the steady rate, with the process's start-up and exit left out.
fn steady_rate(log: &[LoggedRequest], latency: Duration) -> f64 {
    let ok = log.iter().filter(|e| e.status == 200).count();
    let (Some(first), Some(last)) = (log.first(), log.last()) else {
        return 0.0;
    };
    let span = (last.at_ms - first.at_ms) as f64 / 1000.0 + latency.as_secs_f64();
    ok as f64 / span.max(1e-3)
}

/// Successful requests in the server's first `count` windows, over what the server allowed
/// from the first window's opening to the last one's close; and the 429s answered meanwhile.
///
/// The windows are rebuilt from the arrivals with the emulator's rule (a window opens at the
/// first request after the previous one closed, aligned down to a whole second), so the time a
/// client leaves idle between a close and its next request counts as capacity it did not use.
///
/// The first `skip` windows are left out: the server opens the first one at the whole second
/// before the first request, so a client pacing evenly from that request cannot fill it (with
/// real 15-minute windows that is under 0.1% of one window; with 3-second ones, up to a third).
fn utilisation_of(
    log: &[LoggedRequest],
    window: Duration,
    limit: u32,
    skip: u64,
    count: u64,
) -> (f64, u64) {
    let arrivals = log.iter().map(|e| {
        let charge = match e.status {
            200 => Charge::Used,
            429 => Charge::Refused,
            _ => Charge::Other,
        };
        (e.at_ms, charge)
    });
    let rebuilt = windows::rebuild(arrivals, Grid::OpenedByRequest(window));
    windows::utilisation(&rebuilt, limit, skip as usize, count as usize)
}

fn header(account: &SeedAccount) -> Header {
    Header {
        journal: FORMAT_NAME.to_owned(),
        version: FORMAT_VERSION,
        network: NetworkId::X,
        account_id: account.user_id.to_string(),
        account_screen_name: None,
        action: Action::Unblock,
        created_at: "2026-01-01T00:00:00Z".to_owned(),
    }
}

fn record(id: u64, outcome: Outcome) -> Record {
    let failed = outcome == Outcome::Failed;
    Record {
        target: id.to_string(),
        by: "user_id".to_owned(),
        outcome,
        user_id: Some(id.to_string()),
        screen_name: None,
        http_status: Some(if failed { 503 } else { 200 }),
        error_code: failed.then_some(130.into()),
        message: failed.then(|| "Over capacity.".to_owned()),
        attempts: 1,
        at: "2026-01-01T00:00:00Z".to_owned(),
    }
}

/// A journal of a million records over the scale input's IDs: 900,000 terminal, the last
/// 100,000 failed (so 100,000 are left to do).
fn write_scale_journal(path: &Path, account: &SeedAccount) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("journal file"));
    serde_json::to_writer(&mut out, &header(account)).expect("header");
    out.write_all(b"\n").expect("newline");
    for i in 0..SCALE_LINES {
        let outcome = match i {
            i if i >= 900_000 => Outcome::Failed,
            i if i % 10 == 0 => Outcome::NotFound,
            _ => Outcome::Unblocked,
        };
        serde_json::to_writer(&mut out, &record(FIRST_ID + i, outcome)).expect("record");
        out.write_all(b"\n").expect("newline");
    }
    out.flush().expect("journal written");
}

/// CPU time (user + system) the calling thread has used so far.
fn thread_cpu() -> Duration {
    // SAFETY: timespec is plain data; clock_gettime writes it fully on success.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a valid pointer for the call.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(ok, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
