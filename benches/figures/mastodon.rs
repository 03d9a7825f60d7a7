//! Mastodon's figures, against the Mastodon emulator: how much of the per-token limit a run
//! spends (`mastodon-pace`), and how much of the paging limit reading the block list for
//! `run --all` spends (`mastodon-list`).
//!
//! The emulator throttles as Rack::Attack does: fixed windows of a whole number of seconds on
//! a grid counted from the epoch (`now / period`), every API request counted against the
//! token's window whatever its endpoint, and paging requests (any `max_id`, `since_id`,
//! `min_id` or `page`) against a paging window of their own besides. The windows are rebuilt
//! from the request log on that grid ([`Grid::Epoch`]), so a window in which the client sent
//! nothing counts in full as capacity it did not use.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use bulk_unblock::emulator::mastodon::{
    Config, Emulator, Endpoint, HeaderMode, LoggedRequest, Running, Seed, Throttle, spawn,
};
use bulk_unblock::emulator::seed::made_up_name;

use crate::windows::{self, Charge, Grid};
use crate::{Bench, figure};

/// The builtin seed's token the runs use (`demo_owner`'s, with the blocks scopes).
const TOKEN: &str = "demo-bulk-unblock";
/// First made-up blocked account ID: far from the builtin seed's accounts.
const FIRST_ID: u64 = 110_000_000_000_000_000;
/// The length of every window: Rack::Attack's periods are whole seconds, the real ones 300 s
/// (requests) and 900 s (paging); three seconds keeps a run of ten windows near 30 s.
const WINDOW: Duration = Duration::from_secs(3);
/// The header modes measured, with their labels: every answer, 429s only (a proxy stripping
/// the others), none at all.
const MODES: [(HeaderMode, &str); 3] = [
    (HeaderMode::All, "headers"),
    (HeaderMode::Only429, "headers-on-429"),
    (HeaderMode::None, "no-headers"),
];

/// The environment that makes a child act for the seed's token (the instance is given with
/// `--api-base`, as each emulator has its own port).
pub fn credentials() -> Vec<(&'static str, String)> {
    vec![("MASTODON_ACCESS_TOKEN", token().token)]
}

fn token() -> bulk_unblock::emulator::mastodon::SeedToken {
    Seed::builtin()
        .token(TOKEN)
        .expect("the builtin seed has the demo token")
        .clone()
}

/// Mastodon's sections, acting for the builtin seed's `demo_owner`.
pub struct Mastodon<'a> {
    bench: &'a Bench,
    /// The account the token belongs to.
    owner: String,
}

