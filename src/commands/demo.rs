//! `bulk-unblock demo`: the whole job against the built-in emulator, in about a minute.
//!
//! It starts the emulator in-process (seeded from `sample-data/`, with a short rate window and
//! honest rate headers so the window state shows), then runs the real pipeline — the same
//! journal, pacing, executor, writer and progress display as `run` — on the sample account's
//! data-archive `block.js`. Nothing leaves this machine.
//!
//! `--network mastodon` runs Mastodon's own export, `blocked_accounts.csv`, on an emulated
//! instance: the block list read first, local and remote accounts, suspended ones the list
//! leaves out, one the instance does not know and one not blocked.
//!
//! `--network bluesky` does the same against the Bluesky emulator (an entryway and a PDS) on
//! the sample list `sample-data/bluesky-blocked.txt`, with what a real run meets made to
//! happen within seconds: an access token that expires, and a record deleted behind the
//! tool's back so that a batch fails as a whole.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::DemoArgs;
use crate::config::{Loaded, Net};
use crate::display::Verbosity;
use crate::emulator::x::config::{Config, HeaderMode};
use crate::emulator::x::seed::Seed;
use crate::emulator::x::{Emulator, spawn};
use crate::error::{Error, Exit};
use crate::executor::Settings;
use crate::job::{Job, Source, execute};
use crate::network::{Api, NetworkId};
use crate::pace::Rate;
use crate::secret::Secret;

/// The sample account's data-archive file, as a user would download it.
const SAMPLE_BLOCK_JS: &[u8] = include_bytes!("../../sample-data/block.js");

/// Mastodon's export of the sample account's blocks, as a user would download it.
const SAMPLE_BLOCKED_ACCOUNTS: &[u8] = include_bytes!("../../sample-data/blocked_accounts.csv");

/// The Bluesky sample list, in every shape a Bluesky list takes.
const SAMPLE_BLUESKY: &[u8] = include_bytes!("../../sample-data/bluesky-blocked.txt");

/// Runs the demo of the network asked for.
pub async fn demo(args: DemoArgs, verbosity: Verbosity) -> Result<Exit, Error> {
    match args.network {
        NetworkId::X => x(args, verbosity).await,
        NetworkId::Mastodon => mastodon(args, verbosity).await,
        NetworkId::Bluesky => bluesky(args, verbosity).await,
    }
}

