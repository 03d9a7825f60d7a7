//! `bulk-unblock demo`: the whole job against the built-in emulator, in about a minute.
//!
//! It starts the network's emulator in-process (seeded from `sample-data/`, with a short rate
//! window and honest rate headers so the window state shows), then runs the real pipeline —
//! the same journal, pacing, executor, writer and progress display as `run` — on the sample
//! account's own export: X's data-archive `block.js`, Mastodon's `blocked_accounts.csv`.
//! Nothing leaves this machine.

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

/// Runs the demo of the network `args` names.
pub async fn demo(args: DemoArgs, verbosity: Verbosity) -> Result<Exit, Error> {
    match args.network {
        NetworkId::X => demo_x(args, verbosity).await,
        NetworkId::Mastodon => demo_mastodon(args, verbosity).await,
    }
}

/// The X demo: `block.js` through API v1.1.
async fn demo_x(args: DemoArgs, verbosity: Verbosity) -> Result<Exit, Error> {
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
        .map_err(|e| Error::Emulator(Box::new(e)))?;
    let emulator = Emulator::new(seed, config).map_err(|e| Error::Emulator(Box::new(e)))?;
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

/// The Mastodon demo: `blocked_accounts.csv` on an emulated instance whose token admits
/// `--limit` requests per `--window` (the block list read first, its local and remote accounts,
/// suspended ones hidden from the list, one the instance does not know, one not blocked).
async fn demo_mastodon(args: DemoArgs, verbosity: Verbosity) -> Result<Exit, Error> {
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
