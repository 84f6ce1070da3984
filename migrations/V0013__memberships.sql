-- The write side of accounts and memberships (crates/domain/src/account.rs,
-- membership.rs): rows are written only inside appends, in the transaction
-- of the events that say so, so the rules that read them (who is an owner,
-- what a member may do on their own) never disagree with the log. The log
-- stays the record: these tables can be rebuilt from it.

-- Accounts as their streams (the accounts keyspace) say: for listing members
-- and logging in by email without reading every account's stream.
create table accounts (
    account_id  uuid        not null primary key,
    email       text        not null,
    first_name  text,
    family_name text,
    changed_at  timestamptz not null
);

-- One row per (organization, account) that ever was a membership.
create table memberships (
    org_id        uuid        not null,
    account_id    uuid        not null,
    role          text        not null,
    source        text        not null check (source in ('scim', 'manual')),
    state         text        not null check (state in ('active', 'suspended', 'removed')),
    -- The SCIM user this membership came from, and the version of that
    -- user's stream the membership last followed (the linker's progress).
    entry_id      uuid,
    entry_version bigint      not null default 0,
    changed_at    timestamptz not null,
    primary key (org_id, account_id)
);
create index memberships_entry on memberships (org_id, entry_id) where entry_id is not null;
create index memberships_account on memberships (account_id);

-- What each organization's identity provider holds of an account
-- ('leave', 'email', 'password'); no row: nothing.
create table account_locks (
    account_id uuid        not null,
    org_id     uuid        not null,
    locks      text[]      not null,
    changed_at timestamptz not null,
    primary key (account_id, org_id)
);

-- Group -> role mappings: members of the group (direct or nested) hold the
-- role besides their own.
create table role_groups (
    org_id   uuid not null,
    role     text not null,
    group_id uuid not null,
    primary key (org_id, role, group_id)
);

-- An organization is never left without an active owner, whatever races:
-- a change that takes an active owner away locks the organization's row
-- (so two such changes take turns) and then looks for another active owner.
-- Checked at commit; the append path reports SQLSTATE RC001 as "assign
-- another owner first".
create function memberships_keep_an_owner() returns trigger
language plpgsql as $$
begin
    perform 1 from organizations where org_id = new.org_id for update;
    if not exists (
        select 1 from memberships
        where org_id = new.org_id and role = 'owner' and state = 'active'
    ) then
        raise exception 'organization % would be left without an active owner', new.org_id
            using errcode = 'RC001';
    end if;
    return null;
end
$$;

create constraint trigger memberships_keep_an_owner
    after update on memberships
    deferrable initially deferred
    for each row
    when (old.role = 'owner' and old.state = 'active'
          and not (new.role = 'owner' and new.state = 'active'))
    execute function memberships_keep_an_owner();

-- The linker's position in the log (checkpoints holds the projector's).
insert into checkpoints (name, position) values ('linker', 0) on conflict do nothing;

-- Accounts and owners recorded before this migration.
insert into accounts (account_id, email, first_name, family_name, changed_at)
select stream_id, payload->>'email', payload->>'first_name', payload->>'family_name', recorded_at
from events
where org_id = '00000000-0000-0000-0000-000000000000' and event_type = 'AccountCreated'
on conflict do nothing;

insert into memberships (org_id, account_id, role, source, state, changed_at)
select org_id, (payload->>'account_id')::uuid, 'owner', 'manual', 'active', recorded_at
from events
where event_type = 'OwnerAdded'
on conflict do nothing;

grant select, insert, update, delete on accounts, memberships, account_locks, role_groups
    to rollcall_app;
