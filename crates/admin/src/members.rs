//! An organization's members: listed with their roles and locks, added by
//! hand, given another role, removed by owners, or leaving on their own;
//! and which SCIM groups give which roles.
//!
//! A membership has its own stream in the organization's keyspace (stream
//! id = the account's id). Decisions read the registry's row of it, with the
//! stream's version read first, so a change made meanwhile makes the append
//! conflict; the rule that an organization keeps an active owner is also
//! checked by PostgreSQL at commit (V0013), whatever raced.

use std::sync::Arc;

use domain::membership::{self, Member, MemberState, Source};
use domain::provisioning::{self, OWNER, Provisioning};
use domain::{Event, Refusal, RequestMeta};
use serde::Serialize;
use store::{Appender, MemberListing, MembershipRecord, Pool, Registration};
use uuid::Uuid;

use crate::accounts;
use crate::organization_settings::{self, KeptSettings, OrganizationSettings};
use crate::organization_stream::{
    Decided, Recorded, decide_on_known_view, decide_on_organization, decide_on_view,
};

/// A member as owners see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    pub account_id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub family_name: Option<String>,
    /// The member's own role.
    pub role: String,
    /// Every role the member holds: its own, then those its SCIM groups give.
    pub roles: Vec<String>,
    pub source: String,
    /// Whether the organization's identity provider manages the member now.
    pub scim_managed: bool,
    pub locks: Vec<String>,
    pub state: String,
}

/// The role of `account_id` in `org_id` if it is an active member.
pub async fn role_of(
    pool: &Pool,
    org_id: Uuid,
    account_id: Uuid,
) -> anyhow::Result<Option<String>> {
    Ok(store::find_membership(pool, org_id, account_id)
        .await?
        .filter(|record| record.state == MemberState::Active.as_str())
        .map(|record| record.role))
}

/// Whether `account_id` is a member of `org_id` (active or suspended, not
/// removed): whether the membership's stream is the account's to ask in.
pub async fn is_member(pool: &Pool, org_id: Uuid, account_id: Uuid) -> anyhow::Result<bool> {
    Ok(store::find_membership(pool, org_id, account_id)
        .await?
        .is_some_and(|record| record.state != MemberState::Removed.as_str()))
}

/// Every member of `org_id` (removed ones too), by email.
pub async fn list(pool: &Pool, org_id: Uuid) -> anyhow::Result<Vec<MemberView>> {
    let scim_enabled = settings(pool, org_id).await?.scim_enabled;
    Ok(store::list_members(pool, org_id)
        .await?
        .into_iter()
        .map(|listing| view(listing, scim_enabled))
        .collect())
}

/// One member of `org_id`.
pub async fn show(pool: &Pool, org_id: Uuid, account_id: Uuid) -> anyhow::Result<MemberView> {
    list(pool, org_id)
        .await?
        .into_iter()
        .find(|member| member.account_id == account_id)
        .ok_or_else(|| Refusal::not_found("no such member in this organization").into())
}

/// Adds the person with `email` as a manual member with `role`, making an
/// account (without a password) when the email has none; returns the
/// account's id.
pub async fn add(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    email: &str,
    role: &str,
) -> anyhow::Result<Uuid> {
    let command = "member add";
    // Refused before an account is made: a typo in the role must not leave
    // an account behind (the rules check the role again, as it is then).
    let known = membership::known_role(&settings(pool, org_id).await?, role);
    if let Err(refused) = domain::account::create(email).and(known) {
        record_on_organization(pool, appender, org_id, meta, command, refused.clone()).await?;
        return Err(refused.into());
    }
    let account_id = accounts::ensure(pool, appender, email, meta).await?;
    decide_on_membership(pool, appender, org_id, account_id, meta, command, |view| {
        if let Some(member) = &view.member
            && member.state == MemberState::Removed
            && member.source == Source::Scim
            && view.settings.scim_enabled
        {
            return Err(Refusal::conflict(format!(
                "{email} was provisioned by the identity provider and removed; \
                 it comes back when the identity provider assigns it again"
            )));
        }
        membership::add(
            &view.settings,
            view.member.as_ref(),
            account_id,
            email,
            Some(role),
            None,
        )
    })
    .await?;
    Ok(account_id)
}

/// Gives `account_id` the role `role`; whether it changed (the role it
/// has already records nothing).
pub async fn change_role(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    account_id: Uuid,
    role: &str,
) -> anyhow::Result<bool> {
    let events = decide_on_membership(
        pool,
        appender,
        org_id,
        account_id,
        meta,
        "member role",
        |view| {
            let member = view.existing()?;
            membership::change_role(&view.settings, member, role, view.active_owners)?;
            if member.role == role {
                return Ok(Vec::new());
            }
            Ok(vec![Event::MemberRoleChanged {
                account_id,
                role: role.to_owned(),
            }])
        },
    )
    .await?;
    Ok(!events.is_empty())
}

