-- Filters on users are evaluated by PostgreSQL (crates/store/src/user_filter.rs).
--
-- `resource` keeps the client's exact text and key spelling; attribute names
-- are case-insensitive (RFC 7643 §2.1), so filters read `doc` instead: the same
-- resource as jsonb with every object key lower-cased, at every depth. Values
-- are untouched. When two keys fold to the same name the later one wins.

create function scim_fold_keys(value jsonb) returns jsonb
language sql immutable strict parallel safe as $$
    select case jsonb_typeof(value)
        when 'object' then coalesce(
            (select jsonb_object_agg(lower(e.key), scim_fold_keys(e.value))
               from jsonb_each(value) as e),
            '{}'::jsonb)
        when 'array' then coalesce(
            (select jsonb_agg(scim_fold_keys(a.element) order by a.ordinal)
               from jsonb_array_elements(value) with ordinality as a(element, ordinal)),
            '[]'::jsonb)
        else value
    end
$$;

-- The lower-cased values of the `work` emails of a folded resource: what
-- `emails[type eq "work"].value eq "x"` (Entra's matching filter) compares.
create function scim_work_emails(doc jsonb) returns text[]
language sql immutable strict parallel safe as $$
    select coalesce(array_agg(lower(e.element ->> 'value')), '{}')
      from jsonb_array_elements(case jsonb_typeof(doc -> 'emails')
               when 'array' then doc -> 'emails'
               when 'object' then jsonb_build_array(doc -> 'emails')
               else '[]'::jsonb
           end) as e(element)
     where lower(e.element ->> 'type') = 'work'
       and jsonb_typeof(e.element -> 'value') = 'string'
$$;

alter table scim_users
    add column doc jsonb generated always as (scim_fold_keys(resource::jsonb)) stored;

-- `emails[type eq "work"].value eq`: GIN over the work addresses (a btree
-- cannot index an array; org_id is checked on the few rows found).
create index scim_users_work_emails on scim_users using gin (scim_work_emails(doc));

-- `userName sw`: a prefix LIKE needs pattern ops under a non-C collation.
create index scim_users_user_name_prefix
    on scim_users (org_id, lower(user_name) text_pattern_ops);
