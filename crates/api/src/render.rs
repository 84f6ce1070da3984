//! SCIM JSON for responses: resources with `id` and `meta` and the request's
//! attribute selection, list responses, ETags and the `If-Match` /
//! `If-None-Match` preconditions.

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderValue};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::ApiError;
use scim::{ScimError, Selection, UserSchema};

/// The ListResponse message schema.
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Everything needed to render one user.
pub struct UserView<'a> {
    pub user_id: Uuid,
    pub resource: &'a Value,
    pub version: i64,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    /// The groups it belongs to (see `user_groups`); empty leaves `groups` out.
    pub groups: &'a [store::UserGroup],
}

/// The weak ETag of a resource version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an `If-Match` header names; `None` for `*` or no header.
pub fn if_match(request: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = request.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    etag_version(text).ok_or_else(|| {
        ApiError::Scim(ScimError::precondition_failed(format!(
            "If-Match {text:?} is not an ETag this server issued"
        )))
    })
}

/// The version an `If-Match` value (or a bulk operation's `version`) names:
/// `Some(None)` for `*`, `None` when it is not an ETag of ours.
pub fn etag_version(text: &str) -> Option<Option<i64>> {
    let text = text.trim();
    if text == "*" {
        return Some(None);
    }
    let quoted = text.strip_prefix("W/").unwrap_or(text);
    quoted.trim_matches('"').parse().ok().map(Some)
}

/// Whether an `If-None-Match` header names `version` (or is `*`): a `GET`
/// then answers `304 Not Modified`. A header that names no ETag of ours
/// matches nothing.
pub fn if_none_match(request: &HttpRequest, version: i64) -> bool {
    let current = version.to_string();
    request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(','))
        .map(str::trim)
        .any(|tag| {
            // Weak comparison (RFC 9110 §8.8.3.2): `W/` does not matter.
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"') == current
        })
}

/// The absolute URL of a resource under `/scim_v2` (`endpoint` is `Users`
/// or `Groups`), for `Location`, `meta.location` and `$ref`.
pub fn location(request: &HttpRequest, endpoint: &str, id: Uuid) -> String {
    let info = request.connection_info();
    format!(
        "{}://{}/scim_v2/{endpoint}/{id}",
        info.scheme(),
        info.host()
    )
}

/// The absolute URL of a user.
pub fn user_location(request: &HttpRequest, user_id: Uuid) -> String {
    location(request, "Users", user_id)
}

/// What a resource's `meta` says.
pub struct Meta {
    pub resource_type: &'static str,
    pub location: String,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    pub version: i64,
}

/// A stored resource as SCIM JSON members: `schemas` first, then `id`, the
/// members as stored, `extra` (attributes kept apart, like a user's
/// `groups`), and `meta`.
pub fn resource_members(
    resource: &Value,
    id: Uuid,
    extra: Option<(&str, Value)>,
    meta: Meta,
) -> Map<String, Value> {
    let mut out = Map::new();
    let fields = resource.as_object().cloned().unwrap_or_default();
    if let Some((key, schemas)) = fields
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("schemas"))
    {
        out.insert(key.clone(), schemas.clone());
    }
    out.insert("id".into(), Value::String(id.to_string()));
    for (key, value) in fields {
        if !key.eq_ignore_ascii_case("schemas") {
            out.insert(key, value);
        }
    }
    if let Some((key, value)) = extra {
        out.insert(key.into(), value);
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": meta.resource_type,
            "created": rfc3339(meta.created),
            "lastModified": rfc3339(meta.last_modified),
            "location": meta.location,
            "version": etag(meta.version),
        }),
    );
    out
}

/// A user as SCIM JSON: the stored resource as sent, with `id` and `meta`,
/// projected by the request's `attributes`/`excludedAttributes`.
pub fn user_json(request: &HttpRequest, view: &UserView<'_>, selection: &Selection) -> Value {
    let groups = crate::user_groups::groups_json(request, view.groups);
    let meta = Meta {
        resource_type: "User",
        location: user_location(request, view.user_id),
        created: view.created,
        last_modified: view.last_modified,
        version: view.version,
    };
    let extra = groups.map(|groups| ("groups", groups));
    let user = Value::Object(resource_members(view.resource, view.user_id, extra, meta));
    if selection.is_all() {
        user
    } else {
        selection.apply(&user, &UserSchema)
    }
}

/// A ListResponse.
pub fn list_json(total: i64, start_index: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// A header value for an ETag.
pub fn etag_header(version: i64) -> (header::HeaderName, HeaderValue) {
    (
        header::ETAG,
        HeaderValue::from_str(&etag(version)).expect("an ETag is a valid header"),
    )
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("timestamps format as RFC 3339")
}
