use proptest::prelude::*;
use scim::{AttrPath, CompValue, CompareOp, Filter, PatchRequest, UserSchema};
use serde_json::{Number, Value, json};

use super::{ENT, entra_user, ops};

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,6}"
}

fn urn() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(ENT.to_owned())),
        1 => Just(Some("urn:ietf:params:scim:schemas:core:2.0:User".to_owned())),
        1 => Just(Some("urn:ietf:params:scim:schemas:extension:Custom-1:2.0:User".to_owned())),
    ]
}

fn attr_path() -> BoxedStrategy<AttrPath> {
    (urn(), name(), proptest::option::of(name()))
        .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
        .boxed()
}

fn sub_path() -> BoxedStrategy<AttrPath> {
    name().prop_map(AttrPath::new).boxed()
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>().prop_map(CompValue::String),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        (-1_000_000i64..1_000_000, 0i32..4).prop_map(|(m, e)| {
            CompValue::Number(Number::from_f64(m as f64 / 10f64.powi(e)).unwrap())
        }),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn leaf(paths: BoxedStrategy<AttrPath>) -> BoxedStrategy<Filter> {
    prop_oneof![
        3 => (paths.clone(), op(), comp_value())
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        1 => paths.prop_map(Filter::Present),
    ]
    .boxed()
}

fn logic(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::or(a, b)),
            inner.prop_map(Filter::not),
        ]
    })
    .boxed()
}

fn filter() -> BoxedStrategy<Filter> {
    let value_path =
        (urn(), name(), logic(leaf(sub_path()))).prop_map(|(urn, name, f)| Filter::ValuePath {
            attr: AttrPath {
                urn,
                name,
                sub: None,
            },
            filter: Box::new(f),
        });
    logic(prop_oneof![3 => leaf(attr_path()), 1 => value_path].boxed())
}

/// Valid operations Entra and the validator send, to combine at random.
fn patch_op() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!({"op": "Replace", "path": "active", "value": "False"}),
        json!({"op": "replace", "path": "active", "value": true}),
        json!({"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@x.com"}),
        json!({"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "1"}),
        json!({"op": "add", "path": "roles[primary eq \"True\"].value", "value": "Admin"}),
        json!({"op": "add", "path": "roles", "value": [{"value": "R", "primary": true}]}),
        json!({"op": "add", "path": "emails", "value": [{"value": "h@x.com", "type": "home", "primary": true}]}),
        json!({"op": "replace", "path": "emails", "value": [{"value": "a", "primary": true}, {"value": "b", "primary": "True"}]}),
        json!({"op": "replace", "value": {"name.givenName": "G", "displayName": "D", format!("{ENT}:employeeNumber"): "7"}}),
        json!({"op": "Add", "path": format!("{ENT}:manager"), "value": "11111111-1111-4111-8111-111111111111"}),
        json!({"op": "remove", "path": format!("{ENT}:manager")}),
        json!({"op": "Remove", "path": "emails[type eq \"work\"]"}),
        json!({"op": "remove", "path": "name.familyName"}),
        json!({"op": "replace", "path": "nickName", "value": null}),
        json!({"op": "Add", "path": "nickName", "value": "Babs"}),
    ])
}

/// A PatchOp request of these operations.
fn request(operations: Vec<Value>) -> PatchRequest {
    PatchRequest::parse(&ops(Value::Array(operations))).unwrap()
}

fn primaries(v: &Value) -> usize {
    v.as_array().map_or(0, |items| {
        items
            .iter()
            .filter(|i| i.get("primary") == Some(&json!(true)))
            .count()
    })
}

proptest! {
    #[test]
    fn print_then_parse_is_identity(f in filter()) {
        let printed = f.to_string();
        prop_assert_eq!(Filter::parse(&printed), Ok(f), "printed: {}", printed);
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,64}") {
        let _ = Filter::parse(&s);
    }

    #[test]
    fn patch_is_deterministic_and_keeps_the_resource_well_formed(
        list in prop::collection::vec(patch_op(), 1..8),
    ) {
        let user = entra_user();
        let req = request(list);
        let once = scim::apply(&user, &req, &UserSchema).unwrap();
        prop_assert_eq!(&once, &scim::apply(&user, &req, &UserSchema).unwrap());
        for key in once.as_object().unwrap().keys() {
            prop_assert!(!key.contains('.') || key.starts_with("urn:"), "key {}", key);
        }
        for attr in ["emails", "roles", "phoneNumbers"] {
            prop_assert!(primaries(&once[attr]) <= 1, "{}: {}", attr, once[attr]);
        }
    }

    /// RFC 7644 §3.5.2: operations apply in sequence, each to what the ones
    /// before it left. One request of several operations leaves what as
    /// many requests of one operation each leave, in the same order.
    #[test]
    fn operations_apply_in_sequence(list in prop::collection::vec(patch_op(), 1..8)) {
        let user = entra_user();
        let together = scim::apply(&user, &request(list.clone()), &UserSchema).unwrap();
        let mut one_by_one = user;
        for op in list {
            one_by_one = scim::apply(&one_by_one, &request(vec![op]), &UserSchema).unwrap();
        }
        prop_assert_eq!(together, one_by_one);
    }

    /// A request is refused as a whole for its one bad operation, whatever
    /// came before it, and the error names that operation.
    #[test]
    fn a_bad_operation_fails_the_request_and_is_named(
        list in prop::collection::vec(patch_op(), 0..8),
    ) {
        let at = list.len();
        let mut failing = list;
        failing.push(json!({"op": "Replace", "path": "id", "value": "x"}));
        let error = scim::apply(&entra_user(), &request(failing), &UserSchema).unwrap_err();
        prop_assert_eq!(error.scim_type, Some(scim::ScimType::Mutability));
        let named = format!("Operations[{at}]");
        prop_assert!(error.detail.starts_with(&named), "{}", error.detail);
    }
}

proptest! {
    #[test]
    fn patch_path_parse_never_panics(s in "\\PC{0,48}") {
        let _ = scim::PatchPath::parse(&s);
    }
}
