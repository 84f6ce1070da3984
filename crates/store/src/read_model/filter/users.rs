//! SCIM filters and `sortBy` translated into SQL over `scim_users`.
//!
//! The JSON is read from `doc`, the resource with every key lower-cased
//! (migration V0003), so a filter finds `userName`, `USERNAME` or `username`
//! whatever the client stored.
//!
//! The columns the projector keeps answer what they can: `id` (`user_id`),
//! `userName` (`user_name_folded`, indexed), `externalId` (indexed), `active`,
//! `meta.created`, `meta.lastModified` and `meta.version`. Entra's matching
//! filter `emails[type eq "work"].value eq "x"` uses the GIN index over
//! `work_emails_folded`.
//!
//! `userName` and the work emails compare by [`scim::fold_case`], the key
//! uniqueness claims use too: the projector stores the folded values
//! (V0008) and the filter value is folded here, so every operator (`eq`,
//! `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le`) and `sortBy=userName`
//! compare the folded texts. Other case-insensitive strings, read from
//! `doc`, still compare with PostgreSQL's `lower()`: they are not unique and
//! have no index, and `lower()` differs from the fold only outside ASCII.
//!
//! Semantics follow the in-memory evaluator in `scim::filter::eval`:
//! multi-valued attributes match when any value does, an object compared
//! without a sub-attribute compares its `value`, strings compare
//! case-insensitively unless the schema says `caseExact`, and `"True"`/`"False"`
//! equal the booleans. An absent attribute equals nothing, so `ne` (and
//! `not (... eq ...)`) matches users that lack the attribute: "ne" is true
//! whenever the values are not equal, and nothing is not equal to a value.

use scim::schema::is_core_urn;
use scim::{AttrPath, CompValue, CompareOp, Filter};
use uuid::Uuid;

use super::index_keys;
use super::sql::{
    InvalidFilter, Param, Sql, bind, date_time, is_ordering, is_substring, like_pattern, refuse,
    sql_op,
};

mod json;

/// The `where` condition for `filter`, with parameters numbered from `$first`.
pub fn condition(filter: &Filter, first: usize) -> Result<Sql, InvalidFilter> {
    let mut translator = Translator::new(first);
    let text = translator.filter(filter, &Scope::Root)?;
    Ok(Sql {
        text,
        params: translator.params,
    })
}

/// The `order by` clause for `sortBy` (with `user_id` as the tiebreaker),
/// with parameters numbered from `$first`. Multi-valued attributes sort by
/// their primary value, else their first; users without a value sort last.
pub fn order_by(path: Option<&AttrPath>, descending: bool, first: usize) -> Sql {
    let mut translator = Translator::new(first);
    let text = match path {
        None => "user_id".to_owned(),
        Some(path) => {
            let direction = if descending { "desc" } else { "asc" };
            format!(
                "{} {direction} nulls last, user_id",
                translator.sort_key(path)
            )
        }
    };
    Sql {
        text,
        params: translator.params,
    }
}

/// Where a path is read from: the row, or one element of a multi-valued
/// attribute inside `attr[...]`.
enum Scope<'a> {
    Root,
    Element { alias: String, attr: &'a AttrPath },
}

/// A column the projector keeps, standing for an attribute.
enum Column {
    Id,
    UserName,
    ExternalId,
    Active,
    Created,
    LastModified,
    Version,
    ResourceType,
    /// `meta`, `meta.location`: always present, compared as nothing.
    Opaque,
}

impl Column {
    fn of(path: &AttrPath) -> Option<Column> {
        if !is_core_urn(path.urn.as_deref()) {
            return None;
        }
        let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let name = path.name.as_str();
        match path.sub.as_deref() {
            None if is(name, "id") => Some(Column::Id),
            None if is(name, "userName") => Some(Column::UserName),
            None if is(name, "externalId") => Some(Column::ExternalId),
            None if is(name, "active") => Some(Column::Active),
            None if is(name, "meta") => Some(Column::Opaque),
            Some(sub) if is(name, "meta") => Some(match sub {
                s if is(s, "created") => Column::Created,
                s if is(s, "lastModified") => Column::LastModified,
                s if is(s, "version") => Column::Version,
                s if is(s, "resourceType") => Column::ResourceType,
                _ => Column::Opaque,
            }),
            _ => None,
        }
    }
}

