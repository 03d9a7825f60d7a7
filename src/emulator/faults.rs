//! Injected faults that no network owns: latency, jitter, server errors, a response lost after
//! the action happened, stalls, spurious 429s and revoked credentials.
//!
//! A long run meets all of these on a real network, and a client must survive each one, so
//! every emulator offers them with the same knobs (the `[faults]` table of a scenario file).
//! The core decides *whether* a fault strikes, from an RNG seeded by the knobs, so a run with
//! the same requests in the same order replays the same faults; each network decides what the
//! fault looks like on its wire (the body of a 503, which error a revoked token gets).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::config::{ConfigError, duration_text};

/// Injected faults. Probabilities are per request, drawn from an RNG seeded with `seed`, so a
/// run with the same requests in the same order replays the same faults. They apply to the
/// requests that change state unless `all_endpoints` is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The RNG seed.
    pub seed: u64,
    /// Fixed delay before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Extra uniform random delay (0..=jitter) before every answer, in milliseconds.
    pub jitter_ms: u64,
    /// Apply the fault rates to every endpoint, not only the mutating ones.
    pub all_endpoints: bool,
    /// Probability of a 503 (the network's "over capacity" answer); nothing is done.
    pub over_capacity_rate: f64,
    /// Probability of a 500 (the network's "internal error" answer); nothing is done.
    pub internal_error_rate: f64,
    /// Probability that the request acts and then the response breaks off: the client receives
    /// the status line and headers of the real answer (e.g. 200), then the connection closes
    /// mid-body, so reading the body fails (reqwest: `send()` succeeds, `bytes()` errs).
    pub drop_after_acting_rate: f64,
    /// Probability of a stall: the answer waits `stall` first (a client's timeout fires).
    pub stall_rate: f64,
    /// How long a stall lasts.
    #[serde(with = "duration_text")]
    pub stall: Duration,
    /// Probability of a 429 although the window has room (the request is not counted). Like
    /// every 429 it says the window is spent, as far as the network's headers can say so.
    pub spurious_429_rate: f64,
    /// Revoke a credential once this many mutating requests made with it have succeeded
    /// (2xx); its next request is refused as a revoked credential's.
    pub revoke_after: Option<u64>,
    /// Revoke a credential once this many requests made with it have been authenticated,
    /// whatever the endpoint and the answer (429s and injected faults included); its next
    /// request is refused as a revoked credential's.
    pub revoke_after_requests: Option<u64>,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            seed: 0,
            latency_ms: 0,
            jitter_ms: 0,
            all_endpoints: false,
            over_capacity_rate: 0.0,
            internal_error_rate: 0.0,
            drop_after_acting_rate: 0.0,
            stall_rate: 0.0,
            stall: Duration::from_secs(60),
            spurious_429_rate: 0.0,
            revoke_after: None,
            revoke_after_requests: None,
        }
    }
}

impl Faults {
    /// Checks that every probability is one (0 to 1, not NaN), naming the first that is not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("over_capacity_rate", self.over_capacity_rate),
            ("internal_error_rate", self.internal_error_rate),
            ("drop_after_acting_rate", self.drop_after_acting_rate),
            ("stall_rate", self.stall_rate),
            ("spurious_429_rate", self.spurious_429_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::Probability { name, value });
            }
        }
        Ok(())
    }

    /// Whether a credential with this many successful writes has reached `revoke_after`.
    pub fn revoked_by_writes(&self, writes: u64) -> bool {
        self.revoke_after.is_some_and(|n| writes >= n)
    }

    /// Whether a credential with this many authenticated requests has reached
    /// `revoke_after_requests`.
    pub fn revoked_by_requests(&self, requests: u64) -> bool {
        self.revoke_after_requests.is_some_and(|n| requests >= n)
    }
}

/// An injected fault, as the request log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A 503, nothing done.
    OverCapacity,
    /// A 500, nothing done.
    InternalError,
    /// The request acted, then the response body broke off.
    DropAfterActing,
    /// The answer waited `faults.stall` first.
    Stall,
    /// A 429 although the window had room.
    Spurious429,
}

