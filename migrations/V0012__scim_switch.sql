-- Whether an organization's SCIM provisioning is on (crates/domain/src/provisioning.rs):
-- set in the same transaction as ScimEnabled / ScimDisabled, so the API's
-- token check and the log cannot disagree. scim_changed_at lets each API
-- process forget the cached tokens of an organization that was switched.
-- (V0011 is the verified domains' registry.)
alter table organizations
    add column scim_enabled    boolean     not null default true,
    add column scim_changed_at timestamptz;
