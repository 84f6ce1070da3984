//! The auditors' questions as they arrive (query parameters, command-line
//! flags), checked and turned into a selection of the log.
//!
//! Both front ends hand over `(name, value)` pairs, so both refuse the same
//! things with the same messages.

use std::collections::BTreeMap;

use domain::event::{GROUP_TYPES, REFUSAL_TYPES, TYPE_NAMES, USER_TYPES};
use store::{EventSelection, Pool};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::error::AuditError;

/// Whether a request's events were accepted changes or refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything but the refusals.
    Accepted,
    /// The refusals recorded as events ([`REFUSAL_TYPES`]).
    Refused,
}

/// Which events of an organization an auditor asks for; unset fields
/// select everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// Recorded at or after.
    pub since: Option<OffsetDateTime>,
    /// Recorded before.
    pub until: Option<OffsetDateTime>,
    /// Of this type (one of [`TYPE_NAMES`]).
    pub event_type: Option<String>,
    /// Of this SCIM user or group (its `id`).
    pub resource_id: Option<Uuid>,
    /// Of the SCIM users that had this userName at any time, deleted ones
    /// included (compared as SCIM does: case-insensitively).
    pub user_name: Option<String>,
    pub request_id: Option<Uuid>,
    pub token_id: Option<Uuid>,
    pub outcome: Option<Outcome>,
}

/// The parameters [`EventFilter::parse`] knows.
pub const FILTER_PARAMETERS: [&str; 8] = [
    "since",
    "until",
    "type",
    "resource_id",
    "user_name",
    "request_id",
    "token_id",
    "outcome",
];

/// `pairs` by name, each at most once, every name one of `known`.
pub fn named<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    known: &[&str],
) -> Result<BTreeMap<&'a str, &'a str>, AuditError> {
    let mut named = BTreeMap::new();
    for (name, value) in pairs {
        if !known.contains(&name) {
            return Err(AuditError::Invalid(format!(
                "unknown parameter {name:?}; known ones: {}",
                known.join(", ")
            )));
        }
        if named.insert(name, value).is_some() {
            return Err(AuditError::Invalid(format!("give {name} once")));
        }
    }
    Ok(named)
}

/// An RFC 3339 time, or a message that says what is wanted.
pub fn parse_time(name: &str, value: &str) -> Result<OffsetDateTime, AuditError> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|_| {
        AuditError::Invalid(format!(
            "{name} must be an RFC 3339 time such as 2026-03-01T00:00:00Z, not {value:?} \
             (in a URL, write an offset's + as %2B)"
        ))
    })
}

fn parse_id(name: &str, value: &str) -> Result<Uuid, AuditError> {
    Uuid::parse_str(value)
        .map_err(|_| AuditError::Invalid(format!("{name} must be a UUID, not {value:?}")))
}

impl EventFilter {
    /// The filter named by `values` (names of [`FILTER_PARAMETERS`]).
    pub fn parse(values: &BTreeMap<&str, &str>) -> Result<EventFilter, AuditError> {
        let mut filter = EventFilter::default();
        for (&name, &value) in values {
            match name {
                "since" => filter.since = Some(parse_time(name, value)?),
                "until" => filter.until = Some(parse_time(name, value)?),
                "type" if TYPE_NAMES.contains(&value) => filter.event_type = Some(value.into()),
                "type" => {
                    return Err(AuditError::Invalid(format!(
                        "type {value:?} is no event type; one of {}",
                        TYPE_NAMES.join(", ")
                    )));
                }
                "resource_id" => filter.resource_id = Some(parse_id(name, value)?),
                "user_name" if !value.is_empty() => filter.user_name = Some(value.into()),
                "user_name" => {
                    return Err(AuditError::Invalid("user_name must not be empty".into()));
                }
                "request_id" => filter.request_id = Some(parse_id(name, value)?),
                "token_id" => filter.token_id = Some(parse_id(name, value)?),
                "outcome" => {
                    filter.outcome = Some(match value {
                        "accepted" => Outcome::Accepted,
                        "refused" => Outcome::Refused,
                        _ => {
                            return Err(AuditError::Invalid(format!(
                                "outcome must be accepted or refused, not {value:?}"
                            )));
                        }
                    });
                }
                _ => {}
            }
        }
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && until <= since
        {
            return Err(AuditError::Invalid(
                "until must be later than since (since is included, until is not)".into(),
            ));
        }
        Ok(filter)
    }

