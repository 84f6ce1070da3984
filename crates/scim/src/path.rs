//! Attribute paths: `[urn:]name[.sub]` (RFC 7644 §3.10) and PATCH paths with
//! an optional value filter, `emails[type eq "work"].value` (§3.5.2).

use std::fmt;

use crate::error::{ScimError, ScimType, excerpt};
use crate::filter::Filter;
use crate::schema::is_core_urn;

/// The longest attribute path (and attribute name in a body) this server
/// takes, in bytes: the longest real one, an extension URN with an
/// attribute and a filter, is far shorter, and a longer one is a mistake or
/// an attack whose text would otherwise become a stored attribute name.
pub const MAX_PATH_LENGTH: usize = 512;

/// A malformed attribute path; becomes a 400 `invalidPath` (or `invalidFilter` inside a filter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid attribute path {}: {reason}", excerpt(path))]
pub struct PathError {
    /// The text that failed to parse.
    pub path: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl From<PathError> for ScimError {
    fn from(e: PathError) -> Self {
        ScimError::bad_request(ScimType::InvalidPath, e.to_string())
    }
}

/// `[urn:]name[.sub]`, spelled as the client wrote it; compare with [`AttrPath::matches`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix without the trailing `:`, e.g. the enterprise extension URN.
    pub urn: Option<String>,
    /// Attribute name.
    pub name: String,
    /// Sub-attribute name.
    pub sub: Option<String>,
}

/// Characters allowed in an attribute name (RFC 7643 §2.1 plus `$` for `$ref`).
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$')
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        && chars.all(is_name_char)
}

impl AttrPath {
    /// A path naming a core attribute, without URN or sub-attribute.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    /// Parses `name`, `name.sub`, `urn:...:name[.sub]`; the URN ends at the last `:`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let fail = |reason| PathError {
            path: text.to_owned(),
            reason,
        };
        if text.len() > MAX_PATH_LENGTH {
            return Err(fail("longer than the 512 bytes this server takes"));
        }
        let (urn, rest) = match text.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("urn:") => {
                let i = text
                    .rfind(':')
                    .ok_or_else(|| fail("missing attribute name"))?;
                (Some(text[..i].to_owned()), &text[i + 1..])
            }
            _ => (None, text),
        };
        if rest.is_empty() {
            return Err(fail("missing attribute name"));
        }
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        if !valid_name(name) {
            return Err(fail(
                "attribute names start with a letter and hold letters, digits, '_' or '-'",
            ));
        }
        if let Some(s) = sub
            && !valid_name(s)
        {
            return Err(fail("invalid sub-attribute name"));
        }
        Ok(Self {
            urn,
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// Case-insensitive equality; a core schema URN equals no URN.
    pub fn matches(&self, other: &AttrPath) -> bool {
        let urn_eq = match (&self.urn, &other.urn) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => is_core_urn(a.as_deref()) && is_core_urn(b.as_deref()),
        };
        let sub_eq = match (&self.sub, &other.sub) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => true,
            _ => false,
        };
        urn_eq && sub_eq && self.name.eq_ignore_ascii_case(&other.name)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A PATCH operation's target: `attr[filter].sub`, each part but `attr` optional.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute, never carrying a sub-attribute (that lives in `sub`).
    pub attr: AttrPath,
    /// The value-selection filter between brackets, evaluated against each element.
    pub filter: Option<Filter>,
    /// The sub-attribute after the attribute or after the closing bracket.
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses a PATCH `path`; every failure is a 400 `invalidPath`.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        let text = text.trim();
        let invalid = |why: &str| {
            ScimError::bad_request(
                ScimType::InvalidPath,
                format!("invalid path {}: {why}", excerpt(text)),
            )
        };
        if text.len() > MAX_PATH_LENGTH {
            return Err(invalid(&format!(
                "a path is at most {MAX_PATH_LENGTH} bytes, this one has {}",
                text.len()
            )));
        }
        let Some(open) = text.find('[') else {
            let mut attr = AttrPath::parse(text)?;
            let sub = attr.sub.take();
            return Ok(Self {
                attr,
                filter: None,
                sub,
            });
        };
        let attr = AttrPath::parse(&text[..open])?;
        if attr.sub.is_some() {
            return Err(invalid(
                "a value filter must follow the attribute, not a sub-attribute",
            ));
        }
        let close = closing_bracket(text, open + 1).ok_or_else(|| invalid("missing ']'"))?;
        let filter = Filter::parse(&text[open + 1..close]).map_err(|e| invalid(&e.to_string()))?;
        let sub = match &text[close + 1..] {
            "" => None,
            rest => match rest.strip_prefix('.') {
                Some(s) if valid_name(s) => Some(s.to_owned()),
                _ => return Err(invalid("expected '.subAttribute' after ']'")),
            },
        };
        Ok(Self {
            attr,
            filter: Some(filter),
            sub,
        })
    }

    /// The attribute with the sub-attribute attached, for schema look-ups.
    pub fn full_attr(&self) -> AttrPath {
        AttrPath {
            sub: self.sub.clone(),
            ..self.attr.clone()
        }
    }
}

/// Byte index of the `]` closing a filter that starts at `from`, skipping quoted strings.
fn closing_bracket(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut i, mut in_string, mut depth) = (from, false, 0usize);
    while i < bytes.len() {
        match (bytes[i], in_string) {
            (b'\\', true) => i += 1,
            (b'"', _) => in_string = !in_string,
            (b'[', false) => depth += 1,
            (b']', false) if depth == 0 => return Some(i),
            (b']', false) => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
