//! Personal data in events, sealed with a key per person so that it can be
//! erased without rewriting the log (docs/audit-privacy.md).
//!
//! At append, each personal value of an event's JSON payload is replaced by
//! `{"$erasable":{"key":"user:<id>","ciphertext":"<base64>"}}`: the value's
//! JSON text sealed with ChaCha20-Poly1305 under its person's key, a random
//! nonce of its own in front. The hash chain covers that text, so destroying
//! the key later changes no stored byte: every hash still holds, and the
//! value reads as [`ERASED`] from then on. What is personal is decided here,
//! by event type ([`visit_personal`]); everything else (types, ids, `active`,
//! `schemas`, roles, times, argon2id password hashes) stays readable.
//!
//! The caller owns the randomness: keys and nonces are passed in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::Event;
use crate::account::ACCOUNTS;

/// What a personal value reads as once its person's key is destroyed.
pub const ERASED: &str = "[erased]";

/// A person's key: 256 bits for ChaCha20-Poly1305.
pub type Key = [u8; 32];

/// A ChaCha20-Poly1305 nonce: 96 bits, random for each sealed value.
pub type NonceBytes = [u8; 12];

/// The field name that marks a sealed value in a payload.
const MARK: &str = "$erasable";

/// The attributes of a SCIM user that are not personal: they stay in clear.
const CLEAR_USER_ATTRIBUTES: [&str; 4] = ["schemas", "id", "active", "meta"];

/// Whose personal data a value is, and so which key seals it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// A SCIM user of the event's organization (its stream id).
    User(Uuid),
    /// A global account (its id in the accounts keyspace).
    Account(Uuid),
}

impl Subject {
    /// The key table's coordinates of this subject's key: the keyspace (the
    /// organization, or [`ACCOUNTS`]) and the subject's id.
    pub fn key_id(self, org_id: Uuid) -> (Uuid, Uuid) {
        match self {
            Subject::User(id) => (org_id, id),
            Subject::Account(id) => (ACCOUNTS, id),
        }
    }

    /// How a sealed value names its key: `user:<id>` or `account:<id>`.
    pub fn reference(self) -> String {
        match self {
            Subject::User(id) => format!("user:{id}"),
            Subject::Account(id) => format!("account:{id}"),
        }
    }

    /// The subject a reference names.
    pub fn parse(reference: &str) -> Option<Subject> {
        let (kind, id) = reference.split_once(':')?;
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "user" => Some(Subject::User(id)),
            "account" => Some(Subject::Account(id)),
            _ => None,
        }
    }
}

/// A sealed value that its key does not open: the payload was altered (or
/// sealed under another key). The log is at fault, not the reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a sealed personal value does not open: {0}")]
pub struct Unsealable(String);

/// Calls `visit` on each personal value of `payload` (an event's JSON, as
/// [`Event::to_payload`] writes it, in the stream `stream_id`) with the
/// subject it belongs to.
pub fn visit_personal(
    payload: &mut Value,
    stream_id: Uuid,
    visit: &mut dyn FnMut(&mut Value, Subject),
) {
    let event_type = payload
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(fields) = payload.as_object_mut() else {
        return;
    };
    let user = Subject::User(stream_id);
    let account = Subject::Account(stream_id);
    match event_type.as_str() {
        "UserProvisioned" | "UserReplaced" | "UserPatched" => {
            if let Some(Value::Object(resource)) = fields.get_mut("resource") {
                for (name, value) in resource.iter_mut() {
                    if !is_clear_user_attribute(name) {
                        visit(value, user);
                    }
                }
            }
            if let Some(Value::Array(operations)) = fields.get_mut("operations") {
                operations
                    .iter_mut()
                    .filter_map(Value::as_object_mut)
                    .for_each(|operation| visit_operation(operation, user, visit));
            }
        }
        "GroupMembersAdded" => {
            if let Some(Value::Array(members)) = fields.get_mut("members") {
                for member in members.iter_mut().filter_map(Value::as_object_mut) {
                    let user = member
                        .get("value")
                        .and_then(Value::as_str)
                        .and_then(|id| Uuid::parse_str(id).ok())
                        .filter(|_| member.get("type").and_then(Value::as_str) == Some("User"));
                    if let Some(id) = user {
                        visit_present(member, "display", Subject::User(id), visit);
                    }
                }
            }
        }
        "AccountCreated" | "AccountEmailChanged" | "AccountNamesChanged" => {
            for field in ["email", "first_name", "family_name"] {
                visit_present(fields, field, account, visit);
            }
        }
        "OwnerAdded" | "MemberAdded" => {
            let owner = fields
                .get("account_id")
                .and_then(Value::as_str)
                .and_then(|id| Uuid::parse_str(id).ok());
            if let Some(id) = owner {
                visit_present(fields, "email", Subject::Account(id), visit);
            }
        }
        _ => {}
    }
}

