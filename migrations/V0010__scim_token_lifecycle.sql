-- The write side of a SCIM token's life (crates/domain/src/token.rs): an
-- owner revokes it, the reaper records its expiry. Both are set in the same
-- transaction as the event that says so (ScimTokenRevoked, ScimTokenExpired),
-- so the API's check and the log cannot disagree.
alter table scim_tokens
    add column revoked_at         timestamptz,
    add column expiry_recorded_at timestamptz;

-- The reaper's round: tokens whose end is not recorded yet, by expiry.
create index scim_tokens_open on scim_tokens (expires_at)
    where revoked_at is null and expiry_recorded_at is null;
