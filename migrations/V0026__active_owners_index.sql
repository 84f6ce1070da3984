-- Counting an organization's active owners (store::ACTIVE_OWNERS_STATEMENT,
-- and V0013's trigger that keeps one) read every membership of the
-- organization: the linker counts them for each SCIM user it links, so
-- provisioning the n-th member cost O(n), quadratic over a directory
-- (issue 13: 1.7 ms a user at 17,000 members, more than half of
-- PostgreSQL's time during a provisioning burst). A partial index holds the
-- active owners only: members, nearly every row, add no entry to it.
create index memberships_active_owners on memberships (org_id)
    where role = 'owner' and state = 'active';
