//! The `run` command, end to end: input → plan → credentials check → executor → writer → summary.
//!
//! This is glue: each step lives in its own module, and this one decides the order, what is
//! printed, and the exit code. Nothing is sent until the inputs, the journal and the credentials
//! have all been checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::blocklist;
use crate::clock::ServerClock;
use crate::config::{Loaded, Net};
use crate::display::{self, Progress, Verbosity};
use crate::error::{Error, Exit};
use crate::executor::Settings;
use crate::input::Identities;
use crate::input::{InvalidLine, Parsed};
use crate::journal::{self, FORMAT_NAME, FORMAT_VERSION, Header, Journal};
use crate::network::Network;
use crate::outcome::{Action, Outcome};
use crate::pace::{Pacer, Rate};
use crate::plan::{self, Plan};
use crate::retry::Retry;
use crate::session::Session;
use crate::signals::Signals;
use crate::writer::{self, Tally};

/// Invalid lines printed before the rest are only counted.
const SHOWN_INVALID: usize = 20;

/// Where the targets come from.
pub enum Source {
    /// Read already (from files, stdin or built-in sample data).
    Targets(Parsed),
    /// Everything the account blocks (`run --all`): the backup file, exported first if missing.
    AllBlocks {
        /// The backup of the block list.
        backup: PathBuf,
    },
}

/// A job ready to plan: where targets come from, the journal, how to reach the network.
pub struct Job {
    /// The targets.
    pub source: Source,
    /// Go on despite unusable lines.
    pub skip_invalid: bool,
    /// The journal path.
    pub log: PathBuf,
    /// Preview only.
    pub dry_run: bool,
    /// With `dry_run`: compare the targets with the server's block list (read-only).
    pub check: bool,
    /// The local pace of the action.
    pub rate: Rate,
    /// The local pace of block-list pages (`--all`, `--check`).
    pub list_rate: Rate,
    /// Executor settings (including the action).
    pub settings: Settings,
    /// How to reach the network.
    pub net: Net,
    /// How the network's targets are written (the inputs were read by these too).
    pub identities: &'static dyn Identities,
    /// The command that resumes this job, shown when it stops early.
    pub resume_hint: String,
    /// The account the credentials must act for (an undo acts for the account it reverses).
    pub expect_account: Option<String>,
}

/// `JOURNAL.backup.csv`: where `run --all` keeps the block list it works from.
pub fn default_backup(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".backup.csv");
    PathBuf::from(name)
}

