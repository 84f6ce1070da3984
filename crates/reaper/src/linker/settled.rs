//! The positions of the `MemberAdded` of memberships the linker added with
//! their locks settled (`admin::linking::SettledMembership`), kept until
//! the linker has passed them: its pass reads past them
//! (`store::read_types_after`), so that they are neither read, opened, read
//! ahead for nor followed. Following them would decide nothing. Kept in
//! memory only: a linker that restarts, or a replica that takes over,
//! follows those events, which is the same work done for nothing.

use std::collections::BTreeSet;

use admin::linking::SettledMembership;

/// See the module's documentation.
#[derive(Debug, Default)]
pub struct SettledMemberships {
    positions: BTreeSet<i64>,
}

impl SettledMemberships {
    /// The positions a pass over `(after, through]` skips.
    pub fn skipped_in(&self, (after, through): (i64, i64)) -> Vec<i64> {
        self.positions.range(after + 1..=through).copied().collect()
    }

    /// Keeps `settled`'s position.
    pub fn add(&mut self, settled: SettledMembership) {
        self.positions.insert(settled.member_added_at);
    }

    /// The linker has followed the log through `position`: forgets what it
    /// passed.
    pub fn passed(&mut self, position: i64) {
        self.positions = self.positions.split_off(&(position + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settled(member_added_at: i64) -> SettledMembership {
        SettledMembership { member_added_at }
    }

    #[test]
    fn a_pass_skips_the_positions_in_its_range_until_the_linker_passed_them() {
        let mut memberships = SettledMemberships::default();
        for position in [5, 10, 15] {
            memberships.add(settled(position));
        }
        assert_eq!(
            memberships.skipped_in((5, 15)),
            [10, 15],
            "after 5, through 15"
        );
        assert_eq!(memberships.skipped_in((0, 9)), [5]);
        memberships.passed(10);
        assert_eq!(memberships.skipped_in((0, 100)), [15]);
        memberships.passed(15);
        assert!(memberships.skipped_in((0, 100)).is_empty());
    }
}
