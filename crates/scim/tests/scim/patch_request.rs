use scim::{PatchOpKind, PatchRequest, ScimType, UserSchema};
use serde_json::json;

use super::{assert_scim_err, entra_user, ops, patch_user};

#[test]
fn ops_and_member_names_in_any_case() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "operations": [
            {"op": "Replace", "path": "displayName", "value": "a"},
            {"OP": "ADD", "Path": "nickName", "Value": "b"},
            {"op": "remove", "path": "title"},
            {"op": "rePlace", "value": {"title": "c"}}
        ]
    });
    let req = PatchRequest::parse(&body).unwrap();
    let kinds: Vec<_> = req.operations.iter().map(|o| o.op).collect();
    assert_eq!(
        kinds,
        [
            PatchOpKind::Replace,
            PatchOpKind::Add,
            PatchOpKind::Remove,
            PatchOpKind::Replace
        ]
    );
    assert_eq!(req.operations[1].value, Some(json!("b")));
    assert!(req.operations[3].path.is_none());
}

#[test]
fn null_value_is_kept_distinct_from_missing() {
    let req = PatchRequest::parse(&ops(json!([
        {"op": "replace", "path": "title", "value": null},
        {"op": "remove", "path": "title"}
    ])))
    .unwrap();
    assert_eq!(req.operations[0].value, Some(json!(null)));
    assert_eq!(req.operations[1].value, None);
}

#[test]
fn malformed_requests() {
    let table = [
        (json!([]), ScimType::InvalidSyntax),
        (json!({"schemas": []}), ScimType::InvalidSyntax),
        (json!({"Operations": {}}), ScimType::InvalidSyntax),
        (ops(json!(["replace"])), ScimType::InvalidSyntax),
        (
            ops(json!([{"op": "patch", "path": "a", "value": 1}])),
            ScimType::InvalidSyntax,
        ),
        (
            ops(json!([{"path": "a", "value": 1}])),
            ScimType::InvalidSyntax,
        ),
        (
            ops(json!([{"op": "add", "path": 7, "value": 1}])),
            ScimType::InvalidPath,
        ),
        (
            ops(json!([{"op": "add", "path": "emails[type eq", "value": 1}])),
            ScimType::InvalidPath,
        ),
    ];
    for (body, t) in table {
        let e = PatchRequest::parse(&body).expect_err(&body.to_string());
        assert_eq!(e.scim_type, Some(t), "{body}: {e:?}");
    }
    let e = PatchRequest::parse(&ops(
        json!([{"op": "add", "path": "a", "value": 1}, {"op": "x"}]),
    ))
    .unwrap_err();
    assert!(e.detail.starts_with("Operations[1]: "), "{}", e.detail);
}

#[test]
fn operation_errors() {
    let user = entra_user();
    let table = [
        (json!([{"op": "Remove"}]), ScimType::NoTarget),
        (
            json!([{"op": "Replace", "path": "title"}]),
            ScimType::InvalidValue,
        ),
        (json!([{"op": "Add"}]), ScimType::InvalidValue),
        (
            json!([{"op": "Replace", "value": "x"}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "Replace", "value": null}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "Replace", "value": {"a b": 1}}]),
            ScimType::InvalidPath,
        ),
        (
            json!([{"op": "Replace", "path": "id", "value": "new"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "Replace", "value": {"id": "new"}}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "Remove", "path": "meta"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "Add", "path": "meta.lastModified", "value": "x"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "Add", "path": "groups", "value": [{"value": "g"}]}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "Remove", "path": "schemas"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "Replace", "path": "active", "value": "maybe"}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "Replace", "path": "active", "value": 1}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "Replace", "path": "name", "value": "Bob"}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "Add", "path": "emails[value co \"x\"].display", "value": "d"}]),
            ScimType::NoTarget,
        ),
        (
            json!([{"op": "Add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x"}}]),
            ScimType::InvalidValue,
        ),
    ];
    for (operations, t) in table {
        let e = assert_scim_err(patch_user(&user, ops(operations.clone())), t);
        assert!(
            e.detail.starts_with("Operations[0]: "),
            "{operations}: {}",
            e.detail
        );
    }
}

