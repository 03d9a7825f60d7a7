//! Fixed rate windows on the emulator's clock, for whatever a network counts them by (an access
//! token and endpoint, an account, an IP address).
//!
//! A window opens at the first request after the previous one closed, aligned down to a whole
//! second, so the reset it announces is exactly when it closes. A window made with
//! [`Window::epoch_aligned`] instead lies on a fixed grid of its own length counted from the
//! epoch (Mastodon's throttles key their counters on `now / period`), so it may close sooner
//! than one length after its first request. A refused request does not count against the
//! window, as on X and Bluesky; a network whose server counts it anyway (Mastodon's) calls
//! [`Window::consume`] itself. A request may cost more than 1: Bluesky charges points per write
//! (a delete 1, a create 3) against one budget.
//!
//! Lengths come from people (scenario files, flags, admin patches), so the arithmetic
//! saturates: a length of centuries makes a window that never closes, not a panic.

use std::time::Duration;

/// The length of the 24-hour caps, in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// A window length in milliseconds, saturating at `i64::MAX` and at least 1.
pub fn length_ms(length: Duration) -> i64 {
    i64::try_from(length.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// One fixed window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// When the current window closes (emulator clock, ms); 0 before the first request.
    closes_ms: i64,
    /// Cost counted in the current window (requests, where each costs 1).
    used: u32,
    /// Windows lie on the epoch-aligned grid of their length instead of opening at the first
    /// request.
    aligned: bool,
}

/// What a window says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request is within the limit.
    pub allowed: bool,
    /// The limit.
    pub limit: u32,
    /// What is left of the limit in the window: after this request when it was counted, else
    /// before it.
    pub remaining: u32,
    /// When the window closes, epoch seconds on the emulator clock.
    pub reset_secs: i64,
}

impl Window {
    /// A window on the epoch-aligned grid of its length: the one holding `now` runs from
    /// `now - now mod length` to the next multiple of the length.
    pub const fn epoch_aligned() -> Window {
        Window {
            closes_ms: 0,
            used: 0,
            aligned: true,
        }
    }

    /// Opens a new window if the current one has closed.
    fn roll(&mut self, now_ms: i64, length_ms: i64) {
        if now_ms >= self.closes_ms {
            let length_ms = length_ms.max(1);
            let start = if self.aligned {
                now_ms - now_ms.rem_euclid(length_ms)
            } else {
                now_ms.div_euclid(1000) * 1000
            };
            self.closes_ms = start.saturating_add(length_ms);
            self.used = 0;
        }
    }

    /// Checks a request costing `cost` against the window: it is allowed when the cost fits in
    /// what is left. When `count` is true and the request is allowed, its cost is counted
    /// (false lets a caller check several limits first and [`Window::consume`] only if all
    /// allow it).
    pub fn admit(
        &mut self,
        now_ms: i64,
        length_ms: i64,
        limit: u32,
        cost: u32,
        count: bool,
    ) -> Verdict {
        self.roll(now_ms, length_ms);
        let allowed = self.used.saturating_add(cost) <= limit;
        if allowed && count {
            self.consume(cost);
        }
        self.verdict(allowed, limit)
    }

    /// The window's state without counting anything (for a rate-limit status endpoint);
    /// `allowed` says whether a request of cost 1 would pass.
    pub fn peek(&mut self, now_ms: i64, length_ms: i64, limit: u32) -> Verdict {
        self.roll(now_ms, length_ms);
        self.verdict(self.used < limit, limit)
    }

    /// Counts the cost of a request that an earlier check allowed.
    pub fn consume(&mut self, cost: u32) {
        self.used = self.used.saturating_add(cost);
    }

