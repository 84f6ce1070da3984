//! The errors of the PostgreSQL adapter, and the operators' classes of
//! database failures ([`ErrorClass`]) by SQLSTATE.

use domain::event::UnreadableEvent;
use tokio_postgres::error::SqlState;

/// A failure to reach or use the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL could not be reached, or the connection to it was lost.
    /// Retry later; answer clients with 503.
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(String),
    /// PostgreSQL reported a failure that can pass by itself (a shutdown, a
    /// lost serialization race or deadlock, exhausted resources, a system
    /// error), or no pooled connection came free in time. Retry later;
    /// [`StoreError::class`] tells clients' answer (503, or 500 where a human
    /// must look).
    #[error("PostgreSQL interrupted the statement{}: {cause}", sqlstate_note(.code))]
    Interrupted {
        /// The operators' class of the failure.
        class: ErrorClass,
        /// The SQLSTATE PostgreSQL reported (none for a pool timeout).
        code: Option<String>,
        /// What happened, with PostgreSQL's message.
        cause: String,
    },
    /// PostgreSQL refused what a statement carried, and would refuse it
    /// again: retrying cannot help. Data it cannot hold (SQLSTATE classes 22
    /// and 54) is the request's fault, and means validation let it through;
    /// a unique value taken by a concurrent write is a conflict; any other
    /// refusal is a bug in rollcall's SQL. Never answer "retry".
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
    /// The projection is split otherwise than the caller was started for
    /// (`rollcall partitions` changed it): nothing was folded. Retrying
    /// reads the split again.
    #[error("{0}")]
    Layout(String),
}

fn sqlstate_note(code: &Option<String>) -> String {
    code.as_ref()
        .map(|code| format!(" ({code})"))
        .unwrap_or_default()
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.as_db_error() {
            Some(refusal) if !is_transient(refusal.code()) => StoreError::Refused {
                code: refusal.code().code().to_owned(),
                message: refusal.message().to_owned(),
            },
            Some(failure) => StoreError::Interrupted {
                class: ErrorClass::of_sqlstate(failure.code().code()),
                code: Some(failure.code().code().to_owned()),
                cause: full_cause(&error),
            },
            None => StoreError::Unavailable(full_cause(&error)),
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

    /// Whether trying again later may succeed (the database was away or
    /// interrupted the statement); background jobs retry these.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Interrupted { .. } | StoreError::Layout(_)
        )
    }

    /// The operators' class of this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Unavailable(_) => ErrorClass::Connection,
            StoreError::Interrupted { class, .. } => *class,
            StoreError::Refused { code, .. } => ErrorClass::of_sqlstate(code),
            // A human must look (a projector started for another split),
            // though the retry that reads the split again may find its partition.
            StoreError::Unreadable(_) | StoreError::Inconsistent(_) | StoreError::Layout(_) => {
                ErrorClass::Bug
            }
        }
    }

    /// The SQLSTATE PostgreSQL reported, if it reported one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            StoreError::Interrupted { code, .. } => code.as_deref(),
            StoreError::Refused { code, .. } => Some(code),
            _ => None,
        }
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
        use deadpool_postgres::{PoolError, TimeoutType};
        match error {
            PoolError::Backend(error) => StoreError::from(error),
            PoolError::Timeout(TimeoutType::Wait) => StoreError::Interrupted {
                class: ErrorClass::PoolTimeout,
                code: None,
                cause: "no pooled connection came free in time (every one is busy)".into(),
            },
            other => StoreError::Unavailable(full_cause(&other)),
        }
    }
}

