//! The memberships the linker added with their locks settled
//! (`admin::linking::SettledMembership`), kept until their `MemberAdded`
//! comes by in a later pass, so that the pass goes past it without opening,
//! reading ahead for or following it: following it would decide nothing.
//! Kept in memory only: a linker that restarts, or a replica that takes
//! over, follows those events, which is the same work done for nothing.

use std::collections::HashMap;

use admin::linking::SettledMembership;
use store::LogRow;
use uuid::Uuid;

/// See the module's documentation.
#[derive(Debug, Default)]
pub struct SettledMemberships {
    /// Each membership `(org_id, account_id)` with the pass that added it.
    added: HashMap<(Uuid, Uuid), u64>,
    /// The pass now running, counted from 1.
    pass: u64,
}

impl SettledMemberships {
    /// Counts a new pass.
    pub fn begin_pass(&mut self) {
        self.pass += 1;
    }

    /// Whether `row` is the `MemberAdded` that made a settled membership.
    /// The membership is forgotten once it came by, so a later
    /// `MemberAdded` of it (after a removal) is followed.
    pub fn goes_past(&mut self, row: &LogRow) -> bool {
        // The membership's stream is the account's id in the organization's
        // keyspace, and a membership added anew starts it.
        row.event_type == "MemberAdded"
            && row.stream_version == 1
            && self.added.remove(&(row.org_id, row.stream_id)).is_some()
    }

    /// Keeps `settled`, added in this pass.
    pub fn add(&mut self, settled: SettledMembership) {
        self.added
            .insert((settled.org_id, settled.account_id), self.pass);
    }

    /// After a pass that read up to the head it began at: every event the
    /// earlier passes appended came by in it, so what they added and did not
    /// come by (an append that failed) never will.
    pub fn forget_earlier_passes(&mut self) {
        let pass = self.pass;
        self.added.retain(|_, added| *added >= pass);
    }

    /// How many memberships are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.added.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(event_type: &str, (org_id, stream_id): (Uuid, Uuid), stream_version: i64) -> LogRow {
        LogRow {
            position: 1,
            org_id,
            stream_id,
            stream_version,
            event_type: event_type.into(),
            schema_version: 1,
            payload: "{}".into(),
            metadata: "{}".into(),
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            prev_hash: Vec::new(),
            hash: Vec::new(),
            keys: Default::default(),
        }
    }

    fn settled(org_id: Uuid, account_id: Uuid) -> SettledMembership {
        SettledMembership { org_id, account_id }
    }

    #[test]
    fn only_the_first_member_added_of_a_settled_membership_is_gone_past() {
        let (org, account, other) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut kept = SettledMemberships::default();
        kept.begin_pass();
        kept.add(settled(org, account));
        kept.begin_pass();
        assert!(
            !kept.goes_past(&row("MemberAdded", (org, other), 1)),
            "another membership"
        );
        assert!(
            !kept.goes_past(&row("MemberSuspended", (org, account), 1)),
            "another event"
        );
        assert!(
            !kept.goes_past(&row("MemberAdded", (org, account), 3)),
            "added again later"
        );
        assert!(
            !kept.goes_past(&row("MemberAdded", (other, account), 1)),
            "another organization"
        );
        assert!(kept.goes_past(&row("MemberAdded", (org, account), 1)));
        assert!(
            !kept.goes_past(&row("MemberAdded", (org, account), 1)),
            "read again after a failed pass, it is followed"
        );
    }

    #[test]
    fn a_pass_through_the_head_forgets_what_earlier_passes_added_and_never_came_by() {
        let org = Uuid::from_u128(1);
        let mut kept = SettledMemberships::default();
        kept.begin_pass();
        kept.add(settled(org, Uuid::from_u128(2)));
        kept.begin_pass();
        kept.add(settled(org, Uuid::from_u128(3)));
        kept.forget_earlier_passes();
        assert_eq!(kept.len(), 1, "the second pass's is kept");
        assert!(kept.goes_past(&row("MemberAdded", (org, Uuid::from_u128(3)), 1)));
    }
}
