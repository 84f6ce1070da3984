//! Settings shared by the commands, from flags or environment variables of
//! the same name.

use std::path::PathBuf;

use clap::Args;

/// Where rollcall's dependencies are.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// PostgreSQL URL; the database is created if missing.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/rollcall"
    )]
    pub database_url: String,
    /// RabbitMQ URL.
    #[arg(
        long,
        global = true,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// Prefix from which every exchange and queue name derives.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_BUS_PREFIX",
        default_value = "rollcall"
    )]
    pub bus_prefix: String,
    /// Seconds between the reaper's rounds (token expiry and its warnings).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_REAPER_INTERVAL",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub reaper_interval: u64,
    /// The Ed25519 private key (PKCS#8 PEM) that signs checkpoints of
    /// organizations' heads (docs/audit-integrity.md); make one with
    /// `rollcall audit signing-key generate --out FILE`.
    #[arg(long, global = true, env = "ROLLCALL_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
    /// Seconds between two signed checkpoints of one organization, recorded
    /// by the reaper when its head has moved (with a signing key).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_CHECKPOINT_INTERVAL",
        default_value_t = 3_600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub checkpoint_interval: u64,
    /// `--no-migrate` (or `ROLLCALL_MIGRATE=false`): never create the
    /// database nor change its schema, and refuse to start unless it is the
    /// one this build needs; for the application role, which may not run
    /// DDL (`rollcall migrate`, as the schema owner, migrates).
    #[arg(
        long = "no-migrate",
        global = true,
        env = "ROLLCALL_MIGRATE",
        action = clap::ArgAction::SetFalse
    )]
    pub migrate: bool,
}
