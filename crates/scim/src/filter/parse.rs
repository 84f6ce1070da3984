//! Recursive-descent filter parser. Precedence: `not` > `and` > `or`, both
//! binary operators left-associative. Lenient where Entra needs it: keywords and
//! operators in any case, runs of any whitespace, unquoted legacy values.

use serde_json::Number;

use super::{CompValue, CompareOp, Filter, FilterError, MAX_FILTER_DEPTH, MAX_FILTER_LEN};
use crate::path::{AttrPath, is_name_char};

pub(super) fn parse(text: &str) -> Result<Filter, FilterError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(FilterError {
            position: MAX_FILTER_LEN,
            message: format!("filter is longer than {MAX_FILTER_LEN} bytes"),
        });
    }
    // PostgreSQL text cannot hold NUL: such a value could match nothing, and
    // binding it would fail the query as if the database were down.
    if let Some(position) = text.find('\0') {
        return Err(FilterError {
            position,
            message: "filter contains the character U+0000 (NUL); remove it".into(),
        });
    }
    let mut p = Parser {
        src: text,
        pos: 0,
        depth: 0,
        deepest: 0,
        in_value_path: false,
    };
    let filter = p.parse_or()?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.error(p.pos, "unexpected input after the end of the expression"));
    }
    // The canonical form quotes legacy values and spaces operators, so it can
    // outgrow the text; keep it within the limit so that it parses back.
    if filter.to_string().len() > MAX_FILTER_LEN {
        return Err(p.error(
            text.len(),
            format!("filter is longer than {MAX_FILTER_LEN} bytes once normalised"),
        ));
    }
    Ok(filter)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    /// The greatest `depth` reached since the last value filter opened.
    deepest: usize,
    in_value_path: bool,
}

/// Characters of an attribute path token: names, `.` and the `:` of URNs.
fn is_path_char(c: char) -> bool {
    is_name_char(c) || matches!(c, ':' | '.')
}

impl<'a> Parser<'a> {
    fn error(&self, position: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            position,
            message: message.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Consumes the longest prefix whose chars satisfy `pred`, returning it.
    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        let len = self.rest().find(|c| !pred(c)).unwrap_or(self.rest().len());
        self.pos += len;
        &self.src[start..self.pos]
    }

