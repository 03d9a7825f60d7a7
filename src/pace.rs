//! Pacing: send as fast as the server allows and never faster.
//!
//! Three layers, checked in this order before every request:
//! 1. the **gate**, a shared "resume at" instant set by 429s, which pauses every worker at once;
//! 2. the **server budget**: the windows the server announced in `x-rate-limit-*` (and 24-hour)
//!    headers, admitting a request only while `remaining` exceeds the requests already in flight;
//! 3. the **token bucket** (governor) for the local pace (`--rate`), lowered after 429s that the
//!    server did not explain with headers and raised again gradually after clean periods.
//!
//! [`Budget`] and [`Adaptive`] are pure (time is passed in); [`Pacer`] is the async shell around
//! them. Every wait uses `tokio::time`, including governor's through [`TokioClock`], so the whole
//! pacer is tested with paused time rather than sleeps.

use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use governor::clock::Clock as GovernorClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use rand::Rng;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::ServerClock;
use crate::reply::{RateInfo, RateWindow, Reply, Signal, Span, Unit};

/// The longest a single wait for a window may last (a garbage reset must not park the run for
/// days): as far ahead as a reset is believed at all.
const MAX_WINDOW_WAIT: Duration = crate::reply::MAX_RESET_AHEAD;
/// First backoff after a 429 that gave no hint; doubled each time, with full jitter.
const BACKOFF_429_BASE: Duration = Duration::from_secs(1);
/// Longest backoff after 429s: one full standard window.
const BACKOFF_429_CAP: Duration = Duration::from_secs(15 * 60);
/// The local pace never drops below this share of `--rate`.
const MIN_RATE_FACTOR: f64 = 1.0 / 64.0;

/// A pace: `count` requests per `period`, spread evenly (`50/15m` sends one every 18 s).
///
/// ```
/// use std::time::Duration;
/// use bulk_unblock::pace::Rate;
///
/// let rate: Rate = "50/15m".parse().unwrap();
/// assert_eq!(rate.interval(), Duration::from_secs(18));
/// assert_eq!(rate.to_string(), "50/15m");
/// assert!("0/15m".parse::<Rate>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Requests per period.
    pub count: u32,
    /// The period.
    pub period: Duration,
}

/// A `--rate` value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid rate `{input}`: {reason} (expected N/PERIOD, for example 50/15m or 2/s)")]
pub struct RateError {
    input: String,
    reason: &'static str,
}

impl Rate {
    /// `count` per `period` (a constant for defaults; parsed rates are checked by `FromStr`).
    pub const fn new(count: u32, period: Duration) -> Rate {
        Rate { count, period }
    }

    /// Requests per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.count) / self.period.as_secs_f64()
    }

    /// The interval between two requests at this pace.
    pub fn interval(&self) -> Duration {
        self.period / self.count
    }

    /// How long `n` requests take at this pace (the first goes at once).
    pub fn duration_for(&self, n: u64) -> Duration {
        let n = u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.interval().saturating_mul(n)
    }
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(s: &str) -> Result<Rate, RateError> {
        let err = |reason| RateError {
            input: s.to_owned(),
            reason,
        };
        let (count, period) = s.trim().split_once('/').ok_or_else(|| err("missing `/`"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| err("the count is not a whole number"))?;
        if count == 0 {
            return Err(err("the count must be at least 1"));
        }
        let period = period.trim();
        let period = match period {
            "s" | "sec" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86400),
            _ => humantime::parse_duration(period).map_err(|_| err("unknown period"))?,
        };
        if period.is_zero() {
            return Err(err("the period must be longer than zero"));
        }
        if (period / count).is_zero() {
            return Err(err("the rate is too high"));
        }
        Ok(Rate { count, period })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            self.count,
            humantime::format_duration(self.period)
        )
    }
}

/// The governor quota for a pace in cells (requests, or points) per second: evenly spaced, with
/// no more burst than one request's cost needs (accounts have been restricted for bursts, and
/// a burst can overrun a fixed window the server does not announce).
pub fn quota(per_second: f64, burst: NonZeroU32) -> Quota {
    let interval =
        Duration::from_secs_f64(1.0 / per_second.max(1e-6)).max(Duration::from_micros(1));
    Quota::with_period(interval)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// A governor clock that reads `tokio::time`, so paused-time tests drive the token bucket too.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

impl GovernorClock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }
}

type Bucket = RateLimiter<
    NotKeyed,
    InMemoryState,
    TokioClock,
    governor::middleware::NoOpMiddleware<std::time::Instant>,
>;

/// Exponential backoff with full jitter: uniform in `[0, min(cap, base·2^attempt)]`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, rng: &mut impl Rng) -> Duration {
    let ceiling = base
        .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .min(cap);
    ceiling.mul_f64(rng.random::<f64>())
}

/// One announced window, placed on the local monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Known {
    unit: Unit,
    limit: Option<u64>,
    remaining: u64,
    /// The reset as the server stated it: identifies the window.
    reset_server: SystemTime,
    /// The same moment on the local clock (conservatively late).
    reset_at: Instant,
}

