//! Which of its organization's unique values a write takes and which it gives
//! up: the claims and releases an append carries, for users and groups alike.
//!
//! Each aggregate says which of its values are unique (`user::unique_keys`,
//! `group::unique_keys`); the difference between the values before and after
//! a decision is the same rule for every resource, so it lives here once.

use crate::resource::UniqueKey;

/// What one write does to its organization's unique values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyChanges {
    /// Values the resource holds after the write and did not before.
    pub claims: Vec<UniqueKey>,
    /// Values the resource held before the write and no longer does.
    pub releases: Vec<UniqueKey>,
}

/// The values in `after` but not in `before` (to claim) and in `before` but
/// not in `after` (to release). A value kept is neither: it stays claimed.
pub fn key_changes(before: &[UniqueKey], after: &[UniqueKey]) -> KeyChanges {
    let missing_from = |keys: &[UniqueKey], from: &[UniqueKey]| -> Vec<UniqueKey> {
        keys.iter()
            .filter(|key| !from.contains(key))
            .cloned()
            .collect()
    };
    KeyChanges {
        claims: missing_from(after, before),
        releases: missing_from(before, after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &'static str, key: &str) -> UniqueKey {
        UniqueKey {
            kind,
            key: key.into(),
        }
    }

    #[test]
    fn a_write_claims_what_it_gains_and_releases_what_it_drops() {
        let before = [key("userName", "ada"), key("externalId", "1")];
        let after = [key("userName", "grace"), key("externalId", "1")];
        assert_eq!(
            key_changes(&before, &after),
            KeyChanges {
                claims: vec![key("userName", "grace")],
                releases: vec![key("userName", "ada")],
            }
        );
    }

    #[test]
    fn creating_claims_everything_deleting_releases_everything_keeping_changes_nothing() {
        let keys = [key("groupDisplayName", "ops")];
        assert_eq!(key_changes(&[], &keys).claims, keys);
        assert_eq!(key_changes(&keys, &[]).releases, keys);
        assert_eq!(key_changes(&keys, &keys), KeyChanges::default());
    }
}
