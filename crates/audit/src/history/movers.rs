//! Joiners and leavers of a period, as JSON rows or RFC 4180 CSV.

use std::collections::BTreeMap;

use domain::account::ACCOUNTS;
use domain::history::movers::{CSV_HEADER, Movement, MoverRow, Movers, attach_sessions};
use serde::Serialize;
use store::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::read::{each_event, recorded};

/// Joiners or leavers of a period: `{"org_id","since","until","rows"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoversAnswer {
    pub org_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub rows: Vec<MoverRow>,
}

/// The rows of `movement` whose request was recorded in `[since, until)`.
/// The organization's log is read whole (a request's consequences may come
/// after `until`, and links made before `since` count), skipping events of
/// no concern (groups, tokens, ...); leavers' accounts' streams are read
/// for their sessions.
pub async fn movers(
    pool: &Pool,
    org_id: Uuid,
    movement: Movement,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> anyhow::Result<MoversAnswer> {
    let mut fold = Movers::new(movement);
    each_event(pool, org_id, 0, i64::MAX, |row| {
        if Movers::reads(&row.event_type) {
            fold.apply(&recorded(row)?);
        }
        Ok(())
    })
    .await?;
    let mut rows = fold.rows(since, until);
    if movement == Movement::Leavers {
        let mut accounts: Vec<Uuid> = rows.iter().filter_map(|row| row.account_id).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let mut streams: BTreeMap<Uuid, Vec<domain::StoredEvent>> = BTreeMap::new();
        for row in store::read_streams(pool, ACCOUNTS, &accounts).await? {
            let stored = row.to_stored()?;
            streams.entry(stored.stream_id).or_default().push(stored);
        }
        attach_sessions(&mut rows, &streams);
    }
    Ok(MoversAnswer {
        org_id,
        since,
        until,
        rows,
    })
}

/// The rows as CSV (RFC 4180: CRLF line ends, fields quoted where needed),
/// with a header line of [`CSV_HEADER`].
pub fn to_csv(rows: &[MoverRow]) -> anyhow::Result<String> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_record(CSV_HEADER)?;
    for row in rows {
        writer.write_record(row.csv_record())?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}
