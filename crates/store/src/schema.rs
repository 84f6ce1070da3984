//! Which schema a build needs, and the two ways a process meets it: as the
//! schema owner it migrates (`rollcall migrate`, and every service by
//! default), as the application role it only checks (`--no-migrate`), so
//! that a role which may not run DDL never tries to.

use crate::error::full_cause;
use std::fmt;

use tokio_postgres::error::SqlState;

use crate::StoreError;
use crate::connect::{Database, create_database_if_missing, embedded, migrate_with};

/// A migration's number, shown as refinery's files name it (`V0017`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaVersion(pub i32);

impl fmt::Display for SchemaVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "V{:04}", self.0)
    }
}

/// What a process starting against the database may do to its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    /// Create the database if missing and apply pending migrations: the
    /// schema owner's way, and every service's default.
    Apply,
    /// Change nothing; refuse to start unless the schema is exactly the one
    /// this build needs: the application role's way (`--no-migrate`).
    CheckOnly,
}

impl Migration {
    /// `Apply` when `migrate` (the services' `ROLLCALL_MIGRATE`) is true.
    pub fn from_flag(migrate: bool) -> Migration {
        if migrate {
            Migration::Apply
        } else {
            Migration::CheckOnly
        }
    }
}

/// Why the database's schema is not one this process can start on.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Migrations this build needs were not applied: the operator runs
    /// `rollcall migrate` as the schema owner, then starts the service again.
    #[error(
        "the database schema is at {found}, this build needs {needed}: \
         run `rollcall migrate` as the schema owner"
    )]
    Behind {
        found: SchemaVersion,
        needed: SchemaVersion,
    },
    /// A newer build migrated the database: this older one must not serve it.
    #[error(
        "the database schema is at {found}, newer than this build knows ({needed}): \
         run a rollcall at least as new as the one that migrated it"
    )]
    Ahead {
        found: SchemaVersion,
        needed: SchemaVersion,
    },
    /// The database holds no rollcall schema at all.
    #[error(
        "the database {database:?} has no rollcall schema (this build needs {needed}): \
         run `rollcall migrate` as the schema owner"
    )]
    Missing {
        database: String,
        needed: SchemaVersion,
    },
    /// The role may not create the database or change its schema: the
    /// application role started without `--no-migrate`, most likely.
    #[error(
        "the role {role:?} may not change the schema of the database {database:?} \
         ({message}): run `rollcall migrate` as the schema owner, and start the services \
         with --no-migrate (or ROLLCALL_MIGRATE=false)"
    )]
    NotPermitted {
        role: String,
        database: String,
        /// PostgreSQL's own words, e.g. "permission denied for schema public".
        message: String,
    },
    /// A migration failed for another reason (a divergent applied
    /// migration, a statement PostgreSQL refused): read the cause.
    #[error("migration failed: {0}")]
    Failed(String),
    /// PostgreSQL could not be reached or answered with an error.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The newest migration embedded in this build.
pub fn needed_version() -> SchemaVersion {
    let runner = embedded::migrations::runner();
    let newest = runner
        .get_migrations()
        .iter()
        .map(|migration| migration.version())
        .max()
        .expect("migrations are embedded");
    SchemaVersion(newest)
}

/// Meets the schema as `migration` says, and returns the version the
/// database is at afterwards.
pub async fn prepare_schema(
    database: &Database,
    migration: Migration,
) -> Result<SchemaVersion, SchemaError> {
    match migration {
        Migration::Apply => {
            if create_database_if_missing(database)
                .await
                .map_err(|error| not_permitted_store(database, error))?
            {
                tracing::info!(database = database.name(), "created the database");
            }
            migrate_with(database, embedded::migrations::runner(), true).await?;
            Ok(needed_version())
        }
        Migration::CheckOnly => check_version(database).await,
    }
}

/// Refuses a schema other than [`needed_version`], changing nothing.
pub async fn check_version(database: &Database) -> Result<SchemaVersion, SchemaError> {
    let client = database.connect_one().await?;
    let needed = needed_version();
    let found = match client
        .query_one("select max(version) from refinery_schema_history", &[])
        .await
    {
        Ok(row) => row.get::<_, Option<i32>>(0).map(SchemaVersion),
        Err(error) if error.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
        Err(error) => return Err(StoreError::from(error).into()),
    };
    match found {
        None => Err(SchemaError::Missing {
            database: database.name().to_owned(),
            needed,
        }),
        Some(found) if found < needed => Err(SchemaError::Behind { found, needed }),
        Some(found) if found > needed => Err(SchemaError::Ahead { found, needed }),
        Some(found) => Ok(found),
    }
}

/// Names a refusal for lack of privilege as such, whatever reported it.
pub(crate) fn classify_failure(
    database: &Database,
    error: &(dyn std::error::Error + 'static),
) -> SchemaError {
    match privilege_refusal(error) {
        Some(message) => SchemaError::NotPermitted {
            role: database.user().to_owned(),
            database: database.name().to_owned(),
            message,
        },
        None => SchemaError::Failed(full_cause(error)),
    }
}

fn not_permitted_store(database: &Database, error: StoreError) -> SchemaError {
    match &error {
        StoreError::Refused { code, message }
            if code == SqlState::INSUFFICIENT_PRIVILEGE.code() =>
        {
            SchemaError::NotPermitted {
                role: database.user().to_owned(),
                database: database.name().to_owned(),
                message: message.clone(),
            }
        }
        _ => SchemaError::Store(error),
    }
}

/// PostgreSQL's message when `error` or one of its causes is SQLSTATE 42501.
fn privilege_refusal(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(refusal) = current
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::as_db_error)
            && refusal.code() == &SqlState::INSUFFICIENT_PRIVILEGE
        {
            return Some(refusal.message().to_owned());
        }
        cause = current.source();
    }
    None
}
