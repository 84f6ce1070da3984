//! `rollcall rebuild`'s tables: fresh copies of the read tables in their
//! own schema, which the projector's own writer folds the log into (through
//! a pool whose search path puts that schema first, [`crate::Database::in_schema`]);
//! their differences from the live tables; and the swap that puts them in
//! place, while the projector is paused on its checkpoint row.
//!
//! The copies are made `LIKE` the live tables with everything (defaults,
//! constraints, indexes), then their indexes are renamed to the live ones'
//! names and the live tables' grants are given on them, so that after a
//! swap the schema is the one the migrations made.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::{Pool, PooledClient, StoreError};

/// The schema the copies are folded in.
pub const REBUILD_SCHEMA: &str = "rollcall_rebuild";
/// Where the live tables go in the swap, before they are dropped.
const RETIRED_SCHEMA: &str = "rollcall_retired";

/// The read tables, and the projector's own state beside them (its
/// quarantine): what a rebuild makes anew.
pub const REBUILT_TABLES: [&str; 4] = [
    "scim_users",
    "scim_groups",
    "scim_group_members",
    "projection_quarantine",
];

/// Columns that say when the projector did something, not what the log
/// holds: never compared.
const UNCOMPARED: [&str; 2] = ["quarantined_at", "reason"];

/// Makes the empty copies (dropping those of an earlier rebuild) and a
/// projector checkpoint at 0 for them.
pub async fn create_rebuild_tables(pool: &Pool) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let mut script = format!(
        "set client_min_messages = warning; \
         drop schema if exists {REBUILD_SCHEMA} cascade; create schema {REBUILD_SCHEMA}; \
         create table {REBUILD_SCHEMA}.checkpoints (like public.checkpoints including all); \
         insert into {REBUILD_SCHEMA}.checkpoints (name, position) values ('projector', 0);"
    );
    for table in REBUILT_TABLES {
        script.push_str(&format!(
            "create table {REBUILD_SCHEMA}.{table} (like public.{table} including all);"
        ));
    }
    client.batch_execute(&script).await?;
    for table in REBUILT_TABLES {
        name_indexes_as_live(&client, table).await?;
        grant_as_live(&client, table).await?;
    }
    Ok(())
}

/// Gives each index of the copy of `table` the name of the live index with
/// the same definition: migrations name indexes (`drop index ...`).
async fn name_indexes_as_live(client: &Client, table: &str) -> Result<(), StoreError> {
    // An index's definition without its name and table, e.g.
    // "UNIQUE INDEX USING btree (org_id, user_id)".
    let rows = client
        .query(
            "with indexes as ( \
                 select n.nspname as schema, c.relname as name, \
                        regexp_replace(pg_get_indexdef(i.indexrelid), \
                                       '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ ', '\\1') as body \
                   from pg_index i \
                   join pg_class c on c.oid = i.indexrelid \
                   join pg_class t on t.oid = i.indrelid \
                   join pg_namespace n on n.oid = t.relnamespace \
                  where t.relname = $1 and n.nspname in ('public', $2)) \
             select copy.name, live.name from indexes copy \
               join indexes live on live.body = copy.body and live.schema = 'public' \
              where copy.schema = $2 order by copy.name",
            &[&table, &REBUILD_SCHEMA],
        )
        .await?;
    // Through temporary names, in case a copy's generated name is another
    // live index's name.
    for (n, row) in rows.iter().enumerate() {
        let name: String = row.get(0);
        client
            .batch_execute(&format!(
                "alter index {REBUILD_SCHEMA}.\"{name}\" rename to rebuild_index_{n}"
            ))
            .await?;
    }
    for (n, row) in rows.iter().enumerate() {
        let live: String = row.get(1);
        client
            .batch_execute(&format!(
                "alter index {REBUILD_SCHEMA}.rebuild_index_{n} rename to \"{live}\""
            ))
            .await?;
    }
    Ok(())
}

/// Grants on the copy of `table` what the live table grants to others
/// than its owner (the application role, V0002).
async fn grant_as_live(client: &Client, table: &str) -> Result<(), StoreError> {
    let rows = client
        .query(
            "select a.privilege_type, \
                    case when a.grantee = 0 then 'public' else quote_ident(r.rolname) end \
               from pg_class c cross join aclexplode(c.relacl) a \
               left join pg_roles r on r.oid = a.grantee \
              where c.oid = ('public.' || $1)::regclass and a.grantee <> c.relowner",
            &[&table],
        )
        .await?;
    for row in rows {
        let (privilege, grantee): (String, String) = (row.get(0), row.get(1));
        client
            .batch_execute(&format!(
                "grant {privilege} on {REBUILD_SCHEMA}.{table} to {grantee}"
            ))
            .await?;
    }
    Ok(())
}

/// One row that differs between a live table and its rebuilt copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDifference {
    pub table: &'static str,
    /// The row's key, its columns' values as text joined by '/' (the
    /// organization's id first).
    pub key: String,
    /// "only in the live table", "missing from the live table", or the
    /// columns whose values differ.
    pub what: String,
}

/// The projector, paused: its checkpoint row held in an open transaction,
/// so that it folds nothing until [`ProjectorPause::swap`] or
/// [`ProjectorPause::resume`]. Dropped without either, its connection is
/// closed, which ends the transaction.
pub struct ProjectorPause {
    client: Option<PooledClient>,
}

