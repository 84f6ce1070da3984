//! Stopping a process: every binary waits here for SIGTERM or SIGINT, then
//! stops in its own order (its `main`), each stage within a bound.
//!
//! The first signal starts a graceful stop. A second one, while that stop
//! is still running, ends the process at once with 128 + the signal's
//! number (130 or 143), as shells report a process a signal killed: the
//! operator asked twice, and what was not written resumes from the log and
//! the checkpoints at the next start (access records still queued are lost).

use std::future::Future;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::{JoinError, JoinHandle};

/// `ROLLCALL_SHUTDOWN_TIMEOUT_SECS` unless set: how long requests in flight
/// get to finish after a signal, and then the writes that follow them.
pub use settings::knobs::DEFAULT_SHUTDOWN_TIMEOUT_SECS;

/// The signal that started a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    Interrupt,
}

impl Signal {
    /// Its conventional name, for the log.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
        }
    }
}

/// SIGTERM and SIGINT, caught from [`Signals::catch`] on: a binary catches
/// them before it answers `/healthz`, so that an early signal stops it
/// gracefully too instead of killing it.
pub struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts catching SIGTERM and SIGINT.
    pub fn catch() -> std::io::Result<Signals> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the first signal. From then on a second one exits the
    /// process at once (see the module's documentation).
    pub async fn first(mut self) -> Signal {
        let first = self.next().await;
        tokio::spawn(async move {
            let second = self.next().await;
            tracing::warn!(
                signal = second.name(),
                "a second signal during the stop: exiting now, without waiting for the rest"
            );
            std::process::exit(match second {
                Signal::Interrupt => 130,
                Signal::Terminate => 143,
            });
        });
        first
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.terminate.recv() => Signal::Terminate,
            _ = self.interrupt.recv() => Signal::Interrupt,
        }
    }
}

/// Awaits one stage of a stop for at most `bound`. `None` (logged at error,
/// naming `stage`) when it ran over: the stop goes on without it, so that
/// a hung dependency cannot keep the process from exiting.
pub async fn within<T>(
    stage: &str,
    bound: Duration,
    running: impl Future<Output = T>,
) -> Option<T> {
    match tokio::time::timeout(bound, running).await {
        Ok(finished) => Some(finished),
        Err(_) => {
            tracing::error!(
                stage,
                bound_secs = bound.as_secs_f64(),
                "a stage of the stop ran over its bound; stopping without it"
            );
            None
        }
    }
}

/// Awaits the named tasks, which were told to stop, `bound` at most for
/// all of them; those still running then are aborted. Returns the names of
/// the aborted ones, or the error of one that panicked.
pub async fn end_all(
    tasks: impl IntoIterator<Item = (&'static str, JoinHandle<()>)>,
    bound: Duration,
) -> Result<Vec<&'static str>, JoinError> {
    let deadline = tokio::time::Instant::now() + bound;
    let mut cut = Vec::new();
    for (name, task) in tasks {
        let abort = task.abort_handle();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match within(name, left, task).await {
            Some(ended) => ended?,
            None => {
                abort.abort();
                cut.push(name);
            }
        }
    }
    Ok(cut)
}
