//! What one linker pass reads at once for every event it follows: three
//! statements, however many events, where following them one by one read
//! three or four times for each new user (its entry's facts, its
//! organization's head twice, its membership's lock facts).

use std::collections::HashMap;
use std::sync::Mutex;

use domain::account;
use domain::linking::{Entry, EntryChange};
use domain::{Event, StoredEvent};
use store::{EntryFacts, EntryQuestion, LockFacts, Pool, StoreError};
use uuid::Uuid;

/// The facts read for a whole pass, right after its events were read.
///
/// An entry's facts, and a membership's lock facts, are taken by the first
/// step that follows that stream in the pass; a later step of the same
/// stream reads again, since the earlier one may have changed them. The
/// organizations' heads serve every step.
///
/// A step deciding on facts read a moment before it is as sound as one
/// reading them itself. They are read after the pass's events, so they
/// hold what those events did. What the steps decide on (memberships,
/// accounts' emails, verified domains, SCIM on or off, the locks the
/// registry holds) changes only through events the linker follows, and
/// follows after this pass, with facts read then: a step that decided on
/// facts which moved meanwhile, and appended nothing or the wrong locks, is
/// put right by that later step. Where it appends, it appends at the
/// version its decision read, and a version that moved conflicts and is
/// decided again on what is there. A pass that holds an event converging
/// many accounts at once (SCIM switched, a domain verified or dropped, an
/// account's email changed) reads nothing ahead, as before: such passes are
/// rare, and their steps then never decide on facts older than the
/// convergence running beside them.
#[derive(Default)]
pub struct PassFacts {
    entries: Mutex<HashMap<(Uuid, Uuid), EntryFacts>>,
    memberships: Mutex<HashMap<(Uuid, Uuid), LockFacts>>,
    heads: HashMap<Uuid, Option<(i64, Vec<u8>)>>,
}

impl PassFacts {
    /// Reads the facts the steps following `streams` (each stream's events
    /// of the pass, in order) will ask for: those of each stream's first.
    pub async fn read(pool: &Pool, streams: &[&[StoredEvent]]) -> Result<PassFacts, StoreError> {
        if streams
            .iter()
            .flat_map(|events| events.iter())
            .any(|stored| is_converging_many(&stored.event))
        {
            return Ok(PassFacts::default());
        }
        let mut entries: Vec<EntryQuestion> = Vec::new();
        let mut memberships: Vec<(Uuid, Uuid)> = Vec::new();
        let mut organizations: Vec<Uuid> = Vec::new();
        for stored in streams.iter().filter_map(|events| events.first()) {
            let org_id = stored.org_id;
            if let Some((_, entry)) = EntryChange::of(&stored.event) {
                entries.push(entry_question(org_id, stored.stream_id, entry.as_ref()));
            } else if let Some(account_id) = membership_of(&stored.event) {
                memberships.push((org_id, account_id));
            } else {
                continue;
            }
            if !organizations.contains(&org_id) {
                organizations.push(org_id);
            }
        }
        if organizations.is_empty() {
            return Ok(PassFacts::default());
        }
        // An organization's own stream has the organization's id.
        let own_streams: Vec<(Uuid, Uuid)> = organizations
            .iter()
            .map(|org_id| (*org_id, *org_id))
            .collect();
        // Only what some step asks for: a pass of new users has no
        // membership events yet, and one of their `MemberAdded`s no entries.
        let entry_facts = async {
            if entries.is_empty() {
                return Ok(Vec::new());
            }
            store::entry_facts_of(pool, &entries).await
        };
        let lock_facts = async {
            if memberships.is_empty() {
                return Ok(Vec::new());
            }
            store::lock_facts_of(pool, &memberships).await
        };
        let (entry_facts, lock_facts, heads) = tokio::try_join!(
            entry_facts,
            lock_facts,
            store::stream_heads(pool, &own_streams),
        )?;
        Ok(PassFacts {
            entries: Mutex::new(
                entries
                    .iter()
                    .map(|question| (question.org_id, question.entry_id))
                    .zip(entry_facts)
                    .collect(),
            ),
            memberships: Mutex::new(memberships.into_iter().zip(lock_facts).collect()),
            heads: organizations.into_iter().zip(heads).collect(),
        })
    }

    /// Whether the pass read anything ahead (else every step reads for
    /// itself).
    pub fn has_read_ahead(&self) -> bool {
        !self.heads.is_empty()
    }

    /// The facts of SCIM entry `entry_id` of `org_id`, for the first step
    /// that asks.
    pub(crate) fn take_entry(&self, org_id: Uuid, entry_id: Uuid) -> Option<EntryFacts> {
        let mut entries = self.entries.lock().expect("never poisoned");
        entries.remove(&(org_id, entry_id))
    }

    /// The lock facts of `account_id`'s membership of `org_id`, for the
    /// first step that asks.
    pub(crate) fn take_membership(&self, org_id: Uuid, account_id: Uuid) -> Option<LockFacts> {
        let mut memberships = self.memberships.lock().expect("never poisoned");
        memberships.remove(&(org_id, account_id))
    }

    /// `org_id`'s own stream's head as the pass read it (outer `None`: not
    /// read; inner `None`: the stream had no events).
    pub(crate) fn head(&self, org_id: Uuid) -> Option<Option<&(i64, Vec<u8>)>> {
        self.heads.get(&org_id).map(Option::as_ref)
    }
}

/// What the linker asks of an entry: its membership, and for its email the
/// account that holds it and whether the organization verified its domain.
pub(crate) fn entry_question(org_id: Uuid, entry_id: Uuid, entry: Option<&Entry>) -> EntryQuestion {
    let email = entry.and_then(|entry| entry.email.as_deref());
    EntryQuestion {
        org_id,
        entry_id,
        email_key: email
            .map(|email| account::email_key(email).key)
            .unwrap_or_default(),
        email_domain: email.map(account::email_domain).unwrap_or_default(),
    }
}

/// The account whose membership the event changed, for the events whose
/// step converges that account's locks.
fn membership_of(event: &Event) -> Option<Uuid> {
    match event {
        Event::MemberAdded { account_id, .. }
        | Event::MemberLinked { account_id, .. }
        | Event::MemberRestored { account_id }
        | Event::MemberSuspended { account_id }
        | Event::MemberRemoved { account_id, .. } => Some(*account_id),
        _ => None,
    }
}

/// The events whose step converges the locks of many accounts.
fn is_converging_many(event: &Event) -> bool {
    matches!(
        event,
        Event::ScimEnabled { .. }
            | Event::ScimDisabled {}
            | Event::DomainVerified { .. }
            | Event::DomainDropped { .. }
            | Event::AccountEmailChanged { .. }
    )
}
