//! The write-side registry of admin API sessions: by digest for the API's
//! check, by account for the reaper (which ends the sessions of suspended
//! and removed members). Rows are written only inside appends (the
//! `Registration`s of `SessionStarted` and `SessionEnded`), so they always
//! agree with the log.

use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{Pool, StoreError};

/// A session as stored: never its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRecord {
    pub session_id: Uuid,
    pub account_id: Uuid,
    pub started_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

const COLUMNS: &str = "session_id, account_id, started_at, expires_at";

fn record(row: &Row) -> SessionRecord {
    SessionRecord {
        session_id: row.get(0),
        account_id: row.get(1),
        started_at: row.get(2),
        expires_at: row.get(3),
    }
}

/// The session whose token's SHA-256 digest is `sha256`, if it is live at
/// `now` (not ended, not expired).
pub async fn find_live_session(
    pool: &Pool,
    sha256: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Option<SessionRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from sessions \
             where sha256 = $1 and ended_at is null and expires_at > $2"
        ))
        .await?;
    Ok(client
        .query_opt(&statement, &[&sha256.as_slice(), &now])
        .await?
        .as_ref()
        .map(record))
}

/// The sessions of `account_id` live at `now` that started before `before`,
/// oldest first: those a suspension or removal at `before` must end.
pub async fn live_sessions_started_before(
    pool: &Pool,
    account_id: Uuid,
    before: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Vec<SessionRecord>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "select {COLUMNS} from sessions where account_id = $1 and ended_at is null \
             and started_at < $2 and expires_at > $3 order by started_at, session_id"
        ))
        .await?;
    Ok(client
        .query(&statement, &[&account_id, &before, &now])
        .await?
        .iter()
        .map(record)
        .collect())
}