/// The whole request fails for its last operation, after two good ones.
/// (That it changes nothing needs no test: `apply` borrows the resource.)
#[test]
fn a_failing_later_op_fails_the_request_and_is_named() {
    let user = entra_user();
    let body = ops(json!([
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "id", "value": "stolen"}
    ]));
    let e = assert_scim_err(patch_user(&user, body), ScimType::Mutability);
    assert!(e.detail.starts_with("Operations[2]: "), "{}", e.detail);
}

#[test]
fn apply_rejects_non_object_resources() {
    let req = PatchRequest::parse(&ops(json!([]))).unwrap();
    assert!(scim::apply(&json!([]), &req, &UserSchema).is_err());
    assert_eq!(
        scim::apply(&json!({"a": 1}), &req, &UserSchema).unwrap(),
        json!({"a": 1})
    );
}

/// `n` operations that each create a typed email, Entra's filtered-path form.
fn typed_emails(n: usize) -> serde_json::Value {
    let operations: Vec<_> = (0..n)
        .map(|i| {
            json!({"op": "replace", "path": format!("emails[type eq \"t{i}\"].value"), "value": format!("u{i}@x.com")})
        })
        .collect();
    ops(json!(operations))
}

#[test]
fn a_request_may_carry_max_operations_and_no_more() {
    let max = scim::patch::MAX_OPERATIONS;
    let out = patch_user(&entra_user(), typed_emails(max)).unwrap();
    let emails = out["emails"].as_array().unwrap();
    assert_eq!(emails.len(), max + 1);
    assert_eq!(
        emails[max],
        json!({"type": format!("t{}", max - 1), "value": format!("u{}@x.com", max - 1)})
    );

    for n in [max + 1, 4 * max] {
        let error = assert_scim_err(
            patch_user(&entra_user(), typed_emails(n)),
            ScimType::TooMany,
        );
        assert!(error.detail.contains(&max.to_string()), "{}", error.detail);
    }
}

/// The User schema, counting the questions the engine asks of it.
#[derive(Default)]
struct Counting(std::cell::Cell<usize>);

impl Counting {
    fn ask(&self) -> UserSchema {
        self.0.set(self.0.get() + 1);
        UserSchema
    }
}

impl scim::AttributeSchema for Counting {
    fn attribute_type(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> scim::AttrType {
        self.ask().attribute_type(urn, name, sub)
    }
    fn is_multi_valued(&self, urn: Option<&str>, name: &str) -> bool {
        self.ask().is_multi_valued(urn, name)
    }
    fn is_case_exact(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> bool {
        self.ask().is_case_exact(urn, name, sub)
    }
    fn is_read_only(&self, urn: Option<&str>, name: &str) -> bool {
        self.ask().is_read_only(urn, name)
    }
    fn extension_of(&self, name: &str) -> Option<&'static str> {
        self.ask().extension_of(name)
    }
    fn has_schema(&self, urn: &str) -> bool {
        self.ask().has_schema(urn)
    }
    fn is_foreign(&self, name: &str) -> bool {
        self.ask().is_foreign(name)
    }
}

#[test]
fn an_operation_asks_the_schema_the_same_whatever_the_attribute_holds() {
    let questions = |emails: usize| {
        let mut user = entra_user();
        user["emails"] = json!(
            (0..emails)
                .map(|i| json!({"value": format!("u{i}@x.com"), "type": format!("t{i}")}))
                .collect::<Vec<_>>()
        );
        let schema = Counting::default();
        let request = PatchRequest::parse(&ops(json!([
            {"op": "replace", "path": "emails[type eq \"new\"].value", "value": "n@x.com"},
            {"op": "add", "path": "emails", "value": [{"value": "m@x.com"}]},
            {"op": "remove", "path": "emails[type eq \"t0\"]"}
        ])))
        .unwrap();
        scim::apply(&user, &request, &schema).unwrap();
        schema.0.get()
    };
    assert_eq!(questions(10), questions(1_000));
}