/// An owner (the caller checked) removes `account_id`; a removed SCIM
/// member comes back only through SCIM.
pub async fn remove(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    account_id: Uuid,
) -> anyhow::Result<()> {
    decide_on_membership(
        pool,
        appender,
        org_id,
        account_id,
        meta,
        "member remove",
        |view| {
            let member = view.existing()?;
            membership::remove(OWNER, member, view.active_owners)?;
            Ok(vec![Event::MemberRemoved {
                account_id,
                by: "owner".into(),
            }])
        },
    )
    .await?;
    Ok(())
}

/// `account_id` leaves `org_id` on its own; a SCIM member may not while
/// SCIM is on.
pub async fn leave(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    account_id: Uuid,
) -> anyhow::Result<()> {
    decide_on_membership(pool, appender, org_id, account_id, meta, "leave", |view| {
        let member = view.existing()?;
        let locks = membership::locks(member, view.settings.scim_enabled, false);
        membership::leave(member, &view.name, locks, view.active_owners)?;
        Ok(vec![Event::MemberRemoved {
            account_id,
            by: "self".into(),
        }])
    })
    .await?;
    Ok(())
}

/// Makes the members of `group_ids` (direct or nested) hold `role`,
/// replacing the groups mapped to it before. `owner` is never given by a
/// directory group: owners are made by owners. Returns the groups mapped
/// now, sorted, each once.
pub async fn map_role_groups(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    role: &str,
    group_ids: &[Uuid],
) -> anyhow::Result<Vec<Uuid>> {
    let mut missing = None;
    for group_id in group_ids {
        if store::find_group(pool, org_id, *group_id).await?.is_none() {
            missing = Some(*group_id);
            break;
        }
    }
    let mut group_ids = group_ids.to_vec();
    group_ids.sort();
    group_ids.dedup();
    decide_on_organization(pool, appender, org_id, meta, "role groups", |stream| {
        let settings = provisioning::of(stream);
        if role == OWNER {
            return Err(Refusal::invalid(
                "the owner role is given by owners only, never by a directory group",
            ));
        }
        if !settings.roles().iter().any(|known| known == role) {
            return Err(Refusal::not_found(format!(
                "the organization has no role {role:?}; add it first"
            )));
        }
        if let Some(group_id) = missing {
            return Err(Refusal::not_found(format!(
                "no SCIM group {group_id} in this organization"
            )));
        }
        Ok((
            vec![Event::RoleGroupsMapped {
                role: role.to_owned(),
                group_ids: group_ids.clone(),
            }],
            vec![Registration::RoleGroups {
                role: role.to_owned(),
                group_ids: group_ids.clone(),
            }],
        ))
    })
    .await?;
    Ok(group_ids)
}

/// The groups mapped to each of the organization's roles.
pub async fn role_groups(pool: &Pool, org_id: Uuid) -> anyhow::Result<Vec<(String, Vec<Uuid>)>> {
    let mut by_role: Vec<(String, Vec<Uuid>)> = Vec::new();
    for (role, group_id) in store::role_groups(pool, org_id).await? {
        match by_role.last_mut() {
            Some((last, groups)) if *last == role => groups.push(group_id),
            _ => by_role.push((role, vec![group_id])),
        }
    }
    Ok(by_role)
}

/// What a membership decision is made on.
pub(crate) struct MembershipView {
    pub member: Option<Member>,
    pub entry_version: i64,
    pub settings: Provisioning,
    /// The organization's name, for messages.
    pub name: String,
    /// Counted only when the member is an active owner: the rules consult
    /// it only for one (`membership::last_owner_stays`), and a count is a
    /// query for every member the linker follows.
    pub active_owners: usize,
}

impl MembershipView {
    /// The view of a membership that never was, in an organization with
    /// these settings.
    fn none(organization: &OrganizationSettings) -> MembershipView {
        MembershipView {
            member: None,
            entry_version: 0,
            settings: organization.provisioning.clone(),
            name: organization.name.clone(),
            active_owners: 0,
        }
    }

    fn existing(&self) -> Result<&Member, Refusal> {
        self.member
            .as_ref()
            .filter(|member| member.state != MemberState::Removed)
            .ok_or_else(|| Refusal::not_found("no such member in this organization"))
    }
}

/// Decides on `account_id`'s membership of `org_id` and appends to its
/// stream, with the registry row the events leave.
pub(crate) async fn decide_on_membership(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    account_id: Uuid,
    meta: &RequestMeta,
    command: &str,
    decide: impl Fn(&MembershipView) -> Result<Vec<Event>, Refusal>,
) -> anyhow::Result<Vec<Event>> {
    decide_on_view(
        pool,
        appender,
        (org_id, account_id),
        meta,
        command,
        || load_membership(pool, org_id, account_id, None),
        |view| {
            let events = decide(view)?;
            Ok(membership_change(
                account_id,
                view,
                events,
                view.entry_version,
            ))
        },
    )
    .await
}

