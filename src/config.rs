//! Settings from the command line and the environment, gathered into one place.
//!
//! The only module that reads the environment. Credentials are read only when a run needs them,
//! so `--dry-run` works before any key is set up. Which variables and file keys hold them is
//! the network's ([`CredentialSpec`]); how they are read, checked and kept secret is here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{NetArgs, RunArgs, ScopeArgs};
use crate::display::Verbosity;
use crate::error::Error;
use crate::executor::Settings;
use crate::input::Identities;
use crate::network::{Api, CredentialSpec, NetworkId, Scope};
use crate::pace::Rate;
use crate::secret::Secret;

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
    /// The local pace.
    pub rate: Rate,
    /// The pace of block-list pages.
    pub list_rate: Rate,
    /// How to reach the network.
    pub net: Net,
    /// Executor settings.
    pub settings: Settings,
}

/// How to reach a network, before the credentials are read.
#[derive(Clone, Debug)]
pub struct Net {
    /// Which network.
    pub network: NetworkId,
    /// Which X API.
    pub api: Api,
    /// `--api-base` as given.
    pub api_base: Option<String>,
    /// A TOML file with credentials the environment does not set.
    pub credentials_file: Option<PathBuf>,
    /// Timeout per request.
    pub timeout: Duration,
    /// Which blocks the command works on.
    pub scope: Scope,
}

impl Net {
    /// The flags, for `network` (the flag's, or the journal's for undo) and `scope`.
    pub fn from_args(args: NetArgs, network: NetworkId, scope: Scope) -> Net {
        Net {
            network,
            api: args.api,
            api_base: args.api_base,
            credentials_file: args.credentials,
            timeout: args.timeout,
            scope,
        }
    }

    /// How this command's inputs are read: the network's identities for its scope.
    pub fn inputs(&self) -> Result<&'static dyn Identities, Error> {
        self.network.inputs(self.scope).map_err(Error::Usage)
    }
}

