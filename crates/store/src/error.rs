//! The errors of the PostgreSQL adapter.

use domain::event::UnreadableEvent;
use tokio_postgres::error::SqlState;

/// A failure to reach or use the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL could not be reached, or failed in a way that passes
    /// (connection lost, shutdown, serialization failure, out of resources).
    /// Retry later; answer clients with 503.
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(String),
    /// PostgreSQL refused what a statement carried, and would refuse it
    /// again: retrying cannot help. Data it cannot hold (SQLSTATE classes 22
    /// and 54) is the request's fault, and means validation let it through;
    /// any other refusal is a bug in rollcall's SQL. Never answer "retry".
    #[error("PostgreSQL refused the statement ({code}): {message}")]
    Refused {
        /// The SQLSTATE, e.g. `54000` for an index row that is too large.
        code: String,
        /// PostgreSQL's primary message, which names no value.
        message: String,
    },
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
        match error.as_db_error() {
            Some(refusal) if !is_transient(refusal.code()) => StoreError::Refused {
                code: refusal.code().code().to_owned(),
                message: refusal.message().to_owned(),
            },
            _ => StoreError::Unavailable(full_cause(&error)),
        }
    }
}

impl StoreError {
    /// Whether the statement's data was refused for what it is (SQLSTATE
    /// classes 22, data exception, and 54, program limit exceeded): the same
    /// data fails again, and only the request that carried it is at fault.
    pub fn is_refused_data(&self) -> bool {
        matches!(self, StoreError::Refused { code, .. } if is_data_class(code))
    }
}

/// Whether a server-reported error can pass by itself: connection trouble
/// (08), a lost serialization race or deadlock (40), resources (53),
/// operator intervention such as a shutdown (57), system errors (58).
fn is_transient(code: &SqlState) -> bool {
    ["08", "40", "53", "57", "58"]
        .iter()
        .any(|class| code.code().starts_with(class))
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

/// SQLSTATE classes 22 (data exception) and 54 (program limit exceeded).
pub(crate) fn is_data_class(code: &str) -> bool {
    code.starts_with("22") || code.starts_with("54")
}
