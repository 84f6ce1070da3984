use scim::{Filter, ScimError, ScimType};
use serde_json::json;

#[test]
fn scim_types_render_rfc_camel_case() {
    let table = [
        (ScimType::InvalidFilter, "invalidFilter"),
        (ScimType::TooMany, "tooMany"),
        (ScimType::Uniqueness, "uniqueness"),
        (ScimType::Mutability, "mutability"),
        (ScimType::InvalidSyntax, "invalidSyntax"),
        (ScimType::InvalidPath, "invalidPath"),
        (ScimType::NoTarget, "noTarget"),
        (ScimType::InvalidValue, "invalidValue"),
        (ScimType::InvalidVers, "invalidVers"),
        (ScimType::Sensitive, "sensitive"),
    ];
    for (t, s) in table {
        assert_eq!(t.as_str(), s);
    }
}

#[test]
fn conflict_body_has_string_status_and_scim_type() {
    let e = ScimError::conflict_uniqueness("userName 'alice@contoso.com' already exists");
    assert_eq!(
        e.to_json(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": "409",
            "scimType": "uniqueness",
            "detail": "userName 'alice@contoso.com' already exists"
        })
    );
}

#[test]
fn scim_type_is_omitted_when_absent() {
    let body = ScimError::not_found("Resource 23B51B0E5D7AE9110A49411D@7cca not found").to_json();
    assert_eq!(body["status"], "404");
    assert!(body.get("scimType").is_none());
}

#[test]
fn constructors_pick_status() {
    let table = [
        (
            ScimError::bad_request(ScimType::InvalidPath, "x"),
            400,
            Some(ScimType::InvalidPath),
        ),
        (ScimError::not_found("x"), 404, None),
        (
            ScimError::conflict_uniqueness("x"),
            409,
            Some(ScimType::Uniqueness),
        ),
        (ScimError::unauthorized("x"), 401, None),
        (ScimError::precondition_failed("x"), 412, None),
        (ScimError::internal(), 500, None),
    ];
    for (e, status, t) in table {
        assert_eq!((e.status, e.scim_type), (status, t));
    }
    assert_eq!(ScimError::internal().to_json()["status"], "500");
}

#[test]
fn filter_errors_become_invalid_filter_with_position() {
    let err = Filter::parse("userName eq \"x\" and title xx \"y\"").unwrap_err();
    let e = ScimError::from(err);
    assert_eq!(
        (e.status, e.scim_type),
        (400, Some(ScimType::InvalidFilter))
    );
    assert_eq!(
        e.detail,
        "invalid filter at position 26: expected a comparison operator"
    );
}