/// The fault RNG. It lives in a network's state, under its lock, and is reseeded whenever the
/// configured seed changes, so a test that sets a seed at runtime gets that seed's sequence.
#[derive(Debug)]
pub struct FaultDice {
    rng: StdRng,
    /// The seed `rng` was built from.
    seed: u64,
}

impl FaultDice {
    /// Dice seeded with `seed`.
    pub fn new(seed: u64) -> FaultDice {
        FaultDice {
            rng: StdRng::seed_from_u64(seed),
            seed,
        }
    }

    /// Reseeds when `seed` differs from the one the dice were built from.
    pub fn reseed_if_changed(&mut self, seed: u64) {
        if seed != self.seed {
            *self = FaultDice::new(seed);
        }
    }

    /// The delay before answering: the fixed latency plus a uniform draw of the jitter (drawn
    /// only when there is jitter, so the fault sequence does not shift when there is none).
    pub fn latency(&mut self, faults: &Faults) -> Duration {
        let mut ms = faults.latency_ms;
        if faults.jitter_ms > 0 {
            ms = ms.saturating_add(self.rng.random_range(0..=faults.jitter_ms));
        }
        Duration::from_millis(ms)
    }

    /// Whether a request that the faults apply to gets a spurious 429. Drawn whenever the knob
    /// is on, whether or not the window has room, so the sequence does not depend on timing.
    pub fn spurious_429(&mut self, faults: &Faults, applies: bool) -> bool {
        let rate = faults.spurious_429_rate;
        applies && rate > 0.0 && self.rng.random::<f64>() < rate
    }

    /// One draw decides between no fault and each fault kind, by cumulative probability.
    pub fn draw(&mut self, faults: &Faults) -> Option<FaultKind> {
        let kinds = [
            (faults.over_capacity_rate, FaultKind::OverCapacity),
            (faults.internal_error_rate, FaultKind::InternalError),
            (faults.drop_after_acting_rate, FaultKind::DropAfterActing),
            (faults.stall_rate, FaultKind::Stall),
        ];
        if kinds.iter().all(|(p, _)| *p <= 0.0) {
            return None;
        }
        let draw: f64 = self.rng.random();
        let mut edge = 0.0;
        for (p, kind) in kinds {
            edge += p.max(0.0);
            if draw < edge {
                return Some(kind);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let faults = Faults {
            seed: 7,
            over_capacity_rate: 0.3,
            stall_rate: 0.3,
            jitter_ms: 10,
            ..Faults::default()
        };
        let run = || {
            let mut dice = FaultDice::new(faults.seed);
            (0..50)
                .map(|_| (dice.latency(&faults), dice.draw(&faults)))
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        assert!(first.iter().any(|(_, f)| f.is_none()));
        assert!(first.iter().any(|(_, f)| *f == Some(FaultKind::Stall)));
        assert!(first.iter().all(|(d, _)| *d <= Duration::from_millis(10)));
        // A seed changed at runtime starts that seed's sequence.
        let mut dice = FaultDice::new(3);
        dice.reseed_if_changed(7);
        let again: Vec<_> = (0..50)
            .map(|_| (dice.latency(&faults), dice.draw(&faults)))
            .collect();
        assert_eq!(again, first);
    }

    #[test]
    fn no_rates_no_faults_and_probabilities_are_checked() {
        let mut dice = FaultDice::new(1);
        let off = Faults::default();
        assert!((0..100).all(|_| dice.draw(&off).is_none()));
        assert!((0..100).all(|_| !dice.spurious_429(&off, true)));
        let always = Faults {
            spurious_429_rate: 1.0,
            ..Faults::default()
        };
        assert!(dice.spurious_429(&always, true));
        assert!(!dice.spurious_429(&always, false));
        assert_eq!(off.validate(), Ok(()));
        let bad = Faults {
            stall_rate: f64::NAN,
            ..Faults::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(ConfigError::Probability {
                name: "stall_rate",
                ..
            })
        ));
    }
}
