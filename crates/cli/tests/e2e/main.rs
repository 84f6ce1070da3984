//! End-to-end tests of rollcall on real PostgreSQL and RabbitMQ: each test
//! starts the whole stack in-process on its own database (copied from a
//! migrated template) and its own exchange and queue, and removes both when
//! it ends. A test that finds a service down fails and says how to start it.
//! Set TEST_LOG=1 to see the stack's logs.

mod access;
mod accounts;
mod admin_api;
mod asyncapi;
mod attributes;
mod audit;
mod audit_history;
mod audit_log;
mod bench;
mod bulk;
mod case_folding;
mod configuration;
mod connections;
mod database_errors;
mod domains;
mod erasure;
mod evidence;
mod filters;
mod groups;
mod guarantees;
mod hardening;
mod help;
mod helpers;
mod integrity;
mod least_privilege;
mod member_sessions;
mod members;
mod metrics;
mod provisioning;
mod rebuild;
mod request_ids;
mod rounds;
mod scaleout;
mod schema;
mod shutdown;
mod tls;
mod tokens;
mod users;
mod write_plans;
