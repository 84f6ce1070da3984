//! Read your writes (DESIGN.md guarantee 8): a write is answered as soon as
//! it is in the log, and a later request with the same token that reads the
//! read tables first waits until they hold the token's last write. The
//! append transaction keeps that position in PostgreSQL
//! (`token_write_positions`), so the wait holds on every API process,
//! whichever appended.
//!
//! The wait moved from writes to reads because a burst of creates then
//! commits without waiting for the projector (issue 13: a create's answer
//! spent half its latency there), while the client still never reads a
//! table that misses its own write.

use actix_web::http::Method;
use scim::ScimError;
use uuid::Uuid;

use crate::write::wait_for_projection;
use crate::{ApiError, AppState};

/// Waits (bounded) until the read tables hold everything `token_id` wrote;
/// 503 if they still do not, rather than an answer that misses the
/// client's own write.
pub async fn await_own_writes(state: &AppState, token_id: Uuid) -> Result<(), ApiError> {
    let Some((org_id, position)) = store::token_write_position(&state.pool, token_id).await? else {
        return Ok(());
    };
    if state.projection.borrow().holds(org_id, position)
        || wait_for_projection(state, org_id, position).await
    {
        return Ok(());
    }
    Err(ApiError::Scim(ScimError {
        status: 503,
        scim_type: None,
        detail: "rollcall has recorded your last write but cannot show it yet; retry shortly"
            .into(),
    }))
}

/// Whether a SCIM request reads nothing of the read tables, so that it
/// need not wait for the token's earlier writes: a user's creation and
/// deletion, answered from the user's stream, and the discovery endpoints
/// (which Entra's Test Connection must reach while the projector is away).
/// Every other request waits, endpoints added later included; a user's
/// replacement and PATCH answer with the user's groups, which the read
/// tables hold.
pub fn reads_no_read_tables(method: &Method, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let is_one_user = path
        .strip_prefix("/scim_v2/Users/")
        .is_some_and(|id| !id.is_empty() && !id.contains('/') && !id.starts_with('.'));
    let is_discovery = ["ServiceProviderConfig", "Schemas", "ResourceTypes"]
        .iter()
        .any(|name| {
            path.strip_prefix("/scim_v2/")
                .and_then(|rest| rest.strip_prefix(name))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
    (*method == Method::POST && path == "/scim_v2/Users")
        || (*method == Method::DELETE && is_one_user)
        || (*method == Method::GET && is_discovery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_user_creates_and_deletes_skip_the_wait() {
        let id = "/scim_v2/Users/0193a4f0-0000-7000-8000-000000000001";
        assert!(reads_no_read_tables(&Method::POST, "/scim_v2/Users"));
        assert!(reads_no_read_tables(&Method::POST, "/scim_v2/Users/"));
        assert!(reads_no_read_tables(&Method::DELETE, id));
        assert!(reads_no_read_tables(
            &Method::GET,
            "/scim_v2/ServiceProviderConfig"
        ));
        assert!(reads_no_read_tables(&Method::GET, "/scim_v2/Schemas"));
        assert!(reads_no_read_tables(
            &Method::GET,
            "/scim_v2/ResourceTypes/User"
        ));
        for (method, path) in [
            (Method::GET, id),
            (Method::PATCH, id),
            (Method::PUT, id),
            (Method::GET, "/scim_v2/Users"),
            (Method::POST, "/scim_v2/Users/.search"),
            (Method::DELETE, "/scim_v2/Users/.search"),
            (Method::DELETE, "/scim_v2/Users"),
            (Method::POST, "/scim_v2/Groups"),
            (
                Method::DELETE,
                "/scim_v2/Groups/0193a4f0-0000-7000-8000-000000000001",
            ),
            (Method::POST, "/scim_v2/Bulk"),
            (Method::POST, "/scim_v2/.search"),
            (Method::GET, "/scim_v2/SchemasAndUsers"),
            (Method::POST, "/scim_v2/Schemas"),
        ] {
            assert!(!reads_no_read_tables(&method, path), "{method} {path}");
        }
    }
}
