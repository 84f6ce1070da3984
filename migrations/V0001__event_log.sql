-- The event log: the only source of truth. Rows are immutable (see the trigger
-- below); positions are assigned by the appender under the log_head row lock,
-- so they are gap-free and become visible in commit order.
create table events (
    position        bigint      not null primary key,
    org_id          uuid        not null,
    stream_id       uuid        not null,
    stream_version  bigint      not null,
    event_type      text        not null,
    schema_version  integer     not null,
    -- json (not jsonb) keeps the exact text that the hash chain covers.
    payload         json        not null,
    metadata        json        not null,
    recorded_at     timestamptz not null,
    prev_hash       bytea       not null,
    hash            bytea       not null,
    unique (org_id, stream_id, stream_version)
);
create index events_org_position on events (org_id, position);

-- One row: the last assigned position. Locking it serialises appenders.
create table log_head (
    id            smallint not null primary key check (id = 1),
    last_position bigint   not null
);
insert into log_head (id, last_position) values (1, 0);

-- The end of each organisation's hash chain.
create table chain_heads (
    org_id        uuid   not null primary key,
    last_position bigint not null,
    last_hash     bytea  not null
);

-- Current version of every stream, checked by the append that extends it.
create table streams (
    org_id    uuid   not null,
    stream_id uuid   not null,
    version   bigint not null,
    primary key (org_id, stream_id)
);

-- Values that must stay unique within an organisation (userName case-folded,
-- externalId exact), claimed in the append transaction so that uniqueness
-- holds while the read tables lag behind.
create table unique_claims (
    org_id uuid not null,
    kind   text not null,
    key    text not null,
    owner  uuid not null,
    primary key (org_id, kind, key)
);

-- Organisations by name; written in the append that records their creation.
create table organizations (
    org_id     uuid        not null primary key,
    name       text        not null unique,
    created_at timestamptz not null
);

-- SCIM bearer tokens, stored only as SHA-256 digests.
create table scim_tokens (
    org_id       uuid        not null,
    token_id     uuid        not null,
    token_sha256 bytea       not null unique,
    issued_at    timestamptz not null,
    expires_at   timestamptz not null,
    primary key (org_id, token_id)
);

-- Every request that changed nothing (reads, rejections, 401s): the other
-- half of the complete request record. Append-only like the event log.
create table access_log (
    id          bigserial   not null primary key,
    org_id      uuid,
    recorded_at timestamptz not null,
    request_id  uuid        not null,
    method      text        not null,
    path        text        not null,
    token_id    uuid,
    client_addr text,
    user_agent  text,
    status      integer     not null,
    body_sha256 text,
    detail      text
);
create index access_log_org_time on access_log (org_id, recorded_at);

create function refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'rollcall: % is append-only; % refused', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end
$$;
create trigger events_append_only before update or delete or truncate on events
    for each statement execute function refuse_change();
create trigger access_log_append_only before update or delete or truncate on access_log
    for each statement execute function refuse_change();

-- Positions consumers have reached ('relay' publishes, 'projector' folds).
create table checkpoints (
    name     text   not null primary key,
    position bigint not null
);
insert into checkpoints (name, position) values ('relay', 0), ('projector', 0);

-- Read table: the organisation's SCIM users as the projector folds them.
create table scim_users (
    org_id      uuid        not null,
    user_id     uuid        not null,
    user_name   text        not null,
    external_id text,
    active      boolean     not null,
    resource    json        not null,
    version     bigint      not null,
    created_at  timestamptz not null,
    updated_at  timestamptz not null,
    primary key (org_id, user_id)
);
create index scim_users_user_name on scim_users (org_id, lower(user_name));
create index scim_users_external_id on scim_users (org_id, external_id);
