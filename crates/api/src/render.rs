//! What users and groups render alike: resource locations, `id` and `meta`
//! around a stored resource, list responses, ETags and the `If-Match` /
//! `If-None-Match` preconditions. Each resource's own JSON is rendered next
//! to its routes (`routes/users/render.rs`, `routes/groups/render.rs`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::ApiError;
use crate::error::SCIM_JSON;
use crate::query::Paging;
use domain::group::MemberKind;
use scim::ScimError;

/// The ListResponse message schema.
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

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

/// The resource types served under `/scim_v2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    User,
    Group,
}

impl ResourceType {
    /// The name `meta.resourceType` and a member's `type` give.
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }

    /// The endpoint its resources live under.
    fn endpoint(self) -> &'static str {
        match self {
            ResourceType::User => "Users",
            ResourceType::Group => "Groups",
        }
    }
}

impl From<MemberKind> for ResourceType {
    fn from(kind: MemberKind) -> Self {
        match kind {
            MemberKind::User => ResourceType::User,
            MemberKind::Group => ResourceType::Group,
        }
    }
}

/// The absolute URL of a resource under `/scim_v2`, for `Location`,
/// `meta.location` and `$ref`.
pub fn location(request: &HttpRequest, resource_type: ResourceType, id: Uuid) -> String {
    format!("{}/{}/{id}", scim_base(request), resource_type.endpoint())
}

/// The absolute URL of the SCIM endpoints as the client addressed them
/// (`https://host/scim_v2`): every `meta.location` starts with it.
pub fn scim_base(request: &HttpRequest) -> String {
    format!("{}/scim_v2", origin(request))
}

/// The scheme and host the client addressed (behind a proxy, as it says in
/// `Forwarded` / `X-Forwarded-*`).
pub fn origin(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// What a resource's `meta` says besides its location.
pub struct Meta {
    pub resource_type: ResourceType,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    pub version: i64,
}

/// A stored resource as SCIM JSON members: `schemas` first, then `id`, the
/// members as stored, `extra` (attributes kept apart, like a user's
/// `groups`), and `meta`.
pub fn resource_members(
    request: &HttpRequest,
    resource: &Value,
    id: Uuid,
    extra: Option<(&str, Value)>,
    meta: Meta,
) -> Map<String, Value> {
    let mut out = domain::resource::members_in_order(resource, id, extra);
    out.insert(
        "meta".into(),
        json!({
            "resourceType": meta.resource_type.name(),
            "created": rfc3339(meta.created),
            "lastModified": rfc3339(meta.last_modified),
            "location": location(request, meta.resource_type, id),
            "version": etag(meta.version),
        }),
    );
    out
}

/// The ListResponse for list parameters given as a query string (sent so,
/// or read from a SearchRequest): `page(offset, limit)` reads that many
/// matches of one resource type from `offset` and counts them all.
pub async fn list_page<Page>(
    query_string: &str,
    max_results: i64,
    page: impl FnOnce(i64, i64) -> Page,
) -> Result<HttpResponse, ApiError>
where
    Page: Future<Output = Result<(i64, Vec<Value>), ApiError>>,
{
    let paging = Paging::parse(query_string, max_results)?;
    let (total, resources) = page(paging.start_index - 1, paging.count).await?;
    Ok(list_response(total, paging.start_index, resources))
}

/// A ListResponse answered 200.
pub fn list_response(total: i64, start_index: i64, resources: Vec<Value>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .body(list_json(total, start_index, resources).to_string())
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
