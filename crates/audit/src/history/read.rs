//! An organization's events read in pages and handed over one at a time,
//! the next page read while the last one is folded.

use anyhow::Context;
use domain::RequestMeta;
use domain::history::Recorded;
use store::{LogRow, Pool};
use uuid::Uuid;

/// Log rows per round trip: big enough that a million events take 200
/// round trips, small enough that a page stays a few megabytes.
const PAGE: i64 = 5_000;

/// Hands `visit` every event of `org_id` after position `after` and at
/// most `until`, in position order.
pub async fn each_event(
    pool: &Pool,
    org_id: Uuid,
    after: i64,
    until: i64,
    mut visit: impl FnMut(&LogRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let page = |after: i64| {
        let pool = pool.clone();
        tokio::spawn(async move {
            store::read_organization_until(&pool, org_id, after, until, PAGE).await
        })
    };
    let mut next = Some(page(after));
    while let Some(reading) = next.take() {
        let rows = reading.await.context("reading the log")??;
        if let Some(last) = rows.last().filter(|_| rows.len() as i64 == PAGE) {
            next = Some(page(last.position));
        }
        for row in &rows {
            visit(row)?;
        }
    }
    Ok(())
}

/// A row's event with the request behind it.
pub fn recorded(row: &LogRow) -> anyhow::Result<Recorded> {
    let request: RequestMeta = serde_json::from_str(&row.metadata).with_context(|| {
        format!(
            "reading the request metadata of the event at {}",
            row.position
        )
    })?;
    Ok(Recorded {
        stored: row.to_stored()?,
        request,
    })
}
