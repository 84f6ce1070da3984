//! Accounts, found and made by email, and their passwords. Account streams
//! live in the log's accounts keyspace (`domain::account::ACCOUNTS`).

use anyhow::{Context, bail};
use domain::account::{self, ACCOUNTS, AccountState, EMAIL_CLAIM};
use domain::linking::Entry;
use domain::{Event, RequestMeta};
use store::{AccountRecord, AppendError, AppendRequest, Appender, Pool, Registration};
use uuid::Uuid;

use crate::organization_stream::{Decided, decide_on_stream, decide_on_view};

/// The account whose email folds like `email`, if there is one.
pub async fn find_by_email(pool: &Pool, email: &str) -> anyhow::Result<Option<Uuid>> {
    let key = account::email_key(email);
    Ok(store::claim_owner(pool, ACCOUNTS, EMAIL_CLAIM, &key.key).await?)
}

/// The account for `email`, made (recorded as `AccountCreated`) when none
/// exists yet. Two callers racing for one email get the same account.
pub async fn ensure(
    pool: &Pool,
    appender: &Appender,
    email: &str,
    meta: &RequestMeta,
) -> anyhow::Result<Uuid> {
    let ensured = match find_by_email(pool, email).await? {
        Some(account_id) => Ensured::found(account_id),
        None => make_for_entry(pool, appender, email, &Entry::default(), None, meta).await?,
    };
    Ok(ensured.account_id)
}

/// The account [`make_for_entry`] made, or found made by another caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensured {
    pub account_id: Uuid,
    /// Made now: the registry row it was made with, known without reading
    /// it back.
    pub made: Option<AccountRecord>,
}

impl Ensured {
    /// An account that was there already.
    pub(crate) fn found(account_id: Uuid) -> Ensured {
        Ensured {
            account_id,
            made: None,
        }
    }
}

/// The account for `email`, where the caller found none a moment ago:
/// made with the names of the SCIM `entry` it is for and, in the same
/// event, the locks its organization will hold (`locks`: organization id,
/// locks), so that linking a new person costs one event on their account
/// rather than two; or the one another caller made meanwhile.
pub async fn make_for_entry(
    pool: &Pool,
    appender: &Appender,
    email: &str,
    entry: &Entry,
    locks: Option<(Uuid, domain::membership::Locks)>,
    meta: &RequestMeta,
) -> anyhow::Result<Ensured> {
    let names = (entry.first_name.clone(), entry.family_name.clone());
    let event = account::create_for_entry(email, names, locks)?;
    let made = AccountRecord {
        account_id: Uuid::now_v7(),
        email: email.trim().to_owned(),
        first_name: entry.first_name.clone(),
        family_name: entry.family_name.clone(),
    };
    let account_id = made.account_id;
    let mut registrations = vec![Registration::Account {
        email: made.email.clone(),
        first_name: made.first_name.clone(),
        family_name: made.family_name.clone(),
    }];
    let events = vec![event];
    registrations.extend(lock_rows(&events));
    let appended = appender
        .append(AppendRequest {
            org_id: ACCOUNTS,
            stream_id: account_id,
            expected_version: 0,
            commutes: false,
            events,
            claims: vec![account::email_key(email)],
            releases: Vec::new(),
            registrations,
            meta: meta.clone(),
        })
        .await;
    match appended {
        Ok(_) => Ok(Ensured {
            account_id,
            made: Some(made),
        }),
        // Made by another caller a moment ago.
        Err(AppendError::Taken(_)) => find_by_email(pool, email)
            .await?
            .map(Ensured::found)
            .context("an account's email was taken, then not found"),
        Err(error) => Err(error).context("recording the new account"),
    }
}

/// The `account_locks` registry rows `events` leave: the locks an
/// organization holds from the account's making, or after locking or
/// unlocking it.
pub(crate) fn lock_rows(events: &[Event]) -> Vec<Registration> {
    events
        .iter()
        .filter_map(|event| {
            let (org_id, locks) = match event {
                Event::AccountCreated {
                    locked_by: Some(held),
                    ..
                } => (held.org_id, held.locks.clone()),
                Event::AccountLocked { org_id, locks, .. } => (*org_id, locks.clone()),
                Event::AccountUnlocked { org_id, .. } => (*org_id, Vec::new()),
                _ => return None,
            };
            Some(Registration::AccountLocks { org_id, locks })
        })
        .collect()
}

/// Sets the password of the account with `email` (decided on the account's
/// stream and appended at its version; a refusal is recorded and returned).
/// `meta` says who asked.
pub async fn set_password(
    pool: &Pool,
    appender: &Appender,
    meta: &RequestMeta,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
    let Some(account_id) = find_by_email(pool, email).await? else {
        bail!(
            "no account has the email {email:?}; an owner adds members, or `rollcall org create` makes an owner's account"
        );
    };
    let command = "account set-password";
    decide_on_stream(
        pool,
        appender,
        ACCOUNTS,
        account_id,
        meta,
        command,
        |stream| {
            let state = account::of(stream);
            let event = account::set_password(&state, password, &rand::random())?;
            Ok((vec![event], Vec::new()))
        },
    )
    .await?;
    Ok(())
}

/// A password for a first start: 24 characters of URL-safe base64 from 18
/// random bytes, shown once.
pub fn one_time_password() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
}

/// An account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountView {
    pub id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub family_name: Option<String>,
    pub memberships: Vec<MembershipOfAccount>,
}

