-- The GIN index of V0009 (`scim_users_work_emails`) computes
-- scim_digests(work_emails_folded) for every row the projector writes. As a
-- SQL function with a FROM clause and an aggregate it cannot be inlined, so
-- PostgreSQL parsed, planned and ran it anew for each insert statement: about
-- 5% of PostgreSQL's CPU per SCIM create (docs/perf/README.md). PL/pgSQL
-- keeps its plan for the session. Same results for every input (order,
-- nulls, the empty array), so the index stays valid without a rebuild and
-- the filters that name the expression still use it.
create or replace function scim_digests(keys text[]) returns text[]
    language plpgsql immutable strict parallel safe
    as $$
declare
    digests text[] := '{}';
    k text;
begin
    foreach k in array keys loop
        digests := digests || md5(k);
    end loop;
    return digests;
end
$$;
