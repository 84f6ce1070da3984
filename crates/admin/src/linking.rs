//! What the linker does with each event it follows (crates/reaper): links a
//! SCIM entry to its account and membership, lets the account's names and
//! email follow the entry where the organization verified the domain, and
//! brings each account's locks to what the rules say. Every step decides on
//! the state as of its pass or later ([`PassFacts`]), so following an event
//! twice (after a crash) changes nothing the second time.

use std::sync::Arc;

use domain::account::{self, ACCOUNTS, AccountState};
use domain::linking::{self, Entry, EntryChange};
use domain::membership::{self, MemberState};
use domain::provisioning::Provisioning;
use domain::{Event, Refusal, RequestMeta};
use store::{Appender, LockFacts, Pool};
use uuid::Uuid;

use crate::accounts::{self as accounts_ops, Ensured, account_change};
use crate::members::{decide_on_membership_following, member};
use crate::organization_settings::{KeptSettings, OrganizationSettings};
use crate::organization_stream::{Decided, decide_on_view};
use crate::pass_facts::{PassFacts, entry_question};

/// What the linker's steps work with: the database, the appender, the
/// organizations' settings the linker keeps, and what its pass read ahead.
#[derive(Clone, Copy)]
pub struct Linking<'a> {
    pub pool: &'a Pool,
    pub appender: &'a Appender,
    pub settings: &'a KeptSettings,
    pub pass: &'a PassFacts,
}

impl Linking<'_> {
    /// `org_id`'s settings and name: as of the head the pass read, or now.
    async fn organization(&self, org_id: Uuid) -> anyhow::Result<Arc<OrganizationSettings>> {
        match self.pass.head(org_id) {
            Some(head) => self.settings.read_at(self.pool, org_id, head).await,
            None => self.settings.read(self.pool, org_id).await,
        }
    }

    /// [`store::LockFacts`] of `account_id` in `org_id`: as the pass read
    /// them, for the first step of the membership's stream, or now.
    async fn lock_facts(&self, org_id: Uuid, account_id: Uuid) -> anyhow::Result<LockFacts> {
        match self.pass.take_membership(org_id, account_id) {
            Some(facts) => Ok(facts),
            None => Ok(store::lock_facts(self.pool, org_id, account_id).await?),
        }
    }
}

/// The position of the `MemberAdded` with which [`follow_entry`] added a
/// membership for an account it made a moment before, with the locks the
/// membership calls for (`AccountCreated`'s `locked_by`): following it would
/// decide nothing, since every later change of the settings, the domains or
/// the membership is followed on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettledMembership {
    pub member_added_at: i64,
}

/// Follows `event`, at `entry_version` of SCIM entry `entry_id` of
/// `org_id`; returns the membership it added with its locks settled, if it
/// did.
pub async fn follow_entry(
    linking: Linking<'_>,
    meta: &RequestMeta,
    org_id: Uuid,
    (entry_id, entry_version): (Uuid, i64),
    event: &Event,
) -> anyhow::Result<Option<SettledMembership>> {
    let Linking { pool, appender, .. } = linking;
    let Some((change, entry)) = EntryChange::of(event) else {
        return Ok(None);
    };
    let facts = match linking.pass.take_entry(org_id, entry_id) {
        Some(facts) => facts,
        None => store::entry_facts(pool, entry_question(org_id, entry_id, entry.as_ref())).await?,
    };
    let linked = facts.membership;
    if linked
        .as_ref()
        .is_some_and(|record| record.entry_version >= entry_version)
    {
        return Ok(None);
    }
    // The settings a new account's locks were decided under: its membership
    // is decided on them without reading (see follow_membership).
    let mut made_under = None;
    let (account_id, account) = match (&linked, &entry) {
        (Some(record), _) => (
            record.account_id,
            store::find_account(pool, record.account_id).await?,
        ),
        (None, Some(entry)) => {
            let Some(email) = &entry.email else {
                // An entry without an email names no account: it stays a
                // directory entry until one is set.
                return Ok(None);
            };
            let ensured = match facts.account_of_email {
                Some(account_id) => Ensured::found(account_id),
                None => {
                    let organization = linking.organization(org_id).await?;
                    let locks = new_members_locks(&organization, facts.domain_verified, entry);
                    let locks = Some((org_id, locks));
                    let ensured =
                        accounts_ops::make_for_entry(pool, appender, email, entry, locks, meta)
                            .await?;
                    if ensured.made.is_some() {
                        made_under = Some(organization);
                    }
                    ensured
                }
            };
            // An account made now need not be read back.
            let account = match ensured.made {
                Some(made) => Some(made),
                None => store::find_account(pool, ensured.account_id).await?,
            };
            (ensured.account_id, account)
        }
        (None, None) => return Ok(None),
    };
    let email = account
        .as_ref()
        .map(|account| account.email.clone())
        .unwrap_or_default();
    // Most changes Entra sends to a linked entry change nothing of its
    // membership (the settings only name the role of a member added anew):
    // those need no decision.
    let unchanged = linked.as_ref().is_some_and(|record| {
        linking::follow(
            &Default::default(),
            Some(&member(record)),
            account_id,
            &email,
            entry_id,
            change,
        )
        .is_empty()
    });
    let mut settled = None;
    if !unchanged {
        let added = follow_membership(
            linking,
            meta,
            (org_id, account_id),
            &email,
            (entry_id, entry_version),
            change,
            made_under.as_deref(),
        )
        .await?;
        if made_under.is_some() {
            settled = added.map(|member_added_at| SettledMembership { member_added_at });
        }
    }
    let details_differ = |entry: &Entry| {
        account.as_ref().is_some_and(|account| {
            account.first_name != entry.first_name
                || account.family_name != entry.family_name
                || entry
                    .email
                    .as_ref()
                    .is_some_and(|email| !email.eq_ignore_ascii_case(&account.email))
        })
    };
    if let Some(entry) = entry.filter(details_differ) {
        follow_details(linking, meta, org_id, account_id, &entry).await?;
    }
    Ok(settled)
}

