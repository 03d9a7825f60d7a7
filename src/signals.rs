//! Ctrl-C and SIGTERM for a long job: the first stops scheduling, the second quits at once.
//!
//! A run takes hours, so an interruption must leave a journal that resumes. The first signal
//! cancels the run's token: workers stop taking targets, the requests in flight finish and are
//! recorded, the summary names the command that resumes. A second signal exits at once (130);
//! the journal stays valid, since every record is written whole.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

use crate::error::Exit;

/// Ctrl-C and SIGTERM: the first stops scheduling, the second quits at once.
pub struct Signals {
    /// Cancelled by the first signal.
    pub cancel: CancellationToken,
    interrupted: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Signals {
    /// Starts watching.
    pub fn watch() -> Signals {
        let cancel = CancellationToken::new();
        let interrupted = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(watch_signals(
            Listener::new(),
            cancel.clone(),
            interrupted.clone(),
        ));
        Signals {
            cancel,
            interrupted,
            task,
        }
    }

    /// Whether a signal arrived.
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// First signal: stop scheduling and finish what is in flight. Second: quit at once.
///
/// It prints nothing: during a run the writer, which owns the terminal, says what the first
/// signal does (see `writer::write`); before or after one, the command stops at once.
async fn watch_signals(
    mut listener: Listener,
    cancel: CancellationToken,
    interrupted: Arc<AtomicBool>,
) {
    listener.next().await;
    interrupted.store(true, Ordering::SeqCst);
    cancel.cancel();
    listener.next().await;
    std::process::exit(Exit::Interrupted as i32);
}

/// Ctrl-C (SIGINT) and SIGTERM, registered when created: from then on neither kills the process
/// outright, even before the watching task first runs.
struct Listener {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Listener {
    fn new() -> Listener {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Listener {
                streams: signal(SignalKind::interrupt())
                    .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                    .ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Listener {}
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = self.streams.as_mut() {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
