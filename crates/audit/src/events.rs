//! `audit/events`: a filtered page of an organization's events, and the
//! cursor to the next page.
//!
//! Pages are a keyset walk on the log's position: a cursor names the last
//! position given, so pages neither lose nor repeat an event however the
//! log grows meanwhile. Cursors are opaque to callers (base64 of a
//! versioned position), so the walk can change without breaking scripts.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use store::Pool;
use uuid::Uuid;

use crate::error::AuditError;
use crate::filter::{EventFilter, FILTER_PARAMETERS, named};
use crate::view::EventView;

/// Events per page unless asked otherwise.
pub const DEFAULT_LIMIT: i64 = 100;
/// Events per page at most.
pub const MAX_LIMIT: i64 = 1_000;

const CURSOR_PREFIX: &str = "p1:";

/// A page of events and where the next one starts.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub events: Vec<EventView>,
    /// Give it back as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// The question of `audit/events`: a filter, where to start, how many.
#[derive(Debug, Clone, PartialEq)]
pub struct EventQuery {
    pub filter: EventFilter,
    /// The position after which the page starts.
    pub after: i64,
    pub limit: i64,
}

impl EventQuery {
    /// The query named by `pairs` (query parameters or flags): the filter's
    /// parameters, `cursor` and `limit`.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<EventQuery, AuditError> {
        let known = [FILTER_PARAMETERS.as_slice(), &["cursor", "limit"]].concat();
        let mut values: BTreeMap<&str, &str> = named(pairs, &known)?;
        let after = match values.remove("cursor") {
            Some(cursor) => decode_cursor(cursor)?,
            None => 0,
        };
        let limit = match values.remove("limit") {
            Some(limit) => limit
                .parse::<i64>()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                .ok_or_else(|| {
                    AuditError::Invalid(format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT}, not {limit:?}"
                    ))
                })?,
            None => DEFAULT_LIMIT,
        };
        Ok(EventQuery {
            filter: EventFilter::parse(&values)?,
            after,
            limit,
        })
    }
}

/// The page of `org_id`'s events that `query` asks for.
pub async fn page(pool: &Pool, org_id: Uuid, query: &EventQuery) -> Result<Page, AuditError> {
    let selection = query.filter.selection(pool, org_id).await?;
    // One more than asked: whether there is a next page, without a count.
    let mut rows = store::read_selection(pool, &selection, query.after, query.limit + 1).await?;
    let more = rows.len() as i64 > query.limit;
    rows.truncate(query.limit as usize);
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(last.position)),
        _ => None,
    };
    Ok(Page {
        events: rows.iter().map(EventView::of).collect::<Result<_, _>>()?,
        next_cursor,
    })
}

fn encode_cursor(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{position}"))
}

fn decode_cursor(cursor: &str) -> Result<i64, AuditError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(CURSOR_PREFIX)?.parse::<i64>().ok())
        .filter(|position| *position >= 0)
        .ok_or_else(|| {
            AuditError::Invalid(
                "cursor is not one this API gave; pass next_cursor exactly as it came, \
                 or leave it out to start at the beginning"
                    .into(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let query = EventQuery::parse([("cursor", encode_cursor(4_711).as_str())]).unwrap();
        assert_eq!(query.after, 4_711);
        assert_eq!(query.limit, DEFAULT_LIMIT);
        for bad in ["4711", "", "cDE6LTE", "!!"] {
            let refused = EventQuery::parse([("cursor", bad)]).unwrap_err();
            assert!(refused.to_string().contains("next_cursor"), "{bad}");
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(EventQuery::parse([("limit", "1000")]).unwrap().limit, 1_000);
        for bad in ["0", "1001", "ten", "-1"] {
            let refused = EventQuery::parse([("limit", bad)]).unwrap_err();
            assert!(refused.to_string().contains("1 to 1000"), "{bad}");
        }
    }
}