/// Checks the job, previews it or runs it. `credentials` is called only when the network is
/// needed: a real run, `--check`, or `--all` without a backup yet.
///
/// A real run concludes nothing before the credentials are checked and the journal has proved
/// writable for their account: even "nothing to do" is only said to the journal's own account.
pub async fn execute(
    job: Job,
    verbosity: Verbosity,
    credentials: impl FnOnce() -> Result<Loaded, Error>,
) -> Result<Exit, Error> {
    // Take the targets out of the job: a million of them are not worth copying.
    let mut job = job;
    let source = std::mem::replace(&mut job.source, Source::Targets(Parsed::default()));
    let (parsed, backup) = match source {
        Source::Targets(parsed) => (Some(parsed), None),
        Source::AllBlocks { backup } if backup.exists() => {
            if verbosity > Verbosity::Quiet {
                display::eprint_line(&format!(
                    "Using the block list exported earlier to {}.",
                    backup.display()
                ));
            }
            (Some(read_backup(&backup, job.identities)?), Some(backup))
        }
        Source::AllBlocks { backup } => (None, Some(backup)),
    };
    // An account that blocks nobody is not an input error: its list is simply empty.
    let all = backup.is_some();
    let mut invalid = Vec::new();
    let targets = match parsed {
        Some(parsed) => {
            check_inputs(&parsed, job.skip_invalid, all)?;
            invalid = parsed.invalid;
            Some(parsed.targets)
        }
        None => None,
    };
    if job.dry_run
        && !job.check
        && let Some(targets) = targets
    {
        let replay = journal::read(&job.log)?;
        replay.check_network(&job.log, job.net.network)?;
        let plan = plan::plan(targets, &replay);
        print_dry_run(&plan, &invalid, &job.rate, &job.log);
        return Ok(Exit::Success);
    }

    // Everything past this point talks to the server.
    let loaded = credentials()?;
    let (journal, replay) = if job.dry_run {
        (None, journal::read(&job.log)?)
    } else {
        let (journal, replay) = Journal::open(&job.log)?;
        (Some(journal), replay)
    };
    replay.check_network(&job.log, job.net.network)?;
    // Watch for Ctrl-C from the first request on, so a stop during the check exits 130 too.
    let signals = Signals::watch();
    let retry = Retry {
        max_attempts: job.settings.max_attempts,
        base: job.settings.retry_base,
        cap: job.settings.retry_cap,
    };
    let Session {
        client: network,
        clock,
        account,
    } = Session::open(&job.net, loaded, retry, &signals.cancel).await?;
    if let Some(expected) = job
        .expect_account
        .as_deref()
        .filter(|e| *e != account.user_id)
    {
        return Err(Error::Usage(format!(
            "the journal being undone belongs to account {expected}, but the credentials are \
             for account {}; nothing was sent",
            account.user_id
        )));
    }
    let mut journal = journal;
    if let Some(journal) = journal.as_mut() {
        replay.check_account(&job.log, &account.user_id, job.settings.action)?;
        // Written and synced now, before anything mutating and before the export of `--all`
        // (which can take hours): a journal that cannot be written stops the run here.
        if replay.header.is_none() {
            journal.write_header(&Header {
                journal: FORMAT_NAME.to_owned(),
                version: FORMAT_VERSION,
                network: job.net.network,
                account_id: account.user_id.clone(),
                account_screen_name: account.screen_name.clone(),
                action: job.settings.action,
                created_at: writer::rfc3339(std::time::SystemTime::now()),
            })?;
        }
    }

    let plan = match (targets, &backup) {
        (Some(targets), _) => plan::plan(targets, &replay),
        (None, Some(backup)) => {
            let listed = if job.dry_run {
                // A dry run writes nothing: the list is read into memory only.
                let ids = blocklist::read_list(
                    &network,
                    &clock,
                    job.list_rate,
                    &signals.cancel,
                    verbosity,
                )
                .await?;
                ids.iter()
                    .filter_map(|id| job.identities.parse_token(id).ok())
                    .collect()
            } else {
                export_backup(
                    &network,
                    &account.user_id,
                    &clock,
                    backup,
                    job.identities.export_columns(),
                    job.list_rate,
                    &signals.cancel,
                    verbosity,
                )
                .await?;
                let fresh = read_backup(backup, job.identities)?;
                check_inputs(&fresh, job.skip_invalid, true)?;
                invalid = fresh.invalid;
                if fresh.targets.is_empty() {
                    // Nothing to back up: a rerun reads the list again rather than trusting
                    // an empty file.
                    std::fs::remove_file(backup).map_err(|e| Error::Io {
                        context: format!("cannot remove `{}`", backup.display()),
                        source: e,
                    })?;
                }
                fresh.targets
            };
            if listed.is_empty() {
                if verbosity > Verbosity::Quiet {
                    println!(
                        "Nothing to do: @{} ({}) blocks nobody.",
                        account.screen_name.as_deref().unwrap_or("?"),
                        account.user_id
                    );
                }
                return Ok(Exit::Success);
            }
            plan::plan(listed, &replay)
        }
        (None, None) => plan::plan(Vec::new(), &replay),
    };

    let Some(journal) = journal else {
        if job.check {
            let pages = Pacer::new(job.list_rate, clock.clone());
            let lookups = blocklist::lookup_pacer(job.net.network, job.list_rate, &clock);
            crate::check::check(
                &network,
                &pages,
                &lookups,
                &plan.todo,
                &signals.cancel,
                verbosity,
            )
            .await?;
        }
        print_dry_run(&plan, &invalid, &job.rate, &job.log);
        return Ok(Exit::Success);
    };
    if plan.todo.is_empty() {
        return Ok(nothing_to_do(&plan, &job.log, backup.as_deref(), verbosity));
    }
    if verbosity > Verbosity::Quiet {
        display::eprint_line(&format!(
            "Acting as @{} ({}); {} to {}, {} already done; pace {}, {} in flight at most.",
            account.screen_name.as_deref().unwrap_or("?"),
            account.user_id,
            plan.todo.len(),
            verb(job.settings.action),
            plan.done,
            job.rate,
            job.settings.concurrency
        ));
    }
    // A request of several targets takes their cost in cells at once: the bucket holds that.
    let burst = network.batch(job.settings.action).cost;
    let pacer = Arc::new(Pacer::with_burst(job.rate, clock.clone(), burst));
    prepare(
        &network,
        job.settings.action,
        &plan.todo,
        job.list_rate,
        &pacer,
        &clock,
        &signals.cancel,
        verbosity,
    )
    .await?;
    let mut plan = plan;
    let todo = std::mem::take(&mut plan.todo);
    let todo_len = todo.len() as u64;
    let tally = drive(
        Arc::new(network),
        pacer,
        journal,
        todo,
        job.settings.clone(),
        verbosity,
        &signals,
    )
    .await?;
    let interrupted = signals.interrupted();
    Ok(conclude(
        &job,
        &plan,
        todo_len,
        &invalid,
        &tally,
        interrupted,
        verbosity,
    ))
}

