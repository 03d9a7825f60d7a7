//! The one retry loop: admit → send → learn → back off, for every request the tool sends.
//!
//! Reads (block-list pages, lookups), the credentials check and the workers' actions all go
//! through [`send`], so each policy is written and tested once:
//! - a 429 waits for the window the server named (the pacer closes its gate) and does not count
//!   as a failed attempt;
//! - a fault that may pass (5xx, a timeout, a lost connection) backs off exponentially with
//!   jitter, up to [`Retry::max_attempts`] requests;
//! - a request the client has just repaired itself for (it corrected its clock from the server's
//!   `Date`, or renewed its session) is sent again at once, without paying the local pace a
//!   second time, at most [`MAX_RESENDS`] times in a row;
//! - rejected credentials end the loop at once: no further request can succeed.
//!
//! Cancellation differs by kind of request: a read in flight is abandoned (it changes nothing
//! on the server), an action in flight is waited for so that its result can be recorded.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::display;
use crate::pace::{Pacer, backoff};
use crate::reply::{ErrorCode, Reply, Verdict};

/// How many times in a row a request is sent again after the client repaired itself (a clock
/// corrected, a session renewed) before it is given up: a server that keeps refusing is not
/// fixed by sending more.
pub const MAX_RESENDS: u32 = 3;

/// How many steps one action may take ([`Verdict::Progress`]) before it is given up: far more
/// than any target needs (a Bluesky user blocked by a few records), so only a loop stops here.
pub const MAX_STEPS: u32 = 1000;

/// How many times, and how patiently, a request is sent again after faults that may pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Requests at most, when they keep failing with faults (429s do not count).
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

/// What happens to a request in flight when the run is cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InFlight {
    /// Abandon it: a read changes nothing on the server, its answer is not worth waiting for.
    Abandon,
    /// Wait for it: an action may have changed the server, and its result must be recorded.
    Finish,
}

/// One request's settings for [`send`].
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The pace the request waits for.
    pub pacer: &'a Pacer,
    /// Stops the loop (Ctrl-C, rejected credentials elsewhere, a failing journal).
    pub cancel: &'a CancellationToken,
    /// The fault policy.
    pub retry: Retry,
    /// What the pace charges for one sending of the request (points, or 1 per request).
    pub cost: u32,
    /// What cancellation does to a request in flight.
    pub in_flight: InFlight,
}

/// The credentials were refused: what the server said, and what the user should do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status.
    pub http_status: Option<u16>,
    /// The API's error code, if any.
    pub error_code: Option<ErrorCode>,
    /// The API's error message.
    pub message: String,
    /// What to fix.
    pub hint: &'static str,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The APIs' messages often end with a period already ("Could not authenticate you.").
        write!(
            f,
            "credentials rejected by the server (HTTP {}{}): {}. {}",
            self.http_status.map_or("?".to_owned(), |s| s.to_string()),
            self.error_code
                .as_ref()
                .map(|c| format!(", code {c}"))
                .unwrap_or_default(),
            self.message.trim_end_matches('.'),
            self.hint
        )
    }
}

impl std::error::Error for Rejection {}

/// Why a request was given up without an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaveUp {
    /// The API's error code of the last attempt, if any.
    pub error_code: Option<ErrorCode>,
    /// What went wrong the last time.
    pub message: String,
    /// Faults in a row, or 0 when the request was given up for another reason (the server
    /// kept refusing what the client repaired, or answered something unusable).
    pub faults: u32,
}

/// How the loop ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended<T> {
    /// The server answered with what was asked.
    Answered(T),
    /// Given up: faults persisted, the server kept refusing what the client repaired, or the
    /// answer was unusable.
    GaveUp(GaveUp),
    /// The credentials were refused: the run must stop.
    Rejected(Rejection),
    /// A request covering several targets failed as a whole in a way one of them may cause:
    /// the caller sends them one by one.
    Split {
        /// What the server answered.
        message: String,
    },
    /// Cancelled before an answer came (nothing is known of the request, if it was sent).
    Cancelled,
}

