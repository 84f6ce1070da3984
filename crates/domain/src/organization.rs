//! Organizations, their owners and their SCIM tokens.

use uuid::Uuid;

use crate::{Event, Rejection};
use scim::{ScimError, ScimType};

/// The role a SCIM-created user receives unless the owner picks another.
pub const DEFAULT_ROLE: &str = "member";

/// The events that create an organization with its first owner and SCIM
/// enabled, so that a token can be issued straight away.
pub fn create(name: &str, owner_email: &str, owner_id: Uuid) -> Result<Vec<Event>, Rejection> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("the organization's name must not be empty"));
    }
    let email = owner_email.trim();
    if !is_plausible_email(email) {
        return Err(invalid(&format!(
            "the owner's email {email:?} is not an email address (want name@domain)"
        )));
    }
    Ok(vec![
        Event::OrganizationCreated { name: name.into() },
        Event::OwnerAdded {
            account_id: owner_id,
            email: email.into(),
        },
        Event::ScimEnabled {
            default_role: DEFAULT_ROLE.into(),
        },
    ])
}

/// The longest email address SMTP carries (RFC 5321), and so the longest
/// an account may have.
pub const MAX_EMAIL_CHARS: usize = 254;

/// Whether `email` looks like `name@domain.tld` (no whitespace, at most
/// [`MAX_EMAIL_CHARS`]).
pub(crate) fn is_plausible_email(email: &str) -> bool {
    if email.chars().count() > MAX_EMAIL_CHARS {
        return false;
    }
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn invalid(detail: &str) -> Rejection {
    ScimError::bad_request(ScimType::InvalidValue, detail).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organization_starts_with_its_owner_and_scim_enabled() {
        let events = create(" Acme ", "owner@acme.test", Uuid::nil()).unwrap();
        assert_eq!(
            events[0],
            Event::OrganizationCreated {
                name: "Acme".into()
            }
        );
        assert!(
            matches!(&events[2], Event::ScimEnabled { default_role } if default_role == "member")
        );
    }

    #[test]
    fn bad_names_and_emails_are_refused() {
        assert!(create("", "a@b.c", Uuid::nil()).is_err());
        assert!(create("x", "not-an-email", Uuid::nil()).is_err());
        assert!(create("x", "a@localhost", Uuid::nil()).is_err());
    }
}
