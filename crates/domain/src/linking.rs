//! How a SCIM user (the organization's directory entry) is linked to a
//! global account and a membership, and how the membership follows the
//! entry: created with the organization's default role, suspended while the
//! entry is inactive (Entra's soft delete), restored when it is active
//! again, removed when the entry is deleted.
//!
//! An owner who removed a SCIM member keeps it removed until the identity
//! provider re-creates or reactivates the entry: attribute changes alone do
//! not bring it back.

use serde_json::Value;
use uuid::Uuid;

use crate::Event;
use crate::membership::{Member, MemberState};
use crate::provisioning::Provisioning;

/// What the linker reads from an entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// The primary email, else the work one, else the first.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
}

impl Entry {
    /// The entry a stored SCIM user resource describes. Names come from
    /// `name.givenName`/`name.familyName`, else from the top-level
    /// `firstName`/`familyName` that Entra guides tell admins to map.
    pub fn of(resource: &Value) -> Entry {
        Entry {
            email: email(resource),
            first_name: text(resource, "name", "givenName").or_else(|| top(resource, "firstName")),
            family_name: text(resource, "name", "familyName")
                .or_else(|| top(resource, "familyName")),
            active: crate::user::is_active(resource),
        }
    }
}

/// What happened to an entry, as the linker follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryChange {
    /// Created (`UserProvisioned`): links, and brings a removed member back.
    Created {
        active: bool,
    },
    /// Replaced or patched: links an entry not linked yet, and follows
    /// `active`.
    Written {
        active: bool,
    },
    Deactivated,
    Reactivated,
    Deleted,
}

impl EntryChange {
    /// The change `event` makes to its entry (with the entry it leaves, for
    /// writes), if it is one of a user's.
    pub fn of(event: &Event) -> Option<(EntryChange, Option<Entry>)> {
        Some(match event {
            Event::UserProvisioned { resource, .. } => {
                let entry = Entry::of(resource);
                (
                    EntryChange::Created {
                        active: entry.active,
                    },
                    Some(entry),
                )
            }
            Event::UserReplaced { resource, .. } | Event::UserPatched { resource, .. } => {
                let entry = Entry::of(resource);
                (
                    EntryChange::Written {
                        active: entry.active,
                    },
                    Some(entry),
                )
            }
            Event::UserDeactivated {} => (EntryChange::Deactivated, None),
            Event::UserReactivated {} => (EntryChange::Reactivated, None),
            Event::UserDeleted {} => (EntryChange::Deleted, None),
            _ => return None,
        })
    }
}

/// The membership events that make `member` (the account's membership,
/// `None`: never one) follow `change` of its entry `entry_id`.
pub fn follow(
    settings: &Provisioning,
    member: Option<&Member>,
    account_id: Uuid,
    email: &str,
    entry_id: Uuid,
    change: EntryChange,
) -> Vec<Event> {
    let removed = member.is_none_or(|member| member.state == MemberState::Removed);
    let managed_by_another = !removed
        && member.is_some_and(|member| member.entry_id.is_some_and(|other| other != entry_id));
    if managed_by_another {
        // Another entry of the organization has the same email and manages
        // the membership already; it stays the one that does, rather than
        // the two taking the membership from each other at every change.
        return Vec::new();
    }
    let comes_back = matches!(
        change,
        EntryChange::Created { .. } | EntryChange::Reactivated
    ) || member.is_none();
    let (wanted_active, deleted) = match change {
        EntryChange::Created { active } | EntryChange::Written { active } => (active, false),
        EntryChange::Deactivated => (false, false),
        EntryChange::Reactivated => (true, false),
        EntryChange::Deleted => (false, true),
    };
    let mut events = Vec::new();
    if deleted {
        if !removed {
            events.push(Event::MemberRemoved {
                account_id,
                by: "identity provider".into(),
            });
        }
        return events;
    }
    let mut state = MemberState::Active;
    if removed {
        if !comes_back {
            return events;
        }
        events.push(Event::MemberAdded {
            account_id,
            email: email.to_owned(),
            role: default_role(settings),
            source: "scim".into(),
            entry_id: Some(entry_id),
        });
    } else if let Some(member) = member {
        state = member.state;
        if member.entry_id != Some(entry_id) {
            events.push(Event::MemberLinked {
                account_id,
                entry_id,
            });
        }
    }
    match (state, wanted_active) {
        (MemberState::Active, false) => events.push(Event::MemberSuspended { account_id }),
        (MemberState::Suspended, true) => events.push(Event::MemberRestored { account_id }),
        _ => {}
    }
    events
}

/// The role a member provisioned now gets.
fn default_role(settings: &Provisioning) -> String {
    if settings.default_role.is_empty() {
        crate::organization::DEFAULT_ROLE.to_owned()
    } else {
        settings.default_role.clone()
    }
}

