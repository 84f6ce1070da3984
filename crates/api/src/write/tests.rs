//! The write loop without HTTP or a database: given the events already in
//! the log, when a user or group command, then the append it made (events,
//! version, claims) or its refusal. The store is memory, with rival writers
//! that append just before the loop does, so lost races can be staged.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use domain::group::{self, GroupCommand, MemberFacts, MemberKind};
use domain::resource::UniqueKey;
use domain::user::{USER_SCHEMA, UserCommand};
use domain::{Event, RequestMeta, StoredEvent};
use serde_json::{Value, json};
use store::{AppendError, AppendRequest, Appended};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{MAX_ATTEMPTS, WriteStore, Writes};
use crate::routes::groups::write::{GroupWritten, write_group_in};
use crate::routes::users::write::{WriteOutcome, write_user_in};
use crate::snapshots::Snapshots;
use crate::stream_lock::StreamLocks;
use crate::{ApiError, ApiMetrics};

const ORG: Uuid = Uuid::from_u128(1);
const ADA: Uuid = Uuid::from_u128(0xada);
const GRACE: Uuid = Uuid::from_u128(0x96ace);
const OPS: Uuid = Uuid::from_u128(0x0b5);
/// The time the memory log records on every event.
const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

/// One organization's log, its unique values, and what was appended.
#[derive(Default)]
struct Memory {
    log: Mutex<Vec<StoredEvent>>,
    claimed: Mutex<HashMap<UniqueKey, Uuid>>,
    appends: Mutex<Vec<AppendRequest>>,
    /// Events other writers append just before this store's next appends,
    /// one per append: each is a race the loop loses.
    rivals: Mutex<VecDeque<(Uuid, Event)>>,
    facts: MemberFacts,
    /// Whether the read tables lag behind every group.
    projector_behind: bool,
}

impl Memory {
    fn given(events: Vec<(Uuid, Event)>) -> Memory {
        let memory = Memory::default();
        for (stream_id, event) in events {
            memory.push(stream_id, event);
        }
        memory
    }

    fn push(&self, stream_id: Uuid, event: Event) {
        let mut log = self.log.lock().unwrap();
        let stream_version = 1 + log.iter().filter(|e| e.stream_id == stream_id).count() as i64;
        let position = log.len() as i64 + 1;
        log.push(StoredEvent {
            position,
            org_id: ORG,
            stream_id,
            stream_version,
            recorded_at: NOW,
            event,
        });
    }

    fn events_of(&self, stream_id: Uuid) -> Vec<StoredEvent> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|e| e.stream_id == stream_id)
            .cloned()
            .collect()
    }

    /// Stages `times` lost races: before each of the next appends, another
    /// writer appends `event` to `stream_id`.
    fn rivals(&self, stream_id: Uuid, event: Event, times: usize) {
        let mut rivals = self.rivals.lock().unwrap();
        rivals.extend(std::iter::repeat_n((stream_id, event), times));
    }

    fn appends(&self) -> Vec<AppendRequest> {
        self.appends.lock().unwrap().clone()
    }
}

impl WriteStore for Memory {
    async fn keep_an_owner(&self, _: Uuid, _: Uuid, _: &RequestMeta) -> Result<(), ApiError> {
        Ok(())
    }

    async fn read_stream_after(
        &self,
        _: Uuid,
        stream_id: Uuid,
        version: i64,
    ) -> Result<Vec<StoredEvent>, ApiError> {
        let mut events = self.events_of(stream_id);
        events.retain(|e| e.stream_version > version);
        Ok(events)
    }

    async fn read_group_attributes(
        &self,
        _: Uuid,
        group_id: Uuid,
        version: i64,
    ) -> Result<(Vec<StoredEvent>, i64), ApiError> {
        let mut events = self.events_of(group_id);
        let now = events.len() as i64;
        events.retain(|e| {
            e.stream_version > version && group::ATTRIBUTE_EVENTS.contains(&e.event.type_name())
        });
        Ok((events, now))
    }

