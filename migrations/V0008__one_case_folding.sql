-- One case folding for uniqueness, filters and sorting: scim::fold_case
-- (NFD, Unicode default full case folding, NFC). Until now claims were keyed
-- with Rust's to_lowercase (final sigma: ΣΑΣ -> σας) and filters compared
-- PostgreSQL's lower() (per character, by the database's ctype), which
-- disagree: two users could share a name, or a name could be taken and not
-- found.
--
-- PostgreSQL cannot compute the fold, so the projector writes it beside the
-- values it folds, and the indexes that served lower(...) now serve the
-- folded columns. Rows written before this migration have NULL there: the
-- migration step in Rust (crates/store/src/folding.rs, run by store::migrate
-- right after this file, under the same lock, before anything is served)
-- fills them from the row's own user_name, doc and display_name.

alter table scim_users
    add column user_name_folded text,
    -- fold_case of the `value` of every `emails` element whose `type` folds
    -- to "work": what Entra's `emails[type eq "work"].value eq` compares.
    add column work_emails_folded text[] not null default '{}';
alter table scim_groups add column display_name_folded text;

drop index scim_users_user_name;
drop index scim_users_user_name_prefix;
drop index scim_users_work_emails;
drop index scim_groups_display_name;
drop function scim_work_emails(jsonb);

create index scim_users_user_name on scim_users (org_id, user_name_folded);
-- `userName sw`: prefix ranges need pattern ops under a non-C collation.
create index scim_users_user_name_prefix
    on scim_users (org_id, user_name_folded text_pattern_ops);
-- A btree cannot index an array; org_id is checked on the few rows found.
create index scim_users_work_emails on scim_users using gin (work_emails_folded);
create index scim_groups_display_name on scim_groups (org_id, display_name_folded);

-- The userName and Group displayName claims made before this migration, keyed
-- by to_lowercase. The same Rust step re-keys each with fold_case (for every
-- character, fold_case of its lower case is its fold, so the old key is
-- enough) and removes it from here; a write never meets an old key, so a
-- release can never miss the claim it means to give up. Where two names
-- that were told apart before fold alike (σας and σασ), the claim already
-- under the folded key (else the first re-keyed) stays and the other is
-- dropped; both resources stay as they are. Old and new writers must not run
-- side by side across this migration: an old one would key by to_lowercase.
create table unique_claims_to_fold (
    org_id uuid not null,
    kind   text not null,
    key    text not null,
    primary key (org_id, kind, key)
);
insert into unique_claims_to_fold (org_id, kind, key)
    select org_id, kind, key from unique_claims
     where kind in ('userName', 'groupDisplayName');
