//! Memberships: an account in an organization, with a role, a source (SCIM
//! or added by hand) and a state; and the lockouts that come with an
//! identity provider managing a member.
//!
//! The rules here take the facts they need from outside (how many active
//! owners the organization has, whether SCIM is on, whether the account's
//! email domain is verified), so the caller must read those facts in the
//! same consistent view it appends against.

use uuid::Uuid;

use crate::provisioning::{OWNER, Provisioning};
use crate::{Event, Refusal};

/// Where a membership came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Provisioned by the identity provider.
    Scim,
    /// Added by an owner (or the organization's creator).
    Manual,
}

impl Source {
    /// As the log, the tables and the admin API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Scim => "scim",
            Source::Manual => "manual",
        }
    }

    /// The source spelled `text`; anything but `scim` was added by hand.
    pub fn parse(text: &str) -> Source {
        if text == "scim" {
            Source::Scim
        } else {
            Source::Manual
        }
    }
}

/// Whether a membership counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberState {
    Active,
    /// The entry is inactive (`active: false`, Entra's soft delete).
    Suspended,
    Removed,
}

impl MemberState {
    /// As the log, the tables and the admin API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Active => "active",
            MemberState::Suspended => "suspended",
            MemberState::Removed => "removed",
        }
    }

    /// The state spelled `text` (as [`MemberState::as_str`] wrote it).
    pub fn parse(text: &str) -> MemberState {
        match text {
            "active" => MemberState::Active,
            "suspended" => MemberState::Suspended,
            _ => MemberState::Removed,
        }
    }
}

/// One account's membership of one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub role: String,
    pub source: Source,
    pub state: MemberState,
    /// The SCIM user the membership follows, if the identity provider
    /// manages it.
    pub entry_id: Option<Uuid>,
}

impl Member {
    pub fn is_active_owner(&self) -> bool {
        self.role == OWNER && self.state == MemberState::Active
    }

    /// The membership after `event` (`None`: none yet); events of other
    /// concerns change nothing. `OwnerAdded`, which the organization's own
    /// stream records at its creation, counts as a manual owner's
    /// `MemberAdded`.
    pub fn evolve(member: Option<Member>, event: &Event) -> Option<Member> {
        match (member, event) {
            (_, Event::OwnerAdded { .. }) => Some(Member {
                role: OWNER.into(),
                source: Source::Manual,
                state: MemberState::Active,
                entry_id: None,
            }),
            (
                _,
                Event::MemberAdded {
                    role,
                    source,
                    entry_id,
                    ..
                },
            ) => Some(Member {
                role: role.clone(),
                source: Source::parse(source),
                state: MemberState::Active,
                entry_id: *entry_id,
            }),
            (Some(member), Event::MemberLinked { entry_id, .. }) => Some(Member {
                source: Source::Scim,
                entry_id: Some(*entry_id),
                ..member
            }),
            (Some(member), Event::MemberRoleChanged { role, .. }) => Some(Member {
                role: role.clone(),
                ..member
            }),
            (Some(member), Event::MemberSuspended { .. }) => Some(Member {
                state: MemberState::Suspended,
                ..member
            }),
            (Some(member), Event::MemberRestored { .. }) => Some(Member {
                state: MemberState::Active,
                ..member
            }),
            (Some(member), Event::MemberRemoved { .. }) => Some(Member {
                state: MemberState::Removed,
                ..member
            }),
            (member, _) => member,
        }
    }
}

/// The events that make `account_id` (with `email`) a member with `role`:
/// a manual member needs a role the organization has; a SCIM one gets the
/// default role. A member that was removed comes back the same way.
pub fn add(
    settings: &Provisioning,
    current: Option<&Member>,
    account_id: Uuid,
    email: &str,
    role: Option<&str>,
    entry_id: Option<Uuid>,
) -> Result<Vec<Event>, Refusal> {
    if let Some(member) = current.filter(|member| member.state != MemberState::Removed) {
        return Err(Refusal::conflict(format!(
            "{email} is already a member (role {}, {})",
            member.role,
            member.state.as_str()
        )));
    }
    let source = if entry_id.is_some() {
        Source::Scim
    } else {
        Source::Manual
    };
    let role = match role {
        Some(role) => role.to_owned(),
        None if !settings.default_role.is_empty() => settings.default_role.clone(),
        None => crate::organization::DEFAULT_ROLE.to_owned(),
    };
    known_role(settings, &role)?;
    Ok(vec![Event::MemberAdded {
        account_id,
        email: email.to_owned(),
        role,
        source: source.as_str().to_owned(),
        entry_id,
    }])
}

