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

use crate::network::{Batch, ErrorCode, Network, Settled, UserRef};
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

/// Runs every target through the network, at most `settings.concurrency` requests at a time,
/// and stops scheduling as soon as `cancel` fires. Targets the network can settle without a
/// request are recorded at once; the rest go in batches where the network takes them
/// ([`Network::batch`]). Returns when every started target has settled.
pub async fn execute<N: Network>(
    network: Arc<N>,
    pacer: Arc<Pacer>,
    todo: Vec<Target>,
    settings: Settings,
    cancel: CancellationToken,
    events: mpsc::UnboundedSender<Event>,
) {
    let concurrency = settings.concurrency.max(1);
    let action = settings.action;
    let limit = network.batch(action);
    let stop = cancel.clone();
    let jobs = Jobs {
        todo: todo.into_iter(),
        network: &*network,
        action,
        limit,
        events: &events,
        next: None,
    };
    futures::stream::iter(jobs)
        .take_while(move |_| std::future::ready(!stop.is_cancelled()))
        .for_each_concurrent(concurrency, |job| {
            let worker = Worker {
                network: &*network,
                pacer: &pacer,
                settings: &settings,
                cancel: &cancel,
                events: &events,
            };
            async move { worker.process(job).await }
        })
        .await;
}

/// One request's worth of targets, and what it costs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Job {
    targets: Vec<Target>,
    cost: u32,
}

/// Cuts the targets into jobs as they are taken: targets known without a request are recorded
/// on the way, the rest fill a job up to the network's batch (targets and cost).
struct Jobs<'a, N> {
    todo: std::vec::IntoIter<Target>,
    network: &'a N,
    action: Action,
    limit: Batch,
    events: &'a mpsc::UnboundedSender<Event>,
    /// A target that did not fit the previous job.
    next: Option<(Target, u32)>,
}

impl<N: Network> Iterator for Jobs<'_, N> {
    type Item = Job;

    fn next(&mut self) -> Option<Job> {
        let mut job = Job {
            targets: Vec::new(),
            cost: 0,
        };
        loop {
            let (target, cost) = match self.next.take() {
                Some(next) => next,
                None => {
                    let Some(target) = self.todo.next() else {
                        return (!job.targets.is_empty()).then_some(job);
                    };
                    if let Some(settled) = self.network.settled(self.action, &target) {
                        // Known without a request (a name a lookup found gone): no pace slot.
                        emit(self.events, finished(target, settled, None, 0));
                        continue;
                    }
                    let cost = self.network.cost(self.action, &target).max(1);
                    (target, cost)
                }
            };
            // A job full by count was returned when it filled, below: only the cost can be over.
            let full = job.cost.saturating_add(cost) > self.limit.cost;
            if full && !job.targets.is_empty() {
                self.next = Some((target, cost));
                return Some(job);
            }
            job.targets.push(target);
            job.cost = job.cost.saturating_add(cost);
            if job.targets.len() >= self.limit.targets {
                return Some(job);
            }
        }
    }
}

/// The borrowed context of one job's task.
struct Worker<'a, N> {
    network: &'a N,
    pacer: &'a Pacer,
    settings: &'a Settings,
    cancel: &'a CancellationToken,
    events: &'a mpsc::UnboundedSender<Event>,
}

/// Turns what the retry loop does into events about one job (named by its first target).
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

/// The event of a target that finished as `settled` said.
fn finished(target: Target, settled: Settled, http_status: Option<u16>, attempts: u32) -> Event {
    Event::Finished(Finished {
        target,
        outcome: settled.outcome,
        user: settled.user,
        http_status,
        error_code: settled.error_code,
        message: settled.message,
        attempts,
        at: SystemTime::now(),
    })
}

