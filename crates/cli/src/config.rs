//! What the whole stack in one process runs on: `rollcall serve` makes it
//! from its knobs (`settings::knobs`), the tests write it out.

use std::path::PathBuf;

/// Where rollcall's dependencies are, and the rhythm of its background work.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL URL.
    pub database_url: String,
    /// Most connections in the one pool every part shares.
    pub pool_size: usize,
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// Prefix from which every exchange and queue name derives.
    pub bus_prefix: String,
    /// Seconds between the reaper's rounds.
    pub reaper_interval: u64,
    /// The Ed25519 private key that signs checkpoints, if any.
    pub signing_key_file: Option<PathBuf>,
    /// Seconds between two signed checkpoints of one organization.
    pub checkpoint_interval: u64,
    /// Whether the stack may create the database and migrate it.
    pub migrate: bool,
}
