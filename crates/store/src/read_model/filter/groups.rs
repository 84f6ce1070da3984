//! SCIM filters and `sortBy` on Groups, translated into SQL over
//! `scim_groups` and `scim_group_members`.
//!
//! What identity providers filter groups by is answered from indexed
//! columns: `displayName` (case-insensitively: `display_name_folded`, the
//! projector's `scim::fold_case`, against the value folded alike — the key
//! uniqueness claims use, for every operator and for sorting),
//! `externalId` (exactly) and `id`; membership questions —
//! `members[value eq "id"]`, `members.value eq "id"` and Entra's legacy
//! `id eq "g" and members eq "u"` — are one primary-key probe into
//! `scim_group_members`, whatever the group's size. Other attributes of the
//! stored resource are compared through `doc` as strings (with PostgreSQL's
//! `lower()` where case-insensitive). As for users, values are always bind
//! parameters.

use scim::schema::is_core_urn;
use scim::{AttrPath, CompValue, CompareOp, Filter};
use uuid::Uuid;

use super::index_keys;
use super::sql::{InvalidFilter, Param, Sql, bind, date_time, like_pattern, refuse, sql_op};

/// The `where` condition for `filter`, with parameters numbered from `$first`.
pub fn condition(filter: &Filter, first: usize) -> Result<Sql, InvalidFilter> {
    let mut translator = Translator {
        first,
        params: Vec::new(),
    };
    let text = translator.filter(filter)?;
    Ok(Sql {
        text,
        params: translator.params,
    })
}

/// The `order by` clause for `sortBy`, ties (and no `sortBy`) by id.
pub fn order_by(path: Option<&AttrPath>, descending: bool) -> Result<String, InvalidFilter> {
    let Some(path) = path else {
        return Ok("group_id".into());
    };
    let key = match attribute(path) {
        Attribute::DisplayName => "display_name_folded",
        Attribute::ExternalId => "external_id",
        Attribute::Id => "group_id",
        Attribute::Created => "created_at",
        Attribute::LastModified => "updated_at",
        _ => {
            return Err(InvalidFilter(format!(
                "Groups sort by displayName, externalId, id, meta.created or \
                 meta.lastModified, not {path}"
            )));
        }
    };
    let direction = if descending { "desc" } else { "asc" };
    Ok(format!("{key} {direction} nulls last, group_id"))
}

/// What a filter path names on a group.
enum Attribute {
    Id,
    DisplayName,
    ExternalId,
    Created,
    LastModified,
    /// `members` or `members.value`.
    MemberValue,
    /// `members.type`.
    MemberType,
    /// Any other top-level attribute of the stored resource.
    Other(String),
}

fn attribute(path: &AttrPath) -> Attribute {
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if !is_core_urn(path.urn.as_deref()) {
        return Attribute::Other(path.to_string());
    }
    let name = path.name.as_str();
    match path.sub.as_deref() {
        None if is(name, "id") => Attribute::Id,
        None if is(name, "displayName") => Attribute::DisplayName,
        None if is(name, "externalId") => Attribute::ExternalId,
        None if is(name, "members") => Attribute::MemberValue,
        Some(sub) if is(name, "members") && is(sub, "value") => Attribute::MemberValue,
        Some(sub) if is(name, "members") && is(sub, "type") => Attribute::MemberType,
        Some(sub) if is(name, "meta") && is(sub, "created") => Attribute::Created,
        Some(sub) if is(name, "meta") && is(sub, "lastModified") => Attribute::LastModified,
        None => Attribute::Other(name.to_owned()),
        Some(_) => Attribute::Other(path.to_string()),
    }
}

struct Translator {
    first: usize,
    params: Vec<Param>,
}

/// How [`Translator::string`] compares.
#[derive(Clone, Copy)]
enum Case {
    /// As the texts are (also for a folded column against a folded value).
    Exact,
    /// Both sides through PostgreSQL's `lower()`.
    Lower,
}

fn text_of(value: &CompValue) -> Option<String> {
    match value {
        CompValue::String(text) => Some(text.clone()),
        CompValue::Number(number) => Some(number.to_string()),
        CompValue::Bool(flag) => Some(flag.to_string()),
        CompValue::Null => None,
    }
}

impl Translator {
    fn bind(&mut self, param: Param) -> String {
        bind(&mut self.params, self.first, param)
    }

