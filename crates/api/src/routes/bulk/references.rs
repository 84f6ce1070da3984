//! `bulkId:` references (RFC 7644 §3.7.2): a path `/Users/bulkId:q1` or any
//! string value `"bulkId:q1"` in an operation's data stands for the id of
//! the user or group that the operation with `bulkId` `q1` created, whatever
//! the type of the operation that refers to it (a group's `members` may name
//! users created earlier in the request).
//!
//! Operations run in the order they were sent, so a reference resolves only
//! to an earlier operation that succeeded; anything else fails the operation
//! that holds it: 400 `invalidValue` when no operation declares the bulkId,
//! 409 `invalidValue` when its operation failed, comes later, or refers back
//! (directly or through others) to the operation holding the reference, a
//! circular reference that no order could resolve.

use std::collections::{BTreeSet, HashMap};

use scim::{ScimError, ScimType};
use serde_json::Value;
use uuid::Uuid;

use super::request::{Operation, Target};

/// What marks a reference.
pub const PREFIX: &str = "bulkId:";

/// The bulkIds of one request: who declares them, who uses them, and which
/// resolve so far.
#[derive(Debug, Default)]
pub struct References {
    /// The operation that declares each bulkId (the first, when repeated).
    declared: HashMap<String, usize>,
    /// The bulkIds each operation refers to, in its path and its data.
    uses: Vec<BTreeSet<String>>,
    /// The users and groups created so far, by bulkId.
    created: HashMap<String, Uuid>,
}

impl References {
    /// Reads the declarations and uses of every operation of a request.
    pub fn new(operations: &[Operation]) -> References {
        let mut declared = HashMap::new();
        for (index, operation) in operations.iter().enumerate() {
            if let Some(bulk_id) = &operation.bulk_id {
                declared.entry(bulk_id.clone()).or_insert(index);
            }
        }
        let uses = operations.iter().map(uses_of).collect();
        References {
            declared,
            uses,
            created: HashMap::new(),
        }
    }

    /// Records that the operation with `bulk_id` created user or group `id`.
    pub fn created(&mut self, bulk_id: &str, id: Uuid) {
        self.created.insert(bulk_id.to_owned(), id);
    }

    /// The user or group a path names, for operation `index`.
    pub fn resolve_target(&self, index: usize, target: &Target) -> Result<Uuid, ScimError> {
        match target {
            Target::Id(id) => Ok(*id),
            Target::BulkId(bulk_id) => self.resolve(index, bulk_id),
        }
    }

    /// `data` with every `"bulkId:<id>"` string replaced by the created id.
    pub fn substitute(&self, index: usize, data: &Value) -> Result<Value, ScimError> {
        Ok(match data {
            Value::String(text) => match text.strip_prefix(PREFIX) {
                Some(bulk_id) => Value::String(self.resolve(index, bulk_id)?.to_string()),
                None => data.clone(),
            },
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.substitute(index, item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), self.substitute(index, value)?)))
                    .collect::<Result<_, ScimError>>()?,
            ),
            other => other.clone(),
        })
    }

    fn resolve(&self, index: usize, bulk_id: &str) -> Result<Uuid, ScimError> {
        if let Some(id) = self.created.get(bulk_id) {
            return Ok(*id);
        }
        let conflict = |detail: String| ScimError {
            status: 409,
            scim_type: Some(ScimType::InvalidValue),
            detail,
        };
        match self.declared.get(bulk_id) {
            None => Err(ScimError::bad_request(
                ScimType::InvalidValue,
                format!("no operation in this request has bulkId {bulk_id:?}"),
            )),
            Some(&declarer) if self.reaches(declarer, index) => Err(conflict(format!(
                "bulkId {bulk_id:?} is a circular reference: operation {declarer} depends on this one"
            ))),
            Some(&declarer) if declarer > index => Err(conflict(format!(
                "bulkId {bulk_id:?} belongs to operation {declarer}, which comes later; operations are performed in order"
            ))),
            Some(&declarer) => Err(conflict(format!(
                "bulkId {bulk_id:?} names nothing: operation {declarer} did not create a resource"
            ))),
        }
    }

    /// Whether operation `from` depends on operation `to`, directly or
    /// through other operations' bulkIds.
    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut seen = BTreeSet::new();
        let mut pending = vec![from];
        while let Some(operation) = pending.pop() {
            if operation == to {
                return true;
            }
            if !seen.insert(operation) {
                continue;
            }
            for bulk_id in self.uses.get(operation).into_iter().flatten() {
                if let Some(&declarer) = self.declared.get(bulk_id) {
                    pending.push(declarer);
                }
            }
        }
        false
    }
}