    async fn group_projected_through(&self, _: Uuid, _: Uuid, _: i64) -> Result<bool, ApiError> {
        Ok(!self.projector_behind)
    }

    async fn member_facts(
        &self,
        _: Uuid,
        _: Uuid,
        _: &[Uuid],
        _: bool,
    ) -> Result<MemberFacts, ApiError> {
        Ok(self.facts.clone())
    }

    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        if let Some((stream_id, event)) = self.rivals.lock().unwrap().pop_front() {
            self.push(stream_id, event);
        }
        let version = self.events_of(request.stream_id).len() as i64;
        if !request.commutes && request.expected_version != version {
            return Err(AppendError::VersionConflict);
        }
        let mut claimed = self.claimed.lock().unwrap();
        if let Some(key) = request.claims.iter().find(|key| {
            claimed
                .get(*key)
                .is_some_and(|holder| *holder != request.stream_id)
        }) {
            return Err(AppendError::Taken(key.clone()));
        }
        claimed.extend(
            request
                .claims
                .iter()
                .map(|key| (key.clone(), request.stream_id)),
        );
        for key in &request.releases {
            claimed.remove(key);
        }
        for event in &request.events {
            self.push(request.stream_id, event.clone());
        }
        self.appends.lock().unwrap().push(request.clone());
        Ok(Appended {
            last_position: self.log.lock().unwrap().len() as i64,
            stream_version: version + request.events.len() as i64,
            recorded_at: NOW,
        })
    }
}

/// What the loop keeps between writes, fresh for each test.
struct Process {
    turns: StreamLocks,
    user_snapshots: Snapshots<crate::snapshots::UserSnapshot>,
    group_snapshots: Snapshots<group::GroupState>,
    metrics: ApiMetrics,
}

impl Process {
    fn new() -> Process {
        Process {
            turns: StreamLocks::default(),
            user_snapshots: Snapshots::default(),
            group_snapshots: Snapshots::default(),
            metrics: ApiMetrics::register(&prometheus::Registry::new()).unwrap(),
        }
    }

    fn writes<'a>(&'a self, memory: &'a Memory) -> Writes<'a, Memory> {
        Writes {
            store: memory,
            turns: &self.turns,
            user_snapshots: &self.user_snapshots,
            group_snapshots: &self.group_snapshots,
            metrics: &self.metrics,
        }
    }
}

async fn user_write(
    process: &Process,
    memory: &Memory,
    user_id: Uuid,
    command: UserCommand,
) -> Result<WriteOutcome, ApiError> {
    let writes = process.writes(memory);
    write_user_in(&writes, ORG, user_id, &RequestMeta::default(), || {
        command.clone()
    })
    .await
}

async fn group_write(
    process: &Process,
    memory: &Memory,
    command: GroupCommand,
) -> Result<GroupWritten, ApiError> {
    let writes = process.writes(memory);
    write_group_in(&writes, ORG, OPS, &RequestMeta::default(), command).await
}

fn provisioned(user_name: &str) -> Event {
    Event::UserProvisioned {
        resource: json!({"schemas": [USER_SCHEMA], "userName": user_name, "active": true}),
        password_hash: None,
    }
}

/// A group "Ops" with `members`, of which Ada and Grace may be members.
fn ops_group(members: &[Uuid]) -> Memory {
    let mut memory = Memory::given(vec![(
        OPS,
        Event::GroupCreated {
            resource: json!({"displayName": "Ops"}),
        },
    )]);
    memory.facts = MemberFacts {
        current: members.iter().copied().collect(),
        existing: [(ADA, MemberKind::User), (GRACE, MemberKind::User)].into(),
    };
    memory
}

/// A PATCH of a user that replaces one attribute.
fn set(path: &str, value: impl Into<Value>) -> UserCommand {
    UserCommand::Patch {
        body: json!({"Operations": [{"op": "replace", "path": path, "value": value.into()}]}),
        password_hash: None,
        if_match: None,
    }
}

