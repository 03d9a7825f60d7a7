//! A session with the network: the client, the server's clock, and the credentials check that
//! comes before anything else is sent.
//!
//! Every command that talks to a network opens one. Nothing mutating is sent until the check has
//! said whose account the credentials act for: the journal is then checked against that account,
//! so a journal is never reused for another.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::clock::ServerClock;
use crate::config::{Loaded, Net};
use crate::error::Error;
use crate::network::{Account, Client, Connect, Network};
use crate::pace::{Pacer, Rate};
use crate::retry::{self, Retry};

/// The local pace of credential checks. `verify_credentials` admits 75 per 15 minutes; a check
/// is sent again only after a fault's backoff or a 429's wait, so this merely spaces retries.
const VERIFY_RATE: Rate = Rate {
    count: 1,
    period: std::time::Duration::from_secs(1),
};

/// A client whose credentials were checked, the account they act for, and the clock it feeds.
pub struct Session {
    /// The network client.
    pub client: Client,
    /// The server's clock, as the client's answers told it.
    pub clock: Arc<ServerClock>,
    /// The account the credentials act for.
    pub account: Account,
}

impl Session {
    /// Builds the client for `net` with the credentials `loaded` and checks them (see
    /// [`verify`]). Nothing else is sent.
    pub async fn open(
        net: &Net,
        loaded: Loaded,
        retry: Retry,
        cancel: &CancellationToken,
    ) -> Result<Session, Error> {
        let clock = Arc::new(ServerClock::new());
        let connect = Connect {
            scope: net.scope,
            api: net.api,
            api_base: loaded.api_base,
            secrets: loaded.secrets,
            timeout: net.timeout,
        };
        let client = Client::new(net.network, connect, clock.clone())?;
        let account = verify(&client, &clock, retry, cancel).await?;
        Ok(Session {
            client,
            clock,
            account,
        })
    }
}

