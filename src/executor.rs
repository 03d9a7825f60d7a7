//! The executor: bounded workers that pace, send, retry and report — and never write anything.
//!
//! Each target is one task: wait for the [`Pacer`], send through the [`Network`], sort the reply,
//! retry what may pass. Workers never return errors: everything that happens becomes an [`Event`]
//! on a channel, and a single consumer (the `writer` module) owns the journal and the terminal, so
//! records never interleave and nothing tears the progress bar. A per-target failure is an outcome,
//! not an error; only rejected credentials (or the writer, when the journal fails) stop the run,
//! through the shared [`CancellationToken`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::network::{ErrorCode, Network, UserRef, Verdict};
use crate::outcome::{Action, Outcome};
use crate::pace::Pacer;
use crate::retry::{self, Ended, GaveUp, InFlight, Observe, Rejection, Request, Retry};
use crate::target::Target;

/// How the executor behaves.
#[derive(Clone, Debug)]
pub struct Settings {
    /// What to do to each target.
    pub action: Action,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Requests per target at most (429s do not count), before it is recorded `failed`.
    pub max_attempts: u32,
    /// First backoff after a transient fault; doubled per retry, with full jitter.
    pub retry_base: Duration,
    /// Longest backoff after a transient fault.
    pub retry_cap: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            action: Action::Unblock,
            concurrency: 4,
            max_attempts: 8,
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(60),
        }
    }
}

/// A target that is finished for this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// The target as listed.
    pub target: Target,
    /// What happened.
    pub outcome: Outcome,
    /// The user as the server described it.
    pub user: UserRef,
    /// HTTP status of the last response, if any.
    pub http_status: Option<u16>,
    /// API error code of the last response, if any.
    pub error_code: Option<ErrorCode>,
    /// API error message, or the transport error, of the last attempt.
    pub message: Option<String>,
    /// Requests sent for this target.
    pub attempts: u32,
    /// When it finished.
    pub at: SystemTime,
}

/// Everything the executor reports, in the order it happens.
#[derive(Clone, Debug)]
pub enum Event {
    /// A request is about to leave.
    Sent,
    /// A target finished: record it.
    Finished(Finished),
    /// A transient fault; the target is retried after `after`.
    Retry {
        /// The target.
        target: Target,
        /// Attempts so far.
        attempt: u32,
        /// What went wrong.
        reason: String,
        /// The backoff chosen.
        after: Duration,
    },
    /// A 429: the target waits for the window and is sent again.
    RateLimited {
        /// The target.
        target: Target,
    },
    /// The credentials were rejected: the run is stopping.
    Rejected(Rejection),
    /// The run was cancelled before this target finished; it stays untried (or retryable).
    Abandoned {
        /// The target.
        target: Target,
    },
}

/// Runs every target through the network, at most `settings.concurrency` at a time, and stops
/// scheduling as soon as `cancel` fires. Returns when every started target has settled.
pub async fn execute<N: Network>(
    network: Arc<N>,
    pacer: Arc<Pacer>,
    todo: Vec<Target>,
    settings: Settings,
    cancel: CancellationToken,
    events: mpsc::UnboundedSender<Event>,
) {
    let concurrency = settings.concurrency.max(1);
    let stop = cancel.clone();
    futures::stream::iter(todo)
        .take_while(move |_| std::future::ready(!stop.is_cancelled()))
        .for_each_concurrent(concurrency, |target| {
            let worker = Worker {
                network: &*network,
                pacer: &pacer,
                settings: &settings,
                cancel: &cancel,
                events: &events,
            };
            async move { worker.process(target).await }
        })
        .await;
}

/// The borrowed context of one target's task.
struct Worker<'a, N> {
    network: &'a N,
    pacer: &'a Pacer,
    settings: &'a Settings,
    cancel: &'a CancellationToken,
    events: &'a mpsc::UnboundedSender<Event>,
}

/// Turns what the retry loop does into events about one target.
struct Report<'a> {
    target: &'a Target,
    events: &'a mpsc::UnboundedSender<Event>,
}

