//! SCIM filters (RFC 7644 §3.4.2.2) and `sortBy` translated into SQL over
//! `scim_users`.
//!
//! Filter values, and the attribute names that reach into the JSON resource,
//! are always bind parameters; the SQL text is built only from this file's
//! fragments, so no input is ever spliced into a statement. The JSON is read
//! from `doc`, the resource with every key lower-cased (migration V0003), so a
//! filter finds `userName`, `USERNAME` or `username` whatever the client stored.
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

use crate::index_keys;
use scim::schema::{AttrType, AttributeSchema, UserSchema, is_core_urn};
use scim::{AttrPath, CompValue, CompareOp, Filter};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// The copy of a resource that filters read: every object key lower-cased, at
/// every depth, values untouched; of two keys that fold alike the later wins.
/// The projector stores it in `scim_users.doc` (it was V0003's generated
/// column, `scim_fold_keys`, until V0004 moved the work here).
pub fn fold_keys(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| (key.to_lowercase(), fold_keys(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(fold_keys).collect()),
        other => other.clone(),
    }
}

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

/// SQL text over `scim_users` and the parameters it numbers from `first`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Param>,
}

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

pub(crate) fn refuse(path: &AttrPath, op: CompareOp, why: &str) -> InvalidFilter {
    InvalidFilter(format!("{path} {op} ...: {why}"))
}

fn is_ordering(op: CompareOp) -> bool {
    matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    )
}