    /// The selection of `org_id`'s log this filter makes. A `user_name`
    /// is looked up first, among every userName the organization's users
    /// ever had.
    pub async fn selection(&self, pool: &Pool, org_id: Uuid) -> Result<EventSelection, AuditError> {
        let mut streams = self.resource_id.map(|id| vec![id]);
        if let Some(user_name) = &self.user_name {
            let wanted = scim::fold_case(user_name);
            let mut users: Vec<Uuid> = store::user_names_ever(pool, org_id)
                .await?
                .into_iter()
                .filter(|(_, had)| scim::fold_case(had) == wanted)
                .map(|(user, _)| user)
                .collect();
            users.sort();
            users.dedup();
            streams = Some(match streams {
                Some(ids) => ids.into_iter().filter(|id| users.contains(id)).collect(),
                None => users,
            });
        }
        let mut types: Option<Vec<&str>> = self.event_type.as_deref().map(|name| vec![name]);
        let mut narrow = |to: &[&'static str]| {
            types = Some(match types.take() {
                Some(types) => types.into_iter().filter(|t| to.contains(t)).collect(),
                None => to.to_vec(),
            });
        };
        // A user's or group's id is its stream's; only their events have one.
        if self.resource_id.is_some() {
            narrow(&[USER_TYPES.as_slice(), GROUP_TYPES.as_slice()].concat());
        }
        if self.user_name.is_some() {
            narrow(&USER_TYPES);
        }
        if self.outcome == Some(Outcome::Refused) {
            narrow(&REFUSAL_TYPES);
        }
        let except_types = match self.outcome {
            Some(Outcome::Accepted) => REFUSAL_TYPES.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        };
        Ok(EventSelection {
            org_id,
            since: self.since,
            until: self.until,
            stream_ids: streams,
            types: types.map(|types| types.into_iter().map(str::to_owned).collect()),
            except_types,
            request_id: self.request_id,
            token_id: self.token_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<EventFilter, AuditError> {
        EventFilter::parse(&named(pairs.iter().copied(), &FILTER_PARAMETERS)?)
    }

    fn refusal(pairs: &[(&str, &str)]) -> String {
        parse(pairs).unwrap_err().to_string()
    }

    #[test]
    fn bad_parameters_say_what_is_wanted() {
        assert!(refusal(&[("since", "yesterday")]).contains("RFC 3339"));
        assert!(refusal(&[("since", "2026-03-01T00:00:00 01:00")]).contains("%2B"));
        assert!(refusal(&[("type", "UserCreated")]).contains("UserProvisioned"));
        assert!(refusal(&[("outcome", "failed")]).contains("accepted or refused"));
        assert!(refusal(&[("request_id", "42")]).contains("UUID"));
        assert!(refusal(&[("colour", "red")]).contains("known ones: since"));
        assert!(refusal(&[("type", "UserPatched"), ("type", "UserDeleted")]).contains("once"));
        assert!(
            refusal(&[
                ("since", "2026-03-02T00:00:00Z"),
                ("until", "2026-03-01T00:00:00Z")
            ])
            .contains("later than since")
        );
    }

    #[test]
    fn good_parameters_are_read() {
        let filter = parse(&[
            ("since", "2026-03-01T00:00:00+01:00"),
            ("type", "UserPatched"),
            ("outcome", "refused"),
            ("user_name", "Ada@Contoso.com"),
        ])
        .unwrap();
        assert_eq!(
            filter.since.unwrap(),
            time::macros::datetime!(2026-02-28 23:00:00 UTC)
        );
        assert_eq!(filter.event_type.as_deref(), Some("UserPatched"));
        assert_eq!(filter.outcome, Some(Outcome::Refused));
        assert_eq!(filter.user_name.as_deref(), Some("Ada@Contoso.com"));
    }
}
