-- SCIM Groups (crates/domain/src/group.rs) and their memberships.
--
-- A group's attributes and its members are kept apart: membership changes
-- are their own events carrying only the members that changed, and the
-- projector applies them as set operations on scim_group_members, so a
-- PATCH costs what it changes, never the group's size.

create table scim_groups (
    org_id       uuid        not null,
    group_id     uuid        not null,
    display_name text        not null,
    external_id  text,
    -- The resource as the client sent it, without `members`.
    resource     json        not null,
    -- The same with keys folded to lower case, for filters (as scim_users.doc).
    doc          jsonb       not null,
    version      bigint      not null,
    created_at   timestamptz not null,
    updated_at   timestamptz not null,
    primary key (org_id, group_id)
);
create index scim_groups_display_name on scim_groups (org_id, lower(display_name));
create index scim_groups_external_id on scim_groups (org_id, external_id);

create table scim_group_members (
    org_id      uuid not null,
    group_id    uuid not null,
    member_id   uuid not null,
    member_type text not null check (member_type in ('User', 'Group')),
    -- The `display` the client sent with the member, as sent.
    display     text,
    primary key (org_id, group_id, member_id)
);
-- A user's groups, and the memberships a deleted user or group leaves.
create index scim_group_members_member on scim_group_members (org_id, member_id);

-- The write path decides a group change on the group's attribute events
-- only; its member events may be many and do not bear on the decision.
create index events_group_attributes on events (org_id, stream_id, stream_version)
    where event_type in ('GroupCreated', 'GroupUpdated', 'GroupDeleted');

grant select, insert, update, delete on scim_groups, scim_group_members to rollcall_app;
