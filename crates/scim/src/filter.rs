//! RFC 7644 §3.4.2.2 filters: the AST, its canonical printed form, and the
//! parse error. Parsing lives in `filter/parse.rs`, evaluation in `filter/eval.rs`.

use std::fmt;

use serde_json::Number;

use crate::error::{ScimError, ScimType};
use crate::path::AttrPath;

mod eval;
mod parse;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of `(`, `not (` and `[` accepted.
pub const MAX_FILTER_DEPTH: usize = 32;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The comparison.
        op: CompareOp,
        /// The literal compared against.
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`.
    Not(Box<Filter>),
    /// `attr[filter]`: some element of `attr` satisfies `filter` (paths inside are relative).
    ///
    /// `attr[f].sub op v` parses as `attr[f and sub op v]`.
    ValuePath {
        /// The (multi-valued or complex) attribute whose elements are tested.
        attr: AttrPath,
        /// The filter each element is tested against.
        filter: Box<Filter>,
    },
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    /// Parses an operator keyword, case-insensitively.
    pub fn parse(word: &str) -> Option<Self> {
        const ALL: [(&str, CompareOp); 9] = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        ALL.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(word))
            .map(|(_, op)| *op)
    }

    /// The lowercase keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison literal.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// A string (quoted, or a legacy unquoted token).
    String(String),
    /// A JSON number.
    Number(Number),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::String(s) => f.write_str(&serde_json::Value::from(s.as_str()).to_string()),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// Why a filter did not parse, and where (byte offset into the filter text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at position {position}: {message}")]
pub struct FilterError {
    /// Byte offset of the problem.
    pub position: usize,
    /// What was expected or wrong.
    pub message: String,
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::bad_request(ScimType::InvalidFilter, e.to_string())
    }
}

impl Filter {
    /// Parses filter text (already URL-decoded) into an AST.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        parse::parse(text)
    }

    /// `a and b`.
    pub fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    /// `a or b`.
    pub fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    /// `not (a)`.
    #[allow(clippy::should_implement_trait)] // mirrors the grammar, like `and`/`or`
    pub fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    /// `path op value`.
    pub fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path, op, value }
    }
}

/// Writes `f`, parenthesised when `wrap` says its shape would re-parse differently.
fn operand(out: &mut fmt::Formatter<'_>, f: &Filter, wrap: bool) -> fmt::Result {
    if wrap {
        write!(out, "({f})")
    } else {
        write!(out, "{f}")
    }
}

impl fmt::Display for Filter {
    /// Canonical form: lowercase keywords, JSON literals, minimal parentheses.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(out, "{path} {op} {value}"),
            Filter::Present(path) => write!(out, "{path} pr"),
            Filter::And(a, b) => {
                operand(out, a, matches!(**a, Filter::Or(..)))?;
                out.write_str(" and ")?;
                operand(out, b, matches!(**b, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(a, b) => {
                operand(out, a, false)?;
                out.write_str(" or ")?;
                operand(out, b, matches!(**b, Filter::Or(..)))
            }
            Filter::Not(a) => write!(out, "not ({a})"),
            Filter::ValuePath { attr, filter } => write!(out, "{attr}[{filter}]"),
        }
    }
}