struct Translator {
    first: usize,
    params: Vec<Param>,
    aliases: usize,
}

fn as_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `expr` as an array: itself if it is one, empty when absent or null,
/// else a one-element array.
fn as_array(expr: &str) -> String {
    format!(
        "(case coalesce(jsonb_typeof({expr}), 'null') when 'array' then {expr} \
         when 'null' then '[]'::jsonb else jsonb_build_array({expr}) end)"
    )
}

impl Translator {
    fn new(first: usize) -> Self {
        Self {
            first,
            params: Vec::new(),
            aliases: 0,
        }
    }

    fn bind(&mut self, param: Param) -> String {
        bind(&mut self.params, self.first, param)
    }

    fn text(&mut self, value: impl Into<String>) -> String {
        self.bind(Param::Text(value.into()))
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("j{}", self.aliases)
    }

    fn filter(&mut self, filter: &Filter, scope: &Scope<'_>) -> Result<String, InvalidFilter> {
        Ok(match filter {
            Filter::And(a, b) => {
                format!(
                    "({} and {})",
                    self.filter(a, scope)?,
                    self.filter(b, scope)?
                )
            }
            Filter::Or(a, b) => {
                format!("({} or {})", self.filter(a, scope)?, self.filter(b, scope)?)
            }
            Filter::Not(a) => format!("(not {})", self.filter(a, scope)?),
            Filter::ValuePath { attr, filter } => {
                if let (Scope::Root, Some(email)) = (scope, work_email(attr, filter)) {
                    let value = self.text(scim::fold_case(email));
                    return Ok(index_keys::has_work_email(&value));
                }
                let top = self.top(attr, scope);
                let alias = self.alias();
                let inner = self.filter(
                    filter,
                    &Scope::Element {
                        alias: alias.clone(),
                        attr,
                    },
                )?;
                format!(
                    "exists (select 1 from jsonb_array_elements({}) as {alias}(v) where {inner})",
                    as_array(&top)
                )
            }
            Filter::Present(path) => match (scope, Column::of(path)) {
                (Scope::Root, Some(column)) => match column {
                    Column::UserName => "(user_name <> '')".to_owned(),
                    Column::ExternalId => "coalesce(external_id <> '', false)".to_owned(),
                    _ => "true".to_owned(),
                },
                _ => {
                    let (from, v) = self.values(path, scope);
                    format!(
                        "exists (select 1 from {from} where case jsonb_typeof({v}) \
                         when 'null' then false when 'string' then {v} <> '\"\"' \
                         when 'array' then {v} <> '[]' when 'object' then {v} <> '{{}}' \
                         else true end)"
                    )
                }
            },
            Filter::Compare { path, op, value } => match (scope, Column::of(path)) {
                (Scope::Root, Some(column)) => self.column(&column, path, *op, value)?,
                _ => self.json(path, scope, *op, value)?,
            },
        })
    }

