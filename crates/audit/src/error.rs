//! What can go wrong answering an auditor.

use store::StoreError;

/// A query that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The question itself is wrong (a bad time, an unknown type, a cursor
    /// this API did not give): the message says what is wanted. Answer 400.
    #[error("{0}")]
    Invalid(String),
    /// The organization holds no such thing (a request id). Answer 404.
    #[error("{0}")]
    NotFound(String),
    /// The log could not be read: retry when the database answers again
    /// (`Unavailable`), or report it (anything else).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<domain::event::UnreadableEvent> for AuditError {
    fn from(error: domain::event::UnreadableEvent) -> Self {
        AuditError::Store(StoreError::Unreadable(error))
    }
}
