//! Signed checkpoints of organizations' chain heads (V0016): what they
//! sign is read here, and they are kept here once signed. Statements about
//! the log beside it, never events in it.

use domain::checkpoint::{Head, SignedCheckpoint};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{Pool, StoreError};

const COLUMNS: &str = "org_id, org_name, head_position, event_count, head_hash, signed_at, \
                       public_key, signature";

/// An organization's head as the log holds it now, to be signed at
/// `signed_at`; `None` for an organization that does not exist.
///
/// The event count is `since.event_count` plus the organization's events
/// after `since.head_position`, so a periodic checkpoint counts only what
/// is new (`since` is the last checkpoint, or none for a count from genesis).
pub async fn read_organization_head(
    pool: &Pool,
    org_id: Uuid,
    since: Option<&Head>,
    signed_at: OffsetDateTime,
) -> Result<Option<Head>, StoreError> {
    let (after, counted) = since.map_or((0, 0), |head| (head.head_position, head.event_count));
    let client = pool.get().await?;
    // One statement, one snapshot: the head and the events counted up to it
    // are the same log. A chain head is visible only once every event of the
    // organization up to it has committed (positions commit in order).
    let statement = client
        .prepare_cached(
            "select o.name, coalesce(h.last_position, 0), h.last_hash, \
                    (select count(*) from events e where e.org_id = o.org_id \
                      and e.position > $2 and e.position <= coalesce(h.last_position, 0)) \
               from organizations o left join chain_heads h on h.org_id = o.org_id \
              where o.org_id = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&statement, &[&org_id, &after]).await? else {
        return Ok(None);
    };
    let hash: Option<Vec<u8>> = row.get(2);
    Ok(Some(Head {
        org_id,
        org_name: row.get(0),
        head_position: row.get(1),
        event_count: counted + row.get::<_, i64>(3),
        head_hash: match hash {
            Some(hash) => fixed(hash, "chain_heads.last_hash")?,
            None => domain::chain::GENESIS,
        },
        signed_at,
    }))
}

/// Keeps a signed checkpoint.
pub async fn insert_signed_checkpoint(
    pool: &Pool,
    signed: &SignedCheckpoint,
) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "insert into signed_checkpoints ({COLUMNS}, key_id) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .await?;
    let head = &signed.head;
    client
        .execute(
            &statement,
            &[
                &head.org_id,
                &head.org_name,
                &head.head_position,
                &head.event_count,
                &head.head_hash.as_slice(),
                &head.signed_at,
                &signed.public_key.as_slice(),
                &signed.signature.as_slice(),
                &signed.key_id(),
            ],
        )
        .await?;
    Ok(())
}

/// The organization's last checkpoint signed by the key `key_id`, if any.
pub async fn last_signed_checkpoint(
    pool: &Pool,
    org_id: Uuid,
    key_id: &str,
) -> Result<Option<SignedCheckpoint>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from signed_checkpoints where org_id = $1 and key_id = $2 \
             order by signed_at desc limit 1"
        ))
        .await?;
    client
        .query_opt(&statement, &[&org_id, &key_id])
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

/// Every checkpoint of the organization, oldest first.
pub async fn list_signed_checkpoints(
    pool: &Pool,
    org_id: Uuid,
) -> Result<Vec<SignedCheckpoint>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from signed_checkpoints where org_id = $1 order by signed_at, key_id"
        ))
        .await?;
    client
        .query(&statement, &[&org_id])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

fn from_row(row: &Row) -> Result<SignedCheckpoint, StoreError> {
    Ok(SignedCheckpoint {
        head: Head {
            org_id: row.get(0),
            org_name: row.get(1),
            head_position: row.get(2),
            event_count: row.get(3),
            head_hash: fixed(row.get(4), "head_hash")?,
            signed_at: row.get(5),
        },
        public_key: fixed(row.get(6), "public_key")?,
        signature: fixed(row.get(7), "signature")?,
    })
}

fn fixed<const N: usize>(bytes: Vec<u8>, column: &str) -> Result<[u8; N], StoreError> {
    bytes.try_into().map_err(|bytes: Vec<u8>| {
        StoreError::Inconsistent(format!(
            "{column} holds {} bytes where {N} were expected",
            bytes.len()
        ))
    })
}
