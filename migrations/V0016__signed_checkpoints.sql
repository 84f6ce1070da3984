-- Signed checkpoints (docs/audit-integrity.md): an organization's chain head
-- at an instant, signed with the operator's Ed25519 key, recorded by the
-- reaper every hour (when the head moved) and by `rollcall audit checkpoint`.
-- They are statements about the log, not events in it: recording one must
-- not move the head it signs. Like the log, rows are never changed.
create table signed_checkpoints (
    org_id        uuid        not null,
    -- The organization's name when signed (it is signed too).
    org_name      text        not null,
    head_position bigint      not null,
    event_count   bigint      not null,
    head_hash     bytea       not null,
    signed_at     timestamptz not null,
    key_id        text        not null,
    public_key    bytea       not null,
    signature     bytea       not null,
    primary key (org_id, signed_at, key_id)
);

create trigger signed_checkpoints_append_only
    before update or delete or truncate on signed_checkpoints
    for each statement execute function refuse_change();

grant select, insert on signed_checkpoints to rollcall_app;