/// Says that the journal already records every target as done (or that the list is empty).
fn nothing_to_do(plan: &Plan, log: &Path, backup: Option<&Path>, verbosity: Verbosity) -> Exit {
    if verbosity > Verbosity::Quiet {
        match backup {
            Some(backup) if plan.unique == 0 => println!(
                "Nothing to do: the block list in {} is empty.",
                backup.display()
            ),
            _ => println!(
                "Nothing to do: all {} targets are already done according to {}.",
                plan.unique,
                log.display()
            ),
        }
    }
    Exit::Success
}

/// The verb of an action, for messages.
fn verb(action: Action) -> &'static str {
    match action {
        Action::Unblock => "unblock",
        Action::Block => "block again",
    }
}

/// Reads what the network must know before acting on `todo`: the block list (read into memory,
/// paced as any list), then the accounts behind the targets it cannot act on yet (looked up in
/// batches, paced by the lookups' own limit, or by `actions`, the action's pacer, where the
/// lookups count against the action's limit). The client keeps what the answers told.
#[allow(clippy::too_many_arguments)]
async fn prepare<N: Network>(
    network: &N,
    action: Action,
    todo: &[crate::target::Target],
    list_rate: Rate,
    actions: &Pacer,
    clock: &Arc<ServerClock>,
    cancel: &CancellationToken,
    verbosity: Verbosity,
) -> Result<(), Error> {
    if network.needs_list(action, todo) {
        let pages = Pacer::new(list_rate, clock.clone());
        let mut list = blocklist::Partial::in_memory();
        blocklist::fetch(network, &pages, &mut list, cancel, verbosity).await?;
    }
    let unknown = network.to_resolve(action, todo);
    if !unknown.is_empty() {
        let own;
        let lookups = if network.network().defaults().lookups_share_limit {
            actions
        } else {
            own = blocklist::lookup_pacer(network.network(), list_rate, clock);
            &own
        };
        crate::resolve::look_up(network, lookups, &unknown, cancel, verbosity).await?;
    }
    Ok(())
}

