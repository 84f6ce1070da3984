//! Reaching PostgreSQL: creating the database, migrating it, pooling connections.

use crate::error::full_cause;
use deadpool_postgres::{Connect, Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;
use crate::schema::{SchemaError, classify_failure};
use crate::tls::{CA_FILE_VAR, SslMode, TlsSettings};

pub(crate) mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// The migrations this binary carries, as (version, name), in order.
pub(crate) fn embedded_migrations() -> Vec<(i32, String)> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|migration| (migration.version(), migration.name().to_owned()))
        .collect()
}

/// Advisory lock key that serializes concurrent migrations of one database.
const MIGRATION_LOCK: i64 = 0x726f_6c6c_6361_6c6c;

/// What rollcall's connections call themselves in `pg_stat_activity`
/// (`application_name`) when the URL names nothing else.
const APPLICATION_NAME: &str = "rollcall";

/// A parsed `DATABASE_URL`, with the TLS its `sslmode` asks for.
#[derive(Clone)]
pub struct Database {
    pub(crate) config: tokio_postgres::Config,
    /// The `application_name` the URL gave, if it gave one.
    given_application_name: Option<String>,
    tls_settings: TlsSettings,
    pub(crate) tls: Option<MakeRustlsConnect>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Database")
            .field("config", &self.config)
            .field("tls", &self.tls_settings)
            .finish()
    }
}

impl Database {
    /// Parses a PostgreSQL URL or key=value connection string, with libpq's
    /// `sslmode` (disable, prefer, require, verify-ca, verify-full; none
    /// means disable) and `sslrootcert` (else the file named by
    /// `ROLLCALL_DATABASE_CA_FILE`, else the system's CAs).
    pub fn parse(url: &str) -> Result<Database, StoreError> {
        let malformed = |error: &dyn std::fmt::Display| {
            StoreError::Unavailable(format!("DATABASE_URL is malformed: {error}"))
        };
        let env_ca_file = std::env::var_os(CA_FILE_VAR).map(std::path::PathBuf::from);
        let (rest, tls_settings) =
            TlsSettings::split(url, env_ca_file).map_err(|error| malformed(&error))?;
        let mut config: tokio_postgres::Config = rest.parse().map_err(|error| malformed(&error))?;
        config.ssl_mode(tls_settings.mode.negotiation());
        let given_application_name = config.get_application_name().map(str::to_owned);
        if given_application_name.is_none() {
            config.application_name(APPLICATION_NAME);
        }
        let tls = tls_settings.connector().map_err(StoreError::Unavailable)?;
        Ok(Database {
            config,
            given_application_name,
            tls_settings,
            tls,
        })
    }

    /// The same database, its connections named after `part` of rollcall
    /// (`rollcall-appender`, `rollcall-linker`...) in `pg_stat_activity`, so
    /// that an operator sees which part holds a connection, waits on a lock
    /// or spends the server's CPU. A name the URL gave comes first
    /// (`given/part`): it may say which deployment the connection is from.
    pub fn for_part(&self, part: &str) -> Database {
        let name = match &self.given_application_name {
            Some(given) => format!("{given}/{part}"),
            None => part.to_owned(),
        };
        let mut config = self.config.clone();
        config.application_name(&name);
        Database {
            config,
            ..self.clone()
        }
    }

    /// The database's name (`postgres` when the URL names none).
    pub fn name(&self) -> &str {
        self.config.get_dbname().unwrap_or("postgres")
    }

