//! `bulk-unblock export`: the account's whole block list to a CSV file, resumably.

use crate::blocklist;
use crate::cli::ExportArgs;
use crate::config::Net;
use crate::display::Verbosity;
use crate::error::{Error, Exit};
use crate::retry::Retry;
use crate::session::Session;
use crate::signals::Signals;

/// `bulk-unblock export`.
pub async fn command(
    args: ExportArgs,
    verbosity: Verbosity,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Exit, Error> {
    let network = args.net.network.unwrap_or_default();
    let rate = args.rate.unwrap_or(network.defaults().list_rate);
    let net = Net::from_args(args.net, network, crate::config::scope(args.scope));
    let columns = net.inputs()?.export_columns();
    let loaded = crate::config::load_credentials(&net, &env)?;
    let signals = Signals::watch();
    let Session {
        client,
        clock,
        account,
    } = Session::open(&net, loaded, Retry::DEFAULT, &signals.cancel).await?;
    let count = blocklist::to_file(
        &client,
        &account.user_id,
        &clock,
        &args.out,
        rate,
        columns,
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
