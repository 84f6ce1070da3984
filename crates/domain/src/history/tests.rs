//! The history folds on a small scripted log: given events, then what an
//! auditor reads of them.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Recorded;
use super::diff::diff;
use super::movers::{Movement, Movers, attach_sessions};
use super::state::OrganizationState;
use super::timeline::timeline;
use crate::account::ACCOUNTS;
use crate::group::{Member as GroupMember, MemberKind};
use crate::{Event, RequestMeta, StoredEvent};

const ORG: Uuid = Uuid::from_u128(1);
const ADA: Uuid = Uuid::from_u128(10);
const BOB: Uuid = Uuid::from_u128(11);
const OPS: Uuid = Uuid::from_u128(20);
const ADA_ACCOUNT: Uuid = Uuid::from_u128(30);
const BOB_ACCOUNT: Uuid = Uuid::from_u128(31);
const SESSION: Uuid = Uuid::from_u128(40);

/// A log being written: positions and stream versions follow, one second
/// apart.
#[derive(Default)]
struct Log {
    events: Vec<Recorded>,
    versions: BTreeMap<(Uuid, Uuid), i64>,
}

impl Log {
    fn at(&mut self, keyspace: Uuid, stream: Uuid, event: Event) -> &mut Log {
        let version = self.versions.entry((keyspace, stream)).or_default();
        *version += 1;
        let position = self.events.len() as i64 + 1;
        self.events.push(Recorded {
            stored: StoredEvent {
                position,
                org_id: keyspace,
                stream_id: stream,
                stream_version: *version,
                recorded_at: instant(position),
                event,
            },
            request: RequestMeta {
                request_id: Uuid::from_u128(1000 + position as u128),
                method: "PATCH".into(),
                path: format!("/scim_v2/Users/{stream}"),
                status: 200,
                ..RequestMeta::default()
            },
        });
        self
    }

    fn on(&mut self, stream: Uuid, event: Event) -> &mut Log {
        self.at(ORG, stream, event)
    }

    fn organization(&self, until: i64) -> OrganizationState {
        let mut state = OrganizationState::new(ORG);
        for recorded in self.events.iter().filter(|r| r.stored.position <= until) {
            state.apply(&recorded.stored);
        }
        state
    }

    fn stream(&self, stream: Uuid) -> Vec<Recorded> {
        self.events
            .iter()
            .filter(|recorded| recorded.stored.stream_id == stream)
            .cloned()
            .collect()
    }
}

fn instant(position: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600 + position).unwrap()
}

fn user(name: &str, given: &str) -> Value {
    json!({
        "userName": name,
        "active": true,
        "name": {"givenName": given},
        "emails": [{"type": "work", "value": name, "primary": true}],
    })
}

fn provisioned(resource: Value) -> Event {
    Event::UserProvisioned {
        resource,
        password_hash: None,
    }
}

fn patched(resource: Value) -> Event {
    Event::UserPatched {
        operations: json!([]),
        resource,
        password_hash: None,
    }
}

fn member(id: Uuid) -> GroupMember {
    GroupMember {
        value: id,
        kind: MemberKind::User,
        display: None,
    }
}

fn scim_member(account_id: Uuid, email: &str, entry: Uuid) -> Event {
    Event::MemberAdded {
        account_id,
        email: email.into(),
        role: "member".into(),
        source: "scim".into(),
        entry_id: Some(entry),
    }
}