/// Refuses a role the organization does not have, naming those it has.
pub fn known_role(settings: &Provisioning, role: &str) -> Result<(), Refusal> {
    if settings.roles().iter().any(|known| known == role) {
        return Ok(());
    }
    Err(Refusal::invalid(format!(
        "the organization has no role {role:?}; its roles are {}",
        settings.roles().join(", ")
    )))
}

/// What a SCIM-managed member may not do on their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Locks {
    /// Leave the organization.
    pub leave: bool,
    /// Change the account's email.
    pub email: bool,
    /// Change the account's password.
    pub password: bool,
}

impl Locks {
    /// The locks held, by name (`leave`, `email`, `password`).
    pub fn names(self) -> Vec<String> {
        [
            ("leave", self.leave),
            ("email", self.email),
            ("password", self.password),
        ]
        .into_iter()
        .filter(|(_, held)| *held)
        .map(|(name, _)| name.to_owned())
        .collect()
    }

    /// The locks named in `names`.
    pub fn from_names(names: &[String]) -> Locks {
        let has = |wanted: &str| names.iter().any(|name| name == wanted);
        Locks {
            leave: has("leave"),
            email: has("email"),
            password: has("password"),
        }
    }
}

/// The locks on a member while `scim_enabled`: a SCIM member may not leave;
/// when the organization verified the account's email domain, the identity
/// provider also owns the account's email and password.
pub fn locks(member: &Member, scim_enabled: bool, email_domain_verified: bool) -> Locks {
    let managed =
        scim_enabled && member.source == Source::Scim && member.state != MemberState::Removed;
    Locks {
        leave: managed,
        email: managed && email_domain_verified,
        password: managed && email_domain_verified,
    }
}

/// A member asks to leave `organization`.
pub fn leave(
    member: &Member,
    organization: &str,
    locks: Locks,
    active_owners: usize,
) -> Result<(), Refusal> {
    if locks.leave {
        return Err(Refusal::scim_managed(format!(
            "your membership of {organization} is managed by its identity provider; \
             ask your identity administrator to remove you"
        )));
    }
    last_owner_stays(member, active_owners)
}

/// An account asks to change its email or password, which `locks` may hold
/// for the identity provider of `organization`.
pub fn change_credentials(locks: Locks, organization: &str, what: &str) -> Result<(), Refusal> {
    let locked = match what {
        "email" => locks.email,
        _ => locks.password,
    };
    if locked {
        return Err(Refusal::scim_managed(format!(
            "your {what} is managed by {organization}'s identity provider; \
             ask your identity administrator to change it"
        )));
    }
    Ok(())
}

/// `actor_role` removes `member` (only owners remove members).
pub fn remove(actor_role: &str, member: &Member, active_owners: usize) -> Result<(), Refusal> {
    if actor_role != OWNER {
        return Err(Refusal::forbidden("only owners remove members"));
    }
    last_owner_stays(member, active_owners)
}

/// The identity provider deactivates or deletes `member`'s entry.
pub fn deprovision(member: &Member, active_owners: usize) -> Result<(), Refusal> {
    last_owner_stays(member, active_owners)
}

/// `member`'s role becomes `role`, one of `settings`' roles.
pub fn change_role(
    settings: &Provisioning,
    member: &Member,
    role: &str,
    active_owners: usize,
) -> Result<(), Refusal> {
    known_role(settings, role)?;
    if member.state == MemberState::Removed {
        return Err(Refusal::not_found("no such member in this organization"));
    }
    if role == member.role {
        return Ok(());
    }
    last_owner_stays(member, active_owners)
}

/// What the organization says when a change would leave it without an
/// active owner.
pub const LAST_OWNER: &str =
    "this is the organization's last active owner; assign another owner first";