impl Observe for Report<'_> {
    fn sent(&mut self) {
        emit(self.events, Event::Sent);
    }

    fn rate_limited(&mut self) {
        emit(
            self.events,
            Event::RateLimited {
                target: self.target.clone(),
            },
        );
    }

    fn retrying(&mut self, attempt: u32, reason: &str, after: Duration) {
        emit(
            self.events,
            Event::Retry {
                target: self.target.clone(),
                attempt,
                reason: reason.to_owned(),
                after,
            },
        );
    }
}

fn emit(events: &mpsc::UnboundedSender<Event>, event: Event) {
    // The writer outlives the executor; a closed channel means it failed and already stopped us.
    let _ = events.send(event);
}

impl<N: Network> Worker<'_, N> {
    async fn process(&self, target: Target) {
        let finished = |outcome, user, http_status, error_code, message, attempts| {
            Event::Finished(Finished {
                target: target.clone(),
                outcome,
                user,
                http_status,
                error_code,
                message,
                attempts,
                at: SystemTime::now(),
            })
        };
        // Known without a request (a v2 name its lookup found gone): no pace slot is spent.
        if let Some(Verdict::Done {
            outcome,
            user,
            error_code,
            message,
        }) = self.network.settled(&target)
        {
            return emit(
                self.events,
                finished(outcome, user, None, error_code, message, 0),
            );
        }
        let request = Request {
            pacer: self.pacer,
            cancel: self.cancel,
            retry: Retry {
                max_attempts: self.settings.max_attempts,
                base: self.settings.retry_base,
                cap: self.settings.retry_cap,
            },
            cost: 1,
            in_flight: InFlight::Finish,
        };
        let mut report = Report {
            target: &target,
            events: self.events,
        };
        let tried = retry::send(request, &mut report, || async {
            self.network
                .act(self.settings.action, &target)
                .await
                .map(|verdict| match verdict {
                    done @ Verdict::Done { .. } => Ok(done),
                    other => Err(other),
                })
        })
        .await;
        let event = match tried.ended {
            Ended::Answered(Verdict::Done {
                outcome,
                user,
                error_code,
                message,
            }) => finished(
                outcome,
                user,
                tried.http_status,
                error_code,
                message,
                tried.attempts,
            ),
            // `act` answers only `Done` as a success (see the closure above).
            Ended::Answered(_) => return,
            Ended::GaveUp(GaveUp {
                error_code,
                message,
                ..
            }) => finished(
                Outcome::Failed,
                UserRef::default(),
                tried.http_status,
                error_code,
                Some(message),
                tried.attempts,
            ),
            Ended::Rejected(rejection) => {
                // Nothing more can succeed: stop scheduling at once. This target stays untried.
                self.cancel.cancel();
                emit(self.events, Event::Rejected(rejection));
                Event::Abandoned { target }
            }
            Ended::Cancelled => Event::Abandoned { target },
        };
        emit(self.events, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ServerClock;
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};
    use crate::network::{Account, RateInfo, Reply};
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scripted network: each target gets its list of verdicts, one per request.
    struct Script {
        replies: Mutex<HashMap<Target, Vec<Verdict>>>,
        in_flight: AtomicUsize,
        peak: AtomicUsize,
        sent: AtomicUsize,
    }

    impl Script {
        fn new(replies: impl IntoIterator<Item = (Target, Vec<Verdict>)>) -> Script {
            Script {
                replies: Mutex::new(replies.into_iter().collect()),
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                sent: AtomicUsize::new(0),
            }
        }
    }

    impl Network for Script {
        fn network(&self) -> crate::network::NetworkId {
            crate::network::NetworkId::X
        }

        fn lookup_batch(&self) -> usize {
            100
        }

        async fn blocked_page(
            &self,
            _cursor: Option<&str>,
        ) -> Reply<Result<crate::network::BlockPage, Verdict>> {
            unreachable!("the executor does not list blocks")
        }

        async fn lookup(&self, _targets: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
            unreachable!("the executor does not look users up")
        }

        async fn verify(&self) -> Reply<Result<Account, Verdict>> {
            Reply::bare(Ok(Account {
                user_id: "1".into(),
                screen_name: None,
            }))
        }

        async fn act(&self, _action: Action, target: &Target) -> Reply {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            self.sent.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            let verdict = {
                let mut replies = self.replies.lock().unwrap();
                let list = replies.get_mut(target).expect("scripted target");
                if list.len() > 1 {
                    list.remove(0)
                } else {
                    list[0].clone()
                }
            };
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Reply {
                verdict,
                http_status: Some(200),
                rate: RateInfo::default(),
                server_date: None,
            }
        }
    }

    fn ok() -> Verdict {
        Verdict::Done {
            outcome: Outcome::Unblocked,
            user: UserRef::default(),
            error_code: None,
            message: None,
        }
    }

    fn fault() -> Verdict {
        Verdict::Transient {
            error_code: Some(130.into()),
            message: "Over capacity.".into(),
        }
    }

    async fn run(script: Script, todo: Vec<Target>, settings: Settings) -> (Vec<Event>, Script) {
        let script = Arc::new(script);
        let pacer = Arc::new(Pacer::new(
            "1000/s".parse().unwrap(),
            Arc::new(ServerClock::new()),
        ));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let exec = tokio::spawn(execute(script.clone(), pacer, todo, settings, cancel, tx));
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        exec.await.unwrap();
        (events, Arc::into_inner(script).unwrap())
    }

    fn finished(events: &[Event]) -> Vec<&Finished> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Finished(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn never_exceeds_the_concurrency_bound() {
        let targets: Vec<Target> = (1..=40).map(id).collect();
        let script = Script::new(targets.iter().map(|t| (t.clone(), vec![ok()])));
        let settings = Settings {
            concurrency: 3,
            ..Settings::default()
        };
        let (events, script) = run(script, targets, settings).await;
        assert_eq!(finished(&events).len(), 40);
        assert_eq!(script.peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_faults_are_retried_then_recorded_failed() {
        let flaky = id(1);
        let dead = id(2);
        let script = Script::new([
            (flaky.clone(), vec![fault(), fault(), ok()]),
            (dead.clone(), vec![fault()]),
        ]);
        let settings = Settings {
            max_attempts: 4,
            ..Settings::default()
        };
        let (events, script) = run(script, vec![flaky.clone(), dead.clone()], settings).await;
        let done = finished(&events);
        let f = done.iter().find(|f| f.target == flaky).unwrap();
        assert_eq!((f.outcome, f.attempts), (Outcome::Unblocked, 3));
        let d = done.iter().find(|f| f.target == dead).unwrap();
        assert_eq!((d.outcome, d.attempts), (Outcome::Failed, 4));
        assert_eq!(d.error_code, Some(130.into()));
        assert_eq!(d.message.as_deref(), Some("Over capacity."));
        assert_eq!(script.sent.load(Ordering::SeqCst), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_is_sent_again_and_not_counted_as_a_fault() {
        let t = id(9);
        let limited = Verdict::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        };
        let script = Script::new([(t.clone(), vec![limited.clone(), limited, ok()])]);
        let settings = Settings {
            max_attempts: 1,
            ..Settings::default()
        };
        let (events, _) = run(script, vec![t], settings).await;
        let done = finished(&events);
        assert_eq!(done[0].outcome, Outcome::Unblocked);
        assert_eq!(done[0].attempts, 3);
        let limited = events
            .iter()
            .filter(|e| matches!(e, Event::RateLimited { .. }))
            .count();
        assert_eq!(limited, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn rejected_credentials_stop_scheduling_and_mark_nothing_untried() {
        let targets: Vec<Target> = (1..=50).map(id).collect();
        let rejected = Verdict::Rejected {
            error_code: Some(89.into()),
            message: "Invalid or expired token.".into(),
            hint: "new token",
        };
        let mut script: Vec<(Target, Vec<Verdict>)> =
            targets.iter().map(|t| (t.clone(), vec![ok()])).collect();
        script[5].1 = vec![rejected];
        let settings = Settings {
            concurrency: 4,
            ..Settings::default()
        };
        let (events, s) = run(Script::new(script), targets, settings).await;
        let done = finished(&events);
        assert!(done.iter().all(|f| f.outcome == Outcome::Unblocked));
        assert!(done.iter().all(|f| f.target != id(6)));
        // At most the requests already in flight finish after the rejection.
        assert!(
            s.sent.load(Ordering::SeqCst) <= 6 + 4,
            "sent {}",
            s.sent.load(Ordering::SeqCst)
        );
        assert!(events.iter().any(|e| matches!(
            e,
            Event::Rejected(Rejection {
                error_code: Some(ErrorCode::Number(89)),
                ..
            })
        )));
    }
}