/// The scope the flags ask for.
pub fn scope(args: ScopeArgs) -> Scope {
    Scope {
        lists: args.lists,
        domains: args.domains,
    }
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
        let network = args.net.network.unwrap_or_default();
        let defaults = network.defaults();
        Ok(RunConfig {
            inputs: args.inputs,
            log: args.log,
            dry_run: args.dry_run,
            skip_invalid: args.skip_invalid,
            all: args.all,
            backup: args.backup,
            check: args.check,
            rate: args.rate.unwrap_or(defaults.rate),
            list_rate: args.list_rate.unwrap_or(defaults.list_rate),
            net: Net::from_args(args.net, network, scope(args.scope)),
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

/// A network's credentials, read, and the API base they go to.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The values, in the order of the network's [`CredentialSpec::vars`].
    pub secrets: Vec<Secret>,
    /// The API base: `--api-base`, else the network's other source (Mastodon's instance),
    /// else its default.
    pub api_base: String,
}

/// Reads a network's credentials from the environment (through `get`) and, for what the
/// environment does not set, from the optional TOML file; and the API base. Every missing value
/// is named, no value ever appears in an error, and a file readable by group or others gets a
/// warning.
pub fn load_credentials(net: &Net, get: impl Fn(&str) -> Option<String>) -> Result<Loaded, Error> {
    let spec = net.network.credentials();
    let file = net
        .credentials_file
        .as_deref()
        .map(|path| read_credentials_file(path, spec))
        .transpose()?;
    let value = |env: &str, key: &str| {
        get(env)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .or_else(|| {
                file.as_ref()?
                    .get(key)
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            })
    };
    let values: Vec<Option<String>> = spec.vars.iter().map(|v| value(v.env, v.key)).collect();
    let missing: Vec<&str> = spec
        .vars
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(var, _)| var.env)
        .collect();
    if !missing.is_empty() {
        let keys: Vec<&str> = spec.vars.iter().map(|v| v.key).collect();
        return Err(Error::Usage(format!(
            "missing credentials: set {} ({}){}; nothing was sent",
            missing.join(", "),
            spec.what,
            match &net.credentials_file {
                Some(path) => format!(" (or the keys {} in `{}`)", keys.join(", "), path.display()),
                None => String::new(),
            }
        )));
    }
    let api_base = net
        .api_base
        .clone()
        .or_else(|| spec.base.and_then(|b| value(b.env, b.key)))
        .or_else(|| net.network.defaults().api_base.map(str::to_owned))
        .ok_or_else(|| {
            let base = spec
                .base
                .map(|b| format!(" or set {}", b.env))
                .unwrap_or_default();
            Error::Usage(format!(
                "no API base for {}: give --api-base URL{base}; nothing was sent",
                net.network
            ))
        })?;
    Ok(Loaded {
        secrets: values.into_iter().flatten().map(Secret::new).collect(),
        api_base,
    })
}

/// Reads a `--credentials` file: its keys and string values. Unknown keys are refused, so a
/// typo is not silently ignored, and the file's text never appears in an error (a line may
/// hold a secret).
fn read_credentials_file(
    path: &Path,
    spec: &CredentialSpec,
) -> Result<std::collections::HashMap<String, String>, Error> {
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
    let keys: Vec<&str> = spec
        .vars
        .iter()
        .chain(spec.base.iter())
        .map(|v| v.key)
        .collect();
    let refuse = |line: Option<usize>, reason: &str| {
        Error::Usage(format!(
            "the credentials file `{}` is not valid{}: {reason} (expected the keys {})",
            path.display(),
            line.map(|l| format!(" at line {l}")).unwrap_or_default(),
            keys.join(", ")
        ))
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        // The error's own text quotes the offending line, which may hold a secret: give only
        // the position and the reason.
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        refuse(line, e.message().lines().next().unwrap_or("syntax error"))
    })?;
    let mut values = std::collections::HashMap::new();
    for (key, value) in table {
        if !keys.contains(&key.as_str()) {
            return Err(refuse(
                None,
                &format!("unknown key `{}`", crate::display::shorten(&key, 40)),
            ));
        }
        let toml::Value::String(value) = value else {
            return Err(refuse(None, &format!("`{key}` is not a string")));
        };
        values.insert(key, value);
    }
    Ok(values)
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

    fn x(file: Option<&Path>) -> Net {
        Net {
            network: NetworkId::X,
            api: Api::V1,
            api_base: None,
            credentials_file: file.map(Path::to_path_buf),
            timeout: Duration::from_secs(1),
            scope: Scope::default(),
        }
    }

    fn values(loaded: &Loaded) -> Vec<&str> {
        loaded.secrets.iter().map(Secret::expose).collect()
    }

    #[test]
    fn missing_credentials_are_named_and_values_are_not() {
        let env: HashMap<&str, &str> = [
            ("TWITTER_CONSUMER_KEY", "ck-value"),
            ("TWITTER_ACCESS_TOKEN", "  "),
        ]
        .into();
        let err = load_credentials(&x(None), |k| env.get(k).map(|v| v.to_string()))
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
        let c = load_credentials(&x(Some(&path)), |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            values(&c),
            ["file-ck", "file-cs", "env-at", "file-ats"],
            "the environment wins"
        );
        assert_eq!(c.api_base, "https://api.x.com", "the network's default");
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
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            load_credentials(&x(Some(&path)), |_| None)
                .unwrap_err()
                .to_string()
        };
        let err = load("consumer_key = \"ck\"\nconsumer_secret = s3cr3t-value\n");
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("s3cr3t-value"), "{err}");
        let err = load("consumer_key = \"ck\"\nconsumer_sercet = \"typo-secret\"\n");
        assert!(!err.contains("typo-secret"), "{err}");
        assert!(err.contains("consumer_sercet"), "the key is named: {err}");
        let err = load("consumer_key = \"ck\"\n");
        assert!(
            err.contains("TWITTER_CONSUMER_SECRET") && err.contains("creds.toml"),
            "{err}"
        );
    }

    #[test]
    fn complete_credentials_load_in_order() {
        let c = load_credentials(&x(None), |k| Some(format!("{k}-v"))).unwrap();
        assert_eq!(values(&c)[0], "TWITTER_CONSUMER_KEY-v");
        assert_eq!(values(&c)[3], "TWITTER_ACCESS_TOKEN_SECRET-v");
    }
}