    fn filter(&mut self, filter: &Filter) -> Result<String, InvalidFilter> {
        Ok(match filter {
            Filter::And(a, b) => format!("({} and {})", self.filter(a)?, self.filter(b)?),
            Filter::Or(a, b) => format!("({} or {})", self.filter(a)?, self.filter(b)?),
            Filter::Not(a) => format!("(not {})", self.filter(a)?),
            Filter::Present(path) => self.present(path),
            Filter::Compare { path, op, value } => self.compare(path, *op, value)?,
            Filter::ValuePath { attr, filter } => {
                if !matches!(attribute(attr), Attribute::MemberValue) || attr.sub.is_some() {
                    return Err(InvalidFilter(format!(
                        "{attr}[...]: on Groups only members[...] takes a value filter"
                    )));
                }
                let inner = self.member_filter(filter)?;
                format!("exists (select 1 from scim_group_members m {MEMBER_JOIN} and {inner})")
            }
        })
    }

    fn present(&mut self, path: &AttrPath) -> String {
        match attribute(path) {
            Attribute::Id | Attribute::Created | Attribute::LastModified => "true".into(),
            Attribute::DisplayName => "(display_name <> '')".into(),
            Attribute::ExternalId => "coalesce(external_id <> '', false)".into(),
            Attribute::MemberValue | Attribute::MemberType => {
                format!("exists (select 1 from scim_group_members m {MEMBER_JOIN})")
            }
            Attribute::Other(name) => {
                let key = self.bind(Param::Text(name.to_lowercase()));
                format!("coalesce((doc ->> {key}) <> '', false)")
            }
        }
    }

    fn compare(
        &mut self,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<String, InvalidFilter> {
        let Some(text) = text_of(value) else {
            // `x eq null` is `not (x pr)` (RFC 7644 leaves it open; this is
            // what the user filters do too).
            return match op {
                CompareOp::Eq => Ok(format!("(not {})", self.present(path))),
                CompareOp::Ne => Ok(self.present(path)),
                _ => Err(refuse(path, op, "null compares only with eq and ne")),
            };
        };
        Ok(match attribute(path) {
            Attribute::Id => match (op, Uuid::parse_str(&text)) {
                (CompareOp::Eq, Ok(id)) => format!("(group_id = {})", self.bind(Param::Uuid(id))),
                (CompareOp::Eq, Err(_)) => "false".into(),
                (CompareOp::Ne, Ok(id)) => format!("(group_id <> {})", self.bind(Param::Uuid(id))),
                (CompareOp::Ne, Err(_)) => "true".into(),
                _ => return Err(refuse(path, op, "id compares with eq and ne")),
            },
            Attribute::DisplayName => {
                let key = scim::fold_case(&text);
                self.string("display_name_folded", op, &key, Case::Exact)
            }
            Attribute::ExternalId => self.string("external_id", op, &text, Case::Exact),
            Attribute::Created | Attribute::LastModified => {
                let column = if matches!(attribute(path), Attribute::Created) {
                    "created_at"
                } else {
                    "updated_at"
                };
                let at = date_time(path, op, &text)?;
                format!("({column} {} {})", sql_op(op), self.bind(Param::Time(at)))
            }
            Attribute::MemberValue => {
                let probe = self.member_value(path, op, &text)?;
                format!("exists (select 1 from scim_group_members m {MEMBER_JOIN} and {probe})")
            }
            Attribute::MemberType => {
                let probe = self.member_type(path, op, &text)?;
                format!("exists (select 1 from scim_group_members m {MEMBER_JOIN} and {probe})")
            }
            Attribute::Other(name) => {
                let key = self.bind(Param::Text(name.to_lowercase()));
                self.string(&format!("(doc ->> {key})"), op, &text, Case::Lower)
            }
        })
    }

    /// A string comparison of `column`; `ne` holds for groups that lack the
    /// attribute.
    fn string(&mut self, column: &str, op: CompareOp, text: &str, case: Case) -> String {
        let fold = |expr: String| match case {
            Case::Exact => expr,
            Case::Lower => format!("lower({expr})"),
        };
        if op == CompareOp::Eq && matches!(case, Case::Exact) {
            // The two exact columns are indexed by key (V0009). Not wrapped
            // in coalesce, which would hide the key from the planner; the
            // null test keeps `not (x eq v)` true for groups without x.
            let value = self.bind(Param::Text(text.to_owned()));
            return format!(
                "({column} is not null and {})",
                index_keys::equals(column, &value)
            );
        }
        let left = fold(column.to_owned());
        let comparison = match op {
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                let pattern = self.bind(Param::Text(like_pattern(text, op)));
                format!("{left} like {}", fold(pattern))
            }
            _ => {
                let value = self.bind(Param::Text(text.to_owned()));
                format!("{left} {} {}", sql_op(op), fold(value))
            }
        };
        if op == CompareOp::Ne {
            format!("coalesce({comparison}, true)")
        } else {
            format!("coalesce({comparison}, false)")
        }
    }

