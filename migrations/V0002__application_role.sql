-- The role rollcall's services should connect as in production: it may read
-- and append to the log and the access log, never change or remove a row.
-- (The trigger in V0001 refuses it too; the grant makes it two locks.)
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'rollcall_app') then
        create role rollcall_app login;
    end if;
end
$$;

grant usage on schema public to rollcall_app;
grant select, insert on events, access_log to rollcall_app;
grant usage on sequence access_log_id_seq to rollcall_app;
grant select, insert, update, delete on log_head, chain_heads, streams, unique_claims,
    organizations, scim_tokens, checkpoints, scim_users to rollcall_app;
grant select on refinery_schema_history to rollcall_app;