impl<N: Network> Worker<'_, N> {
    /// Sends one job until it ends; a batch that fails as a whole for a reason one of its
    /// targets may cause is sent again one target at a time.
    async fn process(&self, job: Job) {
        let Some(first) = job.targets.first() else {
            return;
        };
        let request = Request {
            pacer: self.pacer,
            cancel: self.cancel,
            retry: Retry {
                max_attempts: self.settings.max_attempts,
                base: self.settings.retry_base,
                cap: self.settings.retry_cap,
            },
            cost: job.cost,
            in_flight: InFlight::Finish,
        };
        let mut report = Report {
            target: first,
            events: self.events,
        };
        let tried = retry::send(request, &mut report, || {
            self.network.act(self.settings.action, &job.targets)
        })
        .await;
        let attempts = tried.attempts;
        match tried.ended {
            Ended::Answered(settled) if settled.len() == job.targets.len() => {
                for (target, settled) in job.targets.into_iter().zip(settled) {
                    emit(
                        self.events,
                        finished(target, settled, tried.http_status, attempts),
                    );
                }
            }
            Ended::Answered(settled) => {
                let message = format!(
                    "the client answered for {} of the {} targets of a request",
                    settled.len(),
                    job.targets.len()
                );
                self.fail(job.targets, None, message, tried.http_status, attempts);
            }
            Ended::Split { message } if job.targets.len() == 1 => {
                self.fail(job.targets, None, message, tried.http_status, attempts);
            }
            Ended::Split { .. } => {
                for target in job.targets {
                    if self.cancel.is_cancelled() {
                        emit(self.events, Event::Abandoned { target });
                        continue;
                    }
                    let cost = self.network.cost(self.settings.action, &target).max(1);
                    Box::pin(self.process(Job {
                        targets: vec![target],
                        cost,
                    }))
                    .await;
                }
            }
            Ended::GaveUp(GaveUp {
                error_code,
                message,
                ..
            }) => self.fail(
                job.targets,
                error_code,
                message,
                tried.http_status,
                attempts,
            ),
            Ended::Rejected(rejection) => {
                // Nothing more can succeed: stop scheduling at once. These targets stay untried.
                self.cancel.cancel();
                emit(self.events, Event::Rejected(rejection));
                for target in job.targets {
                    emit(self.events, Event::Abandoned { target });
                }
            }
            Ended::Cancelled => {
                for target in job.targets {
                    emit(self.events, Event::Abandoned { target });
                }
            }
        }
    }

    /// Records every target of a job `failed` with the last error.
    fn fail(
        &self,
        targets: Vec<Target>,
        error_code: Option<ErrorCode>,
        message: String,
        http_status: Option<u16>,
        attempts: u32,
    ) {
        for target in targets {
            let settled = Settled {
                outcome: Outcome::Failed,
                user: UserRef::default(),
                error_code: error_code.clone(),
                message: Some(message.clone()),
            };
            emit(
                self.events,
                finished(target, settled, http_status, attempts),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ServerClock;
    #[allow(unused_imports)]
    use crate::network::x::identity::testing::{id, name};
    use crate::network::{Account, Acted, RateInfo, Reply, Verdict};
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scripted network: alone, each target gets its list of answers, one per request; in a
    /// batch, every target is unblocked unless one of them spoils the batch (a split).
    struct Script {
        replies: Mutex<HashMap<Target, Vec<Result<Settled, Verdict>>>>,
        batch: Batch,
        costs: HashMap<Target, u32>,
        spoilers: HashSet<Target>,
        known: HashMap<Target, Settled>,
        in_flight: AtomicUsize,
        peak: AtomicUsize,
        sent: AtomicUsize,
        /// The targets of every request, in the order sent.
        requests: Mutex<Vec<Vec<Target>>>,
    }

    impl Script {
        fn new(
            replies: impl IntoIterator<Item = (Target, Vec<Result<Settled, Verdict>>)>,
        ) -> Script {
            Script {
                replies: Mutex::new(replies.into_iter().collect()),
                batch: Batch::SINGLE,
                costs: HashMap::new(),
                spoilers: HashSet::new(),
                known: HashMap::new(),
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                sent: AtomicUsize::new(0),
                requests: Mutex::new(Vec::new()),
            }
        }

        fn requests(&self) -> Vec<Vec<Target>> {
            self.requests.lock().unwrap().clone()
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

        fn batch(&self, _action: Action) -> Batch {
            self.batch
        }

        fn cost(&self, _action: Action, target: &Target) -> u32 {
            self.costs.get(target).copied().unwrap_or(1)
        }

        fn settled(&self, _action: Action, target: &Target) -> Option<Settled> {
            self.known.get(target).cloned()
        }

        async fn act(&self, _action: Action, targets: &[Target]) -> Reply<Acted> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            self.sent.fetch_add(1, Ordering::SeqCst);
            self.requests.lock().unwrap().push(targets.to_vec());
            tokio::time::sleep(Duration::from_millis(10)).await;
            let verdict = match targets {
                [target] => {
                    let mut replies = self.replies.lock().unwrap();
                    let list = replies.get_mut(target).expect("scripted target");
                    let answer = if list.len() > 1 {
                        list.remove(0)
                    } else {
                        list[0].clone()
                    };
                    answer.map(|settled| vec![settled])
                }
                many if many.iter().any(|t| self.spoilers.contains(t)) => Err(Verdict::Split {
                    message: "Internal Server Error".into(),
                }),
                many => Ok(many
                    .iter()
                    .map(|_| Settled::bare(Outcome::Unblocked))
                    .collect()),
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

    fn ok() -> Result<Settled, Verdict> {
        Ok(Settled::bare(Outcome::Unblocked))
    }

    fn fault() -> Result<Settled, Verdict> {
        Err(Verdict::Transient {
            error_code: Some(130.into()),
            message: "Over capacity.".into(),
        })
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
        let limited = Err(Verdict::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        });
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
        let rejected = Err(Verdict::Rejected {
            error_code: Some(89.into()),
            message: "Invalid or expired token.".into(),
            hint: "new token",
        });
        let mut script: Vec<(Target, Vec<Result<Settled, Verdict>>)> =
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

    #[tokio::test(start_paused = true)]
    async fn batches_fill_up_to_the_networks_count_and_cost() {
        let targets: Vec<Target> = (1..=12).map(id).collect();
        let mut script = Script::new(targets.iter().map(|t| (t.clone(), vec![ok()])));
        script.batch = Batch {
            targets: 5,
            cost: 6,
        };
        // Target 3 costs 3 (several records): 1+1+3 leaves room for one more of cost 1.
        script.costs.insert(id(3), 3);
        let (events, script) = run(script, targets, Settings::default()).await;
        let done = finished(&events);
        assert_eq!(done.len(), 12);
        assert!(done.iter().all(|f| f.outcome == Outcome::Unblocked));
        let sizes: Vec<usize> = script.requests().iter().map(Vec::len).collect();
        assert_eq!(
            sizes,
            [4, 5, 3],
            "cost 6 cuts the first, 5 targets the second"
        );
        let sent = events.iter().filter(|e| matches!(e, Event::Sent)).count();
        assert_eq!(sent, 3, "one Sent per request");
    }

    #[tokio::test(start_paused = true)]
    async fn a_split_batch_is_sent_again_one_target_at_a_time() {
        let targets: Vec<Target> = (1..=4).map(id).collect();
        let mut script = Script::new(targets.iter().map(|t| (t.clone(), vec![ok()])));
        script.batch = Batch {
            targets: 4,
            cost: 200,
        };
        script.spoilers.insert(id(2));
        script
            .replies
            .lock()
            .unwrap()
            .insert(id(2), vec![Ok(Settled::bare(Outcome::NotBlocked))]);
        let (events, script) = run(script, targets.clone(), Settings::default()).await;
        let requests = script.requests();
        assert_eq!(requests[0], targets, "the batch first");
        assert_eq!(&requests[1..], [[id(1)], [id(2)], [id(3)], [id(4)]]);
        let done = finished(&events);
        assert_eq!(done.len(), 4, "one record per target");
        let two = done.iter().find(|f| f.target == id(2)).unwrap();
        assert_eq!(two.outcome, Outcome::NotBlocked);
    }

    #[tokio::test(start_paused = true)]
    async fn targets_known_without_a_request_are_recorded_and_never_sent() {
        let targets: Vec<Target> = (1..=3).map(id).collect();
        let mut script = Script::new(targets.iter().map(|t| (t.clone(), vec![ok()])));
        script
            .known
            .insert(id(2), Settled::bare(Outcome::NotBlocked));
        let (events, script) = run(script, targets, Settings::default()).await;
        assert_eq!(script.requests(), [[id(1)], [id(3)]]);
        let two = finished(&events)
            .into_iter()
            .find(|f| f.target == id(2))
            .cloned()
            .unwrap();
        assert_eq!((two.outcome, two.attempts), (Outcome::NotBlocked, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_done_is_sent_again_until_the_action_ends() {
        let t = id(5);
        let step = Err(Verdict::Progress { next_cost: 1 });
        let script = Script::new([(t.clone(), vec![step.clone(), step, fault(), ok()])]);
        let settings = Settings {
            max_attempts: 2,
            ..Settings::default()
        };
        let (events, _) = run(script, vec![t], settings).await;
        let done = finished(&events);
        assert_eq!(
            (done[0].outcome, done[0].attempts),
            (Outcome::Unblocked, 4),
            "steps are not faults: one fault of two allowed"
        );
    }
}
