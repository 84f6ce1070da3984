//! Settings shared by the commands, from flags or environment variables of
//! the same name.

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
}