fn email(resource: &Value) -> Option<String> {
    let emails = resource.get("emails")?.as_array()?;
    let value = |email: &Value| {
        email
            .get("value")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let is = |email: &Value, field: &str, wanted: &Value| email.get(field) == Some(wanted);
    emails
        .iter()
        .find(|email| is(email, "primary", &Value::Bool(true)))
        .and_then(value)
        .or_else(|| {
            emails
                .iter()
                .find(|email| is(email, "type", &Value::String("work".into())))
                .and_then(value)
        })
        .or_else(|| emails.iter().find_map(value))
}

fn text(resource: &Value, parent: &str, field: &str) -> Option<String> {
    top(resource.get(parent)?, field)
}

fn top(value: &Value, field: &str) -> Option<String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::membership::Source;

    fn settings() -> Provisioning {
        Provisioning {
            scim_enabled: true,
            default_role: "viewer".into(),
            custom_roles: vec!["viewer".into()],
        }
    }

    fn member(state: MemberState, entry_id: Option<Uuid>) -> Member {
        Member {
            role: "owner".into(),
            source: Source::Manual,
            state,
            entry_id,
        }
    }

    #[test]
    fn the_email_is_the_primary_else_work_else_first_and_names_have_two_spellings() {
        let entry = Entry::of(&json!({
            "emails": [{"value": "home@x.test"}, {"value": "work@x.test", "type": "work"},
                       {"value": "primary@x.test", "primary": true}],
            "name": {"givenName": "Ana"},
            "familyName": "Lopez",
            "active": false,
        }));
        assert_eq!(entry.email.as_deref(), Some("primary@x.test"));
        assert_eq!(entry.first_name.as_deref(), Some("Ana"));
        assert_eq!(entry.family_name.as_deref(), Some("Lopez"));
        assert!(!entry.active);
        let work = Entry::of(
            &json!({"emails": [{"value": "a@x.test"}, {"value": "w@x.test", "type": "work"}]}),
        );
        assert_eq!(work.email.as_deref(), Some("w@x.test"));
        let first = Entry::of(&json!({"emails": [{"value": "a@x.test"}], "firstName": "Bo"}));
        assert_eq!(first.email.as_deref(), Some("a@x.test"));
        assert_eq!(first.first_name.as_deref(), Some("Bo"));
        assert!(first.active, "active unless it says false");
    }

    #[test]
    fn a_new_entry_makes_a_member_with_the_default_role() {
        let (account, entry) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let events = follow(
            &settings(),
            None,
            account,
            "a@x.test",
            entry,
            EntryChange::Created { active: true },
        );
        assert!(
            matches!(&events[..], [Event::MemberAdded { role, source, entry_id: Some(id), .. }]
                if role == "viewer" && source == "scim" && *id == entry)
        );
        let inactive = follow(
            &settings(),
            None,
            account,
            "a@x.test",
            entry,
            EntryChange::Created { active: false },
        );
        assert!(matches!(inactive[1], Event::MemberSuspended { .. }));
    }

    #[test]
    fn an_existing_member_is_linked_keeping_its_role_and_follows_active() {
        let (account, entry) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let owner = member(MemberState::Active, None);
        let events = follow(
            &settings(),
            Some(&owner),
            account,
            "a@x.test",
            entry,
            EntryChange::Written { active: false },
        );
        assert_eq!(
            events,
            vec![
                Event::MemberLinked {
                    account_id: account,
                    entry_id: entry
                },
                Event::MemberSuspended {
                    account_id: account
                }
            ]
        );
        let linked = member(MemberState::Suspended, Some(entry));
        let restore = |change| {
            follow(
                &settings(),
                Some(&linked),
                account,
                "a@x.test",
                entry,
                change,
            )
        };
        assert_eq!(
            restore(EntryChange::Reactivated),
            vec![Event::MemberRestored {
                account_id: account
            }]
        );
        assert!(
            restore(EntryChange::Deactivated).is_empty(),
            "already suspended"
        );
        assert!(matches!(
            restore(EntryChange::Deleted)[..],
            [Event::MemberRemoved { .. }]
        ));
    }

    #[test]
    fn a_second_entry_with_the_same_email_does_not_take_the_membership() {
        let (account, first, second) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let managed = member(MemberState::Active, Some(first));
        for change in [
            EntryChange::Created { active: false },
            EntryChange::Written { active: false },
            EntryChange::Deactivated,
            EntryChange::Deleted,
        ] {
            assert!(
                follow(
                    &settings(),
                    Some(&managed),
                    account,
                    "a@x.test",
                    second,
                    change
                )
                .is_empty(),
                "{change:?}"
            );
        }
    }

    #[test]
    fn a_removed_member_comes_back_only_when_the_entry_is_created_or_reactivated() {
        let (account, entry) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let removed = member(MemberState::Removed, Some(entry));
        let after = |change| {
            follow(
                &settings(),
                Some(&removed),
                account,
                "a@x.test",
                entry,
                change,
            )
        };
        assert!(after(EntryChange::Written { active: true }).is_empty());
        assert!(after(EntryChange::Deleted).is_empty());
        assert!(matches!(
            after(EntryChange::Reactivated)[..],
            [Event::MemberAdded { .. }]
        ));
    }
}
