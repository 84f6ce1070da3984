//! Fixtures shared by the fuzz targets: a fully populated sample user and the
//! case-exactness rule the API layer uses when it evaluates filters in memory.

use scim::{AttrPath, AttributeSchema, UserSchema};
use serde_json::{Value, json};

/// The enterprise extension URN.
pub const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A user with every shape the PATCH engine and filters walk: simple, complex
/// and multi-valued attributes (with a `primary`), the enterprise extension
/// and its `manager`.
pub fn sample_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "id": "2441309d85324e7793ae",
        "externalId": "7fce0092-d52e-4f76-b727-3955bd72c939",
        "meta": {"resourceType": "User", "created": "2018-03-27T19:59:26.000Z", "lastModified": "2018-03-27T19:59:26.000Z", "version": "W/\"3\""},
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "displayName": "Test User",
        "nickName": "Babs",
        "name": {"formatted": "Ms. Barbara J Jensen", "familyName": "Jensen", "givenName": "Barbara"},
        "active": true,
        "emails": [
            {"value": "Test_User_11bb11bb@testuser.com", "type": "work", "primary": true},
            {"value": "babs@example.com", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "mobile"}],
        "addresses": [{"type": "work", "locality": "Redmond", "country": "US", "primary": "True"}],
        "roles": [{"value": "User", "display": "User", "type": "WindowsAzureActiveDirectoryRole", "primary": false}],
        "x509Certificates": [],
        ENT: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    })
}

/// Case-exactness for filter evaluation, as the API asks the User schema.
pub fn case_exact(path: &AttrPath) -> bool {
    UserSchema.is_case_exact(path.urn.as_deref(), &path.name, path.sub.as_deref())
}
