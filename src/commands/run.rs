//! `bulk-unblock run`: the targets named in the inputs (or the whole block list), as a job.

use crate::config::RunConfig;
use crate::display::Verbosity;
use crate::error::{Error, Exit};
use crate::job::{self, Job, Source};
use crate::shell::resume_command;

/// `bulk-unblock run`: reads the inputs named in `config`, then runs the job.
pub async fn run(
    config: RunConfig,
    verbosity: Verbosity,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Exit, Error> {
    let source = match config.all {
        true => Source::AllBlocks {
            backup: config
                .backup
                .clone()
                .unwrap_or_else(|| job::default_backup(&config.log)),
        },
        false => {
            let parsed = crate::input::read(&config.inputs, config.net.inputs()?)?;
            for notice in &parsed.notices {
                tracing::warn!("{notice}");
            }
            Source::Targets(parsed)
        }
    };
    let job = Job {
        source,
        skip_invalid: config.skip_invalid,
        log: config.log,
        dry_run: config.dry_run,
        check: config.check,
        rate: config.rate,
        list_rate: config.list_rate,
        settings: config.settings,
        identities: config.net.inputs()?,
        net: config.net.clone(),
        resume_hint: resume_command(),
        expect_account: None,
    };
    job::execute(job, verbosity, || {
        crate::config::load_credentials(&config.net, &env)
    })
    .await
}