    fn column(
        &mut self,
        column: &Column,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<String, InvalidFilter> {
        let always_present = !matches!(column, Column::ExternalId);
        if *value == CompValue::Null {
            return Ok(match (op, column) {
                (CompareOp::Eq, Column::ExternalId) => "(external_id is null)".to_owned(),
                (CompareOp::Ne, Column::ExternalId) => "(external_id is not null)".to_owned(),
                (CompareOp::Eq, _) => (!always_present).to_string(),
                (CompareOp::Ne, _) => always_present.to_string(),
                _ => "false".to_owned(),
            });
        }
        let test = if op == CompareOp::Ne {
            CompareOp::Eq
        } else {
            op
        };
        let matched = match column {
            Column::Opaque => "false".to_owned(),
            Column::Active => {
                if is_ordering(op) || is_substring(op) {
                    return Err(refuse(path, op, "booleans compare only with eq, ne and pr"));
                }
                let flag = match value {
                    CompValue::Bool(b) => Some(*b),
                    CompValue::String(s) => as_bool(s),
                    _ => None,
                };
                match flag {
                    Some(flag) => format!("(active = {})", self.bind(Param::Bool(flag))),
                    None => "false".to_owned(),
                }
            }
            Column::Created | Column::LastModified => {
                let name = if matches!(column, Column::Created) {
                    "created_at"
                } else {
                    "updated_at"
                };
                let CompValue::String(text) = value else {
                    return Err(refuse(path, op, "expected an xsd:dateTime string"));
                };
                let at = date_time(path, op, text)?;
                format!("({name} {} {})", sql_op(test), self.bind(Param::Time(at)))
            }
            Column::Id => match (test, value) {
                (CompareOp::Eq, CompValue::String(id)) => match Uuid::parse_str(id.trim()) {
                    Ok(id) => format!("(user_id = {})", self.bind(Param::Uuid(id))),
                    Err(_) => "false".to_owned(),
                },
                _ => self.text_column("user_id::text", true, test, value),
            },
            Column::UserName => self.user_name(test, value),
            Column::ExternalId => {
                // Never null (so `not` works) and still an index condition.
                let compared = match (test, value) {
                    (CompareOp::Eq, CompValue::String(id)) => {
                        index_keys::equals("external_id", &self.text(id.clone()))
                    }
                    _ => self.text_column("external_id", true, test, value),
                };
                format!("(external_id is not null and {compared})")
            }
            Column::Version => self.text_column("('W/\"' || version || '\"')", true, test, value),
            Column::ResourceType => self.text_column("'User'", false, test, value),
        };
        Ok(if op == CompareOp::Ne {
            format!("(not {matched})")
        } else {
            matched
        })
    }

    /// `userName op value`: the folded column against the folded value.
    fn user_name(&mut self, op: CompareOp, value: &CompValue) -> String {
        let text = match value {
            CompValue::String(s) => s.clone(),
            CompValue::Number(n) => n.to_string(),
            CompValue::Bool(b) if op == CompareOp::Eq => b.to_string(),
            CompValue::Bool(_) | CompValue::Null => return "false".to_owned(),
        };
        let key = scim::fold_case(&text);
        match op {
            CompareOp::Sw if !key.is_empty() => self.prefix_range(&key),
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                let pattern = self.text(like_pattern(&key, op));
                format!("(user_name_folded like {pattern})")
            }
            CompareOp::Eq => index_keys::equals("user_name_folded", &self.text(key)),
            _ => format!("(user_name_folded {} {})", sql_op(op), self.text(key)),
        }
    }

    /// `userName sw "p"` (`p` folded) as an explicit range over the name's
    /// index plus the exact LIKE. A LIKE alone is an index range only in a
    /// plan made for its value; the plan cache may switch a prepared
    /// statement to a generic plan, which could not use the index for an
    /// unknown pattern and scanned every user of the organization.
    fn prefix_range(&mut self, prefix: &str) -> String {
        let low = self.text(prefix);
        let pattern = self.text(like_pattern(prefix, CompareOp::Sw));
        index_keys::starts_with("user_name_folded", &low, &pattern)
    }

    /// `column op value` on a text column that is never null (or wrapped by the caller).
    fn text_column(
        &mut self,
        column: &str,
        case_exact: bool,
        op: CompareOp,
        value: &CompValue,
    ) -> String {
        let b = match value {
            CompValue::String(s) => s.clone(),
            CompValue::Number(n) => n.to_string(),
            CompValue::Bool(b) if op == CompareOp::Eq => b.to_string(),
            CompValue::Bool(_) | CompValue::Null => return "false".to_owned(),
        };
        let bound = if is_substring(op) {
            self.text(like_pattern(&b, op))
        } else {
            self.text(b)
        };
        if case_exact {
            format!("({column} {} {bound})", sql_op(op))
        } else {
            format!("(lower({column}) {} lower({bound}))", sql_op(op))
        }
    }