/// Why a request may not be sent yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Paused by a 429 until then.
    Gate(Instant),
    /// The server's window is spent until it resets then.
    Window(Instant),
    /// The window's budget is held by requests in flight: wait for one to finish.
    InFlight,
}

/// What the requests in flight hold of the server's budget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Load {
    requests: u64,
    cost: u64,
}

impl Load {
    /// What a request of `cost` holds, in `unit`.
    fn of(unit: Unit, cost: u64) -> u64 {
        match unit {
            Unit::Requests => 1,
            Unit::Cost => cost,
        }
    }

    /// What the load holds, in `unit`.
    fn in_unit(self, unit: Unit) -> u64 {
        match unit {
            Unit::Requests => self.requests,
            Unit::Cost => self.cost,
        }
    }
}

/// The server's budget as announced, plus what is in flight and the 429 gate. Pure.
///
/// Each window counts in its own unit: requests (X, Mastodon, Bluesky's per-IP limit) or
/// points (Bluesky's write budgets), and a request charges its cost to the latter.
#[derive(Clone, Debug, Default)]
pub struct Budget {
    /// Windows by span ([`Span::index`]).
    windows: [Option<Known>; 3],
    /// After a short window reset whose new figures are not known yet: its limit and unit.
    fresh: Option<(u64, Unit)>,
    in_flight: Load,
    resume_at: Option<Instant>,
}

impl Budget {
    /// Takes a slot for a request of `cost`, or says what to wait for.
    pub fn try_admit(&mut self, now: Instant, cost: u64) -> Result<(), Hold> {
        if let Some(t) = self.resume_at {
            if now < t {
                return Err(Hold::Gate(t));
            }
            self.resume_at = None;
        }
        self.expire(now);
        for known in self.windows.iter().flatten() {
            let held = self.in_flight.in_unit(known.unit);
            if held + Load::of(known.unit, cost) > known.remaining {
                return Err(if known.remaining == 0 || held == 0 {
                    Hold::Window(known.reset_at)
                } else {
                    Hold::InFlight
                });
            }
        }
        if self.windows[Span::Short.index()].is_none()
            && let Some((limit, unit)) = self.fresh
        {
            let held = self.in_flight.in_unit(unit);
            if held > 0 && held + Load::of(unit, cost) > limit {
                return Err(Hold::InFlight);
            }
        }
        self.in_flight.requests += 1;
        self.in_flight.cost += cost;
        Ok(())
    }

    /// Forgets windows that have reset: their new figures arrive with the next response.
    fn expire(&mut self, now: Instant) {
        for span in Span::ALL {
            let slot = &mut self.windows[span.index()];
            if let Some(known) = *slot
                && now >= known.reset_at
            {
                if span == Span::Short {
                    self.fresh = known.limit.map(|l| (l, known.unit));
                }
                *slot = None;
            }
        }
    }

    /// Returns the slot of a request of `cost` and learns from the response. `to_local` places
    /// a server time on the local clock; `rate_limited` says whether the response was a 429.
    pub fn finish(
        &mut self,
        now: Instant,
        cost: u64,
        info: &RateInfo,
        to_local: impl Fn(SystemTime) -> Instant,
        rate_limited: bool,
    ) {
        self.release(cost);
        self.expire(now);
        for span in Span::ALL {
            let slot = &mut self.windows[span.index()];
            match info.get(span) {
                Some(w) => Self::learn(slot, w, &to_local),
                // The request probably counted, but the response did not say: assume it did.
                // (Bluesky's headers speak of one limiter at a time: the others go on here.)
                None => {
                    if let Some(k) = slot.as_mut() {
                        k.remaining = k.remaining.saturating_sub(Load::of(k.unit, cost));
                    }
                }
            }
        }
        if rate_limited && let Some(k) = self.windows[Span::Short.index()].as_mut() {
            k.remaining = 0;
        }
    }

    /// Returns the slot of a request of `cost` that was never sent.
    fn release(&mut self, cost: u64) {
        self.in_flight.requests = self.in_flight.requests.saturating_sub(1);
        self.in_flight.cost = self.in_flight.cost.saturating_sub(cost);
    }

    fn learn(slot: &mut Option<Known>, w: RateWindow, to_local: impl Fn(SystemTime) -> Instant) {
        match slot {
            // The same window: the server states its reset identically on every answer.
            Some(k) if w.reset == k.reset_server => {
                k.remaining = k.remaining.min(w.remaining);
                k.limit = w.limit.or(k.limit);
            }
            // A late answer from a window that has already been replaced.
            Some(k) if w.reset < k.reset_server => {}
            _ => {
                *slot = Some(Known {
                    unit: w.unit,
                    limit: w.limit,
                    remaining: w.remaining,
                    reset_server: w.reset,
                    reset_at: to_local(w.reset),
                })
            }
        }
    }

    /// Pauses every request until `until` (keeps a later pause already set).
    pub fn pause_until(&mut self, until: Instant) {
        self.resume_at = Some(self.resume_at.map_or(until, |t| t.max(until)));
    }

