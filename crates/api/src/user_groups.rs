//! The read-only `groups` attribute of a User (RFC 7643 §4.1.2): the groups
//! it belongs to directly and through groups in groups, read from the
//! membership table when the response will show it.

use std::collections::HashMap;

use actix_web::HttpRequest;
use scim::{Selection, UserSchema};
use serde_json::{Value, json};
use store::UserGroup;
use uuid::Uuid;

use crate::group_render::group_location;
use crate::{ApiError, AppState};

/// Whether `selection` shows `groups` (it is returned by default).
pub fn wants_groups(selection: &Selection) -> bool {
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
pub fn groups_json(request: &HttpRequest, groups: &[UserGroup]) -> Option<Value> {
    if groups.is_empty() {
        return None;
    }
    Some(Value::Array(
        groups
            .iter()
            .map(|group| {
                json!({
                    "value": group.group_id.to_string(),
                    "$ref": group_location(request, group.group_id),
                    "display": group.display_name,
                    "type": if group.direct { "direct" } else { "indirect" },
                })
            })
            .collect(),
    ))
}
