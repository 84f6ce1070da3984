//! Work that runs on a thread of its own, with connections of its own.
//!
//! A PostgreSQL connection is driven by a task on the runtime that opened it
//! (`connect`), and every round trip on it waits until that runtime polls
//! the answer. On the shared runtime, which also parses requests, folds
//! events and drives every other connection, a serial stage (the appender,
//! the relay, the projector) waited there for each of its round trips: at
//! 64 clients a batch took several times its statements' time (issue 13).
//! A thread that runs nothing else is woken by the operating system as soon
//! as PostgreSQL answers.

use std::future::Future;

use tokio::sync::oneshot;

use crate::{Database, Pool, StoreError, connect};

/// Starts `work` on a thread named `name`, with a pool of `size`
/// connections to `database` opened and driven on that thread. The receiver
/// resolves with what `work` returns (or is closed if the thread panicked).
pub fn spawn<W, F>(
    name: &str,
    database: &Database,
    size: usize,
    work: W,
) -> Result<oneshot::Receiver<F::Output>, StoreError>
where
    W: FnOnce(Pool) -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| unavailable(name, &error))?;
    let database = database.clone();
    let (done, ended) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                // Inside the runtime: `connect` opens its connections here.
                match connect(&database, size) {
                    Ok(pool) => {
                        let _ = done.send(work(pool).await);
                    }
                    // Building a pool connects nothing: it fails only on a
                    // configuration `Database::parse` accepted.
                    Err(error) => tracing::error!(%error, "a pool for a thread of its own"),
                }
            })
        })
        .map_err(|error| unavailable(name, &error))?;
    Ok(ended)
}

fn unavailable(name: &str, error: &std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot start thread {name}: {error}"))
}
