//! What the user sees: the progress display during a run and the summary after it.
//!
//! On a terminal an indicatif bar shows counts per outcome, the pace, the state of the server's
//! window, retries, 429s and an ETA. Off a terminal (cron, nohup, CI) indicatif draws nothing, so a
//! plain progress line is printed every ~10 s instead. Only the writer task calls into this module.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

use crate::outcome::Outcome;
use crate::pace::{Announced, PaceState};
use crate::reply::{Span, Unit};

/// `text` cut to `max` characters with an ellipsis, so a message about a long run of garbage
/// (a line, a header value, a server's answer) stays readable.
pub fn shorten(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..cut])),
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// An error and its causes on one line, skipping a cause whose text the previous one already holds.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// How chatty the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// Default: progress and summary.
    Normal,
    /// `-v`: one line per finished target and per retry.
    Verbose,
    /// `-vv`: debug detail.
    Debug,
}

/// Counts for one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Targets finished per outcome, in [`Outcome::ALL`] order.
    pub outcomes: [u64; Outcome::ALL.len()],
    /// Requests sent.
    pub sent: u64,
    /// Retries after transient faults.
    pub retries: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Targets left unfinished because the run stopped.
    pub abandoned: u64,
}

impl Counts {
    /// Adds one finished target.
    pub fn add(&mut self, outcome: Outcome) {
        self.outcomes[index(outcome)] += 1;
    }

    /// Finished targets with this outcome.
    pub fn get(&self, outcome: Outcome) -> u64 {
        self.outcomes[index(outcome)]
    }

    /// Targets finished in all.
    pub fn finished(&self) -> u64 {
        self.outcomes.iter().sum()
    }

    /// `unblocked 12 · not_found 1 · failed 0`: every outcome that occurred, plus `failed`.
    pub fn outcome_line(&self) -> String {
        let mut line = String::new();
        for o in Outcome::ALL {
            let n = self.get(o);
            if n > 0 || o == Outcome::Failed {
                if !line.is_empty() {
                    line.push_str(" · ");
                }
                let _ = write!(line, "{o} {n}");
            }
        }
        line
    }
}

fn index(outcome: Outcome) -> usize {
    Outcome::ALL
        .iter()
        .position(|o| *o == outcome)
        .unwrap_or(Outcome::ALL.len() - 1)
}

/// The progress bar currently drawn, so log lines can be printed above it without tearing it.
static ACTIVE_BAR: OnceLock<std::sync::Mutex<Option<ProgressBar>>> = OnceLock::new();

fn active_bar() -> &'static std::sync::Mutex<Option<ProgressBar>> {
    ACTIVE_BAR.get_or_init(|| std::sync::Mutex::new(None))
}

/// Prints a line to stderr above the progress bar (or plainly when there is none).
pub fn eprint_line(line: &str) {
    let bar = active_bar().lock().ok().and_then(|b| b.clone());
    match bar {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// A `tracing` writer that keeps log lines from tearing the progress bar.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        eprint_line(text.trim_end_matches('\n'));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter
    }
}

/// The live display of a run.
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    total: u64,
    start: Instant,
    last_line: Instant,
    line_every: Duration,
    verb: &'static str,
}

impl Progress {
    /// A display for `total` targets. `verb` names what is counted in plain lines ("done").
    pub fn new(total: u64, verbosity: Verbosity, verb: &'static str) -> Progress {
        let terminal = std::io::stderr().is_terminal()
            && std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb");
        let quiet = verbosity == Verbosity::Quiet;
        let bar = (terminal && !quiet).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner:.green} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            if let Ok(mut slot) = active_bar().lock() {
                *slot = Some(bar.clone());
            }
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            lines: !terminal && !quiet,
            total,
            start: now,
            last_line: now,
            line_every: Duration::from_secs(10),
            verb,
        }
    }

    /// Redraws with the latest counts and pacing state; prints a plain line when one is due.
    pub fn update(&mut self, counts: &Counts, pace: &PaceState) {
        let done = counts.finished();
        let status = status_line(counts, pace, self.eta(done, pace));
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(status);
        } else if self.lines && self.last_line.elapsed() >= self.line_every {
            self.last_line = Instant::now();
            eprintln!("progress: {done}/{} {} · {status}", self.total, self.verb);
        }
    }

    /// Time left (see [`estimate`]).
    fn eta(&self, done: u64, pace: &PaceState) -> Option<Duration> {
        estimate(
            self.total.saturating_sub(done),
            done,
            self.start.elapsed(),
            pace,
        )
    }

    /// Prints a line to stderr above the display, whatever the verbosity (the bar is suspended
    /// while it prints, so it is not torn).
    pub fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar (the summary is printed after it).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Ok(mut slot) = active_bar().lock() {
            *slot = None;
        }
    }
}