/// The loop's result, with what is needed to record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tried<T> {
    /// How it ended.
    pub ended: Ended<T>,
    /// Requests sent.
    pub attempts: u32,
    /// The HTTP status of the last answer, if one came.
    pub http_status: Option<u16>,
}

/// Hears what the loop does, for counters and logs. Called synchronously, in order.
pub trait Observe {
    /// A request is about to leave.
    fn sent(&mut self) {}
    /// A 429: the request waits for the window and is sent again.
    fn rate_limited(&mut self) {}
    /// A fault: the request is sent again after `after`.
    fn retrying(&mut self, _attempt: u32, _reason: &str, _after: Duration) {}
}

/// An observer that logs, for reads (`what` names the request: "reading the block list").
pub struct Logged<'a> {
    /// What the request does, for the log lines.
    pub what: &'a str,
    /// Requests at most, for "attempt 2 of 8".
    pub max_attempts: u32,
}

impl Observe for Logged<'_> {
    fn rate_limited(&mut self) {
        tracing::info!("{}: rate limited (429); waiting for the window", self.what);
    }

    fn retrying(&mut self, attempt: u32, reason: &str, after: Duration) {
        tracing::warn!(
            "{} failed ({reason}); trying again in {} (attempt {} of {})",
            self.what,
            display::clock(after),
            attempt + 1,
            self.max_attempts
        );
    }
}

/// Sends one request through the pacer until it is answered, given up, rejected or cancelled.
/// `send` is called once per attempt.
pub async fn send<T, F, Fut>(
    request: Request<'_>,
    observe: &mut impl Observe,
    mut send: F,
) -> Tried<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Reply<Result<T, Verdict>>>,
{
    let Request {
        pacer,
        cancel,
        retry,
        mut cost,
        in_flight,
    } = request;
    let mut tried = Tried {
        ended: Ended::Cancelled,
        attempts: 0,
        http_status: None,
    };
    let mut faults = 0u32;
    let mut resends = 0u32;
    let mut steps = 0u32;
    loop {
        // A resend follows a repair the client made at once: the pace was paid for this
        // request already, so only the server's budget and the gate are waited for.
        let admitted = if resends > 0 {
            pacer.admit_again(cost, cancel).await
        } else {
            pacer.admit(cost, cancel).await
        };
        let Some(permit) = admitted else {
            return tried;
        };
        if cancel.is_cancelled() {
            pacer.release(permit);
            return tried;
        }
        tried.attempts += 1;
        observe.sent();
        let reply = match in_flight {
            InFlight::Finish => send().await,
            InFlight::Abandon => tokio::select! {
                reply = send() => reply,
                _ = cancel.cancelled() => {
                    pacer.release(permit);
                    return tried;
                }
            },
        };
        pacer.finish(permit, &reply);
        if reply.http_status.is_some() {
            tried.http_status = reply.http_status;
        }
        let verdict = match reply.verdict {
            Ok(value) => {
                tried.ended = Ended::Answered(value);
                return tried;
            }
            Err(verdict) => verdict,
        };
        if !matches!(verdict, Verdict::Resend { .. }) {
            resends = 0;
        }
        match verdict {
            Verdict::RateLimited { .. } => observe.rate_limited(),
            Verdict::Resend {
                error_code,
                message,
            } => {
                resends += 1;
                if resends > MAX_RESENDS {
                    tried.ended = Ended::GaveUp(GaveUp {
                        error_code,
                        message,
                        faults: 0,
                    });
                    return tried;
                }
            }
            Verdict::Transient {
                error_code,
                message,
            } => {
                faults += 1;
                if faults >= retry.max_attempts {
                    tried.ended = Ended::GaveUp(GaveUp {
                        error_code,
                        message,
                        faults,
                    });
                    return tried;
                }
                let after = backoff(faults - 1, retry.base, retry.cap, &mut rand::rng());
                observe.retrying(tried.attempts, &message, after);
                tokio::select! {
                    _ = tokio::time::sleep(after) => {}
                    _ = cancel.cancelled() => return tried,
                }
            }
            Verdict::Rejected {
                error_code,
                message,
                hint,
            } => {
                tried.ended = Ended::Rejected(Rejection {
                    http_status: tried.http_status,
                    error_code,
                    message,
                    hint,
                });
                return tried;
            }
            Verdict::Final {
                error_code,
                message,
            } => {
                tried.ended = Ended::GaveUp(GaveUp {
                    error_code,
                    message,
                    faults: 0,
                });
                return tried;
            }
            Verdict::Split { message } => {
                tried.ended = Ended::Split { message };
                return tried;
            }
            Verdict::Progress { next_cost } => {
                // A step done is not a fault: the count of faults in a row starts over.
                faults = 0;
                steps += 1;
                cost = next_cost;
                if steps >= MAX_STEPS {
                    tried.ended = Ended::GaveUp(GaveUp {
                        error_code: None,
                        message: format!("the action took more than {MAX_STEPS} requests"),
                        faults: 0,
                    });
                    return tried;
                }
            }
        }
    }
}