    /// The value `path` sorts by.
    fn sort_key(&mut self, path: &AttrPath) -> String {
        if let Some(column) = Column::of(path) {
            match column {
                Column::Id => return "user_id".to_owned(),
                Column::UserName => return "user_name_folded".to_owned(),
                Column::ExternalId => return "external_id".to_owned(),
                Column::Active => return "active".to_owned(),
                Column::Created => return "created_at".to_owned(),
                Column::LastModified => return "updated_at".to_owned(),
                Column::Version => return "version".to_owned(),
                Column::ResourceType | Column::Opaque => return "null::text".to_owned(),
            }
        }
        let (_, case_exact) = Self::facts(path, &Scope::Root);
        let top = self.top(
            &AttrPath {
                sub: None,
                ..path.clone()
            },
            &Scope::Root,
        );
        let element = match &path.sub {
            Some(sub) => format!("s.v -> lower({}) #>> '{{}}'", self.text(sub)),
            None => "case jsonb_typeof(s.v) when 'object' then s.v ->> 'value' \
                     else s.v #>> '{}' end"
                .to_owned(),
        };
        let key = format!(
            "(select {element} from jsonb_array_elements({}) with ordinality as s(v, i) \
             order by lower(s.v ->> 'primary') = 'true' desc nulls last, s.i limit 1)",
            as_array(&top)
        );
        if case_exact {
            key
        } else {
            format!("lower({key})")
        }
    }
}

