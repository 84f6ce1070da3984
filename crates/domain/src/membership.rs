//! Memberships: an account in an organization, with a role, a source (SCIM
//! or added by hand) and a state; and the lockouts that come with an
//! identity provider managing a member.
//!
//! The rules here take the facts they need from outside (how many active
//! owners the organization has, whether SCIM is on, whether the account's
//! email domain is verified), so the caller must read those facts in the
//! same consistent view it appends against.

use crate::Refusal;
use crate::provisioning::OWNER;

/// Where a membership came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Provisioned by the identity provider.
    Scim,
    /// Added by an owner (or the organization's creator).
    Manual,
}

/// Whether a membership counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Active,
    /// The entry is inactive (`active: false`, Entra's soft delete).
    Suspended,
    Removed,
}

/// One account's membership of one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub role: String,
    pub source: Source,
    pub state: MemberState,
}

impl Member {
    fn is_active_owner(&self) -> bool {
        self.role == OWNER && self.state == MemberState::Active
    }
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

/// `member`'s role becomes `role`.
pub fn change_role(member: &Member, role: &str, active_owners: usize) -> Result<(), Refusal> {
    if role == member.role {
        return Ok(());
    }
    last_owner_stays(member, active_owners)
}

/// Refuses what would leave the organization without an active owner.
fn last_owner_stays(member: &Member, active_owners: usize) -> Result<(), Refusal> {
    if member.is_active_owner() && active_owners <= 1 {
        return Err(Refusal::invalid(
            "this is the organization's last active owner; assign another owner first",
        ));
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
        assert!(change_role(&owner, "member", 1).is_err());
        assert!(change_role(&owner, "owner", 1).is_ok());
        let suspended = Member {
            state: MemberState::Suspended,
            ..owner
        };
        assert!(deprovision(&suspended, 1).is_ok(), "not an active owner");
    }
}