/// Time left for `left` targets: from the pace achieved once there is some history (`done` in
/// `elapsed`), else from the configured pace; never before the server's pause ends, nor, when more
/// is left than a window admits, before that window resets.
pub fn estimate(left: u64, done: u64, elapsed: Duration, pace: &PaceState) -> Option<Duration> {
    if left == 0 {
        return Some(Duration::ZERO);
    }
    let elapsed = elapsed.as_secs_f64();
    let per_second = if done >= 5 && elapsed > 0.0 {
        let achieved = done as f64 / elapsed;
        // After the pace was lowered, the history is faster than what follows.
        if pace.rate > 0.0 {
            achieved.min(pace.rate)
        } else {
            achieved
        }
    } else {
        pace.rate
    };
    // Also refuses NaN, which a zero pace with no history would give.
    if per_second.is_nan() || per_second <= 0.0 {
        return None;
    }
    let mut eta = Duration::try_from_secs_f64(left as f64 / per_second).ok()?;
    // A burst into a fresh window makes the achieved pace look fast: the holds bound it below.
    // (A window counting points holds more than one target's worth each; counting targets
    // against it errs on the side of a longer wait.)
    for window in pace.windows.iter().flatten() {
        if left > window.remaining {
            eta = eta.max(window.resets_in);
        }
    }
    Some(eta.max(pace.paused_for.unwrap_or_default()))
}

/// The status text shared by the bar and the plain lines.
pub fn status_line(counts: &Counts, pace: &PaceState, eta: Option<Duration>) -> String {
    let mut s = counts.outcome_line();
    let _ = write!(s, " | pace {}", per_minute(pace.rate));
    if pace.rate + 1e-9 < pace.base_rate {
        let _ = write!(s, " (lowered from {})", per_minute(pace.base_rate));
    }
    // The longest spent window holds everything: the shorter ones do not matter until it
    // resets.
    let spent = Span::ALL.into_iter().rev().find_map(|span| {
        pace.window(span)
            .filter(|w| w.remaining == 0)
            .map(|w| (span, w))
    });
    if let Some(paused) = pace.paused_for {
        let _ = write!(s, " | paused by the server for {}", clock(paused));
    } else if let Some((span, window)) = spent.filter(|(span, _)| *span != Span::Short) {
        let _ = write!(s, " | {} spent", name(span));
        if !window.resets_in.is_zero() {
            let _ = write!(s, ", resets in {}", clock(window.resets_in));
        }
    } else if let Some(window) = pace.window(Span::Short) {
        let _ = write!(s, " | window {}", left(window));
        if !window.resets_in.is_zero() {
            let _ = write!(s, ", resets in {}", clock(window.resets_in));
        }
    }
    if spent.is_none_or(|(span, _)| span == Span::Short) {
        // A longer window is shown only when it is the tighter limit, to keep the line short.
        let short = pace.window(Span::Short).map(|w| w.remaining);
        for span in [Span::Hour, Span::Day] {
            if let Some(window) = pace.window(span)
                && short.is_none_or(|short| window.remaining < short)
            {
                let _ = write!(s, " | {} {}", name(span), left(window));
            }
        }
    }
    if counts.retries > 0 || counts.rate_limited > 0 {
        let _ = write!(
            s,
            " | retries {} · 429s {}",
            counts.retries, counts.rate_limited
        );
    }
    if let Some(eta) = eta {
        let _ = write!(s, " | ETA {}", clock(eta));
    }
    s
}

/// What a window of `span` is called on the status line.
fn name(span: Span) -> &'static str {
    match span {
        Span::Short => "window",
        Span::Hour => "hourly budget",
        Span::Day => "24-hour cap",
    }
}

/// `12/50 left`, or `4800/5000 points left` for a window counting points.
fn left(window: Announced) -> String {
    let unit = match window.unit {
        Unit::Requests => "",
        Unit::Cost => " points",
    };
    match window.limit {
        Some(limit) => format!("{}/{limit}{unit} left", window.remaining),
        None => format!("{}{unit} left", window.remaining),
    }
}

/// `4.0/min`, or `/s` when faster than one a second.
pub fn per_minute(per_second: f64) -> String {
    if per_second >= 1.0 {
        format!("{per_second:.1}/s")
    } else {
        format!("{:.1}/min", per_second * 60.0)
    }
}