/// Refuses what would leave the organization without an active owner.
fn last_owner_stays(member: &Member, active_owners: usize) -> Result<(), Refusal> {
    if member.is_active_owner() && active_owners <= 1 {
        return Err(Refusal::invalid(LAST_OWNER));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RefusalCode;

    fn member(role: &str, source: Source) -> Member {
        Member {
            role: role.into(),
            source,
            state: MemberState::Active,
            entry_id: None,
        }
    }

    #[test]
    fn a_scim_member_cannot_leave_while_scim_is_on() {
        let scim = member("member", Source::Scim);
        let refused = leave(&scim, "Contoso", locks(&scim, true, false), 1).unwrap_err();
        assert_eq!(refused.code, RefusalCode::ScimManaged);
        assert!(refused.message.contains("Contoso"), "{}", refused.message);
        assert!(refused.message.contains("identity administrator"));
        assert!(leave(&scim, "Contoso", locks(&scim, false, false), 1).is_ok());
        let manual = member("member", Source::Manual);
        assert!(leave(&manual, "Contoso", locks(&manual, true, true), 1).is_ok());
    }

    #[test]
    fn email_and_password_are_locked_only_in_a_verified_domain() {
        let scim = member("member", Source::Scim);
        let unverified = locks(&scim, true, false);
        assert!(change_credentials(unverified, "Contoso", "email").is_ok());
        assert!(change_credentials(unverified, "Contoso", "password").is_ok());
        let verified = locks(&scim, true, true);
        for what in ["email", "password"] {
            let refused = change_credentials(verified, "Contoso", what).unwrap_err();
            assert_eq!(refused.code, RefusalCode::ScimManaged);
        }
        assert_eq!(
            locks(&scim, false, true),
            Locks::default(),
            "SCIM off: no locks"
        );
    }

    #[test]
    fn only_owners_remove_and_the_last_owner_stays() {
        let owner = member("owner", Source::Manual);
        let scim = member("member", Source::Scim);
        assert_eq!(
            remove("member", &scim, 1).unwrap_err().code,
            RefusalCode::Forbidden
        );
        assert!(remove("owner", &scim, 1).is_ok());
        let last = remove("owner", &owner, 1).unwrap_err();
        assert!(last.message.contains("assign another owner first"));
        assert!(remove("owner", &owner, 2).is_ok());
        assert!(deprovision(&owner, 1).is_err());
        let settings = Provisioning::default();
        assert!(change_role(&settings, &owner, "member", 1).is_err());
        assert!(change_role(&settings, &owner, "owner", 1).is_ok());
        assert!(change_role(&settings, &owner, "nope", 2).is_err());
        let suspended = Member {
            state: MemberState::Suspended,
            ..owner
        };
        assert!(deprovision(&suspended, 1).is_ok(), "not an active owner");
    }

    #[test]
    fn a_membership_folds_from_its_events_and_the_creators_owner_added() {
        let account_id = Uuid::from_u128(7);
        let owner = Member::evolve(
            None,
            &Event::OwnerAdded {
                account_id,
                email: "o@x.test".into(),
            },
        )
        .unwrap();
        assert!(owner.is_active_owner());
        let settings = Provisioning::default();
        let added = add(
            &settings,
            None,
            account_id,
            "a@x.test",
            None,
            Some(account_id),
        )
        .unwrap();
        let member = added.iter().fold(None, Member::evolve).unwrap();
        assert_eq!(
            (member.role.as_str(), member.source, member.state),
            ("member", Source::Scim, MemberState::Active)
        );
        let suspended =
            Member::evolve(Some(member.clone()), &Event::MemberSuspended { account_id });
        assert_eq!(suspended.unwrap().state, MemberState::Suspended);
        assert_eq!(
            add(&settings, Some(&member), account_id, "a@x.test", None, None)
                .unwrap_err()
                .code,
            RefusalCode::Conflict,
            "already a member"
        );
        assert!(add(&settings, None, account_id, "a@x.test", Some("nope"), None).is_err());
    }

    #[test]
    fn locks_read_back_from_their_names() {
        let all = Locks {
            leave: true,
            email: true,
            password: true,
        };
        assert_eq!(all.names(), ["leave", "email", "password"]);
        assert_eq!(Locks::from_names(&all.names()), all);
        assert!(Locks::default().names().is_empty());
    }
}
