//! The one writer: the only task that touches the journal and the terminal during a run.
//!
//! It drains the executor's events in order, appends a record per finished target (flushed as it
//! finishes), keeps the counts, and redraws the progress display. If the journal cannot be written
//! it stops the run at once and keeps the targets it could not record, so they can be named:
//! a target is never left changed on the server without either a record or a clear statement.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::display::{Counts, Progress};
use crate::executor::{Event, Finished};
use crate::journal::Record;
use crate::pace::{PaceState, Pacer};
use crate::retry::Rejection;
use crate::target::Space;

/// Where records go. The journal in a real run; a vector in tests.
pub trait Sink {
    /// The sink's error, shown to the user with its causes.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Writes one record whole and flushes it to the OS.
    fn append(&mut self, record: &Record) -> Result<(), Self::Error>;
    /// Makes everything written durable.
    fn sync(&mut self) -> Result<(), Self::Error>;
    /// Called about twice a second: sync what waits if its time is up.
    fn tick(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl Sink for crate::journal::Journal {
    type Error = crate::journal::JournalError;

    fn append(&mut self, record: &Record) -> Result<(), Self::Error> {
        crate::journal::Journal::append(self, record)
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        crate::journal::Journal::sync(self)
    }

    fn tick(&mut self) -> Result<(), Self::Error> {
        self.sync_if_due()
    }
}

/// What the writer saw, for the summary and the exit code.
#[derive(Debug, Default)]
pub struct Tally {
    /// Counts per outcome and of requests.
    pub counts: Counts,
    /// The pacing state at the end.
    pub pace: PaceState,
    /// Set when the credentials were rejected.
    pub rejected: Option<Rejection>,
    /// Set when the journal failed: the error with its causes.
    pub journal_error: Option<String>,
    /// Targets that finished but could not be recorded (the journal failed).
    pub unrecorded: Vec<Finished>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Builds the journal record of a finished target.
pub fn record(f: &Finished) -> Record {
    let own = || Some(f.target.text().to_owned());
    let (own_id, own_name) = match f.target.space() {
        Space::Id => (own(), None),
        Space::Name => (None, own()),
        Space::Other => (None, None),
    };
    Record {
        target: f.target.to_string(),
        by: f.target.kind().name.to_owned(),
        outcome: f.outcome,
        user_id: f.user.user_id.clone().or(own_id),
        screen_name: f.user.screen_name.clone().or(own_name),
        http_status: f.http_status,
        error_code: f.error_code.clone(),
        message: f.message.clone(),
        attempts: f.attempts,
        at: rfc3339(f.at),
    }
}

/// RFC 3339 UTC with whole seconds, as the journal stores times.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// What the first Ctrl-C (or SIGTERM) does, said once by the writer above the display.
pub const INTERRUPTED_NOTE: &str = "Interrupted: finishing the requests in flight (press Ctrl-C \
     again to quit at once; the journal stays valid).";

/// The writer's two tokens: the one it cancels to stop the run, and the signal's.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    /// The run's token: cancelled here when the journal fails (and by the executor when the
    /// credentials are rejected, or by `interrupt`, of which it is a child).
    pub cancel: CancellationToken,
    /// Cancelled by the first Ctrl-C or SIGTERM only: the writer then says what happens next.
    pub interrupt: CancellationToken,
}

/// Drains `events` until the executor is done. Returns the tally and the sink (to sync and close).
pub async fn write<S: Sink>(
    mut events: mpsc::UnboundedReceiver<Event>,
    mut sink: S,
    pacer: Arc<Pacer>,
    stop: Stop,
    mut progress: Progress,
) -> (Tally, S) {
    let Stop { cancel, interrupt } = stop;
    let start = tokio::time::Instant::now();
    let mut tally = Tally::default();
    let mut redraw = tokio::time::interval(Duration::from_millis(500));
    redraw.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut announced = false;
    loop {
        let event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => event,
                None => break,
            },
            // The signal task prints nothing: the terminal is this task's, so it says it here.
            _ = interrupt.cancelled(), if !announced => {
                announced = true;
                progress.say(INTERRUPTED_NOTE);
                continue;
            }
            _ = redraw.tick() => {
                progress.update(&tally.counts, &pacer.state());
                if tally.journal_error.is_none()
                    && let Err(e) = sink.tick()
                {
                    tally.journal_error = Some(crate::error::chain(&e));
                    cancel.cancel();
                }
                continue;
            }
        };
        match event {
            Event::Sent => tally.counts.sent += 1,
            Event::Finished(finished) => {
                tracing::info!(
                    target = %finished.target,
                    outcome = %finished.outcome,
                    attempts = finished.attempts,
                    message = finished.message.as_deref().unwrap_or(""),
                    "finished"
                );
                if tally.journal_error.is_none()
                    && let Err(e) = sink.append(&record(&finished))
                {
                    tally.journal_error = Some(crate::error::chain(&e));
                    cancel.cancel();
                }
                if tally.journal_error.is_some() {
                    tally.unrecorded.push(finished.clone());
                }
                tally.counts.add(finished.outcome);
            }
            Event::Retry {
                target,
                attempt,
                reason,
                after,
            } => {
                tally.counts.retries += 1;
                tracing::info!(%target, attempt, ?after, %reason, "retrying after a fault");
            }
            Event::RateLimited { target } => {
                tally.counts.rate_limited += 1;
                tracing::info!(%target, "rate limited (429); waiting for the window");
            }
            Event::Rejected(rejection) => {
                if tally.rejected.is_none() {
                    tally.rejected = Some(rejection);
                }
            }
            Event::Abandoned { .. } => tally.counts.abandoned += 1,
        }
    }
    if tally.journal_error.is_none()
        && let Err(e) = sink.sync()
    {
        tally.journal_error = Some(crate::error::chain(&e));
    }
    tally.pace = pacer.state();
    progress.update(&tally.counts, &tally.pace);
    progress.finish();
    tally.elapsed = start.elapsed();
    (tally, sink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ServerClock;
    use crate::display::Verbosity;
    use crate::network::UserRef;
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};
    use crate::outcome::Outcome;

