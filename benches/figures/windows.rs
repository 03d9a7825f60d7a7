//! A server's rate windows rebuilt from the arrivals it logged, and how much of what they
//! allowed a run spent.
//!
//! Each network lays its windows out in its own way ([`Grid`]); the figures rebuild them with
//! the emulator's rule, so the time a client leaves idle (between a window's close and its next
//! request, or a whole window without a request) counts as capacity it did not use.

use std::time::Duration;

/// How a server lays out the windows of one limit.
#[derive(Clone, Copy, Debug)]
pub enum Grid {
    /// X: a window opens at the first request after the previous one closed, aligned down to a
    /// whole second, and lasts its length.
    OpenedByRequest(Duration),
    /// Mastodon (Rack::Attack keys its counters on `now / period`): windows of their length on
    /// a fixed grid counted from the epoch, one after the other whether requests come or not.
    Epoch(Duration),
    /// Bluesky (the PDS's rate-limiter-flexible): a window opens at the exact millisecond of
    /// the first request charged after the previous one closed, and lasts its length.
    OpenedAtRequest(Duration),
}

impl Grid {
    fn length_ms(self) -> i64 {
        let (Grid::OpenedByRequest(length) | Grid::Epoch(length) | Grid::OpenedAtRequest(length)) =
            self;
        (length.as_millis() as i64).max(1)
    }
}

/// What one logged request did to its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charge {
    /// Spent a request of the window's allowance and was served.
    Used,
    /// Spent this many points of the window's allowance and was served (Bluesky's writes: a
    /// delete costs 1).
    Points(u32),
    /// Refused with 429.
    Refused,
    /// Neither (another error); it still opens a window where requests open them.
    Other,
}

/// One rebuilt window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// When it opened (emulator clock, ms).
    pub start_ms: i64,
    /// When it closed.
    pub closes_ms: i64,
    /// Requests served in it (points, where requests cost points).
    pub used: u64,
    /// 429s answered in it.
    pub refused: u64,
}

/// The windows of `grid` that the arrivals (time on the emulator clock, and what each did, in
/// arrival order) fell into. On an epoch grid, the windows between two arrivals are there too,
/// empty.
pub fn rebuild(arrivals: impl IntoIterator<Item = (i64, Charge)>, grid: Grid) -> Vec<Window> {
    let length = grid.length_ms();
    let mut windows: Vec<Window> = Vec::new();
    for (at_ms, charge) in arrivals {
        let closes = windows.last().map_or(i64::MIN, |w| w.closes_ms);
        if at_ms >= closes {
            let start = match grid {
                Grid::OpenedByRequest(_) => at_ms.div_euclid(1000) * 1000,
                Grid::Epoch(_) => at_ms - at_ms.rem_euclid(length),
                Grid::OpenedAtRequest(_) => at_ms,
            };
            if let Grid::Epoch(_) = grid
                && closes != i64::MIN
            {
                // The idle windows between the last one and this one.
                let mut idle = closes;
                while idle < start {
                    windows.push(Window {
                        start_ms: idle,
                        closes_ms: idle + length,
                        used: 0,
                        refused: 0,
                    });
                    idle += length;
                }
            }
            windows.push(Window {
                start_ms: start,
                closes_ms: start + length,
                used: 0,
                refused: 0,
            });
        }
        let window = windows.last_mut().expect("a window is open");
        match charge {
            Charge::Used => window.used += 1,
            Charge::Points(points) => window.used += u64::from(points),
            Charge::Refused => window.refused += 1,
            Charge::Other => {}
        }
    }
    windows
}

/// Requests (or points) served in `count` windows from the `skip`th on, over what the server
/// allowed from the first one's opening to the last one's close (`limit` a window length); and
/// the 429s answered in them.
///
/// A run that ended before those windows is measured over those it reached, with a warning.
pub fn utilisation(windows: &[Window], limit: u32, skip: usize, count: usize) -> (f64, u64) {
    let measured = &windows[skip.min(windows.len())..(skip + count).min(windows.len())];
    let (Some(first), Some(last)) = (measured.first(), measured.last()) else {
        return (0.0, 0);
    };
    if windows.len() < skip + count {
        eprintln!("warning: the run ended after {} windows", windows.len());
    }
    let length = first.closes_ms - first.start_ms;
    let used: u64 = measured.iter().map(|w| w.used).sum();
    let refused = measured.iter().map(|w| w.refused).sum();
    let allowed = f64::from(limit) * (last.closes_ms - first.start_ms) as f64 / length as f64;
    (used as f64 / allowed, refused)
}
