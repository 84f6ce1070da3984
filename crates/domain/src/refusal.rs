//! Why an owner's, a member's or the reaper's command was refused: the
//! product's rules, beside [`crate::Rejection`] for SCIM requests.
//!
//! The admin API answers each as `{"error": <code>, "message": ...}` with the
//! matching HTTP status; the CLI prints the message. Every refusal is also
//! recorded in the log by the caller, so auditors see who tried what.

/// The kind of refusal, as the admin API's `error` field spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// The command itself is wrong (400).
    Invalid,
    /// The credentials are wrong (401): said alike for an unknown email and
    /// a wrong password, so that nobody learns which emails have accounts.
    Unauthorized,
    /// The caller's role may not do this (403).
    Forbidden,
    /// The identity provider manages this for the caller (403).
    ScimManaged,
    /// No such thing in this organization (404).
    NotFound,
    /// The state does not allow it now (409).
    Conflict,
}

impl RefusalCode {
    /// The `error` field of the admin API's answer.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::Invalid => "invalid",
            RefusalCode::Unauthorized => "unauthorized",
            RefusalCode::Forbidden => "forbidden",
            RefusalCode::ScimManaged => "scim_managed",
            RefusalCode::NotFound => "not_found",
            RefusalCode::Conflict => "conflict",
        }
    }

    /// The HTTP status the admin API answers with, and records in the
    /// refusal's request metadata.
    pub fn http_status(self) -> u16 {
        match self {
            RefusalCode::Invalid => 400,
            RefusalCode::Unauthorized => 401,
            RefusalCode::Forbidden | RefusalCode::ScimManaged => 403,
            RefusalCode::NotFound => 404,
            RefusalCode::Conflict => 409,
        }
    }
}

/// A refused command: what kind, and a message that tells the person what
/// to do instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub code: RefusalCode,
    pub message: String,
}

impl Refusal {
    /// The event that records this refusal of `command`.
    pub fn recorded(&self, command: &str) -> crate::Event {
        crate::Event::CommandRefused {
            command: command.to_owned(),
            error: self.code.as_str().to_owned(),
            message: self.message.clone(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Refusal {
            code: RefusalCode::Invalid,
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Refusal {
            code: RefusalCode::Unauthorized,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Refusal {
            code: RefusalCode::Forbidden,
            message: message.into(),
        }
    }

    pub fn scim_managed(message: impl Into<String>) -> Self {
        Refusal {
            code: RefusalCode::ScimManaged,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Refusal {
            code: RefusalCode::NotFound,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Refusal {
            code: RefusalCode::Conflict,
            message: message.into(),
        }
    }
}
