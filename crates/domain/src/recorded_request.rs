//! What the log keeps of a request's body, told from the events it produced.
//!
//! The body itself is never recorded (only its SHA-256 digest, in the
//! request metadata); the events keep what the rules need of it, and that is
//! all an auditor can be shown: the resource as sent for a created or
//! replaced user and a created group, the operations as sent for a patched
//! user, and only the changes made for a replaced or patched group. Secrets
//! are redacted once more on the way out ([`crate::redaction::redact_body`]),
//! though the events keep none.

use serde::Serialize;
use serde_json::{Value, json};

use crate::event::Event;
use crate::redaction::redact_body;

/// How much of a request's body its events keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyKept {
    /// The resource as sent, less `id`, `meta` and the password (POST and
    /// PUT `/Users`, POST `/Groups` with its `members`).
    Resource,
    /// The PATCH operations as sent, less any clear password (PATCH
    /// `/Users`).
    Operations,
    /// Only the changes it made (PUT and PATCH `/Groups`: the attributes as
    /// they became and the members added or removed): see its events.
    Changes,
    /// Nothing but its digest: reads, refusals, deletions, requests that
    /// changed nothing, the admin API.
    Digest,
}

/// The body that `events` (one request's, in order) keep, redacted, and how
/// much of it they keep.
pub fn body_of<'a>(events: impl IntoIterator<Item = &'a Event>) -> (Option<Value>, BodyKept) {
    let events: Vec<&Event> = events.into_iter().collect();
    let (body, kept) = match events.first() {
        Some(Event::UserProvisioned { resource, .. } | Event::UserReplaced { resource, .. }) => {
            (Some(resource.clone()), BodyKept::Resource)
        }
        Some(Event::UserPatched { operations, .. }) => (
            Some(json!({ "Operations": operations })),
            BodyKept::Operations,
        ),
        Some(Event::GroupCreated { resource }) => {
            let mut resource = resource.clone();
            let members: Vec<&crate::group::Member> = events
                .iter()
                .filter_map(|event| match event {
                    Event::GroupMembersAdded { members } => Some(members),
                    _ => None,
                })
                .flatten()
                .collect();
            if let (Value::Object(object), false) = (&mut resource, members.is_empty()) {
                object.insert("members".into(), json!(members));
            }
            (Some(resource), BodyKept::Resource)
        }
        Some(
            Event::GroupUpdated { .. }
            | Event::GroupMembersAdded { .. }
            | Event::GroupMembersRemoved { .. },
        ) => (None, BodyKept::Changes),
        _ => (None, BodyKept::Digest),
    };
    let body = body.map(|mut body| {
        redact_body(&mut body);
        body
    });
    (body, kept)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::group::{Member, MemberKind};

    #[test]
    fn a_created_user_shows_the_resource_as_sent() {
        let resource = json!({"userName": "ada@contoso.com", "active": true});
        let events = [
            Event::UserProvisioned {
                resource: resource.clone(),
                password_hash: Some("$argon2id$...".into()),
            },
            Event::UserDeactivated {},
        ];
        let (body, kept) = body_of(&events);
        assert_eq!(body, Some(resource));
        assert_eq!(kept, BodyKept::Resource);
    }

    #[test]
    fn a_patched_user_shows_the_operations() {
        let operations = json!([{"op": "Replace", "path": "active", "value": "False"}]);
        let events = [Event::UserPatched {
            operations: operations.clone(),
            resource: json!({}),
            password_hash: None,
        }];
        let (body, kept) = body_of(&events);
        assert_eq!(body, Some(json!({ "Operations": operations })));
        assert_eq!(kept, BodyKept::Operations);
    }

    #[test]
    fn a_created_group_shows_its_members_and_a_patched_one_its_changes() {
        let member = Uuid::from_u128(7);
        let added = Event::GroupMembersAdded {
            members: vec![Member {
                value: member,
                kind: MemberKind::User,
                display: None,
            }],
        };
        let created = [
            Event::GroupCreated {
                resource: json!({"displayName": "Sales"}),
            },
            added.clone(),
        ];
        let (body, kept) = body_of(&created);
        assert_eq!(kept, BodyKept::Resource);
        let body = body.unwrap();
        assert_eq!(body["displayName"], "Sales");
        assert_eq!(body["members"][0]["value"], member.to_string());
        assert_eq!(body_of(&[added]), (None, BodyKept::Changes));
        assert_eq!(body_of(&[Event::UserDeleted {}]), (None, BodyKept::Digest));
        assert_eq!(body_of(&[]), (None, BodyKept::Digest));
    }
}
