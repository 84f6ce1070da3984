-- Read your writes across API processes (DESIGN.md guarantee 8, issue 13).
-- A write is answered as soon as it is in the log; the token's later reads
-- wait until the read tables hold its last write. The append transaction
-- moves this row with the events, so any API process, whichever appended,
-- finds the position a read must wait for. One row per SCIM token that ever
-- wrote; a batch moves each of its tokens' rows once.
create table token_write_positions (
    token_id uuid primary key,
    org_id uuid not null,
    position bigint not null
);

grant select, insert, update on token_write_positions to rollcall_app;
