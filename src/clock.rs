//! The server's clock, as seen from here.
//!
//! Rate-limit resets arrive in the server's clock and OAuth timestamps are checked against it, so a
//! local clock minutes off would either wait a window too long or fire a storm of 429s. Each
//! response's `Date` header bounds the offset between the two clocks: the server stamped it at some
//! moment between sending the request and receiving the answer, and `Date` has whole seconds, so
//! `offset ∈ [date − received, date + 1 s − sent]`. Intersecting these intervals narrows the estimate
//! over a run. Waits use the interval's lower bound, which errs on the side of waiting a little long.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bounds on `server time − local time`, in milliseconds. Pure: no clock is read here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffsetEstimate {
    bounds: Option<(i64, i64)>,
}

impl OffsetEstimate {
    /// Narrows the estimate with one response: `date` from the server, `sent`/`received` local.
    pub fn observe(&mut self, date: SystemTime, sent: SystemTime, received: SystemTime) {
        let date = millis(date);
        let lo = date - millis(received);
        let hi = date + 1000 - millis(sent);
        if lo > hi {
            // `received` before `sent`: the local clock stepped back mid-request. Ignore the sample.
            return;
        }
        self.bounds = match self.bounds {
            Some((l, h)) if lo.max(l) <= hi.min(h) => Some((lo.max(l), hi.min(h))),
            // Disjoint: one of the clocks was stepped. Trust the new sample alone.
            _ => Some((lo, hi)),
        };
    }

    /// Forgets what was learned, then takes one sample (after the server refused a timestamp).
    pub fn reset_to(&mut self, date: SystemTime, sent: SystemTime, received: SystemTime) {
        self.bounds = None;
        self.observe(date, sent, received);
    }

    /// The conservative offset (lower bound) in milliseconds; 0 before any sample.
    pub fn offset_ms(&self) -> i64 {
        self.bounds.map_or(0, |(lo, _)| lo)
    }

    /// The width of the interval, in milliseconds, when known.
    pub fn uncertainty_ms(&self) -> Option<i64> {
        self.bounds.map(|(lo, hi)| hi - lo)
    }

    /// Converts a local time to the server's clock.
    pub fn to_server(&self, local: SystemTime) -> SystemTime {
        shift(local, self.offset_ms())
    }

    /// How long from local time `now` until the server's clock reads `server_time`, never negative.
    pub fn until(&self, server_time: SystemTime, now: SystemTime) -> Duration {
        let server_now = self.to_server(now);
        server_time
            .duration_since(server_now)
            .unwrap_or(Duration::ZERO)
    }
}

/// The local wall clock; replaceable so paused-time tests keep it in step with `tokio::time`.
type WallClock = Box<dyn Fn() -> SystemTime + Send + Sync>;

/// A shared [`OffsetEstimate`] read by the signer and the pacer.
pub struct ServerClock {
    /// Updated by every response; held only for a few arithmetic operations.
    estimate: Mutex<OffsetEstimate>,
    /// Reads the local time.
    wall: WallClock,
}

impl Default for ServerClock {
    fn default() -> ServerClock {
        ServerClock::with_wall_clock(Box::new(SystemTime::now))
    }
}

impl std::fmt::Debug for ServerClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerClock")
            .field("estimate", &self.estimate())
            .finish_non_exhaustive()
    }
}

impl ServerClock {
    /// A clock that assumes no offset until it sees a response.
    pub fn new() -> ServerClock {
        ServerClock::default()
    }

    /// A clock reading the local time from `wall` (tests pass one driven by paused tokio time).
    pub fn with_wall_clock(wall: WallClock) -> ServerClock {
        ServerClock {
            estimate: Mutex::new(OffsetEstimate::default()),
            wall,
        }
    }

    /// The local wall-clock time.
    pub fn local_now(&self) -> SystemTime {
        (self.wall)()
    }

    /// The current estimate.
    pub fn estimate(&self) -> OffsetEstimate {
        *self.estimate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server's time now, as best known.
    pub fn server_now(&self) -> SystemTime {
        self.estimate().to_server(self.local_now())
    }

    /// Feeds one response.
    pub fn observe(&self, date: SystemTime, sent: SystemTime, received: SystemTime) {
        self.estimate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(date, sent, received);
    }

    /// Starts over from one response (after a refused timestamp).
    pub fn reset_to(&self, date: SystemTime, sent: SystemTime, received: SystemTime) {
        self.estimate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reset_to(date, sent, received);
    }

    /// How long from now until the server's clock reads `server_time`.
    pub fn until(&self, server_time: SystemTime) -> Duration {
        self.estimate().until(server_time, self.local_now())
    }
}

fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

fn shift(t: SystemTime, ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        t.checked_add(d).unwrap_or(t)
    } else {
        t.checked_sub(d).unwrap_or(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn a_server_ahead_is_bounded_from_below() {
        let mut e = OffsetEstimate::default();
        // Local 1_000_000.300 sent, 1_000_000.350 received; server says 1_000_120 (whole second).
        e.observe(at(1_000_120_000), at(1_000_000_300), at(1_000_000_350));
        assert_eq!(e.offset_ms(), 120_000 - 350);
        assert_eq!(e.uncertainty_ms(), Some(1000 - 300 + 350));
        // A later sample taken just after the server's second ticked narrows it.
        e.observe(at(1_000_121_000), at(1_000_000_990), at(1_000_001_010));
        assert_eq!(e.offset_ms(), 120_000 - 10);
        assert!(e.uncertainty_ms().unwrap() <= 1000);
    }

    #[test]
    fn a_server_behind_gives_a_negative_offset_and_later_waits() {
        let mut e = OffsetEstimate::default();
        e.observe(at(880_000), at(1_000_000), at(1_000_040));
        assert!(e.offset_ms() < -119_000 && e.offset_ms() >= -120_040);
        // Reset announced at server 890_000 → local ≈ 1_010_000: about 10 s from local 1_000_050.
        let wait = e.until(at(890_000), at(1_000_050));
        assert!(wait >= Duration::from_millis(9_990) && wait <= Duration::from_millis(10_100));
    }

    #[test]
    fn the_estimate_never_waits_less_than_the_truth() {
        // True offset +5_432 ms; samples with various latencies and second boundaries.
        let truth = 5_432i64;
        let mut e = OffsetEstimate::default();
        for i in 0..50u64 {
            let sent = 2_000_000 + i * 137;
            let received = sent + 20 + (i % 7) * 3;
            let stamped_local = sent + (received - sent) / 2;
            let server = ((stamped_local as i64 + truth) / 1000) * 1000;
            e.observe(at(server as u64), at(sent), at(received));
            assert!(e.offset_ms() <= truth, "lower bound above the truth");
        }
        assert!(truth - e.offset_ms() < 200, "estimate did not narrow");
    }

    #[test]
    fn a_clock_step_restarts_the_estimate() {
        let mut e = OffsetEstimate::default();
        e.observe(at(1_000_000), at(1_000_000), at(1_000_010));
        e.observe(at(1_300_000), at(1_000_100), at(1_000_110));
        assert!(e.offset_ms() > 299_000);
    }

    #[test]
    fn nothing_known_means_no_offset() {
        let e = OffsetEstimate::default();
        assert_eq!(e.offset_ms(), 0);
        assert_eq!(e.until(at(5_000), at(3_000)), Duration::from_secs(2));
        assert_eq!(e.until(at(1_000), at(3_000)), Duration::ZERO);
    }
}
