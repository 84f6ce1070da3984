//! Who may ask about an organization: its owners, for every route under
//! `/api/v1/orgs/{org}` but the member's own and the audit
//! ([`require_owner`]); its owners and auditors, for the audit
//! ([`require_auditor`]); any member, for leaving it ([`require_member`]).

use actix_web::{HttpMessage, HttpRequest};
use domain::account::ACCOUNTS;
use domain::provisioning::OWNER;
use domain::{Refusal, RefusalCode};
use uuid::Uuid;

use super::error::{AUDIT_ROLES, AdminError, REQUIRED_ROLE};
use super::gate::{Caller, OrganizationOf};
use crate::AppState;

/// Lets the request through when its caller is an active owner of
/// `org_id`. Otherwise records the refusal of `command` and returns it: a
/// member of another role gets 403 (recorded in the organization's stream,
/// for its auditors); anyone else 404, whether the organization exists or
/// not (recorded in the caller's own account stream: another
/// organization's stream is not theirs to write in).
pub async fn require_owner(
    state: &AppState,
    request: &HttpRequest,
    caller: &Caller,
    org_id: Uuid,
    command: &str,
) -> Result<(), AdminError> {
    require_role(
        state,
        request,
        caller,
        org_id,
        command,
        &[OWNER],
        REQUIRED_ROLE,
    )
    .await
}

/// Lets the request through when its caller is an active owner or auditor
/// of `org_id`; refuses and records as [`require_owner`] does otherwise.
pub async fn require_auditor(
    state: &AppState,
    request: &HttpRequest,
    caller: &Caller,
    org_id: Uuid,
    command: &str,
) -> Result<(), AdminError> {
    require_role(
        state,
        request,
        caller,
        org_id,
        command,
        &AUDIT_ROLES,
        AUDIT_ROLES[0],
    )
    .await
}

async fn require_role(
    state: &AppState,
    request: &HttpRequest,
    caller: &Caller,
    org_id: Uuid,
    command: &str,
    admitted: &[&str],
    required_role: &'static str,
) -> Result<(), AdminError> {
    let role = admin::members::role_of(&state.pool, org_id, caller.account_id).await?;
    let meta = caller.meta(request, RefusalCode::Forbidden.http_status());
    let (keyspace, stream_id, refusal) = match role {
        Some(role) if admitted.contains(&role.as_str()) => {
            request.extensions_mut().insert(OrganizationOf(org_id));
            crate::request_id::note_caller(Some(org_id), None);
            return Ok(());
        }
        Some(role) => (
            org_id,
            org_id,
            Refusal::forbidden(format!(
                "only the organization's {} may do this ({command}); your role is {role}: \
                 ask an owner for the role {required_role}",
                roles_named(admitted)
            )),
        ),
        None => (ACCOUNTS, caller.account_id, not_a_member(org_id)),
    };
    let forbidden = refusal.code == RefusalCode::Forbidden;
    let error = admin::record_refusal(
        &state.pool,
        &state.appender,
        keyspace,
        stream_id,
        &meta,
        command,
        refusal,
    )
    .await;
    Err(match AdminError::from(error) {
        AdminError::Refused(refusal) if forbidden => {
            AdminError::RoleRequired(refusal, required_role)
        }
        other => other,
    })
}

/// "owners", "auditors and owners".
fn roles_named(roles: &[&str]) -> String {
    let plural: Vec<String> = roles.iter().map(|role| format!("{role}s")).collect();
    plural.join(" and ")
}

/// Lets the request through when its caller is a member of `org_id`
/// (active or suspended): the membership's stream is then theirs to ask in.
/// Anyone else gets 404, recorded in their own account's stream, as
/// [`require_owner`] does.
pub async fn require_member(
    state: &AppState,
    request: &HttpRequest,
    caller: &Caller,
    org_id: Uuid,
    command: &str,
) -> Result<(), AdminError> {
    if admin::members::is_member(&state.pool, org_id, caller.account_id).await? {
        return Ok(());
    }
    let error = admin::record_refusal(
        &state.pool,
        &state.appender,
        ACCOUNTS,
        caller.account_id,
        &caller.meta(request, RefusalCode::NotFound.http_status()),
        command,
        not_a_member(org_id),
    )
    .await;
    Err(AdminError::from(error))
}

fn not_a_member(org_id: Uuid) -> Refusal {
    Refusal::not_found(format!(
        "you are not a member of an organization {org_id}; check the organization's id"
    ))
}