/// The bulkIds an operation refers to.
fn uses_of(operation: &Operation) -> BTreeSet<String> {
    let mut uses = BTreeSet::new();
    let path_use = operation
        .path
        .rsplit('/')
        .next()
        .and_then(|last| last.strip_prefix(PREFIX));
    uses.extend(path_use.map(str::to_owned));
    if let Some(data) = operation
        .action
        .as_ref()
        .ok()
        .and_then(|action| action.data())
    {
        collect(data, &mut uses);
    }
    uses
}

fn collect(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::String(text) => into.extend(text.strip_prefix(PREFIX).map(str::to_owned)),
        Value::Array(items) => items.iter().for_each(|item| collect(item, into)),
        Value::Object(fields) => fields.values().for_each(|value| collect(value, into)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn operations(entries: Value) -> Vec<Operation> {
        entries
            .as_array()
            .unwrap()
            .iter()
            .map(Operation::parse)
            .collect()
    }

    fn create(bulk_id: &str, data: Value) -> Value {
        json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data})
    }

    #[test]
    fn references_in_data_are_replaced_at_any_depth() {
        let ops = operations(json!([
            create("q1", json!({"userName": "boss"})),
            create(
                "q2",
                json!({"userName": "worker", "urn:x": {"manager": {"value": "bulkId:q1"}}, "tags": ["bulkId:q1", "bulkId"]})
            ),
        ]));
        let mut references = References::new(&ops);
        let boss = Uuid::now_v7();
        references.created("q1", boss);
        let data = json!({"userName": "worker", "urn:x": {"manager": {"value": "bulkId:q1"}}, "tags": ["bulkId:q1", "bulkId", 3]});
        assert_eq!(
            references.substitute(1, &data).unwrap(),
            json!({"userName": "worker", "urn:x": {"manager": {"value": boss.to_string()}}, "tags": [boss.to_string(), "bulkId", 3]})
        );
    }

    #[test]
    fn a_path_reference_resolves_to_the_created_user() {
        let ops = operations(json!([
            create("q1", json!({"userName": "a"})),
            {"method": "PATCH", "path": "/Users/bulkId:q1", "data": {"Operations": []}},
        ]));
        let mut references = References::new(&ops);
        let id = Uuid::now_v7();
        references.created("q1", id);
        assert_eq!(
            references.resolve_target(1, &Target::BulkId("q1".into())),
            Ok(id)
        );
        assert_eq!(references.resolve_target(1, &Target::Id(id)), Ok(id));
    }

    #[test]
    fn an_undeclared_bulk_id_is_400() {
        let ops = operations(json!([create("q1", json!({"manager": "bulkId:nope"}))]));
        let error = References::new(&ops)
            .substitute(0, &json!({"manager": "bulkId:nope"}))
            .unwrap_err();
        assert_eq!(error.status, 400);
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
        assert!(error.detail.contains("nope"), "{}", error.detail);
    }

    #[test]
    fn a_failed_operation_s_bulk_id_is_409() {
        let ops = operations(json!([
            create("q1", json!({})),
            {"method": "DELETE", "path": "/Users/bulkId:q1"},
        ]));
        let error = References::new(&ops)
            .resolve_target(1, &Target::BulkId("q1".into()))
            .unwrap_err();
        assert_eq!(error.status, 409);
        assert!(error.detail.contains("did not create"), "{}", error.detail);
    }

    #[test]
    fn a_forward_reference_is_409() {
        let ops = operations(json!([
            create("q1", json!({"manager": "bulkId:q2"})),
            create("q2", json!({})),
        ]));
        let error = References::new(&ops)
            .substitute(0, &json!("bulkId:q2"))
            .unwrap_err();
        assert_eq!(error.status, 409);
        assert!(error.detail.contains("comes later"), "{}", error.detail);
    }

    #[test]
    fn circular_references_are_named() {
        let ops = operations(json!([
            create("q1", json!({"manager": "bulkId:q3"})),
            create("q2", json!({"manager": "bulkId:q1"})),
            create("q3", json!({"manager": "bulkId:q2"})),
            create("self", json!({"manager": "bulkId:self"})),
        ]));
        let references = References::new(&ops);
        for (index, bulk_id) in [(0, "q3"), (3, "self")] {
            let error = references
                .substitute(index, &json!(format!("bulkId:{bulk_id}")))
                .unwrap_err();
            assert_eq!(error.status, 409);
            assert!(error.detail.contains("circular"), "{}", error.detail);
        }
    }

    #[test]
    fn uses_come_from_the_path_and_the_data() {
        let ops = operations(json!([
            {"method": "PATCH", "path": "/Users/bulkId:a", "data": {"Operations": [{"op": "add", "path": "manager", "value": "bulkId:b"}]}},
        ]));
        assert_eq!(
            uses_of(&ops[0]),
            BTreeSet::from(["a".to_owned(), "b".to_owned()])
        );
    }
}
