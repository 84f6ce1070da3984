-- The write side of an organization's verified email domains
-- (crates/domain/src/domains.rs): a row is inserted in the same transaction
-- as the DomainVerified event and deleted in the one of DomainDropped, so the
-- rules that ask "did this organization verify this account's email domain?"
-- never disagree with the log. Pending domains live in the log only.
create table verified_domains (
    org_id      uuid        not null,
    domain      text        not null,
    domain_id   uuid        not null,
    verified_at timestamptz not null,
    primary key (org_id, domain)
);

grant select, insert, update, delete on verified_domains to rollcall_app;
