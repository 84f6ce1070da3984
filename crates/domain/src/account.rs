//! Accounts: one person, one account, in every organization they belong
//! to. An account has a unique email (compared folded, like user names), an
//! optional password (argon2id), and a first and family name.
//!
//! Accounts belong to no organization, so their streams live in a keyspace
//! of their own in the log: organization id [`ACCOUNTS`] (the nil id), one
//! stream per account. Email uniqueness is a claim in that keyspace.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::event::OrganizationLocks;
use crate::membership::Locks;
use crate::resource::UniqueKey;
use crate::{Event, Refusal};

/// The log's organization id for account streams.
pub const ACCOUNTS: Uuid = Uuid::nil();

/// The claim kind that keeps account emails unique.
pub const EMAIL_CLAIM: &str = "accountEmail";

/// The shortest password an account may set.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What an account's stream says of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountState {
    /// `None` before the account exists.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub family_name: Option<String>,
    /// The argon2id PHC string of the password, if one was set.
    pub password_hash: Option<String>,
    /// What each organization's identity provider holds of the account.
    pub locks: BTreeMap<Uuid, Locks>,
    pub version: i64,
}

impl AccountState {
    /// The account after `event`.
    pub fn evolve(mut self, event: &Event) -> AccountState {
        self.version += 1;
        match event {
            Event::AccountCreated {
                email,
                first_name,
                family_name,
                locked_by,
            } => {
                self.email = Some(email.clone());
                self.first_name.clone_from(first_name);
                self.family_name.clone_from(family_name);
                if let Some(held) = locked_by {
                    self.locks
                        .insert(held.org_id, Locks::from_names(&held.locks));
                }
            }
            Event::AccountPasswordSet { password_hash } => {
                self.password_hash = Some(password_hash.clone());
            }
            Event::AccountEmailChanged { email } => self.email = Some(email.clone()),
            Event::AccountNamesChanged {
                first_name,
                family_name,
            } => {
                self.first_name.clone_from(first_name);
                self.family_name.clone_from(family_name);
            }
            Event::AccountLocked { org_id, locks, .. } => {
                self.locks.insert(*org_id, Locks::from_names(locks));
            }
            Event::AccountUnlocked { org_id, .. } => {
                self.locks.remove(org_id);
            }
            // The account's person was erased: nothing of them is left.
            Event::Erased { .. } => {
                let version = self.version;
                self = AccountState {
                    version,
                    ..AccountState::default()
                };
            }
            _ => {}
        }
        self
    }
}

/// The account, folded from its stream.
pub fn of<'a>(stream: impl IntoIterator<Item = &'a crate::StoredEvent>) -> AccountState {
    stream
        .into_iter()
        .fold(AccountState::default(), |state, stored| {
            state.evolve(&stored.event)
        })
}

impl AccountState {
    /// The organization whose identity provider holds `what` (`email` or
    /// `password`) of the account, if one does.
    pub fn locked_by(&self, what: &str) -> Option<Uuid> {
        self.locks
            .iter()
            .find(|(_, locks)| match what {
                "email" => locks.email,
                _ => locks.password,
            })
            .map(|(org_id, _)| *org_id)
    }
}

/// The claim that makes `email` an account's.
pub fn email_key(email: &str) -> UniqueKey {
    UniqueKey {
        kind: EMAIL_CLAIM,
        key: scim::fold_case(email.trim()),
    }
}

/// The event that creates an account for `email`.
pub fn create(email: &str) -> Result<Event, Refusal> {
    create_for_entry(email, (None, None), None)
}

/// The event that makes an account for `email` with the `names` (first,
/// family) of the SCIM entry it is for and, where `locks` names an
/// organization holding some, those locks from the start.
pub fn create_for_entry(
    email: &str,
    (first_name, family_name): (Option<String>, Option<String>),
    locks: Option<(Uuid, Locks)>,
) -> Result<Event, Refusal> {
    let email = email.trim();
    if !crate::organization::is_plausible_email(email) {
        return Err(Refusal::invalid(format!(
            "{email:?} is not an email address (want name@domain)"
        )));
    }
    let locked_by = locks
        .filter(|(_, locks)| *locks != Locks::default())
        .map(|(org_id, locks)| OrganizationLocks {
            org_id,
            locks: locks.names(),
        });
    Ok(Event::AccountCreated {
        email: email.to_owned(),
        first_name,
        family_name,
        locked_by,
    })
}