    /// Requests currently admitted and not finished.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.requests
    }

    /// The window of `span` as last known.
    pub fn window(&self, span: Span) -> Option<WindowState> {
        self.windows[span.index()].map(|k| WindowState {
            unit: k.unit,
            remaining: k.remaining,
            limit: k.limit,
            resets_at: k.reset_at,
        })
    }

    /// When the gate opens, if it is closed.
    pub fn paused_until(&self) -> Option<Instant> {
        self.resume_at
    }
}

/// A server window as the pacer knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowState {
    /// What it counts.
    pub unit: Unit,
    /// What is left.
    pub remaining: u64,
    /// What it admits in all, when announced.
    pub limit: Option<u64>,
    /// When it resets, on the local clock.
    pub resets_at: Instant,
}

/// The local pace, lowered after unexplained 429s and recovered after clean periods. Pure.
///
/// After a 429 at pace `r` the pace halves and `0.9·r` becomes a ceiling it never climbs past
/// again, so each further 429 lowers the ceiling: their count stays logarithmic in how far
/// `--rate` overshoots, instead of growing with the length of the run.
#[derive(Clone, Debug)]
pub struct Adaptive {
    base: f64,
    current: f64,
    ceiling: f64,
    clean_period: Duration,
    last_event: Instant,
}

impl Adaptive {
    /// Starts at the configured pace.
    pub fn new(rate: Rate, now: Instant) -> Adaptive {
        let base = rate.per_second();
        Adaptive {
            base,
            current: base,
            ceiling: base,
            clean_period: rate.period.max(Duration::from_secs(1)),
            last_event: now,
        }
    }

    /// Requests per second now.
    pub fn current(&self) -> f64 {
        self.current
    }

    /// The configured pace in requests per second.
    pub fn base(&self) -> f64 {
        self.base
    }

    /// A 429 the server did not explain: slow down. Returns the new pace.
    pub fn on_unexplained_429(&mut self, now: Instant) -> f64 {
        self.ceiling = (self.current * 0.9).max(self.base * MIN_RATE_FACTOR);
        self.current = (self.current * 0.5).max(self.base * MIN_RATE_FACTOR);
        self.last_event = now;
        self.current
    }

    /// Marks the time until `until` as not clean (a pause after a 429): recovery counts from then.
    pub fn not_clean_until(&mut self, until: Instant) {
        self.last_event = self.last_event.max(until);
    }

    /// Raises the pace by a tenth of `--rate` for each clean period since the last change.
    /// Returns the new pace when it changed.
    pub fn on_tick(&mut self, now: Instant) -> Option<f64> {
        if self.current >= self.ceiling || now.duration_since(self.last_event) < self.clean_period {
            return None;
        }
        self.current = (self.current + self.base * 0.1).min(self.ceiling);
        self.last_event = now;
        Some(self.current)
    }
}

/// A snapshot of the pacing state, for the display and the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PaceState {
    /// The local pace now, requests per second.
    pub rate: f64,
    /// `--rate`, requests per second.
    pub base_rate: f64,
    /// The server's windows as last announced, by span ([`Span::index`]).
    pub windows: [Option<Announced>; 3],
    /// Time until a 429 pause ends, when paused.
    pub paused_for: Option<Duration>,
    /// 429 answers so far.
    pub rate_limited: u64,
    /// Time the run spent held by the server's limits (overlapping waits counted once).
    pub waited: Duration,
}

/// One server window, for the display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announced {
    /// What it counts.
    pub unit: Unit,
    /// What is left in it.
    pub remaining: u64,
    /// What it admits in all, when announced.
    pub limit: Option<u64>,
    /// Time until it resets.
    pub resets_in: Duration,
}

impl PaceState {
    /// The window of `span`, when announced.
    pub fn window(&self, span: Span) -> Option<Announced> {
        self.windows[span.index()]
    }
}

/// What a worker holds while its request is in flight; hand it back through [`Pacer::finish`].
#[derive(Debug)]
#[must_use = "a permit must be returned with Pacer::finish"]
pub struct Permit {
    /// When the request was admitted: a 429 to a request admitted before the pace was last
    /// lowered says nothing about the lowered pace.
    admitted: Instant,
    /// What the request costs.
    cost: u64,
}

/// Counters the pacer keeps beside the budget.
#[derive(Debug, Default)]
struct Tally {
    rate_limited: u64,
    consecutive_429: u32,
    waited: Duration,
    waited_until: Option<Instant>,
    successes_with_headers: u64,
    /// When the local pace was last lowered.
    lowered_at: Option<Instant>,
    /// Whether an answer other than 429 came since the pace was last lowered.
    answered_since_lowered: bool,
}

