//! The `scim` crate's integration tests: table tests for the filter and PATCH
//! grammars with real Entra request bodies, plus property tests. Comments such
//! as `A.2.6` or `B.10` cite the catalogue in `docs/entra.md`.

mod error;
mod filter_eval;
mod filter_parse;
mod fuzz_regressions;
mod patch_group;
mod patch_manager;
mod patch_request;
mod patch_user;
mod path;
mod props;
mod schema;
mod select;

use scim::{GroupSchema, PatchRequest, ScimError, ScimType, UserSchema};
use serde_json::{Value, json};

/// The enterprise extension URN, for building bodies.
pub const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Applies a PATCH body to a user.
pub fn patch_user(user: &Value, body: Value) -> Result<Value, ScimError> {
    let req = PatchRequest::parse(&body)?;
    scim::apply(user, &req, &UserSchema)
}

/// Applies a PATCH body to a group.
pub fn patch_group(group: &Value, body: Value) -> Result<Value, ScimError> {
    let req = PatchRequest::parse(&body)?;
    scim::apply(group, &req, &GroupSchema)
}

/// Wraps operations in a PatchOp body.
pub fn ops(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

/// Asserts an error's status and scimType.
#[track_caller]
pub fn assert_scim_err(result: Result<Value, ScimError>, scim_type: ScimType) -> ScimError {
    match result {
        Ok(v) => panic!("expected {scim_type} error, got {v:#}"),
        Err(e) => {
            assert_eq!((e.status, e.scim_type), (400, Some(scim_type)), "{e:?}");
            e
        }
    }
}

/// A user as Entra creates it (A.2.4), with the enterprise extension.
pub fn entra_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "id": "2441309d85324e7793ae",
        "externalId": "7fce0092-d52e-4f76-b727-3955bd72c939",
        "meta": {"resourceType": "User", "created": "2018-03-27T19:59:26.000Z", "lastModified": "2018-03-27T19:59:26.000Z"},
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "name": {"familyName": "familyName", "givenName": "givenName"},
        "active": true,
        "emails": [{"value": "Test_User_11bb11bb@testuser.com", "type": "work", "primary": true}]
    })
}

/// A user with only the core schema and a userName.
pub fn minimal_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1",
        "userName": "emilio@hermann.uk"
    })
}
