//! Diagnostic logging (`-v`, `-vv`, `RUST_LOG`) through `tracing`, printed above the progress bar.
//!
//! HTTP-library targets are capped at `info` whatever `RUST_LOG` asks, because at `trace` they
//! may print request headers, and the `Authorization` header carries the signature and the token.

use tracing_subscriber::EnvFilter;

use crate::display::{LogWriter, Verbosity};

/// Library targets that are never logged below `info`.
const CAPPED: [&str; 6] = ["hyper", "hyper_util", "h2", "reqwest", "rustls", "tower"];

/// Installs the subscriber. Call once, before anything logs.
pub fn init(verbosity: Verbosity) {
    let default = match verbosity {
        Verbosity::Quiet => "error",
        Verbosity::Normal => "warn",
        Verbosity::Verbose => "bulk_unblock=info,warn",
        Verbosity::Debug => "bulk_unblock=debug,info",
    };
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    let directives = std::iter::once(base)
        .chain(CAPPED.iter().map(|t| format!("{t}=info")))
        .collect::<Vec<_>>()
        .join(",");
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}
