-- Privacy without breaking the chain (docs/audit-privacy.md).
--
-- Personal values in events are sealed at append with a key per person
-- (crates/domain/src/erasable.rs): a SCIM user's key is (its organization,
-- its id), an account's is (the nil id, the account's id). Erasing a person
-- destroys the key: the row stays as a tombstone (key null), so that no new
-- key is ever made for them and their sealed values read "[erased]" for good.
create table personal_keys (
    org_id     uuid        not null,
    subject_id uuid        not null,
    key        bytea,
    erased_at  timestamptz,
    primary key (org_id, subject_id),
    check ((key is null) = (erased_at is not null)),
    check (key is null or length(key) = 32)
);

-- The access log is append-only (V0001, V0007), and its path and detail
-- columns hold what clients sent, such as a filter on a person's email. An
-- erasure must reach them too, and nothing else may change them: the one way
-- is access_log_redact(), run as the tables' owner. It raises a setting for
-- its own transaction that lets refuse_change() pass its UPDATE, and a row
-- trigger makes sure that such an UPDATE changes path and detail only.
-- rollcall_app still has no UPDATE grant on access_log: raising the setting
-- itself gets it nothing.
create or replace function refuse_change() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE'
       and tg_table_name ~ '^access_log(_[0-9]{4}_[0-9]{2})?$'
       and current_setting('rollcall.redacting', true) = 'on' then
        return null;
    end if;
    raise exception 'rollcall: % is append-only; % refused', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end
$$;

create function access_log_redaction_only() returns trigger language plpgsql as $$
begin
    if (to_jsonb(new) - 'path' - 'detail') is distinct from (to_jsonb(old) - 'path' - 'detail') then
        raise exception 'rollcall: an erasure may change only the path and detail of access_log rows'
            using errcode = 'insufficient_privilege';
    end if;
    return new;
end
$$;
create trigger access_log_redaction_only before update on access_log
    for each row execute function access_log_redaction_only();

-- Replaces every match of `patterns` (case-insensitive regular expressions,
-- each one literal text escaped by the caller) in organization `org`'s access
-- records with "[erased]"; returns how many rows changed.
create function access_log_redact(org uuid, patterns text[]) returns bigint
language plpgsql security definer set search_path = public as $$
declare
    pattern  text;
    changed  bigint;
    redacted bigint := 0;
begin
    perform set_config('rollcall.redacting', 'on', true);
    foreach pattern in array patterns loop
        update access_log
           set path = regexp_replace(path, pattern, '[erased]', 'gi'),
               detail = regexp_replace(detail, pattern, '[erased]', 'gi')
         where org_id = org and (path ~* pattern or detail ~* pattern);
        get diagnostics changed = row_count;
        redacted := redacted + changed;
    end loop;
    perform set_config('rollcall.redacting', 'off', true);
    return redacted;
end
$$;
revoke all on function access_log_redact(uuid, text[]) from public;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'rollcall_app') then
        grant select, insert, update on personal_keys to rollcall_app;
        grant execute on function access_log_redact(uuid, text[]) to rollcall_app;
    end if;
end
$$;