/// The async shell: workers `admit` before each request and `finish` after it.
pub struct Pacer {
    /// The token bucket; replaced (not mutated) when the adaptive pace changes.
    bucket: RwLock<Arc<Bucket>>,
    /// Server windows, the gate and requests in flight; locked briefly, never across an await.
    budget: Mutex<Budget>,
    /// The adaptive local pace.
    adaptive: Mutex<Adaptive>,
    /// Counters for the display.
    tally: Mutex<Tally>,
    /// Woken whenever a slot is returned or the gate moves, so held workers re-check.
    changed: Notify,
    /// The most cells the bucket lends at once: the largest cost of one request.
    burst: NonZeroU32,
    clock: Arc<ServerClock>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pacer {
    /// A pacer at `rate`, reading server times through `clock`.
    pub fn new(rate: Rate, clock: Arc<ServerClock>) -> Pacer {
        Pacer::with_burst(rate, clock, 1)
    }

    /// A pacer at `rate` (in points) for requests costing up to `burst` points each: a
    /// request of cost `n` takes `n` cells of the bucket at once, so the bucket must hold that
    /// many. The first such request may go at once; the pace spreads the rest.
    pub fn with_burst(rate: Rate, clock: Arc<ServerClock>, burst: u32) -> Pacer {
        let now = Instant::now();
        let adaptive = Adaptive::new(rate, now);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Pacer {
            bucket: RwLock::new(Arc::new(RateLimiter::direct_with_clock(
                quota(adaptive.current(), burst),
                TokioClock,
            ))),
            budget: Mutex::new(Budget::default()),
            adaptive: Mutex::new(adaptive),
            tally: Mutex::new(Tally::default()),
            changed: Notify::new(),
            burst,
            clock,
        }
    }

    /// Waits until a request costing `cost` may be sent. `None` when cancelled first (nothing
    /// was taken).
    pub async fn admit(&self, cost: u32, cancel: &CancellationToken) -> Option<Permit> {
        self.admit_with(cost, true, cancel).await
    }

    /// Waits until a request that already paid the local pace may be sent again (the client
    /// repaired what made the server refuse it): only the gate and the server's budget hold it.
    pub async fn admit_again(&self, cost: u32, cancel: &CancellationToken) -> Option<Permit> {
        self.admit_with(cost, false, cancel).await
    }

    async fn admit_with(&self, cost: u32, pay: bool, cancel: &CancellationToken) -> Option<Permit> {
        let cells = NonZeroU32::new(cost.max(1)).unwrap_or(NonZeroU32::MIN);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            // 1 and 2: the gate and the server's budget, checked without taking a slot.
            let hold = {
                let mut probe = lock(&self.budget).clone();
                probe.try_admit(now, u64::from(cost)).err()
            };
            if let Some(hold) = hold {
                self.wait(hold, now, notified, cancel).await?;
                continue;
            }
            // 3: the local token bucket.
            if pay {
                let bucket = self
                    .bucket
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                // A cost above the bucket's burst could never be admitted: charge the burst.
                let cells = cells.min(self.burst);
                if let Ok(Err(not_until)) = bucket.check_n(cells) {
                    let wait = not_until.wait_time_from(TokioClock.now());
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.cancelled() => return None,
                    }
                    continue;
                }
            }
            // Take the slot for real; the budget may have changed while we waited on the bucket.
            if lock(&self.budget)
                .try_admit(Instant::now(), u64::from(cost))
                .is_ok()
            {
                if let Some(rate) = lock(&self.adaptive).on_tick(Instant::now()) {
                    self.set_rate(rate);
                }
                return Some(Permit {
                    admitted: Instant::now(),
                    cost: u64::from(cost),
                });
            }
        }
    }

    async fn wait(
        &self,
        hold: Hold,
        now: Instant,
        notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
        cancel: &CancellationToken,
    ) -> Option<()> {
        let until = match hold {
            Hold::Gate(t) | Hold::Window(t) => Some(t.min(now + MAX_WINDOW_WAIT)),
            Hold::InFlight => None,
        };
        if let Some(t) = until {
            self.record_wait(now, t);
        }
        tokio::select! {
            _ = async {
                match until {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => Some(()),
            _ = notified => Some(()),
            _ = cancel.cancelled() => None,
        }
    }

    fn record_wait(&self, now: Instant, until: Instant) {
        let mut tally = lock(&self.tally);
        let from = tally.waited_until.map_or(now, |w| w.max(now));
        if until > from {
            tally.waited += until - from;
            tally.waited_until = Some(until);
        }
    }

    fn set_rate(&self, per_second: f64) {
        let bucket = Arc::new(RateLimiter::direct_with_clock(
            quota(per_second, self.burst),
            TokioClock,
        ));
        *self.bucket.write().unwrap_or_else(|e| e.into_inner()) = bucket;
    }

    /// Places a server time on the local monotonic clock (conservatively late).
    fn to_local(&self, server_time: SystemTime) -> Instant {
        Instant::now() + self.clock.until(server_time).min(MAX_WINDOW_WAIT)
    }

    /// Returns the permit and learns from the reply (rate headers, 429s).
    pub fn finish<S: Signal>(&self, permit: Permit, reply: &Reply<S>) {
        let Permit { admitted, cost } = permit;
        let now = Instant::now();
        let limited = reply.verdict.rate_limited();
        let rate_limited = limited.is_some();
        let info = reply.rate;
        let mut budget = lock(&self.budget);
        budget.finish(now, cost, &info, |t| self.to_local(t), rate_limited);
        let mut tally = lock(&self.tally);
        if rate_limited {
            tally.rate_limited += 1;
            tally.consecutive_429 += 1;
            // The 429 waits for the spent window that resets last; a spent hourly or daily
            // budget explains the 429 by itself: the pace was not too fast.
            let spent = info
                .iter()
                .filter(|(_, w)| w.remaining == 0)
                .max_by_key(|(_, w)| w.reset);
            let long_spent = spent.is_some_and(|(span, _)| span != Span::Short);
            let pause = match (limited.flatten(), spent) {
                (_, Some((_, w))) => self.to_local(w.reset),
                (Some(after), _) => now + after,
                _ => {
                    now + backoff(
                        tally.consecutive_429 - 1,
                        BACKOFF_429_BASE,
                        BACKOFF_429_CAP,
                        &mut rand::rng(),
                    )
                    .max(Duration::from_millis(100))
                }
            };
            budget.pause_until(pause);
            // Successful answers carry no window: the server's limit is hidden, so slow down —
            // once per overrun. The other requests already in flight, and retries that meet the
            // same spent window before anything passes, are part of the same overrun: lowering
            // for each of them would collapse the pace far below the limit.
            let new_overrun = tally
                .lowered_at
                .is_none_or(|t| admitted > t && tally.answered_since_lowered);
            if tally.successes_with_headers == 0 && !long_spent {
                let mut adaptive = lock(&self.adaptive);
                let lowered = new_overrun.then(|| adaptive.on_unexplained_429(now));
                adaptive.not_clean_until(pause);
                drop(adaptive);
                if let Some(rate) = lowered {
                    self.set_rate(rate);
                    tally.lowered_at = Some(now);
                    tally.answered_since_lowered = false;
                }
            }
        } else {
            tally.consecutive_429 = 0;
            tally.answered_since_lowered = true;
            if !info.is_empty() && reply.verdict.is_success() {
                tally.successes_with_headers += 1;
            }
        }
        drop(tally);
        drop(budget);
        self.changed.notify_waiters();
    }

    /// Returns a permit whose request was never sent (cancelled between admit and send).
    pub fn release(&self, permit: Permit) {
        let Permit { admitted: _, cost } = permit;
        lock(&self.budget).release(cost);
        self.changed.notify_waiters();
    }

    /// The state for the display.
    pub fn state(&self) -> PaceState {
        let now = Instant::now();
        let mut budget = lock(&self.budget).clone();
        // A window that has reset is unknown until the next answer, not still spent.
        budget.expire(now);
        let adaptive = lock(&self.adaptive).clone();
        let tally = lock(&self.tally);
        PaceState {
            rate: adaptive.current(),
            base_rate: adaptive.base(),
            windows: Span::ALL.map(|span| {
                budget.window(span).map(|w| Announced {
                    unit: w.unit,
                    remaining: w.remaining,
                    limit: w.limit,
                    resets_in: w.resets_at.saturating_duration_since(now),
                })
            }),
            paused_for: budget
                .paused_until()
                .map(|t| t.saturating_duration_since(now))
                .filter(|d| !d.is_zero()),
            rate_limited: tally.rate_limited,
            waited: tally.waited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Verdict;
    use governor::clock::FakeRelativeClock;
    use std::time::UNIX_EPOCH;

    #[test]
    fn rates_parse() {
        assert_eq!(
            "50/15m".parse::<Rate>().unwrap(),
            Rate {
                count: 50,
                period: Duration::from_secs(900)
            }
        );
        assert_eq!(
            "2/s".parse::<Rate>().unwrap().period,
            Duration::from_secs(1)
        );
        assert_eq!("300/1h".parse::<Rate>().unwrap().count, 300);
        assert_eq!(
            "10/500ms".parse::<Rate>().unwrap().interval(),
            Duration::from_millis(50)
        );
        for bad in ["50", "0/15m", "x/15m", "5/0s", "5/fortnight", "-1/s", ""] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        let fifty: Rate = "50/15m".parse().unwrap();
        assert_eq!(fifty.interval(), Duration::from_secs(18));
        assert_eq!(fifty.duration_for(51), Duration::from_secs(900));
    }

    #[test]
    fn the_quota_spaces_requests_evenly_without_burst() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(
            quota(
                Rate::new(50, Duration::from_secs(900)).per_second(),
                NonZeroU32::MIN,
            ),
            clock.clone(),
        );
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err(), "no burst");
        clock.advance(Duration::from_secs(17));
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_secs(1));
        assert!(limiter.check().is_ok());
        // Over 15 minutes: exactly 50 more.
        let mut sent = 0;
        for _ in 0..900 {
            clock.advance(Duration::from_secs(1));
            while limiter.check().is_ok() {
                sent += 1;
            }
        }
        assert_eq!(sent, 50);
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let mut rng = rand::rng();
        for attempt in 0..40 {
            let d = backoff(
                attempt,
                Duration::from_secs(1),
                Duration::from_secs(900),
                &mut rng,
            );
            assert!(d <= Duration::from_secs(900));
            assert!(d <= Duration::from_secs(1) * 2u32.saturating_pow(attempt.min(20)));
        }
        let big: Duration = (0..200)
            .map(|_| {
                backoff(
                    6,
                    Duration::from_secs(1),
                    Duration::from_secs(900),
                    &mut rng,
                )
            })
            .sum();
        assert!(big > Duration::from_secs(200 * 10), "mean of U[0,64] is 32");
    }

    fn window(remaining: u64, reset_secs: u64) -> RateInfo {
        RateInfo::default()
            .with(
                Span::Short,
                Some(RateWindow {
                    unit: Unit::Requests,
                    limit: Some(40),
                    remaining,
                    reset: UNIX_EPOCH + Duration::from_secs(reset_secs),
                }),
            )
            .with(Span::Day, None)
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_counts_requests_in_flight() {
        let now = Instant::now();
        let base = now;
        let to_local = |t: SystemTime| {
            base + t
                .duration_since(UNIX_EPOCH + Duration::from_secs(1000))
                .unwrap_or_default()
        };
        let mut b = Budget::default();
        // Nothing known: admit freely.
        for _ in 0..3 {
            b.try_admit(now, 1).unwrap();
        }
        // The first answer says 3 left; 2 are still in flight → one more may go.
        b.finish(now, 1, &window(3, 1010), to_local, false);
        assert_eq!(b.in_flight(), 2);
        b.try_admit(now, 1).unwrap();
        assert_eq!(b.try_admit(now, 1), Err(Hold::InFlight));
        // A late answer with a higher figure for the same window does not raise the budget.
        b.finish(now, 1, &window(5, 1010), to_local, false);
        assert_eq!(
            b.window(Span::Short).unwrap().remaining,
            3,
            "the lowest figure is kept"
        );
        b.finish(now, 1, &window(1, 1010), to_local, false);
        assert_eq!(b.in_flight(), 1);
        assert_eq!(b.try_admit(now, 1), Err(Hold::InFlight));
        b.finish(now, 1, &window(0, 1010), to_local, false);
        assert_eq!(b.in_flight(), 0);
        assert_eq!(
            b.try_admit(now, 1),
            Err(Hold::Window(base + Duration::from_secs(10)))
        );
        // After the reset the window is forgotten until the next answer; the limit caps in-flight.
        let later = base + Duration::from_secs(10);
        for _ in 0..40 {
            b.try_admit(later, 1).unwrap();
        }
        assert_eq!(b.try_admit(later, 1), Err(Hold::InFlight));
        // The next window's first answer takes over.
        b.finish(later, 1, &window(39, 1020), to_local, false);
        assert_eq!(b.window(Span::Short).unwrap().remaining, 39);
    }

    #[tokio::test(start_paused = true)]
    async fn answers_without_headers_still_spend_the_known_window() {
        let now = Instant::now();
        let to_local = |_| now + Duration::from_secs(5);
        let mut b = Budget::default();
        b.try_admit(now, 1).unwrap();
        b.finish(now, 1, &window(2, 1), to_local, false);
        b.try_admit(now, 1).unwrap();
        b.finish(now, 1, &RateInfo::default(), to_local, false);
        b.try_admit(now, 1).unwrap();
        b.finish(now, 1, &RateInfo::default(), to_local, false);
        assert!(matches!(b.try_admit(now, 1), Err(Hold::Window(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_holds_everyone_until_it_opens() {
        let now = Instant::now();
        let mut b = Budget::default();
        b.pause_until(now + Duration::from_secs(3));
        b.pause_until(now + Duration::from_secs(1));
        assert_eq!(
            b.try_admit(now, 1),
            Err(Hold::Gate(now + Duration::from_secs(3)))
        );
        assert!(b.try_admit(now + Duration::from_secs(3), 1).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_adaptive_pace_halves_then_recovers_under_a_falling_ceiling() {
        let t0 = Instant::now();
        let mut a = Adaptive::new("10/s".parse().unwrap(), t0);
        assert_eq!(a.on_unexplained_429(t0), 5.0);
        assert_eq!(a.on_tick(t0 + Duration::from_millis(500)), None);
        assert_eq!(a.on_tick(t0 + Duration::from_secs(1)), Some(6.0));
        let mut t = t0 + Duration::from_secs(1);
        for _ in 0..10 {
            t += Duration::from_secs(1);
            a.on_tick(t);
        }
        assert_eq!(a.current(), 9.0, "stops at 0.9 × the pace that failed");
        a.on_unexplained_429(t);
        assert!((a.current() - 4.5).abs() < 1e-9);
        for _ in 0..100 {
            t += Duration::from_secs(1);
            a.on_tick(t);
        }
        assert!((a.current() - 8.1).abs() < 1e-9);
        for _ in 0..100 {
            a.on_unexplained_429(t);
        }
        assert!(a.current() >= 10.0 * MIN_RATE_FACTOR);
    }

    fn reply(verdict: Result<(), Verdict>, rate: RateInfo) -> Reply<Result<(), Verdict>> {
        Reply {
            verdict,
            http_status: Some(200),
            rate,
            server_date: None,
        }
    }

    fn done() -> Result<(), Verdict> {
        Ok(())
    }

    /// A server clock whose wall time follows paused tokio time from a whole second.
    fn paused_clock() -> (Arc<ServerClock>, SystemTime) {
        let epoch = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let base = Instant::now();
        let clock = ServerClock::with_wall_clock(Box::new(move || epoch + base.elapsed()));
        (Arc::new(clock), epoch)
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_with_a_reset_pauses_every_worker_until_then() {
        let (clock, epoch) = paused_clock();
        let pacer = Arc::new(Pacer::new("1000/s".parse().unwrap(), clock));
        let cancel = CancellationToken::new();
        let p = pacer.admit(1, &cancel).await.unwrap();
        let reset = epoch + Duration::from_secs(30);
        pacer.finish(
            p,
            &reply(
                Err(Verdict::RateLimited { retry_after: None }),
                RateInfo::default()
                    .with(
                        Span::Short,
                        Some(RateWindow {
                            unit: Unit::Requests,
                            limit: Some(50),
                            remaining: 0,
                            reset,
                        }),
                    )
                    .with(Span::Day, None),
            ),
        );
        let start = Instant::now();
        let p = pacer.admit(1, &cancel).await.unwrap();
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(29) && waited <= Duration::from_secs(32),
            "{waited:?}"
        );
        pacer.finish(p, &reply(done(), RateInfo::default()));
        assert_eq!(pacer.state().rate_limited, 1);
        assert!(pacer.state().waited >= Duration::from_secs(29));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unexplained_429_backs_off_and_slows_the_pace() {
        let pacer = Pacer::new("100/s".parse().unwrap(), Arc::new(ServerClock::new()));
        let cancel = CancellationToken::new();
        let p = pacer.admit(1, &cancel).await.unwrap();
        pacer.finish(
            p,
            &reply(
                Err(Verdict::RateLimited { retry_after: None }),
                RateInfo::default(),
            ),
        );
        assert_eq!(pacer.state().rate, 50.0);
        let p = pacer.admit(1, &cancel).await.unwrap();
        pacer.finish(
            p,
            &reply(
                Err(Verdict::RateLimited {
                    retry_after: Some(Duration::from_secs(7)),
                }),
                RateInfo::default(),
            ),
        );
        let start = Instant::now();
        let p = pacer.admit(1, &cancel).await.unwrap();
        assert!(start.elapsed() >= Duration::from_secs(7));
        pacer.finish(p, &reply(done(), RateInfo::default()));
        // Halved once: the second 429 met the same spent window before anything passed.
        assert_eq!(pacer.state().rate, 50.0);
        // The pause was not clean; one clean period after it, one step of recovery.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let p = pacer.admit(1, &cancel).await.unwrap();
        pacer.finish(p, &reply(done(), RateInfo::default()));
        assert_eq!(pacer.state().rate, 60.0);
        // A new overrun after a success lowers it again.
        let p = pacer.admit(1, &cancel).await.unwrap();
        pacer.finish(
            p,
            &reply(
                Err(Verdict::RateLimited { retry_after: None }),
                RateInfo::default(),
            ),
        );
        assert_eq!(pacer.state().rate, 30.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_daily_cap_pauses_until_its_reset_without_lowering_the_pace() {
        let (clock, epoch) = paused_clock();
        let pacer = Pacer::new("100/s".parse().unwrap(), clock);
        let cancel = CancellationToken::new();
        let p = pacer.admit(1, &cancel).await.unwrap();
        let day_reset = epoch + Duration::from_secs(3600);
        pacer.finish(
            p,
            &reply(
                Err(Verdict::RateLimited { retry_after: None }),
                RateInfo::default().with(Span::Short, None).with(
                    Span::Day,
                    Some(RateWindow {
                        unit: Unit::Requests,
                        limit: Some(500),
                        remaining: 0,
                        reset: day_reset,
                    }),
                ),
            ),
        );
        assert_eq!(
            pacer.state().rate,
            100.0,
            "the cap, not the pace, refused it"
        );
        let start = Instant::now();
        let p = pacer.admit(1, &cancel).await.unwrap();
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(3599) && waited <= Duration::from_secs(3602),
            "{waited:?}"
        );
        pacer.finish(p, &reply(done(), RateInfo::default()));
    }

    #[tokio::test(start_paused = true)]
    async fn one_overrun_lowers_the_pace_once_however_many_requests_it_refuses() {
        let pacer = Pacer::new("100/s".parse().unwrap(), Arc::new(ServerClock::new()));
        let cancel = CancellationToken::new();
        let limited = || {
            reply(
                Err(Verdict::RateLimited { retry_after: None }),
                RateInfo::default(),
            )
        };
        // Eight requests in flight when the hidden window runs out: all eight are refused.
        let mut in_flight = Vec::new();
        for _ in 0..8 {
            in_flight.push(pacer.admit(1, &cancel).await.unwrap());
        }
        for p in in_flight {
            pacer.finish(p, &limited());
        }
        assert_eq!(pacer.state().rate, 50.0, "halved once, not 2^8 times");
        // Retries after the backoff meet the same spent window: still the same overrun.
        for _ in 0..3 {
            let p = pacer.admit(1, &cancel).await.unwrap();
            pacer.finish(p, &limited());
        }
        assert_eq!(pacer.state().rate, 50.0);
        assert_eq!(pacer.state().rate_limited, 11);
        // The window reset: requests pass, then the pace overruns again → lowered again.
        let p = pacer.admit(1, &cancel).await.unwrap();
        pacer.finish(p, &reply(done(), RateInfo::default()));
        let p = pacer.admit(1, &cancel).await.unwrap();
        pacer.finish(p, &limited());
        assert_eq!(pacer.state().rate, 25.0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_state_forgets_a_window_that_has_reset_and_shows_the_daily_cap() {
        let (clock, epoch) = paused_clock();
        let pacer = Pacer::new("1000/s".parse().unwrap(), clock);
        let cancel = CancellationToken::new();
        let p = pacer.admit(1, &cancel).await.unwrap();
        let info = RateInfo::default()
            .with(
                Span::Short,
                Some(RateWindow {
                    unit: Unit::Requests,
                    limit: Some(40),
                    remaining: 10,
                    reset: epoch + Duration::from_secs(2),
                }),
            )
            .with(
                Span::Day,
                Some(RateWindow {
                    unit: Unit::Requests,
                    limit: Some(30),
                    remaining: 0,
                    reset: epoch + Duration::from_secs(86_000),
                }),
            );
        pacer.finish(p, &reply(done(), info));
        let state = pacer.state();
        let of = |span| state.window(span).map(|w| (w.remaining, w.limit));
        assert_eq!(of(Span::Short), Some((10, Some(40))));
        assert_eq!(of(Span::Day), Some((0, Some(30))));
        assert!(state.window(Span::Day).unwrap().resets_in >= Duration::from_secs(85_990));
        tokio::time::sleep(Duration::from_secs(3)).await;
        let state = pacer.state();
        assert_eq!(
            state.window(Span::Short),
            None,
            "the short window reset: unknown, not 10 left"
        );
        assert_eq!(
            state.window(Span::Day).map(|w| (w.remaining, w.limit)),
            Some((0, Some(30)))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_local_pace_spaces_requests_in_paused_time() {
        let pacer = Pacer::new("4/s".parse().unwrap(), Arc::new(ServerClock::new()));
        let cancel = CancellationToken::new();
        let start = Instant::now();
        for _ in 0..9 {
            let p = pacer.admit(1, &cancel).await.unwrap();
            pacer.finish(p, &reply(done(), RateInfo::default()));
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(2100),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_releases_a_held_worker() {
        let pacer = Arc::new(Pacer::new(
            "1/h".parse().unwrap(),
            Arc::new(ServerClock::new()),
        ));
        let cancel = CancellationToken::new();
        let p = pacer.admit(1, &cancel).await.unwrap();
        pacer.finish(p, &reply(done(), RateInfo::default()));
        let waiter = {
            let pacer = pacer.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move { pacer.admit(1, &cancel).await.is_none() })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.cancel();
        assert!(waiter.await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn honest_windows_are_used_fully_without_overrun() {
        // Eight workers against a window of 40 per 10 s announced honestly.
        let (clock, epoch) = paused_clock();
        let pacer = Arc::new(Pacer::new("1000/s".parse().unwrap(), clock));
        let cancel = CancellationToken::new();
        let server = Arc::new(Mutex::new((0u64, 0u64, 0u64))); // (window index, used, overruns)
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (pacer, cancel, server) = (pacer.clone(), cancel.clone(), server.clone());
            tasks.push(tokio::spawn(async move {
                let mut sent = 0u64;
                while start.elapsed() < Duration::from_secs(60) {
                    let Some(p) = pacer.admit(1, &cancel).await else {
                        break;
                    };
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let elapsed = start.elapsed();
                    let index = elapsed.as_secs() / 10;
                    let (remaining, overrun) = {
                        let mut s = server.lock().unwrap();
                        if s.0 != index {
                            *s = (index, 0, s.2);
                        }
                        if s.1 >= 40 {
                            s.2 += 1;
                            (0, true)
                        } else {
                            s.1 += 1;
                            (40 - s.1, false)
                        }
                    };
                    let info = RateInfo::default()
                        .with(
                            Span::Short,
                            Some(RateWindow {
                                unit: Unit::Requests,
                                limit: Some(40),
                                remaining,
                                reset: epoch + Duration::from_secs((index + 1) * 10),
                            }),
                        )
                        .with(Span::Day, None);
                    let verdict = if overrun {
                        Err(Verdict::RateLimited { retry_after: None })
                    } else {
                        sent += 1;
                        done()
                    };
                    pacer.finish(p, &reply(verdict, info));
                }
                sent
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        let overruns = server.lock().unwrap().2;
        assert_eq!(overruns, 0, "no request beyond the window");
        // Six windows of 40 fit in 60 s; allow the last one to be cut short.
        assert!(total >= 5 * 40 + 30, "used {total} of 240");
    }
}