    fn verdict(&self, allowed: bool, limit: u32) -> Verdict {
        Verdict {
            allowed,
            limit,
            remaining: limit.saturating_sub(self.used),
            reset_secs: self.closes_ms.div_euclid(1000) + i64::from(self.closes_ms % 1000 != 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_down_refuses_then_reopens() {
        let mut w = Window::default();
        let v = w.admit(10_400, 2_000, 2, 1, true);
        assert_eq!(
            v,
            Verdict {
                allowed: true,
                limit: 2,
                remaining: 1,
                reset_secs: 12
            }
        );
        let v = w.admit(11_000, 2_000, 2, 1, true);
        assert_eq!((v.allowed, v.remaining), (true, 0));
        // Refused requests do not count: the window stays at 0 remaining, the reset unchanged.
        for _ in 0..3 {
            let v = w.admit(11_999, 2_000, 2, 1, true);
            assert_eq!((v.allowed, v.remaining, v.reset_secs), (false, 0, 12));
        }
        // The window closes exactly at its reset; the next opens aligned to the second.
        let v = w.admit(12_000, 2_000, 2, 1, true);
        assert_eq!(
            v,
            Verdict {
                allowed: true,
                limit: 2,
                remaining: 1,
                reset_secs: 14
            }
        );
        let v = w.admit(20_700, 2_000, 2, 1, true);
        assert_eq!(v.reset_secs, 22);
    }

    #[test]
    fn peek_and_uncounted_checks_do_not_consume() {
        let mut w = Window::default();
        assert!(w.admit(0, 1_000, 1, 1, false).allowed);
        assert_eq!(w.peek(500, 1_000, 1).remaining, 1);
        w.consume(1);
        assert!(!w.peek(600, 1_000, 1).allowed);
    }

    #[test]
    fn requests_may_cost_more_than_one() {
        let mut w = Window::default();
        // A budget of 10 points: creates cost 3, deletes 1.
        let v = w.admit(0, 1_000, 10, 3, true);
        assert_eq!((v.allowed, v.remaining), (true, 7));
        for _ in 0..2 {
            assert!(w.admit(100, 1_000, 10, 3, true).allowed);
        }
        // 1 point left: a create no longer fits, and being refused does not spend it.
        let v = w.admit(200, 1_000, 10, 3, true);
        assert_eq!((v.allowed, v.remaining), (false, 1));
        let v = w.admit(300, 1_000, 10, 1, true);
        assert_eq!((v.allowed, v.remaining), (true, 0));
        assert!(!w.admit(400, 1_000, 10, 1, true).allowed);
        // A cost larger than the whole limit never passes; a new window starts afresh.
        assert!(!w.admit(1_000, 1_000, 10, 11, true).allowed);
        assert_eq!(w.admit(1_000, 1_000, 10, 10, true).remaining, 0);
    }

    #[test]
    fn huge_lengths_saturate_instead_of_overflowing() {
        let mut w = Window::default();
        let now = 1_700_000_000_123;
        let v = w.admit(now, length_ms(Duration::MAX), 1, 1, true);
        assert!(v.allowed);
        assert_eq!(v.reset_secs, i64::MAX / 1000 + 1);
        // The window never closes, so it keeps refusing.
        assert!(!w.admit(now + DAY_MS, i64::MAX, 1, 1, true).allowed);
        // Near the end of the clock's range the window saturates too.
        let mut w = Window::default();
        assert!(w.admit(i64::MAX - 10, i64::MAX, 1, 1, true).allowed);
        assert!(!w.admit(i64::MAX - 5, i64::MAX, 1, 1, true).allowed);
        assert_eq!(length_ms(Duration::ZERO), 1);
        assert_eq!(length_ms(Duration::from_secs(2)), 2_000);
    }

    #[test]
    fn epoch_aligned_windows_close_on_the_grid_of_their_length() {
        let mut w = Window::epoch_aligned();
        // A 300 s grid: the first request at 1,000,123 s falls in [999,900 s, 1,000,200 s).
        let v = w.admit(1_000_123_456, 300_000, 2, 1, true);
        assert_eq!((v.allowed, v.remaining, v.reset_secs), (true, 1, 1_000_200));
        assert!(w.admit(1_000_199_999, 300_000, 2, 1, true).allowed);
        assert!(!w.admit(1_000_199_999, 300_000, 2, 1, true).allowed);
        // The next window starts on the grid, not at the request that opens it.
        let v = w.admit(1_000_250_000, 300_000, 2, 1, true);
        assert_eq!((v.remaining, v.reset_secs), (1, 1_000_500));
        // A refused request may be counted by the caller, as Mastodon's throttles count it.
        w.consume(5);
        assert_eq!(w.peek(1_000_260_000, 300_000, 2).remaining, 0);
        let mut w = Window::epoch_aligned();
        assert_eq!(w.admit(-1, 1_000, 1, 1, true).reset_secs, 0);
    }

    #[test]
    fn negative_clock_values_align_down() {
        let mut w = Window {
            closes_ms: i64::MIN,
            ..Window::default()
        };
        let v = w.admit(-1_500, 1_000, 5, 1, true);
        assert_eq!(v.reset_secs, -1);
    }
}
