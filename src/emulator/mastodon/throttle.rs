//! Mastodon's throttles as Rack::Attack runs them, before any controller: which apply to a
//! request, which refuses it, and what the `X-RateLimit-*` headers then say.
//!
//! Rack::Attack checks its throttles in the order they are declared and stops at the first one
//! a request takes past its limit (`throttles.any?`): every throttle checked up to and
//! including that one has counted the request, the later ones have not. Counters live in
//! windows keyed by `now / period`, so every window is aligned to the epoch. On an answer the
//! headers describe the applicable throttle with the least left (`min_by limit - count`, the
//! first on a tie), on a 429 the throttle that refused it; the reset is
//! `now + (period - now.to_i % period)` written with `iso8601(6)`, so it keeps the request
//! time's fraction of a second.

use super::config::{HeaderMode, Throttle};
use super::render::iso8601_micros;
use super::state::State;
use crate::emulator::limits::{Window, length_ms};

/// What one throttle says about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// The throttle's limit.
    pub limit: u32,
    /// What is left after this request (0 on a refusal).
    pub remaining: u32,
    /// The throttle's period, whole seconds.
    pub period_secs: i64,
}

/// The throttles' verdict on a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not throttled; the throttle closest to its limit, when any applied.
    Pass(Option<Rate>),
    /// Refused by this throttle: 429.
    Throttled(Rate),
}

/// Who a request counts against.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject {
    /// The request is under `/api` (the first three throttles apply only there).
    pub api: bool,
    /// The request pages (`paging_request?`).
    pub paging: bool,
    /// The token record the request carried, revoked or not (Doorkeeper finds revoked tokens
    /// too; only an unknown token leaves the request anonymous).
    pub token: Option<usize>,
}

/// Counts one request against one window; `Err` when it takes the window past its limit.
fn count(window: &mut Window, throttle: &Throttle, now_ms: i64) -> Result<Rate, Rate> {
    let period_secs = throttle.period_secs();
    let length = length_ms(std::time::Duration::from_secs(period_secs.unsigned_abs()));
    let before = window.admit(now_ms, length, throttle.limit, 1, false);
    // Rack::Attack increments before it compares, so a refused request counts too.
    window.consume(1);
    let rate = Rate {
        limit: throttle.limit,
        remaining: before.remaining.saturating_sub(1),
        period_secs,
    };
    if before.allowed { Ok(rate) } else { Err(rate) }
}

/// Runs the throttles over a request, counting it where Rack::Attack would.
pub fn check(state: &mut State, subject: Subject, now_ms: i64) -> Verdict {
    let mut lowest = None;
    match run(state, subject, now_ms, &mut lowest) {
        Err(rate) => Verdict::Throttled(Rate {
            remaining: 0,
            ..rate
        }),
        Ok(()) => Verdict::Pass(lowest),
    }
}

/// The throttles in Rack::Attack's order; stops at the first refusal. `lowest` keeps the
/// applied throttle with the least remaining (the first of equals).
fn run(
    state: &mut State,
    subject: Subject,
    now_ms: i64,
    lowest: &mut Option<Rate>,
) -> Result<(), Rate> {
    let limits = &state.config.limits;
    let token = subject.token.filter(|&i| i < state.tokens.len());
    let user = token
        .and_then(|i| state.tokens[i].account)
        .and_then(|a| state.by_user.get(&a).copied());
    let mut step = |window: Option<&mut Window>, throttle: &Throttle| -> Result<(), Rate> {
        if let Some(window) = window {
            let rate = count(window, throttle, now_ms)?;
            if lowest.is_none_or(|l| rate.remaining < l.remaining) {
                *lowest = Some(rate);
            }
        }
        Ok(())
    };
    if subject.api {
        step(
            user.and_then(|u| state.users.get_mut(u))
                .map(|u| &mut u.window),
            &limits.per_user,
        )?;
        step(
            token
                .and_then(|i| state.tokens.get_mut(i))
                .map(|t| &mut t.window),
            &limits.per_token,
        )?;
        step(
            user.is_none().then_some(&mut state.anonymous),
            &limits.unauthenticated,
        )?;
    }
    if subject.paging {
        step(
            user.and_then(|u| state.users.get_mut(u))
                .map(|u| &mut u.paging),
            &limits.paging,
        )?;
        step(
            user.is_none().then_some(&mut state.anonymous_paging),
            &limits.unauthenticated_paging,
        )?;
    }
    Ok(())
}

/// When the window of `period_secs` holding `now_ms` closes, plus the request time's fraction
/// of a second: the `X-RateLimit-Reset` value.
pub fn reset_ms(now_ms: i64, period_secs: i64) -> i64 {
    let now_secs = now_ms.div_euclid(1000);
    let period = period_secs.max(1);
    now_ms.saturating_add((period - now_secs.rem_euclid(period)).saturating_mul(1000))
}