    /// A sink that fails after `ok` records, like a disk that fills up.
    struct Limited {
        ok: usize,
        written: Vec<Record>,
    }

    impl Sink for Limited {
        type Error = std::io::Error;

        fn append(&mut self, record: &Record) -> Result<(), std::io::Error> {
            if self.written.len() == self.ok {
                return Err(std::io::Error::other("No space left on device"));
            }
            self.written.push(record.clone());
            Ok(())
        }

        fn sync(&mut self) -> Result<(), std::io::Error> {
            Ok(())
        }
    }

    fn finished(n: u64) -> Event {
        Event::Finished(Finished {
            target: id(n),
            outcome: Outcome::Unblocked,
            user: UserRef {
                user_id: None,
                screen_name: Some(format!("user{n}")),
            },
            http_status: Some(200),
            error_code: None,
            message: None,
            attempts: 1,
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        })
    }

    #[test]
    fn records_carry_both_names_and_the_contract_fields() {
        let Event::Finished(f) = finished(42) else {
            unreachable!()
        };
        let json = serde_json::to_value(record(&f)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "target": "42", "by": "user_id", "outcome": "unblocked", "user_id": "42",
                "screen_name": "user42", "http_status": 200, "error_code": null,
                "message": null, "attempts": 1, "at": "2027-01-15T08:00:00Z"
            })
        );
    }

    #[tokio::test]
    async fn a_failing_journal_stops_the_run_and_keeps_what_it_could_not_record() {
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let pacer = Arc::new(Pacer::new(
            "10/s".parse().unwrap(),
            Arc::new(ServerClock::new()),
        ));
        let progress = Progress::new(5, Verbosity::Quiet, "done");
        let writer = tokio::spawn(write(
            rx,
            Limited {
                ok: 2,
                written: vec![],
            },
            pacer,
            Stop {
                cancel: cancel.clone(),
                interrupt: CancellationToken::new(),
            },
            progress,
        ));
        for id in 1..=4 {
            tx.send(finished(id)).unwrap();
        }
        drop(tx);
        let (tally, sink) = writer.await.unwrap();
        assert!(cancel.is_cancelled());
        assert_eq!(sink.written.len(), 2);
        assert_eq!(
            tally
                .unrecorded
                .iter()
                .map(|f| f.target.clone())
                .collect::<Vec<_>>(),
            vec![id(3), id(4)]
        );
        assert!(
            tally
                .journal_error
                .unwrap()
                .contains("No space left on device")
        );
        assert_eq!(tally.counts.get(Outcome::Unblocked), 4);
    }
}
