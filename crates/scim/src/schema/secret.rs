//! The User's write-only `password` (RFC 7643 §4.1.1: `writeOnly`,
//! returned `never`), taken out of a request before anything stores or
//! records it. The caller hashes what it gets and passes the hash on; the
//! request that remains holds no clear password anywhere.

use std::fmt;

use serde_json::Value;

use super::CORE_USER_URN;
use crate::error::{ScimError, ScimType};
use crate::json::{find_key, get_ci, remove_ci};
use crate::patch::PatchOpKind;
use crate::path::PatchPath;

/// A clear-text password as a client sent it. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The clear text, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Takes `password` out of a User body (create or replace). `null` counts
/// as absent; anything but a string is 400 `invalidValue`.
pub fn take_password(resource: &mut Value) -> Result<Option<Password>, ScimError> {
    let Some(fields) = resource.as_object_mut() else {
        return Ok(None);
    };
    match remove_ci(fields, "password") {
        None => Ok(None),
        Some(value) => password(value),
    }
}

/// Takes every password a PatchOp body sets out of it: operations whose
/// path is `password` (or `urn:...:core:2.0:User:password`) are removed, and
/// so is a `password` key of a path-less operation's value object (an
/// operation left with an empty object is removed). The last password set
/// wins. `remove` operations and malformed bodies are left for the PATCH
/// parser to judge.
pub fn take_patch_password(body: &mut Value) -> Result<Option<Password>, ScimError> {
    let Some(operations) = body.as_object_mut().and_then(|message| {
        let key = find_key(message, "Operations")?;
        message.get_mut(&key)?.as_array_mut()
    }) else {
        return Ok(None);
    };
    let mut taken = None;
    let mut kept = Vec::with_capacity(operations.len());
    for mut operation in operations.drain(..) {
        match take_from_operation(&mut operation)? {
            Taken::Nothing => kept.push(operation),
            Taken::Password(password, keep) => {
                taken = Some(password);
                if keep {
                    kept.push(operation);
                }
            }
        }
    }
    *operations = kept;
    Ok(taken)
}

enum Taken {
    Nothing,
    /// A password, and whether what is left of the operation stays.
    Password(Password, bool),
}

fn take_from_operation(operation: &mut Value) -> Result<Taken, ScimError> {
    let Some(fields) = operation.as_object_mut() else {
        return Ok(Taken::Nothing);
    };
    let sets = get_ci(fields, "op")
        .and_then(Value::as_str)
        .and_then(PatchOpKind::parse)
        .is_some_and(|op| op != PatchOpKind::Remove);
    if !sets {
        return Ok(Taken::Nothing);
    }
    let names = match get_ci(fields, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(path)) if path.trim().is_empty() => None,
        Some(Value::String(path)) => Some(names_password(path)),
        Some(_) => return Ok(Taken::Nothing),
    };
    match names {
        Some(false) => Ok(Taken::Nothing),
        Some(true) => match get_ci(fields, "value") {
            // No value to hash: the PATCH parser judges what is left.
            None | Some(Value::Null) => Ok(Taken::Nothing),
            Some(_) => match remove_ci(fields, "value").map(password).transpose()? {
                Some(Some(password)) => Ok(Taken::Password(password, false)),
                _ => Ok(Taken::Nothing),
            },
        },
        None => {
            let Some(Value::Object(values)) =
                find_key(fields, "value").and_then(|key| fields.get_mut(&key))
            else {
                return Ok(Taken::Nothing);
            };
            let keys: Vec<String> = values
                .keys()
                .filter(|key| names_password(key))
                .cloned()
                .collect();
            let mut taken = None;
            for key in keys {
                if let Some(value) = values.shift_remove(&key)
                    && let Some(password) = password(value)?
                {
                    taken = Some(password);
                }
            }
            match taken {
                Some(password) => Ok(Taken::Password(password, !values.is_empty())),
                None => Ok(Taken::Nothing),
            }
        }
    }
}

/// Whether a PATCH path (or a path-less value key) is the User's password.
fn names_password(path: &str) -> bool {
    PatchPath::parse(path).is_ok_and(|path| {
        path.filter.is_none()
            && path.sub.is_none()
            && path.attr.sub.is_none()
            && path.attr.name.eq_ignore_ascii_case("password")
            && path
                .attr
                .urn
                .as_deref()
                .is_none_or(|urn| urn.eq_ignore_ascii_case(CORE_USER_URN))
    })
}

fn password(value: Value) -> Result<Option<Password>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(Password(text))),
        other => Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!(
                "password must be a string, not {}",
                match other {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::Array(_) => "an array",
                    _ => "an object",
                }
            ),
        )),
    }
}
