//! `rollcall access-log drop-before`: the access log's retention.
//!
//! Access records are kept by month (`access_log_YYYY_MM`, V0007) and can
//! only leave whole months at a time. For each month that ended by the date
//! given, oldest first: detach its partitions (their rows stop showing in
//! `access_log`), count what they hold, record the drop as an
//! [`Event::AccessLogPartitionDropped`] in every organization's stream, and
//! only then drop them. A month is never gone without its events; a run cut
//! short after the events finds the detached month again and finishes it
//! (recording it a second time). The current month is never dropped.
//!
//! Every organization gets the event, with its own row count, even when it
//! had none: there is no deployment-wide stream, and each auditor must see
//! that a period of access records was removed, with the rows of no
//! organization (refused requests) reported alike in each.

use anyhow::{Context, bail};
use domain::{Event, RequestMeta};
use store::{AccessMonth, AppendRequest, Appender, MonthRows, Pool};
use time::{Date, OffsetDateTime};

/// A month that was dropped, and what it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedMonth {
    pub from: OffsetDateTime,
    pub until: OffsetDateTime,
    pub rows: MonthRows,
    /// Organizations the drop was recorded for.
    pub recorded_for: usize,
}

/// Drops the access log's months that ended on or before `before` (UTC),
/// recording each drop as events. Refuses a date after the start of the
/// month of `now`.
pub async fn drop_before(
    pool: &Pool,
    appender: &Appender,
    before: Date,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<DroppedMonth>> {
    let cutoff = before.midnight().assume_utc();
    let current = now
        .date()
        .replace_day(1)
        .expect("every month has a first day")
        .midnight()
        .assume_utc();
    if cutoff > current {
        bail!(
            "refusing to drop the current month: {before} is after {}, the start of the month \
             being written; give {} or earlier",
            current.date(),
            current.date()
        );
    }
    let months: Vec<AccessMonth> = store::find_access_months(pool)
        .await?
        .into_iter()
        .filter(|month| month.until <= cutoff)
        .collect();
    let mut dropped = Vec::new();
    for month in months {
        store::detach_month(pool, &month).await.with_context(|| {
            format!(
                "detaching {} (only the tables' owner may: connect as the role that ran \
                 the migrations, not rollcall_app)",
                month.tables.join(", ")
            )
        })?;
        let rows = store::count_month(pool, &month).await?;
        let organizations = store::list_organizations(pool).await?;
        for org_id in &organizations {
            let own = rows
                .by_org
                .iter()
                .find(|(id, _)| id == org_id)
                .map_or(0, |(_, count)| *count);
            appender
                .append(AppendRequest {
                    org_id: *org_id,
                    stream_id: *org_id,
                    expected_version: 0,
                    commutes: true,
                    events: vec![Event::AccessLogPartitionDropped {
                        from: month.from,
                        until: month.until,
                        rows: own,
                        unattributed_rows: rows.unattributed,
                        refused_requests: rows.refused_requests,
                    }],
                    claims: Vec::new(),
                    releases: Vec::new(),
                    registrations: Vec::new(),
                    meta: RequestMeta::command_line("access-log drop-before", uuid::Uuid::new_v4()),
                })
                .await
                .with_context(|| format!("recording the drop for organization {org_id}"))?;
        }
        store::drop_month(pool, &month)
            .await
            .with_context(|| format!("dropping {} (already detached)", month.tables.join(", ")))?;
        dropped.push(DroppedMonth {
            from: month.from,
            until: month.until,
            rows,
            recorded_for: organizations.len(),
        });
    }
    Ok(dropped)
}
