//! The write-side registry of SCIM tokens: by digest for the API's check,
//! by expiry for the reaper. Rows are written only inside appends (the
//! `Registration`s of `ScimTokenIssued`, `ScimTokenRevoked` and
//! `ScimTokenExpired`), so they always agree with the log; the one
//! exception is `last_used_at`, an operational fact like the access log,
//! which the API notes on its own ([`note_token_used`]).

use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{Pool, StoreError};

/// A SCIM token as stored: never the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRecord {
    pub org_id: Uuid,
    pub token_id: Uuid,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When an owner revoked it, if one did.
    pub revoked_at: Option<OffsetDateTime>,
    /// Whether its organization's SCIM provisioning is on.
    pub scim_enabled: bool,
    /// When it last opened a request, to a minute (see [`note_token_used`]).
    pub last_used_at: Option<OffsetDateTime>,
}

const COLUMNS: &str = "t.org_id, t.token_id, t.issued_at, t.expires_at, t.revoked_at, \
     o.scim_enabled, t.last_used_at";
const FROM: &str = "scim_tokens t join organizations o on o.org_id = t.org_id";

fn record(row: &Row) -> TokenRecord {
    TokenRecord {
        org_id: row.get(0),
        token_id: row.get(1),
        issued_at: row.get(2),
        expires_at: row.get(3),
        revoked_at: row.get(4),
        scim_enabled: row.get(5),
        last_used_at: row.get(6),
    }
}

/// The token whose SHA-256 digest is `sha256`, if one was issued.
pub async fn find_token(pool: &Pool, sha256: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from {FROM} where t.token_sha256 = $1"
        ))
        .await?;
    Ok(client
        .query_opt(&statement, &[&sha256.as_slice()])
        .await?
        .as_ref()
        .map(record))
}

/// Every token of an organization, oldest first.
pub async fn list_tokens(pool: &Pool, org_id: Uuid) -> Result<Vec<TokenRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from {FROM} where t.org_id = $1 order by t.issued_at, t.token_id"
        ))
        .await?;
    Ok(client
        .query(&statement, &[&org_id])
        .await?
        .iter()
        .map(record)
        .collect())
}

/// Notes that `token_id` opened a request at `at` (a later note stands).
/// The API calls it at most once a minute per token, off the request's path.
pub async fn note_token_used(
    pool: &Pool,
    token_id: Uuid,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "update scim_tokens set last_used_at = $2 where token_id = $1 \
             and (last_used_at is null or last_used_at < $2)",
        )
        .await?;
    client.execute(&statement, &[&token_id, &at]).await?;
    Ok(())
}

/// The organization `token_id` last wrote to and the position of the last
/// event it appended there; `None` for a token that never wrote. A read with
/// the token waits until the read tables hold that position (DESIGN.md
/// guarantee 8), whichever API process appended it.
pub async fn token_write_position(
    pool: &Pool,
    token_id: Uuid,
) -> Result<Option<(Uuid, i64)>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("select org_id, position from token_write_positions where token_id = $1")
        .await?;
    let row = client.query_opt(&statement, &[&token_id]).await?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

/// Organizations with a token whose end is not recorded (neither revoked
/// nor recorded expired) and that expires before `horizon`: where the
/// reaper may have something to record.
pub async fn organizations_with_tokens_expiring_before(
    pool: &Pool,
    horizon: OffsetDateTime,
) -> Result<Vec<Uuid>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select distinct org_id from scim_tokens where revoked_at is null \
             and expiry_recorded_at is null and expires_at <= $1",
        )
        .await?;
    Ok(client
        .query(&statement, &[&horizon])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// For each organization with a live token at `now`, the soonest expiry.
pub async fn soonest_token_expiries(
    pool: &Pool,
    now: OffsetDateTime,
) -> Result<Vec<(Uuid, OffsetDateTime)>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select org_id, min(expires_at) from scim_tokens \
             where revoked_at is null and expires_at > $1 group by org_id",
        )
        .await?;
    Ok(client
        .query(&statement, &[&now])
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

/// What changed about tokens after `after` (the latest change the caller has
/// seen; both times are the database's): what an API process must forget
/// from its token cache.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenChanges {
    /// Digests of the tokens revoked.
    pub revoked: Vec<[u8; 32]>,
    /// Organizations whose SCIM provisioning was switched on or off.
    pub switched: Vec<Uuid>,
    /// The latest change among them.
    pub latest: Option<OffsetDateTime>,
}

/// The changes to tokens after `after`.
pub async fn token_changes_after(
    pool: &Pool,
    after: OffsetDateTime,
) -> Result<TokenChanges, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "select token_sha256, null::uuid, revoked_at from scim_tokens where revoked_at > $1 \
             union all \
             select null, org_id, scim_changed_at from organizations where scim_changed_at > $1",
        )
        .await?;
    let mut changes = TokenChanges::default();
    for row in client.query(&statement, &[&after]).await? {
        if let Some(digest) = row.get::<_, Option<&[u8]>>(0) {
            changes.revoked.extend(<[u8; 32]>::try_from(digest).ok());
        }
        changes.switched.extend(row.get::<_, Option<Uuid>>(1));
        let at: OffsetDateTime = row.get(2);
        changes.latest = changes.latest.max(Some(at));
    }
    Ok(changes)
}
