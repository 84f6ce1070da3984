//! The memberships the linker added with their locks settled
//! (`admin::linking::SettledMembership`), kept until the linker has passed
//! their `MemberAdded`: its pass reads past it (`store::read_types_after`
//! skips the first event of their streams), so that it is neither read,
//! opened, read ahead for nor followed. Following it would decide nothing.
//! Kept in memory only: a linker that restarts, or a replica that takes
//! over, follows those events, which is the same work done for nothing.

use std::collections::HashMap;

use admin::linking::SettledMembership;
use uuid::Uuid;

/// See the module's documentation.
#[derive(Debug, Default)]
pub struct SettledMemberships {
    /// Each membership `(org_id, account_id)` with a position its
    /// `MemberAdded` is at or before, once a pass began after the one that
    /// added it (`None` until then).
    added: HashMap<(Uuid, Uuid), Option<i64>>,
}

impl SettledMemberships {
    /// A pass begins at the log's `head`: what the earlier passes added was
    /// appended before it, so its `MemberAdded` is at or before `head`.
    pub fn begin_pass(&mut self, head: i64) {
        for bound in self.added.values_mut() {
            bound.get_or_insert(head);
        }
    }

    /// The membership streams whose first event, their `MemberAdded`, the
    /// pass skips: (organization id, account id).
    pub fn streams(&self) -> Vec<(Uuid, Uuid)> {
        self.added.keys().copied().collect()
    }

    /// Keeps `settled`, added in the pass now running.
    pub fn add(&mut self, settled: SettledMembership) {
        self.added
            .insert((settled.org_id, settled.account_id), None);
    }

    /// The linker has followed the log through `position`: forgets the
    /// memberships whose `MemberAdded` it has passed.
    pub fn passed(&mut self, position: i64) {
        self.added
            .retain(|_, bound| bound.is_none_or(|bound| bound > position));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settled(account: u128) -> SettledMembership {
        SettledMembership {
            org_id: Uuid::from_u128(1),
            account_id: Uuid::from_u128(account),
        }
    }

    fn kept(memberships: &SettledMemberships) -> Vec<u128> {
        let mut accounts: Vec<u128> = memberships
            .streams()
            .iter()
            .map(|(_, account)| account.as_u128())
            .collect();
        accounts.sort_unstable();
        accounts
    }

    #[test]
    fn a_membership_is_kept_until_the_linker_passed_the_head_of_the_next_pass() {
        let mut memberships = SettledMemberships::default();
        memberships.begin_pass(100);
        memberships.add(settled(2));
        memberships.passed(100);
        assert_eq!(kept(&memberships), [2], "added after the pass's head");
        memberships.begin_pass(150);
        memberships.add(settled(3));
        memberships.passed(140);
        assert_eq!(
            kept(&memberships),
            [2, 3],
            "its MemberAdded may be at 141..=150"
        );
        memberships.begin_pass(200);
        memberships.passed(150);
        assert_eq!(kept(&memberships), [3]);
        memberships.passed(200);
        assert!(kept(&memberships).is_empty());
    }
}
