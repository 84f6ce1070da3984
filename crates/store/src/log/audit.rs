//! Reading one organization's log for auditors: a selection of its events
//! by page, the events of one request, and the streams that ever had a
//! userName.
//!
//! Events leave here as [`LogRow`]s, as stored: whatever the log does to
//! payloads on their way out, it does in one place for every reader.

use domain::erasable::Opened;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::keys::log_rows_with_keys;
use super::read::{COLUMNS, LogRow};
use crate::{Pool, StoreError};

/// Which events of an organization to read. Unset fields select everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSelection {
    pub org_id: Uuid,
    /// Recorded at or after.
    pub since: Option<OffsetDateTime>,
    /// Recorded before.
    pub until: Option<OffsetDateTime>,
    /// On one of these streams.
    pub stream_ids: Option<Vec<Uuid>>,
    /// Of one of these types.
    pub types: Option<Vec<String>>,
    /// Of none of these types.
    pub except_types: Vec<String>,
    /// Recorded for this request.
    pub request_id: Option<Uuid>,
    /// Recorded for a request with this token (a SCIM token's id, or an
    /// admin API session's).
    pub token_id: Option<Uuid>,
}

impl EventSelection {
    /// The statement's conditions after `org_id = $1 and position > $2`,
    /// with their values: only the filters set, so that PostgreSQL plans
    /// each shape of question for what it asks.
    fn conditions(&self) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
        let mut sql = String::new();
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut and = |condition: &str, value: Box<dyn ToSql + Sync + Send>| {
            values.push(value);
            sql.push_str(&condition.replace('#', &format!("${}", values.len() + 2)));
        };
        if let Some(since) = self.since {
            and(" and recorded_at >= #", Box::new(since));
        }
        if let Some(until) = self.until {
            and(" and recorded_at < #", Box::new(until));
        }
        if let Some(streams) = &self.stream_ids {
            and(" and stream_id = any(#)", Box::new(streams.clone()));
        }
        if let Some(types) = &self.types {
            and(" and event_type = any(#)", Box::new(types.clone()));
        }
        if !self.except_types.is_empty() {
            and(
                " and event_type <> all(#)",
                Box::new(self.except_types.clone()),
            );
        }
        if let Some(request_id) = self.request_id {
            and(
                " and metadata ->> 'request_id' = #",
                Box::new(request_id.to_string()),
            );
        }
        if let Some(token_id) = self.token_id {
            and(
                " and metadata ->> 'token_id' = #",
                Box::new(token_id.to_string()),
            );
        }
        (sql, values)
    }
}

/// Up to `limit` selected events after `position`, in position order: one
/// page of a keyset walk, as long as the history is.
pub async fn read_selection(
    pool: &Pool,
    selection: &EventSelection,
    position: i64,
    limit: i64,
) -> Result<Vec<LogRow>, StoreError> {
    let (conditions, values) = selection.conditions();
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from events where org_id = $1 and position > $2{conditions} \
             order by position limit ${}",
            values.len() + 3
        ))
        .await?;
    let mut parameters: Vec<&(dyn ToSql + Sync)> = vec![&selection.org_id, &position];
    parameters.extend(
        values
            .iter()
            .map(|value| value.as_ref() as &(dyn ToSql + Sync)),
    );
    parameters.push(&limit);
    let rows = client.query(&statement, &parameters).await?;
    log_rows_with_keys(&client, &rows).await
}

/// How many events the selection holds (for a progress bar).
pub async fn count_selection(pool: &Pool, selection: &EventSelection) -> Result<i64, StoreError> {
    let (conditions, values) = selection.conditions();
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select count(*) from events where org_id = $1 and position > $2{conditions}"
        ))
        .await?;
    let mut parameters: Vec<&(dyn ToSql + Sync)> = vec![&selection.org_id, &0i64];
    parameters.extend(
        values
            .iter()
            .map(|value| value.as_ref() as &(dyn ToSql + Sync)),
    );
    Ok(client.query_one(&statement, &parameters).await?.get(0))
}

/// The events request `request_id` produced in `org_id`, in position order
/// (through the index `events_request_id`, V0015).
pub async fn read_request_events(
    pool: &Pool,
    org_id: Uuid,
    request_id: Uuid,
) -> Result<Vec<LogRow>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from events where metadata ->> 'request_id' = $2 \
             and org_id = $1 order by position"
        ))
        .await?;
    let rows = client
        .query(&statement, &[&org_id, &request_id.to_string()])
        .await?;
    log_rows_with_keys(&client, &rows).await
}

/// Every userName each SCIM user of `org_id` has had, as `(user id,
/// userName)` pairs, deleted users included: what `user_name=` is matched
/// against (with `scim::fold_case`, which PostgreSQL cannot compute).
///
/// The user events that carry a whole resource are the only record of past
/// userNames (the read table and the uniqueness claims hold the current
/// ones), and their personal values are sealed (docs/audit-privacy.md): so
/// they are read a page at a time and opened here, and an erased person's
/// names are no longer found. It reads the organization's user events, as
/// long as its history is; an auditor's query, never on a request's path.
pub async fn user_names_ever(pool: &Pool, org_id: Uuid) -> Result<Vec<(Uuid, String)>, StoreError> {
    const PAGE: i64 = 5_000;
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from events where org_id = $1 and position > $2 \
             and event_type in ('UserProvisioned', 'UserReplaced', 'UserPatched') \
             order by position limit $3"
        ))
        .await?;
    let mut names = std::collections::BTreeSet::new();
    let mut after = 0;
    loop {
        let rows = client.query(&statement, &[&org_id, &after, &PAGE]).await?;
        let rows = log_rows_with_keys(&client, &rows).await?;
        let Some(last) = rows.last() else { break };
        after = last.position;
        for row in &rows {
            let payload: serde_json::Value = match row.opened()? {
                Opened::Opened(value) => value,
                Opened::AsStored(text) => serde_json::from_str(text).map_err(|error| {
                    StoreError::Inconsistent(format!(
                        "the event at position {} has an unreadable payload: {error}",
                        row.position
                    ))
                })?,
            };
            if let Some(user_name) = payload["resource"]["userName"]
                .as_str()
                .filter(|&name| name != domain::erasable::ERASED)
            {
                names.insert((row.stream_id, user_name.to_owned()));
            }
        }
    }
    Ok(names.into_iter().collect())
}