impl Mastodon<'_> {
    pub fn new(bench: &Bench) -> Mastodon<'_> {
        Mastodon {
            bench,
            owner: token().account.expect("a user's token"),
        }
    }

    /// A fresh emulator (fresh windows, empty log) with `configure` applied, whose owner
    /// blocks `blocks` made-up accounts.
    fn emulator(&self, blocks: u64, configure: impl FnOnce(&mut Config)) -> Running {
        let mut config = Config::default();
        configure(&mut config);
        let emulator = Emulator::new(Seed::builtin(), config).expect("builtin seed is valid");
        emulator.set_blocked(&self.owner, (0..blocks).map(|i| (FIRST_ID + i).to_string()));
        self.bench
            .rt
            .block_on(spawn(emulator))
            .expect("emulator starts")
    }

    /// `run --network mastodon [INPUT] EXTRA…` against `running`; warns when the owner still
    /// blocks someone after it.
    fn run_tool(&self, running: &Running, input: Option<&PathBuf>, extra: &[&str], name: &str) {
        let mut args = vec!["--network", "mastodon"];
        args.extend_from_slice(extra);
        self.bench.run_tool(
            &running.base_url(),
            input.map(PathBuf::as_path),
            &args,
            name,
        );
        let left = running.emulator.blocked(&self.owner).len();
        if left > 0 {
            eprintln!(
                "warning: {name} left {left} blocks: {}",
                self.bench.output(name)
            );
        }
    }

    /// Writes the first `n` made-up accounts, one a line: every `acct_every`th by its acct
    /// (`@u_…`, which costs a lookup), the others by ID.
    fn targets(&self, name: &str, n: u64, acct_every: u64) -> PathBuf {
        let path = self.bench.path(name);
        let mut text = String::new();
        for i in 0..n {
            let id = FIRST_ID + i;
            if i % acct_every == 0 {
                let _ = writeln!(text, "@{}", made_up_name(id));
            } else {
                let _ = writeln!(text, "{id}");
            }
        }
        std::fs::write(&path, text).expect("write input");
        path
    }

    /// Pace utilisation: every request the token's limit counted and that was served
    /// (the credentials check, lookups, unblocks) over what the limit allowed in ten whole
    /// windows, for each header mode, at `--rate` equal to the limit and twice it.
    pub fn pace(&self) {
        const LIMIT: u32 = 30;
        const WINDOWS: usize = 10;
        /// One acct in 20: 20 lookups, below the 80 accts for which the client reads the list.
        const ACCT_EVERY: u64 = 20;
        let n = u64::from(LIMIT) * (WINDOWS as u64 + 3);
        let input = self.targets("mastodon-pace.txt", n, ACCT_EVERY);
        let at_limit = format!("{LIMIT}/{}s", WINDOW.as_secs());
        let above = format!("{}/{}s", 2 * LIMIT, WINDOW.as_secs());
        for (mode, label) in MODES {
            for (rate, rate_label) in [(&at_limit, "rate=limit"), (&above, "rate=2x-limit")] {
                let (mut utilisation, mut refused, mut counted) = (vec![], vec![], vec![]);
                for r in 0..self.bench.repeats {
                    let running = self.emulator(n, |c| {
                        c.limits.per_token = Throttle::new(LIMIT, WINDOW.as_secs());
                        // Five times the token's, as on a real instance: never the one that binds.
                        c.limits.per_user = Throttle::new(5 * LIMIT, WINDOW.as_secs());
                        c.limits.headers = mode;
                    });
                    let name = format!("mastodon-pace-{label}-{rate_label}-{r}");
                    self.run_tool(
                        &running,
                        Some(&input),
                        &["--rate", rate, "--list-rate", rate, "--concurrency", "4"],
                        &name,
                    );
                    let log = running.emulator.requests();
                    let rebuilt = windows::rebuild(per_token(&log), Grid::Epoch(WINDOW));
                    // The first window opened on the grid before the run started.
                    utilisation.push(windows::utilisation(&rebuilt, LIMIT, 1, WINDOWS).0);
                    refused.push(log.iter().filter(|e| e.status == 429).count() as f64);
                    counted.push(
                        log.iter()
                            .filter(|e| e.endpoint != Endpoint::Unblock)
                            .count() as f64,
                    );
                }
                figure(
                    &format!(
                        "mastodon.utilisation {label} {rate_label} ({WINDOWS} windows of \
                         {LIMIT}/{}s after the first)",
                        WINDOW.as_secs()
                    ),
                    &utilisation,
                    "",
                    3,
                );
                figure(
                    &format!("mastodon.429s {label} {rate_label} (whole run)"),
                    &refused,
                    "",
                    0,
                );
                figure(
                    &format!("mastodon.requests_besides_unblocks {label} {rate_label}"),
                    &counted,
                    "",
                    0,
                );
            }
        }
    }

    /// List pages during `run --all`: paging requests served over what the paging limit
    /// allowed in the windows the list was read in, the first and last left out (the first
    /// opened before the list was asked for, the list ran out in the last), with every
    /// answer carrying the rate headers and with none, at `--list-rate` equal to the paging
    /// limit and twice it.
    pub fn list(&self) {
        const PAGE_LIMIT: u32 = 6;
        /// 64 full pages of 80: about eleven windows of paging.
        const BLOCKS: u64 = 80 * 64;
        let at_limit = format!("{PAGE_LIMIT}/{}s", WINDOW.as_secs());
        let above = format!("{}/{}s", 2 * PAGE_LIMIT, WINDOW.as_secs());
        for (mode, label) in [MODES[0], MODES[2]] {
            for (rate, rate_label) in [
                (&at_limit, "list-rate=limit"),
                (&above, "list-rate=2x-limit"),
            ] {
                let (mut utilisation, mut refused, mut spanned) = (vec![], vec![], vec![]);
                for r in 0..self.bench.repeats {
                    let running = self.emulator(BLOCKS, |c| {
                        // The request limits never bind here: the paging limit does.
                        c.limits.per_token = Throttle::new(1_000_000, WINDOW.as_secs());
                        c.limits.per_user = Throttle::new(1_000_000, WINDOW.as_secs());
                        c.limits.paging = Throttle::new(PAGE_LIMIT, WINDOW.as_secs());
                        c.limits.headers = mode;
                    });
                    let name = format!("mastodon-list-{label}-{rate_label}-{r}");
                    self.run_tool(
                        &running,
                        None,
                        &[
                            "--all",
                            "--list-rate",
                            rate,
                            "--rate",
                            "100000/s",
                            "--concurrency",
                            "8",
                        ],
                        &name,
                    );
                    let pages = running.emulator.requests_to(Endpoint::Blocks);
                    let paging: Vec<&LoggedRequest> =
                        pages.iter().filter(|p| is_paging(p)).collect();
                    let arrivals = paging.iter().map(|p| (p.at_ms, charge(p)));
                    let rebuilt = windows::rebuild(arrivals, Grid::Epoch(WINDOW));
                    let interior = rebuilt.len().saturating_sub(2);
                    if interior == 0 {
                        eprintln!("warning: {name} read its list in {} windows", rebuilt.len());
                    }
                    utilisation.push(windows::utilisation(&rebuilt, PAGE_LIMIT, 1, interior).0);
                    refused.push(pages.iter().filter(|e| e.status == 429).count() as f64);
                    spanned.push(rebuilt.len() as f64);
                }
                figure(
                    &format!(
                        "mastodon.list_pages_used_over_allowed {label} {rate_label} (paging \
                         {PAGE_LIMIT}/{}s, {BLOCKS} blocks)",
                        WINDOW.as_secs()
                    ),
                    &utilisation,
                    "",
                    3,
                );
                figure(
                    &format!("mastodon.list_429s {label} {rate_label}"),
                    &refused,
                    "",
                    0,
                );
                figure(
                    &format!("mastodon.list_windows_spanned {label} {rate_label}"),
                    &spanned,
                    "",
                    0,
                );
            }
        }
    }
}

/// What a request did to the token's window: every API request counts, a 429 is refused.
fn charge(e: &LoggedRequest) -> Charge {
    if e.status == 429 {
        Charge::Refused
    } else {
        Charge::Used
    }
}

/// The arrivals the token's limit counted: every request under `/api/` (all carry the token).
fn per_token(log: &[LoggedRequest]) -> Vec<(i64, Charge)> {
    log.iter()
        .filter(|e| e.path.starts_with("/api/"))
        .map(|e| (e.at_ms, charge(e)))
        .collect()
}

/// A paging request, as the paging throttle tells them.
fn is_paging(e: &LoggedRequest) -> bool {
    ["page", "min_id", "max_id", "since_id"]
        .iter()
        .any(|k| e.params.get(*k).is_some_and(|v| !v.is_empty()))
}
