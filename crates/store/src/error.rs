//! The errors of the PostgreSQL adapter.

use domain::event::UnreadableEvent;

/// A failure to reach or use the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL could not be reached or refused the statement. Retry later;
    /// answer clients with 503.
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(String),
    /// A stored event cannot be read back: stop and report it, never skip it.
    #[error(transparent)]
    Unreadable(#[from] UnreadableEvent),
    /// The read model is not in the state the log implies (a projector bug or
    /// a tampered table): stop and rebuild.
    #[error("the read tables disagree with the log: {0}")]
    Inconsistent(String),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        StoreError::Unavailable(full_cause(&error))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        StoreError::Unavailable(full_cause(&error))
    }
}

fn full_cause(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