/// The X demo: the sample account's `block.js` through API v1.1.
async fn x(args: DemoArgs, verbosity: Verbosity) -> Result<Exit, Error> {
    let seed = Seed::builtin();
    let account = seed
        .accounts
        .first()
        .cloned()
        .ok_or_else(|| Error::Usage("the built-in seed has no account".into()))?;
    let app = seed
        .apps
        .iter()
        .find(|a| a.consumer_key == account.consumer_key)
        .cloned()
        .ok_or_else(|| Error::Usage("the built-in seed's account has no app".into()))?;
    let mut config = Config::default();
    config.limits.window = args.window;
    config.limits.destroy.limit = args.limit;
    config.limits.destroy.headers = HeaderMode::Headers;
    config
        .validate()
        .map_err(|e| Error::Usage(format!("demo: {e}")))?;
    let emulator = Emulator::new(seed, config)
        .map_err(|e| Error::Usage(format!("the built-in seed is invalid: {e}")))?;
    let running = spawn(emulator.clone()).await.map_err(|e| Error::Io {
        context: "cannot start the emulator on 127.0.0.1".into(),
        source: e,
    })?;
    let before = emulator.blocked(account.user_id).len();

    let log = match args.log {
        Some(path) => path,
        None => fresh_journal_path(),
    };
    let identities = NetworkId::X.identities();
    let parsed = crate::input::parse("sample-data/block.js", SAMPLE_BLOCK_JS, identities);
    let count = parsed.targets.len();
    // Spread each window's allowance over the window; the server's headers keep us honest.
    let rate = Rate {
        count: args.limit.max(1),
        period: args.window,
    };
    if verbosity > Verbosity::Quiet {
        println!(
            "Demo: an emulator of the X API is serving on {} with @demo_owner's {before} blocks.",
            running.base_url()
        );
        println!(
            "It admits {} unblocks per {} window, so {} targets take about {}.",
            args.limit,
            humantime::format_duration(args.window),
            count,
            crate::display::clock(rate.duration_for(count as u64))
        );
        println!(
            "Running the real pipeline on sample-data/block.js; the journal is {}.\n",
            log.display()
        );
    }
    let job = Job {
        source: Source::Targets(parsed),
        skip_invalid: false,
        log: log.clone(),
        dry_run: false,
        check: false,
        rate,
        list_rate: rate,
        settings: Settings {
            concurrency: 4,
            retry_base: Duration::from_millis(200),
            ..Settings::default()
        },
        net: Net {
            network: NetworkId::X,
            api: Api::V1,
            api_base: Some(running.base_url()),
            credentials_file: None,
            timeout: Duration::from_secs(10),
            scope: Default::default(),
        },
        identities,
        resume_hint: format!(
            "bulk-unblock demo --log {}",
            crate::shell::shell_quote(&log.to_string_lossy())
        ),
        expect_account: None,
    };
    let credentials = Loaded {
        secrets: [
            app.consumer_key,
            app.consumer_secret,
            account.access_token,
            account.access_token_secret,
        ]
        .into_iter()
        .map(Secret::new)
        .collect(),
        api_base: running.base_url(),
    };
    let exit = execute(job, verbosity, || Ok(credentials)).await?;
    let stats = emulator.stats();
    if verbosity > Verbosity::Quiet {
        println!(
            "\nThe emulator received {} requests ({} answered 429) and now holds {} of @demo_owner's \
             {before} blocks.",
            stats.requests,
            stats.rate_limited,
            emulator.blocked(account.user_id).len()
        );
        println!(
            "Every result is in {}; `bulk-unblock run --help` shows how to do this for real.",
            log.display()
        );
    }
    drop(running);
    Ok(exit)
}

