//! Why a command was refused.

use scim::ScimError;

/// A command that the rules refuse; the caller records it and answers with
/// the matching protocol error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// The target resource does not exist (or was deleted): answer 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request itself is wrong: answer with the SCIM error it carries.
    #[error("{}", .0.detail)]
    Invalid(ScimError),
    /// The client's `If-Match` names a version that is no longer current.
    #[error("the resource changed since version {expected}; it is now at {actual}")]
    StaleVersion { expected: i64, actual: i64 },
}

impl From<ScimError> for Rejection {
    fn from(error: ScimError) -> Self {
        Rejection::Invalid(error)
    }
}