/// An error's message followed by each of its causes', `: `-separated.
pub(crate) fn full_cause(error: &dyn std::error::Error) -> String {
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

/// What kind of database failure an operator is looking at: the `class`
/// label of `rollcall_store_errors_total`, and what clients are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The connection could not be made or was lost (SQLSTATE class 08,
    /// `53300` too many connections, or no SQLSTATE at all): 503, retry.
    Connection,
    /// The server is shutting down or starting (`57P01`–`57P03`): 503, retry.
    Shutdown,
    /// A transaction lost a serialization race (`40001`): 503, retry.
    Serialization,
    /// A transaction was chosen to break a deadlock (`40P01`): 503, retry.
    Deadlock,
    /// Every pooled connection stayed busy past the pool's wait: 503, retry.
    PoolTimeout,
    /// A unique value was taken by a concurrent write (`23505`, `23P01`):
    /// 409, the client reads again.
    Constraint,
    /// The request's data cannot be held (classes 22 and 54): 400.
    Data,
    /// Anything else: rollcall's SQL or schema is wrong (other constraints
    /// guard rollcall's own invariants, class 42 is its SQL or privileges),
    /// or the database needs a human (disk full, a cancelled statement).
    /// 500, never "retry".
    Bug,
}

impl ErrorClass {
    /// Every class, in the order the README lists them.
    pub const ALL: [ErrorClass; 8] = [
        ErrorClass::Connection,
        ErrorClass::Shutdown,
        ErrorClass::Serialization,
        ErrorClass::Deadlock,
        ErrorClass::PoolTimeout,
        ErrorClass::Constraint,
        ErrorClass::Data,
        ErrorClass::Bug,
    ];

    /// The class of a SQLSTATE PostgreSQL reported.
    pub fn of_sqlstate(code: &str) -> ErrorClass {
        match code {
            "57P01" | "57P02" | "57P03" => ErrorClass::Shutdown,
            "40001" => ErrorClass::Serialization,
            "40P01" => ErrorClass::Deadlock,
            "23505" | "23P01" => ErrorClass::Constraint,
            "53300" => ErrorClass::Connection,
            _ if code.starts_with("08") => ErrorClass::Connection,
            _ if is_data_class(code) => ErrorClass::Data,
            _ => ErrorClass::Bug,
        }
    }

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Connection => "connection",
            ErrorClass::Shutdown => "shutdown",
            ErrorClass::Serialization => "serialization",
            ErrorClass::Deadlock => "deadlock",
            ErrorClass::PoolTimeout => "pool_timeout",
            ErrorClass::Constraint => "constraint",
            ErrorClass::Data => "data",
            ErrorClass::Bug => "bug",
        }
    }

    /// Whether the failure passes by itself, so that clients are told to
    /// retry (503 with `Retry-After`).
    pub fn passes(self) -> bool {
        matches!(
            self,
            ErrorClass::Connection
                | ErrorClass::Shutdown
                | ErrorClass::Serialization
                | ErrorClass::Deadlock
                | ErrorClass::PoolTimeout
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_fall_in_the_operators_classes() {
        let cases = [
            ("08006", ErrorClass::Connection),
            ("08P01", ErrorClass::Connection),
            ("53300", ErrorClass::Connection),
            ("57P01", ErrorClass::Shutdown),
            ("57P03", ErrorClass::Shutdown),
            ("40001", ErrorClass::Serialization),
            ("40P01", ErrorClass::Deadlock),
            ("23505", ErrorClass::Constraint),
            ("23502", ErrorClass::Bug),
            ("23514", ErrorClass::Bug),
            ("22021", ErrorClass::Data),
            ("54000", ErrorClass::Data),
            ("42P01", ErrorClass::Bug),
            ("42501", ErrorClass::Bug),
            ("53100", ErrorClass::Bug),
            ("57014", ErrorClass::Bug),
            ("XX000", ErrorClass::Bug),
        ];
        for (code, class) in cases {
            assert_eq!(ErrorClass::of_sqlstate(code), class, "{code}");
        }
    }

    #[test]
    fn only_the_classes_that_pass_say_retry() {
        let passing: Vec<_> = ErrorClass::ALL
            .into_iter()
            .filter(|class| class.passes())
            .map(ErrorClass::as_str)
            .collect();
        assert_eq!(
            passing,
            [
                "connection",
                "shutdown",
                "serialization",
                "deadlock",
                "pool_timeout"
            ]
        );
    }
}