/// Reads a backup written by `export` (a CSV with `user_id`).
fn read_backup(backup: &Path, identities: &dyn Identities) -> Result<Parsed, Error> {
    Ok(crate::input::read(&[backup.to_path_buf()], identities)?)
}

/// Exports the block list (with names) to `backup`, resuming an interrupted export.
#[allow(clippy::too_many_arguments)]
async fn export_backup<N: Network>(
    network: &N,
    account_id: &str,
    clock: &Arc<ServerClock>,
    backup: &Path,
    columns: [&str; 2],
    list_rate: Rate,
    cancel: &CancellationToken,
    verbosity: Verbosity,
) -> Result<(), Error> {
    if verbosity > Verbosity::Quiet {
        display::eprint_line(&format!(
            "Exporting the block list to {} first (a backup, and the list to work from).",
            backup.display()
        ));
    }
    blocklist::to_file(
        network, account_id, clock, backup, list_rate, columns, true, cancel, verbosity,
    )
    .await
    .map(|_| ())
}

/// Runs the executor and the writer together.
pub async fn drive<N: Network>(
    network: Arc<N>,
    pacer: Arc<Pacer>,
    journal: Journal,
    todo: Vec<crate::target::Target>,
    settings: Settings,
    verbosity: Verbosity,
    signals: &Signals,
) -> Result<Tally, Error> {
    let cancel = signals.cancel.child_token();
    let progress = Progress::new(todo.len() as u64, verbosity, "done");
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(writer::write(
        rx,
        journal,
        pacer.clone(),
        writer::Stop {
            cancel: cancel.clone(),
            interrupt: signals.cancel.clone(),
        },
        progress,
    ));
    crate::executor::execute(network, pacer, todo, settings, cancel, tx).await;
    // The writer panicked: the records it wrote are in the file; the command stops with that.
    let (tally, journal) = writer
        .await
        .map_err(|source| Error::WriterStopped { source })?;
    drop(journal);
    Ok(tally)
}

/// Refuses unusable input (unless skipped) and empty input (unless it is the account's whole
/// block list, which may well be empty).
fn check_inputs(parsed: &Parsed, skip_invalid: bool, whole_list: bool) -> Result<(), Error> {
    if !parsed.invalid.is_empty() && !skip_invalid {
        // The count leads so that every `FILE:LINE: reason` starts a line of its own (the
        // first would otherwise follow `error: `, and editors and grep would miss it).
        return Err(Error::Input(format!(
            "{} unusable input line{}:\n{}\nNothing was sent. Fix them, or pass --skip-invalid to \
             go on without them.",
            parsed.invalid.len(),
            if parsed.invalid.len() == 1 { "" } else { "s" },
            list_invalid(&parsed.invalid)
        )));
    }
    if parsed.targets.is_empty() && !whole_list {
        return Err(Error::Input(
            "the inputs hold no targets; nothing was sent".to_owned(),
        ));
    }
    Ok(())
}

/// `FILE:LINE: reason` for the first 20, then a count.
fn list_invalid(invalid: &[InvalidLine]) -> String {
    let mut lines: Vec<String> = invalid
        .iter()
        .take(SHOWN_INVALID)
        .map(ToString::to_string)
        .collect();
    if invalid.len() > SHOWN_INVALID {
        lines.push(format!("… and {} more", invalid.len() - SHOWN_INVALID));
    }
    lines.join("\n")
}

/// Warns of the unusable lines `--skip-invalid` passed over, as `FILE:LINE: reason` (the first
/// 20, then a count), so they can be fixed and listed again.
fn warn_invalid(invalid: &[InvalidLine]) {
    if invalid.is_empty() {
        return;
    }
    eprintln!(
        "warning: {} unusable input line{} skipped:\n{}",
        invalid.len(),
        if invalid.len() == 1 { "" } else { "s" },
        list_invalid(invalid)
    );
}

