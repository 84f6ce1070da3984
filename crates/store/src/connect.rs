//! Reaching PostgreSQL: creating the database, migrating it, pooling connections.

use deadpool_postgres::{Connect, Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use crate::StoreError;

mod embedded {
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

/// A parsed `DATABASE_URL`.
#[derive(Debug, Clone)]
pub struct Database {
    config: tokio_postgres::Config,
}

impl Database {
    /// Parses a PostgreSQL URL or key=value connection string.
    pub fn parse(url: &str) -> Result<Database, StoreError> {
        let config = url.parse().map_err(|error| {
            StoreError::Unavailable(format!("DATABASE_URL is malformed: {error}"))
        })?;
        Ok(Database { config })
    }

    /// The database's name (`postgres` when the URL names none).
    pub fn name(&self) -> &str {
        self.config.get_dbname().unwrap_or("postgres")
    }

    /// The same server, another database.
    pub fn with_name(&self, name: &str) -> Database {
        let mut config = self.config.clone();
        config.dbname(name);
        Database { config }
    }

    /// The same database, with `schema`'s tables before `public`'s: the
    /// unqualified names of the projector's SQL then reach the copies of the
    /// read tables that `rollcall rebuild` folds into.
    pub fn in_schema(&self, schema: &str) -> Database {
        let mut config = self.config.clone();
        config.options(format!("-c search_path={schema},public"));
        Database { config }
    }

    /// One unpooled connection, driven on a background task.
    pub async fn connect_one(&self) -> Result<tokio_postgres::Client, StoreError> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|error| {
            StoreError::Unavailable(format!(
                "cannot connect to PostgreSQL database {:?}: {error}. Is it running? \
                 Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
                self.name()
            ))
        })?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "PostgreSQL connection closed");
            }
        });
        Ok(client)
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
pub async fn migrate(database: &Database) -> Result<usize, StoreError> {
    migrate_with(database, embedded::migrations::runner(), true).await
}

/// Applies the embedded migrations up to `version` only: for tests that
/// upgrade a database holding an older schema's rows.
pub async fn migrate_to(database: &Database, version: i32) -> Result<usize, StoreError> {
    migrate_with(
        database,
        embedded::migrations::runner().set_target(refinery::Target::Version(version)),
        version >= FOLDING_VERSION,
    )
    .await
}

/// The migration whose tables the case-folding step fills (V0008).
const FOLDING_VERSION: i32 = 8;

async fn migrate_with(
    database: &Database,
    runner: refinery::Runner,
    folds: bool,
) -> Result<usize, StoreError> {
    let mut client = database.connect_one().await?;
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let applied = match runner.run_async(&mut client).await {
        // Folding needs V0008's tables; an older target has nothing to fold.
        Ok(report) if !folds => Ok((report.applied_migrations().len(), Default::default())),
        Ok(report) => crate::folding::fold_existing(&mut client)
            .await
            .map(|folded| (report.applied_migrations().len(), folded)),
        Err(error) => Err(StoreError::Unavailable(format!(
            "migration failed: {error}"
        ))),
    };
    client
        .execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
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
        OnRuntime(tokio::runtime::Handle::current()),
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
struct OnRuntime(tokio::runtime::Handle);

impl Connect for OnRuntime {
    fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>>
    {
        let config = config.clone();
        let opening = self.0.spawn(open(config.clone()));
        Box::pin(async move {
            match opening.await {
                Ok(opened) => opened,
                // That runtime is shutting down: open it here instead.
                Err(_) => open(config).await,
            }
        })
    }
}

/// Opens a connection and spawns the task that drives it.
async fn open(
    config: tokio_postgres::Config,
) -> Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "a PostgreSQL connection ended");
        }
    });
    Ok((client, driver))
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
