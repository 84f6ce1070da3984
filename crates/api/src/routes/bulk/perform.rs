//! Performing one bulk operation through the write path the Users or Groups
//! routes use, and the operation's entry in the BulkResponse.

use std::cell::Cell;

use actix_web::HttpRequest;
use domain::RequestMeta;
use domain::group::GroupCommand;
use domain::user::UserCommand;
use serde_json::{Value, json};
use store::AccessRecord;
use time::OffsetDateTime;
use uuid::Uuid;

use super::references::References;
use super::request::{Action, Operation};
use crate::last_writes::await_own_writes;
use crate::render::{ResourceType, etag, location};
use crate::routes::groups::write::write_group_as;
use crate::routes::users::password;
use crate::routes::users::write::write_user_as;
use crate::scim_gate::Tenant;
use crate::{ApiError, AppState};

/// What became of one operation.
pub struct Performed {
    /// The operation's entry in the BulkResponse.
    pub entry: Value,
    /// Whether it appended events.
    pub appended: bool,
    pub failed: bool,
}

/// The request an operation is part of.
pub struct Context<'a> {
    pub state: &'a AppState,
    pub request: &'a HttpRequest,
    pub tenant: Tenant,
    /// Whether a user operation of this request appended since a group
    /// operation last waited for the token's writes (the gate waited for
    /// those before the request).
    pub has_unseen_user_writes: Cell<bool>,
}

/// Performs operation `index`. An operation that appended nothing (it
/// failed, or changed nothing) is recorded in the access log on its own.
pub async fn perform(
    context: &Context<'_>,
    index: usize,
    operation: &Operation,
    references: &mut References,
) -> Performed {
    let mut entry = json!({"method": operation.method});
    if let Some(bulk_id) = &operation.bulk_id {
        entry["bulkId"] = Value::from(bulk_id.as_str());
    }
    let (status, appended, detail) = match run(context, index, operation, references).await {
        Ok((status, done)) => {
            if let (Some(bulk_id), Ok(Action::Create { .. })) =
                (&operation.bulk_id, &operation.action)
            {
                references.created(bulk_id, done.id);
            }
            entry["location"] = Value::from(location(context.request, operation.kind, done.id));
            if let Some(version) = done.version {
                entry["version"] = Value::from(etag(version));
            }
            (status, done.appended, None)
        }
        Err(error) => {
            tracing::info_span!("bulk_operation", index).in_scope(|| error.log());
            if let ApiError::Database { class, .. } = &error {
                context.state.metrics.count_store_error(*class);
            }
            let scim = error.to_scim();
            entry["response"] = scim.to_json();
            (scim.status, false, Some(error.to_string()))
        }
    };
    entry["status"] = Value::from(status.to_string());
    if !appended {
        // A record that finds no room is logged and counted by the access
        // log (rollcall_api_access_records_unrecorded_total); the operation
        // changed nothing.
        let _ = context
            .state
            .access_log
            .record(AccessRecord {
                org_id: Some(context.tenant.org_id),
                recorded_at: OffsetDateTime::now_utc(),
                meta: operation_meta(context, index, operation, status),
                detail: detail.clone(),
            })
            .await;
    }
    Performed {
        entry,
        appended,
        failed: detail.is_some(),
    }
}

/// What a performed operation left.
struct Done {
    /// The user or group it wrote.
    id: Uuid,
    /// Its version after the write; `None` once deleted.
    version: Option<i64>,
    appended: bool,
}

/// Resolves the operation's references and writes it: its status and outcome.
async fn run(
    context: &Context<'_>,
    index: usize,
    operation: &Operation,
    references: &References,
) -> Result<(u16, Done), ApiError> {
    let action = operation.action.clone()?;
    count_operation(context, operation.kind, &action).await;
    let data = match action.data() {
        Some(data) => references.substitute(index, data)?,
        None => Value::Null,
    };
    let (id, status) = match &action {
        Action::Create { .. } => (Uuid::now_v7(), 201),
        Action::Replace { target, .. } | Action::Patch { target, .. } => {
            (references.resolve_target(index, target)?, 200)
        }
        Action::Delete { target, .. } => (references.resolve_target(index, target)?, 204),
    };
    let meta = operation_meta(context, index, operation, status);
    let done = match operation.kind {
        ResourceType::User => write_user_operation(context, &action, data, id, meta).await?,
        ResourceType::Group => write_group_operation(context, &action, data, id, meta).await?,
    };
    Ok((status, done))
}