/// Why a read stopped before it had its answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The credentials were rejected (exit 3).
    #[error("credentials rejected while {what}")]
    Rejected {
        /// What was being read.
        what: String,
        /// What the server said.
        #[source]
        rejection: Rejection,
    },
    /// The run was interrupted; what was read is kept.
    #[error("interrupted while {what}")]
    Interrupted {
        /// What was being read.
        what: String,
    },
    /// Faults persisted, or the server kept refusing, or its answer was unusable.
    #[error("{what} failed{}: {}", times(.gave_up.faults), .gave_up.message)]
    Failed {
        /// What was being read.
        what: String,
        /// The last error.
        gave_up: GaveUp,
    },
}

fn times(faults: u32) -> String {
    match faults {
        0 | 1 => String::new(),
        n => format!(" {n} times; the last error"),
    }
}

/// Sends one paced read (a page, a lookup batch, the credentials check) through [`send`],
/// logging retries, and turns anything but an answer into a [`ReadError`] naming `what`.
pub async fn read<T, F, Fut>(
    pacer: &Pacer,
    cancel: &CancellationToken,
    what: &str,
    retry: Retry,
    send_once: F,
) -> Result<T, ReadError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Reply<Result<T, Verdict>>>,
{
    let request = Request {
        pacer,
        cancel,
        retry,
        cost: 1,
        in_flight: InFlight::Abandon,
    };
    let mut log = Logged {
        what,
        max_attempts: retry.max_attempts,
    };
    match send(request, &mut log, send_once).await.ended {
        Ended::Answered(value) => Ok(value),
        Ended::GaveUp(gave_up) => Err(ReadError::Failed {
            what: what.to_owned(),
            gave_up,
        }),
        // A read covers one thing: there is nothing to split.
        Ended::Split { message } => Err(ReadError::Failed {
            what: what.to_owned(),
            gave_up: GaveUp {
                error_code: None,
                message,
                faults: 0,
            },
        }),
        Ended::Rejected(rejection) => Err(ReadError::Rejected {
            what: what.to_owned(),
            rejection,
        }),
        Ended::Cancelled => Err(ReadError::Interrupted {
            what: what.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex;

    use super::*;
    use crate::clock::ServerClock;

    /// Answers from a script, one per call (the last repeats), noting when each call came.
    struct Script {
        answers: Mutex<Vec<Result<u32, Verdict>>>,
        calls: Mutex<Vec<tokio::time::Instant>>,
    }

    impl Script {
        fn new(answers: Vec<Result<u32, Verdict>>) -> Script {
            Script {
                answers: Mutex::new(answers),
                calls: Mutex::new(Vec::new()),
            }
        }

        async fn call(&self) -> Reply<Result<u32, Verdict>> {
            self.calls.lock().unwrap().push(tokio::time::Instant::now());
            let mut answers = self.answers.lock().unwrap();
            let answer = if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            };
            Reply::bare(answer)
        }

        fn calls(&self) -> Vec<tokio::time::Instant> {
            self.calls.lock().unwrap().clone()
        }
    }

    fn resend() -> Result<u32, Verdict> {
        Err(Verdict::Resend {
            error_code: Some(135.into()),
            message: "timestamp refused".into(),
        })
    }

    fn fault() -> Result<u32, Verdict> {
        Err(Verdict::Transient {
            error_code: None,
            message: "HTTP 503".into(),
        })
    }

    const RETRY: Retry = Retry {
        max_attempts: 3,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(4),
    };

    async fn run(script: &Script, rate: &str, cancel: &CancellationToken) -> Tried<u32> {
        let pacer = Pacer::new(rate.parse().unwrap(), Arc::new(ServerClock::new()));
        let request = Request {
            pacer: &pacer,
            cancel,
            retry: RETRY,
            cost: 1,
            in_flight: InFlight::Finish,
        };
        send(
            request,
            &mut Logged {
                what: "test",
                max_attempts: 3,
            },
            || script.call(),
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn resends_go_at_once_without_the_pace_and_stop_after_a_few() {
        // One request a minute: a resend that paid the pace would wait a minute.
        let script = Script::new(vec![resend()]);
        let start = tokio::time::Instant::now();
        let tried = run(&script, "1/1m", &CancellationToken::new()).await;
        assert_eq!(tried.attempts, 1 + MAX_RESENDS);
        assert!(
            matches!(&tried.ended, Ended::GaveUp(g) if g.message == "timestamp refused" && g.faults == 0),
            "{tried:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        // A resend that then succeeds is an answer.
        let script = Script::new(vec![resend(), resend(), Ok(7)]);
        let tried = run(&script, "1/1m", &CancellationToken::new()).await;
        assert_eq!((tried.ended, tried.attempts), (Ended::Answered(7), 3));
    }

    #[tokio::test(start_paused = true)]
    async fn faults_back_off_up_to_max_attempts_and_429s_do_not_count() {
        let limited = Err(Verdict::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
        });
        let script = Script::new(vec![fault(), limited.clone(), limited, fault(), fault()]);
        let tried = run(&script, "100/s", &CancellationToken::new()).await;
        assert!(
            matches!(&tried.ended, Ended::GaveUp(g) if g.faults == 3),
            "{tried:?}"
        );
        assert_eq!(tried.attempts, 5, "three faults and two 429s");
        let calls = script.calls();
        assert!(
            calls[2] - calls[1] >= Duration::from_secs(5),
            "Retry-After waited"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejection_and_a_final_answer_end_at_once() {
        let rejected = Err(Verdict::Rejected {
            error_code: Some(89.into()),
            message: "Invalid or expired token.".into(),
            hint: "new token",
        });
        let script = Script::new(vec![rejected]);
        let tried = run(&script, "100/s", &CancellationToken::new()).await;
        assert!(matches!(tried.ended, Ended::Rejected(_)), "{tried:?}");
        assert_eq!(tried.attempts, 1);
        let gone = Err(Verdict::Final {
            error_code: None,
            message: "HTTP 404".into(),
        });
        let script = Script::new(vec![gone]);
        let tried = run(&script, "100/s", &CancellationToken::new()).await;
        assert!(
            matches!(&tried.ended, Ended::GaveUp(g) if g.message == "HTTP 404"),
            "{tried:?}"
        );
        assert_eq!(tried.attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_is_abandoned_at_cancellation_and_says_so() {
        let pacer = Pacer::new("100/s".parse().unwrap(), Arc::new(ServerClock::new()));
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop.cancel();
        });
        let got: Result<u32, ReadError> = read(&pacer, &cancel, "reading", RETRY, || async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Reply::bare(Ok(1))
        })
        .await;
        assert!(matches!(got, Err(ReadError::Interrupted { .. })), "{got:?}");
    }
}
