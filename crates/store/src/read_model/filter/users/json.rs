//! Attributes the projector keeps no column for, compared in `doc` (the
//! stored resource with its keys lower-cased): any value of a multi-valued
//! attribute may match, objects compare their `value`, and strings, numbers
//! and booleans compare as `scim::filter::eval` compares them.

use scim::schema::{AttrType, AttributeSchema, UserSchema, is_core_urn};
use scim::{AttrPath, CompValue, CompareOp};

use super::{Scope, Translator, as_array, as_bool};
use crate::read_model::filter::sql::{
    InvalidFilter, is_ordering, is_substring, like_pattern, refuse, sql_op,
};

impl Translator {
    /// `attr` (a whole attribute, without its sub) as a jsonb expression.
    pub(super) fn top(&mut self, path: &AttrPath, scope: &Scope<'_>) -> String {
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
    pub(super) fn values(&mut self, path: &AttrPath, scope: &Scope<'_>) -> (String, String) {
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
    pub(super) fn facts(path: &AttrPath, scope: &Scope<'_>) -> (AttrType, bool) {
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

    pub(super) fn json(
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
}