/// The rate headers of an answer, as the header mode allows them: every API answer in mode
/// `all`, 429s also in mode `only429`.
pub fn headers(
    rate: Option<Rate>,
    mode: HeaderMode,
    throttled: bool,
    now_ms: i64,
) -> Vec<(&'static str, String)> {
    let wanted = match mode {
        HeaderMode::All => true,
        HeaderMode::Only429 => throttled,
        HeaderMode::None => false,
    };
    match rate {
        Some(r) if wanted => vec![
            ("x-ratelimit-limit", r.limit.to_string()),
            ("x-ratelimit-remaining", r.remaining.to_string()),
            (
                "x-ratelimit-reset",
                iso8601_micros(reset_ms(now_ms, r.period_secs)),
            ),
        ],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::mastodon::config::Config;
    use crate::emulator::mastodon::seed::Seed;

    fn builtin(configure: impl FnOnce(&mut Config)) -> State {
        let mut config = Config::default();
        configure(&mut config);
        State::new(Seed::builtin(), config).expect("builtin seed is valid")
    }

    fn token(state: &State, name: &str) -> Option<usize> {
        state.tokens.iter().position(|t| t.name == name)
    }

    #[test]
    fn resets_keep_the_fraction_and_land_on_the_grid() {
        // 13:23:20.019 with a 300 s period: the window closes at 13:25:00, plus .019.
        let now = 1_599_571_400_019;
        assert_eq!(
            iso8601_micros(reset_ms(now, 300)),
            "2020-09-08T13:25:00.019000Z"
        );
        // Exactly on a boundary, a whole period is left.
        assert_eq!(reset_ms(1_599_571_500_000, 300), 1_599_571_800_000);
    }

    #[test]
    fn the_closest_throttle_speaks_and_paging_has_its_own() {
        let mut s = builtin(|c| {
            c.limits.per_token.limit = 5;
            c.limits.paging.limit = 2;
        });
        let t = token(&s, "demo-bulk-unblock");
        let now = 1_700_000_000_000;
        let plain = Subject {
            api: true,
            paging: false,
            token: t,
        };
        let paging = Subject {
            paging: true,
            ..plain
        };
        assert_eq!(
            check(&mut s, plain, now),
            Verdict::Pass(Some(Rate {
                limit: 5,
                remaining: 4,
                period_secs: 300
            }))
        );
        // Paging: 2 per 900 s per user is now the closest.
        let Verdict::Pass(Some(r)) = check(&mut s, paging, now) else {
            panic!("passes")
        };
        assert_eq!((r.limit, r.remaining, r.period_secs), (2, 1, 900));
        let Verdict::Pass(Some(r)) = check(&mut s, paging, now) else {
            panic!("passes")
        };
        assert_eq!((r.limit, r.remaining), (2, 0));
        // The third paging request is refused by the paging throttle, after the per-token one
        // counted it.
        assert_eq!(
            check(&mut s, paging, now),
            Verdict::Throttled(Rate {
                limit: 2,
                remaining: 0,
                period_secs: 900
            })
        );
        let Verdict::Pass(Some(r)) = check(&mut s, plain, now) else {
            panic!("plain requests still pass")
        };
        assert_eq!((r.limit, r.remaining), (5, 0));
        assert!(matches!(check(&mut s, plain, now), Verdict::Throttled(r) if r.limit == 5));
        // The next per-token window opens on the 300 s grid.
        assert!(matches!(
            check(&mut s, plain, reset_ms(now, 300)),
            Verdict::Pass(_)
        ));
    }

    #[test]
    fn anonymous_requests_share_the_ip_throttle() {
        let mut s = builtin(|c| c.limits.unauthenticated.limit = 1);
        let anon = Subject {
            api: true,
            paging: false,
            token: None,
        };
        let app_only = Subject {
            token: token(&s, "app-only"),
            ..anon
        };
        assert!(matches!(check(&mut s, anon, 0), Verdict::Pass(Some(r)) if r.limit == 1));
        // An app-only token has no user: it counts per token and per IP.
        assert!(matches!(check(&mut s, app_only, 0), Verdict::Throttled(r) if r.limit == 1));
        let off_api = Subject { api: false, ..anon };
        assert_eq!(check(&mut s, off_api, 0), Verdict::Pass(None));
        let h = headers(
            Some(Rate {
                limit: 1,
                remaining: 0,
                period_secs: 300,
            }),
            HeaderMode::Only429,
            false,
            0,
        );
        assert!(h.is_empty());
    }
}
