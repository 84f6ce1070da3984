//! SCIM JSON for users: the stored resource with `id` and `meta`, and the
//! read-only `groups` attribute (RFC 7643 §4.1.2): the groups a user belongs
//! to directly and through groups in groups, read from the membership table
//! only when the response will show it.

use std::collections::HashMap;

use actix_web::HttpRequest;
use scim::{Selection, UserSchema};
use serde_json::{Value, json};
use store::UserGroup;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::render::{Meta, ResourceType, location, resource_members};
use crate::{ApiError, AppState};

/// Everything needed to render one user.
pub struct UserView<'a> {
    pub user_id: Uuid,
    pub resource: &'a Value,
    pub version: i64,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    /// The groups it belongs to ([`groups_of`]); empty leaves `groups` out.
    pub groups: &'a [UserGroup],
}

/// A user as SCIM JSON: the stored resource as sent, with `id` and `meta`,
/// projected by the request's `attributes`/`excludedAttributes`.
pub fn user_json(request: &HttpRequest, view: &UserView<'_>, selection: &Selection) -> Value {
    let groups = groups_json(request, view.groups);
    let meta = Meta {
        resource_type: ResourceType::User,
        created: view.created,
        last_modified: view.last_modified,
        version: view.version,
    };
    let extra = groups.map(|groups| ("groups", groups));
    let user = Value::Object(resource_members(
        request,
        view.resource,
        view.user_id,
        extra,
        meta,
    ));
    if selection.is_all() {
        user
    } else {
        selection.apply(&user, &UserSchema)
    }
}

/// Whether `selection` shows `groups` (it is returned by default).
fn wants_groups(selection: &Selection) -> bool {
    selection.returns("groups", &UserSchema)
}

/// The groups of each user, or nothing when the selection leaves them out.
pub async fn groups_of(
    state: &AppState,
    org_id: Uuid,
    user_ids: &[Uuid],
    selection: &Selection,
) -> Result<HashMap<Uuid, Vec<UserGroup>>, ApiError> {
    if user_ids.is_empty() || !wants_groups(selection) {
        return Ok(HashMap::new());
    }
    Ok(store::groups_of_users(&state.pool, org_id, user_ids).await?)
}

/// The `groups` value; `None` for a user in no group (the attribute is
/// then left out, as unassigned attributes are).
fn groups_json(request: &HttpRequest, groups: &[UserGroup]) -> Option<Value> {
    if groups.is_empty() {
        return None;
    }
    Some(Value::Array(
        groups
            .iter()
            .map(|group| {
                json!({
                    "value": group.group_id.to_string(),
                    "$ref": location(request, ResourceType::Group, group.group_id),
                    "display": group.display_name,
                    "type": if group.direct { "direct" } else { "indirect" },
                })
            })
            .collect(),
    ))
}
