//! The PDS's rate limiters as its rate-limiter-flexible backend runs them, on the core's
//! [`Window`].
//!
//! Three things differ from a plain window, and each was checked against the reference PDS:
//! every request is charged before it is judged, so a refused request still spends its points
//! (after a refused 200-write batch even a 1-point delete is refused until the reset); a
//! window opens at the exact millisecond of its first request, while `RateLimit-Reset` is its
//! end rounded *down* to the second (a client that sends again at the bare reset may still be
//! refused); and the headers describe one limiter only, the one that refused or else the one
//! with the fewest points left, so which budget they speak of changes during a run.

use std::collections::HashMap;

use super::Host;
use super::config::{Budget, Limits};
use crate::emulator::limits::Window;

/// One limiter's count for one key (an account, an IP, an identifier).
#[derive(Clone, Debug, Default)]
pub struct Meter {
    /// The count, on a clock shifted by `phase_ms` so that the core's window (aligned to
    /// whole seconds) opens at the exact millisecond of the first request.
    window: Window,
    /// Milliseconds past the second at which the current window opened.
    phase_ms: i64,
    /// When the current window closes (emulator clock, ms); 0 before the first request.
    closes_ms: i64,
}

/// What one limiter said about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The limit.
    pub limit: u32,
    /// Points left after this request (0 when it overdrew them).
    pub remaining: u32,
    /// When the window closes, emulator clock in ms.
    pub closes_ms: i64,
    /// The window's length in whole seconds.
    pub window_secs: u64,
    /// Whether the request fitted.
    pub allowed: bool,
}

impl Meter {
    /// Charges `cost` points against `budget` at `now_ms`, whether or not they fit.
    pub fn charge(&mut self, now_ms: i64, budget: &Budget, cost: u32) -> Status {
        let window_secs = budget.window.as_secs().max(1);
        let length_ms = i64::try_from(window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        if now_ms >= self.closes_ms {
            self.window = Window::default();
            self.phase_ms = now_ms.rem_euclid(1000);
            self.closes_ms = now_ms.saturating_add(length_ms);
        }
        let verdict = self.window.admit(
            now_ms - self.phase_ms,
            length_ms,
            budget.points,
            cost,
            false,
        );
        self.window.consume(cost);
        Status {
            limit: budget.points,
            remaining: verdict.remaining.saturating_sub(cost),
            closes_ms: self.closes_ms,
            window_secs,
            allowed: verdict.allowed,
        }
    }
}

/// Every limiter's meters, by key.
#[derive(Clone, Debug, Default)]
pub struct Limiters {
    /// The per-IP limiter of each host (the entryway and the PDS are separate servers).
    pub per_ip: HashMap<(Host, String), Meter>,
    /// Hourly write points by account DID.
    pub hourly: HashMap<String, Meter>,
    /// Daily write points by account DID.
    pub daily: HashMap<String, Meter>,
    /// `createSession` by identifier and IP, per 5 minutes.
    pub session: HashMap<String, Meter>,
    /// `createSession` by identifier and IP, per day.
    pub session_daily: HashMap<String, Meter>,
}

/// Which limiters a request meets, besides the per-IP one every XRPC call meets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Charge {
    /// Only the per-IP limiter.
    IpOnly,
    /// Write points of an account: hourly and daily.
    Points {
        /// The account's DID.
        did: String,
        /// The points.
        cost: u32,
    },
    /// `createSession`'s own limiters, keyed by identifier and IP as sent.
    Session {
        /// `IDENTIFIER-IP`.
        key: String,
    },
}

/// The statuses of every limiter a request met, route-specific ones first and the per-IP one
/// last (the PDS's order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Charged {
    statuses: Vec<Status>,
}

impl Limiters {
    /// Charges a request against its limiters. A limiter whose cost is 0 is skipped, as the
    /// PDS skips it (an empty `applyWrites` costs no points).
    pub fn charge(
        &mut self,
        limits: &Limits,
        now_ms: i64,
        host: Host,
        ip: &str,
        charge: &Charge,
    ) -> Charged {
        let mut statuses = Vec::with_capacity(3);
        match charge {
            Charge::IpOnly => {}
            Charge::Points { did, cost } if *cost > 0 => {
                for (meters, budget) in [
                    (&mut self.hourly, &limits.hourly),
                    (&mut self.daily, &limits.daily),
                ] {
                    let meter = meters.entry(did.clone()).or_default();
                    statuses.push(meter.charge(now_ms, budget, *cost));
                }
            }
            Charge::Points { .. } => {}
            Charge::Session { key } => {
                for (meters, budget) in [
                    (&mut self.session_daily, &limits.session_daily),
                    (&mut self.session, &limits.session),
                ] {
                    let meter = meters.entry(key.clone()).or_default();
                    statuses.push(meter.charge(now_ms, budget, 1));
                }
            }
        }
        let meter = self.per_ip.entry((host, ip.to_owned())).or_default();
        statuses.push(meter.charge(now_ms, &limits.per_ip, 1));
        Charged { statuses }
    }
}

impl Charged {
    /// The first limiter that refused the request, if any.
    pub fn refusal(&self) -> Option<&Status> {
        self.statuses.iter().find(|s| !s.allowed)
    }