/// A PATCH operation's value is personal, and so is its path where it holds
/// a filter (`emails[value eq "…"]`); `op` and plain paths stay clear.
fn visit_operation(
    operation: &mut Map<String, Value>,
    user: Subject,
    visit: &mut dyn FnMut(&mut Value, Subject),
) {
    for (name, value) in operation.iter_mut() {
        // A sealed path is no longer a string: it is visited to be opened.
        let filtered_path = name.eq_ignore_ascii_case("path")
            && value.as_str().is_none_or(|path| path.contains('['));
        if name.eq_ignore_ascii_case("value") || filtered_path {
            visit(value, user);
        }
    }
}

fn visit_present(
    fields: &mut Map<String, Value>,
    name: &str,
    subject: Subject,
    visit: &mut dyn FnMut(&mut Value, Subject),
) {
    if let Some(value) = fields.get_mut(name).filter(|value| !value.is_null()) {
        visit(value, subject);
    }
}

fn is_clear_user_attribute(name: &str) -> bool {
    CLEAR_USER_ATTRIBUTES
        .iter()
        .any(|clear| clear.eq_ignore_ascii_case(name))
}

/// `event` as JSON before sealing. The appender makes it once per event
/// and both looks up its subjects' keys ([`subjects_in`]) and seals it
/// ([`seal_unsealed`]) on it: serialising each event twice cost the
/// appender about a tenth of its time (issue 13).
pub fn unsealed(event: &Event) -> Value {
    serde_json::to_value(event).expect("events always serialize")
}

/// The subjects whose keys sealing an event's [`unsealed`] payload (in
/// stream `stream_id`) needs.
pub fn subjects_in(payload: &mut Value, stream_id: Uuid) -> Vec<Subject> {
    let mut found = Vec::new();
    visit_personal(payload, stream_id, &mut |_, subject| {
        if !found.contains(&subject) {
            found.push(subject);
        }
    });
    found
}

/// An event's [`unsealed`] payload with each personal value sealed under
/// its subject's key (`key_of`; `None`: the subject was erased, and the
/// value is stored as [`ERASED`], never in clear). `nonce` gives a fresh
/// random nonce for each value. An event without personal values is stored
/// as [`Event::to_payload`] writes it.
pub fn seal_unsealed(
    mut payload: Value,
    stream_id: Uuid,
    key_of: &dyn Fn(Subject) -> Option<Key>,
    nonce: &mut dyn FnMut() -> NonceBytes,
) -> String {
    visit_personal(&mut payload, stream_id, &mut |value, subject| {
        *value = match key_of(subject) {
            Some(key) => sealed(value, subject, &key, nonce()),
            None => Value::String(ERASED.into()),
        };
    });
    // Field for field what `Event::to_payload` writes: the map keeps the
    // order the event serialised its fields in.
    payload.to_string()
}

