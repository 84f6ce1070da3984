//! Retention of the access log: whole months, never single rows.
//!
//! `access_log` and `access_refusals` are partitioned by month
//! (`access_log_2026_11`, `access_refusals_2026_11`); rows can never change,
//! but a month can be detached and dropped whole by the tables' owner. The
//! caller (`rollcall access-log drop-before`) counts what a month holds,
//! records the drop as events, and only then drops it: a month is never gone
//! without a record, and one that was detached but not dropped (a crash) is
//! found again and finished by the next run.

use time::{Date, Month, OffsetDateTime};
use uuid::Uuid;

use crate::{Pool, StoreError};

/// The tables partitioned by month, parents of `<table>_YYYY_MM`.
const PARENTS: [&str; 2] = ["access_log", "access_refusals"];

/// One month of the access log: its partitions that exist, attached or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessMonth {
    pub from: OffsetDateTime,
    pub until: OffsetDateTime,
    /// `access_log_YYYY_MM` and/or `access_refusals_YYYY_MM`.
    pub tables: Vec<String>,
}

/// What a month held, counted before it is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthRows {
    /// `access_log` rows of each organization.
    pub by_org: Vec<(Uuid, i64)>,
    /// `access_log` rows of no organization (samples of refused requests).
    pub unattributed: i64,
    /// `access_refusals` rows, and the refused requests they counted.
    pub refusal_rows: i64,
    pub refused_requests: i64,
}

/// Every month with a partition, oldest first.
pub async fn find_access_months(pool: &Pool) -> Result<Vec<AccessMonth>, StoreError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "select relname::text from pg_class \
             where relnamespace = 'public'::regnamespace and relkind = 'r' \
               and relname ~ '^(access_log|access_refusals)_[0-9]{4}_[0-9]{2}$' \
             order by relname",
            &[],
        )
        .await?;
    let mut months: Vec<AccessMonth> = Vec::new();
    for row in rows {
        let table: String = row.get(0);
        let Some((from, until)) = month_of(&table) else {
            continue;
        };
        match months.iter_mut().find(|month| month.from == from) {
            Some(month) => month.tables.push(table),
            None => months.push(AccessMonth {
                from,
                until,
                tables: vec![table],
            }),
        }
    }
    months.sort_by_key(|month| month.from);
    Ok(months)
}

/// Takes the month's partitions out of their tables: their rows no longer
/// show in `access_log` or `access_refusals`. Only the owner may.
pub async fn detach_month(pool: &Pool, month: &AccessMonth) -> Result<(), StoreError> {
    let client = pool.get().await?;
    for table in &month.tables {
        let attached = client
            .query_opt(
                "select 1 from pg_inherits where inhrelid = $1::text::regclass",
                &[table],
            )
            .await?
            .is_some();
        if attached {
            client
                .batch_execute(&format!(
                    "alter table {} detach partition {}",
                    parent_of(table),
                    quote(table)
                ))
                .await?;
        }
    }
    Ok(())
}

/// Counts what a (detached) month holds.
pub async fn count_month(pool: &Pool, month: &AccessMonth) -> Result<MonthRows, StoreError> {
    let client = pool.get().await?;
    let mut rows = MonthRows::default();
    for table in &month.tables {
        if parent_of(table) == "access_log" {
            for row in client
                .query(
                    &format!(
                        "select org_id, count(*) from {} group by org_id order by org_id",
                        quote(table)
                    ),
                    &[],
                )
                .await?
            {
                match row.get::<_, Option<Uuid>>(0) {
                    Some(org_id) => rows.by_org.push((org_id, row.get(1))),
                    None => rows.unattributed = row.get(1),
                }
            }
        } else {
            let row = client
                .query_one(
                    &format!(
                        "select count(*), coalesce(sum(requests), 0)::bigint from {}",
                        quote(table)
                    ),
                    &[],
                )
                .await?;
            rows.refusal_rows = row.get(0);
            rows.refused_requests = row.get(1);
        }
    }
    Ok(rows)
}

/// Drops the month's (detached) partitions.
pub async fn drop_month(pool: &Pool, month: &AccessMonth) -> Result<(), StoreError> {
    let client = pool.get().await?;
    for table in &month.tables {
        client
            .batch_execute(&format!("drop table if exists {}", quote(table)))
            .await?;
    }
    Ok(())
}

/// The month a partition's name stands for: `access_log_2026_11` is
/// [2026-11-01, 2026-12-01) UTC.
fn month_of(table: &str) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let parent = parent_of(table);
    let suffix = table.strip_prefix(parent)?.strip_prefix('_')?;
    let (year, month) = suffix.split_once('_')?;
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    let from = Date::from_calendar_date(year.parse().ok()?, month, 1).ok()?;
    let until = match month {
        Month::December => Date::from_calendar_date(from.year() + 1, Month::January, 1).ok()?,
        _ => Date::from_calendar_date(from.year(), month.next(), 1).ok()?,
    };
    Some((from.midnight().assume_utc(), until.midnight().assume_utc()))
}

fn parent_of(table: &str) -> &'static str {
    // Longest first: access_log is a prefix of neither, but stay explicit.
    PARENTS
        .iter()
        .copied()
        .find(|parent| {
            table
                .strip_prefix(parent)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .unwrap_or("access_log")
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn partition_names_stand_for_their_month() {
        assert_eq!(
            month_of("access_log_2026_11"),
            Some((
                datetime!(2026-11-01 0:00 UTC),
                datetime!(2026-12-01 0:00 UTC)
            ))
        );
        assert_eq!(
            month_of("access_refusals_2026_12"),
            Some((
                datetime!(2026-12-01 0:00 UTC),
                datetime!(2027-01-01 0:00 UTC)
            ))
        );
        assert_eq!(month_of("access_log_2026_13"), None);
        assert_eq!(parent_of("access_refusals_2026_12"), "access_refusals");
    }
}