    /// The limiter the headers describe: the one that refused, else the one with the fewest
    /// points left (the first of equals).
    pub fn shown(&self) -> Option<&Status> {
        self.refusal().or_else(|| {
            self.statuses
                .iter()
                .reduce(|low, s| if s.remaining < low.remaining { s } else { low })
        })
    }

    /// The headers of an answer: the shown limiter's `RateLimit-*` (with remaining 0 on a
    /// 429) and, on a 429, `Retry-After`. `refused` marks a 429, a limiter's or an injected
    /// one.
    pub fn headers(
        &self,
        limits: &Limits,
        now_ms: i64,
        refused: bool,
    ) -> Vec<(&'static str, String)> {
        let Some(shown) = self.shown() else {
            return Vec::new();
        };
        let mut headers = Vec::new();
        let mut exposed = Vec::new();
        if limits.headers {
            let remaining = if refused { 0 } else { shown.remaining };
            headers.push(("ratelimit-limit", shown.limit.to_string()));
            headers.push((
                "ratelimit-reset",
                shown.closes_ms.div_euclid(1000).to_string(),
            ));
            headers.push(("ratelimit-remaining", remaining.to_string()));
            headers.push((
                "ratelimit-policy",
                format!("{};w={}", shown.limit, shown.window_secs),
            ));
            exposed.extend([
                "RateLimit-Limit",
                "RateLimit-Reset",
                "RateLimit-Remaining",
                "RateLimit-Policy",
            ]);
        }
        if refused && limits.retry_after {
            let wait_ms = shown.closes_ms.saturating_sub(now_ms).max(0);
            let secs = wait_ms.saturating_add(999) / 1000;
            headers.push(("retry-after", secs.to_string()));
            exposed.push("Retry-After");
        }
        if !exposed.is_empty() {
            headers.push(("access-control-expose-headers", exposed.join(", ")));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn refused_requests_still_spend_their_points() {
        let budget = Budget::new(10, 3600);
        let mut meter = Meter::default();
        let start = 1_796_303_952_109;
        assert_eq!(meter.charge(start, &budget, 4).remaining, 6);
        // A batch that does not fit is refused and overdraws the budget...
        let refused = meter.charge(start + 10, &budget, 8);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        // ...so even one point is refused until the window closes.
        assert!(!meter.charge(start + 20, &budget, 1).allowed);
        // The window closes at the exact millisecond it opened, plus its length.
        assert!(!meter.charge(start + 3_600_000 - 1, &budget, 1).allowed);
        let next = meter.charge(start + 3_600_000, &budget, 1);
        assert!(next.allowed);
        assert_eq!(next.closes_ms, start + 2 * 3_600_000);
    }

    #[test]
    fn headers_describe_the_refusing_or_the_tightest_limiter() {
        let mut limits = Limits {
            hourly: Budget::new(5000, 3600),
            per_ip: Budget::new(3000, 300),
            ..Limits::default()
        };
        let mut meters = Limiters::default();
        let now = 1_796_303_951_302;
        let ip = Charge::IpOnly;
        let charged = meters.charge(&limits, now, Host::Pds, "127.0.0.1", &ip);
        let h = charged.headers(&limits, now, false);
        assert_eq!(header(&h, "ratelimit-policy"), Some("3000;w=300"));
        assert_eq!(header(&h, "ratelimit-remaining"), Some("2999"));
        // The reset is the window's end rounded down to the second (951.302 + 300 s).
        assert_eq!(header(&h, "ratelimit-reset"), Some("1796304251"));
        assert_eq!(header(&h, "retry-after"), None);
        // Batches of 200 points make the hourly budget the tighter one.
        let batch = Charge::Points {
            did: "did:plc:a".into(),
            cost: 200,
        };
        let mut last = Charged::default();
        for _ in 0..15 {
            last = meters.charge(&limits, now + 1, Host::Pds, "127.0.0.1", &batch);
        }
        let h = last.headers(&limits, now + 1, false);
        assert_eq!(header(&h, "ratelimit-policy"), Some("5000;w=3600"));
        assert_eq!(header(&h, "ratelimit-remaining"), Some("2000"));
        // A refusal shows the refusing limiter with remaining 0 and when to come back.
        limits.hourly.points = 3000;
        let refused = meters.charge(&limits, now + 2_000, Host::Pds, "127.0.0.1", &batch);
        assert!(refused.refusal().is_some());
        let h = refused.headers(&limits, now + 2_000, true);
        assert_eq!(header(&h, "ratelimit-remaining"), Some("0"));
        assert_eq!(header(&h, "retry-after"), Some("3599"));
        assert_eq!(
            header(&h, "access-control-expose-headers"),
            Some(
                "RateLimit-Limit, RateLimit-Reset, RateLimit-Remaining, RateLimit-Policy, Retry-After"
            )
        );
        limits.headers = false;
        limits.retry_after = false;
        assert!(refused.headers(&limits, now, true).is_empty());
        // An empty batch costs nothing and meets only the per-IP limiter.
        let empty = Charge::Points {
            did: "did:plc:a".into(),
            cost: 0,
        };
        let charged = meters.charge(&limits, now, Host::Pds, "127.0.0.1", &empty);
        assert_eq!(charged.shown().map(|s| s.limit), Some(3000));
    }
}
