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
use tokio::task::JoinHandle;

use crate::{Database, Pool, StoreError, connect};

/// Starts `work` on a thread named `name`, with a pool of `size`
/// connections to `database` opened and driven on that thread, named
/// `name` in `pg_stat_activity` ([`Database::for_part`]).
///
/// The returned task, on the caller's runtime, ends when `work` does (or
/// when the thread could not build its pool, or panicked: that is logged).
/// The thread lives no longer than that task: when it is aborted (a part
/// cut at shutdown), or its runtime shuts down (a test's ends with the
/// test), `work` is dropped and the thread's connections close. Without
/// that tie, a part on its own thread outlived the stack that started it
/// and went on polling a database that was gone.
pub fn spawn<W, F>(
    name: &str,
    database: &Database,
    size: usize,
    work: W,
) -> Result<JoinHandle<()>, StoreError>
where
    W: FnOnce(Pool) -> F + Send + 'static,
    F: Future<Output = ()> + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| unavailable(name, &error))?;
    let database = database.for_part(name);
    let (done, ended) = oneshot::channel();
    let (alive, gone) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                // Inside the runtime: `connect` opens its connections here.
                let pool = match connect(&database, size) {
                    Ok(pool) => pool,
                    // Building a pool connects nothing: it fails only on a
                    // configuration `Database::parse` accepted.
                    Err(error) => {
                        tracing::error!(%error, "a pool for a thread of its own");
                        return;
                    }
                };
                tokio::select! {
                    () = work(pool) => {
                        let _ = done.send(());
                    }
                    // The caller's task is gone: so is the reason to go on.
                    _ = gone => {}
                }
            })
        })
        .map_err(|error| unavailable(name, &error))?;
    let name = name.to_owned();
    Ok(tokio::spawn(async move {
        let _alive = alive;
        if ended.await.is_err() {
            tracing::error!(thread = %name, "a part on a thread of its own ended without finishing its work");
        }
    }))
}

fn unavailable(name: &str, error: &std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot start thread {name}: {error}"))
}
