//! Settings from the command line and the environment, gathered into one place.
//!
//! The only module that reads the environment. Credentials are read only when a run needs them,
//! so `--dry-run` works before any key is set up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::RunArgs;
use crate::display::Verbosity;
use crate::error::Error;
use crate::executor::Settings;
use crate::network::Api;
use crate::network::x::oauth::{Credentials, Secret};
use crate::pace::Rate;

/// The environment variables holding the OAuth 1.0a user-context credentials, in order.
pub const CREDENTIAL_VARS: [&str; 4] = [
    "TWITTER_CONSUMER_KEY",
    "TWITTER_CONSUMER_SECRET",
    "TWITTER_ACCESS_TOKEN",
    "TWITTER_ACCESS_TOKEN_SECRET",
];

/// Everything `run` needs, validated.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Input files (`-` is stdin).
    pub inputs: Vec<PathBuf>,
    /// The journal.
    pub log: PathBuf,
    /// Preview only.
    pub dry_run: bool,
    /// Go on despite unusable input lines.
    pub skip_invalid: bool,
    /// Everything the account blocks, instead of inputs.
    pub all: bool,
    /// With `all`: the backup path, when given.
    pub backup: Option<PathBuf>,
    /// With `dry_run`: compare with the server (read-only).
    pub check: bool,
    /// Which API.
    pub api: Api,
    /// The API base URL as given.
    pub api_base: String,
    /// The local pace.
    pub rate: Rate,
    /// The pace of block-list pages.
    pub list_rate: Rate,
    /// A TOML file with credentials the environment does not set.
    pub credentials_file: Option<PathBuf>,
    /// Timeout per request.
    pub timeout: Duration,
    /// Executor settings.
    pub settings: Settings,
}

impl RunConfig {
    /// Turns the parsed flags into settings, refusing combinations that make no sense.
    pub fn from_args(args: RunArgs) -> Result<RunConfig, Error> {
        if args.backup.is_some() && !args.all {
            return Err(Error::Usage("--backup goes with --all".into()));
        }
        if args.check && !args.dry_run {
            return Err(Error::Usage(
                "--check goes with --dry-run (it previews against the server)".into(),
            ));
        }
        Ok(RunConfig {
            inputs: args.inputs,
            log: args.log,
            dry_run: args.dry_run,
            skip_invalid: args.skip_invalid,
            all: args.all,
            backup: args.backup,
            check: args.check,
            api: args.net.api,
            api_base: args.net.api_base,
            rate: args.rate,
            list_rate: args.list_rate,
            credentials_file: args.net.credentials,
            timeout: args.net.timeout,
            settings: Settings {
                concurrency: usize::from(args.concurrency),
                max_attempts: args.max_attempts,
                ..Settings::default()
            },
        })
    }
}

/// The verbosity the flags ask for.
pub fn verbosity(verbose: u8, quiet: bool) -> Verbosity {
    match (quiet, verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        (false, 1) => Verbosity::Verbose,
        (false, _) => Verbosity::Debug,
    }
}

/// The keys of a `--credentials` file, in the order of [`CREDENTIAL_VARS`].
pub const CREDENTIAL_KEYS: [&str; 4] = [
    "consumer_key",
    "consumer_secret",
    "access_token",
    "access_token_secret",
];

/// A `--credentials` file (TOML). Unknown keys are refused, so a typo is not silently ignored.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    consumer_key: Option<String>,
    consumer_secret: Option<String>,
    access_token: Option<String>,
    access_token_secret: Option<String>,
}

/// Reads the credentials from the environment (through `get`) and, for what the environment
/// does not set, from the optional TOML file. A file readable by group or others gets a warning.
pub fn load_credentials(
    file: Option<&Path>,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Credentials, Error> {
    let Some(path) = file else {
        return credentials(get);
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        context: format!("cannot read the credentials file `{}`", path.display()),
        source: e,
    })?;
    if let Some(mode) = loose_permissions(path) {
        crate::display::eprint_line(&format!(
            "warning: the credentials file `{}` is readable by group or others (mode {mode:03o}); \
             restrict it with: chmod 600 {}",
            path.display(),
            crate::shell::shell_quote(&path.to_string_lossy())
        ));
    }
    let parsed: CredentialsFile = toml::from_str(&text).map_err(|e| {
        // The error's own text quotes the offending line, which may hold a secret: give only
        // the position and the reason.
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        Error::Usage(format!(
            "the credentials file `{}` is not valid TOML{}: {} (expected the keys {})",
            path.display(),
            line.map(|l| format!(" at line {l}")).unwrap_or_default(),
            e.message().lines().next().unwrap_or("syntax error"),
            CREDENTIAL_KEYS.join(", ")
        ))
    })?;
    let from_file = [
        parsed.consumer_key,
        parsed.consumer_secret,
        parsed.access_token,
        parsed.access_token_secret,
    ];
    credentials(|name| {
        get(name).filter(|v| !v.trim().is_empty()).or_else(|| {
            let index = CREDENTIAL_VARS.iter().position(|v| *v == name)?;
            from_file[index].clone()
        })
    })
    .map_err(|e| match e {
        Error::Usage(m) => Error::Usage(format!(
            "{m} (or the keys {} in `{}`)",
            CREDENTIAL_KEYS.join(", "),
            path.display()
        )),
        other => other,
    })
}

