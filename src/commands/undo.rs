//! `bulk-unblock undo`: block again every account a journal unblocked.
//!
//! A clean-up that went too far can be rolled back through the same pipeline as `run` — pacing,
//! a journal of its own (so the undo resumes too), dry-run — with the action reversed. Accounts
//! are blocked again by user ID, taken from the journal's records.

use std::collections::HashMap;

use crate::cli::UndoArgs;
use crate::config::Net;
use crate::display::Verbosity;
use crate::error::{Error, Exit};
use crate::executor::Settings;
use crate::input::Parsed;
use crate::job::{Job, Source, execute};
use crate::journal::{self, Entry};
use crate::outcome::{Action, Outcome};
use crate::shell::resume_command;
use crate::target::{Space, Target, TargetKey};

/// The subjects a journal's latest records say were unblocked, in journal order, by account
/// ID where the record knows it (a name may have changed hands since). Pure.
pub fn unblocked(bytes: &[u8]) -> Vec<Target> {
    let mut ids = None;
    let mut latest: HashMap<TargetKey, (usize, Outcome, Target)> = HashMap::new();
    for (index, (_, entry)) in journal::records(bytes).enumerate() {
        let (record, listed) = match entry {
            Ok(Entry::Header(header)) => {
                ids = Some(header.network.identities());
                continue;
            }
            Ok(Entry::Record { record, target }) => (record, target),
            Err(_) => continue,
        };
        let by_id = record
            .user_id
            .as_deref()
            .filter(|_| listed.space() != Space::Other)
            .and_then(|id| ids?.account(id))
            .unwrap_or_else(|| listed.clone());
        let slot = latest
            .entry(listed.key())
            .or_insert((index, record.outcome, by_id.clone()));
        slot.1 = record.outcome;
        slot.2 = by_id;
    }
    let mut targets: Vec<(usize, Target)> = latest
        .into_values()
        .filter(|(_, outcome, _)| *outcome == Outcome::Unblocked)
        .map(|(index, _, target)| (index, target))
        .collect();
    targets.sort_by_key(|(index, _)| *index);
    targets.into_iter().map(|(_, t)| t).collect()
}

/// `bulk-unblock undo`.
pub async fn command(
    args: UndoArgs,
    verbosity: Verbosity,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Exit, Error> {
    if args.journal == args.log {
        return Err(Error::Usage(
            "the undo needs a journal of its own: --log must name another file than JOURNAL".into(),
        ));
    }
    let bytes = std::fs::read(&args.journal).map_err(|e| Error::Io {
        context: format!("cannot read the journal `{}`", args.journal.display()),
        source: e,
    })?;
    let replay = journal::replay(&bytes);
    replay.check_format(&args.journal)?;
    let header = replay.header.clone().ok_or_else(|| {
        Error::Input(format!(
            "`{}` records nothing to undo",
            args.journal.display()
        ))
    })?;
    if header.action != Action::Unblock {
        return Err(Error::Input(format!(
            "`{}` is not the journal of an unblocking run",
            args.journal.display()
        )));
    }
    let network = header.network;
    if let Some(asked) = args.net.network.filter(|n| *n != network) {
        return Err(Error::Usage(format!(
            "`{}` is the journal of a {network} run, not {asked}; leave --network out or make \
             it match",
            args.journal.display()
        )));
    }
    let targets = unblocked(&bytes);
    if targets.is_empty() {
        return Err(Error::Input(format!(
            "`{}` records no unblocked account; nothing to undo",
            args.journal.display()
        )));
    }
    let job = Job {
        source: Source::Targets(Parsed {
            targets,
            ..Parsed::default()
        }),
        skip_invalid: false,
        log: args.log,
        dry_run: args.dry_run,
        check: false,
        rate: args.rate.unwrap_or(network.defaults().rate),
        list_rate: network.defaults().list_rate,
        settings: Settings {
            action: Action::Block,
            concurrency: usize::from(args.concurrency),
            max_attempts: args.max_attempts,
            ..Settings::default()
        },
        identities: network.identities(),
        net: Net::from_args(args.net, network, Default::default()),
        resume_hint: resume_command(),
        expect_account: Some(header.account_id),
    };
    let net = job.net.clone();
    execute(job, verbosity, || {
        crate::config::load_credentials(&net, &env)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};

    #[test]
    fn only_the_latest_unblocked_records_are_reversed_by_id() {
        let journal = concat!(
            r#"{"journal":"bulk-unblock","version":1,"account_id":"9","action":"unblock","created_at":"2026-01-01T00:00:00Z"}"#,
            "\n",
            r#"{"target":"Ann","by":"screen_name","outcome":"unblocked","user_id":"22","attempts":1,"at":"2026-01-01T00:00:01Z"}"#,
            "\n",
            r#"{"target":"5","by":"user_id","outcome":"failed","attempts":8,"at":"2026-01-01T00:00:02Z"}"#,
            "\n",
            r#"{"target":"6","by":"user_id","outcome":"not_found","attempts":1,"at":"2026-01-01T00:00:03Z"}"#,
            "\n",
            r#"{"target":"5","by":"user_id","outcome":"unblocked","attempts":1,"at":"2026-01-01T00:00:04Z"}"#,
            "\n",
            r#"{"target":"bob","by":"screen_name","outcome":"unblocked","attempts":1,"at":"2026-01-01T00:00:05Z"}"#,
            "\n",
        );
        assert_eq!(
            unblocked(journal.as_bytes()),
            vec![id(22), id(5), name("bob")]
        );
    }
}
