//! The knobs, in groups that each command flattens where it uses them, so
//! that its `--help` shows exactly what it reads.
//!
//! Every argument here is `global`: a group flattened into a command with
//! verbs under it (`rollcall token`) is then accepted after the verb
//! (`rollcall token issue --database-url ...`), and nowhere else. A knob's
//! file key is its argument's id (the field's name).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use clap::builder::RangedU64ValueParser;

/// Where PostgreSQL is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL; libpq's `sslmode` and `sslrootcert` are honoured.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/rollcall"
    )]
    pub database_url: String,
}

/// Whether this process may create the database and migrate its schema.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
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

/// The connection pool of a long-running process.
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Most connections this process's pool opens to PostgreSQL (4 to
    /// 1000); the access-log writer holds one, requests share the rest. The
    /// appender (and in `serve` the relay and the projector) have up to 2
    /// (4, 4) of their own besides. Mind PostgreSQL's max_connections
    /// across every process.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_POOL_SIZE",
        default_value_t = 32,
        value_parser = RangedU64ValueParser::<usize>::new().range(4..=1_000)
    )]
    pub pool_size: usize,
}

/// Where RabbitMQ is, and the names used on it.
#[derive(Debug, Clone, Args)]
pub struct BusArgs {
    /// RabbitMQ URL; `amqps://` for TLS.
    #[arg(
        long,
        global = true,
        env = "AMQP_URL",
        hide_env_values = true,
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
}

/// The SCIM and admin API's listener.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Address the SCIM and admin API listens on.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: String,
}

/// The operators' listener.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Address of the operators' listener: /metrics, /healthz, /readyz.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_METRICS_BIND",
        default_value = "127.0.0.1:9464"
    )]
    pub metrics_bind: String,
}

/// How far behind the projector may be before `/readyz` fails.
#[derive(Debug, Clone, Args)]
pub struct LagArgs {
    /// `/readyz` fails when the oldest event the projector has not folded
    /// is older than this many seconds.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_MAX_PROJECTOR_LAG_SECS",
        default_value_t = 30
    )]
    pub max_projector_lag_secs: u64,
}

/// Which partition of a split projection a projector folds
/// (docs/scaling.md, "Partitions").
#[derive(Debug, Clone, Args)]
pub struct PartitionArgs {
    /// The partition of the projection this process folds, from 0, when
    /// `rollcall partitions` has split it; 0 when it is not split.
    #[arg(long, env = "ROLLCALL_PROJECTOR_PARTITION", default_value_t = 0)]
    pub projector_partition: u32,
}

/// The nameserver domain verification asks.
#[derive(Debug, Clone, Args)]
pub struct DnsArgs {
    /// The nameserver domain verification asks, IP:PORT; the system's when
    /// unset.
    #[arg(long, global = true, env = "ROLLCALL_DNS_SERVER")]
    pub dns_server: Option<SocketAddr>,
}

/// The HTTP service's limits and waits.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Longest time (ms) a read waits for the projector to fold its token's
    /// writes before answering 503 (a group write, before answering anyway).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_READ_YOUR_WRITES_MS",
        default_value_t = 2_000
    )]
    pub read_your_writes_ms: u64,
    /// Events an API process may have appended past what the projector has
    /// folded before its writes wait (bounded, as reads do) for the
    /// projector: writers cannot outrun the read side that other clients'
    /// reads wait on.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_MAX_UNFOLDED_EVENTS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(i64).range(1..)
    )]
    pub max_unfolded_events: i64,
    /// Organizations labelled by name in rollcall_scim_dialect_forms_total;
    /// the others count as org="other".
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_METRICS_MAX_ORGS",
        default_value_t = 100,
        value_parser = RangedU64ValueParser::<usize>::new().range(0..=10_000)
    )]
    pub metrics_max_orgs: usize,
    /// The largest SCIM request body accepted, in bytes (413 past it; up
    /// to 16 MiB).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_MAX_BODY_BYTES",
        default_value_t = 1 << 20,
        value_parser = body_bytes()
    )]
    pub max_body_bytes: usize,
    /// The largest page a list returns (`filter.maxResults`, 1 to 10000).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_MAX_RESULTS",
        default_value_t = 1_000,
        value_parser = clap::value_parser!(i64).range(1..=10_000)
    )]
    pub max_results: i64,
    /// The most operations one /Bulk request may hold
    /// (`bulk.maxOperations`, 1 to 10000).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_BULK_MAX_OPERATIONS",
        default_value_t = 1_000,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000)
    )]
    pub bulk_max_operations: usize,
    /// The largest /Bulk request body, in bytes (`bulk.maxPayloadSize`, up
    /// to 16 MiB).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_BULK_MAX_PAYLOAD_BYTES",
        default_value_t = 1 << 20,
        value_parser = body_bytes()
    )]
    pub bulk_max_payload_bytes: usize,
    /// Longest time (s) a request body may take to arrive (408 past it).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_BODY_READ_TIMEOUT_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3_600)
    )]
    pub body_read_timeout_secs: u64,
    /// Requests one SCIM token may have in flight (429 past it).
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_MAX_IN_FLIGHT_PER_TOKEN",
        default_value_t = 64,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_in_flight_per_token: usize,
    /// Requests one client address may have in flight (429 past it); raise
    /// it when a proxy's address is the one every request comes from.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_MAX_IN_FLIGHT_PER_CLIENT",
        default_value_t = 512,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_in_flight_per_client: usize,
    /// Bad SCIM tokens (or failed admin logins) one client address may
    /// present within a minute before it is answered 429.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_BAD_TOKEN_ATTEMPTS",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub bad_token_attempts: u32,
    /// Seconds such an address stays blocked.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_BAD_TOKEN_BLOCK_SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub bad_token_block_secs: u64,
}