/// [`decide_on_membership`] for the linker, which records the version of
/// the SCIM entry the membership now follows. `new_account`: the account
/// was made a moment ago, under these settings, so its membership's stream
/// is empty (decided on without reading; a hand-made membership in between
/// makes the append conflict and the decision is read again).
pub(crate) async fn decide_on_membership_following(
    pool: &Pool,
    appender: &Appender,
    (org_id, account_id): (Uuid, Uuid),
    meta: &RequestMeta,
    (entry_version, new_account): (i64, Option<&OrganizationSettings>),
    kept: &KeptSettings,
    decide: impl Fn(&MembershipView) -> Result<Vec<Event>, Refusal>,
) -> anyhow::Result<Recorded> {
    let known = new_account.map(|organization| (0, MembershipView::none(organization)));
    decide_on_known_view(
        pool,
        appender,
        (org_id, account_id),
        meta,
        "follow SCIM entry",
        known,
        || load_membership(pool, org_id, account_id, Some(kept)),
        |view| {
            let events = decide(view)?;
            Ok(membership_change(account_id, view, events, entry_version))
        },
    )
    .await
}

/// `events` with the registry row they leave the membership in.
pub(crate) fn membership_change(
    account_id: Uuid,
    view: &MembershipView,
    events: Vec<Event>,
    entry_version: i64,
) -> Decided {
    let after = events.iter().fold(view.member.clone(), |member, event| {
        Member::evolve(member, event)
    });
    let registrations = after
        .map(|member| Registration::Membership {
            account_id,
            role: member.role,
            source: member.source.as_str(),
            state: member.state.as_str(),
            entry_id: member.entry_id,
            entry_version,
        })
        .into_iter()
        .collect();
    Decided {
        events,
        registrations,
        ..Decided::default()
    }
}

/// The view of `account_id`'s membership of `org_id`, with the settings
/// `kept` keeps (`None`: read now).
pub(crate) async fn load_membership(
    pool: &Pool,
    org_id: Uuid,
    account_id: Uuid,
    kept: Option<&KeptSettings>,
) -> anyhow::Result<MembershipView> {
    let record = store::find_membership(pool, org_id, account_id).await?;
    let organization = match kept {
        Some(kept) => kept.read(pool, org_id).await?,
        None => Arc::new(organization_settings::read_now(pool, org_id).await?),
    };
    let member = record.as_ref().map(member);
    let active_owners = match &member {
        Some(member) if member.is_active_owner() => store::active_owners(pool, org_id).await?,
        _ => 0,
    };
    Ok(MembershipView {
        entry_version: record.as_ref().map_or(0, |record| record.entry_version),
        member,
        active_owners,
        ..MembershipView::none(&organization)
    })
}

/// The membership a registry row holds.
pub(crate) fn member(record: &MembershipRecord) -> Member {
    Member {
        role: record.role.clone(),
        source: Source::parse(&record.source),
        state: MemberState::parse(&record.state),
        entry_id: record.entry_id,
    }
}

/// The organization's settings now.
pub(crate) async fn settings(pool: &Pool, org_id: Uuid) -> anyhow::Result<Provisioning> {
    Ok(organization_settings::read_now(pool, org_id)
        .await?
        .provisioning)
}

/// Records `refused` on the organization's stream and returns nothing else.
async fn record_on_organization(
    pool: &Pool,
    appender: &Appender,
    org_id: Uuid,
    meta: &RequestMeta,
    command: &str,
    refused: Refusal,
) -> anyhow::Result<()> {
    let outcome = decide_on_organization(pool, appender, org_id, meta, command, |_| {
        Err(refused.clone())
    })
    .await;
    match outcome {
        Err(error) if error.downcast_ref::<Refusal>().is_some() => Ok(()),
        Err(error) => Err(error),
        Ok(_) => Ok(()),
    }
}

fn view(listing: MemberListing, scim_enabled: bool) -> MemberView {
    let member = member(&listing.membership);
    let mut roles = vec![member.role.clone()];
    for role in listing.group_roles {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    MemberView {
        account_id: listing.account.account_id,
        email: listing.account.email,
        first_name: listing.account.first_name,
        family_name: listing.account.family_name,
        scim_managed: scim_enabled
            && member.source == Source::Scim
            && member.state != MemberState::Removed,
        role: member.role,
        roles,
        source: member.source.as_str().to_owned(),
        locks: listing.locks,
        state: member.state.as_str().to_owned(),
    }
}
