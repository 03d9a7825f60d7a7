//! `bulk-unblock demo`: the whole job against the built-in emulator, in about a minute.
//!
//! It starts the network's emulator in-process on its sample account ([`emulator::demo`]: a
//! short rate window with honest rate headers so the window state shows, and the faults a real
//! run meets), then runs the real pipeline — the same journal, pacing, executor, writer and
//! progress display as `run` — on the sample file a user of that network would have: X's
//! data-archive `block.js`, Mastodon's `blocked_accounts.csv`, a Bluesky list. Nothing leaves
//! this machine.
//!
//! [`emulator::demo`]: crate::emulator::demo

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::DemoArgs;
use crate::config::{Loaded, Net};
use crate::display::Verbosity;
use crate::emulator::args::Network as Emulated;
use crate::error::{Error, Exit};
use crate::executor::Settings;
use crate::job::{Job, Source, execute};
use crate::network::{Api, NetworkId};
use crate::pace::Rate;
use crate::secret::Secret;

/// Runs the demo of the network asked for.
pub async fn demo(args: DemoArgs, verbosity: Verbosity) -> Result<Exit, Error> {
    let network = args.network;
    let emulated = <Emulated as clap::ValueEnum>::from_str(network.name(), false)
        .map_err(|_| Error::Usage(format!("there is no emulator of {network} to show")))?;
    let stage = crate::emulator::demo::stage(emulated, args.limit, args.window)
        .await
        .map_err(|e| Error::Emulator(Box::new(e)))?;
    let log = args.log.unwrap_or_else(fresh_journal_path);
    let identities = network.inputs(Default::default()).map_err(Error::Usage)?;
    let (name, bytes) = stage.input;
    let file = format!("sample-data/{name}");
    let parsed = crate::input::parse(&file, bytes, identities);
    let count = parsed.targets.len() as u64;
    // Spread each window's allowance over the window; the server's headers keep us honest.
    let rate = |(count, period): (u32, Duration)| Rate {
        count: count.max(1),
        period,
    };
    if verbosity > Verbosity::Quiet {
        for line in &stage.intro {
            println!("{line}");
        }
        println!(
            "Running the real pipeline on {file} ({count} targets, about {} at that pace); the \
             journal is {}.\n",
            crate::display::clock(rate(stage.rate).duration_for(count)),
            log.display()
        );
    }
    let network_flag = if network == NetworkId::default() {
        String::new()
    } else {
        format!(" --network {network}")
    };
    let job = Job {
        source: Source::Targets(parsed),
        skip_invalid: false,
        log: log.clone(),
        dry_run: false,
        check: false,
        rate: rate(stage.rate),
        list_rate: rate(stage.list_rate),
        settings: Settings {
            concurrency: stage.concurrency,
            retry_base: Duration::from_millis(200),
            ..Settings::default()
        },
        net: Net {
            network,
            api: Api::V1,
            api_base: Some(stage.base_url.clone()),
            credentials_file: None,
            timeout: Duration::from_secs(10),
            scope: Default::default(),
        },
        identities,
        resume_hint: format!(
            "bulk-unblock demo{network_flag} --log {}",
            crate::shell::shell_quote(&log.to_string_lossy())
        ),
        expect_account: None,
    };
    let credentials = Loaded {
        secrets: stage.credentials.iter().cloned().map(Secret::new).collect(),
        api_base: stage.base_url.clone(),
    };
    let exit = execute(job, verbosity, || Ok(credentials)).await?;
    if verbosity > Verbosity::Quiet {
        println!();
        for line in (stage.outro)() {
            println!("{line}");
        }
        println!(
            "Every result is in {}; `bulk-unblock run --help` and the README show how to do \
             this for real.",
            log.display()
        );
    }
    drop(stage);
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
