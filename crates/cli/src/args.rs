//! The `rollcall` command's arguments: every verb and its flags (clap).
//! Each verb flattens the groups of knobs it reads (`settings::knobs`), so
//! its `--help` shows those and no others.

use clap::{Args, Parser, Subcommand};
use settings::knobs::{
    ApiArgs, BusArgs, DatabaseArgs, DnsArgs, FirstStartArgs, LagArgs, ListenArgs, MetricsArgs,
    MigrateArgs, PoolArgs, ReaperArgs, ShutdownArgs, SigningKeyArgs,
};

use crate::audit_verbs::AuditCommand;
use crate::domain_verbs::DomainCommand;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// rollcall: an event-sourced SCIM 2.0 provisioning backend.
#[derive(Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The database of a verb that may create and migrate it (unless
/// `--no-migrate`).
#[derive(Debug, Clone, Args)]
pub(crate) struct Db {
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
    #[command(flatten)]
    pub(crate) migrate: MigrateArgs,
}

/// Everything `rollcall serve` runs on.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) db: Db,
    #[command(flatten)]
    pub(crate) pool: PoolArgs,
    #[command(flatten)]
    pub(crate) bus: BusArgs,
    #[command(flatten)]
    pub(crate) listen: ListenArgs,
    #[command(flatten)]
    pub(crate) metrics: MetricsArgs,
    #[command(flatten)]
    pub(crate) api: ApiArgs,
    #[command(flatten)]
    pub(crate) lag: LagArgs,
    #[command(flatten)]
    pub(crate) dns: DnsArgs,
    #[command(flatten)]
    pub(crate) reaper: ReaperArgs,
    #[command(flatten)]
    pub(crate) signing_key: SigningKeyArgs,
    #[command(flatten)]
    pub(crate) first_start: FirstStartArgs,
    #[command(flatten)]
    pub(crate) shutdown: ShutdownArgs,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Create and migrate the database if needed, then run the API, the outbox
    /// relay and the projector; on first start, create an organization and
    /// print its SCIM token once.
    Serve {
        #[command(flatten)]
        args: Box<ServeArgs>,
    },
    /// Create the database if needed and apply migrations, as the schema
    /// owner; prints the version reached. Services started with
    /// --no-migrate then only check it.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Organizations.
    Org {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// SCIM tokens.
    Token {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The auditors' queries: events, export, requests, state at an
    /// instant, timelines, diffs, joiners and leavers, checkpoints.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Erase a deactivated or deleted SCIM user's personal data: their key
    /// is destroyed, the log keeps its shape and hashes, every later read
    /// shows them as [erased] (docs/audit-privacy.md). Prints
    /// {"user_id","account_id","access_records_redacted"}.
    Erase {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The SCIM user's id.
        #[arg(long)]
        user: uuid::Uuid,
        #[command(flatten)]
        db: Db,
    },
    /// The organization's verified email domains.
    Domain {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        command: DomainCommand,
    },
    /// Accounts: one person, one account, in every organization.
    Account {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// SCIM provisioning settings: on or off, the default role.
    Provisioning {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        command: ProvisioningCommand,
    },
    /// Roles: the built-in owner, member, auditor, and custom ones.
    Role {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        command: RoleCommand,
    },
    /// The reaper's sweeps (it runs inside `serve` and as rollcall-reaper).
    Reaper {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        command: ReaperCommand,
    },
    /// Check the log's hash chain and that the read tables equal a fresh fold
    /// of the log. Exit 0 when sound; 1 with the first bad position; 3 when
    /// the projector has not reached the log's head within 10 s; 4 when it
    /// holds organizations back (docs/quarantine.md). With `--org`, walks that
    /// organization's hash chain alone and prints its event count and head
    /// hash (exit 0), or the first event that does not hold (exit 1). With
    /// `--checkpoint FILE` too, checks the checkpoint's signature and that
    /// the log today extends it (docs/audit-integrity.md).
    Verify {
        /// The organization whose chain to walk.
        #[arg(long)]
        org: Option<String>,
        /// A signed checkpoint of the organization (`rollcall audit
        /// checkpoint --out`) that the log must extend.
        #[arg(long, requires = "org")]
        checkpoint: Option<std::path::PathBuf>,
        /// The signing public key (hex) the auditor trusts; the checkpoint
        /// must have been signed by it.
        #[arg(long, requires = "checkpoint")]
        public_key: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Fold the whole log into fresh copies of the read tables (as the
    /// projector does), print each row of the live tables that differs and
    /// their count; with --swap, put the copies in place of the live tables,
    /// the projector paused meanwhile. Exit 0 when nothing differs or the
    /// copies were swapped in, 1 when rows differ. Run it as the tables'
    /// owner (docs/audit-integrity.md).
    Rebuild {
        /// Swap the rebuilt tables in when they differ.
        #[arg(long)]
        swap: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Split the projection into COUNT partitions, each folded by a
    /// projector of its own (`rollcall-projector --projector-partition K`),
    /// or join it again with 1 (docs/scaling.md, "Partitions"). Safe while
    /// projectors run: the partitions behind first fold up to the one
    /// furthest ahead, and every new partition starts there. Without COUNT,
    /// print the split and where each partition stands.
    Partitions {
        /// How many partitions, 1 to 64.
        count: Option<u32>,
        #[command(flatten)]
        db: Db,
    },
    /// The access log's retention: requests that changed nothing are kept by
    /// month and leave only as whole months (README, "Access log: limits,
    /// refusals and retention").
    AccessLog {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        command: AccessLogCommand,
    },
    /// Drive SCIM creates, PATCHes and filtered GETs against a running server.
    Bench {
        /// The SCIM base URL, e.g. http://127.0.0.1:8080/scim_v2
        #[arg(long)]
        url: String,
        /// A SCIM token of the organization to load.
        #[arg(long, env = "ROLLCALL_TOKEN")]
        token: String,
        /// Concurrent clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// How long to run; 0 with --populate only populates.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Operations, in rotation: create, patch, get, and on the population
        /// filter-username, filter-email, filter-prefix.
        #[arg(long, value_delimiter = ',', default_value = "create,patch,get")]
        ops: Vec<String>,
        /// First create users pop-0000000@bench.example.com... until the
        /// organization has N of them (through POST /Users, with --clients
        /// clients); the filter operations read them.
        #[arg(long, value_name = "N")]
        populate: Option<usize>,
        /// Print the figures as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure member PATCHes and reads on a big group beside an empty one
    /// (creates the population users it needs first).
    BenchGroups {
        /// The SCIM base URL, e.g. http://127.0.0.1:8080/scim_v2
        #[arg(long)]
        url: String,
        /// A SCIM token of the organization to load.
        #[arg(long, env = "ROLLCALL_TOKEN")]
        token: String,
        /// Members of the big group.
        #[arg(long, default_value_t = 100_000)]
        members: usize,
        /// Concurrent clients per measured request kind.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Seconds per measured request kind.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Only create the population and the big group, for a later run
        /// (after `VACUUM ANALYZE`, as autovacuum would have run by then).
        #[arg(long)]
        setup_only: bool,
        /// Print the figures as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum OrgCommand {
    /// Create an organization with its owner; prints {"org_id", "owner_id"}.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum AccessLogCommand {
    /// Drop every month of access records (access_log and access_refusals)
    /// that ended on or before DATE, oldest first, recording each drop as an
    /// AccessLogPartitionDropped event in every organization's stream.
    /// Refuses a DATE after the first day of the current month. Run it as the
    /// tables' owner (the role that ran the migrations); rollcall_app may not.
    /// Example: `rollcall access-log drop-before 2026-06-01` keeps June 2026
    /// and later.
    DropBefore {
        /// First day to keep, UTC, as YYYY-MM-DD.
        #[arg(value_name = "DATE", value_parser = parse_date)]
        before: time::Date,
    },
}

pub(crate) fn parse_date(text: &str) -> Result<time::Date, String> {
    time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|error| format!("{error}; expected YYYY-MM-DD"))
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Issue a SCIM token; prints the token alone, once. At most two tokens
    /// are live at a time (rotate: issue, reconfigure the identity provider,
    /// revoke the old one).
    Issue {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// Days the token is valid, 1 to 365.
        #[arg(long, default_value_t = domain::token::MAX_VALID_DAYS)]
        valid_for_days: i64,
    },
    /// List the organization's tokens as JSON lines
    /// ({"id","created_at","expires_at","state"}), never a secret.
    List {
        /// The organization's name.
        #[arg(long)]
        org: String,
    },
    /// Revoke a token: SCIM requests with it answer 401 from then on.
    Revoke {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The token's id (from `rollcall token list`).
        #[arg(long)]
        id: uuid::Uuid,
    },
}

#[derive(Subcommand)]
pub(crate) enum AccountCommand {
    /// Set an account's password, read from the first line of standard input
    /// (at least 12 characters), e.g. `printf '%s\n' "$PW" | rollcall account
    /// set-password --email owner@example.com`.
    SetPassword {
        /// The account's email.
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum ProvisioningCommand {
    /// Print the organization's settings: {"scim_enabled","default_role"}.
    Show {
        /// The organization's name.
        #[arg(long)]
        org: String,
    },
    /// Change them; prints the settings after. Turning SCIM off makes the
    /// organization's SCIM tokens answer 403 (within a second) until it is
    /// on again. The default role is never owner.
    Set {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// Whether SCIM provisioning is on.
        #[arg(long)]
        scim_enabled: Option<bool>,
        /// The role new SCIM members get (existing members keep theirs).
        #[arg(long)]
        default_role: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum RoleCommand {
    /// Print the organization's roles, one a line (owner, member, auditor,
    /// then custom ones).
    List {
        /// The organization's name.
        #[arg(long)]
        org: String,
    },
    /// Add a custom role (1 to 64 lowercase letters, digits, '-' or '_').
    Add {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// The role's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum ReaperCommand {
    /// Print, as JSON lines, what the reaper would record at AT (tokens
    /// expiring, warnings due), recording nothing. Example: what expires in
    /// the next 30 days: `rollcall reaper plan --at "$(date -u -d '+30 days' +%FT%TZ)"`.
    Plan {
        /// The instant, RFC 3339 (e.g. 2027-12-01T00:00:00Z).
        #[arg(long, value_parser = parse_instant)]
        at: OffsetDateTime,
    },
}

pub(crate) fn parse_instant(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|error| format!("{error}; expected RFC 3339, e.g. 2027-12-01T00:00:00Z"))
}

/// docs/configuration.md names exactly the knobs `rollcall serve` reads.
#[cfg(test)]
#[test]
fn the_configuration_table_lists_serves_knobs() {
    let cli = <Cli as clap::CommandFactory>::command();
    let serve = cli.find_subcommand("serve").expect("rollcall serve");
    settings::docs::assert_reader("serve", serve);
}