/// The address `x` when the filter is `attr[type eq "work" and value eq "x"]`
/// on core `emails`, in either order: the shape the work-email index answers.
fn work_email<'f>(attr: &AttrPath, filter: &'f Filter) -> Option<&'f str> {
    if !is_core_urn(attr.urn.as_deref())
        || attr.sub.is_some()
        || !attr.name.eq_ignore_ascii_case("emails")
    {
        return None;
    }
    let Filter::And(a, b) = filter else {
        return None;
    };
    let eq = |f: &'f Filter, name: &str| match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(value),
        } if path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case(name) => {
            Some(value.as_str())
        }
        _ => None,
    };
    let is_work = |f| eq(f, "type").is_some_and(|t| t.eq_ignore_ascii_case("work"));
    if is_work(a) {
        eq(b, "value")
    } else if is_work(b) {
        eq(a, "value")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn sql(filter: &str) -> Sql {
        condition(&Filter::parse(filter).unwrap(), 2).unwrap()
    }

    fn texts(sql: &Sql) -> Vec<String> {
        sql.params
            .iter()
            .map(|p| match p {
                Param::Text(t) => t.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn indexed_filters_use_their_columns_and_index() {
        let user = sql("USERNAME eq \"Bjensen\"");
        assert_eq!(
            user.text,
            "(left(user_name_folded, 256) = left($2::text, 256) and user_name_folded = $2::text)"
        );
        assert_eq!(texts(&user), ["bjensen"]);
        let external = sql("externalId eq \"Ab\"");
        assert_eq!(
            external.text,
            "(external_id is not null and (left(external_id, 256) = left($2::text, 256) \
             and external_id = $2::text))"
        );
        let email = sql("emails[type eq \"Work\"].value eq \"A@Example.com\"");
        assert_eq!(
            email.text,
            "(scim_digests(work_emails_folded) @> array[md5($2::text)] \
             and work_emails_folded @> array[$2::text])"
        );
        assert_eq!(texts(&email), ["a@example.com"]);
    }

    #[test]
    fn user_name_and_work_emails_compare_folded_values() {
        for op in ["eq", "ne", "gt", "ge", "lt", "le"] {
            let sql = sql(&format!("userName {op} \"ΣΑΣ@X\""));
            assert!(sql.text.contains("user_name_folded"), "{}", sql.text);
            assert!(!sql.text.contains("lower("), "{}", sql.text);
            assert_eq!(texts(&sql), ["σασ@x"], "{op}");
        }
        assert_eq!(texts(&sql("userName co \"Σ_\"")), ["%σ\\_%"]);
        assert_eq!(texts(&sql("userName ew \"ΑΣ@X\"")), ["%ασ@x"]);
        let prefix = sql("userName sw \"İN\"");
        assert!(
            prefix
                .text
                .contains("left(user_name_folded, 256) ~>=~ left($2::text, 256)"),
            "{}",
            prefix.text
        );
        assert_eq!(texts(&prefix), ["i\u{307}n", "i\u{307}n%"]);
        let email = sql("emails[type eq \"work\" and value eq \"ΣΑΣ@X\"]");
        assert_eq!(texts(&email), ["σασ@x"]);
    }

    #[test]
    fn values_are_always_parameters() {
        let evil = "x' or 1=1; drop table scim_users; --";
        for filter in [
            format!("userName eq \"{evil}\""),
            format!("title co \"{evil}\""),
            format!("emails[value sw \"{evil}\"]"),
        ] {
            let sql = condition(&Filter::parse(&filter).unwrap(), 2).unwrap();
            assert!(!sql.text.contains("drop"), "{}", sql.text);
            assert!(texts(&sql).iter().any(|t| t.contains("drop table")));
        }
    }

    #[test]
    fn parameters_are_numbered_from_first() {
        let sql = sql("title eq \"a\" and (displayName sw \"b\" or not (nickName pr))");
        for n in 2..2 + sql.params.len() {
            assert!(
                sql.text.contains(&format!("${n}::")),
                "${n} in {}",
                sql.text
            );
        }
        assert!(!sql.text.contains(&format!("${}", 2 + sql.params.len())));
        assert!(sql.text.contains(" and ") && sql.text.contains(" or "));
    }

    #[test]
    fn timestamps_and_booleans_are_typed() {
        let created = sql("meta.created gt \"2025-01-02T03:04:05Z\"");
        assert_eq!(created.text, "(created_at > $2::timestamptz)");
        let active = sql("active eq \"True\"");
        assert_eq!(active.text, "(active = $2::boolean)");
        assert_eq!(active.params, [Param::Bool(true)]);
        for bad in [
            "active gt true",
            "meta.created gt \"yesterday\"",
            "meta.created co \"2025\"",
            "emails[primary lt true]",
        ] {
            assert!(condition(&Filter::parse(bad).unwrap(), 2).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_that_are_not_uuids_match_nothing() {
        assert_eq!(sql("id eq \"nope\"").text, "false");
        assert_eq!(sql("id ne \"nope\"").text, "(not false)");
    }

    #[test]
    fn enterprise_attributes_read_the_extension_object() {
        for filter in [
            "employeeNumber eq \"7\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"7\"",
        ] {
            let sql = sql(filter);
            assert!(
                texts(&sql)
                    .iter()
                    .any(|t| t == scim::schema::ENTERPRISE_USER_URN)
                    || sql.text.contains("jsonb_each(doc)"),
                "{filter}: {}",
                sql.text
            );
        }
    }

    #[test]
    fn sorting_breaks_ties_by_id() {
        assert_eq!(order_by(None, false, 2).text, "user_id");
        let by_name = order_by(Some(&AttrPath::parse("userName").unwrap()), true, 2);
        assert_eq!(by_name.text, "user_name_folded desc nulls last, user_id");
        let by_email = order_by(Some(&AttrPath::parse("emails.value").unwrap()), false, 4);
        assert!(
            by_email.text.starts_with("lower((select"),
            "{}",
            by_email.text
        );
        assert!(by_email.text.contains("$4::text") && by_email.text.contains("$5::text"));
    }
}
