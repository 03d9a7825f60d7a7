//! The Bluesky stage of `bulk-unblock demo`: the sample list (DIDs, handles, profile links, a
//! list link) through an entryway and a PDS, with what a real run meets made to happen within
//! seconds: an access token that expires, and a record deleted behind the tool's back so that
//! a batch fails as a whole.

use std::collections::HashSet;
use std::time::Duration;

use super::state::State;
use super::{BLOCK, Budget, Config, Endpoint, LISTBLOCK, Seed};
use crate::emulator::args::EmulatorError;
use crate::emulator::demo::{self, Stage, seed_lacks};

/// The Bluesky sample list, in every shape a Bluesky list takes.
const SAMPLE: &[u8] = include_bytes!("../../../sample-data/bluesky-blocked.txt");

/// How long the demo's access tokens live: the run outlives one.
const ACCESS_TTL: Duration = Duration::from_secs(3);

/// Starts the Bluesky emulator admitting `limit` write points (at least one full batch) per
/// `window` (at least a second).
pub async fn stage(limit: u32, window: Duration) -> Result<Stage, EmulatorError> {
    let seed = Seed::builtin();
    let account = seed
        .accounts
        .first()
        .cloned()
        .ok_or_else(|| seed_lacks("account"))?;
    let handle = seed
        .user(&account.did)
        .map(|u| u.handle.clone())
        .ok_or_else(|| seed_lacks("user for its account"))?;
    let password = account
        .app_passwords
        .first()
        .map(|p| p.password.clone())
        .ok_or_else(|| seed_lacks("app password for its account"))?;
    let mut config = Config::default();
    // A window admits at least one full batch, as 5,000 points an hour admit 25.
    let points = limit.max(config.replies.max_writes as u32);
    let window = Duration::from_secs(window.as_secs().max(1));
    config.limits.hourly = Budget::new(points, window.as_secs());
    config.sessions.access_ttl = ACCESS_TTL;
    config.sessions.login_delay = Duration::from_millis(50);
    config.stale.at_write = Some(1);
    config.stale.count = 1;
    config.faults.latency_ms = 100;
    config.faults.jitter_ms = 100;
    let running = demo::serve::<State>(seed, config).await?;
    let emulator = running.emulator.clone();
    let did = account.did;
    let blocks = emulator.records(&did, BLOCK).len();
    let subjects = emulator
        .blocks_of(&did)
        .into_iter()
        .collect::<HashSet<_>>()
        .len();
    let lists = emulator.records(&did, LISTBLOCK).len();
    Ok(Stage {
        base_url: running.base_url(),
        credentials: vec![handle.clone(), password],
        input: ("bluesky-blocked.txt", SAMPLE),
        rate: (points, window),
        list_rate: (1, Duration::from_secs(1)),
        concurrency: 2,
        intro: vec![
            format!(
                "Demo: an emulator of Bluesky is serving an entryway on {} (where the tool logs \
                 in) and a PDS on {} (where @{handle}'s repo lives).",
                running.base_url(),
                emulator.pds_url().unwrap_or_else(|| "?".into())
            ),
            format!(
                "@{handle} holds {blocks} block records for {subjects} accounts (some blocked \
                 several times over) and {lists} moderation-list subscriptions."
            ),
            format!(
                "It admits {points} write points per {} window (a delete costs 1); access \
                 tokens live {}, so the run meets an expired one and refreshes it; and it \
                 deletes one record behind the tool's back as the first batch arrives, so that \
                 batch fails as a whole and is sent again one target at a time.",
                humantime::format_duration(window),
                humantime::format_duration(ACCESS_TTL)
            ),
        ],
        outro: Box::new(move || {
            let requests = emulator.requests();
            let count =
                |endpoint: Endpoint| requests.iter().filter(|r| r.endpoint == endpoint).count();
            let status = |status: u16| requests.iter().filter(|r| r.status == status).count();
            vec![
                format!(
                    "The emulator received {} requests: {} createSession, {} refreshSession, {} \
                     listRecords, {} getProfiles, {} applyWrites and {} deleteRecord ({} \
                     answered 500, {} answered 429).",
                    requests.len(),
                    count(Endpoint::CreateSession),
                    count(Endpoint::RefreshSession),
                    count(Endpoint::ListRecords),
                    count(Endpoint::GetProfiles),
                    count(Endpoint::ApplyWrites),
                    count(Endpoint::DeleteRecord),
                    status(500),
                    status(429),
                ),
                format!(
                    "@{handle} now holds {} of its {blocks} block records and {} of its {lists} \
                     moderation-list subscriptions.",
                    emulator.records(&did, BLOCK).len(),
                    emulator.records(&did, LISTBLOCK).len()
                ),
            ]
        }),
        servers: Box::new(running),
    })
}
