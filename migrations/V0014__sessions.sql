-- Admin API sessions (crates/domain/src/session.rs): the write side of
-- SessionStarted / SessionEnded, written in the same transaction as the
-- event (store::Registration::Session, SessionEnded), so the API's check
-- and the log cannot disagree. A session's token is kept only as its
-- SHA-256 digest, like a SCIM token's. (V0013 is the memberships'.)
create table sessions (
    session_id uuid        primary key,
    account_id uuid        not null,
    sha256     bytea       not null unique,
    started_at timestamptz not null,
    expires_at timestamptz not null,
    ended_at   timestamptz
);

-- The reaper's question: the live sessions of an account started before an
-- instant (its membership's suspension or removal).
create index sessions_live_by_account on sessions (account_id, started_at)
    where ended_at is null;

grant select, insert, update, delete on sessions to rollcall_app;

-- When each SCIM token last opened a request, for owners' token lists: an
-- operational fact like the access log, not the log's, written by the API at
-- most once a minute per token (so it is at most that stale).
alter table scim_tokens add column last_used_at timestamptz;
