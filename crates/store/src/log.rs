//! The log side: the event log, the single source of truth and the outbox
//! at once, with what must hold at the moment an event is appended.
//!
//! Every append goes through one [`append::Appender`] per process, which
//! commits concurrent requests as one batch; the tables the batch checks and
//! writes beside the events (stream versions, uniqueness claims, chain heads,
//! the [`registry`] of organizations, the SCIM [`tokens`], the verified
//! [`domains`], accounts and [`members`], the admin API [`sessions`]) belong
//! to this side, because they must be right before the read model has
//! caught up. [`read`] gives the events back, by stream or by position;
//! [`audit`] by the selections auditors make.

pub(crate) mod append;
pub(crate) mod audit;
pub(crate) mod domains;
pub(crate) mod history;
pub(crate) mod keys;
pub(crate) mod members;
pub(crate) mod read;
pub(crate) mod recent;
pub(crate) mod registry;
pub(crate) mod sessions;
pub(crate) mod signed_checkpoints;
pub(crate) mod tokens;
