//! What rollcall records about the request that caused an event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The request behind an event or an access record. Holds no secrets: the
/// token is named by its id (a SCIM token's, or an admin API session's), the
/// body by its SHA-256 digest, and credentials in headers are redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RequestMeta {
    pub request_id: Uuid,
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<Uuid>,
    /// The account whose session made an admin API request (`token_id` is
    /// then the session's id); none for SCIM tokens, which belong to
    /// organizations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    /// The request's headers by lowercase name, bounded and with secrets
    /// redacted ([`crate::redaction::recorded_headers`]); `User-Agent` is
    /// in `user_agent`. Empty (and not written) for requests recorded
    /// before headers were, and for events no request caused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl RequestMeta {
    /// Metadata for an event that a background component of rollcall
    /// records on its own (the projector, the reaper): no request caused it.
    pub fn system(component: &str, request_id: Uuid) -> RequestMeta {
        RequestMeta {
            request_id,
            method: "SYSTEM".into(),
            path: component.into(),
            status: 0,
            ..RequestMeta::default()
        }
    }

    /// Metadata for a change made from the command line rather than over
    /// HTTP; the caller names the invocation with a fresh `request_id`.
    pub fn command_line(verb: &str, request_id: Uuid) -> RequestMeta {
        RequestMeta {
            request_id,
            method: "CLI".into(),
            path: verb.into(),
            status: 0,
            ..RequestMeta::default()
        }
    }
}
