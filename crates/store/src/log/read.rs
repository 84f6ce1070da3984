//! Reading the event log back.

use std::sync::LazyLock;

use domain::StoredEvent;
use domain::chain::ChainedFields;
use domain::erasable::{self, Opened};
use domain::event::{Event, UnreadableEvent};
use domain::group::ATTRIBUTE_EVENTS;
use domain::partition::{BUCKET_SQL, Partition};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use deadpool_postgres::GenericClient;

use crate::log::keys::{Keyring, attach_keys, log_rows_with_keys};
use crate::{Pool, StoreError};

pub(crate) const COLUMNS: &str = "position, org_id, stream_id, stream_version, event_type, schema_version, \
                       payload::text, metadata::text, recorded_at, prev_hash, hash";

/// One row of the log, every stored field as stored (personal values
/// sealed), with the keys that open them: [`LogRow::to_stored`] and
/// [`LogRow::opened`] read them in clear, or as erased.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    pub position: i64,
    pub org_id: Uuid,
    pub stream_id: Uuid,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: String,
    pub metadata: String,
    pub recorded_at: OffsetDateTime,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    /// The live keys of the people whose values the payload seals.
    pub keys: Keyring,
}

impl LogRow {
    pub(crate) fn from_row(row: &Row) -> LogRow {
        LogRow {
            position: row.get(0),
            org_id: row.get(1),
            stream_id: row.get(2),
            stream_version: row.get(3),
            event_type: row.get(4),
            schema_version: row.get(5),
            payload: row.get(6),
            metadata: row.get(7),
            recorded_at: row.get(8),
            prev_hash: row.get(9),
            hash: row.get(10),
            keys: Keyring::default(),
        }
    }

    /// The payload with its personal values in clear, or erased where
    /// their person's key is gone: what every reader of events sees. As
    /// JSON once opened (a reader parses it anyway); as stored when it
    /// held no sealed value.
    pub fn opened(&self) -> Result<Opened<'_>, StoreError> {
        let key_of = |subject| self.keys.key_of(self.org_id, subject);
        erasable::open_payload(&self.payload, self.stream_id, &key_of).map_err(|error| {
            StoreError::Unreadable(UnreadableEvent {
                event_type: self.event_type.clone(),
                schema_version: self.schema_version,
                reason: error.to_string(),
            })
        })
    }

    /// The stored fields its hash covers.
    pub fn chained_fields(&self) -> ChainedFields<'_> {
        ChainedFields {
            position: self.position,
            org_id: self.org_id,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            recorded_at: self.recorded_at,
            payload: &self.payload,
            metadata: &self.metadata,
        }
    }

    /// The domain event this row holds.
    pub fn to_stored(&self) -> Result<StoredEvent, StoreError> {
        Ok(StoredEvent {
            position: self.position,
            org_id: self.org_id,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            recorded_at: self.recorded_at,
            event: match self.opened()? {
                Opened::AsStored(text) => {
                    Event::from_stored(&self.event_type, self.schema_version, text)?
                }
                Opened::Opened(value) => {
                    Event::from_stored_value(&self.event_type, self.schema_version, value)?
                }
            },
        })
    }
}

/// Every event of one stream, in version order.
pub async fn read_stream(
    pool: &Pool,
    org_id: Uuid,
    stream_id: Uuid,
) -> Result<Vec<StoredEvent>, StoreError> {
    read_stream_after(pool, org_id, stream_id, 0).await
}

/// The version and hash of one stream's last event (`None`: the stream has
/// none). The hash covers every earlier event of the organization, so two
/// reads that return the same head saw the same stream, even in different
/// databases: what a cache of a fold is keyed on.
pub async fn stream_head(
    pool: &Pool,
    org_id: Uuid,
    stream_id: Uuid,
) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    let mut heads = stream_heads(pool, &[(org_id, stream_id)]).await?;
    Ok(heads.pop().flatten())
}

