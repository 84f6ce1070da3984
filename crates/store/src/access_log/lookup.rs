//! Finding one request's access records again, for auditors.

use std::collections::BTreeMap;

use domain::RequestMeta;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Pool, StoreError};

/// An access record as stored (`account_id` is not kept in the access log).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAccessRecord {
    pub recorded_at: OffsetDateTime,
    pub meta: RequestMeta,
    /// Why it was refused, for a refusal.
    pub detail: Option<String>,
}

/// The access records of request `request_id` of `org_id`, in the order
/// they were written: one for a read or a refused request, one per failed
/// operation of a bulk request. Uses `access_log_request_id` (V0015).
pub async fn find_access_records(
    pool: &Pool,
    org_id: Uuid,
    request_id: Uuid,
) -> Result<Vec<StoredAccessRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select recorded_at, method, path, token_id, client_addr, user_agent, status, \
             body_sha256, detail, headers::text from access_log \
             where request_id = $2 and org_id = $1 order by id",
        )
        .await?;
    let rows = client.query(&statement, &[&org_id, &request_id]).await?;
    rows.iter()
        .map(|row| {
            let headers: Option<String> = row.get(9);
            let headers: BTreeMap<String, String> = match headers {
                Some(text) => serde_json::from_str(&text).map_err(|error| {
                    StoreError::Inconsistent(format!(
                        "the access record of request {request_id} has unreadable headers: {error}"
                    ))
                })?,
                None => BTreeMap::new(),
            };
            let status: i32 = row.get(6);
            Ok(StoredAccessRecord {
                recorded_at: row.get(0),
                meta: RequestMeta {
                    request_id,
                    method: row.get(1),
                    path: row.get(2),
                    token_id: row.get(3),
                    account_id: None,
                    client_addr: row.get(4),
                    user_agent: row.get(5),
                    status: u16::try_from(status).unwrap_or_default(),
                    body_sha256: row.get(7),
                    headers,
                },
                detail: row.get(8),
            })
        })
        .collect()
}