    /// A filter inside `members[...]`, over one membership row `m`.
    fn member_filter(&mut self, filter: &Filter) -> Result<String, InvalidFilter> {
        Ok(match filter {
            Filter::And(a, b) => format!(
                "({} and {})",
                self.member_filter(a)?,
                self.member_filter(b)?
            ),
            Filter::Or(a, b) => {
                format!("({} or {})", self.member_filter(a)?, self.member_filter(b)?)
            }
            Filter::Not(a) => format!("(not {})", self.member_filter(a)?),
            Filter::Present(path) if is_sub(path, "value") || is_sub(path, "type") => "true".into(),
            Filter::Compare { path, op, value } if is_sub(path, "value") => {
                let text = text_of(value).unwrap_or_default();
                self.member_value(path, *op, &text)?
            }
            Filter::Compare { path, op, value } if is_sub(path, "type") => {
                let text = text_of(value).unwrap_or_default();
                self.member_type(path, *op, &text)?
            }
            other => {
                return Err(InvalidFilter(format!(
                    "members[{other}]: members are filtered by value and type"
                )));
            }
        })
    }

    fn member_value(
        &mut self,
        path: &AttrPath,
        op: CompareOp,
        text: &str,
    ) -> Result<String, InvalidFilter> {
        Ok(match (op, Uuid::parse_str(text.trim())) {
            (CompareOp::Eq, Ok(id)) => format!("m.member_id = {}", self.bind(Param::Uuid(id))),
            (CompareOp::Eq, Err(_)) => "false".into(),
            (CompareOp::Ne, Ok(id)) => format!("m.member_id <> {}", self.bind(Param::Uuid(id))),
            (CompareOp::Ne, Err(_)) => "true".into(),
            _ => return Err(refuse(path, op, "member values compare with eq and ne")),
        })
    }

    fn member_type(
        &mut self,
        path: &AttrPath,
        op: CompareOp,
        text: &str,
    ) -> Result<String, InvalidFilter> {
        let value = self.bind(Param::Text(text.to_lowercase()));
        Ok(match op {
            CompareOp::Eq => format!("lower(m.member_type) = {value}"),
            CompareOp::Ne => format!("lower(m.member_type) <> {value}"),
            _ => return Err(refuse(path, op, "member types compare with eq and ne")),
        })
    }
}

/// Joins a membership row `m` to the group row being filtered.
const MEMBER_JOIN: &str =
    "where m.org_id = scim_groups.org_id and m.group_id = scim_groups.group_id";

fn is_sub(path: &AttrPath, name: &str) -> bool {
    path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(text: &str) -> Sql {
        condition(&Filter::parse(text).unwrap(), 2).unwrap()
    }

    #[test]
    fn entra_legacy_membership_check_probes_one_membership() {
        let group = Uuid::from_u128(1);
        let user = Uuid::from_u128(2);
        let sql = sql(&format!("id eq \"{group}\" and members eq \"{user}\""));
        assert_eq!(
            sql.text,
            format!(
                "((group_id = $2::uuid) and exists (select 1 from scim_group_members m \
                 {MEMBER_JOIN} and m.member_id = $3::uuid))"
            )
        );
        assert_eq!(sql.params, vec![Param::Uuid(group), Param::Uuid(user)]);
    }

    #[test]
    fn display_name_compares_case_insensitively_and_external_id_exactly() {
        let ops = sql("displayName eq \"ΣΑΣ Ops\"");
        assert_eq!(
            ops.text,
            "(display_name_folded is not null and (left(display_name_folded, 256) \
             = left($2::text, 256) and display_name_folded = $2::text))"
        );
        assert_eq!(ops.params, [Param::Text("σασ ops".into())]);
        let prefix = sql("displayName sw \"ΣΑ\"");
        assert_eq!(
            prefix.text,
            "coalesce(display_name_folded like $2::text, false)"
        );
        assert_eq!(prefix.params, [Param::Text("σα%".into())]);
        assert_eq!(
            order_by(Some(&AttrPath::parse("displayName").unwrap()), false).unwrap(),
            "display_name_folded asc nulls last, group_id"
        );
        assert_eq!(
            sql("externalId eq \"E\"").text,
            "(external_id is not null and (left(external_id, 256) = left($2::text, 256) \
             and external_id = $2::text))"
        );
    }

    #[test]
    fn an_id_that_is_no_uuid_matches_nothing() {
        assert!(sql("members[value eq \"bob\"]").text.contains("false"));
        assert_eq!(sql("id eq \"bob\"").text, "false");
    }

    #[test]
    fn value_filters_other_than_members_are_refused() {
        let refused = condition(&Filter::parse("emails[type eq \"work\"]").unwrap(), 2);
        assert!(refused.is_err());
    }
}