/// Ada and Bob joined, both in Ops (which gives the role auditor); Ada was
/// renamed and left Ops; Bob was deactivated, his membership suspended and
/// his session revoked, then deleted.
fn history() -> Log {
    let mut log = Log::default();
    log.on(ADA, provisioned(user("ada@contoso.com", "Ada")))
        .on(
            ADA_ACCOUNT,
            scim_member(ADA_ACCOUNT, "ada@contoso.com", ADA),
        ) // 2
        .on(BOB, provisioned(user("bob@contoso.com", "Bob")))
        .on(
            BOB_ACCOUNT,
            scim_member(BOB_ACCOUNT, "bob@contoso.com", BOB),
        ) // 4
        .on(
            OPS,
            Event::GroupCreated {
                resource: json!({"displayName": "Ops"}),
            },
        )
        .on(
            OPS,
            Event::GroupMembersAdded {
                members: vec![member(ADA), member(BOB)],
            },
        ) // 6
        .on(
            ORG,
            Event::RoleGroupsMapped {
                role: "auditor".into(),
                group_ids: vec![OPS],
            },
        )
        .at(
            ACCOUNTS,
            BOB_ACCOUNT,
            Event::SessionStarted {
                session_id: SESSION,
                expires_at: instant(1_000),
            },
        ) // 8
        .on(ADA, patched(user("ada.king@contoso.com", "Adaline"))) // 9
        .on(OPS, Event::GroupMembersRemoved { members: vec![ADA] }) // 10
        .on(
            BOB,
            patched(json!({"userName": "bob@contoso.com", "active": false})),
        )
        .on(BOB, Event::UserDeactivated {}) // 12
        .on(
            BOB_ACCOUNT,
            Event::MemberSuspended {
                account_id: BOB_ACCOUNT,
            },
        ) // 13
        .at(
            ACCOUNTS,
            BOB_ACCOUNT,
            Event::SessionEnded {
                session_id: SESSION,
                reason: "MemberSuspended".into(),
            },
        ) // 14
        .on(BOB, Event::UserDeleted {}) // 15
        .on(
            BOB_ACCOUNT,
            Event::MemberRemoved {
                account_id: BOB_ACCOUNT,
                by: "identity provider".into(),
            },
        ); // 16
    log
}

#[test]
fn the_state_at_a_position_is_what_the_log_said_then() {
    let log = history();
    let empty = log.organization(0).view();
    assert_eq!((empty.position, empty.users.len()), (0, 0));

    let joined = log.organization(8).view();
    let names: Vec<&str> = joined
        .users
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada@contoso.com", "bob@contoso.com"]);
    assert_eq!(joined.users[0]["id"], json!(ADA.to_string()));
    assert_eq!(joined.users[0]["meta"]["version"], json!("W/\"1\""));
    assert_eq!(joined.groups[0]["members"].as_array().unwrap().len(), 2);
    let roles: Vec<&Vec<String>> = joined.memberships.iter().map(|m| &m.roles).collect();
    assert_eq!(roles, [&vec!["member".to_owned(), "auditor".to_owned()]; 2]);

    let later = log.organization(16).view();
    assert_eq!(later.users.len(), 1);
    assert_eq!(later.users[0]["name"]["givenName"], json!("Adaline"));
    assert_eq!(later.groups[0]["members"], json!([]));
    let states: Vec<(&str, &str, &Vec<String>)> = later
        .memberships
        .iter()
        .map(|m| (m.email.as_str(), m.state, &m.roles))
        .collect();
    assert_eq!(
        states,
        [
            ("ada@contoso.com", "active", &vec!["member".to_owned()]),
            ("bob@contoso.com", "removed", &vec!["member".to_owned()]),
        ]
    );
}

#[test]
fn a_timeline_gives_each_change_before_and_after_with_its_request() {
    let log = history();
    let entries = timeline(&log.stream(ADA));
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].event_type, "UserProvisioned");
    assert!(
        entries[0]
            .changes
            .iter()
            .all(|change| change.before.is_none())
    );
    let rename = &entries[1];
    assert_eq!((rename.position, rename.version), (9, 2));
    assert_eq!(rename.request.id, Uuid::from_u128(1009));
    let changed: Vec<(&str, Option<&Value>, Option<&Value>)> = rename
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.before.as_ref(), c.after.as_ref()))
        .collect();
    assert_eq!(
        changed,
        [
            (
                r#"emails[type eq "work"].value"#,
                Some(&json!("ada@contoso.com")),
                Some(&json!("ada.king@contoso.com"))
            ),
            (
                "name.givenName",
                Some(&json!("Ada")),
                Some(&json!("Adaline"))
            ),
            (
                "userName",
                Some(&json!("ada@contoso.com")),
                Some(&json!("ada.king@contoso.com"))
            ),
        ]
    );
    let deleted = timeline(&log.stream(BOB));
    let last = deleted.last().unwrap();
    assert_eq!(
        (last.event_type, last.user_name.as_deref()),
        ("UserDeleted", None)
    );
    assert!(last.changes.iter().all(|change| change.after.is_none()));
}

