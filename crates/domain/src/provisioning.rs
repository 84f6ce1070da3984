//! An organization's provisioning settings and roles: whether SCIM is on,
//! the role every SCIM-created member gets, and the roles owners defined.
//!
//! The default role is never `owner` (an identity provider must not be able
//! to mint owners), and changing it changes no existing member: it is read
//! when a member is provisioned, never applied backwards. Turning SCIM off
//! makes the organization's SCIM tokens answer 403 until it is on again; the
//! tokens themselves stay as they are.

use crate::{Event, Refusal, StoredEvent};

/// The built-in roles, in the order they are listed.
pub const BUILT_IN_ROLES: [&str; 3] = ["owner", "member", "auditor"];

/// The role that may do everything, and that SCIM may never give.
pub const OWNER: &str = "owner";

/// The most custom roles an organization may define.
pub const MAX_CUSTOM_ROLES: usize = 100;

/// What the organization's stream says of its provisioning.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provisioning {
    pub scim_enabled: bool,
    /// Empty until SCIM was enabled once.
    pub default_role: String,
    /// Roles owners added, in the order they were added.
    pub custom_roles: Vec<String>,
}

impl Provisioning {
    /// The settings after `event`; events of other concerns change nothing.
    pub fn evolve(mut self, event: &Event) -> Provisioning {
        match event {
            Event::ScimEnabled { default_role } => {
                self.scim_enabled = true;
                self.default_role.clone_from(default_role);
            }
            Event::ScimDisabled {} => self.scim_enabled = false,
            Event::DefaultRoleChanged { role } => self.default_role.clone_from(role),
            Event::RoleAdded { role } => self.custom_roles.push(role.clone()),
            _ => {}
        }
        self
    }

    /// Every role, built-in first.
    pub fn roles(&self) -> Vec<String> {
        BUILT_IN_ROLES
            .iter()
            .map(|role| (*role).to_owned())
            .chain(self.custom_roles.iter().cloned())
            .collect()
    }

    fn has_role(&self, role: &str) -> bool {
        BUILT_IN_ROLES.contains(&role) || self.custom_roles.iter().any(|custom| custom == role)
    }
}

/// The organization's settings, folded from its stream.
pub fn of<'a>(stream: impl IntoIterator<Item = &'a StoredEvent>) -> Provisioning {
    stream
        .into_iter()
        .fold(Provisioning::default(), |state, stored| {
            state.evolve(&stored.event)
        })
}

/// What an owner asks of the settings; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingsChange {
    pub scim_enabled: Option<bool>,
    pub default_role: Option<String>,
}

/// The events that apply `change` (none when it changes nothing).
pub fn change_settings(
    state: &Provisioning,
    change: &SettingsChange,
) -> Result<Vec<Event>, Refusal> {
    let role = change.default_role.as_deref().map(str::trim);
    if let Some(role) = role {
        if role == OWNER {
            return Err(Refusal::invalid(
                "the default role cannot be owner: an identity provider would then make owners; \
                 pick member, auditor or a custom role",
            ));
        }
        if !state.has_role(role) {
            return Err(Refusal::invalid(format!(
                "the organization has no role {role:?}; its roles are {}",
                state.roles().join(", ")
            )));
        }
    }
    let mut events = Vec::new();
    let role_changes = role.is_some_and(|role| role != state.default_role);
    match change.scim_enabled {
        Some(true) if !state.scim_enabled => {
            let default_role = role.unwrap_or(if state.default_role.is_empty() {
                crate::organization::DEFAULT_ROLE
            } else {
                &state.default_role
            });
            events.push(Event::ScimEnabled {
                default_role: default_role.to_owned(),
            });
            return Ok(events);
        }
        Some(false) if state.scim_enabled => events.push(Event::ScimDisabled {}),
        _ => {}
    }
    if let (true, Some(role)) = (role_changes, role) {
        events.push(Event::DefaultRoleChanged {
            role: role.to_owned(),
        });
    }
    Ok(events)
}