/// Decides the membership events that make the membership follow `change`
/// of its entry, recording the entry's version it follows; the last active
/// owner stays (the refusal is recorded). `new_account`: the settings of
/// the organization the account was made a moment ago under; its
/// membership is then decided without reading what cannot exist yet.
/// Returns the position of the `MemberAdded`, if it added the membership.
async fn follow_membership(
    Linking {
        pool,
        appender,
        settings: kept,
        ..
    }: Linking<'_>,
    meta: &RequestMeta,
    (org_id, account_id): (Uuid, Uuid),
    email: &str,
    (entry_id, entry_version): (Uuid, i64),
    change: EntryChange,
    new_account: Option<&OrganizationSettings>,
) -> anyhow::Result<Option<i64>> {
    let followed = decide_on_membership_following(
        pool,
        appender,
        (org_id, account_id),
        meta,
        (entry_version, new_account),
        kept,
        |view| {
            let events = linking::follow(
                &view.settings,
                view.member.as_ref(),
                account_id,
                email,
                entry_id,
                change,
            );
            let leaves = events.iter().any(|event| {
                matches!(
                    event,
                    Event::MemberSuspended { .. } | Event::MemberRemoved { .. }
                )
            });
            if leaves && let Some(member) = &view.member {
                membership::deprovision(member, view.active_owners)?;
            }
            Ok(events)
        },
    )
    .await;
    match followed {
        Ok(recorded) => {
            Ok(recorded.position_of(|event| matches!(event, Event::MemberAdded { .. })))
        }
        // The last active owner stays; the refusal is recorded.
        Err(error) if error.downcast_ref::<Refusal>().is_some() => {
            tracing::info!(%org_id, %entry_id, %error, "a SCIM change to a membership was refused");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Lets the account's names and email follow the entry, when the
/// organization's SCIM is on and it verified the account's email domain
/// (and the new email's).
async fn follow_details(
    Linking {
        pool,
        appender,
        settings: kept,
        ..
    }: Linking<'_>,
    meta: &RequestMeta,
    org_id: Uuid,
    account_id: Uuid,
    entry: &Entry,
) -> anyhow::Result<()> {
    let facts = store::lock_facts(pool, org_id, account_id).await?;
    let (Some(record), Some(email)) = (&facts.membership, &facts.email) else {
        return Ok(());
    };
    let settings = &kept.read(pool, org_id).await?.provisioning;
    let managed = member(record);
    if !settings.scim_enabled || managed.state == MemberState::Removed || managed.entry_id.is_none()
    {
        return Ok(());
    }
    if !in_verified_domain(email, &facts.verified_domains) {
        return Ok(());
    }
    let new_email = entry
        .email
        .clone()
        .filter(|email| in_verified_domain(email, &facts.verified_domains));
    decide_on_account(
        pool,
        appender,
        meta,
        account_id,
        "follow SCIM names",
        |state| {
            let mut events = account::change_names(
                state,
                entry.first_name.as_deref(),
                entry.family_name.as_deref(),
            );
            if let Some(email) = &new_email {
                events.extend(account::change_email(state, email)?);
            }
            Ok(events)
        },
    )
    .await
    .or_else(ignore_refusal)
}

/// Brings the locks `org_id` holds of `account_id` to what the rules say now.
pub async fn converge_locks(
    linking: Linking<'_>,
    meta: &RequestMeta,
    org_id: Uuid,
    account_id: Uuid,
    reason: &str,
) -> anyhow::Result<()> {
    converge_locks_under(linking, meta, org_id, None, account_id, reason).await
}

/// [`converge_locks`], under the organization's `settings` when the caller
/// read them already (`None`: read here, when there is a membership).
async fn converge_locks_under(
    linking: Linking<'_>,
    meta: &RequestMeta,
    org_id: Uuid,
    settings: Option<&Provisioning>,
    account_id: Uuid,
    reason: &str,
) -> anyhow::Result<()> {
    let Linking { pool, appender, .. } = linking;
    let facts = linking.lock_facts(org_id, account_id).await?;
    let wanted = match &facts.membership {
        Some(record) => {
            let scim_enabled = match settings {
                Some(settings) => settings.scim_enabled,
                None => {
                    linking
                        .organization(org_id)
                        .await?
                        .provisioning
                        .scim_enabled
                }
            };
            let email = facts.email.as_deref().unwrap_or_default();
            let verified = in_verified_domain(email, &facts.verified_domains);
            membership::locks(&member(record), scim_enabled, verified)
        }
        None => membership::Locks::default(),
    };
    // The registry's row changes in the transaction of every lock event:
    // where it holds the wanted locks already, the account's stream would
    // decide nothing (a new member's locks were set with its account).
    if membership::Locks::from_names(&facts.locks) == wanted {
        return Ok(());
    }
    decide_on_account(
        pool,
        appender,
        meta,
        account_id,
        "converge locks",
        |state| Ok(account::converge_locks(state, org_id, wanted, reason)),
    )
    .await
    .or_else(ignore_refusal)
}

/// Converges the locks of every SCIM member of `org_id` (after SCIM was
/// switched, or a domain verified or dropped), under the settings read once:
/// a change of them after this is followed on its own.
pub async fn converge_organization(
    linking: Linking<'_>,
    meta: &RequestMeta,
    org_id: Uuid,
    reason: &str,
) -> anyhow::Result<()> {
    let settings = linking.organization(org_id).await?.provisioning.clone();
    for record in store::scim_memberships(linking.pool, org_id).await? {
        let account_id = record.account_id;
        converge_locks_under(linking, meta, org_id, Some(&settings), account_id, reason).await?;
    }
    Ok(())
}

/// Converges the locks every organization holds of `account_id` (after its
/// email changed domain).
pub async fn converge_account(
    linking: Linking<'_>,
    meta: &RequestMeta,
    account_id: Uuid,
    reason: &str,
) -> anyhow::Result<()> {
    for (record, _) in store::memberships_of_account(linking.pool, account_id).await? {
        converge_locks(linking, meta, record.org_id, account_id, reason).await?;
    }
    Ok(())
}

/// The locks an organization with these settings will hold of a person
/// its SCIM `entry` makes a member now, `verified`: in a domain it verified
/// (what [`converge_locks`] will find right).
fn new_members_locks(
    organization: &OrganizationSettings,
    verified: bool,
    entry: &Entry,
) -> membership::Locks {
    let member = membership::Member {
        role: String::new(),
        source: membership::Source::Scim,
        state: if entry.active {
            MemberState::Active
        } else {
            MemberState::Suspended
        },
        entry_id: None,
    };
    membership::locks(&member, organization.provisioning.scim_enabled, verified)
}

/// Whether `email`'s domain is one of `verified_domains` (an organization's,
/// as [`store::LockFacts`] holds them).
fn in_verified_domain(email: &str, verified_domains: &[String]) -> bool {
    let domain = account::email_domain(email);
    !domain.is_empty() && verified_domains.contains(&domain)
}

/// Decides on an account's stream with its registry row, claims and locks.
async fn decide_on_account(
    pool: &Pool,
    appender: &Appender,
    meta: &RequestMeta,
    account_id: Uuid,
    command: &str,
    decide: impl Fn(&AccountState) -> Result<Vec<Event>, Refusal>,
) -> anyhow::Result<()> {
    decide_on_view(
        pool,
        appender,
        (ACCOUNTS, account_id),
        meta,
        command,
        || async move {
            let stream = store::read_stream(pool, ACCOUNTS, account_id).await?;
            Ok(account::of(&stream))
        },
        |state| {
            let events = decide(state)?;
            let lock_rows = accounts_ops::lock_rows(&events);
            let details = events.iter().any(|event| {
                matches!(
                    event,
                    Event::AccountEmailChanged { .. } | Event::AccountNamesChanged { .. }
                )
            });
            let mut decided = if details {
                account_change(state, events)
            } else {
                Decided {
                    events,
                    ..Decided::default()
                }
            };
            decided.registrations.extend(lock_rows);
            Ok(decided)
        },
    )
    .await?;
    Ok(())
}

/// A refusal the linker met is recorded already; it goes on.
fn ignore_refusal(error: anyhow::Error) -> anyhow::Result<()> {
    match error.downcast_ref::<Refusal>() {
        Some(refusal) => {
            tracing::info!(%refusal, "the linker's change was refused");
            Ok(())
        }
        None => Err(error),
    }
}
