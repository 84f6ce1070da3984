//! SCIM JSON for groups: the stored attributes with `id` and `meta`, and the
//! members apart, because a big group's members are streamed rather than
//! built into one value.

use actix_web::HttpRequest;
use actix_web::web::Bytes;
use domain::group::Member;
use domain::read_model::GroupRow;
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::ApiError;
use crate::render::{Meta, ResourceType, location, resource_members};
use scim::{GroupSchema, Selection};
use store::StoreError;

/// Whether `selection` returns `members`: the members are read only then.
pub fn wants_members(selection: &Selection) -> bool {
    selection.returns("members", &GroupSchema)
}

/// A group's attributes as SCIM JSON, without `members`, as `selection` asks.
pub fn group_json(
    request: &HttpRequest,
    group_id: Uuid,
    row: &GroupRow,
    selection: &Selection,
) -> Value {
    let meta = Meta {
        resource_type: ResourceType::Group,
        created: row.created_at,
        last_modified: row.updated_at,
        version: row.version,
    };
    let out = resource_members(request, &row.resource, group_id, None, meta);
    let group = Value::Object(out);
    if selection.is_all() {
        group
    } else {
        selection.apply(&group, &GroupSchema)
    }
}

/// One member as SCIM JSON.
pub fn member_json(request: &HttpRequest, member: &Member) -> Value {
    let mut json = json!({
        "value": member.value.to_string(),
        "$ref": location(request, member.kind.into(), member.value),
        "type": member.kind.as_str(),
    });
    if let Some(display) = &member.display {
        json["display"] = Value::String(display.clone());
    }
    json
}

/// A group with its members, whole, for responses of bounded size.
pub fn group_with_members(
    request: &HttpRequest,
    group_id: Uuid,
    row: &GroupRow,
    members: Option<&[Member]>,
    selection: &Selection,
) -> Value {
    let mut group = group_json(request, group_id, row, selection);
    if let (Some(members), Some(fields)) = (members, group.as_object_mut()) {
        let members = members.iter().map(|m| member_json(request, m)).collect();
        fields.insert("members".into(), Value::Array(members));
    }
    group
}

/// A group's JSON with its members streamed in chunks from the store: the
/// attributes first, then `"members":[` and each chunk as it is read.
/// Memory stays bounded by a chunk whatever the group's size.
pub fn streamed_group(
    request: &HttpRequest,
    head: Value,
    chunks: mpsc::Receiver<Result<Vec<Member>, StoreError>>,
) -> impl Stream<Item = Result<Bytes, ApiError>> + use<> {
    let mut head = head.to_string();
    head.pop(); // the closing brace: the members go before it
    if head.len() > 1 {
        head.push(',');
    }
    head.push_str("\"members\":[");
    let base = request.clone();
    let state = Streaming {
        head: Some(head),
        chunks,
        first: true,
        done: false,
        request: base,
    };
    futures::stream::unfold(state, |mut state| async move {
        if let Some(head) = state.head.take() {
            return Some((Ok(Bytes::from(head)), state));
        }
        if state.done {
            return None;
        }
        match state.chunks.recv().await {
            Some(Ok(members)) => {
                let mut text = String::with_capacity(members.len() * 160);
                for member in &members {
                    if !state.first {
                        text.push(',');
                    }
                    state.first = false;
                    text.push_str(&member_json(&state.request, member).to_string());
                }
                Some((Ok(Bytes::from(text)), state))
            }
            Some(Err(error)) => {
                state.done = true;
                Some((Err(ApiError::from(error)), state))
            }
            None => {
                state.done = true;
                Some((Ok(Bytes::from_static(b"]}")), state))
            }
        }
    })
}

struct Streaming {
    head: Option<String>,
    chunks: mpsc::Receiver<Result<Vec<Member>, StoreError>>,
    first: bool,
    done: bool,
    request: HttpRequest,
}