/// [`seal_unsealed`], and the payload as a reader opening the stored text
/// now sees it ([`open_payload`]): personal values in clear, [`ERASED`]
/// where the subject has no key. The appender hands the second to the relay
/// and the linker, which then take the event without reading it back and
/// opening it. The third part names the subjects whose values it holds in
/// clear: a reader that takes it later must find their keys still live.
pub fn seal_and_open(
    mut payload: Value,
    stream_id: Uuid,
    key_of: &dyn Fn(Subject) -> Option<Key>,
    nonce: &mut dyn FnMut() -> NonceBytes,
) -> (String, Box<RawValue>, Vec<Subject>) {
    let mut in_clear = Vec::new();
    visit_personal(&mut payload, stream_id, &mut |value, subject| {
        if key_of(subject).is_none() {
            *value = Value::String(ERASED.into());
        } else if !in_clear.contains(&subject) {
            in_clear.push(subject);
        }
    });
    let opened = serde_json::value::to_raw_value(&payload).expect("JSON serializes");
    let stored = seal_unsealed(payload, stream_id, key_of, nonce);
    (stored, opened, in_clear)
}

fn sealed(value: &Value, subject: Subject, key: &Key, nonce: NonceBytes) -> Value {
    let reference = subject.reference();
    let plaintext = value.to_string();
    let cipher = ChaCha20Poly1305::new(key.into());
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: reference.as_bytes(),
            },
        )
        .expect("sealing a value in memory cannot fail");
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&ciphertext);
    json!({ MARK: { "key": reference, "ciphertext": STANDARD.encode(bytes) } })
}

/// Whether a stored payload holds sealed values (a cheap look at its text).
pub fn is_sealed(payload: &str) -> bool {
    payload.contains(MARK)
}

/// The subjects whose keys opening `payload` needs, read from its text
/// (as [`seal_unsealed`] writes it).
pub fn sealed_subjects(payload: &str) -> Vec<Subject> {
    let prefix = format!("\"{MARK}\":{{\"key\":\"");
    let mut found = Vec::new();
    for (at, _) in payload.match_indices(&prefix) {
        let rest = &payload[at + prefix.len()..];
        let subject = rest
            .split_once('"')
            .and_then(|(reference, _)| Subject::parse(reference));
        if let Some(subject) = subject
            && !found.contains(&subject)
        {
            found.push(subject);
        }
    }
    found
}

/// A stored payload as [`open_payload`] gives it to its reader.
#[derive(Debug)]
pub enum Opened<'p> {
    /// It held no sealed value: the stored text.
    AsStored(&'p str),
    /// Its sealed values opened (or erased), as JSON: a reader that parses
    /// the payload anyway takes it so, rather than as a text to parse again.
    Opened(Value),
}

/// `payload` (an event of stream `stream_id`) with each sealed value opened
/// with its subject's key (`key_of`), or [`ERASED`] where the key is gone.
/// Only the personal positions of the event ([`visit_personal`]) are looked
/// at: a value a client sent that looks like a sealed one elsewhere stays
/// as sent. A payload without sealed values comes back as it is.
pub fn open_payload<'p>(
    payload: &'p str,
    stream_id: Uuid,
    key_of: &dyn Fn(Subject) -> Option<Key>,
) -> Result<Opened<'p>, Unsealable> {
    if !is_sealed(payload) {
        return Ok(Opened::AsStored(payload));
    }
    let mut value: Value =
        serde_json::from_str(payload).map_err(|error| Unsealable(error.to_string()))?;
    let mut failure = None;
    visit_personal(&mut value, stream_id, &mut |field, _| {
        let Some(envelope) = envelope_in(field) else {
            return;
        };
        match opened(envelope, key_of) {
            Ok(clear) => *field = clear,
            Err(error) => failure = Some(error),
        }
    });
    match failure {
        Some(error) => Err(error),
        None => Ok(Opened::Opened(value)),
    }
}

/// Whether a personal position of `payload` (an event of stream
/// `stream_id`) still holds a sealed value: a payload not opened.
pub fn has_sealed_values(payload: &str, stream_id: Uuid) -> bool {
    if !is_sealed(payload) {
        return false;
    }
    let Ok(mut value) = serde_json::from_str::<Value>(payload) else {
        return false;
    };
    let mut found = false;
    visit_personal(&mut value, stream_id, &mut |field, _| {
        found |= envelope_in(field).is_some();
    });
    found
}

/// The envelope of a sealed value: an object with [`MARK`] as its only field.
fn envelope_in(value: &Value) -> Option<&Value> {
    let fields = value.as_object()?;
    fields.get(MARK).filter(|_| fields.len() == 1)
}

