-- Organizations whose read tables the projector holds back (docs/quarantine.md).
--
-- When an event cannot be folded (PostgreSQL refuses a row it would write, or
-- the fold finds the read tables in a state the log does not imply), the
-- projector records the organization here, with the position and the reason,
-- and moves its checkpoint past the event in the same transaction. From then
-- on it skips that organization's events and keeps folding every other
-- organization's; the API answers 503 for the organization, never stale data.
-- The row is the projector's own state, like its checkpoint: a rebuild of the
-- read tables starts without it. The log also holds a ProjectionQuarantined
-- event for each, for auditors.
create table projection_quarantine (
    org_id         uuid        not null primary key,
    position       bigint      not null,
    event_type     text        not null,
    reason         text        not null,
    quarantined_at timestamptz not null
);

grant select, insert, update, delete on projection_quarantine to rollcall_app;