/// A body limit: at least 1 KiB, at most 16 MiB (RabbitMQ 4's default
/// largest message, which an event made of the body must fit).
fn body_bytes() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1_024..=16 << 20)
}

/// How a standalone API learns that the projector has moved.
#[derive(Debug, Clone, Args)]
pub struct ProjectionPollArgs {
    /// Milliseconds after which the API reads the projector's checkpoint
    /// itself when no notification of the projector's commit came (10 to
    /// 60000): a notification lost with its connection costs a waiting
    /// write at most this much.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_PROJECTION_POLL_MS",
        default_value_t = 1_000,
        value_parser = clap::value_parser!(u64).range(10..=60_000)
    )]
    pub projection_poll_ms: u64,
}

/// The reaper's rhythm.
#[derive(Debug, Clone, Args)]
pub struct ReaperArgs {
    /// Seconds between the reaper's rounds (token expiry and its warnings).
    // `--interval` is what rollcall-reaper called it before the knobs were
    // shared.
    #[arg(
        long,
        alias = "interval",
        global = true,
        env = "ROLLCALL_REAPER_INTERVAL",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub reaper_interval: u64,
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
}

/// The operator's signing key.
#[derive(Debug, Clone, Args)]
pub struct SigningKeyArgs {
    /// The Ed25519 private key (PKCS#8 PEM) that signs checkpoints of
    /// organizations' heads (docs/audit-integrity.md); make one with
    /// `rollcall audit signing-key generate --out FILE`.
    #[arg(long, global = true, env = "ROLLCALL_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
}

/// How long a stop may take.
#[derive(Debug, Clone, Args)]
pub struct ShutdownArgs {
    /// After SIGTERM or SIGINT, seconds that requests in flight get to
    /// finish, and then each of: writing recorded reads, the relay's, the
    /// reaper's and the projector's last batch (past it a part is ended and
    /// resumes from its checkpoint at the next start). A second signal
    /// exits at once.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_SHUTDOWN_TIMEOUT_SECS",
        default_value_t = DEFAULT_SHUTDOWN_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3_600)
    )]
    pub shutdown_timeout_secs: u64,
}

/// The stop's bound when nothing sets `shutdown_timeout_secs`.
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// What `rollcall serve` creates on its first start.
#[derive(Debug, Clone, Args)]
pub struct FirstStartArgs {
    /// Name of the organization a first start creates.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_FIRST_ORG",
        default_value = "My Organization"
    )]
    pub first_org: String,
    /// Owner email of the organization a first start creates.
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_FIRST_OWNER_EMAIL",
        default_value = "owner@example.com"
    )]
    pub first_owner_email: String,
}

/// Every knob of every binary, as one command: what a configuration file
/// may name, and what docs/configuration.md must describe.
pub fn catalogue() -> clap::Command {
    let groups: [fn(clap::Command) -> clap::Command; 15] = [
        DatabaseArgs::augment_args,
        MigrateArgs::augment_args,
        PoolArgs::augment_args,
        BusArgs::augment_args,
        ListenArgs::augment_args,
        MetricsArgs::augment_args,
        LagArgs::augment_args,
        PartitionArgs::augment_args,
        DnsArgs::augment_args,
        ApiArgs::augment_args,
        ProjectionPollArgs::augment_args,
        ReaperArgs::augment_args,
        SigningKeyArgs::augment_args,
        FirstStartArgs::augment_args,
        ShutdownArgs::augment_args,
    ];
    groups.into_iter().fold(
        clap::Command::new("rollcall-settings"),
        |command, augment| augment(command),
    )
}