/// Counts the operation in `rollcall_scim_operations_total`, and a PATCH's
/// forms in `rollcall_scim_dialect_forms_total` (with the bulk request's
/// query string, where Entra's flag would be).
async fn count_operation(context: &Context<'_>, kind: ResourceType, action: &Action) {
    let resource = match kind {
        ResourceType::User => "User",
        ResourceType::Group => "Group",
    };
    let op = match action {
        Action::Create { .. } => "create",
        Action::Replace { .. } => "replace",
        Action::Patch { data, .. } => {
            let (state, org_id) = (context.state, context.tenant.org_id);
            (state.dialect_forms)
                .count(org_id, context.request.query_string(), data)
                .await;
            "patch"
        }
        Action::Delete { .. } => "delete",
    };
    context.state.metrics.scim_operations.count(resource, op);
}

async fn write_user_operation(
    context: &Context<'_>,
    action: &Action,
    mut data: Value,
    user_id: Uuid,
    meta: RequestMeta,
) -> Result<Done, ApiError> {
    let password = match action {
        Action::Create { .. } | Action::Replace { .. } => scim::schema::take_password(&mut data)?,
        Action::Patch { .. } => scim::schema::take_patch_password(&mut data)?,
        Action::Delete { .. } => None,
    };
    let password_hash = password::hash(password).await?;
    let command = || match action {
        Action::Create { .. } => UserCommand::Provision {
            resource: data.clone(),
            password_hash: password_hash.clone(),
        },
        Action::Replace { if_match, .. } => UserCommand::Replace {
            resource: data.clone(),
            password_hash: password_hash.clone(),
            if_match: *if_match,
        },
        Action::Patch { if_match, .. } => UserCommand::Patch {
            body: data.clone(),
            password_hash: password_hash.clone(),
            if_match: *if_match,
        },
        Action::Delete { if_match, .. } => UserCommand::Delete {
            if_match: *if_match,
        },
    };
    let outcome = write_user_as(context.state, context.tenant, user_id, meta, command).await?;
    if outcome.appended {
        context.has_unseen_user_writes.set(true);
    }
    Ok(Done {
        id: user_id,
        version: outcome.resource.is_some().then_some(outcome.version),
        appended: outcome.appended,
    })
}

async fn write_group_operation(
    context: &Context<'_>,
    action: &Action,
    data: Value,
    group_id: Uuid,
    meta: RequestMeta,
) -> Result<Done, ApiError> {
    let command = match action.clone() {
        Action::Create { .. } => GroupCommand::Create { resource: data },
        Action::Replace { if_match, .. } => GroupCommand::Replace {
            resource: data,
            if_match,
        },
        Action::Patch { if_match, .. } => GroupCommand::Patch {
            body: data,
            if_match,
        },
        Action::Delete { if_match, .. } => GroupCommand::Delete { if_match },
    };
    let deletes = matches!(command, GroupCommand::Delete { .. });
    // A group is decided on what the read tables say of its members: they
    // must hold the users this request's earlier operations wrote, whose
    // writes did not wait for the projector.
    if context.has_unseen_user_writes.get() {
        await_own_writes(context.state, context.tenant.token_id).await?;
        context.has_unseen_user_writes.set(false);
    }
    let written = write_group_as(context.state, context.tenant, group_id, meta, command).await?;
    Ok(Done {
        id: group_id,
        version: (!deletes).then_some(written.version),
        appended: written.appended,
    })
}

/// The record of one operation: the bulk request's id, token, client and
/// body digest, with the operation named after the bulk path
/// (`/scim_v2/Bulk#2 PATCH /Users/bulkId:q1`) and its own status.
fn operation_meta(
    context: &Context<'_>,
    index: usize,
    operation: &Operation,
    status: u16,
) -> RequestMeta {
    let mut meta = context.tenant.request_meta(context.request, status);
    meta.path = domain::bounded::bound_owned(
        format!(
            "{}#{index} {} {}",
            context.request.path(),
            operation.method,
            operation.path
        ),
        domain::bounded::MAX_PATH_BYTES,
    );
    meta
}