fn opened(envelope: &Value, key_of: &dyn Fn(Subject) -> Option<Key>) -> Result<Value, Unsealable> {
    let reference = envelope
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let subject = Subject::parse(reference)
        .ok_or_else(|| Unsealable(format!("{reference:?} names no key")))?;
    let Some(key) = key_of(subject) else {
        return Ok(Value::String(ERASED.into()));
    };
    let bytes = envelope
        .get("ciphertext")
        .and_then(Value::as_str)
        .and_then(|text| STANDARD.decode(text).ok())
        .filter(|bytes| bytes.len() > 12)
        .ok_or_else(|| Unsealable(format!("the value sealed for {reference} is not base64")))?;
    let (nonce, ciphertext) = bytes.split_at(12);
    let plaintext = ChaCha20Poly1305::new((&key).into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: reference.as_bytes(),
            },
        )
        .map_err(|_| Unsealable(format!("the value sealed for {reference} fails its tag")))?;
    serde_json::from_slice(&plaintext).map_err(|error| Unsealable(error.to_string()))
}

/// A user resource as its events read once the user is erased: every
/// personal attribute [`ERASED`], the clear ones (`schemas`, `active`, ...)
/// as they were. Events written before sealing existed hold their values in
/// clear; folding them and then this gives the same resource as folding
/// sealed ones whose key is gone.
pub fn erased_user_resource(resource: &Value) -> Value {
    match resource {
        Value::Object(attributes) => Value::Object(
            attributes
                .iter()
                .map(|(name, value)| {
                    let value = if is_clear_user_attribute(name) {
                        value.clone()
                    } else {
                        Value::String(ERASED.into())
                    };
                    (name.clone(), value)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The keys under which a personal value's text is a category, not the
/// person's data (`"type": "work"`): not worth redacting elsewhere.
const CATEGORY_KEYS: [&str; 4] = ["type", "primary", "$ref", "op"];

/// The texts of the personal values of `payload` (an opened event of stream
/// `stream_id`) that belong to `subject`: what an erasure also removes from
/// the access records, where clients may have sent them in a filter.
/// Texts shorter than three characters, and category values, are left out:
/// they would match unrelated text.
pub fn personal_texts(payload: &mut Value, stream_id: Uuid, subject: Subject) -> Vec<String> {
    let mut texts = Vec::new();
    visit_personal(payload, stream_id, &mut |value, owner| {
        if owner == subject {
            collect_texts(value, None, &mut texts);
        }
    });
    texts.sort_unstable();
    texts.dedup();
    texts
}

fn collect_texts(value: &Value, key: Option<&str>, texts: &mut Vec<String>) {
    match value {
        Value::String(text)
            if text.chars().count() >= 3
                && text != ERASED
                && !key.is_some_and(|key| {
                    CATEGORY_KEYS.iter().any(|c| c.eq_ignore_ascii_case(key))
                }) =>
        {
            texts.push(text.clone());
        }
        Value::Object(fields) => fields
            .iter()
            .for_each(|(name, field)| collect_texts(field, Some(name), texts)),
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_texts(item, key, texts)),
        _ => {}
    }
}

/// Whether an organization may erase a SCIM user in this state: only one
/// who has left (deactivated or deleted), and only once.
pub fn erase_user(
    state: &crate::user::UserState,
    erased_by: Option<Uuid>,
) -> Result<Event, crate::Refusal> {
    if state.version == 0 {
        return Err(crate::Refusal::not_found(
            "no SCIM user with this id in the organization",
        ));
    }
    if state.is_erased {
        return Err(crate::Refusal::conflict(
            "this user's personal data is erased already",
        ));
    }
    if state.resource.as_ref().is_some_and(crate::user::is_active) {
        return Err(crate::Refusal::conflict(
            "this user is active: erasure is for people who have left; deactivate \
             (active: false) or delete the user in the identity provider first",
        ));
    }
    Ok(Event::Erased { erased_by })
}

#[cfg(test)]
mod tests;