fn group_patch(operation: Value) -> GroupCommand {
    GroupCommand::Patch {
        body: json!({ "Operations": [operation] }),
        if_match: None,
    }
}

fn rename_group(name: &str) -> GroupCommand {
    group_patch(json!({"op": "replace", "path": "displayName", "value": name}))
}

fn add_member(id: Uuid) -> GroupCommand {
    group_patch(json!({"op": "add", "path": "members", "value": [{"value": id.to_string()}]}))
}

fn key(kind: &'static str, key: &str) -> UniqueKey {
    UniqueKey {
        kind,
        key: key.into(),
    }
}

fn status(refused: Result<impl std::fmt::Debug, ApiError>) -> u16 {
    refused.expect_err("the write is refused").to_scim().status
}

#[tokio::test]
async fn a_change_is_appended_at_the_version_it_was_decided_on() {
    let memory = Memory::given(vec![(ADA, provisioned("ada"))]);
    let process = Process::new();
    let outcome = user_write(&process, &memory, ADA, set("title", "Countess"))
        .await
        .unwrap();
    let appends = memory.appends();
    assert_eq!(appends.len(), 1);
    assert_eq!(appends[0].expected_version, 1);
    assert!(!appends[0].commutes);
    assert!(
        matches!(&appends[0].events[..], [Event::UserPatched { resource, .. }] if resource["title"] == "Countess")
    );
    assert_eq!((outcome.appended, outcome.version), (true, 2));
    assert_eq!(outcome.resource.unwrap()["title"], "Countess");
}

#[tokio::test]
async fn a_renamed_user_claims_the_new_name_and_releases_the_old() {
    let memory = Memory::given(vec![(ADA, provisioned("ada"))]);
    let process = Process::new();
    user_write(&process, &memory, ADA, set("userName", "Lovelace"))
        .await
        .unwrap();
    let append = &memory.appends()[0];
    assert_eq!(append.claims, vec![key("userName", "lovelace")]);
    assert_eq!(append.releases, vec![key("userName", "ada")]);
}

#[tokio::test]
async fn a_request_that_changes_nothing_appends_nothing() {
    let memory = Memory::given(vec![(ADA, provisioned("ada"))]);
    let process = Process::new();
    let outcome = user_write(&process, &memory, ADA, set("active", true))
        .await
        .unwrap();
    assert!(memory.appends().is_empty());
    assert_eq!((outcome.appended, outcome.version), (false, 1));
}

#[tokio::test]
async fn refusals_append_nothing() {
    let memory = Memory::given(vec![(ADA, provisioned("ada"))]);
    memory
        .claimed
        .lock()
        .unwrap()
        .insert(key("userName", "ada"), ADA);
    let process = Process::new();
    let missing = user_write(
        &process,
        &memory,
        GRACE,
        UserCommand::Delete { if_match: None },
    )
    .await;
    assert_eq!(status(missing), 404);
    let stale = user_write(
        &process,
        &memory,
        ADA,
        UserCommand::Delete { if_match: Some(7) },
    )
    .await;
    assert_eq!(status(stale), 412);
    let provision = UserCommand::Provision {
        resource: json!({"userName": "ADA"}),
        password_hash: None,
    };
    let taken = user_write(&process, &memory, GRACE, provision).await;
    assert_eq!(status(taken), 409);
    assert!(memory.appends().is_empty());
}

#[tokio::test]
async fn a_lost_race_is_decided_again_on_the_state_that_won() {
    let memory = Memory::given(vec![(ADA, provisioned("ada"))]);
    let rival = Event::UserPatched {
        operations: json!([]),
        resource: json!({"schemas": [USER_SCHEMA], "userName": "ada", "active": true, "title": "Countess"}),
        password_hash: None,
    };
    memory.rivals(ADA, rival, 1);
    let process = Process::new();
    let outcome = user_write(&process, &memory, ADA, set("nickName", "Ada"))
        .await
        .unwrap();
    let appends = memory.appends();
    assert_eq!(appends.len(), 1, "the first attempt appended nothing");
    assert_eq!(appends[0].expected_version, 2);
    let resource = outcome.resource.unwrap();
    assert_eq!(
        (&resource["title"], &resource["nickName"]),
        (&json!("Countess"), &json!("Ada"))
    );
    assert_eq!(process.metrics.write_retries.get(), 1);
}

