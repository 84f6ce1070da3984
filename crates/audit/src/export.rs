//! `audit/export`: an organization's events between two instants, whole, as
//! NDJSON (one `audit/events` object per line) or CSV (a header, then one
//! row per event with the same fields flattened, `data` as JSON text; RFC
//! 4180 quoting, CRLF line ends).
//!
//! Memory stays constant whatever the history's length: the export is a
//! stream of chunks, one per keyset page of [`PAGE`] events read from
//! PostgreSQL when the consumer wants more. Each chunk says how many events
//! it holds and the chain hash of its last one, so that the command line can
//! give the count and the head hash an auditor compares with `rollcall
//! verify --org`.

use futures::Stream;
use store::{EventSelection, Pool};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::error::AuditError;
use crate::filter::{named, parse_time};
use crate::view::EventView;

/// Events read per round trip.
pub const PAGE: i64 = 1_000;

/// The export's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    /// The format named `name` (`ndjson` or `csv`).
    pub fn parse(name: &str) -> Result<Format, AuditError> {
        match name {
            "ndjson" => Ok(Format::Ndjson),
            "csv" => Ok(Format::Csv),
            _ => Err(AuditError::Invalid(format!(
                "format must be ndjson or csv, not {name:?}"
            ))),
        }
    }

    /// The HTTP content type of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8; header=present",
        }
    }

    /// The file name extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }
}

/// What to export: a format and a period.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportQuery {
    pub format: Format,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

impl ExportQuery {
    /// The export named by `pairs` (`format`, default ndjson; `since`;
    /// `until`).
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ExportQuery, AuditError> {
        let values = named(pairs, &["format", "since", "until"])?;
        let time = |name: &str| {
            values
                .get(name)
                .map(|value| parse_time(name, value))
                .transpose()
        };
        let query = ExportQuery {
            format: values
                .get("format")
                .map_or(Ok(Format::Ndjson), |name| Format::parse(name))?,
            since: time("since")?,
            until: time("until")?,
        };
        if let (Some(since), Some(until)) = (query.since, query.until)
            && until <= since
        {
            return Err(AuditError::Invalid(
                "until must be later than since (since is included, until is not)".into(),
            ));
        }
        Ok(query)
    }

    /// The selection of `org_id`'s log it exports.
    pub fn selection(&self, org_id: Uuid) -> EventSelection {
        EventSelection {
            org_id,
            since: self.since,
            until: self.until,
            ..EventSelection::default()
        }
    }
}

/// A piece of an export: the text of up to [`PAGE`] events.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub text: String,
    /// Events in `text`.
    pub events: u64,
    /// The chain hash (hex) of the last of them, when there is one.
    pub last_hash: Option<String>,
}

/// The CSV header: the event view's fields, the request's flattened.
pub const CSV_HEADER: [&str; 13] = [
    "position",
    "recorded_at",
    "type",
    "stream",
    "resource_id",
    "request_id",
    "request_method",
    "request_path",
    "request_token_id",
    "request_client",
    "request_user_agent",
    "request_status",
    "data",
];

struct Walk {
    pool: Pool,
    selection: EventSelection,
    format: Format,
    position: i64,
    started: bool,
    done: bool,
}