fn is_substring(op: CompareOp) -> bool {
    matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
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

/// The instant a `meta.created`/`meta.lastModified` comparison names.
pub(crate) fn date_time(
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
pub(crate) fn bind(params: &mut Vec<Param>, first: usize, param: Param) -> String {
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
pub(crate) fn like_pattern(value: &str, op: CompareOp) -> String {
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
pub(crate) fn sql_op(op: CompareOp) -> &'static str {
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

    /// `attr` (a whole attribute, without its sub) as a jsonb expression.
    fn top(&mut self, path: &AttrPath, scope: &Scope<'_>) -> String {
        let name = self.text(&path.name);
        match scope {
            Scope::Element { alias, .. } => format!("({alias}.v -> lower({name}))"),
            Scope::Root => match path.urn.as_deref() {
                Some(urn) if !is_core_urn(Some(urn)) => {
                    let urn = self.text(urn);
                    format!("(doc -> lower({urn}) -> lower({name}))")
                }
                Some(_) => format!("(doc -> lower({name}))"),
                // A bare name: top level, else the first extension object that has it
                // (so `employeeNumber` finds the enterprise one), as `eval` does.
                None => format!(
                    "coalesce(doc -> lower({name}), (select x.value -> lower({name}) \
                     from jsonb_each(doc) as x where x.key like 'urn:%' \
                     and jsonb_typeof(x.value) = 'object' and x.value ? lower({name}) limit 1))"
                ),
            },
        }
    }

    /// A `from` list yielding every value `path` reaches (arrays flattened),
    /// and the expression naming one value.
    fn values(&mut self, path: &AttrPath, scope: &Scope<'_>) -> (String, String) {
        let top = self.top(path, scope);
        let outer = self.alias();
        let mut from = format!("jsonb_array_elements({}) as {outer}(v)", as_array(&top));
        let mut value = format!("{outer}.v");
        if let Some(sub) = &path.sub {
            let sub = self.text(sub);
            let inner = self.alias();
            from.push_str(&format!(
                " cross join lateral jsonb_array_elements({}) as {inner}(v)",
                as_array(&format!("({outer}.v -> lower({sub}))"))
            ));
            value = format!("{inner}.v");
        }
        (from, value)
    }

    /// Schema facts about `path`, read relative to the scope.
    fn facts(path: &AttrPath, scope: &Scope<'_>) -> (AttrType, bool) {
        let schema = UserSchema;
        match scope {
            Scope::Root => {
                let urn = path.urn.as_deref().filter(|u| !is_core_urn(Some(u)));
                let (name, sub) = (path.name.as_str(), path.sub.as_deref());
                (
                    schema.attribute_type(urn, name, sub),
                    schema.is_case_exact(urn, name, sub),
                )
            }
            Scope::Element { attr, .. } => {
                let urn = attr.urn.as_deref().filter(|u| !is_core_urn(Some(u)));
                let sub = Some(path.name.as_str());
                (
                    schema.attribute_type(urn, &attr.name, sub),
                    schema.is_case_exact(urn, &attr.name, sub),
                )
            }
        }
    }

    fn json(
        &mut self,
        path: &AttrPath,
        scope: &Scope<'_>,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<String, InvalidFilter> {
        let (ty, case_exact) = Self::facts(path, scope);
        if ty == AttrType::Boolean && (is_ordering(op) || is_substring(op)) {
            return Err(refuse(path, op, "booleans compare only with eq, ne and pr"));
        }
        if *value == CompValue::Null {
            let (from, v) = self.values(path, scope);
            let any = format!("exists (select 1 from {from} where jsonb_typeof({v}) <> 'null')");
            return Ok(match op {
                CompareOp::Eq => format!("(not {any})"),
                CompareOp::Ne => any,
                _ => "false".to_owned(),
            });
        }
        let test = if op == CompareOp::Ne {
            CompareOp::Eq
        } else {
            op
        };
        let (from, v) = self.values(path, scope);
        let w = self.alias();
        let predicate = self.json_predicate(&format!("{w}.w"), test, value, case_exact);
        let any = format!(
            "exists (select 1 from {from} cross join lateral (select case jsonb_typeof({v}) \
             when 'object' then {v} -> 'value' else {v} end) as {w}(w) where {predicate})"
        );
        Ok(if op == CompareOp::Ne {
            format!("(not {any})")
        } else {
            any
        })
    }

    /// Whether the jsonb value `w` satisfies `op value` (`op` is never `ne`).
    fn json_predicate(
        &mut self,
        w: &str,
        op: CompareOp,
        value: &CompValue,
        case_exact: bool,
    ) -> String {
        let text = format!("({w} #>> '{{}}')");
        let mut branches = Vec::new();
        let fold = |s: String| {
            if case_exact { s } else { format!("lower({s})") }
        };
        let strings = |this: &mut Self, b: &str| {
            let bound = if is_substring(op) {
                this.text(like_pattern(b, op))
            } else {
                this.text(b)
            };
            format!(
                "(jsonb_typeof({w}) = 'string' and {} {} {})",
                fold(text.clone()),
                sql_op(op),
                fold(bound)
            )
        };
        match value {
            CompValue::String(b) => {
                branches.push(strings(self, b));
                if let (CompareOp::Eq, Some(flag)) = (op, as_bool(b)) {
                    let flag = self.text(flag.to_string());
                    branches.push(format!(
                        "(jsonb_typeof({w}) in ('string', 'boolean') and lower({text}) = {flag})"
                    ));
                }
                if !is_substring(op)
                    && let Ok(number) = serde_json::from_str::<serde_json::Number>(b.trim())
                {
                    let number = self.text(number.to_string());
                    branches.push(format!(
                        "(jsonb_typeof({w}) = 'number' and {text}::numeric {} {number}::numeric)",
                        sql_op(op)
                    ));
                }
            }
            CompValue::Number(n) => {
                branches.push(strings(self, &n.to_string()));
                if !is_substring(op) {
                    let number = self.text(n.to_string());
                    branches.push(format!(
                        "(jsonb_typeof({w}) = 'number' and {text}::numeric {} {number}::numeric)",
                        sql_op(op)
                    ));
                }
            }
            CompValue::Bool(b) if op == CompareOp::Eq => {
                let flag = self.text(b.to_string());
                branches.push(format!(
                    "(jsonb_typeof({w}) in ('string', 'boolean') and lower({text}) = {flag})"
                ));
            }
            CompValue::Bool(_) | CompValue::Null => branches.push("false".to_owned()),
        }
        format!("({})", branches.join(" or "))
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

    #[test]
    fn fold_keys_lower_cases_every_key_and_no_value() {
        let folded = super::fold_keys(&serde_json::json!({
            "userName": "Ada", "Emails": [{"Type": "Work", "VALUE": "A@B.C"}],
            "urn:X:User": {"employeeNumber": "E1"}
        }));
        assert_eq!(
            folded,
            serde_json::json!({
                "username": "Ada", "emails": [{"type": "Work", "value": "A@B.C"}],
                "urn:x:user": {"employeenumber": "E1"}
            })
        );
    }

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
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a%b_c\\", CompareOp::Sw), "a\\%b\\_c\\\\%");
        assert_eq!(like_pattern("x", CompareOp::Ew), "%x");
        assert_eq!(like_pattern("x", CompareOp::Co), "%x%");
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