/// The Bluesky demo: the sample list through an entryway and a PDS, meeting an expired token
/// and a stale record on the way.
async fn bluesky(args: DemoArgs, verbosity: Verbosity) -> Result<Exit, Error> {
    use crate::emulator::bluesky::{
        self as emulator, BLOCK, Budget, Config, Emulator, Endpoint, LISTBLOCK, Seed,
    };
    let seed = Seed::builtin();
    let account = seed
        .accounts
        .first()
        .cloned()
        .ok_or_else(|| Error::Usage("the built-in Bluesky seed has no account".into()))?;
    let handle = seed
        .user(&account.did)
        .map(|u| u.handle.clone())
        .ok_or_else(|| Error::Usage("the built-in Bluesky seed's account has no user".into()))?;
    let password = account
        .app_passwords
        .first()
        .map(|p| p.password.clone())
        .ok_or_else(|| Error::Usage("the built-in Bluesky account has no app password".into()))?;
    // A window admits at least one full batch, as 5,000 points an hour admit 25.
    let points = args.limit.max(crate::network::bluesky::MAX_WRITES as u32);
    let window = args.window.as_secs().max(1);
    let mut config = Config::default();
    config.limits.hourly = Budget::new(points, window);
    config.sessions.access_ttl = Duration::from_secs(3);
    config.sessions.login_delay = Duration::from_millis(50);
    config.stale.at_write = Some(1);
    config.stale.count = 1;
    config.faults.latency_ms = 100;
    config.faults.jitter_ms = 100;
    config
        .validate()
        .map_err(|e| Error::Usage(format!("demo: {e}")))?;
    let emulator = Emulator::new(seed, config)
        .map_err(|e| Error::Usage(format!("the built-in Bluesky seed is invalid: {e}")))?;
    let running = emulator::spawn(emulator.clone())
        .await
        .map_err(|e| Error::Io {
            context: "cannot start the emulator on 127.0.0.1".into(),
            source: e,
        })?;
    let blocks = emulator.records(&account.did, BLOCK).len();
    let subjects = emulator
        .blocks_of(&account.did)
        .into_iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let lists = emulator.records(&account.did, LISTBLOCK).len();

    let log = match args.log {
        Some(path) => path,
        None => fresh_journal_path(),
    };
    let identities = NetworkId::Bluesky.identities();
    let parsed = crate::input::parse(
        "sample-data/bluesky-blocked.txt",
        SAMPLE_BLUESKY,
        identities,
    );
    let count = parsed.targets.len();
    let rate = Rate {
        count: points,
        period: Duration::from_secs(window),
    };
    if verbosity > Verbosity::Quiet {
        println!(
            "Demo: an emulator of Bluesky is serving an entryway on {} (where the tool logs in) \
             and a PDS on {} (where @{handle}'s repo lives).",
            running.base_url(),
            emulator.pds_url().unwrap_or_else(|| "?".into())
        );
        println!(
            "@{handle} holds {blocks} block records for {subjects} accounts (some blocked \
             several times over) and {lists} moderation-list subscriptions."
        );
        println!(
            "It admits {points} write points per {} window (a delete costs 1); access tokens \
             live 3 s, so the run meets an expired one and refreshes it; and it deletes one \
             record behind the tool's back as the first batch arrives, so that batch fails \
             as a whole and is sent again one target at a time.",
            humantime::format_duration(Duration::from_secs(window))
        );
        println!(
            "Running the real pipeline on sample-data/bluesky-blocked.txt ({count} targets: \
             DIDs, handles, profile links, a list link); the journal is {}.\n",
            log.display()
        );
    }
    let job = Job {
        source: Source::Targets(parsed),
        skip_invalid: false,
        log: log.clone(),
        dry_run: false,
        check: false,
        rate,
        list_rate: Rate {
            count: 1,
            period: Duration::from_secs(1),
        },
        settings: Settings {
            concurrency: 2,
            retry_base: Duration::from_millis(200),
            ..Settings::default()
        },
        net: Net {
            network: NetworkId::Bluesky,
            api: Api::V1,
            api_base: Some(running.base_url()),
            credentials_file: None,
            timeout: Duration::from_secs(10),
            scope: Default::default(),
        },
        identities,
        resume_hint: format!(
            "bulk-unblock demo --network bluesky --log {}",
            crate::shell::shell_quote(&log.to_string_lossy())
        ),
        expect_account: None,
    };
    let credentials = Loaded {
        secrets: [handle.clone(), password]
            .into_iter()
            .map(Secret::new)
            .collect(),
        api_base: running.base_url(),
    };
    let exit = execute(job, verbosity, || Ok(credentials)).await?;
    if verbosity > Verbosity::Quiet {
        let requests = emulator.requests();
        let count = |endpoint: Endpoint| requests.iter().filter(|r| r.endpoint == endpoint).count();
        let status = |status: u16| requests.iter().filter(|r| r.status == status).count();
        println!(
            "\nThe emulator received {} requests: {} createSession, {} refreshSession, {} \
             listRecords, {} getProfiles, {} applyWrites and {} deleteRecord ({} answered 500, \
             {} answered 429).",
            requests.len(),
            count(Endpoint::CreateSession),
            count(Endpoint::RefreshSession),
            count(Endpoint::ListRecords),
            count(Endpoint::GetProfiles),
            count(Endpoint::ApplyWrites),
            count(Endpoint::DeleteRecord),
            status(500),
            status(429),
        );
        println!(
            "@{handle} now holds {} of its {blocks} block records and {} of its {lists} \
             moderation-list subscriptions.",
            emulator.records(&account.did, BLOCK).len(),
            emulator.records(&account.did, LISTBLOCK).len()
        );
        println!(
            "Every result is in {}; the README's Bluesky section shows how to do this for real.",
            log.display()
        );
    }
    drop(running);
    Ok(exit)
}

