//! `bulk-unblock export`: the account's whole block list to a CSV file, resumably.

use std::sync::Arc;

use crate::blocklist;
use crate::cli::ExportArgs;
use crate::clock::ServerClock;
use crate::display::Verbosity;
use crate::error::{Error, Exit};
use crate::retry::Retry;
use crate::signals::Signals;

/// `bulk-unblock export`.
pub async fn command(
    args: ExportArgs,
    verbosity: Verbosity,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Exit, Error> {
    let credentials = crate::config::load_credentials(args.net.credentials.as_deref(), &env)?;
    let clock = Arc::new(ServerClock::new());
    let network = crate::network::Client::new(
        args.net.api,
        crate::network::x::XSettings {
            api_base: args.net.api_base.clone(),
            credentials,
            timeout: args.net.timeout,
        },
        clock.clone(),
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    let signals = Signals::watch();
    let account = crate::session::verify(&network, &clock, Retry::DEFAULT, &signals.cancel).await?;
    let count = blocklist::to_file(
        &network,
        &account.user_id,
        &clock,
        &args.out,
        args.rate,
        args.with_names,
        &signals.cancel,
        verbosity,
    )
    .await?;
    if verbosity > Verbosity::Quiet {
        println!(
            "Exported the {count} accounts @{} blocks to {}.",
            account.screen_name.as_deref().unwrap_or("?"),
            args.out.display()
        );
    }
    Ok(Exit::Success)
}