/// The file's mode when group or others may read it.
fn loose_permissions(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Reads the credentials through `get` (the environment in real runs). Every missing or empty
/// variable is named; the values never appear in the error.
pub fn credentials(get: impl Fn(&str) -> Option<String>) -> Result<Credentials, Error> {
    let values: Vec<Option<String>> = CREDENTIAL_VARS
        .iter()
        .map(|name| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        })
        .collect();
    let missing: Vec<&str> = CREDENTIAL_VARS
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "missing credentials: set {} (OAuth 1.0a user context, from the app's Keys and \
             tokens page); nothing was sent",
            missing.join(", ")
        )));
    }
    let mut values = values.into_iter().flatten().map(Secret::new);
    let mut next = || values.next().unwrap_or_else(|| Secret::new(""));
    Ok(Credentials {
        consumer_key: next(),
        consumer_secret: next(),
        access_token: next(),
        access_token_secret: next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn run_args(args: &[&str]) -> RunArgs {
        let cli = crate::cli::Cli::try_parse_from(
            ["bulk-unblock", "run"].iter().chain(args.iter()).copied(),
        )
        .unwrap();
        match cli.command {
            crate::cli::Command::Run(run) => run,
            _ => unreachable!(),
        }
    }

    #[test]
    fn flags_that_need_another_are_refused() {
        assert!(RunConfig::from_args(run_args(&["x", "--log", "j", "--backup", "b"])).is_err());
        assert!(RunConfig::from_args(run_args(&["x", "--log", "j", "--check"])).is_err());
        assert!(RunConfig::from_args(run_args(&["--all", "--log", "j", "--backup", "b"])).is_ok());
        assert!(
            RunConfig::from_args(run_args(&["x", "--log", "j", "--dry-run", "--check"])).is_ok()
        );
    }
    use std::collections::HashMap;

    #[test]
    fn missing_credentials_are_named_and_values_are_not() {
        let env: HashMap<&str, &str> = [
            ("TWITTER_CONSUMER_KEY", "ck-value"),
            ("TWITTER_ACCESS_TOKEN", "  "),
        ]
        .into();
        let err = credentials(|k| env.get(k).map(|v| v.to_string()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("TWITTER_CONSUMER_SECRET"), "{err}");
        assert!(
            err.contains("TWITTER_ACCESS_TOKEN,"),
            "empty counts as missing: {err}"
        );
        assert!(err.contains("TWITTER_ACCESS_TOKEN_SECRET"), "{err}");
        assert!(!err.contains("TWITTER_CONSUMER_KEY"), "{err}");
        assert!(!err.contains("ck-value"), "{err}");
    }

    #[test]
    fn a_credentials_file_fills_what_the_environment_leaves_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.toml");
        std::fs::write(
            &path,
            "consumer_key = \"file-ck\"\nconsumer_secret = \"file-cs\"\n\
             access_token = \"file-at\"\naccess_token_secret = \"file-ats\"\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [("TWITTER_ACCESS_TOKEN", "env-at")].into();
        let c = load_credentials(Some(&path), |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.consumer_key.expose(), "file-ck");
        assert_eq!(c.access_token.expose(), "env-at", "the environment wins");
        assert_eq!(c.access_token_secret.expose(), "file-ats");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(loose_permissions(&path), Some(0o644));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert_eq!(loose_permissions(&path), None);
        }
    }

    #[test]
    fn a_broken_credentials_file_never_echoes_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.toml");
        std::fs::write(
            &path,
            "consumer_key = \"ck\"\nconsumer_secret = s3cr3t-value\n",
        )
        .unwrap();
        let err = load_credentials(Some(&path), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("s3cr3t-value"), "{err}");
        std::fs::write(
            &path,
            "consumer_key = \"ck\"\nconsumer_sercet = \"typo-secret\"\n",
        )
        .unwrap();
        let err = load_credentials(Some(&path), |_| None)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("typo-secret"), "{err}");
        std::fs::write(&path, "consumer_key = \"ck\"\n").unwrap();
        let err = load_credentials(Some(&path), |_| None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TWITTER_CONSUMER_SECRET") && err.contains("creds.toml"),
            "{err}"
        );
    }

    #[test]
    fn complete_credentials_load_in_order() {
        let c = credentials(|k| Some(format!("{k}-v"))).unwrap();
        assert_eq!(c.consumer_key.expose(), "TWITTER_CONSUMER_KEY-v");
        assert_eq!(
            c.access_token_secret.expose(),
            "TWITTER_ACCESS_TOKEN_SECRET-v"
        );
    }
}