/// The Mastodon demo: `blocked_accounts.csv` on an emulated instance whose token admits
/// `--limit` requests per `--window` (the block list read first, its local and remote accounts,
/// suspended ones hidden from the list, one the instance does not know, one not blocked).
async fn mastodon(args: DemoArgs, verbosity: Verbosity) -> Result<Exit, Error> {
    use crate::emulator::mastodon as emu;

    let seed = emu::Seed::builtin();
    let token = seed
        .token("demo-bulk-unblock")
        .cloned()
        .ok_or_else(|| Error::Usage("the built-in seed has no demo token".into()))?;
    let owner = token.account.clone().unwrap_or_default();
    let suspended: std::collections::HashSet<&str> = seed
        .accounts
        .iter()
        .filter(|a| a.suspended)
        .map(|a| a.id.as_str())
        .collect();
    let hidden = seed
        .users
        .iter()
        .filter(|u| u.account == owner)
        .flat_map(|u| &u.blocks)
        .filter(|id| suspended.contains(id.as_str()))
        .count();
    let mut config = emu::Config::default();
    let throttle = emu::Throttle {
        limit: args.limit,
        period: args.window,
    };
    config.limits.per_token = throttle.clone();
    config.limits.paging = throttle;
    config.limits.headers = emu::HeaderMode::All;
    config
        .validate()
        .map_err(|e| Error::Usage(format!("demo: {e}")))?;
    let emulator = emu::Emulator::new(seed, config)
        .map_err(|e| Error::Usage(format!("the built-in seed is invalid: {e}")))?;
    let running = emu::spawn(emulator.clone()).await.map_err(|e| Error::Io {
        context: "cannot start the emulator on 127.0.0.1".into(),
        source: e,
    })?;
    let before = emulator.blocked(&owner).len();

    let log = match args.log {
        Some(path) => path,
        None => fresh_journal_path(),
    };
    let network = NetworkId::Mastodon;
    let identities = network.inputs(Default::default()).map_err(Error::Usage)?;
    let parsed = crate::input::parse(
        "sample-data/blocked_accounts.csv",
        SAMPLE_BLOCKED_ACCOUNTS,
        identities,
    );
    let count = parsed.targets.len();
    // Spread each window's allowance over the window; the server's headers keep us honest.
    let rate = Rate {
        count: args.limit.max(1),
        period: args.window,
    };
    if verbosity > Verbosity::Quiet {
        println!(
            "Demo: an emulated Mastodon instance ({}) is serving on {} with @demo_owner's \
             {before} blocks ({hidden} of suspended accounts, which its block list leaves out).",
            emulator.domain(),
            running.base_url()
        );
        println!(
            "It admits {} requests per token per {} window; the run reads the block list, \
             looks up the accounts it does not hold, then unblocks: {count} accounts take about \
             {}.",
            args.limit,
            humantime::format_duration(args.window),
            crate::display::clock(rate.duration_for(count as u64 + 20))
        );
        println!(
            "Running the real pipeline on sample-data/blocked_accounts.csv; the journal is {}.\n",
            log.display()
        );
    }
    let job = Job {
        source: Source::Targets(parsed),
        skip_invalid: false,
        log: log.clone(),
        dry_run: false,
        check: false,
        rate,
        list_rate: rate,
        settings: Settings {
            concurrency: 4,
            retry_base: Duration::from_millis(200),
            ..Settings::default()
        },
        net: Net {
            network,
            api: Api::V1,
            api_base: Some(running.base_url()),
            credentials_file: None,
            timeout: Duration::from_secs(10),
            scope: Default::default(),
        },
        identities,
        resume_hint: format!(
            "bulk-unblock demo --network mastodon --log {}",
            crate::shell::shell_quote(&log.to_string_lossy())
        ),
        expect_account: None,
    };
    let credentials = Loaded {
        secrets: vec![Secret::new(token.token)],
        api_base: running.base_url(),
    };
    let exit = execute(job, verbosity, || Ok(credentials)).await?;
    let stats = emulator.stats();
    if verbosity > Verbosity::Quiet {
        println!(
            "\nThe emulator received {} requests ({} answered 429) and now holds {} of \
             @demo_owner's {before} blocks.",
            stats.requests,
            stats.rate_limited,
            emulator.blocked(&owner).len()
        );
        println!(
            "Every result is in {}; `bulk-unblock run --help` shows how to do this for real.",
            log.display()
        );
    }
    drop(running);
    Ok(exit)
}

/// A journal path no earlier demo used.
fn fresh_journal_path() -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    std::env::temp_dir().join(format!(
        "bulk-unblock-demo-{}-{stamp}.jsonl",
        std::process::id()
    ))
}
