//! What operators reach on a process's own listener (`ROLLCALL_METRICS_BIND`,
//! default `127.0.0.1:9464`): `/metrics` (Prometheus text), `/healthz` (the
//! process lives) and `/readyz` (every check of [`Readiness`] passes).
//!
//! Every binary starts one [`MetricsServer`] with its registry and its
//! checks; `rollcall serve` starts one for all of its parts. The public SCIM
//! port serves `/healthz` and `/readyz` too (through [`readyz_response`]),
//! never `/metrics`: what the counters say about organizations is for
//! operators, not for whoever reaches the SCIM port.
//!
//! Readiness checks are values, not a fixed list: each binary names the ones
//! that hold for it ([`checks`]), and a check answers within
//! [`CHECK_TIMEOUT`] or counts as failed.
//!
//! [`shutdown`] is how every binary waits for SIGTERM or SIGINT and bounds
//! each stage of its stop.

pub mod checks;
mod listener;
mod readiness;
pub mod shutdown;

pub use listener::{
    DEFAULT_METRICS_BIND, MetricsServer, healthz, metrics_response, readyz_response,
};
pub use readiness::{CHECK_TIMEOUT, Check, Readiness, Report};
