//! New user rows, a run of them in one statement. In a burst of creates the
//! projector folds tens of `UserProvisioned` in a round, and one insert a
//! row was the largest share of the statements PostgreSQL ran while the
//! burst lasted (issue 13).

use deadpool_postgres::Transaction;
use domain::read_model::UserRowChange;
use time::OffsetDateTime;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::RowParams;
use crate::StoreError;

/// Inserts rows given as parallel arrays. `work_emails_folded` is an array
/// per row, which `unnest` would flatten: each row's goes as a JSON array.
pub(super) const INSERT_USERS: &str = "insert into scim_users (org_id, user_id, user_name, \
     external_id, active, resource, version, created_at, updated_at, doc, user_name_folded, \
     work_emails_folded) \
     select r.org_id, r.user_id, r.user_name, r.external_id, r.active, r.resource::json, \
     r.version, r.created_at, r.updated_at, r.doc::jsonb, r.user_name_folded, \
     array(select e.email from jsonb_array_elements_text(r.work_emails::jsonb) \
           with ordinality as e(email, n) order by e.n) \
     from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bool[], $6::text[], \
     $7::bigint[], $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[], $12::text[]) \
     as r(org_id, user_id, user_name, external_id, active, resource, version, created_at, \
     updated_at, doc, user_name_folded, work_emails)";

/// Inserts the rows of `run` (every one an insert); returns how many it
/// wrote.
pub(super) async fn insert_users(
    transaction: &Transaction<'_>,
    statement: &Statement,
    run: &[RowParams],
) -> Result<u64, StoreError> {
    let mut columns = Columns::with_capacity(run.len());
    for params in run {
        let UserRowChange::Insert(row) = &params.change else {
            unreachable!("a run of new users holds inserts only");
        };
        columns.org_id.push(params.org_id);
        columns.user_id.push(params.user_id);
        columns.user_name.push(&row.user_name);
        columns.external_id.push(row.external_id.as_deref());
        columns.active.push(row.active);
        columns.resource.push(&params.resource);
        columns.version.push(row.version);
        columns.created_at.push(row.created_at);
        columns.updated_at.push(row.updated_at);
        columns.doc.push(&params.doc);
        columns.user_name_folded.push(&params.keys.user_name);
        columns
            .work_emails
            .push(serde_json::to_string(&params.keys.work_emails).expect("strings serialize"));
    }
    let values: [&(dyn ToSql + Sync); 12] = [
        &columns.org_id,
        &columns.user_id,
        &columns.user_name,
        &columns.external_id,
        &columns.active,
        &columns.resource,
        &columns.version,
        &columns.created_at,
        &columns.updated_at,
        &columns.doc,
        &columns.user_name_folded,
        &columns.work_emails,
    ];
    Ok(transaction.execute(statement, &values).await?)
}

/// The statement's parameters, a column each.
struct Columns<'r> {
    org_id: Vec<Uuid>,
    user_id: Vec<Uuid>,
    user_name: Vec<&'r str>,
    external_id: Vec<Option<&'r str>>,
    active: Vec<bool>,
    resource: Vec<&'r str>,
    version: Vec<i64>,
    created_at: Vec<OffsetDateTime>,
    updated_at: Vec<OffsetDateTime>,
    doc: Vec<&'r str>,
    user_name_folded: Vec<&'r str>,
    work_emails: Vec<String>,
}

impl Columns<'_> {
    fn with_capacity(rows: usize) -> Self {
        Columns {
            org_id: Vec::with_capacity(rows),
            user_id: Vec::with_capacity(rows),
            user_name: Vec::with_capacity(rows),
            external_id: Vec::with_capacity(rows),
            active: Vec::with_capacity(rows),
            resource: Vec::with_capacity(rows),
            version: Vec::with_capacity(rows),
            created_at: Vec::with_capacity(rows),
            updated_at: Vec::with_capacity(rows),
            doc: Vec::with_capacity(rows),
            user_name_folded: Vec::with_capacity(rows),
            work_emails: Vec::with_capacity(rows),
        }
    }
}