/// `11:42`, `1:02:03`, or `2d 03:00:00` for long waits.
pub fn clock(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    let (days, rest) = (secs / 86400, secs % 86400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    match (days, h) {
        (0, 0) => format!("{m}:{s:02}"),
        (0, _) => format!("{h}:{m:02}:{s:02}"),
        _ => format!("{days}d {h:02}:{m:02}:{s:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_naturally() {
        assert_eq!(clock(Duration::from_secs(702)), "11:42");
        assert_eq!(clock(Duration::from_millis(1500)), "0:02");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(
            clock(Duration::from_secs(2 * 86400 + 3 * 3600)),
            "2d 03:00:00"
        );
    }

    /// Windows with `(remaining, limit, resets in seconds)` for the short window and the
    /// daily cap.
    fn windows(
        short: Option<(u64, u64, u64)>,
        day: Option<(u64, u64, u64)>,
    ) -> [Option<Announced>; 3] {
        let announced = |(remaining, limit, secs)| Announced {
            unit: Unit::Requests,
            remaining,
            limit: Some(limit),
            resets_in: Duration::from_secs(secs),
        };
        [short.map(announced), None, day.map(announced)]
    }

    #[test]
    fn the_status_line_shows_window_state_and_eta() {
        let mut counts = Counts::default();
        for _ in 0..12 {
            counts.add(Outcome::Unblocked);
        }
        counts.add(Outcome::NotFound);
        counts.retries = 2;
        let pace = PaceState {
            rate: 50.0 / 900.0,
            base_rate: 50.0 / 900.0,
            windows: windows(Some((12, 50, 702)), None),
            ..PaceState::default()
        };
        let line = status_line(&counts, &pace, Some(Duration::from_secs(3600)));
        assert_eq!(
            line,
            "unblocked 12 · not_found 1 · failed 0 | pace 3.3/min | window 12/50 left, \
             resets in 11:42 | retries 2 · 429s 0 | ETA 1:00:00"
        );
        let paused = PaceState {
            paused_for: Some(Duration::from_secs(30)),
            rate: 1.0,
            base_rate: 2.0,
            ..pace
        };
        let line = status_line(&counts, &paused, None);
        assert!(line.contains("pace 1.0/s (lowered from 2.0/s)"), "{line}");
        assert!(line.contains("paused by the server for 0:30"), "{line}");
    }

    #[test]
    fn a_spent_daily_cap_is_shown_instead_of_the_short_window() {
        let counts = Counts::default();
        let held = PaceState {
            rate: 10.0,
            base_rate: 10.0,
            windows: windows(Some((10, 40, 1)), Some((0, 30, 23 * 3600 + 59 * 60 + 50))),
            ..PaceState::default()
        };
        let line = status_line(&counts, &held, None);
        assert!(
            line.contains("| 24-hour cap spent, resets in 23:59:50"),
            "{line}"
        );
        assert!(!line.contains("window 10/40"), "{line}");
        // Not spent but tighter than the short window: shown beside it.
        let tight = PaceState {
            windows: windows(Some((10, 40, 1)), Some((3, 30, 86_000))),
            ..held
        };
        let line = status_line(&counts, &tight, None);
        assert!(
            line.contains("window 10/40 left, resets in 0:01 | 24-hour cap 3/30 left"),
            "{line}"
        );
        // Looser than the short window: not shown.
        let loose = PaceState {
            windows: windows(Some((10, 40, 1)), Some((25, 30, 86_000))),
            ..held
        };
        assert!(!status_line(&counts, &loose, None).contains("24-hour"));
    }

    #[test]
    fn the_eta_waits_for_the_windows_that_hold_the_rest() {
        let pace = PaceState {
            rate: 1000.0,
            base_rate: 1000.0,
            ..PaceState::default()
        };
        // 30 done in a second at a fast pace: 20 more take 2/3 s, with nothing known of limits.
        let quick = estimate(20, 30, Duration::from_secs(1), &pace).unwrap();
        assert!(quick < Duration::from_secs(1), "{quick:?}");
        // The 24-hour cap is spent: nothing happens before it resets.
        let day = PaceState {
            windows: windows(None, Some((0, 30, 86_000))),
            ..pace
        };
        assert_eq!(
            estimate(20, 30, Duration::from_secs(1), &day),
            Some(Duration::from_secs(86_000))
        );
        // The short window admits 25 more: 20 left fit, so its reset does not matter.
        let window = PaceState {
            windows: windows(Some((25, 40, 600)), None),
            ..pace
        };
        assert_eq!(
            estimate(20, 30, Duration::from_secs(1), &window),
            estimate(20, 30, Duration::from_secs(1), &pace)
        );
        assert!(
            estimate(26, 30, Duration::from_secs(1), &window).unwrap() >= Duration::from_secs(600)
        );
        // A lowered pace governs what is left, not the faster history; a zero pace is unknown.
        let lowered = PaceState { rate: 2.0, ..pace };
        assert_eq!(
            estimate(20, 30, Duration::from_secs(1), &lowered),
            Some(Duration::from_secs(10))
        );
        assert_eq!(estimate(20, 0, Duration::ZERO, &PaceState::default()), None);
        assert_eq!(
            estimate(0, 0, Duration::ZERO, &PaceState::default()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_points_budget_is_shown_in_points_when_it_binds() {
        let hour = Announced {
            unit: Unit::Cost,
            remaining: 400,
            limit: Some(5000),
            resets_in: Duration::from_secs(1200),
        };
        let pace = PaceState {
            rate: 1.0,
            base_rate: 1.0,
            windows: [windows(Some((2900, 3000, 250)), None)[0], Some(hour), None],
            ..PaceState::default()
        };
        let line = status_line(&Counts::default(), &pace, None);
        assert!(
            line.contains("| hourly budget 400/5000 points left"),
            "{line}"
        );
        let spent = PaceState {
            windows: [
                pace.windows[0],
                Some(Announced {
                    remaining: 0,
                    ..hour
                }),
                None,
            ],
            ..pace
        };
        let line = status_line(&Counts::default(), &spent, None);
        assert!(
            line.contains("| hourly budget spent, resets in 20:00"),
            "{line}"
        );
    }
}