    /// The role it connects as (`postgres` when the URL names none).
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("postgres")
    }

    /// The same server, another database.
    pub fn with_name(&self, name: &str) -> Database {
        let mut config = self.config.clone();
        config.dbname(name);
        Database {
            config,
            ..self.clone()
        }
    }

    /// The same database, with `schema`'s tables before `public`'s: the
    /// unqualified names of the projector's SQL then reach the copies of the
    /// read tables that `rollcall rebuild` folds into.
    pub fn in_schema(&self, schema: &str) -> Database {
        let mut config = self.config.clone();
        config.options(format!("-c search_path={schema},public"));
        Database {
            config,
            ..self.clone()
        }
    }

    /// One unpooled connection, driven on a background task.
    pub async fn connect_one(&self) -> Result<tokio_postgres::Client, StoreError> {
        let (client, _driver) = open(self.config.clone(), self.tls.clone())
            .await
            .map_err(|error| StoreError::Unavailable(self.unreachable(&error)))?;
        Ok(client)
    }

    /// Why a connection failed, and what to do, with TLS in mind.
    pub(crate) fn unreachable(&self, error: &tokio_postgres::Error) -> String {
        let cause = full_cause(error);
        let name = self.name();
        if let Some(refused) = certificate_refusal(error) {
            return format!(
                "cannot connect to PostgreSQL database {name:?}: its TLS certificate was refused \
                 ({refused}); with sslmode={} it must chain to {}. Name the CA that signed the \
                 server's certificate with sslrootcert= in DATABASE_URL or {CA_FILE_VAR}",
                self.tls_mode_name(),
                self.tls_settings.ca_source()
            );
        }
        if let Some(refusal) = error.as_db_error() {
            // The server answered: it runs, and said why not.
            if refusal.code() == &tokio_postgres::error::SqlState::INVALID_CATALOG_NAME {
                return format!(
                    "the database {name:?} does not exist: create it and its schema with \
                     `rollcall migrate` as the schema owner"
                );
            }
            return format!("PostgreSQL refused the connection to {name:?}: {cause}");
        }
        let hint = match self.tls_settings.mode {
            SslMode::Disable | SslMode::Prefer => {
                " If the server requires TLS, add sslmode=verify-full to DATABASE_URL."
            }
            _ => {
                " If the server offers no TLS, enable it (scripts/enable-postgres-tls.sh for a local one)."
            }
        };
        format!(
            "cannot connect to PostgreSQL database {name:?}: {cause}. Is it running? \
             Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start.{hint}"
        )
    }

    fn tls_mode_name(&self) -> &'static str {
        match self.tls_settings.mode {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Creates the database named in `database` unless it exists.
pub async fn create_database_if_missing(database: &Database) -> Result<bool, StoreError> {
    let admin = database.with_name("postgres").connect_one().await?;
    let exists = admin
        .query_opt(
            "select 1 from pg_database where datname = $1",
            &[&database.name()],
        )
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    let create = format!("create database {}", quote_identifier(database.name()));
    match admin.batch_execute(&create).await {
        Ok(()) => Ok(true),
        // Someone else created it between our check and our create.
        Err(error)
            if error.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) =>
        {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// Applies the embedded migrations that the database has not seen yet, then
/// the step SQL cannot do: the case-folded keys of rows and claims written
/// before migration V0008 ([`crate::folding::fold_existing`]), under the same
/// lock, so that no process serves before they are made.
pub async fn migrate(database: &Database) -> Result<usize, SchemaError> {
    migrate_with(database, embedded::migrations::runner(), true).await
}

/// Applies the embedded migrations up to `version` only: for tests that
/// upgrade a database holding an older schema's rows.
pub async fn migrate_to(database: &Database, version: i32) -> Result<usize, SchemaError> {
    migrate_with(
        database,
        embedded::migrations::runner().set_target(refinery::Target::Version(version)),
        version >= FOLDING_VERSION,
    )
    .await
}

/// The migration whose tables the case-folding step fills (V0008).
const FOLDING_VERSION: i32 = 8;

pub(crate) async fn migrate_with(
    database: &Database,
    runner: refinery::Runner,
    folds: bool,
) -> Result<usize, SchemaError> {
    let mut client = database.connect_one().await?;
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(StoreError::from)?;
    let applied = match runner.run_async(&mut client).await {
        // Folding needs V0008's tables; an older target has nothing to fold.
        Ok(report) if !folds => Ok((report.applied_migrations().len(), Default::default())),
        Ok(report) => crate::folding::fold_existing(&mut client)
            .await
            .map(|folded| (report.applied_migrations().len(), folded))
            .map_err(SchemaError::from),
        // A role without the privilege to migrate is told so, never that
        // PostgreSQL is unavailable.
        Err(error) => Err(classify_failure(database, &error)),
    };
    client
        .execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(StoreError::from)?;
    let (applied, folded) = applied?;
    if folded != crate::folding::Folded::default() {
        tracing::info!(
            users = folded.users,
            groups = folded.groups,
            claims = folded.claims,
            "case-folded keys made for data written before V0008"
        );
    }
    if folded.collisions > 0 {
        tracing::warn!(
            collisions = folded.collisions,
            "names that to_lowercase told apart fold alike; the first keeps its claim"
        );
    }
    Ok(applied)
}

/// A pool of `size` connections to `database`, whose connections live on
/// the runtime this is called from (see [`OnRuntime`]).
pub fn connect(database: &Database, size: usize) -> Result<Pool, StoreError> {
    let manager = Manager::from_connect(
        database.config.clone(),
        OnRuntime(tokio::runtime::Handle::current(), database.tls.clone()),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .build()
        .map_err(|error| StoreError::Unavailable(format!("cannot build the pool: {error}")))
}

/// Opens every pool connection on one runtime, whoever asks for it.
///
/// The HTTP server runs each worker on a runtime of its own, and a
/// connection is driven by a task on the runtime it was opened on. Opened
/// from a request handler, it would die with that worker when the server
/// stops, in the middle of whatever the appender, the projector or the
/// access-log writer (which outlive the server) sent on it: a statement
/// committed but answered "connection closed", then written again.
struct OnRuntime(tokio::runtime::Handle, Option<MakeRustlsConnect>);

impl Connect for OnRuntime {
    fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>>
    {
        let config = config.clone();
        let tls = self.1.clone();
        let opening = self.0.spawn(open(config.clone(), tls.clone()));
        Box::pin(async move {
            match opening.await {
                Ok(opened) => opened,
                // That runtime is shutting down: open it here instead.
                Err(_) => open(config, tls).await,
            }
        })
    }
}

/// Opens a connection and spawns the task that drives it.
async fn open(
    config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
) -> Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error> {
    // The two kinds of connection differ in type: each is driven by its own task.
    let (client, driver) = match tls {
        None => {
            let (client, connection) = config.connect(NoTls).await?;
            (client, tokio::spawn(drive(connection)))
        }
        Some(tls) => {
            let (client, connection) = config.connect(tls).await?;
            (client, tokio::spawn(drive(connection)))
        }
    };
    Ok((client, driver))
}

async fn drive(connection: impl std::future::Future<Output = Result<(), tokio_postgres::Error>>) {
    if let Err(error) = connection.await {
        tracing::warn!(%error, "a PostgreSQL connection ended");
    }
}

/// What rustls said of the server's certificate, when it refused it.
fn certificate_refusal(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(rustls::Error::InvalidCertificate(refusal)) =
            current.downcast_ref::<rustls::Error>()
        {
            return Some(format!("{refusal:?}"));
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && let Some(rustls::Error::InvalidCertificate(refusal)) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(format!("{refusal:?}"));
        }
        cause = current.source();
    }
    None
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::Database;

    fn application_name(database: &Database) -> Option<&str> {
        database.config.get_application_name()
    }

    #[test]
    fn connections_are_named_after_rollcall_and_the_part_that_holds_them() {
        let database = Database::parse("postgres://postgres@127.0.0.1:5432/rollcall").unwrap();
        assert_eq!(application_name(&database), Some("rollcall"));
        let appender = database.for_part("rollcall-appender");
        assert_eq!(application_name(&appender), Some("rollcall-appender"));
        // A part of a part is named after the last: one pool, one name.
        let relay = appender.for_part("rollcall-relay");
        assert_eq!(application_name(&relay), Some("rollcall-relay"));
    }

    #[test]
    fn a_name_the_url_gives_comes_before_the_part() {
        let database =
            Database::parse("postgres://postgres@127.0.0.1:5432/rollcall?application_name=eu-west")
                .unwrap();
        assert_eq!(application_name(&database), Some("eu-west"));
        let linker = database.for_part("rollcall-linker").with_name("other");
        assert_eq!(application_name(&linker), Some("eu-west/rollcall-linker"));
    }
}
