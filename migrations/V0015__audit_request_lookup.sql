-- The auditors' request lookup, "what did the identity provider send, and
-- what did we do?" (GET /api/v1/orgs/{org}/audit/requests/{id}, `rollcall
-- audit request`; docs/audit-log.md).
--
-- Access records now keep the request's headers as events' metadata does:
-- bounded in count and size, credentials redacted (domain::redaction); null
-- for records written before, and when a request had none worth keeping.
alter table access_log add column headers json;

-- A request is found by its id, among events (in their metadata) and access
-- records. One single-column btree index on each, nothing more: every
-- append pays for each index of `events`, so this one indexes the request id
-- alone (no org_id beside it: a request id is one request's, and the lookup
-- checks the organization on the few rows it finds), as an expression on
-- the stored metadata (a column beside it would need every old row
-- rewritten, which the log refuses). Request ids are UUIDv7 from now on
-- (time-ordered): new keys land on the index's rightmost page, the cheapest
-- insert a btree has. On the access log, written in batches off the request
-- path, the index is per monthly partition and goes with it.
create index events_request_id on events ((metadata ->> 'request_id'));
create index access_log_request_id on access_log (request_id);
