//! The one retry loop: admit → send → learn → back off, for every request the tool sends.
//!
//! Reads (block-list pages, lookups), the credentials check and the workers' actions all go
//! through here, so a policy (waiting out a 429, backing off after a fault, correcting the
//! clock, stopping on rejected credentials, the caps on each) is written and tested once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::display;
use crate::error::Error;
use crate::network::{Reply, Verdict};
use crate::pace::{Pacer, backoff};

/// How many times, and how patiently, a read is sent again after transient faults (429s do not
/// count: the pacer waits them out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Requests at most, when they keep failing with transient faults.
    pub max_attempts: u32,
    /// First backoff; doubled per retry, with full jitter.
    pub base: Duration,
    /// Longest backoff.
    pub cap: Duration,
}

impl Retry {
    /// Pages and lookup batches: 8 requests, backing off from 1 s up to a minute.
    pub const DEFAULT: Retry = Retry {
        max_attempts: 8,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
    };
}

/// Why fetching stopped before the list was complete.
#[derive(Debug)]
pub enum FetchError {
    /// The credentials were rejected (exit 3).
    Rejected(String),
    /// The run was interrupted; what was fetched is kept.
    Interrupted,
    /// Faults persisted, or local I/O failed.
    Failed(String),
}

impl From<FetchError> for Error {
    fn from(e: FetchError) -> Error {
        match e {
            FetchError::Rejected(m) => Error::Rejected(m),
            FetchError::Interrupted => Error::Interrupted,
            FetchError::Failed(m) => Error::Unavailable(m),
        }
    }
}

/// Sends one paced request, retrying faults and 429s. `send` is called once per attempt.
pub async fn paced<T, F, Fut>(
    pacer: &Pacer,
    cancel: &CancellationToken,
    what: &str,
    send: F,
) -> Result<T, FetchError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply<Result<T, Verdict>>>,
{
    paced_with(pacer, cancel, what, Retry::DEFAULT, send).await
}

/// [`paced`] with its own retry policy. A 429 closes the pacer's gate until the reset the server
/// gave (else `Retry-After`, else a backoff), so the next attempt waits for it in `admit`.
pub async fn paced_with<T, F, Fut>(
    pacer: &Pacer,
    cancel: &CancellationToken,
    what: &str,
    retry: Retry,
    mut send: F,
) -> Result<T, FetchError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply<Result<T, Verdict>>>,
{
    let mut faults = 0;
    loop {
        let Some(permit) = pacer.admit(cancel).await else {
            return Err(FetchError::Interrupted);
        };
        let reply = tokio::select! {
            reply = send() => reply,
            // A read changes nothing on the server: its answer is not worth waiting for.
            _ = cancel.cancelled() => {
                pacer.release(permit);
                return Err(FetchError::Interrupted);
            }
        };
        pacer.finish(permit, &reply);
        match reply.verdict {
            Ok(value) => return Ok(value),
            Err(Verdict::RateLimited { .. }) => {
                tracing::info!("{what}: rate limited (429); waiting for the window");
            }
            Err(Verdict::ClockSkew { .. }) => {}
            Err(Verdict::Rejected { message, hint, .. }) => {
                return Err(FetchError::Rejected(format!(
                    "credentials rejected while {what}: {message}. {hint}"
                )));
            }
            Err(Verdict::Transient { message, .. }) => {
                faults += 1;
                if faults >= retry.max_attempts {
                    return Err(FetchError::Failed(match faults {
                        1 => format!("{what} failed: {message}"),
                        _ => format!("{what} failed {faults} times; the last error: {message}"),
                    }));
                }
                let wait = backoff(faults - 1, retry.base, retry.cap, &mut rand::rng());
                tracing::warn!(
                    "{what} failed ({message}); trying again in {} (attempt {} of {})",
                    display::clock(wait),
                    faults + 1,
                    retry.max_attempts
                );
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = cancel.cancelled() => return Err(FetchError::Interrupted),
                }
            }
            Err(Verdict::Done { message, .. }) => {
                return Err(FetchError::Failed(format!(
                    "{what} failed: {}",
                    message.unwrap_or_else(|| format!("HTTP {:?}", reply.http_status))
                )));
            }
        }
    }
}
