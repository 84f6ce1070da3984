//! One page of an organization's rows of a read table in a stable order, and
//! how many match in all: what the user and group lists share.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::filter::sql::{Param, Sql};
use crate::{Pool, StoreError};

/// Longest filter condition whose statements go into the connection's cache.
const CACHED_CONDITION_LEN: usize = 600;

/// What a list reads: `columns` of the rows of `table` that satisfy
/// `condition`.
pub(super) struct Listing<'a> {
    pub table: &'static str,
    pub columns: &'static str,
    /// A condition over the table's columns, its parameters numbered from
    /// `$2` (`$1` is the organization); `None` for every row.
    pub condition: Option<&'a Sql>,
}

/// The rows of `listing` in `org_id`, at most `limit` from `offset`, in the
/// order `order` makes (its parameters numbered from the one it is given),
/// and how many match in all. The order is made only when a page is read.
pub(super) async fn read_page(
    pool: &Pool,
    org_id: Uuid,
    listing: Listing<'_>,
    order: impl FnOnce(usize) -> Sql,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Row>), StoreError> {
    let Listing {
        table,
        columns,
        condition,
    } = listing;
    let (condition, values) = match condition {
        None => ("true", [].as_slice()),
        Some(sql) => (sql.text.as_str(), sql.params.as_slice()),
    };
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&org_id];
    params.extend(values.iter().map(Param::as_sql));
    let client = pool.get().await?;
    // Attribute names and values are parameters, so a short condition has one
    // of few shapes and its statements are worth caching; long ones are
    // prepared afresh, so that odd filters cannot grow every connection's cache.
    let cache = condition.len() <= CACHED_CONDITION_LEN;
    let prepare = |sql: String| {
        let client = &client;
        async move {
            if cache {
                client.prepare_cached(&sql).await
            } else {
                client.prepare(&sql).await
            }
        }
    };
    let count = prepare(format!(
        "select count(*) from {table} where org_id = $1 and {condition}"
    ))
    .await?;
    let total: i64 = client.query_one(&count, &params).await?.get(0);
    if limit == 0 || offset >= total {
        return Ok((total, Vec::new()));
    }
    let order = order(params.len() + 1);
    params.extend(order.params.iter().map(Param::as_sql));
    let n = params.len();
    let page = prepare(format!(
        "select {columns} from {table} where org_id = $1 and {condition} \
         order by {} offset ${} limit ${}",
        order.text,
        n + 1,
        n + 2
    ))
    .await?;
    params.push(&offset);
    params.push(&limit);
    let rows = client.query(&page, &params).await?;
    Ok((total, rows))
}
