//! The X stage of `bulk-unblock demo`: the sample account's data-archive `block.js` through
//! API v1.1, with `blocks/destroy` limited to a short window announced by honest headers.

use std::time::Duration;

use super::config::{Config, HeaderMode};
use super::seed::Seed;
use super::state::State;
use crate::emulator::args::EmulatorError;
use crate::emulator::demo::{self, Stage, seed_lacks};

/// The sample account's data-archive file, as a user would download it.
const BLOCK_JS: &[u8] = include_bytes!("../../../sample-data/block.js");

/// Starts the X emulator admitting `limit` unblocks per `window`.
pub async fn stage(limit: u32, window: Duration) -> Result<Stage, EmulatorError> {
    let seed = Seed::builtin();
    let account = seed
        .accounts
        .first()
        .cloned()
        .ok_or_else(|| seed_lacks("account"))?;
    let app = seed
        .apps
        .iter()
        .find(|a| a.consumer_key == account.consumer_key)
        .cloned()
        .ok_or_else(|| seed_lacks("app for its account"))?;
    let name = seed
        .users
        .iter()
        .find(|u| u.id == account.user_id)
        .map(|u| u.screen_name.clone())
        .ok_or_else(|| seed_lacks("user for its account"))?;
    let mut config = Config::default();
    config.limits.window = window;
    config.limits.destroy.limit = limit;
    config.limits.destroy.headers = HeaderMode::Headers;
    let running = demo::serve::<State>(seed, config).await?;
    let emulator = running.emulator.clone();
    let user = account.user_id;
    let before = emulator.blocked(user).len();
    Ok(Stage {
        base_url: running.base_url(),
        credentials: vec![
            app.consumer_key,
            app.consumer_secret,
            account.access_token,
            account.access_token_secret,
        ],
        input: ("block.js", BLOCK_JS),
        rate: (limit, window),
        list_rate: (limit, window),
        concurrency: 4,
        intro: vec![
            format!(
                "Demo: an emulator of the X API is serving on {} with @{name}'s {before} blocks.",
                running.base_url()
            ),
            format!(
                "It admits {limit} unblocks per {} window and says so in its rate headers.",
                humantime::format_duration(window)
            ),
        ],
        outro: Box::new(move || {
            let stats = emulator.stats();
            vec![format!(
                "The emulator received {} requests ({} answered 429) and now holds {} of \
                 @{name}'s {before} blocks.",
                stats.requests,
                stats.rate_limited,
                emulator.blocked(user).len()
            )]
        }),
        servers: Box::new(running),
    })
}