/// [`stream_head`] of each (organization, stream) pair, in the order asked,
/// in one statement.
pub async fn stream_heads(
    pool: &Pool,
    streams: &[(Uuid, Uuid)],
) -> Result<Vec<Option<(i64, Vec<u8>)>>, StoreError> {
    let (org_ids, stream_ids): (Vec<Uuid>, Vec<Uuid>) = streams.iter().copied().unzip();
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select h.stream_version, h.hash \
             from unnest($1::uuid[], $2::uuid[]) with ordinality as q(org_id, stream_id, n) \
             left join lateral (select e.stream_version, e.hash from events e \
                                where e.org_id = q.org_id and e.stream_id = q.stream_id \
                                order by e.stream_version desc limit 1) h on true \
             order by q.n",
        )
        .await?;
    let rows = client.query(&statement, &[&org_ids, &stream_ids]).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let version: Option<i64> = row.get(0);
            version.map(|version| (version, row.get(1)))
        })
        .collect())
}

/// The events of one stream after `version`, in version order: what a
/// snapshot of the stream at `version` lacks.
pub async fn read_stream_after(
    pool: &Pool,
    org_id: Uuid,
    stream_id: Uuid,
    version: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from events where org_id = $1 and stream_id = $2 \
             and stream_version > $3 order by stream_version"
        ))
        .await?;
    let rows = client
        .query(&statement, &[&org_id, &stream_id, &version])
        .await?;
    let rows = log_rows_with_keys(&client, &rows).await?;
    rows.iter().map(LogRow::to_stored).collect()
}

/// A group's attribute events ([`ATTRIBUTE_EVENTS`]) after `version`, in
/// version order, and the stream's version now, read together: what a group
/// change is decided on, given the group's state at `version` (0: none).
/// Member events are not read, however many the group has had.
pub async fn read_group_attributes(
    pool: &Pool,
    org_id: Uuid,
    group_id: Uuid,
    version: i64,
) -> Result<(Vec<StoredEvent>, i64), StoreError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(&READ_GROUP_ATTRIBUTES).await?;
    let rows = client
        .query(&statement, &[&org_id, &group_id, &version])
        .await?;
    let now = rows.first().map_or(0, |row| row.get::<_, i64>(11));
    let mut rows: Vec<LogRow> = rows
        .iter()
        .filter(|row| row.get::<_, Option<i64>>(0).is_some())
        .map(LogRow::from_row)
        .collect();
    attach_keys(&client, &mut rows).await?;
    let events = rows
        .iter()
        .map(LogRow::to_stored)
        .collect::<Result<_, _>>()?;
    Ok((events, now))
}

/// The statement of [`read_group_attributes`]. One statement, so the events
/// and the version come from one snapshot: an attribute event committed
/// between two reads could otherwise be missed under a newer version. A
/// stream without new attribute events is one row of nulls and its version.
///
/// The event types are written into the text, not bound: PostgreSQL uses the
/// partial index `events_group_attributes` (V0005) only where it can prove
/// the index's predicate from the statement, and a generic plan with the
/// types as a parameter reads every event of the stream instead.
static READ_GROUP_ATTRIBUTES: LazyLock<String> = LazyLock::new(|| {
    let columns = COLUMNS
        .split(", ")
        .map(|column| format!("e.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "select {columns}, s.version from streams s left join events e \
         on e.org_id = s.org_id and e.stream_id = s.stream_id \
         and e.event_type in ({}) \
         and e.stream_version > $3 and e.stream_version <= s.version \
         where s.org_id = $1 and s.stream_id = $2 order by e.stream_version",
        attribute_event_list()
    )
});

/// [`ATTRIBUTE_EVENTS`] as a list of SQL literals.
fn attribute_event_list() -> String {
    ATTRIBUTE_EVENTS
        .iter()
        .map(|event_type| format!("'{event_type}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Up to `limit` events after `position`, in position order.
pub async fn read_after(pool: &Pool, position: i64, limit: i64) -> Result<Vec<LogRow>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from events where position > $1 order by position limit $2"
        ))
        .await?;
    let rows = client.query(&statement, &[&position, &limit]).await?;
    log_rows_with_keys(&client, &rows).await
}

/// Up to `limit` events of the types `event_types` after `after` and up to
/// `through`, in position order: what a reader that acts on a few types
/// needs, without the rows (and the keys of their sealed values) it would
/// pass over, nor those at `skipped` (positions its reader knows it needs
/// nothing from).
pub async fn read_types_after(
    pool: &Pool,
    (after, through): (i64, i64),
    event_types: &[&str],
    skipped: &[i64],
    limit: i64,
) -> Result<Vec<LogRow>, StoreError> {
    static OF_TYPES: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLUMNS} from events where position > $1 and position <= $2 \
             and event_type = any($3) and position not in (select unnest($5::bigint[])) \
             order by position limit $4"
        )
    });
    let client = pool.get().await?;
    let statement = client.prepare_cached(&OF_TYPES).await?;
    let rows = client
        .query(
            &statement,
            &[&after, &through, &event_types, &limit, &skipped],
        )
        .await?;
    log_rows_with_keys(&client, &rows).await
}

