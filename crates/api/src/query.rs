//! List parameters (`filter`, `startIndex`, `count`), read from the query
//! string case-insensitively; unknown parameters are ignored (Entra appends
//! `aadOptscim062020` to the tenant URL).

use scim::{CompValue, CompareOp, Filter, ScimError, ScimType};
use store::UserQuery;
use uuid::Uuid;

use crate::ApiError;

/// A validated list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    pub query: UserQuery,
    /// 1-based index of the first result.
    pub start_index: i64,
    /// Page size, capped at the advertised maximum.
    pub count: i64,
}

impl ListParams {
    /// Parses a query string.
    pub fn parse(query_string: &str, max_results: i64) -> Result<ListParams, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
            .map_err(|error| ApiError::syntax(format!("the query string is malformed: {error}")))?;
        let mut params = ListParams {
            query: UserQuery::All,
            start_index: 1,
            count: max_results,
        };
        for (name, value) in pairs {
            match name.to_ascii_lowercase().as_str() {
                "filter" => params.query = user_query(&value)?,
                "startindex" => params.start_index = integer(&name, &value)?.max(1),
                "count" => params.count = integer(&name, &value)?.clamp(0, max_results),
                _ => {}
            }
        }
        Ok(params)
    }
}

fn integer(name: &str, value: &str) -> Result<i64, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::syntax(format!("{name} must be an integer, not {value:?}")))
}

/// The read-table query for a filter. The foundation answers the filters
/// Entra and Okta use to match users; the rest of the grammar parses but is
/// refused with a clear `invalidFilter` until the store can evaluate it.
fn user_query(text: &str) -> Result<UserQuery, ApiError> {
    let filter = Filter::parse(text).map_err(ScimError::from)?;
    let Filter::Compare {
        path,
        op: CompareOp::Eq,
        value,
    } = &filter
    else {
        return Err(unsupported(text));
    };
    let core = path
        .urn
        .as_deref()
        .is_none_or(|urn| urn.eq_ignore_ascii_case(domain::user::USER_SCHEMA));
    if !core || path.sub.is_some() {
        return Err(unsupported(text));
    }
    let value = match value {
        CompValue::String(value) => value.clone(),
        _ => return Err(unsupported(text)),
    };
    match path.name.to_ascii_lowercase().as_str() {
        "username" => Ok(UserQuery::UserNameEq(value)),
        "externalid" => Ok(UserQuery::ExternalIdEq(value)),
        "id" => Ok(Uuid::parse_str(&value).map_or(UserQuery::Nothing, UserQuery::IdEq)),
        _ => Err(unsupported(text)),
    }
}

fn unsupported(text: &str) -> ApiError {
    ApiError::Scim(ScimError::bad_request(
        ScimType::InvalidFilter,
        format!(
            "the filter {text:?} is valid SCIM but not supported yet; use userName eq, externalId eq or id eq"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<ListParams, ApiError> {
        ListParams::parse(query, 100)
    }

    #[test]
    fn entra_test_connection_filter_is_understood() {
        let params =
            parse("filter=userName+eq+%22a5b8f0e2-7c1d-4c3e-9f00-1234567890ab%22").unwrap();
        assert_eq!(
            params.query,
            UserQuery::UserNameEq("a5b8f0e2-7c1d-4c3e-9f00-1234567890ab".into())
        );
    }

    #[test]
    fn legacy_unquoted_values_and_odd_parameter_case_work() {
        let params =
            parse("FILTER=externalId%20eq%20jyoung&StartIndex=3&COUNT=2&aadOptscim062020").unwrap();
        assert_eq!(params.query, UserQuery::ExternalIdEq("jyoung".into()));
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
        assert!(parse("filter=title+co+%22x%22").is_err());
    }
}