/// Checks the credentials, nothing being sent first. Faults (5xx, timeouts, lost connections)
/// are sent again with the executor's backoff, up to `retry.max_attempts`; a 429 waits for the
/// reset the server gave (else `Retry-After`, else a backoff) and does not count; a refused
/// timestamp is corrected and sent again, a few times at most. A rejection exits 3 at once, a
/// server that stays unreachable 1, Ctrl-C 130 (also mid-wait).
pub async fn verify<N: Network>(
    network: &N,
    clock: &Arc<ServerClock>,
    retry: Retry,
    cancel: &CancellationToken,
) -> Result<Account, Error> {
    let pacer = Pacer::new(VERIFY_RATE, clock.clone());
    retry::read(&pacer, cancel, "checking the credentials", retry, || {
        network.verify()
    })
    .await
    .map_err(Error::unchecked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Exit;
    use crate::network::{BlockPage, Reply, UserRef, Verdict};
    use crate::outcome::Action;
    use crate::target::Target;
    use std::sync::Mutex;
    use std::time::Duration;

    /// One scripted answer to the credentials check.
    type Answer = fn() -> Result<Account, Verdict>;

    /// A network whose credentials check answers from a script (the last answer repeats), and
    /// that notes when each check arrived on tokio's clock.
    struct Checks {
        script: Mutex<Vec<Answer>>,
        arrivals: Mutex<Vec<tokio::time::Instant>>,
    }

    impl Checks {
        fn new(script: Vec<Answer>) -> Checks {
            Checks {
                script: Mutex::new(script),
                arrivals: Mutex::new(Vec::new()),
            }
        }

        fn arrivals(&self) -> Vec<tokio::time::Instant> {
            self.arrivals.lock().unwrap().clone()
        }
    }

    impl Network for Checks {
        fn network(&self) -> crate::network::NetworkId {
            crate::network::NetworkId::X
        }

        fn lookup_batch(&self) -> usize {
            100
        }

        async fn verify(&self) -> Reply<Result<Account, Verdict>> {
            self.arrivals
                .lock()
                .unwrap()
                .push(tokio::time::Instant::now());
            let answer = {
                let mut script = self.script.lock().unwrap();
                if script.len() > 1 {
                    script.remove(0)
                } else {
                    script[0]
                }
            };
            Reply::bare(answer())
        }

        async fn act(&self, _: Action, _: &[Target]) -> Reply<crate::network::Acted> {
            unreachable!("the check acts on nothing")
        }

        async fn blocked_page(&self, _: Option<&str>) -> Reply<Result<BlockPage, Verdict>> {
            unreachable!("the check lists nothing")
        }

        async fn lookup(&self, _: &[Target]) -> Reply<Result<Vec<UserRef>, Verdict>> {
            unreachable!("the check looks nobody up")
        }
    }

    fn account() -> Result<Account, Verdict> {
        Ok(Account {
            user_id: "7".into(),
            screen_name: Some("me".into()),
        })
    }

    fn over_capacity() -> Result<Account, Verdict> {
        Err(Verdict::Transient {
            error_code: Some(130.into()),
            message: "HTTP 503: Over capacity".into(),
        })
    }

    fn reset() -> Result<Account, Verdict> {
        Err(Verdict::Transient {
            error_code: None,
            message: "connection reset".into(),
        })
    }

    fn limited() -> Result<Account, Verdict> {
        Err(Verdict::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        })
    }

    fn rejected() -> Result<Account, Verdict> {
        Err(Verdict::Rejected {
            error_code: Some(89.into()),
            message: "Invalid or expired token.".into(),
            hint: "Generate a new token.",
        })
    }

    fn refused_timestamp() -> Result<Account, Verdict> {
        Err(Verdict::Resend {
            error_code: Some(135.into()),
            message: "the server refused the request's timestamp".into(),
        })
    }

    const RETRY: Retry = Retry {
        max_attempts: 4,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
    };

    async fn check(network: &Checks, cancel: &CancellationToken) -> Result<Account, Error> {
        verify(network, &Arc::new(ServerClock::new()), RETRY, cancel).await
    }

    #[tokio::test(start_paused = true)]
    async fn faults_on_the_check_are_retried_and_429s_wait_without_counting() {
        let network = Checks::new(vec![over_capacity, limited, reset, limited, account]);
        let got = check(&network, &CancellationToken::new()).await;
        assert_eq!(got.unwrap().user_id, "7");
        // Two faults and two 429s, within four attempts: 429s do not count.
        let at = network.arrivals();
        assert_eq!(at.len(), 5);
        for (limited, next) in [(1, 2), (3, 4)] {
            assert!(
                at[next] - at[limited] >= Duration::from_secs(30),
                "Retry-After waited"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_that_keeps_failing_gives_up_after_max_attempts_and_a_rejection_at_once() {
        let network = Checks::new(vec![over_capacity]);
        let got = check(&network, &CancellationToken::new()).await;
        let text = crate::error::chain(got.as_ref().unwrap_err());
        assert!(
            text.contains("4 times") && text.contains("nothing was sent"),
            "{text}"
        );
        assert_eq!(got.unwrap_err().exit(), Exit::SomeFailed);
        assert_eq!(network.arrivals().len(), 4);

        let network = Checks::new(vec![rejected]);
        let got = check(&network, &CancellationToken::new()).await;
        assert_eq!(got.unwrap_err().exit(), Exit::Credentials);
        assert_eq!(network.arrivals().len(), 1, "a rejection is not sent again");
    }

    #[tokio::test(start_paused = true)]
    async fn ctrl_c_during_a_wait_between_checks_interrupts_at_once() {
        let network = Checks::new(vec![limited]);
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            stop.cancel();
        });
        let start = tokio::time::Instant::now();
        let got = check(&network, &cancel).await;
        assert_eq!(got.unwrap_err().exit(), Exit::Interrupted);
        assert_eq!(network.arrivals().len(), 1);
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_timestamp_refused_again_and_again_ends_the_check_saying_so() {
        let network = Checks::new(vec![refused_timestamp]);
        let got = check(&network, &CancellationToken::new()).await;
        let error = got.unwrap_err();
        assert_eq!(error.exit(), Exit::SomeFailed);
        let text = crate::error::chain(&error);
        assert!(text.contains("timestamp"), "{text}");
        // The first request and the few resends after it, then no more.
        assert_eq!(
            network.arrivals().len(),
            1 + crate::retry::MAX_RESENDS as usize
        );
    }
}
