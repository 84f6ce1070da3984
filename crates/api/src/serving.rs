//! A running HTTP service and its graceful stop, the same for `rollcall
//! serve` and `rollcall-api`: stop accepting, let requests in flight finish
//! (bounded by [`Settings::shutdown_timeout`](crate::Settings)), then wait
//! for the access log to write every recorded read.

use std::time::{Duration, Instant};

use prometheus::IntGauge;
use tokio::task::JoinHandle;

use actix_web::dev::ServerHandle;

use crate::Application;

/// The HTTP service running on its own task.
pub struct Serving {
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
    access_log: JoinHandle<store::Drained>,
    in_flight: IntGauge,
    shutdown_timeout: Duration,
}

/// What [`Serving::stop`] finished, and what it had to cut at its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiStopped {
    /// Requests were still running at the bound, and were cut.
    pub requests_cut: bool,
    /// Access records written after the last request was answered.
    pub records_drained: usize,
}

impl Application {
    /// Serves on a task of its own; `access_log` is the writer
    /// [`AppState::start`](crate::AppState::start) returned.
    pub fn spawn(self, access_log: JoinHandle<store::Drained>) -> Serving {
        Serving {
            handle: self.server.handle(),
            in_flight: self.in_flight.clone(),
            shutdown_timeout: self.shutdown_timeout,
            task: tokio::spawn(self.run_until_stopped()),
            access_log,
        }
    }
}

impl Serving {
    /// Authenticated SCIM requests admitted and not yet answered.
    pub fn requests_in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    /// Stops accepting connections, lets the requests in flight finish
    /// (those still running after the shutdown timeout are cut: their
    /// clients get no answer and retry), then waits as long again at most
    /// for the access log to write every record.
    pub async fn stop(self) -> std::io::Result<ApiStopped> {
        let (started, in_flight) = (Instant::now(), self.in_flight.get());
        self.handle.stop(true).await;
        self.task.await??;
        let requests_cut = in_flight > 0 && started.elapsed() >= self.shutdown_timeout;
        // The server owned the last AccessLog handles: the writer now writes
        // what it holds and ends.
        let Some(drained) =
            ops::shutdown::within("access log", self.shutdown_timeout, self.access_log).await
        else {
            return Err(std::io::Error::other(format!(
                "the access log could not write its last records within {} s (is PostgreSQL \
                 reachable?); the reads it still held are not recorded",
                self.shutdown_timeout.as_secs()
            )));
        };
        let records_drained = drained.map_err(std::io::Error::other)?.records;
        Ok(ApiStopped {
            requests_cut,
            records_drained,
        })
    }
}