#[tokio::test]
async fn a_new_stream_that_loses_its_id_is_not_decided_again() {
    let memory = Memory::default();
    memory.rivals(GRACE, provisioned("grace"), 1);
    let process = Process::new();
    let provision = UserCommand::Provision {
        resource: json!({"userName": "hopper"}),
        password_hash: None,
    };
    let lost = user_write(&process, &memory, GRACE, provision).await;
    assert_eq!(status(lost), 503);
    assert_eq!(process.metrics.write_retries.get(), 0);
}

#[tokio::test]
async fn users_and_groups_give_up_alike_after_losing_every_race() {
    let process = Process::new();
    let memory = ops_group(&[]);
    let rename = Event::GroupUpdated {
        resource: json!({"displayName": "Ops"}),
    };
    memory.rivals(OPS, rename, MAX_ATTEMPTS as usize);
    let group = group_write(&process, &memory, rename_group("Dev")).await;
    assert_eq!(status(group), 503);

    let memory = Memory::given(vec![(ADA, provisioned("ada"))]);
    memory.rivals(ADA, provisioned("ada"), MAX_ATTEMPTS as usize);
    let user = user_write(&process, &memory, ADA, set("title", "t")).await;
    assert_eq!(status(user), 503);
    assert!(memory.appends().is_empty());
    let retries = u64::from(MAX_ATTEMPTS - 1);
    assert_eq!(process.metrics.write_retries.get(), 2 * retries);
}

#[tokio::test]
async fn a_later_write_reads_only_the_events_past_the_state_kept() {
    let memory = Memory::given(vec![(ADA, provisioned("ada"))]);
    let process = Process::new();
    for title in ["a", "b", "c"] {
        user_write(&process, &memory, ADA, set("title", title))
            .await
            .unwrap();
    }
    assert_eq!(
        process.metrics.write_events_read.get(),
        1,
        "only the provisioning, once"
    );
    assert_eq!(memory.appends()[2].expected_version, 3);
}

#[tokio::test]
async fn member_changes_commute_and_claim_nothing() {
    let memory = ops_group(&[ADA]);
    let process = Process::new();
    let written = group_write(&process, &memory, add_member(GRACE))
        .await
        .unwrap();
    let append = &memory.appends()[0];
    assert!(append.commutes);
    assert!(append.claims.is_empty() && append.releases.is_empty());
    assert!(
        matches!(&append.events[..], [Event::GroupMembersAdded { members }] if members[0].value == GRACE)
    );
    assert_eq!((written.appended, written.version), (true, 2));
}

#[tokio::test]
async fn a_group_rename_needs_its_version_and_moves_the_display_name_claim() {
    let memory = ops_group(&[]);
    let process = Process::new();
    group_write(&process, &memory, rename_group("Dev"))
        .await
        .unwrap();
    let append = &memory.appends()[0];
    assert!(!append.commutes);
    assert_eq!(append.expected_version, 1);
    assert_eq!(append.claims, vec![key("groupDisplayName", "dev")]);
    assert_eq!(append.releases, vec![key("groupDisplayName", "ops")]);
}

#[tokio::test]
async fn members_are_never_judged_on_read_tables_behind_the_group() {
    let mut memory = ops_group(&[]);
    memory.projector_behind = true;
    let behind = group_write(&Process::new(), &memory, add_member(ADA)).await;
    assert_eq!(status(behind), 503);
    assert!(memory.appends().is_empty());

    let missing = Memory {
        projector_behind: true,
        ..Memory::default()
    };
    let refused = group_write(&Process::new(), &missing, add_member(ADA)).await;
    assert_eq!(
        status(refused),
        404,
        "a missing group is 404 before its members are judged"
    );
}
