-- V0002 created rollcall_app as a role that may log in and has no password:
-- wherever pg_hba.conf trusts (or peer-maps) connections, anyone could then
-- connect as it, in every database of the cluster. V0002 cannot be changed
-- (deployments applied it), so this takes back the login of such a role.
-- A rollcall_app the operator gave a password keeps it and its login. The
-- operator lets the services in as README.md says ("Production"): a
-- password on rollcall_app, or login roles of their own that are members
-- of it. rollcall_app keeps every privilege V0002 and later migrations
-- grant it, and its members inherit them.
--
-- Only a superuser may read passwords (pg_authid); a schema owner that is
-- not one leaves the role as it is, and the README says to check it.
do $$
begin
    if exists (
        select 1 from pg_authid
        where rolname = 'rollcall_app' and rolcanlogin and rolpassword is null
    ) then
        alter role rollcall_app nologin;
    end if;
exception
    when insufficient_privilege then
        raise notice 'rollcall_app left as it is: only a superuser can tell whether it has a password';
end
$$;