/// The event that adds the custom role `name`.
pub fn add_role(state: &Provisioning, name: &str) -> Result<Event, Refusal> {
    let role = name.trim();
    let well_formed = !role.is_empty()
        && role.len() <= 64
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !well_formed {
        return Err(Refusal::invalid(format!(
            "a role name is 1 to 64 lowercase letters, digits, '-' or '_', not {name:?}"
        )));
    }
    if state.has_role(role) {
        return Err(Refusal::conflict(format!(
            "the organization already has a role {role:?}"
        )));
    }
    if state.custom_roles.len() >= MAX_CUSTOM_ROLES {
        return Err(Refusal::conflict(format!(
            "the organization already has {MAX_CUSTOM_ROLES} custom roles, the most it may have"
        )));
    }
    Ok(Event::RoleAdded {
        role: role.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RefusalCode;

    fn given(events: &[Event]) -> Provisioning {
        events
            .iter()
            .fold(Provisioning::default(), |state, event| state.evolve(event))
    }

    fn enabled() -> Provisioning {
        given(&[Event::ScimEnabled {
            default_role: "member".into(),
        }])
    }

    #[test]
    fn the_default_role_is_never_owner_and_must_exist() {
        for role in ["owner", " owner "] {
            let refused = change_settings(
                &enabled(),
                &SettingsChange {
                    default_role: Some(role.into()),
                    ..SettingsChange::default()
                },
            )
            .unwrap_err();
            assert_eq!(refused.code, RefusalCode::Invalid);
            assert!(
                refused.message.contains("cannot be owner"),
                "{}",
                refused.message
            );
        }
        let refused = change_settings(
            &enabled(),
            &SettingsChange {
                default_role: Some("engineer".into()),
                ..SettingsChange::default()
            },
        )
        .unwrap_err();
        assert!(
            refused.message.contains("owner, member, auditor"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn a_custom_role_can_become_the_default() {
        let state = enabled();
        let added = add_role(&state, "engineer").unwrap();
        let state = state.evolve(&added);
        let events = change_settings(
            &state,
            &SettingsChange {
                default_role: Some("engineer".into()),
                ..SettingsChange::default()
            },
        )
        .unwrap();
        assert_eq!(
            events,
            [Event::DefaultRoleChanged {
                role: "engineer".into()
            }]
        );
        assert_eq!(state.evolve(&events[0]).default_role, "engineer");
    }

    #[test]
    fn turning_scim_off_and_on_keeps_the_default_role() {
        let off = change_settings(
            &enabled(),
            &SettingsChange {
                scim_enabled: Some(false),
                ..SettingsChange::default()
            },
        )
        .unwrap();
        assert_eq!(off, [Event::ScimDisabled {}]);
        let state = enabled().evolve(&off[0]);
        assert!(!state.scim_enabled);
        let on = change_settings(
            &state,
            &SettingsChange {
                scim_enabled: Some(true),
                ..SettingsChange::default()
            },
        )
        .unwrap();
        assert_eq!(
            on,
            [Event::ScimEnabled {
                default_role: "member".into()
            }]
        );
    }

    #[test]
    fn asking_for_what_is_already_so_changes_nothing() {
        let same = SettingsChange {
            scim_enabled: Some(true),
            default_role: Some("member".into()),
        };
        assert_eq!(change_settings(&enabled(), &same).unwrap(), []);
    }

    #[test]
    fn role_names_are_checked_and_unique() {
        let state = enabled();
        assert_eq!(
            add_role(&state, "Bad Name").unwrap_err().code,
            RefusalCode::Invalid
        );
        assert_eq!(
            add_role(&state, "auditor").unwrap_err().code,
            RefusalCode::Conflict
        );
        let added = add_role(&state, "ops").unwrap();
        let state = state.evolve(&added);
        assert_eq!(
            add_role(&state, "ops").unwrap_err().code,
            RefusalCode::Conflict
        );
        assert_eq!(state.roles(), ["owner", "member", "auditor", "ops"]);
    }
}