/// The preview of a dry run, with the unusable lines skipped (the preview is what was asked
/// for, so `-q` shows it too).
fn print_dry_run(plan: &Plan, invalid: &[InvalidLine], rate: &Rate, log: &Path) {
    warn_invalid(invalid);
    let invalid = invalid.len();
    let targets_read = plan.unique + plan.duplicates;
    println!("Dry run: nothing is sent and the journal is not written.");
    println!("  targets read:            {targets_read}");
    println!("  duplicates dropped:      {}", plan.duplicates);
    println!("  invalid lines skipped:   {invalid}");
    println!(
        "  already done (journal):  {} ({})",
        plan.done,
        log.display()
    );
    println!(
        "  left to do:              {}{}",
        plan.todo.len(),
        if plan.retry > 0 {
            format!(" (including {} that failed before)", plan.retry)
        } else {
            String::new()
        }
    );
    println!(
        "  estimated duration:      {} at {} (server limits may slow it further)",
        display::clock(rate.duration_for(plan.todo.len() as u64)),
        rate
    );
}

/// Prints the summary and decides the exit code. `todo` is how many targets the run set out to do.
fn conclude(
    job: &Job,
    plan: &Plan,
    todo: u64,
    invalid: &[InvalidLine],
    tally: &Tally,
    interrupted: bool,
    verbosity: Verbosity,
) -> Exit {
    let c = &tally.counts;
    if verbosity > Verbosity::Quiet {
        warn_invalid(invalid);
    }
    let invalid = invalid.len();
    if verbosity > Verbosity::Quiet {
        println!("{}", c.outcome_line());
        println!(
            "already done before: {} · duplicates dropped: {} · invalid lines skipped: {}",
            plan.done, plan.duplicates, invalid
        );
        println!(
            "requests sent: {} · 429s: {} · retries: {} · waited on the rate limit: {}",
            c.sent,
            c.rate_limited,
            c.retries,
            display::clock(tally.pace.waited)
        );
        println!(
            "elapsed: {} · journal: {}",
            display::clock(tally.elapsed),
            job.log.display()
        );
    }
    let not_started = todo.saturating_sub(c.finished());
    if let Some(error) = &tally.journal_error {
        eprintln!("error: the journal could not be written: {error}");
        if !tally.unrecorded.is_empty() {
            eprintln!(
                "These targets were acted on but are not in the journal (the next run will \
                 send them again, which is harmless):"
            );
            for f in &tally.unrecorded {
                eprintln!("  {} {}", f.target, f.outcome);
            }
        }
        // Work was sent, so this is not a plain journal error: say how to finish it.
        eprintln!(
            "{not_started} targets were not started; once the journal can be written again, \
             resume with:\n  {}",
            job.resume_hint
        );
        return Exit::Usage;
    }
    if let Some(r) = &tally.rejected {
        eprintln!("error: mid-run, {r}");
        eprintln!(
            "{not_started} targets were not done; once that is fixed, resume with:\n  {}",
            job.resume_hint
        );
        return Exit::Credentials;
    }
    if interrupted {
        eprintln!(
            "Interrupted: {not_started} targets not done yet. Resume with:\n  {}",
            job.resume_hint
        );
        return Exit::Interrupted;
    }
    let failed = c.get(Outcome::Failed);
    if failed > 0 || not_started > 0 {
        eprintln!(
            "{failed} targets failed; rerun the same command to retry them:\n  {}",
            job.resume_hint
        );
        return Exit::SomeFailed;
    }
    Exit::Success
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_lines_are_listed_up_to_twenty() {
        let invalid: Vec<InvalidLine> = (1..=25)
            .map(|line| InvalidLine {
                source: "in.txt".into(),
                line,
                reason: "bad".into(),
            })
            .collect();
        let text = list_invalid(&invalid);
        assert!(text.starts_with("in.txt:1: bad\nin.txt:2: bad"));
        assert!(text.contains("in.txt:20: bad\n… and 5 more"));
        assert!(!text.contains("in.txt:21"));
    }

    /// A network whose every target needs a lookup, recording when each lookup was sent.
    struct Lookups {
        network: crate::network::NetworkId,
        sent: std::sync::Mutex<Vec<tokio::time::Instant>>,
    }

    impl Network for Lookups {
        fn network(&self) -> crate::network::NetworkId {
            self.network
        }

        fn lookup_batch(&self) -> usize {
            1
        }

        async fn verify(
            &self,
        ) -> crate::reply::Reply<Result<crate::network::Account, crate::reply::Verdict>> {
            unreachable!("prepare does not check the credentials")
        }

        async fn act(
            &self,
            _: Action,
            _: &[crate::target::Target],
        ) -> crate::reply::Reply<crate::network::Acted> {
            unreachable!("prepare acts on nothing")
        }

        async fn blocked_page(
            &self,
            _: Option<&str>,
        ) -> crate::reply::Reply<Result<crate::network::BlockPage, crate::reply::Verdict>> {
            unreachable!("prepare reads no list here")
        }

        async fn lookup(
            &self,
            _: &[crate::target::Target],
        ) -> crate::reply::Reply<Result<Vec<crate::network::UserRef>, crate::reply::Verdict>>
        {
            self.sent.lock().unwrap().push(tokio::time::Instant::now());
            crate::reply::Reply::bare(Ok(Vec::new()))
        }

        fn to_resolve(
            &self,
            _: Action,
            targets: &[crate::target::Target],
        ) -> Vec<crate::target::Target> {
            targets.to_vec()
        }
    }

    /// Three lookups at a fast `--list-rate`, then the first action at 10/s: when were the
    /// lookups sent, and when was the action admitted.
    async fn lookups_then_action(
        network: crate::network::NetworkId,
    ) -> (Vec<tokio::time::Instant>, tokio::time::Instant) {
        use crate::network::mastodon::identity::ACCT;
        let net = Lookups {
            network,
            sent: std::sync::Mutex::new(Vec::new()),
        };
        let clock = Arc::new(ServerClock::new());
        let actions = Pacer::new("10/s".parse().unwrap(), clock.clone());
        let todo: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|a| crate::target::Target::new(&ACCT, a))
            .collect();
        let cancel = CancellationToken::new();
        let list_rate = "1000/s".parse().unwrap();
        prepare(
            &net,
            Action::Unblock,
            &todo,
            list_rate,
            &actions,
            &clock,
            &cancel,
            Verbosity::Quiet,
        )
        .await
        .unwrap();
        let permit = actions.admit(1, &cancel).await.unwrap();
        let admitted = tokio::time::Instant::now();
        actions.release(permit);
        let sent = net.sent.lock().unwrap().clone();
        (sent, admitted)
    }

    #[tokio::test(start_paused = true)]
    async fn lookups_that_share_the_action_limit_take_turns_with_it_on_one_pace() {
        let interval = std::time::Duration::from_millis(100);
        // Mastodon: every request counts against the token's limit, so the lookups go at the
        // action's pace and the first action waits its turn after the last of them.
        let (sent, admitted) = lookups_then_action(crate::network::NetworkId::Mastodon).await;
        assert_eq!(sent.len(), 3);
        for pair in sent.windows(2) {
            assert!(pair[1] - pair[0] >= interval, "{:?}", pair[1] - pair[0]);
        }
        assert!(admitted - sent[2] >= interval, "{:?}", admitted - sent[2]);
        // X: lookups have a limit of their own, paced apart from the action's.
        let (sent, admitted) = lookups_then_action(crate::network::NetworkId::X).await;
        assert_eq!(sent.len(), 3);
        assert!(sent[2] - sent[0] < interval, "{:?}", sent[2] - sent[0]);
        assert!(admitted - sent[2] < interval, "{:?}", admitted - sent[2]);
    }
}