/// The event that sets the account's password to `password`, hashed with
/// `salt` (16 random bytes from the caller).
pub fn set_password(
    state: &AccountState,
    password: &str,
    salt: &[u8; 16],
) -> Result<Event, Refusal> {
    if state.email.is_none() {
        return Err(Refusal::not_found("no such account"));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Refusal::invalid(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let password_hash = crate::password::phc(password, salt).map_err(Refusal::invalid)?;
    Ok(Event::AccountPasswordSet { password_hash })
}

/// The event that changes the account's email to `email` (none when it is
/// the same). The caller checks the locks (the organization's name goes in
/// the refusal) and moves the claim.
pub fn change_email(state: &AccountState, email: &str) -> Result<Vec<Event>, Refusal> {
    let Some(current) = &state.email else {
        return Err(Refusal::not_found("no such account"));
    };
    let email = email.trim();
    if !crate::organization::is_plausible_email(email) {
        return Err(Refusal::invalid(format!(
            "{email:?} is not an email address (want name@domain)"
        )));
    }
    if current == email {
        return Ok(Vec::new());
    }
    Ok(vec![Event::AccountEmailChanged {
        email: email.to_owned(),
    }])
}

/// The event that makes the account's names `first_name` and
/// `family_name` (none when they already are).
pub fn change_names(
    state: &AccountState,
    first_name: Option<&str>,
    family_name: Option<&str>,
) -> Vec<Event> {
    if state.first_name.as_deref() == first_name && state.family_name.as_deref() == family_name {
        return Vec::new();
    }
    vec![Event::AccountNamesChanged {
        first_name: first_name.map(str::to_owned),
        family_name: family_name.map(str::to_owned),
    }]
}

/// The domain of an email address, lowercase (`""` if it has none).
pub fn email_domain(email: &str) -> String {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim().trim_end_matches('.').to_lowercase())
        .unwrap_or_default()
}

/// The event that brings organization `org_id`'s locks on the account to
/// `wanted` (none when they already are).
pub fn converge_locks(
    state: &AccountState,
    org_id: Uuid,
    wanted: Locks,
    reason: &str,
) -> Vec<Event> {
    let held = state.locks.get(&org_id).copied().unwrap_or_default();
    if held == wanted {
        return Vec::new();
    }
    if wanted == Locks::default() {
        return vec![Event::AccountUnlocked {
            org_id,
            reason: reason.to_owned(),
        }];
    }
    vec![Event::AccountLocked {
        org_id,
        locks: wanted.names(),
        reason: reason.to_owned(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_made_for_an_email_and_claims_it_folded() {
        let event = create(" Ana@Contoso.TEST ").unwrap();
        let state = AccountState::default().evolve(&event);
        assert_eq!(state.email.as_deref(), Some("Ana@Contoso.TEST"));
        assert_eq!(
            email_key("ANA@contoso.test"),
            email_key("ana@CONTOSO.test ")
        );
        assert!(create("not an email").is_err());
    }

    #[test]
    fn a_password_is_long_enough_and_stored_only_hashed() {
        let state = AccountState::default().evolve(&create("ana@contoso.test").unwrap());
        assert!(set_password(&state, "short", &[0; 16]).is_err());
        let Event::AccountPasswordSet { password_hash } =
            set_password(&state, "a long enough secret", &[0; 16]).unwrap()
        else {
            panic!("a password event")
        };
        assert!(!password_hash.contains("a long enough secret"));
        assert!(crate::password::matches(
            "a long enough secret",
            &password_hash
        ));
        assert!(set_password(&AccountState::default(), "a long enough secret", &[0; 16]).is_err());
    }

    #[test]
    fn locks_converge_by_organization_and_an_email_change_is_checked() {
        let org = Uuid::from_u128(3);
        let state = AccountState::default().evolve(&create("ana@contoso.test").unwrap());
        let leave = Locks {
            leave: true,
            ..Locks::default()
        };
        let locked = converge_locks(&state, org, leave, "MemberAdded");
        assert!(matches!(&locked[..], [Event::AccountLocked { locks, .. }] if locks == &["leave"]));
        let state = state.evolve(&locked[0]);
        assert!(converge_locks(&state, org, leave, "again").is_empty());
        assert_eq!(state.locked_by("email"), None);
        let unlocked = converge_locks(&state, org, Locks::default(), "MemberRemoved");
        assert!(matches!(unlocked[..], [Event::AccountUnlocked { .. }]));
        assert!(change_email(&state, "ana@contoso.test").unwrap().is_empty());
        assert!(change_email(&state, "not an email").is_err());
        assert_eq!(
            change_email(&state, "ana@fabrikam.test").unwrap(),
            [Event::AccountEmailChanged {
                email: "ana@fabrikam.test".into()
            }]
        );
        assert_eq!(email_domain("A@Contoso.TEST."), "contoso.test");
    }

    #[test]
    fn an_account_made_for_an_entry_is_born_with_its_organizations_locks() {
        let org = Uuid::from_u128(3);
        let all = Locks {
            leave: true,
            email: true,
            password: true,
        };
        let names = (Some("Ana".to_owned()), None);
        let made = create_for_entry(" ana@contoso.test ", names.clone(), Some((org, all))).unwrap();
        let state = AccountState::default().evolve(&made);
        assert_eq!(state.email.as_deref(), Some("ana@contoso.test"));
        assert_eq!(state.first_name.as_deref(), Some("Ana"));
        assert_eq!(state.locks.get(&org), Some(&all));
        assert_eq!(state.locked_by("password"), Some(org));
        assert!(
            converge_locks(&state, org, all, "MemberAdded").is_empty(),
            "nothing left to lock"
        );
        let unlocked = create_for_entry("ana@contoso.test", names, Some((org, Locks::default())));
        assert!(matches!(
            unlocked.unwrap(),
            Event::AccountCreated {
                locked_by: None,
                ..
            }
        ));
        assert!(create_for_entry("nobody", (None, None), None).is_err());
    }

    #[test]
    fn an_account_recorded_before_locks_were_carried_with_it_holds_none() {
        let stored = r#"{"type":"AccountCreated","email":"ana@contoso.test"}"#;
        let event: Event = serde_json::from_str(stored).unwrap();
        let state = AccountState::default().evolve(&event);
        assert!(state.locks.is_empty());
        let written = serde_json::to_string(&create("ana@contoso.test").unwrap()).unwrap();
        assert!(!written.contains("locked_by"), "{written}");
    }
}