/// The export of `query`'s selection of `org_id`, chunk by chunk. A CSV
/// export's first chunk is its header line.
pub fn export(
    pool: Pool,
    org_id: Uuid,
    query: &ExportQuery,
) -> impl Stream<Item = Result<Chunk, AuditError>> + use<> {
    let walk = Walk {
        pool,
        selection: query.selection(org_id),
        format: query.format,
        position: 0,
        started: false,
        done: false,
    };
    futures::stream::try_unfold(walk, |mut walk| async move {
        if !walk.started && walk.format == Format::Csv {
            walk.started = true;
            let header = csv_text(|writer| writer.write_record(CSV_HEADER));
            return Ok(Some((
                Chunk {
                    text: header,
                    events: 0,
                    last_hash: None,
                },
                walk,
            )));
        }
        if walk.done {
            return Ok(None);
        }
        let rows = store::read_selection(&walk.pool, &walk.selection, walk.position, PAGE).await?;
        walk.done = (rows.len() as i64) < PAGE;
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        walk.position = last.position;
        let last_hash = Some(hex::encode(&last.hash));
        let views = rows
            .iter()
            .map(EventView::of)
            .collect::<Result<Vec<_>, _>>()?;
        let text = match walk.format {
            Format::Ndjson => views.iter().fold(String::new(), |mut text, view| {
                text.push_str(&serde_json::to_string(view).expect("views serialize"));
                text.push('\n');
                text
            }),
            Format::Csv => csv_text(|writer| {
                views
                    .iter()
                    .try_for_each(|view| writer.write_record(csv_row(view)))
            }),
        };
        Ok(Some((
            Chunk {
                text,
                events: views.len() as u64,
                last_hash,
            },
            walk,
        )))
    })
}

/// One event's CSV fields, in [`CSV_HEADER`]'s order (empty for null).
fn csv_row(view: &EventView) -> [String; 13] {
    let optional = |value: Option<String>| value.unwrap_or_default();
    let request = &view.request;
    [
        view.position.to_string(),
        view.recorded_at
            .format(&Rfc3339)
            .expect("a recorded time formats"),
        view.event_type.clone(),
        view.stream.to_string(),
        optional(view.resource_id.map(|id| id.to_string())),
        request.id.to_string(),
        request.method.clone(),
        request.path.clone(),
        optional(request.token_id.map(|id| id.to_string())),
        optional(request.client.clone()),
        optional(request.user_agent.clone()),
        request.status.to_string(),
        view.data.to_string(),
    ]
}

/// Text written by a CSV writer with RFC 4180's quoting and line ends.
fn csv_text(write: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    write(&mut writer).expect("CSV is written to memory");
    let bytes = writer.into_inner().expect("CSV is written to memory");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::RequestSummary;
    use serde_json::json;

    #[test]
    fn csv_rows_quote_what_rfc_4180_says_to() {
        let view = EventView {
            position: 7,
            recorded_at: time::macros::datetime!(2026-03-01 09:30:00 UTC),
            event_type: "UserPatched".into(),
            stream: Uuid::from_u128(1),
            resource_id: Some(Uuid::from_u128(1)),
            request: RequestSummary {
                id: Uuid::from_u128(2),
                method: "PATCH".into(),
                path: "/scim_v2/Users/1".into(),
                token_id: None,
                client: Some("203.0.113.9".into()),
                user_agent: Some("Entra, \"SCIM\"\r\nclient".into()),
                status: 200,
            },
            data: json!({"displayName": "Ada, \"the\" first"}),
        };
        let text = csv_text(|writer| writer.write_record(csv_row(&view)));
        assert_eq!(
            text,
            "7,2026-03-01T09:30:00Z,UserPatched,00000000-0000-0000-0000-000000000001,\
             00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002,PATCH,\
             /scim_v2/Users/1,,203.0.113.9,\"Entra, \"\"SCIM\"\"\r\nclient\",200,\
             \"{\"\"displayName\"\":\"\"Ada, \\\"\"the\\\"\" first\"\"}\"\r\n"
        );
    }

    #[test]
    fn formats_and_periods_are_checked() {
        let query =
            ExportQuery::parse([("format", "csv"), ("since", "2026-01-01T00:00:00Z")]).unwrap();
        assert_eq!(query.format, Format::Csv);
        assert!(
            ExportQuery::parse([("format", "xlsx")])
                .unwrap_err()
                .to_string()
                .contains("ndjson or csv")
        );
        assert_eq!(ExportQuery::parse([]).unwrap().format, Format::Ndjson);
    }
}