/// Up to `limit` events of `partition`'s organizations after `after` and up
/// to `through`, in position order (every event for the whole projection).
pub async fn read_partition_after(
    client: &impl GenericClient,
    partition: Partition,
    after: i64,
    through: i64,
    limit: i64,
) -> Result<Vec<LogRow>, StoreError> {
    static WHOLE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLUMNS} from events where position > $1 and position <= $2 \
             order by position limit $3"
        )
    });
    static SPLIT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "select {COLUMNS} from events where position > $1 and position <= $2 \
             and {BUCKET_SQL} % $4 = $5 order by position limit $3"
        )
    });
    let rows = if partition.is_whole() {
        let statement = client.prepare_cached(&WHOLE).await?;
        client
            .query(&statement, &[&after, &through, &limit])
            .await?
    } else {
        let statement = client.prepare_cached(&SPLIT).await?;
        let (count, index) = (partition.count() as i32, partition.index() as i32);
        client
            .query(&statement, &[&after, &through, &limit, &count, &index])
            .await?
    };
    log_rows_with_keys(client, &rows).await
}

/// Up to `limit` events of one organization after `position`, in position
/// order: its hash chain, walked alone.
pub async fn read_organization_after(
    pool: &Pool,
    org_id: Uuid,
    position: i64,
    limit: i64,
) -> Result<Vec<LogRow>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from events where org_id = $1 and position > $2 \
             order by position limit $3"
        ))
        .await?;
    let rows = client
        .query(&statement, &[&org_id, &position, &limit])
        .await?;
    log_rows_with_keys(&client, &rows).await
}

/// The last position assigned.
pub async fn log_head(pool: &Pool) -> Result<i64, StoreError> {
    let client = pool.get().await?;
    let row = client
        .query_one("select last_position from log_head where id = 1", &[])
        .await?;
    Ok(row.get(0))
}

/// Events in the log past the relay's checkpoint: appended, not yet
/// confirmed by the broker.
pub async fn relay_backlog(pool: &Pool) -> Result<i64, StoreError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "select h.last_position - c.position from log_head h \
               cross join checkpoints c where h.id = 1 and c.name = 'relay'",
            &[],
        )
        .await?;
    Ok(row.get::<_, i64>(0).max(0))
}

#[cfg(test)]
mod tests {
    use domain::event::Event;
    use serde_json::json;

    use super::*;

    #[test]
    fn attribute_events_are_the_group_attribute_events() {
        let events = [
            Event::GroupCreated {
                resource: json!({}),
            },
            Event::GroupUpdated {
                resource: json!({}),
            },
            Event::GroupDeleted {},
        ];
        assert_eq!(events.map(|event| event.type_name()), ATTRIBUTE_EVENTS);
    }

    /// The statement must name what the partial index names, or PostgreSQL
    /// reads every event of a group's stream.
    #[test]
    fn attribute_events_are_the_partial_index_predicate() {
        let migration = include_str!("../../../../migrations/V0005__groups.sql");
        let index = &migration[migration
            .find("create index events_group_attributes")
            .expect("V0005 creates the index")..];
        let predicate = index[..index.find(';').expect("the statement ends")]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            predicate.ends_with(&format!("where event_type in ({})", attribute_event_list())),
            "{predicate}"
        );
        assert!(
            READ_GROUP_ATTRIBUTES
                .contains(&format!("e.event_type in ({})", attribute_event_list()))
        );
    }
}