#[test]
fn a_diff_names_users_groups_and_memberships_that_changed() {
    let log = history();
    let changes = diff(&log.organization(8), &log.organization(16));
    let ids = |refs: &[super::diff::UserRef]| refs.iter().map(|r| r.id).collect::<Vec<_>>();
    assert!(changes.users_added.is_empty());
    assert_eq!(ids(&changes.users_removed), [BOB]);
    assert_eq!(changes.users_changed.len(), 1);
    assert_eq!(changes.users_changed[0].user_name, "ada.king@contoso.com");
    let ops = &changes.groups_changed[0];
    let removed: Vec<(Uuid, Option<&str>)> = ops
        .members_removed
        .iter()
        .map(|m| (m.value, m.name.as_deref()))
        .collect();
    assert_eq!(
        removed,
        [
            (ADA, Some("ada@contoso.com")),
            (BOB, Some("bob@contoso.com"))
        ]
    );
    let memberships: Vec<(&str, Vec<String>, &str)> = changes
        .memberships
        .iter()
        .map(|m| {
            let after = m.after.as_ref().unwrap();
            (m.email.as_str(), after.roles.clone(), after.state)
        })
        .collect();
    assert_eq!(
        memberships,
        [
            ("ada@contoso.com", vec!["member".to_owned()], "active"),
            ("bob@contoso.com", vec!["member".to_owned()], "removed"),
        ]
    );
    let between = diff(&log.organization(10), &log.organization(12));
    assert_eq!(ids(&between.users_deactivated), [BOB]);
    assert_eq!(
        diff(&log.organization(16), &log.organization(16)),
        Default::default()
    );
}

fn movers(log: &Log, movement: Movement) -> Vec<super::movers::MoverRow> {
    let mut fold = Movers::new(movement);
    for recorded in log.events.iter().filter(|r| r.stored.org_id == ORG) {
        fold.apply(recorded);
    }
    fold.rows(instant(0), instant(100))
}

#[test]
fn leavers_give_the_request_the_membership_end_and_the_sessions_revoked() {
    let log = history();
    let mut rows = movers(&log, Movement::Leavers);
    let accounts = BTreeMap::from([(
        BOB_ACCOUNT,
        log.events
            .iter()
            .filter(|r| r.stored.org_id == ACCOUNTS)
            .map(|r| r.stored.clone())
            .collect(),
    )]);
    attach_sessions(&mut rows, &accounts);
    let summary: Vec<_> = rows
        .iter()
        .map(|row| {
            (
                row.request,
                row.request_position,
                row.membership_event,
                row.membership_position,
                row.membership_delay_seconds,
                row.sessions,
                row.session_positions.clone(),
                row.sessions_delay_seconds,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "deactivated",
                12,
                Some("MemberSuspended"),
                Some(13),
                Some(1.0),
                "revoked",
                vec![14],
                Some(2.0)
            ),
            (
                "deleted",
                15,
                Some("MemberRemoved"),
                Some(16),
                Some(1.0),
                "none live",
                vec![],
                None
            ),
        ]
    );
    assert_eq!(rows[0].user_name, "bob@contoso.com");
    assert_eq!(rows[0].request_id, Uuid::from_u128(1012));
    let csv = rows[0].csv_record();
    assert_eq!(csv.len(), super::movers::CSV_HEADER.len());
    assert_eq!(csv[16], "14");
}

#[test]
fn joiners_give_the_membership_granted_and_its_role() {
    let mut log = history();
    // A user whose membership the linker has not made yet.
    log.on(
        Uuid::from_u128(12),
        provisioned(user("cy@contoso.com", "Cy")),
    );
    let rows = movers(&log, Movement::Joiners);
    let summary: Vec<_> = rows
        .iter()
        .map(|row| {
            (
                row.user_name.as_str(),
                row.membership,
                row.membership_position,
                row.role.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ada@contoso.com", "granted", Some(2), Some("member")),
            ("bob@contoso.com", "granted", Some(4), Some("member")),
            ("cy@contoso.com", "no account linked", None, None),
        ]
    );
    let outside = Movers::new(Movement::Joiners).rows(instant(50), instant(60));
    assert!(outside.is_empty());
}