    /// Consumes keyword `kw` (any case) after optional whitespace if it stands alone.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let save = self.pos;
        self.skip_ws();
        let rest = self.rest();
        let matched = rest
            .get(..kw.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(kw))
            && !rest[kw.len()..].starts_with(is_path_char);
        if matched {
            self.pos += kw.len();
        } else {
            self.pos = save;
        }
        matched
    }

    /// Whether `not` followed by optional whitespace and `(` starts here.
    fn at_not(&self) -> bool {
        let rest = self.rest();
        rest.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("not"))
            && rest[3..].trim_start().starts_with('(')
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        self.deepest = self.deepest.max(self.depth);
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.error(at, format!("nesting deeper than {MAX_FILTER_DEPTH} levels")));
        }
        Ok(())
    }

    fn expect(&mut self, c: char, opened_at: usize) -> Result<(), FilterError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            self.depth -= 1;
            Ok(())
        } else {
            Err(self.error(
                self.pos,
                format!("expected '{c}' to close the one at position {opened_at}"),
            ))
        }
    }

    fn parse_or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_and()?;
        while self.eat_keyword("or") {
            left = Filter::or(left, self.parse_and()?);
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary()?;
        while self.eat_keyword("and") {
            left = Filter::and(left, self.parse_unary()?);
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter, FilterError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('(') {
            self.enter(start)?;
            self.pos += 1;
            let inner = self.parse_or()?;
            self.expect(')', start)?;
            return Ok(inner);
        }
        if self.at_not() {
            self.enter(start)?;
            self.pos += 3;
            self.skip_ws();
            let open = self.pos;
            self.pos += 1;
            let inner = self.parse_or()?;
            self.expect(')', open)?;
            return Ok(Filter::not(inner));
        }
        self.parse_attr_expr()
    }

    fn parse_attr_expr(&mut self) -> Result<Filter, FilterError> {
        let start = self.pos;
        let text = self.take_while(is_path_char);
        if text.is_empty() {
            return Err(self.error(start, "expected an attribute path, '(' or 'not'"));
        }
        let path = AttrPath::parse(text).map_err(|e| self.error(start, e.to_string()))?;
        if self.peek() != Some('[') {
            return self.parse_comparison(path);
        }
        let open = self.pos;
        if self.in_value_path {
            return Err(self.error(open, "value filters cannot be nested"));
        }
        if path.sub.is_some() {
            return Err(self.error(
                start,
                "a value filter must follow an attribute, not a sub-attribute",
            ));
        }
        self.enter(open)?;
        self.deepest = self.depth;
        self.pos += 1;
        self.in_value_path = true;
        let inner = self.parse_or()?;
        self.in_value_path = false;
        self.expect(']', open)?;
        let inner = if self.peek() == Some('.') {
            // `attr[a or b].sub op v` prints as `attr[(a or b) and sub op v]`: one level deeper.
            if matches!(inner, Filter::Or(..)) && self.deepest >= MAX_FILTER_DEPTH {
                return Err(self.error(
                    open,
                    format!("nesting deeper than {MAX_FILTER_DEPTH} levels"),
                ));
            }
            self.pos += 1;
            let sub_start = self.pos;
            let sub = self.take_while(is_name_char);
            let sub = AttrPath::parse(sub).map_err(|e| self.error(sub_start, e.to_string()))?;
            Filter::and(inner, self.parse_comparison(sub)?)
        } else {
            inner
        };
        Ok(Filter::ValuePath {
            attr: path,
            filter: Box::new(inner),
        })
    }

    fn parse_comparison(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        self.skip_ws();
        let at = self.pos;
        let word = self.take_while(|c| c.is_ascii_alphabetic());
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(word) else {
            return Err(self.error(at, "expected a comparison operator"));
        };
        self.skip_ws();
        let value = self.parse_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self) -> Result<CompValue, FilterError> {
        let start = self.pos;
        if self.peek() == Some('"') {
            return self.parse_string(start).map(CompValue::String);
        }
        let token = self.take_while(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '[' | ']'));
        if token.is_empty() {
            return Err(self.error(start, "expected a value"));
        }
        Ok(literal(token))
    }

    fn parse_string(&mut self, start: usize) -> Result<String, FilterError> {
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() && bytes[i] != b'"' {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        if i >= bytes.len() {
            return Err(self.error(start, "unterminated string"));
        }
        self.pos = i + 1;
        serde_json::from_str(&self.src[start..=i])
            .map_err(|e| self.error(start, format!("invalid string literal: {e}")))
    }
}

/// An unquoted token: `true`/`false`/`null` (any case), a JSON number, else a legacy string.
fn literal(token: &str) -> CompValue {
    if token.eq_ignore_ascii_case("true") {
        CompValue::Bool(true)
    } else if token.eq_ignore_ascii_case("false") {
        CompValue::Bool(false)
    } else if token.eq_ignore_ascii_case("null") {
        CompValue::Null
    } else if let Ok(n) = serde_json::from_str::<Number>(token) {
        CompValue::Number(exact_float(n, token))
    } else {
        CompValue::String(token.to_owned())
    }
}

/// serde_json's default float parsing is not correctly rounded, so printing
/// the parsed value (shortest round-trip form) and parsing that again could
/// land on a neighbouring `f64`. Rust's own parser rounds correctly, and
/// accepts every JSON number.
fn exact_float(n: Number, token: &str) -> Number {
    if !n.is_f64() {
        return n;
    }
    token
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .unwrap_or(n)
}
