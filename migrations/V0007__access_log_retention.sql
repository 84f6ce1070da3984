-- The access log gets a retention, and refused requests stop costing a row
-- each (README, "Access log: limits, refusals and retention").
--
-- access_log is now partitioned by month of recorded_at. Its rows still can
-- never change: the parent and every partition refuse UPDATE, DELETE and
-- TRUNCATE (refuse_change, V0001). The one way out is `rollcall access-log
-- drop-before`, which detaches and drops whole months older than the current
-- one, as the tables' owner (rollcall_app owns nothing and cannot), and
-- records the drop as events in the log.
--
-- access_refusals holds requests refused before they named an organization
-- (no token, an unknown or an expired one): one row per minute, reason and
-- client address with how many there were and how many of them were kept
-- whole, as samples, in access_log. Append-only and partitioned the same way.

alter table access_log rename to access_log_unpartitioned;
alter table access_log_unpartitioned rename constraint access_log_pkey to access_log_unpartitioned_pkey;
alter index access_log_org_time rename to access_log_unpartitioned_org_time;
alter sequence access_log_id_seq owned by none;

create table access_log (
    id          bigint      not null default nextval('access_log_id_seq'),
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
    detail      text,
    primary key (id, recorded_at)
) partition by range (recorded_at);
alter sequence access_log_id_seq owned by access_log.id;
create index access_log_org_time on access_log (org_id, recorded_at);
create trigger access_log_append_only before update or delete or truncate on access_log
    for each statement execute function refuse_change();

create table access_refusals (
    -- The minute the requests arrived in.
    interval_start timestamptz not null,
    -- 'missing', 'unknown' or 'expired' token, or 'unavailable' (the token
    -- could not be checked).
    reason         text        not null,
    -- NULL: addresses past the per-minute cap of distinct sources.
    client_addr    text,
    requests       bigint      not null,
    -- How many of these requests have a whole row (a sample) in access_log.
    sampled        bigint      not null
) partition by range (interval_start);
create index access_refusals_time on access_refusals (interval_start);
create trigger access_refusals_append_only before update or delete or truncate on access_refusals
    for each statement execute function refuse_change();

-- Creates the monthly partitions of access_log and access_refusals for the
-- month of `at` and `months_ahead` months after it, each append-only like
-- its parent. Runs as the owner, so that rollcall_app may call it and still
-- create, alter or drop nothing else.
create function access_log_ensure_partitions(at timestamptz, months_ahead integer)
returns void language plpgsql security definer set search_path = public as $$
declare
    first_month timestamp := date_trunc('month', at at time zone 'UTC');
    month       timestamp;
    parent      text;
    partition   text;
begin
    -- Two processes creating the same month take turns.
    perform pg_advisory_xact_lock(7263766101);
    for step in 0..months_ahead loop
        month := first_month + make_interval(months => step);
        foreach parent in array array['access_log', 'access_refusals'] loop
            partition := format('%s_%s', parent, to_char(month, 'YYYY_MM'));
            if to_regclass(partition) is null then
                execute format(
                    'create table %I partition of %I for values from (%L) to (%L)',
                    partition, parent,
                    month at time zone 'UTC',
                    (month + interval '1 month') at time zone 'UTC');
                execute format(
                    'create trigger %I before update or delete or truncate on %I '
                    'for each statement execute function refuse_change()',
                    partition || '_append_only', partition);
            end if;
        end loop;
    end loop;
end
$$;
revoke all on function access_log_ensure_partitions(timestamptz, integer) from public;

-- Existing rows move into their months' partitions.
select access_log_ensure_partitions(month, 0)
from (select distinct date_trunc('month', recorded_at at time zone 'UTC') at time zone 'UTC' as month
      from access_log_unpartitioned) as months;
select access_log_ensure_partitions(now(), 2);
insert into access_log (id, org_id, recorded_at, request_id, method, path, token_id,
                        client_addr, user_agent, status, body_sha256, detail)
select id, org_id, recorded_at, request_id, method, path, token_id,
       client_addr, user_agent, status, body_sha256, detail
from access_log_unpartitioned;
drop table access_log_unpartitioned;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'rollcall_app') then
        grant select, insert on access_log, access_refusals to rollcall_app;
        grant usage on sequence access_log_id_seq to rollcall_app;
        grant execute on function access_log_ensure_partitions(timestamptz, integer) to rollcall_app;
    end if;
end
$$;