/// One of an account's memberships.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MembershipOfAccount {
    pub org_id: Uuid,
    pub org_name: String,
    pub role: String,
    pub source: String,
    pub scim_managed: bool,
    pub state: String,
}

/// The account `account_id` with its memberships.
pub async fn view(pool: &Pool, account_id: Uuid) -> anyhow::Result<AccountView> {
    let Some(account) = store::find_account(pool, account_id).await? else {
        return Err(domain::Refusal::not_found("no such account").into());
    };
    let mut memberships = Vec::new();
    for (record, org_name) in store::memberships_of_account(pool, account_id).await? {
        let scim_enabled = crate::members::settings(pool, record.org_id)
            .await?
            .scim_enabled;
        memberships.push(MembershipOfAccount {
            scim_managed: scim_enabled && record.source == "scim" && record.state != "removed",
            org_id: record.org_id,
            org_name,
            role: record.role,
            source: record.source,
            state: record.state,
        });
    }
    Ok(AccountView {
        id: account.account_id,
        email: account.email,
        first_name: account.first_name,
        family_name: account.family_name,
        memberships,
    })
}

/// What an account's own changes are decided on: its stream, and the names
/// of the organizations it belongs to (for the locks' messages).
struct AccountFacts {
    state: AccountState,
    organizations: Vec<(Uuid, String)>,
}

impl AccountFacts {
    /// Refuses `what` (`email` or `password`) when an identity provider
    /// holds it.
    fn unlocked(&self, what: &str) -> Result<(), domain::Refusal> {
        let Some(org_id) = self.state.locked_by(what) else {
            return Ok(());
        };
        let name = self
            .organizations
            .iter()
            .find(|(id, _)| *id == org_id)
            .map_or("an organization", |(_, name)| name.as_str());
        domain::membership::change_credentials(
            domain::membership::Locks {
                email: what == "email",
                password: what != "email",
                leave: false,
            },
            name,
            what,
        )
    }
}

async fn account_facts(pool: &Pool, account_id: Uuid) -> anyhow::Result<AccountFacts> {
    let stream = store::read_stream(pool, ACCOUNTS, account_id).await?;
    let organizations = store::memberships_of_account(pool, account_id)
        .await?
        .into_iter()
        .map(|(record, name)| (record.org_id, name))
        .collect();
    Ok(AccountFacts {
        state: account::of(&stream),
        organizations,
    })
}

/// The person changes their account's email, unless an identity provider
/// that verified its domain holds it. Decided on the account's stream, where
/// the locks are recorded too, so a lock that lands meanwhile wins. Whether
/// anything changed (the same email again records nothing).
pub async fn change_email(
    pool: &Pool,
    appender: &Appender,
    meta: &RequestMeta,
    account_id: Uuid,
    email: &str,
) -> anyhow::Result<bool> {
    let events = decide_on_view(
        pool,
        appender,
        (ACCOUNTS, account_id),
        meta,
        "account email",
        || account_facts(pool, account_id),
        |facts| {
            facts.unlocked("email")?;
            let events = account::change_email(&facts.state, email)?;
            Ok(account_change(&facts.state, events))
        },
    )
    .await?;
    Ok(!events.is_empty())
}

/// The person changes their password, giving the current one, unless an
/// identity provider holds it.
///
/// argon2 takes tens of milliseconds and 19 MiB on purpose, so it runs on a
/// blocking thread, once, against the hash read first; the decision then
/// only compares hashes, and a password set meanwhile is refused (409)
/// rather than checked again.
pub async fn change_password(
    pool: &Pool,
    appender: &Appender,
    meta: &RequestMeta,
    account_id: Uuid,
    current_password: &str,
    new_password: &str,
) -> anyhow::Result<()> {
    let before = account_facts(pool, account_id).await?.state;
    let checked_hash = before.password_hash.clone();
    let (current, new) = (current_password.to_owned(), new_password.to_owned());
    // None when the current password is not right.
    let set = tokio::task::spawn_blocking(move || {
        let matches = before
            .password_hash
            .as_deref()
            .is_some_and(|hash| domain::password::matches(&current, hash));
        matches.then(|| account::set_password(&before, &new, &rand::random()))
    })
    .await
    .context("checking a password")?;
    decide_on_view(
        pool,
        appender,
        (ACCOUNTS, account_id),
        meta,
        "account password",
        || account_facts(pool, account_id),
        |facts| {
            facts.unlocked("password")?;
            if facts.state.password_hash != checked_hash {
                return Err(domain::Refusal::conflict(
                    "the password was changed meanwhile; give the new current password",
                ));
            }
            let Some(set) = set.clone() else {
                return Err(domain::Refusal::invalid(
                    "the current password is not right",
                ));
            };
            Ok(Decided::from((vec![set?], Vec::new())))
        },
    )
    .await?;
    Ok(())
}

/// `events` on an account, with the claim and registry row they imply.
pub(crate) fn account_change(state: &AccountState, events: Vec<domain::Event>) -> Decided {
    let after = events
        .iter()
        .fold(state.clone(), |state, event| state.evolve(event));
    let (Some(before), Some(email)) = (&state.email, &after.email) else {
        return Decided::default();
    };
    let (claims, releases) = if account::email_key(before) == account::email_key(email) {
        (Vec::new(), Vec::new())
    } else {
        (
            vec![account::email_key(email)],
            vec![account::email_key(before)],
        )
    };
    let registrations = vec![Registration::Account {
        email: email.clone(),
        first_name: after.first_name.clone(),
        family_name: after.family_name.clone(),
    }];
    Decided {
        events,
        registrations,
        claims,
        releases,
    }
}
