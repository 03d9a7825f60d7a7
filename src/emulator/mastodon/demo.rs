//! The Mastodon stage of `bulk-unblock demo`: Mastodon's own export `blocked_accounts.csv` on
//! an emulated instance, with the block list read first, local and remote accounts, suspended
//! ones the list leaves out, one the instance does not know and one not blocked.

use std::collections::HashSet;
use std::time::Duration;

use super::state::State;
use super::{Config, HeaderMode, Seed, Throttle};
use crate::emulator::args::EmulatorError;
use crate::emulator::demo::{self, Stage, seed_lacks};

/// Mastodon's export of the sample account's blocks, as a user would download it.
const BLOCKED_ACCOUNTS: &[u8] = include_bytes!("../../../sample-data/blocked_accounts.csv");

/// The builtin seed's token for the demo.
const TOKEN: &str = "demo-bulk-unblock";

/// Starts the Mastodon emulator admitting `limit` requests per token (and as many block-list
/// pages) per `window`.
pub async fn stage(limit: u32, window: Duration) -> Result<Stage, EmulatorError> {
    let seed = Seed::builtin();
    let token = seed
        .token(TOKEN)
        .cloned()
        .ok_or_else(|| seed_lacks("demo token"))?;
    let owner = token
        .account
        .clone()
        .ok_or_else(|| seed_lacks("account for its demo token"))?;
    let suspended: HashSet<&str> = seed
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
    let mut config = Config::default();
    let throttle = Throttle {
        limit,
        period: window,
    };
    config.limits.per_token = throttle.clone();
    config.limits.paging = throttle;
    config.limits.headers = HeaderMode::All;
    let running = demo::serve::<State>(seed, config).await?;
    let emulator = running.emulator.clone();
    let before = emulator.blocked(&owner).len();
    Ok(Stage {
        base_url: running.base_url(),
        credentials: vec![token.token],
        input: ("blocked_accounts.csv", BLOCKED_ACCOUNTS),
        rate: (limit, window),
        list_rate: (limit, window),
        concurrency: 4,
        intro: vec![
            format!(
                "Demo: an emulated Mastodon instance ({}) is serving on {} with @demo_owner's \
                 {before} blocks ({hidden} of suspended accounts, which its block list leaves \
                 out).",
                emulator.domain(),
                running.base_url()
            ),
            format!(
                "It admits {limit} requests per token per {} window: the run reads the block \
                 list, looks up the accounts it does not hold, then unblocks.",
                humantime::format_duration(window)
            ),
        ],
        outro: Box::new(move || {
            let stats = emulator.stats();
            vec![format!(
                "The emulator received {} requests ({} answered 429) and now holds {} of \
                 @demo_owner's {before} blocks.",
                stats.requests,
                stats.rate_limited,
                emulator.blocked(&owner).len()
            )]
        }),
        servers: Box::new(running),
    })
}
