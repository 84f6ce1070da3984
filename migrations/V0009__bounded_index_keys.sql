-- Every index over a value a client sends holds a bounded key: the first 256
-- characters, or an MD5 digest. A btree entry may not exceed about 2.7 KB,
-- and a row the projector cannot index stops the fold (issue 8: a 2.9 KB
-- work email wedged every organization). The API refuses longer values at
-- the door (`/Schemas` states each limit), so for every value it accepts the
-- key is the value itself; the bound is for what the door did not see: rows
-- written before the limits, and values the limits do not cover.
--
-- Queries look a value up by its key and then compare the whole value
-- (crates/store/src/filter_keys.rs says how), so a prefix or a digest shared
-- by two values costs a recheck, never a wrong answer.
--
-- 256 characters are at most 1,024 bytes in UTF-8: always indexable.

drop index scim_users_user_name;
drop index scim_users_user_name_prefix;
drop index scim_users_external_id;
drop index scim_users_work_emails;
drop index scim_groups_display_name;
drop index scim_groups_external_id;

-- `userName eq` and `userName sw` both: text_pattern_ops has `=` and the
-- range operators a prefix needs under a non-C collation.
create index scim_users_user_name
    on scim_users (org_id, left(user_name_folded, 256) text_pattern_ops);
create index scim_users_external_id on scim_users (org_id, left(external_id, 256));
create index scim_groups_display_name on scim_groups (org_id, left(display_name_folded, 256));
create index scim_groups_external_id on scim_groups (org_id, left(external_id, 256));

-- Entra's `emails[type eq "work"].value eq`: a GIN over the digests of the
-- folded work emails (a GIN entry has the same size limit as a btree's).
create function scim_digests(keys text[]) returns text[]
    language sql immutable strict parallel safe
    as $$ select coalesce(array_agg(md5(k)), '{}') from unnest(keys) as k $$;
create index scim_users_work_emails on scim_users using gin (scim_digests(work_emails_folded));