impl ProjectorPause {
    /// Waits for the projector's current transaction, then holds its
    /// checkpoint; returns the pause and the checkpoint's position.
    pub async fn begin(pool: &Pool) -> Result<(ProjectorPause, i64), StoreError> {
        let client = pool.get().await?;
        client.batch_execute("begin").await?;
        let pause = ProjectorPause {
            client: Some(client),
        };
        let position = pause
            .client()
            .query_one(
                "select position from checkpoints where name = 'projector' for update",
                &[],
            )
            .await?
            .get(0);
        Ok((pause, position))
    }

    fn client(&self) -> &PooledClient {
        self.client.as_ref().expect("a pause holds its connection")
    }

    /// The rows of each rebuilt table that differ from the live one, up to
    /// `limit` of them, and how many differ in all.
    pub async fn differences(&self, limit: usize) -> Result<(Vec<RowDifference>, u64), StoreError> {
        let (mut found, mut total) = (Vec::new(), 0);
        for table in REBUILT_TABLES {
            let statement = comparison(self.client(), table).await?;
            for row in self.client().query(&statement, &[]).await? {
                total += 1;
                if found.len() < limit {
                    found.push(RowDifference {
                        table,
                        key: row.get(0),
                        what: row.get(1),
                    });
                }
            }
        }
        Ok((found, total))
    }

    /// Puts the rebuilt tables in place of the live ones, drops the old
    /// ones, and lets the projector go on from the same checkpoint. Readers
    /// wait for the swap's few statements; the exclusive locks are tried,
    /// never queued for (a reader that holds one table and waits for
    /// another would otherwise deadlock with the swap), and retried for
    /// `patience`.
    pub async fn swap(mut self, patience: std::time::Duration) -> Result<(), StoreError> {
        let client = self.client();
        let tables = REBUILT_TABLES
            .map(|table| format!("public.{table}"))
            .join(", ");
        let deadline = std::time::Instant::now() + patience;
        client.batch_execute("savepoint locking").await?;
        loop {
            match client
                .batch_execute(&format!(
                    "lock table {tables} in access exclusive mode nowait"
                ))
                .await
            {
                Ok(()) => break,
                Err(error)
                    if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
                        && std::time::Instant::now() < deadline =>
                {
                    client
                        .batch_execute("rollback to savepoint locking")
                        .await?;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
        let mut script =
            format!("set local client_min_messages = warning; create schema {RETIRED_SCHEMA};");
        for table in REBUILT_TABLES {
            script.push_str(&format!(
                "alter table public.{table} set schema {RETIRED_SCHEMA}; \
                 alter table {REBUILD_SCHEMA}.{table} set schema public;"
            ));
        }
        script.push_str(&format!(
            "drop schema {RETIRED_SCHEMA} cascade; drop schema {REBUILD_SCHEMA} cascade; commit"
        ));
        client.batch_execute(&script).await?;
        self.client.take();
        Ok(())
    }

    /// Lets the projector go on, the live tables untouched, and drops the
    /// copies.
    pub async fn resume(mut self) -> Result<(), StoreError> {
        self.client()
            .batch_execute(&format!(
                "rollback; set client_min_messages = warning; \
                 drop schema if exists {REBUILD_SCHEMA} cascade"
            ))
            .await?;
        self.client.take();
        Ok(())
    }
}

impl Drop for ProjectorPause {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(PooledClient::take(client));
        }
    }
}

/// The statement that lists `table`'s differing rows: (key, what), its
/// columns read from the catalog so that a later migration's columns are
/// compared too. Values are compared as text: json as stored, byte for byte.
async fn comparison(client: &Client, table: &str) -> Result<String, StoreError> {
    let columns = client
        .query(
            "select a.attname, coalesce(a.attnum = any(i.indkey), false) \
               from pg_attribute a \
               left join pg_index i on i.indrelid = a.attrelid and i.indisprimary \
              where a.attrelid = ('public.' || $1)::regclass and a.attnum > 0 \
                and not a.attisdropped order by a.attnum",
            &[&table],
        )
        .await?;
    let (mut keys, mut compared) = (Vec::new(), Vec::new());
    for column in columns {
        let (name, is_key): (String, bool) = (column.get(0), column.get(1));
        if is_key {
            keys.push(name);
        } else if !UNCOMPARED.contains(&name.as_str()) {
            compared.push(name);
        }
    }
    let key_text = keys
        .iter()
        .map(|key| format!("coalesce(l.{key}, r.{key})::text"))
        .collect::<Vec<_>>()
        .join(" || '/' || ");
    let join = keys
        .iter()
        .map(|key| format!("l.{key} = r.{key}"))
        .collect::<Vec<_>>()
        .join(" and ");
    let differs = |column: &String| format!("l.{column}::text is distinct from r.{column}::text");
    let named = compared
        .iter()
        .map(|column| format!("case when {} then '{column}' end", differs(column)))
        .collect::<Vec<_>>()
        .join(", ");
    let named = if named.is_empty() {
        "null::text".to_owned()
    } else {
        named
    };
    let any_differs = compared
        .iter()
        .map(differs)
        .collect::<Vec<_>>()
        .join(" or ");
    let first = &keys[0];
    Ok(format!(
        "select {key_text}, \
                case when r.{first} is null then 'only in the live table' \
                     when l.{first} is null then 'missing from the live table' \
                     else 'differs in ' || array_to_string(array_remove(array[{named}], null), ', ') \
                end \
           from public.{table} l full join {REBUILD_SCHEMA}.{table} r on {join} \
          where l.{first} is null or r.{first} is null or {any_differs} \
          order by 1",
        any_differs = if any_differs.is_empty() {
            "false".into()
        } else {
            any_differs
        }
    ))
}
