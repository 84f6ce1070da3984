//! List parameters (`filter`, `startIndex`, `count`, `sortBy`, `sortOrder`),
//! read from the query string case-insensitively; unknown parameters are
//! ignored (Entra appends `aadOptscim062020` to the tenant URL).
//!
//! A `sortBy` that is no attribute path, or a `sortOrder` other than
//! `ascending`/`descending` (any case), is a 400 `invalidValue`: RFC 7644
//! names no type for bad list parameters, and these are values the request
//! cannot use (`invalidSyntax` is about request bodies).

use scim::{AttrPath, Filter, ScimError, ScimType};
use store::{UserQuery, UserSort};

use crate::ApiError;

/// A validated list request for Users.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    pub query: UserQuery,
    /// `sortBy` and `sortOrder`; `None` keeps the order by id.
    pub sort: Option<UserSort>,
    /// 1-based index of the first result.
    pub start_index: i64,
    /// Page size, capped at the advertised maximum.
    pub count: i64,
}

impl ListParams {
    /// Parses a query string.
    pub fn parse(query_string: &str, max_results: i64) -> Result<ListParams, ApiError> {
        let paging = Paging::parse(query_string, max_results)?;
        Ok(ListParams {
            query: match &paging.filter {
                Some((text, filter)) => user_query(text, filter.clone())?,
                None => UserQuery::All,
            },
            sort: paging.sort_by.map(|by| UserSort {
                by,
                descending: paging.descending,
            }),
            start_index: paging.start_index,
            count: paging.count,
        })
    }
}

/// The list parameters of any resource type, before the store checks the
/// filter and sort against that type.
#[derive(Debug, Clone, PartialEq)]
pub struct Paging {
    /// The filter as sent and as parsed.
    pub filter: Option<(String, Filter)>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    /// 1-based index of the first result.
    pub start_index: i64,
    /// Page size, capped at the advertised maximum.
    pub count: i64,
}

impl Paging {
    /// Parses a query string.
    pub fn parse(query_string: &str, max_results: i64) -> Result<Paging, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
            .map_err(|error| ApiError::syntax(format!("the query string is malformed: {error}")))?;
        let mut paging = Paging {
            filter: None,
            sort_by: None,
            descending: false,
            start_index: 1,
            count: max_results,
        };
        for (name, value) in pairs {
            match name.to_ascii_lowercase().as_str() {
                "filter" => {
                    let filter = Filter::parse(&value).map_err(ScimError::from)?;
                    paging.filter = Some((value, filter));
                }
                "startindex" => paging.start_index = integer(&name, &value)?.max(1),
                "count" => paging.count = integer(&name, &value)?.clamp(0, max_results),
                "sortby" => paging.sort_by = Some(sort_path(&value)?),
                "sortorder" => paging.descending = sort_order(&value)?,
                _ => {}
            }
        }
        Ok(paging)
    }
}

/// A filter or sort the store cannot evaluate: 400 `invalidFilter`.
pub fn unevaluable(text: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::Scim(ScimError::bad_request(
        ScimType::InvalidFilter,
        format!("the filter {text:?} cannot be evaluated: {error}"),
    ))
}

fn integer(name: &str, value: &str) -> Result<i64, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::syntax(format!("{name} must be an integer, not {value:?}")))
}

/// The read-table query for a filter: every valid filter is evaluated by
/// the store; one it cannot evaluate (`active gt true`) is `invalidFilter`.
fn user_query(text: &str, filter: Filter) -> Result<UserQuery, ApiError> {
    UserQuery::filter(filter).map_err(|error| unevaluable(text, error))
}

fn sort_path(value: &str) -> Result<AttrPath, ApiError> {
    AttrPath::parse(value.trim()).map_err(|error| {
        ApiError::Scim(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("sortBy must be an attribute path: {error}"),
        ))
    })
}

fn sort_order(value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "ascending" => Ok(false),
        "descending" => Ok(true),
        _ => Err(ApiError::Scim(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("sortOrder must be \"ascending\" or \"descending\", not {value:?}"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<ListParams, ApiError> {
        ListParams::parse(query, 100)
    }

    fn filter(text: &str) -> UserQuery {
        UserQuery::filter(Filter::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn entra_test_connection_filter_is_understood() {
        let params =
            parse("filter=userName+eq+%22a5b8f0e2-7c1d-4c3e-9f00-1234567890ab%22").unwrap();
        assert_eq!(
            params.query,
            filter("userName eq \"a5b8f0e2-7c1d-4c3e-9f00-1234567890ab\"")
        );
    }

    #[test]
    fn legacy_unquoted_values_and_odd_parameter_case_work() {
        let params =
            parse("FILTER=externalId%20eq%20jyoung&StartIndex=3&COUNT=2&aadOptscim062020").unwrap();
        assert_eq!(params.query, filter("externalId eq \"jyoung\""));
        assert_eq!((params.start_index, params.count), (3, 2));
    }

    #[test]
    fn paging_is_clamped() {
        let params = parse("startIndex=-4&count=100000").unwrap();
        assert_eq!((params.start_index, params.count), (1, 100));
    }

    #[test]
    fn bad_filters_and_numbers_are_refused() {
        assert!(parse("filter=userName+eq").is_err());
        assert!(parse("count=ten").is_err());
        assert!(parse("filter=active+gt+true").is_err());
        assert!(parse("sortOrder=upwards").is_err());
        assert!(parse("sortBy=emails..value").is_err());
    }

    #[test]
    fn the_whole_grammar_and_sorting_are_accepted() {
        let params = parse(
            "filter=title+co+%22x%22+and+not+(emails%5Btype+eq+%22work%22%5D)\
             &SORTBY=name.familyName&sortorder=Descending",
        )
        .unwrap();
        assert_eq!(
            params.query,
            filter("title co \"x\" and not (emails[type eq \"work\"])")
        );
        assert_eq!(
            params.sort,
            Some(UserSort {
                by: AttrPath::parse("name.familyName").unwrap(),
                descending: true
            })
        );
        assert_eq!(parse("sortOrder=descending").unwrap().sort, None);
    }
}
