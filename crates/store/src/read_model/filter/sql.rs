//! The toolkit both filter translators build with: the parameters a
//! condition binds, the refusal of a filter that cannot be evaluated, and
//! the fragments every comparison needs (placeholders, LIKE patterns, SQL
//! operators, dateTime values).

use scim::{AttrPath, CompareOp};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// A filter or sort that parses but cannot be evaluated (e.g. `active gt
/// true`, or a `meta.created` value that is no dateTime). Answer 400
/// `invalidFilter` with the message as `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFilter(pub String);

/// A bind parameter of a translated condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Uuid(Uuid),
    Bool(bool),
    Time(OffsetDateTime),
}

impl Param {
    /// The value to hand to `tokio_postgres`.
    pub fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(value) => value,
            Param::Uuid(value) => value,
            Param::Bool(value) => value,
            Param::Time(value) => value,
        }
    }
}

/// A translated condition or order: SQL text, and the parameters it
/// numbers from the `first` it was made with.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Param>,
}

/// Why `path op ...` cannot be evaluated.
pub(super) fn refuse(path: &AttrPath, op: CompareOp, why: &str) -> InvalidFilter {
    InvalidFilter(format!("{path} {op} ...: {why}"))
}

pub(super) fn is_ordering(op: CompareOp) -> bool {
    matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    )
}

pub(super) fn is_substring(op: CompareOp) -> bool {
    matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
}

/// The instant a `meta.created`/`meta.lastModified` comparison names.
pub(super) fn date_time(
    path: &AttrPath,
    op: CompareOp,
    text: &str,
) -> Result<OffsetDateTime, InvalidFilter> {
    if is_substring(op) {
        return Err(refuse(
            path,
            op,
            "dateTime attributes compare with eq, ne, gt, ge, lt, le and pr",
        ));
    }
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| {
        refuse(
            path,
            op,
            "expected an xsd:dateTime such as \"2025-01-31T12:00:00Z\"",
        )
    })
}

/// Adds `param` to `params` (numbered from `$first`) and returns its
/// placeholder, cast to its type.
pub(super) fn bind(params: &mut Vec<Param>, first: usize, param: Param) -> String {
    let cast = match param {
        Param::Text(_) => "text",
        Param::Uuid(_) => "uuid",
        Param::Bool(_) => "boolean",
        Param::Time(_) => "timestamptz",
    };
    params.push(param);
    format!("${}::{cast}", first + params.len() - 1)
}

/// A LIKE pattern for `co`/`sw`/`ew`, with `\`, `%` and `_` escaped.
pub(super) fn like_pattern(value: &str, op: CompareOp) -> String {
    let mut escaped = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    match op {
        CompareOp::Sw => format!("{escaped}%"),
        CompareOp::Ew => format!("%{escaped}"),
        _ => format!("%{escaped}%"),
    }
}

/// The SQL operator of an `eq`/ordering comparison.
pub(super) fn sql_op(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "like",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a%b_c\\", CompareOp::Sw), "a\\%b\\_c\\\\%");
        assert_eq!(like_pattern("x", CompareOp::Ew), "%x");
        assert_eq!(like_pattern("x", CompareOp::Co), "%x%");
    }
}
